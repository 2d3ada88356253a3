"""The agent CLIs clink runs, as data: one-shot, read-only, MCP-free flags; how each reports an answer or a failure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

STDERR_TAIL_LINES = 15


@dataclass(frozen=True)
class CliSpec:
    """How to run one CLI non-interactively; the prompt always goes to stdin."""

    command: str
    args: tuple[str, ...]
    # No MCP server at all in the child: it would load the user's servers, this Quorum among them (and recurse).
    no_mcp: tuple[str, ...] = ()
    # Read-only is the default; `may_write` only for roles listed in QUORUM_CLINK_WRITE_ROLES.
    read_only: tuple[str, ...] = ()
    may_write: tuple[str, ...] = ()
    last: tuple[str, ...] = ()  # what must close the command line (Codex: `-`, the prompt is on stdin)
    # A CLI whose switch cannot empty the server table (Codex merges `-c mcp_servers={}` into the user's) lists
    # the servers it would start (JSON, objects with "name") and gets `disable_mcp` for each.
    list_mcp: tuple[str, ...] = ()
    disable_mcp: tuple[str, ...] = ()

    def argv(self, executable: str, write: bool, configured_mcp: tuple[str, ...] = ()) -> list[str]:
        off = [part.format(name=name) for name in configured_mcp for part in self.disable_mcp]
        return [executable, *self.args, *self.no_mcp, *off, *(self.may_write if write else self.read_only), *self.last]


# Data, not code: the flags that put each CLI in one-shot prompt mode, checked against the --help of
# Claude Code 2.1.197, Gemini CLI 0.61.0 and Codex CLI 0.171.0.
CLIS: dict[str, CliSpec] = {
    "claude": CliSpec(
        "claude", ("-p", "--output-format", "json"),
        no_mcp=("--strict-mcp-config", "--mcp-config", '{"mcpServers": {}}'),
        # In -p mode nothing can be approved interactively: edits and commands are refused, reads allowed.
        read_only=("--permission-mode", "default"),
        may_write=("--permission-mode", "acceptEdits"),
    ),
    "codex": CliSpec(
        "codex", ("exec", "--skip-git-repo-check", "--color", "never"),
        # `-c mcp_servers={}` would be merged into the user's table, not replace it: switch each server off.
        list_mcp=("mcp", "list", "--json"),
        disable_mcp=("-c", "mcp_servers.{name}.enabled=false"),
        read_only=("--sandbox", "read-only"),
        may_write=("--sandbox", "workspace-write"),
        last=("-",),
    ),
    "gemini": CliSpec(
        # --skip-trust: Gemini CLI refuses a folder it was not told to trust (exit 55).
        "gemini", ("--skip-trust", "--output-format", "json", "-p", "Carry out the request given above on standard input."),
        # An allow-list naming no configured server: Gemini CLI then starts none.
        no_mcp=("--allowed-mcp-server-names", "quorum-clink-none"),
        # Non-interactive "default" mode offers its model only the tools that need no approval (reads).
        read_only=("--approval-mode", "default"),
        may_write=("--approval-mode", "auto_edit"),
    ),
}
# JSON keys that hold the answer, in the order they are tried (claude: result, gemini: response).
RESULT_KEYS = ("result", "response", "text", "content")
WRITE_ROLES_VAR = "QUORUM_CLINK_WRITE_ROLES"
# Terminal control sequences (colours, cursor moves, titles): CLIs print them even when piped.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last lines of a stream as the caller is shown them: no terminal codes, bounded."""
    return "\n".join(strip_ansi(text).strip().splitlines()[-lines:])[-4_000:]


def failure_reason(stdout: str, stderr: str, code: int) -> str | None:
    """The CLI's own account of a failure, from whichever stream carries it; None if it reported none.

    Claude Code prints `{"is_error": true, "result": "..."}` on stdout (even with exit status 0); Gemini CLI
    ends stderr with `{"error": {"message": ...}}`; Codex writes `ERROR: ...` lines to stderr. After a
    clean exit only stdout's report counts: stderr then holds warnings, not failures."""
    for text in (stdout, stderr) if code != 0 else (stdout,):
        data = _json_object(text)
        if data is None:
            continue
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return strip_ansi(error["message"]).strip()
        if isinstance(error, str) and error.strip():
            return strip_ansi(error).strip()
        if data.get("is_error") is True:
            result = next((value for k in RESULT_KEYS if isinstance(value := data.get(k), str)), "")
            return strip_ansi(result).strip() or json.dumps(data)[:2_000]
    if code == 0:
        return None
    errors = [line.strip() for line in strip_ansi(stderr).splitlines() if _ERROR_LINE.match(line.strip())]
    return "\n".join(dict.fromkeys(errors[-5:])) or None


_ERROR_LINE = re.compile(r"^(?:ERROR|Error|error)\b:?")


def _json_object(text: str) -> dict[str, object] | None:
    """The JSON object a stream consists of, or ends with (CLIs print logs before their JSON report)."""
    stripped = text.strip()
    # The last 20 lines that open an object, newest first (found with rfind: stdout can be megabytes), then the start.
    starts: list[int] = []
    end = len(stripped)
    while len(starts) < 20 and (found := stripped.rfind("\n{", 0, end)) >= 0:
        starts.append(found + 1)
        end = found
    if len(starts) < 20:
        starts.append(0)
    for start in starts:
        if not stripped.startswith("{", start):
            continue
        try:
            data = json.loads(stripped[start:])
        except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deep to decode
            continue
        return data if isinstance(data, dict) else None
    return None


def parse_output(stdout: str) -> tuple[str, str]:
    """The answer text and the format it came in: a JSON object's result field, else the raw text."""
    data = _json_object(stdout)
    if data is not None:
        for key in RESULT_KEYS:
            value = data.get(key)
            if isinstance(value, str):
                return strip_ansi(value).strip(), "json"
    return strip_ansi(stdout).strip(), "text"


def failure_message(cli_name: str, code: int, reason: str | None, out: str, err: str) -> str:
    """What the caller is told about a failed run: the CLI's own reason, else the tail of what it printed."""
    head = f"The {cli_name} CLI exited with status {code}" if code != 0 else f"The {cli_name} CLI reported an error"
    if reason:
        return f"{head}: {tail(reason, 40)}"
    for name, text in (("stderr", err), ("stdout", out)):
        if last := tail(text):
            return f"{head}. Last lines of its {name}:\n{last}"
    return f"{head} and printed nothing on stdout or stderr."
