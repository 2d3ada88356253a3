"""clink: hand a prompt to a local CLI agent (Claude Code, Codex CLI, Gemini CLI) run as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Literal

from tools.base import Tool, ToolError, ToolOutput
from tools.cli_agents import CLIS, WRITE_ROLES_VAR, CliSpec, failure_message, failure_reason, parse_output, tail
from tools.fields import FileFields, ThreadFields
from tools.pipeline.consult import with_locale
from tools.pipeline.context import RequestContext
from tools.pipeline.envelope import CONTINUATION_AVAILABLE
from tools.pipeline.inputs import load_files
from tools.pipeline.progress import heartbeat
from utils.conversations.turns import Turn, image_refs
from utils.gate.files import FileContent, render_file_block
from utils.gate.images import checked_images
from utils.privacy.redaction import redact_text
from utils.prompting.builder import render_turn

CliName = Literal["gemini", "claude", "codex"]
Role = Literal["default", "planner", "codereviewer"]

DEFAULT_TIMEOUT_S = 900.0
HISTORY_BUDGET_CHARS = 40_000  # earlier turns shown to the CLI, newest first
TURN_CAP_CHARS = 8_000  # one earlier turn, at most
OUTPUT_CAP_CHARS = 200_000  # the answer kept from the CLI
PIPE_DRAIN_S = 5.0  # reading what is left in the pipes once the CLI's process group is gone
LIST_MCP_TIMEOUT_S = 30.0


def command_env_var(cli_name: str) -> str:
    return f"QUORUM_CLINK_{cli_name.upper()}_COMMAND"


class ClinkRequest(ThreadFields, FileFields):
    prompt: str
    cli_name: CliName = "gemini"
    role: Role = "default"


def _resolve_executable(ctx: RequestContext, cli_name: str) -> str:
    var = command_env_var(cli_name)
    wanted = ctx.settings.get(var).strip() or CLIS[cli_name].command
    found = shutil.which(wanted)
    if found is None:
        raise ToolError(
            "tool_error",
            f"The {cli_name} CLI was not found ('{wanted}' is not an executable on PATH). Install it, or set {var} "
            "to the absolute path of its binary.",
            cli_name=cli_name,
            env_var=var,
        )
    return found


def _timeout(ctx: RequestContext) -> float:
    raw = ctx.settings.get("QUORUM_CLINK_TIMEOUT_S").strip()
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit:,} characters cut]"


def render_history(turns: tuple[Turn, ...], budget: int = HISTORY_BUDGET_CHARS) -> str:
    """Earlier turns, oldest first, keeping the newest that fit in `budget` characters."""
    kept: list[str] = []
    used = 0
    for number in range(len(turns), 0, -1):
        turn = turns[number - 1]
        block = render_turn(number, turn.model_copy(update={"content": _clip(turn.content.strip(), TURN_CAP_CHARS)}))
        if used + len(block) > budget:
            break
        kept.append(block)
        used += len(block) + 2
    if not kept:
        return ""
    omitted = len(turns) - len(kept)
    head = f"(first {omitted} earlier turn{'s' if omitted != 1 else ''} omitted)\n\n" if omitted else ""
    return head + "\n\n".join(reversed(kept))


def _image_paths(ctx: RequestContext, images: list[str], scratch: Path) -> list[str]:
    """Copies of the checked images in `scratch`: the CLI reads what the gate read, not a path that may change."""
    paths: list[str] = []
    for n, image in enumerate(checked_images(images, ctx.policy, None)):
        ext = (mimetypes.guess_extension(image.mime_type) or ".png").lstrip(".")
        target = scratch / f"image-{n}.{ext}"
        target.write_bytes(image.data)
        paths.append(str(target))
    return paths


def build_cli_prompt(
    instructions: str, history: str, files: list[FileContent], images: list[str], prompt: str
) -> str:
    parts = [f"# Your role\n\n{instructions.strip()}"]
    if history:
        parts.append(f"# Conversation so far\n\n{history}")
    if files:
        parts.append("# Files\n\n" + "\n\n".join(render_file_block(f) for f in files))
    if images:
        parts.append("# Images (open them by path if you can)\n\n" + "\n".join(f"- {p}" for p in images))
    parts.append(f"# Request\n\n{prompt.strip()}")
    return "\n\n".join(parts) + "\n"


def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the child and anything it started (it leads its own session), even after it exited itself."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


async def configured_mcp_servers(cli: CliSpec, executable: str, cwd: Path) -> tuple[str, ...]:
    """The MCP servers the CLI would start in `cwd`, by its own account (only for CLIs that need it)."""
    if not cli.list_mcp:
        return ()
    command = f"{executable} {' '.join(cli.list_mcp)}"
    proc = await asyncio.create_subprocess_exec(
        executable, *cli.list_mcp, cwd=str(cwd), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), LIST_MCP_TIMEOUT_S)
    except TimeoutError as exc:
        raise ToolError("tool_error", f"'{command}' did not answer within {LIST_MCP_TIMEOUT_S:g} s; check that the "
                        "CLI runs (clink asks it which MCP servers to keep off).") from exc
    finally:
        _kill(proc)
        with contextlib.suppress(ProcessLookupError):
            await asyncio.shield(proc.wait())
    try:
        listed = json.loads(out)
        names = tuple(str(item["name"]) for item in listed if item.get("enabled", True))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise ToolError(
            "tool_error",
            f"clink could not list the MCP servers '{command}' would start, so it "
            f"cannot keep them off in the child ({tail(err.decode(errors='replace')) or exc}). Check that the CLI runs.",
        ) from exc
    odd = [n for n in names if not _BARE_KEY.match(n)]
    if odd:
        raise ToolError(
            "tool_error",
            f"clink cannot switch off the MCP server(s) {', '.join(map(repr, odd))} for the child CLI (the name has "
            "characters its -c switch cannot address). Rename them in the CLI's configuration.",
        )
    return names


def write_roles(ctx: RequestContext) -> frozenset[str]:
    """Roles the user let write in the working directory (QUORUM_CLINK_WRITE_ROLES); none by default."""
    return frozenset(r.strip() for r in ctx.settings.get(WRITE_ROLES_VAR).split(",") if r.strip())


async def _collect(stream: asyncio.StreamReader | None, into: bytearray) -> None:
    while stream is not None and (chunk := await stream.read(65_536)):
        into.extend(chunk)


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
        proc.stdin.close()


async def run_cli(
    argv: list[str], stdin: str, cwd: Path, timeout: float, ctx: RequestContext, label: str
) -> tuple[int, str, str]:
    """Run argv with `stdin`, heartbeating; kill its whole process group on exit, timeout or cancellation."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(cwd),
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    out, err = bytearray(), bytearray()
    # Read as it comes, so a timeout can still show what the CLI said (e.g. Codex retrying a dead network).
    streams = asyncio.gather(_feed(proc, stdin.encode()), _collect(proc.stdout, out), _collect(proc.stderr, err))
    try:
        async with heartbeat(ctx.progress, ctx.settings.heartbeat_s, label):
            await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError as exc:
        said = "".join(
            f"\nLast lines of its {name}:\n{last}"
            for name, raw in (("stdout", out), ("stderr", err))
            if (last := redact_text(tail(raw.decode(errors="replace"))))
        )
        raise ToolError(
            "tool_error",
            f"{label} gave no answer within {timeout:g} s and was stopped (QUORUM_CLINK_TIMEOUT_S raises the limit)."
            + (said or " It printed nothing."),
            timeout_s=timeout,
        ) from exc
    finally:
        _kill(proc)  # also what the CLI left behind, which would hold its pipes open
        with contextlib.suppress(ProcessLookupError):
            await asyncio.shield(proc.wait())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(streams), PIPE_DRAIN_S)  # the rest of what it printed
        streams.cancel()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


class ClinkTool(Tool):
    name = "clink"
    description = (
        "Hand a prompt to a local CLI agent (gemini default, claude, codex) with a role; it works in "
        "working_directory_absolute_path. continuation_id keeps the thread across calls and Quorum tools."
    )
    request_model = ClinkRequest
    category = None
    prompt_field = "prompt"
    conversational = True

    async def run(self, request: ClinkRequest, ctx: RequestContext) -> ToolOutput:
        if not request.prompt.strip():
            raise ToolError("invalid_arguments", "'prompt' is empty: say what the CLI agent should do.")
        cli = CLIS[request.cli_name]
        executable = _resolve_executable(ctx, request.cli_name)
        loaded = await load_files(ctx, request.absolute_file_paths)
        files = list(loaded.files)
        instructions = with_locale(self.system_prompt(f"clink_{request.role}"), ctx.settings.locale)
        history = render_history(ctx.thread.turns) if ctx.thread else ""
        # The working directory was checked against the roots by the dispatcher.
        cwd = ctx.working_dir or ctx.services.server_cwd
        timeout = _timeout(ctx)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="quorum-clink-") as scratch:
            images = await asyncio.to_thread(_image_paths, ctx, request.images, Path(scratch))
            text = build_cli_prompt(instructions, history, files, images, request.prompt)
            configured = await configured_mcp_servers(cli, executable, cwd)
            argv = cli.argv(executable, write=request.role in write_roles(ctx), configured_mcp=configured)
            code, out, err = await run_cli(argv, text, cwd, timeout, ctx, f"{request.cli_name} CLI")
        duration = round(time.monotonic() - started, 3)
        reason = failure_reason(out, err, code)
        if code != 0 or reason is not None:
            raise ToolError(
                "tool_error",
                redact_text(failure_message(request.cli_name, code, reason, out, err)),
                cli_name=request.cli_name,
                exit_code=code,
            )
        answer, fmt = parse_output(out)
        if not answer:
            raise ToolError("tool_error", f"The {request.cli_name} CLI exited normally but printed no answer.")
        truncated = len(answer) > OUTPUT_CAP_CHARS
        # Cut first, at a line end so no secret is cut in two, then redacted off the event loop: a CLI may
        # print what it read on its own (keys from files, its environment).
        cut = answer[: answer.rfind("\n", 0, OUTPUT_CAP_CHARS) + 1 or OUTPUT_CAP_CHARS] if truncated else answer
        left_out = len(answer) - len(cut)
        answer = await asyncio.to_thread(redact_text, cut)
        if truncated:
            answer += f"\n[... {left_out:,} characters cut]"
        meta = {"cli_name": request.cli_name, "role": request.role, "output_format": fmt, "duration_s": duration,
                "truncated": truncated, **({"notes": list(loaded.skipped)} if loaded.skipped else {})}
        user = Turn(
            role="user",
            content=request.prompt,
            files=tuple(f.ref() for f in files),
            images=image_refs(request.images),
            tool_name=self.name,
        )
        assistant = Turn(role="assistant", content=answer, tool_name=self.name, provider="clink",
                         model=request.cli_name, metadata=dict(meta))
        return ToolOutput(
            content=answer,
            status=CONTINUATION_AVAILABLE,
            content_type="markdown",
            metadata={"model_used": request.cli_name, "provider_used": "clink", **meta},
            turns=(user, assistant),
        )
