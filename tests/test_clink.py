"""clink through the MCP client harness, against fake CLI agents written as small Python scripts."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

JSON_CLI = """
import json, os, sys
data = sys.stdin.read()
print(json.dumps({"result": "FAKE ANSWER\\nARGV=" + json.dumps(sys.argv[1:]) + "\\nCWD=" + os.getcwd() + "\\nSTDIN:\\n" + data}))
"""

TEXT_CLI = """
import sys

import pytest
data = sys.stdin.read()
print("plain answer; saw " + str(len(data)) + " chars; last line: " + data.strip().splitlines()[-1])
"""

FAILING_CLI = """
import sys

import pytest
sys.stdin.read()
for i in range(40):
    print(f"noise line {i}", file=sys.stderr)
print("fatal: quota exhausted", file=sys.stderr)
sys.exit(3)
"""

SLEEPING_CLI = """
import os, sys, time
open(sys.argv[0] + ".pid", "w").write(str(os.getpid()))
time.sleep(120)
"""


# Every fake answers `mcp list --json` as Codex does, with one configured server (clink asks Codex for its list).
MCP_LIST = """
import sys
if sys.argv[1:4] == ["mcp", "list", "--json"]:
    print('[{"name": "quorum", "enabled": true}, {"name": "off", "enabled": false}]')
    sys.exit(0)
"""


def fake_cli(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{MCP_LIST}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


async def test_prompt_role_and_files_reach_the_cli_in_the_working_directory(harness_factory, tmp_path):
    cli = fake_cli(tmp_path, "fake-gemini", JSON_CLI)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(cli)})
    src = h.workdir / "calc.py"
    src.write_text("def add(a, b):\n    return a - b\n")
    body = await h.ok("clink", prompt="Is add() right?", role="codereviewer", absolute_file_paths=[str(src)],
                      working_directory_absolute_path=str(h.workdir))
    assert body["status"] == "continuation_available"
    out = body["content"]
    assert out.startswith("FAKE ANSWER")
    assert "Is add() right?" in out
    assert "code reviewer" in out  # the codereviewer role instructions
    assert f"BEGIN FILE: {src}" in out and "return a - b" in out
    assert f"CWD={h.workdir.resolve()}" in out
    assert '"--output-format", "json"' in out.split("\n")[1]
    assert body["metadata"]["cli_name"] == "gemini" and body["metadata"]["output_format"] == "json"
    assert body["continuation_offer"]["continuation_id"]


async def test_continuity_across_clink_calls_and_into_chat(harness_factory, tmp_path):
    cli = fake_cli(tmp_path, "fake-claude", JSON_CLI)
    h = await harness_factory({"QUORUM_CLINK_CLAUDE_COMMAND": str(cli)})
    first = await h.ok("clink", prompt="Remember the word PELICAN.", cli_name="claude")
    cid = first["continuation_offer"]["continuation_id"]
    assert '"-p"' in first["content"]
    second = await h.ok("clink", prompt="Which word?", cli_name="claude", continuation_id=cid)
    history, _, request = second["content"].partition("# Request")
    assert "Remember the word PELICAN." in history and "FAKE ANSWER" in history
    assert "assistant · clink · claude" in history  # who answered each earlier turn is shown
    assert "Which word?" in request
    assert second["continuation_offer"]["continuation_id"] == cid
    await h.ok("chat", prompt="Summarise", model="alpha", continuation_id=cid)
    sent = h.fakes["custom"].calls[0].messages[-1].content
    assert "PELICAN" in sent and "Which word?" in sent
    thread = await h.services.store.get(cid)
    clinked = [t for t in thread.turns if t.role == "assistant" and t.tool_name == "clink"]
    assert [(t.provider, t.model) for t in clinked] == [("clink", "claude"), ("clink", "claude")]


async def test_plain_text_output_is_returned_as_is(harness_factory, tmp_path):
    cli = fake_cli(tmp_path, "fake-codex", TEXT_CLI)
    h = await harness_factory({"QUORUM_CLINK_CODEX_COMMAND": str(cli)})
    body = await h.ok("clink", prompt="Plan the migration", cli_name="codex", role="planner")
    assert body["content"].startswith("plain answer; saw ")
    assert body["content"].endswith("Plan the migration")
    assert body["metadata"]["output_format"] == "text"


async def test_missing_cli_names_it_and_the_env_var(harness_factory, tmp_path):
    h = await harness_factory({"QUORUM_CLINK_CODEX_COMMAND": str(tmp_path / "no-such-codex")})
    body = await h.fail("clink", prompt="hello", cli_name="codex")
    assert body["metadata"]["error_kind"] == "tool_error"
    assert "codex" in body["content"] and "QUORUM_CLINK_CODEX_COMMAND" in body["content"]


async def test_nonzero_exit_reports_stderr_tail_and_records_nothing(harness_factory, tmp_path):
    good = fake_cli(tmp_path, "fake-good", JSON_CLI)
    bad = fake_cli(tmp_path, "fake-bad", FAILING_CLI)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(good), "QUORUM_CLINK_CLAUDE_COMMAND": str(bad)})
    first = await h.ok("clink", prompt="start")
    cid = first["continuation_offer"]["continuation_id"]
    body = await h.fail("clink", prompt="this fails", cli_name="claude", continuation_id=cid)
    assert body["metadata"]["error_kind"] == "tool_error"
    assert "status 3" in body["content"] and "fatal: quota exhausted" in body["content"]
    assert "noise line 39" in body["content"] and "noise line 0\n" not in body["content"]
    thread = await h.services.store.get(cid)
    assert len(thread.turns) == 2


async def test_timeout_kills_the_cli_and_records_nothing(harness_factory, tmp_path):
    slow = fake_cli(tmp_path, "fake-slow", SLEEPING_CLI)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(slow), "QUORUM_CLINK_TIMEOUT_S": "1"})
    body = await h.fail("clink", prompt="take forever")
    assert body["metadata"]["error_kind"] == "tool_error"
    assert "QUORUM_CLINK_TIMEOUT_S" in body["content"]
    assert body["continuation_offer"] is None
    pid = int(Path(f"{slow}.pid").read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:  # pragma: no cover - the child survived
        raise AssertionError(f"fake CLI {pid} is still running")


async def test_schema_is_small_and_listed(harness):
    from tools.pipeline.listing import tools_list_weight

    async with harness.connect() as client:
        listed = await client.list_tools()
    clink = next(t for t in listed.tools if t.name == "clink")
    assert clink.input_schema["required"] == ["prompt"]
    assert set(clink.input_schema["properties"]["cli_name"]["enum"]) == {"claude", "codex", "gemini"}
    tools = harness.services.tools
    assert tools_list_weight({"clink": tools["clink"]})["cl100k_tokens"] < 250
    assert tools_list_weight(tools)["cl100k_tokens"] < 5_000
    assert json.dumps(clink.input_schema).count("$defs") == 0


CLAUDE_NOT_LOGGED_IN = """
import json, sys
sys.stdin.read()
print(json.dumps({"type": "result", "subtype": "success", "is_error": True, "result": "Not logged in · Please run /login"}))
sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 1)
"""

GEMINI_UNTRUSTED = """
import sys

import pytest
sys.stdin.read()
sys.stderr.write("\\x1b[31mGemini CLI is not running in a trusted directory.\\x1b[0m \\x1b]0;title\\x07Use --skip-trust.\\n")
sys.exit(55)
"""

CHATTY_THEN_STUCK = """
import os, sys, time
open(sys.argv[0] + ".pid", "w").write(str(os.getpid()))
print("partial answer so far", flush=True)
print("\\x1b[33mstream disconnected - retrying sampling request (3/5)\\x1b[0m", file=sys.stderr, flush=True)
time.sleep(120)
"""

LEAVES_A_CHILD = """
import json, os, subprocess, sys, time
sys.stdin.read()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
open(sys.argv[0] + ".pid", "w").write(str(child.pid))
print(json.dumps({"result": "\\x1b[1mdone\\x1b[0m, and a helper left running"}))
"""


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def assert_gone(pid: int, within: float = 10.0) -> None:
    """A SIGKILLed process is gone once the kernel has torn it down: wait for that, boundedly."""
    deadline = time.monotonic() + within
    while running(pid):
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.05)


async def test_claude_failure_reported_as_json_on_stdout_reaches_the_caller(harness_factory, tmp_path):
    cli = fake_cli(tmp_path, "fake-claude", CLAUDE_NOT_LOGGED_IN)
    h = await harness_factory({"QUORUM_CLINK_CLAUDE_COMMAND": str(cli)})
    body = await h.fail("clink", prompt="hello", cli_name="claude")
    assert body["metadata"]["error_kind"] == "tool_error"
    assert "status 1" in body["content"] and "Not logged in · Please run /login" in body["content"]
    assert "wrote nothing" not in body["content"]


async def test_an_is_error_result_with_exit_status_zero_is_still_a_failure(harness_factory, tmp_path):
    cli = fake_cli(tmp_path, "fake-claude", CLAUDE_NOT_LOGGED_IN.replace("int(sys.argv[-1]) if sys.argv[-1].isdigit() else 1", "0"))
    h = await harness_factory({"QUORUM_CLINK_CLAUDE_COMMAND": str(cli)})
    body = await h.fail("clink", prompt="hello", cli_name="claude")
    assert "reported an error: Not logged in" in body["content"]
    assert body["continuation_offer"] is None


async def test_terminal_colour_codes_never_reach_the_caller(harness_factory, tmp_path):
    bad = fake_cli(tmp_path, "fake-gemini", GEMINI_UNTRUSTED)
    good = fake_cli(tmp_path, "fake-claude", LEAVES_A_CHILD)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(bad), "QUORUM_CLINK_CLAUDE_COMMAND": str(good)})
    body = await h.fail("clink", prompt="hello")
    assert "status 55" in body["content"]
    assert "Gemini CLI is not running in a trusted directory. Use --skip-trust." in body["content"]
    assert "\x1b" not in body["content"] and "\x07" not in body["content"]
    answer = await h.ok("clink", prompt="hello", cli_name="claude")
    assert answer["content"] == "done, and a helper left running"


async def test_a_timeout_shows_the_tail_of_both_streams_and_kills_the_cli(harness_factory, tmp_path):
    slow = fake_cli(tmp_path, "fake-codex", CHATTY_THEN_STUCK)
    h = await harness_factory({"QUORUM_CLINK_CODEX_COMMAND": str(slow), "QUORUM_CLINK_TIMEOUT_S": "2"})
    body = await h.fail("clink", prompt="take forever", cli_name="codex")
    assert "gave no answer within 2 s" in body["content"]
    assert "stdout:\npartial answer so far" in body["content"]
    assert "stderr:\nstream disconnected - retrying sampling request (3/5)" in body["content"]
    assert "\x1b" not in body["content"]
    assert_gone(int(Path(f"{slow}.pid").read_text()))


async def test_what_a_cli_leaves_running_is_stopped_with_it(harness_factory, tmp_path):
    cli = fake_cli(tmp_path, "fake-gemini", LEAVES_A_CHILD)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(cli)})
    await h.ok("clink", prompt="hello")
    assert_gone(int(Path(f"{cli}.pid").read_text()))


async def test_a_cancelled_call_kills_the_cli_and_its_process_group(harness_factory, tmp_path):
    import anyio

    slow = fake_cli(tmp_path, "fake-gemini", CHATTY_THEN_STUCK)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(slow)})
    pid_file = Path(f"{slow}.pid")
    async with h.connect() as client:
        with anyio.move_on_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "clink", {"prompt": "take forever"})
                with anyio.fail_after(20):
                    while not pid_file.exists():
                        await anyio.sleep(0.05)
                group.cancel_scope.cancel()
    pid = int(pid_file.read_text())
    with anyio.fail_after(10):
        while True:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            await anyio.sleep(0.05)


@pytest.mark.parametrize(
    ("cli_name", "no_mcp", "read_only", "may_write"),
    [
        ("claude", ["--strict-mcp-config", "--mcp-config", '{"mcpServers": {}}'], ["--permission-mode", "default"],
         ["--permission-mode", "acceptEdits"]),
        ("gemini", ["--allowed-mcp-server-names", "quorum-clink-none"], ["--approval-mode", "default"],
         ["--approval-mode", "auto_edit"]),
        ("codex", ["-c", "mcp_servers.quorum.enabled=false"], ["--sandbox", "read-only"],
         ["--sandbox", "workspace-write"]),
    ],
)
async def test_children_start_without_mcp_servers_read_only_unless_the_role_may_write(
    harness_factory, tmp_path, cli_name, no_mcp, read_only, may_write
):
    cli = fake_cli(tmp_path, f"fake-{cli_name}", JSON_CLI)
    h = await harness_factory({f"QUORUM_CLINK_{cli_name.upper()}_COMMAND": str(cli), "QUORUM_CLINK_WRITE_ROLES": "planner"})

    async def argv(role: str) -> list[str]:
        body = await h.ok("clink", prompt="hi", cli_name=cli_name, role=role)
        return list(json.loads(body["content"].split("\n")[1].removeprefix("ARGV=")))

    def has(seq: list[str], part: list[str]) -> bool:
        return any(seq[i:i + len(part)] == part for i in range(len(seq)))

    for role in ("default", "codereviewer"):
        args = await argv(role)
        assert has(args, no_mcp) and has(args, read_only) and not has(args, may_write), (role, args)
    planner = await argv("planner")
    assert has(planner, no_mcp) and has(planner, may_write) and not has(planner, read_only), planner
    if cli_name == "codex":
        assert planner[-1] == "-"
    if cli_name == "gemini":
        assert "--skip-trust" in planner


GEMINI_API_ERROR = """
import json, sys
sys.stdin.read()
print("    at async Turn.run (file:///gemini/bundle/chunk.js:333001:24) {", file=sys.stderr)
print("  status: 400\\n}", file=sys.stderr)
print(json.dumps({"session_id": "s1", "error": {"type": "Error", "message": "API key not valid", "code": 400}}, indent=2),
      file=sys.stderr)
sys.exit(1)
"""

CODEX_ERROR_LINES = """
import sys
prompt = sys.stdin.read()
print(prompt, file=sys.stderr)  # Codex echoes the prompt on stderr
print("warning: Codex could not find bubblewrap on PATH.", file=sys.stderr)
print("ERROR: stream disconnected before completion: error sending request", file=sys.stderr)
print("ERROR: stream disconnected before completion: error sending request", file=sys.stderr)
sys.exit(1)
"""

WARNS_BUT_ANSWERS = """
import json, sys
sys.stdin.read()
print("Error: telemetry endpoint unreachable (ignored)", file=sys.stderr)
print(json.dumps({"response": "the answer"}))
"""


async def test_the_reason_is_found_at_the_end_of_stderr_or_in_its_error_lines(harness_factory, tmp_path):
    gemini = fake_cli(tmp_path, "fake-gemini", GEMINI_API_ERROR)
    codex = fake_cli(tmp_path, "fake-codex", CODEX_ERROR_LINES)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(gemini), "QUORUM_CLINK_CODEX_COMMAND": str(codex)})
    body = await h.fail("clink", prompt="hello")
    assert body["content"] == "The gemini CLI exited with status 1: API key not valid"
    body = await h.fail("clink", prompt="hello", cli_name="codex")
    assert body["content"] == ("The codex CLI exited with status 1: "
                               "ERROR: stream disconnected before completion: error sending request")


async def test_an_error_line_on_stderr_after_a_clean_exit_is_not_a_failure(harness_factory, tmp_path):
    cli = fake_cli(tmp_path, "fake-gemini", WARNS_BUT_ANSWERS)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(cli)})
    assert (await h.ok("clink", prompt="hello"))["content"] == "the answer"
