"""listmodels: which models are usable now, grouped by provider, and how to enable the others."""

from __future__ import annotations

from providers.catalogue import ModelSpec
from providers.local_models import LocalModels
from tools.base import Tool, ToolOutput
from tools.fields import StrictModel
from tools.pipeline.context import RequestContext


class ListModelsRequest(StrictModel):
    pass


def _caps(m: ModelSpec) -> str:
    caps = []
    if m.supports_thinking:
        caps.append("thinking")
    if m.supports_images:
        caps.append("images")
    if m.fast:
        caps.append("fast")
    return ", ".join(caps) or "text"


def _price(m: ModelSpec) -> str:
    if not (m.input_price_per_mtok or m.output_price_per_mtok):
        return "free/unknown"
    return f"${m.input_price_per_mtok:g}/${m.output_price_per_mtok:g} per M in/out"


def _row(m: ModelSpec, window_source: str = "") -> str:
    aliases = f" (aliases: {', '.join(m.aliases)})" if m.aliases else ""
    source = f" (window: {window_source})" if window_source else ""
    return (
        f"- `{m.model_name}`{aliases} — context {m.context_window:,}{source}, output {m.max_output_tokens:,}, "
        f"{_caps(m)}, score {m.intelligence_score}, {_price(m)}"
    )


def _local_lines(local: LocalModels | None) -> list[str]:
    """What discovery found on the local server beyond the listed models, or why it could not ask."""
    if local is None or local.result is None:
        return []
    if local.result.error:
        return [f"- could not ask the server what it serves: {local.result.error}"]
    if local.extras:
        return ["- also served, callable by name: " + ", ".join(
            f"`{m.model_name}` (context {m.context_window:,})" for m in local.extras)]
    return []


class ListModelsTool(Tool):
    name = "listmodels"
    description = "List the models usable right now by provider (aliases, context, capabilities, price) and how to enable others."
    request_model = ListModelsRequest
    always_enabled = True

    async def run(self, request: ListModelsRequest, ctx: RequestContext) -> ToolOutput:
        registry = ctx.services.registry
        await registry.list_local()
        local = registry.local
        lines = ["# Available models", ""]
        total = 0
        for v in registry.vendors:
            models = registry.models(v.name)
            total += len(models)
            lines.append(f"## {v.display} (`{v.name}`)")
            sources = local if v.name == "custom" and local is not None else None
            lines.extend(_row(m, sources.window_source(m.model_name) if sources else "") for m in models)
            if v.name == "custom":
                lines.extend(_local_lines(local))
            if v.name == "openrouter":
                lines.append("- any `vendor/model` id is routed through OpenRouter")
            restricted = registry.restricted(v.name)
            if restricted:
                lines.append(f"- restricted by {v.allow_env}: " + ", ".join(m.model_name for m in restricted))
            lines.append("")
        if not registry.vendors:
            lines.append("No provider is configured yet, so no model can be called.")
            lines.append("")
        if registry.unconfigured:
            lines.append("## Not configured")
            for u in registry.unconfigured:
                hint = f" — {u.vendor.docs_hint}" if u.vendor.docs_hint else ""
                lines.append(f"- {u.vendor.display}: {u.reason}{hint}")
            lines.append("")
        if registry.problems:
            lines.append("## Configuration problems")
            lines.extend(f"- {p.describe()}" for p in registry.problems)
            lines.append("")
        default = ctx.settings.default_model
        lines.append(f"Default model: `{default}`" + (" (Quorum picks per tool category)" if default == "auto" else ""))
        return ToolOutput(
            content="\n".join(lines),
            content_type="markdown",
            metadata={
                "configured_providers": [v.name for v in registry.vendors],
                "model_count": total,
                "config_problems": [p.to_dict() for p in registry.problems],
            },
        )
