"""What every benchmark row shares: result records, statistics, and the processes a client sees.

One `Bench` holds the fake provider (its own process), a scratch directory, and lazily spawned
stdio sessions to Quorum and to the bare floor server, so rows that can share a session do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fakes.spawn import FakeProcess, clean_environ, fake_provider_process, quorum_env  # noqa: E402

BENCH_DIR = REPO / "bench"
SERVER = REPO / "server.py"
BARE_SERVER = BENCH_DIR / "bare_server.py"
LAUNCHER = BENCH_DIR / "launch.py"
BENCH_MODELS = ("bench-a", "bench-b", "bench-c")  # the consensus row asks all three
NOT_REGISTERED = "n/a (tool not registered)"


# ---- results ------------------------------------------------------------------------------------


@dataclass
class Line:
    """One printed line of the table: a figure, its floor, and whether it meets the target."""

    measure: str
    quorum: float | None
    floor: float | None
    unit: str
    target: str
    passed: bool | None = None  # None: reported only, no target to pass
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.quorum is None or not self.floor:
            return None
        return self.quorum / self.floor


@dataclass
class RowResult:
    """Everything one row of issue 5's table measured; `details` goes to the JSON only."""

    row: str
    lines: list[Line] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | n/a | error
    message: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 2),
            "lines": [
                {"measure": ln.measure, "quorum": ln.quorum, "floor": ln.floor, "ratio": ln.ratio, "unit": ln.unit,
                 "target": ln.target, "passed": ln.passed, "note": ln.note}
                for ln in self.lines
            ],
            "details": self.details,
        }


# ---- statistics ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolation percentile (the same definition numpy uses by default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


# ---- processes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Workload sizes: the issue's in a full run, tiny ones in --quick."""

    quick: bool
    cold_runs: int
    calls: int
    warmup: int
    repeats: int
    turns: int
    file_bytes: int
    small_file_bytes: int
    cross_rounds: int
    slow_delay: float
    concurrent: int
    memory_marks: tuple[int, int]
    memory_parallel: int
    turn_calls: int = 20
    turn_file_bytes: int = 42 * 1024

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(quick=True, cold_runs=1, calls=5, warmup=1, repeats=1, turns=3, file_bytes=4_096,
                       small_file_bytes=300, cross_rounds=1, slow_delay=0.3, concurrent=4,
                       memory_marks=(20, 40), memory_parallel=4, turn_calls=3, turn_file_bytes=4_096)
        return cls(quick=False, cold_runs=5, calls=50, warmup=2, repeats=3, turns=20, file_bytes=40 * 1024,
                   small_file_bytes=1_024, cross_rounds=5, slow_delay=1.0, concurrent=10,
                   memory_marks=(500, 5_000), memory_parallel=8)


def write_catalogue(path: Path) -> Path:
    """The bench models: 1M-token windows, so the continuation row's 200 KB of files always fits the budget."""
    models = [
        {"model_name": name, "context_window": 1_000_000, "max_output_tokens": 8_192, "intelligence_score": 10,
         "fast": True}
        for name in BENCH_MODELS
    ]
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return path


def stdio(script: Path, env: Mapping[str, str], *args: str) -> Any:
    """How an MCP client spawns a server: this Python running the script, in the repo."""
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=[str(script), *args], env=dict(env), cwd=str(REPO))


@contextlib.asynccontextmanager
async def connect(params: Any) -> AsyncIterator[Any]:
    """An MCP client over stdio, with the initialize handshake and no client-side caching."""
    from mcp import Client

    async with Client(params, mode="legacy", cache=None) as client:
        yield client


async def call(client: Any, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Call a tool; return the parsed envelope and whether it is an error result."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text if result.content else "{}"
    try:
        body = json.loads(text)
    except ValueError:
        body = {"status": "unparsable", "content": text}
    return body, bool(result.is_error)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def child_pid(script: Path) -> int:
    """The pid of this process's child running `script` (the stdio server the SDK client spawned)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and str(script).encode() in cmdline:
            found.append(int(entry.name))
    if len(found) != 1:
        raise RuntimeError(f"expected one child running {script.name}, found {found}")
    return found[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    """The fake provider, a scratch directory and shared sessions for one benchmark run."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self._stack = contextlib.AsyncExitStack()
        self._sessions: dict[str, Any] = {}
        self._pids: dict[str, int] = {}
        self.fake: FakeProcess
        self.root: Path

    async def __aenter__(self) -> Bench:
        self.root = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="quorum-bench-")))
        self.fake = self._stack.enter_context(fake_provider_process(models=",".join(BENCH_MODELS)))
        self.workdir = self.root / "project"
        self.workdir.mkdir()
        self.catalogue = write_catalogue(self.root / "bench_models.json")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def quorum_env(self, home: Path | None = None, local: bool = False, **extra: str) -> dict[str, str]:
        """Quorum reaching the fake as the OpenAI vendor (OPENAI_BASE_URL), or with `local` as a custom local server.

        The two differ in one way the rows can see: OpenAI's API takes a system message after the material, a
        local server's chat template may not, so there the tool's instructions join the leading system text.
        """
        home = home or self.root / "home"
        vendor = {"CUSTOM_MODEL_NAME": "", "CUSTOM_MODELS_CONFIG_PATH": str(self.catalogue)} if local else {
            "CUSTOM_API_URL": "", "CUSTOM_MODEL_NAME": "", "OPENAI_API_KEY": "bench-key-0123456789",
            "OPENAI_BASE_URL": self.fake.openai_url, "OPENAI_MODELS_CONFIG_PATH": str(self.catalogue)}
        return quorum_env(home, self.fake.url, QUORUM_ALLOWED_ROOTS=str(self.workdir), **vendor, **extra)

    def bare_env(self, files: bool = False) -> dict[str, str]:
        extra = {"BARE_FILES": "1"} if files else {}
        return clean_environ({"BARE_API_URL": self.fake.openai_url, "BARE_MODEL": BENCH_MODELS[0], **extra})

    async def session(self, which: str) -> Any:
        """The shared stdio session to 'quorum', 'quorum_local', 'bare' or 'bare_files' (the floor reading files
        too), spawned on first use (through the pid launcher)."""
        if which not in self._sessions:
            script, env = {
                "quorum": lambda: (SERVER, self.quorum_env()),
                "quorum_local": lambda: (SERVER, self.quorum_env(self.root / "home-local", local=True)),
                "bare": lambda: (BARE_SERVER, self.bare_env()),
                "bare_files": lambda: (BARE_SERVER, self.bare_env(files=True)),
            }[which]()
            pidfile = self.root / f"{which}.pid"
            params = stdio(LAUNCHER, {**env, "QUORUM_BENCH_PIDFILE": str(pidfile)}, str(script))
            self._sessions[which] = await self._stack.enter_async_context(connect(params))
            self._pids[which] = int(pidfile.read_text())
        return self._sessions[which]

    def pid(self, which: str) -> int:
        """The process id of a shared session's server (after `session(which)`)."""
        return self._pids[which]

    def provider(self, delay: float = 0.0) -> None:
        """Forget recorded requests and set the fake's reply delay."""
        self.fake.control.reset()
        self.fake.control.configure(delay=delay)

    def requests(self) -> list[dict[str, Any]]:
        """Generation requests the fake has recorded since the last reset, in arrival order."""
        return [r for r in self.fake.control.requests() if r["kind"] == "openai.chat"]


async def finished_requests(bench: Bench, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The recorded requests once `count` of them have finished (the fake stamps `finished` after replying)."""
    deadline = time.monotonic() + timeout
    while True:
        done = bench.requests()
        if len(done) >= count and all(r["finished"] is not None for r in done):
            return done
        if time.monotonic() > deadline:
            raise RuntimeError(f"the fake provider recorded {len(done)} finished requests, expected {count}")
        await asyncio.sleep(0.01)
