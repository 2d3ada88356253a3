"""Quorum MCP server: wiring only — settings, providers, store, tools, transports."""

from __future__ import annotations

import gc

if __name__ == "__main__":
    # Start-up creates ~130,000 long-lived objects (SDK types, tool models, schemas) and the cyclic collector
    # keeps rescanning them while they are built: ~90 ms of a ~1.3 s start. main() freezes them, then turns it on.
    gc.disable()

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.server.lowlevel.server import Server

from providers.base import Provider
from providers.registry import ProviderRegistry
from tools.pipeline.context import Services
from tools.pipeline.dispatch import Dispatcher
from tools.pipeline.listing import tool_entries
from tools.registry import enabled_tools
from tools.version import VERSION
from utils.access.http_transport import caller
from utils.config.settings import Settings
from utils.conversations.storage.base import ThreadStore
from utils.gate.client_roots import client_roots
from utils.gate.client_roots import forget as forget_roots

logger = logging.getLogger("quorum")

INSTRUCTIONS = (
    "Quorum lets you consult other AI models (Gemini, OpenAI, Grok, OpenRouter, local models) and keeps one "
    "memory across calls: every answer returns a continuation_id; pass it to any Quorum tool, with any model, "
    "to continue the same conversation (it survives restarts). Use chat for second opinions, listmodels to see "
    "which models are available, threads to find a lost continuation_id. Pass files as absolute paths.\n\n"
    "Workflow tools (thinkdeep, debug, analyze, codereview, precommit, secaudit, testgen, refactor, docgen, "
    "tracer, planner) are step-enforced: call step_number=1 with the task in `step`; each reply pauses with "
    "required_actions - do them, then call the next step with your findings, files_checked, relevant_files, "
    "issues_found and confidence, passing the continuation_id from step 1. total_steps may grow. Set "
    "next_step_required=false on the last step: Quorum then embeds relevant_files and asks an expert model to "
    "validate (skipped when confidence is 'certain' or use_assistant_model=false). consensus asks several "
    "models at once: `step` is the proposal, `models` a list of {model, stance}."
)


# Prompts become slash commands in clients; a bare tool name can clash with a client's own (Gemini CLI's /chat).
PROMPT_PREFIX = "quorum-"


def prompt_name(tool_name: str) -> str:
    return f"{PROMPT_PREFIX}{tool_name}"


def build_services(
    settings: Settings,
    *,
    cwd: Path | None = None,
    providers: dict[str, Provider] | None = None,
    store: ThreadStore | None = None,
    transport: str = "stdio",
) -> Services:
    from utils.privacy.private import private_dir
    from utils.conversations.storage.factory import open_store

    # The server's data (threads, overflow files, caches, logs) is the user's alone, whichever store is used.
    try:
        private_dir(settings.home_dir)
    except OSError as exc:  # a read-only home still serves the memory and Redis stores; SQLite will say why
        logger.warning("could not create QUORUM_HOME %s owner-only: %s", settings.home_dir, exc)
    return Services(
        settings=settings,
        registry=ProviderRegistry(settings, providers),
        store=store if store is not None else open_store(settings),
        tools=enabled_tools(settings.disabled_tools),
        server_cwd=(cwd or Path.cwd()).resolve(),
        transport=transport,
    )


def create_server(services: Services) -> Server[Any]:
    """The MCP server object with its handlers bound to `services`."""
    dispatcher = Dispatcher(services)
    listed = [
        types.Tool(name=e["name"], description=e["description"], input_schema=e["inputSchema"])
        for e in tool_entries(services.tools)
    ]
    prompt_list = [
        types.Prompt(
            name=prompt_name(name),
            description=tool.description,
            arguments=[types.PromptArgument(name="prompt", description="What to ask or do", required=False)],
        )
        for name, tool in services.tools.items()
    ]

    async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(
        ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        async def progress(value: float, message: str) -> None:
            await ctx.session.report_progress(value, None, message)

        roots = await client_roots(ctx, params)
        if isinstance(roots, types.InputRequiredResult):
            return roots  # a 2026-07-28 client answers with its roots and calls again
        principal = caller(getattr(ctx, "request", None), share_local=services.settings.http_share_local_threads)
        text, is_error = await dispatcher.call_text(params.name, params.arguments, progress, roots, principal)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error)

    async def on_roots_changed(ctx: Any, params: types.NotificationParams) -> None:
        forget_roots(ctx.session)

    async def on_list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=prompt_list)

    async def on_get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        name = params.name.removeprefix(PROMPT_PREFIX)
        tool = services.tools.get(name) if params.name.startswith(PROMPT_PREFIX) else None
        if tool is None:
            available = ", ".join(prompt_name(n) for n in sorted(services.tools))
            raise ValueError(f"Unknown prompt '{params.name}'. Available: {available}.")
        topic = (params.arguments or {}).get("prompt", "").strip()
        text = f"Use the Quorum `{name}` tool" + (f" for: {topic}" if topic else ".") + f" ({tool.description})"
        return types.GetPromptResult(
            description=tool.description,
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
        )

    server: Server[Any] = Server(
        "quorum",
        version=VERSION,
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_list_prompts=on_list_prompts,
        on_get_prompt=on_get_prompt,
    )
    # Registered directly: the constructor argument warns that roots are deprecated in the 2026-07-28 protocol,
    # but handshake-era clients (most of them today) still announce root changes this way.
    server.add_notification_handler("notifications/roots/list_changed", types.NotificationParams, on_roots_changed)
    return server


async def serve_stdio(services: Services, server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await services.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="quorum-mcp", description="Quorum MCP server")
    parser.add_argument("--transport", choices=["stdio", "http"], default=None)
    parser.add_argument("--version", action="store_true")
    args = parser.parse_args(argv)
    if args.version:
        print(VERSION)
        return
    gc.disable()  # also when started through the console script (see the top of this file)
    settings = Settings.from_env(dotenv=Path(__file__).resolve().parent / ".env")
    from utils.config.logging_setup import configure_logging

    configure_logging(settings.log_level, settings.log_file)
    from utils.prompting.tokens import use_cache_home

    use_cache_home(settings.home_dir / "tiktoken")
    transport = args.transport or settings.transport
    services = build_services(settings, transport=transport)
    logger.info(
        "Quorum %s starting (%s); providers: %s; storage: %s",
        VERSION,
        transport,
        ", ".join(v.name for v in services.registry.vendors) or "none",
        settings.storage,
    )
    import anyio

    server = create_server(services)
    # What start-up built lives as long as the process: keep it out of every later collection. The few
    # thousand cyclic leftovers of start-up (~2 MB) stay too: collecting them first costs what we saved.
    gc.freeze()
    gc.enable()
    if transport == "http":
        from utils.access.http_transport import serve_http

        anyio.run(serve_http, services, server)
    else:
        anyio.run(serve_stdio, services, server)
    # Everything is closed; skip the interpreter's slow teardown of the SDK modules so clients
    # that restart the server do not wait for it.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
