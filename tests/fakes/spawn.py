"""Processes as a client sees them: the fake provider as its own process, Quorum spawned over stdio."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.control import FakeProviderControl

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_ENV_PREFIXES = (
    "GEMINI_", "OPENAI_", "XAI_", "OPENROUTER_", "DIAL_", "AZURE_OPENAI_", "DEEPSEEK_", "CUSTOM_", "QUORUM_",
    "DEFAULT_MODEL", "DISABLED_TOOLS", "MAX_CONVERSATION_TURNS", "CONVERSATION_TIMEOUT_HOURS", "MAX_MCP_OUTPUT_TOKENS",
)


@dataclass(frozen=True)
class FakeProcess:
    """A fake provider running in its own process, scripted through its control API."""

    url: str
    process: subprocess.Popen[str]

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def control(self) -> FakeProviderControl:
        return FakeProviderControl(self.url)


@contextlib.contextmanager
def fake_provider_process(delay: float = 0.0, models: str | None = None) -> Iterator[FakeProcess]:
    """Start `python -m tests.fakes.fake_provider` on a free port; stop it on exit."""
    # `-c` rather than `-m`: the package __init__ already imports the module `-m` would run as __main__.
    runner = "import sys; from tests.fakes.fake_provider import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", runner, "--port", "0", "--delay", str(delay)]
    if models:
        args += ["--models", models]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"fake provider did not start (printed {url!r})")
        yield FakeProcess(url=url, process=proc)
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Terminate a child this test started; kill it if it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def clean_environ(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without any provider key or Quorum setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_ENV_PREFIXES)}
    env.update(extra)
    return env


def quorum_env(home: Path, fake_url: str, **extra: str) -> dict[str, str]:
    """Environment for a Quorum server whose only provider is a custom endpoint at the fake."""
    return clean_environ(
        {
            "QUORUM_HOME": str(home),
            "CUSTOM_API_URL": f"{fake_url}/v1",
            "CUSTOM_MODEL_NAME": "gpt-fake",
            "QUORUM_RETRY_BASE_DELAY_S": "0.05",
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )


def quorum_command() -> tuple[str, list[str]]:
    """How an MCP client spawns Quorum: the project's Python running server.py."""
    return sys.executable, [str(ROOT / "server.py")]


def stdio_params(env: Mapping[str, str], cwd: Path | None = None):  # type: ignore[no-untyped-def]
    from mcp import StdioServerParameters

    command, args = quorum_command()
    return StdioServerParameters(command=command, args=args, env=dict(env), cwd=str(cwd or ROOT))
