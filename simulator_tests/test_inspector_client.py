"""A third-party client, the MCP Inspector CLI (Node, TypeScript SDK), drives Quorum over stdio.

The server's settings go in as the Inspector's `-e KEY=VALUE` flags, the way a user configures it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from typing import Any

import pytest

from simulator_tests.conftest import Lab, user_text
from tests.requirements import require
from tests.fakes.spawn import ROOT, clean_environ, quorum_command

INSPECTOR = ROOT / "node_modules" / ".bin" / "mcp-inspector"
INSPECTOR_TIMEOUT_S = 90.0



@pytest.fixture(autouse=True)
def _inspector_installed() -> None:
    require(INSPECTOR.exists() and shutil.which("node") is not None,
            "MCP Inspector CLI not installed (run `npm install` in the repo root, as ./run-tests.sh does)")


async def inspector(lab: Lab, *method_args: str) -> dict[str, Any]:
    """Run `mcp-inspector --cli -e K=V ... <python> <server.py> <method args>` and parse its JSON output."""
    # The Inspector rejects `-e KEY=` with an empty value, so only non-empty settings are passed.
    settings = {k: v for k, v in lab.env().items() if k.startswith(("QUORUM_", "CUSTOM_", "LOG_LEVEL")) and v}
    flags = [arg for key, value in settings.items() for arg in ("-e", f"{key}={value}")]
    command, args = quorum_command()
    process = await asyncio.create_subprocess_exec(
        str(INSPECTOR), "--cli", *flags, command, *args, *method_args,
        cwd=lab.project,
        env=clean_environ({}),  # the parent's environment without any provider key or Quorum setting
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, so a timeout can stop node and the server it spawned
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), INSPECTOR_TIMEOUT_S)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        pytest.fail(f"mcp-inspector did not finish within {INSPECTOR_TIMEOUT_S}s: {method_args}")
    assert process.returncode == 0, f"mcp-inspector failed ({process.returncode}): {err.decode()[-2000:]}"
    return dict(json.loads(out))


def envelope_of(result: dict[str, Any]) -> dict[str, Any]:
    assert result["content"][0]["type"] == "text"
    return dict(json.loads(result["content"][0]["text"]))


async def test_the_mcp_inspector_cli_lists_the_tools_and_gets_a_success_envelope_from_chat(lab: Lab) -> None:
    listed, called = await asyncio.gather(
        inspector(lab, "--method", "tools/list"),
        inspector(lab, "--method", "tools/call", "--tool-name", "chat", "--tool-arg", "prompt=INSPECTOR-HELLO"),
    )
    names = {tool["name"] for tool in listed["tools"]}
    assert {"chat", "challenge", "listmodels", "version", "threads"} <= names
    assert all(tool["inputSchema"]["type"] == "object" for tool in listed["tools"])

    assert called.get("isError") is False
    envelope = envelope_of(called)
    assert envelope["status"] == "continuation_available"
    assert envelope["metadata"]["model_used"] == "gpt-fake"
    assert "INSPECTOR-HELLO" in envelope["content"]
    assert envelope["continuation_offer"]["continuation_id"]
    assert "INSPECTOR-HELLO" in user_text(lab.generations()[-1])
