"""version: server version and a configuration summary. No network access."""

from __future__ import annotations

import asyncio
import json
import platform
import sys

from tools.base import Tool, ToolOutput
from tools.fields import StrictModel
from tools.pipeline.context import RequestContext
from tools.pipeline.listing import tools_list_weight
from utils.access.principals import LOCAL

VERSION = "0.1.0"


class VersionRequest(StrictModel):
    pass


class VersionTool(Tool):
    name = "version"
    description = "Show Quorum's version and configuration summary (providers, storage, transport, limits)."
    request_model = VersionRequest
    always_enabled = True

    async def run(self, request: VersionRequest, ctx: RequestContext) -> ToolOutput:
        s = ctx.settings
        registry = ctx.services.registry
        storage: dict[str, str] = {"backend": s.storage}
        if s.storage == "sqlite":
            storage["path"] = str(s.database_path)
        elif s.storage == "redis":
            storage["url"] = s.redis_url.split("@")[-1]
        weight = await asyncio.to_thread(tools_list_weight, ctx.services.tools)  # may load an encoding
        info = {
            "name": "quorum",
            "version": VERSION,
            "python": sys.version.split()[0],
            "platform": platform.platform(terse=True),
            "transport": ctx.services.transport,
            "providers": [v.name for v in registry.vendors],
            "models_available": len(registry.models()),
            "config_problems": [p.to_dict() for p in registry.problems],
            "default_model": s.default_model,
            "storage": storage,
            "tools_enabled": sorted(ctx.services.tools),
            "tools_list": weight,
            # Where files may be read from for this call, and any root refused as too broad (/ or the home dir).
            "file_roots": {"allowed": [str(r) for r in ctx.policy.roots], "note": ctx.policy.roots_note},
            "limits": {
                "conversation_timeout_hours": s.conversation_timeout_hours,
                "max_conversation_turns": s.max_conversation_turns,
                "max_mcp_output_tokens": s.max_mcp_output_tokens,
                "max_prompt_chars": s.max_prompt_chars,
                "provider_timeout_s": s.provider_timeout_s,
                "heartbeat_s": s.heartbeat_s,
                "max_retries": s.max_retries,
            },
        }
        if ctx.principal != LOCAL:
            # An HTTP caller: who it is and how principals are set up; never the other principals' names.
            info["http"] = {
                "principal": ctx.principal.name,
                "principals_from": "QUORUM_HTTP_TOKENS_FILE" if s.http_tokens_file else "QUORUM_HTTP_TOKEN",
                "local_threads_shared": s.http_share_local_threads,
            }
        local = registry.local
        if local is not None:
            result = local.result
            info["local_server"] = {
                "url": local.config.base_url,
                "discovery": "not yet (happens at the first call that needs it)" if result is None
                else result.error or f"{len(result.models)} model(s) listed",
                "windows": {m.model_name: {"context_window": m.context_window, "from": local.window_source(m.model_name)}
                            for m in [*local.models, *local.extras] if local.window_source(m.model_name)},
            }
        return ToolOutput(content=json.dumps(info, indent=2), content_type="json", metadata={"version": VERSION})
