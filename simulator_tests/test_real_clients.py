"""Claude Code, Gemini CLI and Codex CLI — the real npm packages — registered with Quorum and driven by a fake model.

The fake model (tests/fakes/agent_model.py) asks the CLI to call a Quorum tool, then answers with the first line
of the tool's result; it also serves Quorum's own model calls (CUSTOM_API_URL). Quorum runs behind a wrapper
that logs what the CLI sent (tests/fakes/mcp_recorder.py). Slow (a few seconds per CLI run); each run is bounded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator_tests.agent_clis import (
    TESTED_VERSIONS,
    AgentCli,
    add_quorum_args,
    quorum_entry,
    scratch_cli,
    tool_calls,
)
from tests.client_calls import CODEX_STRIPPED_KEYWORDS, RECORDED
from tests.fakes.agent_model import AgentModel, Script, tool_result_text

pytestmark = pytest.mark.slow

CHAT_ARGUMENTS = {"prompt": "Say hello from the fake model", "model": "gpt-fake"}
QUORUM_REPLY = "QUORUM ASKED THE FAKE MODEL"


def quorum_env(tmp_path: Path, model: AgentModel) -> dict[str, str]:
    """Quorum's settings, passed through each CLI's own `-e/--env`: its model is the same fake."""
    return {"QUORUM_HOME": str(tmp_path / "quorum-home"), "CUSTOM_API_URL": f"{model.url}/v1",
            "CUSTOM_MODEL_NAME": "gpt-fake", "LOG_LEVEL": "WARNING"}


async def register(cli: AgentCli, tmp_path: Path, model: AgentModel) -> Path:
    log = tmp_path / f"{cli.name}-rpc.jsonl"
    added = await cli.run(*add_quorum_args(cli.name, quorum_entry(log), quorum_env(tmp_path, model)))
    assert added.code == 0, added
    return log


async def ask(cli: AgentCli, project: Path, prompt: str) -> Any:
    """One non-interactive run of the CLI, as a user scripts it."""
    if cli.name == "claude":
        run = await cli.run("-p", prompt, "--output-format", "json", "--allowedTools", "mcp__quorum", cwd=project)
    elif cli.name == "gemini":
        run = await cli.run("--skip-trust", "-p", prompt, "--output-format", "json", cwd=project)
    else:
        # `required` makes `codex exec` wait for Quorum to start; `approve` lets it call Quorum's tools
        # without an interactive approval (exec runs with approval policy "never").
        run = await cli.run("exec", "--skip-git-repo-check", "-c", "mcp_servers.quorum.required=true",
                            "-c", 'mcp_servers.quorum.default_tools_approval_mode="approve"', prompt, cwd=project)
    assert run.code == 0, run
    return run


def results_sent_back(model: AgentModel) -> list[str]:
    return [text for seen in model.model_requests() if (text := tool_result_text(seen.body)) is not None]


@pytest.mark.parametrize("name", ["claude", "gemini", "codex"])
async def test_the_cli_calls_quorum_chat_and_its_answer_reaches_the_model(tmp_path, name):
    arguments = dict(CHAT_ARGUMENTS)
    if name == "gemini":
        arguments["wait_for_previous"] = False  # what a Gemini model fills in: the CLI adds it to every schema
    with AgentModel.running(Script(tool="chat", arguments=arguments, reply=QUORUM_REPLY)) as model:
        cli = scratch_cli(name, tmp_path, model.url)
        log = await register(cli, tmp_path, model)
        project = tmp_path / "project"
        project.mkdir()
        run = await ask(cli, project, "Use the quorum chat tool to say hello.")
    calls = tool_calls(log)
    assert [c["name"] for c in calls] == ["chat"], calls
    assert calls[0]["arguments"] == arguments
    # The same shape as the recording the fast suite replays (tests/client_calls.py).
    assert set(calls[0].get("_meta", {})) >= set(RECORDED[name]["_meta"]) - {"x-codex-turn-metadata"}
    assert type(calls[0]["_meta"]["progressToken"]) is type(RECORDED[name]["_meta"]["progressToken"])
    # Quorum asked the model (over its own OpenAI-compatible provider) and the CLI handed the envelope back.
    results = results_sent_back(model)
    assert results and QUORUM_REPLY in results[-1] and "continuation_id" in results[-1], results
    assert '"status\\\\": \\\\"error' not in results[-1] and "is not a field" not in results[-1]
    # The envelope as the CLI hands it back (one level of JSON escaping): a success, not an error result.
    assert "continuation_available" in results[-1] and "error_kind" not in results[-1], results[-1]
    assert "DONE" in run.stdout
    if name == "codex":
        assert_codex_showed_chat_without_bounds_or_defaults(model)


def assert_codex_showed_chat_without_bounds_or_defaults(model: AgentModel) -> None:
    """Codex strips `minimum`/`maximum`/`default` (tests/client_calls.py); the range stays in the description."""
    shown = [tool for seen in model.model_requests() for item in seen.body.get("input", [])
             if isinstance(item, dict) and item.get("type") == "tool_search_output"
             for namespace in item.get("tools", []) for tool in namespace.get("tools", [])
             if tool.get("name") == "chat"]
    assert shown, "Codex never showed its model Quorum's chat tool"
    temperature = shown[0]["parameters"]["properties"]["temperature"]
    assert not set(CODEX_STRIPPED_KEYWORDS) & set(temperature), temperature
    assert temperature["description"] == "0 to 1"


async def test_gemini_cli_shows_its_model_quorum_tools_with_wait_for_previous_only_when_trusted(tmp_path):
    with AgentModel.running(Script(tool="version")) as model:
        cli = scratch_cli("gemini", tmp_path, model.url)
        log = await register(cli, tmp_path, model)
        project = tmp_path / "project"
        project.mkdir()
        await ask(cli, project, "Call the quorum version tool.")
        offered = [s.body for s in model.model_requests() if "tools" in s.body]
        declarations = [d for body in offered for tool in body["tools"] for d in tool.get("functionDeclarations", [])]
        quorum = [d for d in declarations if d["name"].startswith("mcp_quorum_")]
        assert quorum, [d["name"] for d in declarations]
        schema = next(d for d in quorum if d["name"] == "mcp_quorum_version")
        params = schema.get("parametersJsonSchema") or schema.get("parameters")
        assert "wait_for_previous" in params["properties"]  # the CLI's own addition, ignored by Quorum
        assert [c["name"] for c in tool_calls(log)] == ["version"]

        # Without "trust": true on the server entry, -p mode offers no Quorum tool at all.
        settings_path = cli.home / ".gemini" / "settings.json"
        settings = json.loads(settings_path.read_text())
        settings["mcpServers"]["quorum"].pop("trust")
        settings_path.write_text(json.dumps(settings))
        model.seen.clear()
        await ask(cli, project, "Call the quorum version tool.")
        names = [d["name"] for s in model.model_requests() for tool in s.body.get("tools", [])
                 for d in tool.get("functionDeclarations", [])]
        assert names and not [n for n in names if n.startswith("mcp_quorum_")], names


@pytest.mark.parametrize("name", ["claude", "gemini", "codex"])
async def test_the_installed_cli_is_the_version_the_readme_documents(tmp_path, name):
    cli = scratch_cli(name, tmp_path, "http://127.0.0.1:9")
    run = await cli.run("--version")
    assert run.code == 0 and TESTED_VERSIONS[name] in run.stdout, run
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert TESTED_VERSIONS[name] in readme
