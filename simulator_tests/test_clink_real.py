"""clink driving the real Claude Code, Gemini CLI and Codex CLI (npm), each pointed at a fake model.

Quorum is spawned over stdio as a client spawns it; the CLI runs in a scratch HOME where Quorum is also
registered (behind a logging wrapper), so a child that loaded the user's MCP servers would show up in the log.
Success, the CLI's own failure, a timeout and a cancellation; no process of the CLI outlives the call.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from simulator_tests.agent_clis import AgentCli, add_quorum_args, processes_in, quorum_entry, scratch_cli
from tests.fakes.agent_model import AgentModel, Script

pytestmark = pytest.mark.slow

CLIS = ["claude", "gemini", "codex"]
ANSWER = "CLINK ANSWER FROM THE FAKE MODEL"


async def prepared(lab, tmp_path: Path, name: str, model: AgentModel, **extra: str) -> tuple[AgentCli, dict[str, str], Path]:
    """The CLI's scratch HOME with Quorum registered in it, and Quorum's environment for running clink."""
    cli = scratch_cli(name, tmp_path, model.url)
    log = tmp_path / f"{name}-child-rpc.jsonl"
    added = await cli.run(*add_quorum_args(name, quorum_entry(log), {"QUORUM_HOME": str(tmp_path / "child-home")}))
    assert added.code == 0, added
    env = {**lab.env(), **cli.env(), f"QUORUM_CLINK_{name.upper()}_COMMAND": str(cli.executable), **extra}
    return cli, env, log


def assert_nothing_left(cli: AgentCli, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while left := processes_in(cli.home):
        assert time.monotonic() < deadline, f"{cli.name} processes outlived the call: {left}"
        time.sleep(0.1)


@pytest.mark.parametrize("name", CLIS)
async def test_clink_gets_the_cli_answer_in_an_untrusted_folder_without_starting_mcp_servers(lab, tmp_path, name):
    with AgentModel.running(Script(tool="no_such_tool", reply=ANSWER)) as model:
        cli, env, log = await prepared(lab, tmp_path, name, model)
        async with lab.session(env) as session:
            reply = await session.ok("clink", prompt="Say the answer.", cli_name=name,
                                     working_directory_absolute_path=str(lab.project))
        asked = model.model_requests()
    assert reply.content == ANSWER, reply.envelope
    assert reply.envelope["metadata"]["cli_name"] == name
    assert asked, "the CLI never reached the fake model"
    assert not log.exists(), f"the {name} child started the MCP servers registered in its HOME"
    assert_nothing_left(cli)


@pytest.mark.parametrize("name", CLIS)
async def test_clink_reports_the_cli_own_failure_reason(lab, tmp_path, name):
    with AgentModel.running(Script(fail_status=400)) as model:
        cli, env, _ = await prepared(lab, tmp_path, name, model)
        async with lab.session(env) as session:
            reply = await session.fail("clink", "tool_error", prompt="Say the answer.", cli_name=name)
    text = reply.envelope["content"]
    # The fake model's own error message, as each CLI relays it (stdout JSON, stderr JSON, stderr ERROR lines).
    assert text.startswith(f"The {name} CLI exited with status") and "scripted failure" in text, text
    assert "# Your role" not in text and "\x1b" not in text and "    at " not in text
    assert_nothing_left(cli)


@pytest.mark.parametrize("name", CLIS)
async def test_clink_stops_a_cli_that_outlives_its_timeout(lab, tmp_path, name):
    with AgentModel.running(Script(hang=True)) as model:
        cli, env, _ = await prepared(lab, tmp_path, name, model, QUORUM_CLINK_TIMEOUT_S="8")
        async with lab.session(env) as session:
            reply = await session.fail("clink", "tool_error", prompt="Say the answer.", cli_name=name)
        assert "gave no answer within 8 s" in reply.envelope["content"]
        assert_nothing_left(cli)


@pytest.mark.parametrize("name", CLIS)
async def test_a_cancelled_clink_call_leaves_no_cli_process(lab, tmp_path, name):
    with AgentModel.running(Script(hang=True)) as model:
        cli, env, _ = await prepared(lab, tmp_path, name, model)
        async with lab.session(env) as session:
            async with anyio.create_task_group() as group:
                group.start_soon(lambda: session.call("clink", prompt="Say the answer.", cli_name=name))
                with anyio.fail_after(60):
                    while not model.model_requests():  # the CLI is up and waiting on its model
                        await anyio.sleep(0.1)
                group.cancel_scope.cancel()
            # The server is still serving after the cancellation.
            await session.ok("version")
        assert_nothing_left(cli)
