"""What a call brings to a model, read through the input gate: its files, its images, earlier turns' files.

Reading is bounded by the call's budget before anything reaches the prompt builder, which then fits what
was read to each model's window (tools/pipeline/consult.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from providers.base import ImageInput
from providers.registry import Route
from tools.base import ToolError
from tools.pipeline.context import RequestContext
from utils.gate.errors import GateError
from utils.gate.files import FileContent, LoadedFiles, load_text_files, read_file
from utils.gate.images import checked_images

# Bytes of files read for one call: a generous bytes-per-token bound on the model's file budget (text runs
# 3-4 bytes a token; more only for long runs of spaces), never above the ceiling, never below one file.
_BYTES_PER_TOKEN = 6
_FILES_BUDGET_CEILING = 24_000_000
_FILES_BUDGET_NO_MODEL = 8_000_000


def files_budget(ctx: RequestContext) -> int:
    """How many bytes of files one call may read: what the model's whole input room could possibly hold.

    The call's own files may take the room of history too (older turns yield to them), so the budget is
    files plus history; at a generous bytes-per-token it only cuts what certainly cannot fit.
    Sized for the request's own model, not per failover model: files are read once, before any call, and
    rereading them per model would cost more than the rare case it serves (a failover to a model with a far
    larger window, given more files than the first could take). The prompt itself is fitted per model.
    """
    allocation = ctx.allocation
    room = (allocation.files_tokens + allocation.history_tokens) * _BYTES_PER_TOKEN if allocation else None
    return min(room if room is not None else _FILES_BUDGET_NO_MODEL, _FILES_BUDGET_CEILING)


async def load_files(ctx: RequestContext, raw: Sequence[str], *, budget: int | None = None) -> LoadedFiles:
    """Check, expand and read the files a caller passed, within the call's budget; refusals raise GateError."""
    if not raw:
        return LoadedFiles()
    return await asyncio.to_thread(
        load_text_files, list(raw), ctx.policy, max_bytes=ctx.settings.max_file_bytes,
        budget=files_budget(ctx) if budget is None else budget, cache=ctx.services.file_cache,
    )


def reread_history(ctx: RequestContext, paths: Sequence[str]) -> dict[str, FileContent | None]:
    """The current content of files earlier turns carried (None: gone, refused or past the budget)."""
    found: dict[str, FileContent | None] = {}
    left = files_budget(ctx) * 2  # past this the prompt builder would drop them anyway
    for path in paths:
        found[path] = None
        if left <= 0:
            continue
        try:
            content = read_file(path, ctx.policy, max_bytes=ctx.settings.max_file_bytes, cache=ctx.services.file_cache)
        except (GateError, OSError):
            continue
        found[path] = content
        left -= content.size if content else 0
    return found


async def load_images(ctx: RequestContext, images: Sequence[str], route: Route) -> tuple[ImageInput, ...]:
    """The images a caller passed, for a model that takes them, each within its size limit."""
    if not images:
        return ()
    if not route.spec.supports_images:
        raise ToolError(
            "invalid_arguments",
            f"Model '{route.spec.model_name}' does not accept images. Drop 'images' or choose a model "
            "that supports them (listmodels marks them).",
        )

    def load() -> list[ImageInput]:
        gated = checked_images(images, ctx.policy, route.spec.max_image_size_mb)
        return [ImageInput(mime_type=image.mime_type, data=image.data) for image in gated]

    return tuple(await asyncio.to_thread(load))
