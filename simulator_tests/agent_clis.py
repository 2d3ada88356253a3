"""The real agent CLIs (npm: Claude Code, Gemini CLI, Codex CLI) in a scratch HOME, pointed at a fake model.

Each CLI gets an environment holding only what it needs (PATH, a private HOME, the fake model's URL and a
dummy key), so no test reads or writes the developer's configuration or reaches the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.spawn import ROOT, quorum_command
from tests.requirements import require

NPM_BIN = ROOT / "node_modules" / ".bin"
RECORDER = ROOT / "tests" / "fakes" / "mcp_recorder.py"
RUN_TIMEOUT_S = 180.0  # a bound, not an expectation: each run takes a few seconds
TESTED_VERSIONS = {"claude": "2.1.197", "gemini": "0.61.0", "codex": "0.171.0"}


def cli_path(name: str) -> Path:
    """The npm-installed CLI, or a skip (a failure under CI) naming how to install it."""
    path = NPM_BIN / name
    require(path.is_file() and os.access(path, os.X_OK),
            f"the {name} CLI is not installed in node_modules (./run-tests.sh installs it with npm)")
    return path


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class AgentCli:
    """One CLI, its scratch HOME and the environment that points it at the fake model at `model_url`."""

    name: str
    home: Path
    model_url: str

    @property
    def executable(self) -> Path:
        return NPM_BIN / self.name

    def env(self, **extra: str) -> dict[str, str]:
        node_dir = str(Path(os.path.realpath(sys.executable)).parent)
        path = os.pathsep.join([str(NPM_BIN), os.environ.get("PATH", ""), node_dir])
        base = {"HOME": str(self.home), "PATH": path, "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1",
                "TMPDIR": str(self.home / "tmp")}
        if self.name == "claude":
            base.update(ANTHROPIC_BASE_URL=self.model_url, ANTHROPIC_API_KEY="sk-ant-fake-key",
                        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
        elif self.name == "gemini":
            base.update(GOOGLE_GEMINI_BASE_URL=self.model_url, GEMINI_API_KEY="fake-gemini-key")
        else:
            base.update(FAKE_MODEL_KEY="fake-openai-key")
        return {**base, **extra}

    async def run(self, *args: str, cwd: Path | None = None, stdin: str = "", timeout: float = RUN_TIMEOUT_S,
                  env: Mapping[str, str] | None = None) -> Run:
        return await run_process([str(self.executable), *args], env=self.env(**(env or {})), cwd=cwd or self.home,
                                 stdin=stdin, timeout=timeout)


def scratch_cli(name: str, root: Path, model_url: str) -> AgentCli:
    """A fresh HOME whose configuration sends this CLI's model requests to `model_url`."""
    cli_path(name)
    home = root / f"home-{name}"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    if name == "gemini":
        (home / ".gemini").mkdir()
        settings = {"security": {"auth": {"selectedType": "gemini-api-key"}}}
        (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    elif name == "codex":
        (home / ".codex").mkdir()
        (home / ".codex" / "config.toml").write_text(
            'model = "gpt-5.5"\nmodel_provider = "fake"\n\n[model_providers.fake]\nname = "fake"\n'
            f'base_url = "{model_url}/v1"\nwire_api = "responses"\nenv_key = "FAKE_MODEL_KEY"\n'
            "request_max_retries = 0\nstream_max_retries = 0\n"
        )
    return AgentCli(name, home, model_url)


def quorum_entry(log: Path) -> list[str]:
    """Quorum as the CLIs start it, behind the wrapper that logs every JSON-RPC line they send."""
    command, args = quorum_command()
    return [sys.executable, str(RECORDER), str(log), "--", command, *args]


def add_quorum_args(cli: str, entry: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Each CLI's own `mcp add` command line for Quorum (with Gemini's trust and timeout)."""
    flag = "--env" if cli == "codex" else "-e"
    pairs = [part for k, v in env.items() for part in (flag, f"{k}={v}")]
    if cli == "claude":
        return ["mcp", "add", "quorum", "-s", "user", *pairs, "--", *entry]
    if cli == "gemini":
        return ["mcp", "add", "-s", "user", "--trust", "--timeout", "1200000", *pairs, "quorum", *entry]
    return ["mcp", "add", "quorum", *pairs, "--", *entry]


def recorded_lines(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def tool_calls(log: Path) -> list[dict[str, Any]]:
    return [m["params"] for m in recorded_lines(log) if m.get("method") == "tools/call"]


async def run_process(argv: list[str], *, env: Mapping[str, str], cwd: Path, stdin: str = "",
                      timeout: float = RUN_TIMEOUT_S) -> Run:
    """Run one process in its own group; kill the whole group if it outlives `timeout` (then fail)."""
    proc = await asyncio.create_subprocess_exec(*argv, env=dict(env), cwd=str(cwd), stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                start_new_session=True)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    except TimeoutError as exc:
        raise AssertionError(f"{argv[0]} {argv[1:3]} did not finish within {timeout:g} s") from exc
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the CLI left behind (MCP servers, helpers)
        if proc.returncode is None:
            await proc.wait()
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def live_processes() -> Iterator[tuple[int, list[bytes], list[bytes]]]:
    """(pid, argv, environment) of every live process this user can read, zombies excepted (from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if "\nState:\tZ" not in status:
            yield int(entry.name), argv, environ


def processes_in(home: Path) -> list[int]:
    """Live processes started with HOME=`home`, Quorum's own server excepted."""
    marker = f"HOME={home}".encode()
    return [pid for pid, argv, environ in live_processes()
            if pid != os.getpid() and marker in environ and not any(a.endswith(b"server.py") for a in argv)]
