"""clink: hand a prompt to a local CLI agent (Claude Code, Codex CLI, Gemini CLI) run as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tools.base import Tool, ToolError, ToolOutput
from tools.consult import load_files, with_locale
from tools.context import RequestContext
from tools.fields import FileFields, ThreadFields
from utils.conversation import Turn, image_refs
from utils.envelope import CONTINUATION_AVAILABLE
from utils.files import FileContent, render_file_block
from utils.gate.errors import GateError
from utils.gate.images import load_image
from utils.progress import heartbeat
from utils.prompt_builder import render_turn
from utils.redaction import redact_text

CliName = Literal["gemini", "claude", "codex"]
Role = Literal["default", "planner", "codereviewer"]

DEFAULT_TIMEOUT_S = 900.0
HISTORY_BUDGET_CHARS = 40_000  # earlier turns shown to the CLI, newest first
TURN_CAP_CHARS = 8_000  # one earlier turn, at most
OUTPUT_CAP_CHARS = 200_000  # the answer kept from the CLI
STDERR_TAIL_LINES = 15


@dataclass(frozen=True)
class CliSpec:
    """How to run one CLI non-interactively; the prompt always goes to stdin."""

    command: str
    args: tuple[str, ...]


# Data, not code: the executable and the flags that put each CLI in one-shot prompt mode.
CLIS: dict[str, CliSpec] = {
    "claude": CliSpec("claude", ("-p", "--output-format", "json")),
    "codex": CliSpec("codex", ("exec", "--skip-git-repo-check", "-")),
    "gemini": CliSpec("gemini", ("--output-format", "json", "-p", "Carry out the request given above on standard input.")),
}
# JSON keys that hold the answer, in the order they are tried (claude: result, gemini: response).
RESULT_KEYS = ("result", "response", "text", "content")


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
    for n, item in enumerate(images):
        try:
            image = load_image(item, ctx.policy, None)
        except GateError as exc:
            raise exc.about("images") from exc
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


def parse_output(stdout: str) -> tuple[str, str]:
    """The answer text and the format it came in: a JSON object's result field, else the raw text."""
    stripped = stdout.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deep to decode
            data = None
        if isinstance(data, dict):
            for key in RESULT_KEYS:
                value = data.get(key)
                if isinstance(value, str):
                    return value.strip(), "json"
    return stripped, "text"


def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the child and anything it started (it leads its own session)."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


async def run_cli(
    argv: list[str], stdin: str, cwd: Path, timeout: float, ctx: RequestContext, label: str
) -> tuple[int, str, str]:
    """Run argv with `stdin`, heartbeating; kill it on timeout or cancellation."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(cwd),
        start_new_session=True,
    )
    try:
        async with heartbeat(ctx.progress, ctx.settings.heartbeat_s, label):
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    except TimeoutError as exc:
        raise ToolError(
            "tool_error",
            f"{label} gave no answer within {timeout:g} s and was stopped (QUORUM_CLINK_TIMEOUT_S raises the limit).",
            timeout_s=timeout,
        ) from exc
    finally:
        if proc.returncode is None:
            _kill(proc)
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(proc.wait())
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
        # The working directory was checked against the roots by the dispatcher (ctx.policy.working_dir).
        cwd = ctx.policy.working_dir or ctx.services.server_cwd
        timeout = _timeout(ctx)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="quorum-clink-") as scratch:
            images = await asyncio.to_thread(_image_paths, ctx, request.images, Path(scratch))
            text = build_cli_prompt(instructions, history, files, images, request.prompt)
            code, out, err = await run_cli([executable, *cli.args], text, cwd, timeout, ctx, f"{request.cli_name} CLI")
        duration = round(time.monotonic() - started, 3)
        if code != 0:
            tail = redact_text("\n".join(err.strip().splitlines()[-STDERR_TAIL_LINES:])[-4_000:])
            raise ToolError(
                "tool_error",
                f"The {request.cli_name} CLI exited with status {code}."
                + (f" Last lines of its stderr:\n{tail}" if tail else " It wrote nothing to stderr."),
                cli_name=request.cli_name,
                exit_code=code,
            )
        answer, fmt = parse_output(out)
        answer = redact_text(answer)  # a CLI may print what it read on its own: keys from files, its env
        if not answer:
            raise ToolError("tool_error", f"The {request.cli_name} CLI exited normally but printed no answer.")
        truncated = len(answer) > OUTPUT_CAP_CHARS
        answer = _clip(answer, OUTPUT_CAP_CHARS)
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
