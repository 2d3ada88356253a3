"""Input fuzzing: arguments generated from every tool's published schema, valid and broken, through MCP.

One Quorum (both wire formats, SQLite store) runs for the whole module on a background event loop with an
MCP client connected in memory; hypothesis drives it from the test thread, one bounded call per example.
Every call must come back as a well-formed envelope: a result, or an error with `status: "error"`, an
`error_kind` and a message that says what to do, and never an internal error. Afterwards every stored
thread must still list, show and export with consistent turns.

`QUORUM_FUZZ_SCALE=10` multiplies the number of examples for a deeper run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.client import ToolClient
from tests.env_quorum import quorum
from tests.fakes import FakeProviderServer
from tests.fuzz_support import GIT_REFS, Domain, arguments, broken_arguments
from tests.hostile_repo import arm
from tests.wire_support import GEMINI, OPENAI, warm_sdks, wire_env
from tests.workflow_support import make_repo
from tools.pipeline.envelope import ErrorKind
from tools.registry import all_tools

T = TypeVar("T")

SCALE = float(os.environ.get("QUORUM_FUZZ_SCALE", "1"))
VALID_EXAMPLES = max(1, int(12 * SCALE))
BROKEN_EXAMPLES = max(1, int(10 * SCALE))
CALL_TIMEOUT_S = 20.0
TOOL_NAMES = sorted(t.name for t in all_tools())
ERROR_KINDS = frozenset(ErrorKind.__args__)  # type: ignore[attr-defined]
CONTENT_TYPES = frozenset({"text", "markdown", "json"})
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,  # nothing written into the repository; a failure prints its reproduction blob instead
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example],
)

# What the run exercised, reported by the last test of the module.
CALLS: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()


class LiveQuorum:
    """Quorum and a connected MCP client on an event loop of their own, callable from synchronous code."""

    def __init__(self, env: dict[str, str], cwd: Path, domain: Domain) -> None:
        self._env, self._cwd = env, cwd
        self.domain = domain
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-quorum", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._main: Any = None
        self.session: ToolClient | None = None
        self.schemas: dict[str, dict[str, Any]] = {}

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with quorum(self._env, self._cwd) as session:
            self.session = session
            listed = await session.client.list_tools()
            self.schemas = {t.name: t.input_schema for t in listed.tools}
            self._ready.set()
            await self._stop.wait()

    def start(self) -> LiveQuorum:
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        if not self._ready.wait(30):
            raise RuntimeError(f"Quorum did not start: {self._main.exception(0) if self._main.done() else 'timeout'}")
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_S) -> T:
        """Run a coroutine on the server's loop, bounded: a hang fails the example instead of the suite."""

        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        return asyncio.run_coroutine_threadsafe(bounded(), self.loop).result(timeout + 5)

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        assert self.session is not None
        return self.run(self.session.client.call_tool(tool, args))

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._main is not None:
            self._main.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def _png() -> bytes:
    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


OUTSIDE_TEXT = "OUTSIDE-THE-PROJECT must never reach a model\n"
# Files that are not what they seem: each must be refused or skipped with a clear error, never hang or crash.
ODD_FILES = ("pipe.png", "pipe.txt", "giant.png", "giant.log", "folder.png", "picture.txt", "hardlink.txt",
             "socket.sock", "swapping")
# Flips project/swapping between a real directory and a symlink to the directory outside the project.
FLIPPER = """
import os, shutil, sys, time
flipping, link_to = sys.argv[1:3]
spare = flipping + ".new"
while True:
    for make in ("link", "real"):
        try:
            if os.path.islink(spare): os.unlink(spare)
            elif os.path.isdir(spare): shutil.rmtree(spare)
            if make == "link":
                os.symlink(link_to, spare)
            else:
                os.mkdir(spare)
                with open(os.path.join(spare, "target.txt"), "w") as f: f.write("inside")
            if os.path.islink(flipping): os.unlink(flipping)
            elif os.path.isdir(flipping): shutil.rmtree(flipping)
            os.replace(spare, flipping)
        except OSError:
            pass
        time.sleep(0.001)
"""


def add_odd_files(root: Path, project: Path) -> None:
    """A FIFO, sparse giants, a directory and a text file with image names, a hard link out, a socket."""
    for name in ("pipe.png", "pipe.txt"):
        os.mkfifo(project / name)
    for name in ("giant.png", "giant.log"):
        with open(project / name, "wb") as handle:
            handle.write(_png()[:8])
            handle.truncate(3 * 1024**3)  # sparse: takes no disk space
    (project / "folder.png").mkdir()
    (project / "picture.txt").write_bytes(_png())
    os.link(root / "outside.txt", project / "hardlink.txt")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(project / "socket.sock"))
    (root / "outside-dir").mkdir()
    (root / "outside-dir" / "target.txt").write_text(OUTSIDE_TEXT)


def release_fifos(project: Path) -> None:
    """Unblock a reader stuck on a FIFO, so a broken gate fails its example instead of the whole run."""
    for name in ("pipe.png", "pipe.txt"):
        try:
            os.close(os.open(project / name, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


def build_project(root: Path) -> tuple[Path, tuple[str, ...], tuple[str, ...]]:
    """A project directory with ordinary and awkward paths: (project, good paths, awkward paths)."""
    project = root / "project"
    (project / "sub").mkdir(parents=True)
    (project / "app.py").write_text("def total(items):\n    return sum(items)\n")
    (project / "sub" / "util.py").write_text("API_KEY = 'sk-live-0123456789abcdef0123456789abcdef'\n")
    (project / "notes.md").write_text("# notes\n" + "ünïcødé ✓\n" * 20)
    (project / "prompt.txt").write_text("A prompt handed over as a file.\n")
    (project / "dir_named" / "prompt.txt").mkdir(parents=True)
    (project / ".env").write_text("OPENAI_API_KEY=sk-should-never-leave\n")
    (project / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (project / "big.txt").write_text("x" * 30_000)
    (project / "image.png").write_bytes(_png())
    (project / "not_an_image.png").write_text("plain text")
    (project / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (project / "link_outside").symlink_to("/etc/hostname")
    (project / "link_loop").symlink_to(project / "link_loop")
    # A hostile repository: every command its config names would create the canary file.
    repo = make_repo(project / "repo")
    (repo / "change.py").write_text("print('hi')\n")
    (repo / "app.py").write_text("def total(items):\n    return 0\n")
    (repo / "README.md").write_text("# changed\n")
    arm(repo, root / "hostile-bin", root / "canary")
    (root / "outside.txt").write_text(OUTSIDE_TEXT)
    add_odd_files(root, project)
    p = str(project)
    png_url = "data:image/png;base64," + base64.b64encode(_png()).decode()
    good = (f"{p}/app.py", f"{p}/sub", f"{p}/sub/util.py", f"{p}/notes.md", f"{p}/image.png", f"{p}/repo", p,
            png_url)
    awkward = (
        f"{p}/prompt.txt", f"{p}/dir_named/prompt.txt", f"{p}/.env", f"{p}/id_rsa", f"{p}/big.txt",
        f"{p}/not_an_image.png", f"{p}/binary.bin", f"{p}/link_outside", f"{p}/link_loop", f"{p}/",
        f"{p}//app.py", f"{p}/./app.py", f"{p}/app.py/", f"{p}/sub/../app.py", f"{p}/../outside.txt",
        str(root / "outside.txt"), "/etc/passwd", "/etc", "/proc/self/environ", "/dev/zero", "~/.ssh/id_rsa",
        "~/.aws/credentials", "~", "/nonexistent/file.py", "relative/app.py", "./app.py", "app.py", "",
        "data:image/png;base64,@@not-base64@@", "data:text/plain;base64,aGk=", "data:", "data:image/png,raw",
        *(f"{p}/{name}" for name in ODD_FILES), f"{p}/swapping/target.txt",
        "data:image/png;base64," + "A" * 40_000, "data:image/gif;base64," + base64.b64encode(b"GIF89a" + b"\0" * 30).decode(),
    )
    return project, good, awkward


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveQuorum]:
    root = tmp_path_factory.mktemp("fuzz")
    project, good, awkward = build_project(root)
    warm_sdks()
    with pytest.MonkeyPatch.context() as mp, FakeProviderServer() as fake:
        # '~' in a fuzzed path must land in the sandbox, never in the real home directory.
        mp.setenv("HOME", str(root / "home-dir"))
        (root / "home-dir").mkdir()
        # clink must never start a real agent CLI found on PATH: every CLI name points at a harmless fake.
        fake_cli = root / "fake-cli"
        fake_cli.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\nprint('fuzz cli answer')\n")
        fake_cli.chmod(0o755)
        clink = {f"QUORUM_CLINK_{name}_COMMAND": str(fake_cli) for name in ("GEMINI", "CLAUDE", "CODEX")}
        env = wire_env(
            fake.url, root / "quorum-home", ("openai", "gemini"),
            QUORUM_MAX_RETRIES="0", QUORUM_MAX_PROMPT_CHARS="5000", QUORUM_MAX_FILE_BYTES="20000",
            MAX_CONVERSATION_TURNS="8", MAX_MCP_OUTPUT_TOKENS="3000", QUORUM_CLINK_TIMEOUT_S="20", **clink,
        )
        domain = Domain(models=(OPENAI.model, GEMINI.model, OPENAI.second_model, "openai-main", "gemini-second"),
                        good_paths=good, awkward_paths=awkward, project=str(project), repo=str(project / "repo"),
                        canary=str(root / "canary"))
        server = LiveQuorum(env, project, domain).start()
        flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(project / "swapping"), str(root / "outside-dir")])
        try:
            yield server
        finally:
            flipper.kill()
            flipper.wait(10)
            release_fifos(project)
            server.stop()
            # Nothing from outside the project reached a model, whatever path the fuzzing tried.
            leaked = [r.index for r in fake.generation_requests() if "OUTSIDE-THE-PROJECT" in json.dumps(r.body)]
            assert not leaked, f"content from outside the roots reached the provider in requests {leaked}"


def _short(args: dict[str, Any]) -> str:
    text = json.dumps(args, ensure_ascii=True, default=str)
    return text if len(text) < 600 else text[:600] + f"... ({len(text)} chars)"


def checked_call(live: LiveQuorum, tool: str, args: dict[str, Any], label: str) -> dict[str, Any]:
    """Call once and assert the envelope is well formed; returns it. Records what was exercised."""
    CALLS[label] += 1
    where = f"{tool} ({label}) with {_short(args)}"
    try:
        result = live.call(tool, args)
    except (asyncio.TimeoutError, FutureTimeout):
        pytest.fail(f"no answer within {CALL_TIMEOUT_S}s: {where}")
    except Exception as exc:  # a protocol-level failure instead of a tool result
        pytest.fail(f"the call raised {type(exc).__name__}: {exc}: {where}")
    assert len(result.content) == 1 and result.content[0].type == "text", where
    envelope = json.loads(result.content[0].text)
    assert isinstance(envelope, dict), where
    assert {"status", "content", "metadata", "content_type", "continuation_offer"} <= set(envelope), where
    assert isinstance(envelope["content"], str) and isinstance(envelope["metadata"], dict), where
    assert envelope["content_type"] in CONTENT_TYPES, where
    assert bool(result.is_error) == (envelope["status"] == "error"), f"is_error disagrees with status: {where}"
    if result.is_error:
        kind = envelope["metadata"].get("error_kind")
        OUTCOMES[f"{label}/error:{kind}"] += 1
        assert kind != "internal_error", f"internal error: {envelope['content']}\n  triggered by {where}"
        assert kind in ERROR_KINDS, f"unknown error_kind {kind!r}: {where}"
        assert len(envelope["content"].strip()) >= 20, f"error message too thin {envelope['content']!r}: {where}"
        assert envelope["continuation_offer"] is None, where
    else:
        OUTCOMES[f"{label}/ok"] += 1
        offer = envelope["continuation_offer"]
        if offer is not None:
            assert isinstance(offer.get("continuation_id"), str) and offer["continuation_id"], where
            ids = live.domain.thread_ids
            if offer["continuation_id"] not in ids:
                ids.append(offer["continuation_id"])
    return envelope


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def full_content(envelope: dict[str, Any]) -> str:
    """The whole content, read back from the overflow file when it was too large for the client cap."""
    meta = envelope["metadata"]
    if meta.get("output_truncated"):
        assert meta.get("output_file"), f"truncated output without a file: {envelope['content'][-300:]}"
        return Path(meta["output_file"]).read_text(encoding="utf-8")
    return str(envelope["content"])


@pytest.mark.parametrize("tool", TOOL_NAMES)
@settings(FUZZ_SETTINGS, max_examples=VALID_EXAMPLES)
@given(data=st.data())
def test_schema_valid_arguments_get_a_well_formed_envelope_and_never_an_internal_error(
    live: LiveQuorum, tool: str, data: st.DataObject
) -> None:
    args = data.draw(arguments(live.schemas[tool], live.domain), label="arguments")
    checked_call(live, tool, args, "valid")


@pytest.mark.parametrize("tool", TOOL_NAMES)
@settings(FUZZ_SETTINGS, max_examples=BROKEN_EXAMPLES)
@given(data=st.data())
def test_broken_arguments_get_a_clear_error_or_a_well_formed_envelope(
    live: LiveQuorum, tool: str, data: st.DataObject
) -> None:
    args, broken = data.draw(broken_arguments(live.schemas[tool], live.domain), label="arguments")
    envelope = checked_call(live, tool, args, "broken")
    if envelope["metadata"].get("error_kind") == "invalid_arguments":
        # The message names the field to fix (or to remove), or quotes the offending value.
        named = {*live.schemas[tool].get("properties", {}), *args}
        named |= {v for v in _strings(args) if len(v.strip()) >= 3}
        assert any(name and name in envelope["content"] for name in named), (broken, envelope["content"])


@settings(FUZZ_SETTINGS, max_examples=max(1, int(8 * SCALE)))
@given(name=st.text(max_size=30).filter(lambda n: n not in TOOL_NAMES), args=st.dictionaries(st.text(max_size=5),
                                                                                            st.integers(), max_size=2))
def test_an_unknown_tool_name_gets_an_unknown_tool_error_listing_the_tools(
    live: LiveQuorum, name: str, args: dict[str, Any]
) -> None:
    envelope = checked_call(live, name, args, "unknown tool")
    assert envelope["metadata"]["error_kind"] == "unknown_tool"
    assert "chat" in envelope["content"]


@settings(FUZZ_SETTINGS, max_examples=max(1, int(8 * SCALE)))
@given(prompts=st.lists(st.text(min_size=1, max_size=40).filter(str.strip), min_size=2, max_size=4))
def test_concurrent_calls_on_one_thread_each_record_one_whole_exchange(live: LiveQuorum, prompts: list[str]) -> None:
    opened = checked_call(live, "chat", {"prompt": "concurrency base", "model": OPENAI.model}, "concurrent")
    thread_id = opened["continuation_offer"]["continuation_id"]
    assert live.session is not None
    client = live.session.client

    async def together() -> list[Any]:
        calls = [client.call_tool("chat", {"prompt": p, "continuation_id": thread_id, "model": m})
                 for p, m in zip(prompts, [OPENAI.model, GEMINI.model] * len(prompts))]
        return await asyncio.gather(*calls)

    CALLS["concurrent"] += len(prompts)
    results = live.run(together())
    answered = [not r.is_error for r in results]
    for result in results:
        envelope = json.loads(result.content[0].text)
        assert bool(result.is_error) == (envelope["status"] == "error"), envelope
        # The only refusal expected here: the thread filled up (MAX_CONVERSATION_TURNS) under concurrent appends.
        assert envelope["metadata"].get("error_kind") in (None, "thread_full"), envelope
    export = {"action": "export", "continuation_id": thread_id}
    exported = json.loads(full_content(checked_call(live, "threads", export, "audit")))
    turns = exported["turns"]
    # Each answered call added its own user and assistant turn, whole and once; refused ones added nothing.
    assert len(turns) == 2 + 2 * sum(answered)
    users = [t["content"] for t in turns[2:] if t["role"] == "user"]
    assert sorted(users) == sorted(p for p, ok in zip(prompts, answered) if ok)


@settings(FUZZ_SETTINGS, max_examples=VALID_EXAMPLES)
@given(ref=st.one_of(st.none(), st.sampled_from(GIT_REFS)), staged=st.booleans(), unstaged=st.booleans())
def test_precommit_on_a_hostile_repository_never_runs_its_commands(
    live: LiveQuorum, ref: str | None, staged: bool, unstaged: bool
) -> None:
    # A final step: precommit reads the diff itself (with_diff), the path where textconv and external diff would run.
    args = {"step": "check the change", "step_number": 1, "total_steps": 1, "next_step_required": False, "findings": "f",
            "path": live.domain.repo, "include_staged": staged, "include_unstaged": unstaged, "confidence": "high"}
    envelope = checked_call(live, "precommit", {**args, **({"compare_to": ref} if ref else {})}, "hostile repo")
    if ref is None and unstaged:  # the fuzzed repository holds unstaged changes: their diff was read
        assert envelope["status"] != "error", envelope["content"]
    canary = Path(live.domain.canary)
    assert not canary.exists(), f"git ran the repository's commands: {canary.read_text()[:200]}"


# Inputs the fuzzing found crashing the server (internal_error), kept as fixed regression cases.
FOUND = [
    pytest.param("chat", "absolute_file_paths", "{p}/link_loop", "path_refused", id="symlink loop"),
    pytest.param("chat", "working_directory_absolute_path", "{p}/link_loop", "path_refused",
                 id="symlink loop as workdir"),
    pytest.param("chat", "absolute_file_paths", "{p}/" + "n" * 300 + ".py", "path_refused", id="file name too long"),
    pytest.param("chat", "working_directory_absolute_path", "{p}/" + "n" * 300, "path_refused",
                 id="workdir name too long"),
    pytest.param("chat", "absolute_file_paths", "{p}/dir_named/prompt.txt", "path_refused",
                 id="prompt.txt is a directory"),
    pytest.param("chat", "images", "{p}/folder.png", "path_refused", id="directory as an image"),
    pytest.param("chat", "images", "{p}/pipe.png", "path_refused", id="FIFO as an image"),
    pytest.param("chat", "absolute_file_paths", "{p}/pipe.txt", "path_refused", id="FIFO as a file"),
    pytest.param("chat", "images", "{p}/giant.png", "file_too_large", id="sparse 3 GB image"),
    pytest.param("chat", "absolute_file_paths", "{p}/hardlink.txt", "path_refused", id="hard link out of the roots"),
    pytest.param("chat", "absolute_file_paths", "{p}/socket.sock", "path_refused", id="socket"),
]


@pytest.mark.parametrize(("tool", "field", "value", "kind"), FOUND)
def test_inputs_fuzzing_found_crashing_now_get_a_clear_error(
    live: LiveQuorum, tool: str, field: str, value: str, kind: str
) -> None:
    value = value.format(p=live.domain.project)
    args = {"prompt": "regression", "model": OPENAI.model,
            field: [value] if field.endswith("paths") or field == "images" else value}
    envelope = checked_call(live, tool, args, "regression")
    assert envelope["metadata"]["error_kind"] == kind, envelope
    assert "pass " in envelope["content"].lower(), envelope["content"]
    release_fifos(Path(live.domain.project))


def test_after_the_fuzzing_every_thread_lists_shows_and_exports_with_consistent_turns(
    live: LiveQuorum, capsys: pytest.CaptureFixture[str]
) -> None:
    listed: dict[str, int] = {}  # thread id -> turn count, as the listing shows them
    offset = 0
    while True:
        page = checked_call(live, "threads", {"action": "list", "limit": 200, "offset": offset}, "audit")
        rows = [line.split(" | ") for line in full_content(page).splitlines() if line.startswith("| `")]
        for row in rows:
            thread_id = row[0].strip("| `")
            assert thread_id not in listed, f"{thread_id} is listed twice"
            listed[thread_id] = int(row[3])
        if len(rows) < 200:
            break
        offset += 200
    counts = Counter[str]()
    for thread_id, listed_turns in listed.items():
        checked_call(live, "threads", {"action": "show", "continuation_id": thread_id}, "audit")
        exported = checked_call(live, "threads", {"action": "export", "continuation_id": thread_id}, "audit")
        thread = json.loads(full_content(exported))
        turns = thread["turns"]
        assert thread["thread_id"] == thread_id
        assert exported["metadata"]["turns"] == len(turns) == listed_turns, thread_id
        assert turns and turns[0]["role"] == "user", thread_id
        for before, turn in zip(turns, turns[1:]):
            # An answer follows its request; only consensus records several answers (one per model) in a row.
            if turn["role"] == "assistant" and before["role"] == "assistant":
                assert turn["tool_name"] == before["tool_name"] == "consensus", (
                    f"two answers in a row in {thread_id}: {[(t['role'], t['tool_name']) for t in turns]}")
        for turn in turns:
            if turn["role"] == "assistant":
                assert turn["model"] and turn["provider"] and turn["content"].strip(), (thread_id, turn)
        # Turns are stamped when built, so concurrent calls may append them out of timestamp order; but
        # none can postdate the thread's last update.
        assert max(t["timestamp"] for t in turns) <= thread["updated_at"], f"a turn postdates {thread_id}'s update"
        assert len(turns) <= 8, f"{thread_id} holds {len(turns)} turns, over MAX_CONVERSATION_TURNS"
        counts[thread["tool_name"]] += 1

    canary = Path(live.domain.canary)
    assert not canary.exists(), f"git ran a repository's command or a fuzzed ref wrote a file: {canary.read_text()[:200]}"

    generated = {k: v for k, v in sorted(CALLS.items()) if k != "audit"}
    with capsys.disabled():
        print(f"\n[fuzz] {sum(generated.values())} generated calls {generated}; {CALLS['audit']} audit calls over "
              f"{len(listed)} threads {dict(counts)}; outcomes {dict(sorted(OUTCOMES.items()))}")
    assert sum(generated.values()) >= len(TOOL_NAMES) * 2
