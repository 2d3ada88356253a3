"""clink through the MCP client harness, against fake CLI agents written as small Python scripts."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

JSON_CLI = """
import json, os, sys
data = sys.stdin.read()
print(json.dumps({"result": "FAKE ANSWER\\nARGV=" + json.dumps(sys.argv[1:]) + "\\nCWD=" + os.getcwd() + "\\nSTDIN:\\n" + data}))
"""

TEXT_CLI = """
import sys
data = sys.stdin.read()
print("plain answer; saw " + str(len(data)) + " chars; last line: " + data.strip().splitlines()[-1])
"""

FAILING_CLI = """
import sys
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


def fake_cli(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{body}")
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
    from tools.listing import tools_list_weight

    async with harness.connect() as client:
        listed = await client.list_tools()
    clink = next(t for t in listed.tools if t.name == "clink")
    assert clink.input_schema["required"] == ["prompt"]
    assert set(clink.input_schema["properties"]["cli_name"]["enum"]) == {"claude", "codex", "gemini"}
    tools = harness.services.tools
    assert tools_list_weight({"clink": tools["clink"]})["cl100k_tokens"] < 250
    assert tools_list_weight(tools)["cl100k_tokens"] < 5_000
    assert json.dumps(clink.input_schema).count("$defs") == 0
