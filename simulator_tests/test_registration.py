"""Registration: the lines ./run-server.sh prints match the README and work verbatim with the real CLIs, and
./run-server.sh --register sets each CLI up through its own `mcp add`, with the timeouts, then confirms it.

Every run uses a scratch HOME; the CLIs are the npm-installed ones (slow: a few seconds each).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from simulator_tests.agent_clis import NPM_BIN, Run, cli_path, run_process
from tests.fakes.spawn import ROOT

pytestmark = pytest.mark.slow

README_PATH = "/path/to/quorum"


def scratch_env(home: Path, with_clis: bool = True) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    path = os.environ.get("PATH", "/usr/bin:/bin")
    if not with_clis:
        path = os.pathsep.join(p for p in path.split(os.pathsep) if not any(
            (Path(p) / name).exists() for name in ("claude", "gemini", "codex")))
    return {"HOME": str(home), "PATH": f"{NPM_BIN}{os.pathsep}{path}" if with_clis else path, "LANG": "C.UTF-8",
            "NO_COLOR": "1", "TMPDIR": str(home)}


async def printed_lines() -> list[str]:
    """What ./run-server.sh prints to register Quorum (its stderr), one command or config line each."""
    run = await run_process(["bash", "-c", "source ./run-server.sh && print_registration"],
                            env={"PATH": os.environ.get("PATH", "")}, cwd=ROOT)
    assert run.code == 0, run
    return [line.strip() for line in run.stderr.splitlines() if line.startswith("    ")]


async def register(home: Path, target: str, with_clis: bool = True) -> Run:
    return await run_process([str(ROOT / "run-server.sh"), "--register", target], env=scratch_env(home, with_clis),
                             cwd=home)


async def test_the_printed_registration_lines_are_the_readme_lines():
    lines = await printed_lines()
    readme = (ROOT / "README.md").read_text()
    assert len(lines) == 4, lines
    assert any("tool_timeout_sec = 1200" == line for line in lines)
    assert any(line.startswith("gemini mcp add") and "--timeout 1200000" in line and "--trust" in line for line in lines)
    for line in lines:
        documented = line.replace(str(ROOT), README_PATH)
        assert documented in readme, f"README does not show the printed line: {documented}"


async def test_the_printed_lines_work_verbatim_with_each_cli(tmp_path):
    for name in ("claude", "gemini", "codex"):
        cli_path(name)
    home = tmp_path / "home"
    env = scratch_env(home)
    lines = await printed_lines()
    for line in lines:
        if line.startswith(("claude ", "gemini ", "codex ")):
            run = await run_process(["bash", "-c", line], env=env, cwd=home)
            assert run.code == 0, (line, run)
    # The Codex timeout line goes under Quorum's table, as the printed instruction says.
    config = home / ".codex" / "config.toml"
    text = config.read_text().replace("[mcp_servers.quorum]\n", "[mcp_servers.quorum]\ntool_timeout_sec = 1200\n")
    config.write_text(text)
    codex = await run_process(["codex", "mcp", "get", "quorum", "--json"], env=env, cwd=home)
    assert json.loads(codex.stdout)["tool_timeout_sec"] == 1200
    gemini = json.loads((home / ".gemini" / "settings.json").read_text())["mcpServers"]["quorum"]
    assert gemini["timeout"] == 1200000 and gemini["trust"] is True
    claude = json.loads((home / ".claude.json").read_text())["mcpServers"]["quorum"]
    assert claude["command"] == str(ROOT / ".venv" / "bin" / "quorum-mcp")


async def test_register_all_uses_each_clis_own_command_sets_the_timeouts_and_confirms(tmp_path):
    for name in ("claude", "gemini", "codex"):
        cli_path(name)
    home = tmp_path / "home"
    run = await register(home, "all")
    assert run.code == 0, run
    quorum = str(ROOT / ".venv" / "bin" / "quorum-mcp")
    # Claude Code: its own config, and its own check that the server answers.
    assert json.loads((home / ".claude.json").read_text())["mcpServers"]["quorum"]["command"] == quorum
    assert re.search(r"Status: .*Connected", run.stderr), run.stderr
    # Codex: `codex mcp add`, then only the timeout key edited, after a backup; confirmed by `codex mcp get`.
    config = home / ".codex" / "config.toml"
    entry = tomllib.loads(config.read_text())["mcp_servers"]["quorum"]
    assert entry == {"command": quorum, "tool_timeout_sec": 1200}
    backups = list(config.parent.glob("config.toml.bak-*"))
    assert len(backups) == 1 and "tool_timeout_sec" not in backups[0].read_text()
    assert "tool_timeout_sec: 1200" in run.stderr
    # Gemini: trusted (its -p mode hides untrusted servers' tools) with the timeout; `gemini mcp list` connects.
    gemini = json.loads((home / ".gemini" / "settings.json").read_text())["mcpServers"]["quorum"]
    assert gemini["command"] == quorum and gemini["timeout"] == 1200000 and gemini["trust"] is True
    assert re.search(r"quorum: .*Connected", run.stderr), run.stderr

    # Again: nothing is replaced, no second backup, still confirmed.
    again = await register(home, "all")
    assert again.code == 0, again
    assert again.stderr.count("already registered") == 3, again.stderr
    assert len(list(config.parent.glob("config.toml.bak-*"))) == 1


async def test_register_says_what_to_do_for_a_missing_cli_or_an_unknown_name(tmp_path):
    home = tmp_path / "home"
    missing = await register(home, "claude", with_clis=False)
    assert missing.code == 1 and "claude: not found on PATH" in missing.stderr
    unknown = await register(home, "cursor")
    assert unknown.code == 2 and "claude|codex|gemini|all" in unknown.stderr
