"""Every ThreadStore backend behaves alike; SQLite also survives restarts, processes and old schemas."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import pytest

from tests.redis_support import redis_url  # noqa: F401 (a fixture)
from tests.requirements import require

from utils.config.settings import Settings
from utils.conversations.storage.base import ThreadFullError, ThreadNotFoundError, ThreadStore, summarise
from utils.conversations.storage.factory import open_store
from utils.conversations.storage.memory import MemoryThreadStore
from utils.conversations.storage.sqlite import SqliteThreadStore, utc_text
from utils.conversations.storage.records import excerpt
from utils.conversations.storage.sqlite_migrations import SCHEMA_VERSION, migrate, schema_version
from utils.conversations.turns import FileRef, Thread, Turn, utcnow

TTL = timedelta(hours=1)
REPO = Path(__file__).resolve().parents[1]


def _turn(content: str, role: Literal["user", "assistant"] = "user", model: str = "", cost: float = 0.0) -> Turn:
    # Priced turns also carry token usage, so the denormalised token totals are exercised too.
    meta = {"cost_usd": cost, "tokens": {"input": 10, "output": 3}} if cost else {}
    return Turn(role=role, content=content, model=model, metadata=meta)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ThreadStore]:
    opened: ThreadStore
    if request.param == "memory":
        opened = MemoryThreadStore(TTL)
    elif request.param == "sqlite":
        opened = SqliteThreadStore(tmp_path / "data" / "threads.sqlite3", TTL)
    else:
        from utils.conversations.storage.redis_store import RedisThreadStore

        opened = RedisThreadStore(request.getfixturevalue("redis_url"), TTL, prefix=f"t{uuid.uuid4().hex}:")
    yield opened
    await opened.close()


async def _stale(store: ThreadStore, **fields: object) -> Thread:
    """A thread last updated two TTLs ago."""
    when = utcnow() - 2 * TTL
    return await store.create(Thread(created_at=when, updated_at=when, **fields))  # type: ignore[arg-type]


# --- every backend ----------------------------------------------------------------------------


async def test_a_created_thread_reads_back_with_every_field(store: ThreadStore) -> None:
    thread = Thread(
        parent_id=str(uuid.uuid4()),
        created_at=datetime(2031, 5, 6, 9, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2))),
        tool_name="chat",
        initial_request={"prompt": "Review  this\nmodule", "files": ["/a.py"], "n": 3, "nested": {"x": 1.5}},
        turns=(
            Turn(
                role="user",
                content="Review this module",
                files=(FileRef(path="/a.py", sha256="ab" * 32, size=120),),
                images=("/img.png",),
                tool_name="chat",
            ),
            Turn(
                role="assistant",
                content="Looks fine.",
                tool_name="chat",
                provider="gemini",
                model="gemini-pro",
                metadata={"tokens": {"input": 10, "output": 3}, "cost_usd": 0.25},
            ),
        ),
        state={"step": 2, "findings": ["one"], "done": False},
    )
    await store.create(thread)
    assert await store.get(thread.thread_id) == thread


async def test_an_unknown_id_is_reported_as_not_found(store: ThreadStore) -> None:
    with pytest.raises(ThreadNotFoundError):
        await store.get("no-such-thread")
    with pytest.raises(ThreadNotFoundError):
        await store.append("no-such-thread", [_turn("hi")], max_turns=10)


async def test_a_thread_idle_longer_than_the_ttl_is_treated_as_absent(store: ThreadStore) -> None:
    stale = await _stale(store)
    with pytest.raises(ThreadNotFoundError):
        await store.get(stale.thread_id)
    with pytest.raises(ThreadNotFoundError):
        await store.append(stale.thread_id, [_turn("late")], max_turns=10)
    assert await store.list() == []


async def test_appending_slides_the_expiry_forward(store: ThreadStore) -> None:
    nearly = utcnow() - TTL + timedelta(minutes=1)
    thread = await store.create(Thread(created_at=nearly, updated_at=nearly))
    before = utcnow()
    await store.append(thread.thread_id, [_turn("still here")], max_turns=10)
    fetched = await store.get(thread.thread_id)
    assert fetched.updated_at >= before
    assert fetched.updated_at + store.ttl - utcnow() > TTL - timedelta(minutes=1)
    assert fetched.created_at == nearly


async def test_an_append_past_max_turns_is_refused_and_writes_nothing(store: ThreadStore) -> None:
    thread = await store.create(Thread(turns=(_turn("a"), _turn("b", "assistant")), state={"k": 1}))
    with pytest.raises(ThreadFullError):
        await store.append(thread.thread_id, [_turn("c"), _turn("d", "assistant")], max_turns=3, state={"k": 2})
    assert await store.get(thread.thread_id) == thread
    grown = await store.append(thread.thread_id, [_turn("c")], max_turns=3)
    assert [t.content for t in grown.turns] == ["a", "b", "c"]


async def test_fifty_concurrent_appends_to_one_thread_all_land(store: ThreadStore) -> None:
    thread = await store.create(Thread(tool_name="chat"))
    await asyncio.gather(
        *(store.append(thread.thread_id, [_turn(f"m{i}")], max_turns=100, state={f"k{i}": i}) for i in range(50))
    )
    fetched = await store.get(thread.thread_id)
    assert sorted(t.content for t in fetched.turns) == sorted(f"m{i}" for i in range(50))
    assert fetched.state == {f"k{i}": i for i in range(50)}


async def test_concurrent_appends_never_exceed_max_turns(store: ThreadStore) -> None:
    thread = await store.create(Thread())
    results = await asyncio.gather(
        *(store.append(thread.thread_id, [_turn(f"m{i}")], max_turns=30) for i in range(50)), return_exceptions=True
    )
    assert sum(isinstance(r, ThreadFullError) for r in results) == 20
    assert sum(isinstance(r, Thread) for r in results) == 30
    assert len((await store.get(thread.thread_id)).turns) == 30


async def test_list_is_most_recent_first_with_offset_and_limit(store: ThreadStore) -> None:
    now = utcnow()
    ids = []
    for age in range(5):
        when = now - timedelta(minutes=age)
        created = await store.create(Thread(created_at=when, updated_at=when, initial_request={"prompt": f"p{age}"}))
        ids.append(created.thread_id)
    await _stale(store)
    assert [s.thread_id for s in await store.list()] == ids
    assert [s.thread_id for s in await store.list(limit=2, offset=1)] == ids[1:3]
    assert await store.list(limit=3, offset=5) == []
    await store.append(ids[-1], [_turn("bump")], max_turns=10)
    assert (await store.list(limit=1))[0].thread_id == ids[-1]


async def test_summaries_match_the_reference_summary_as_turns_arrive(store: ThreadStore) -> None:
    created = await store.create(Thread(tool_name="consensus", turns=(_turn("x", "assistant", "m0", 0.5),)))
    first = [_turn("  What   is\n\nthe plan? " * 20), _turn("A plan.", "assistant", "gpt-5", 0.125)]
    await store.append(created.thread_id, first, max_turns=10)
    await store.append(created.thread_id, [_turn("more", "user"), _turn("ok", "assistant", "m0", 1e-6)], max_turns=10)
    [summary] = await store.list()
    assert summary == summarise(await store.get(created.thread_id))
    assert summary.models == ("m0", "gpt-5") and summary.turn_count == 5
    assert summary.total_tokens == 3 * 13  # three priced turns, each 10 input + 3 output tokens
    # Checked against the inputs themselves, not only against the same Totals code through another path.
    assert summary.first_prompt == excerpt("  What   is\n\nthe plan? " * 20)
    assert summary.total_cost_usd == pytest.approx(0.5 + 0.125 + 1e-6)


async def test_delete_removes_a_thread_and_reports_whether_it_existed(store: ThreadStore) -> None:
    keep, gone = await store.create(Thread()), await store.create(Thread(turns=(_turn("x"),), state={"a": 1}))
    assert await store.delete(gone.thread_id) is True
    assert await store.delete(gone.thread_id) is False
    with pytest.raises(ThreadNotFoundError):
        await store.get(gone.thread_id)
    assert [s.thread_id for s in await store.list()] == [keep.thread_id]


async def test_expire_deletes_only_threads_past_their_ttl_and_counts_them(store: ThreadStore) -> None:
    live = [await store.create(Thread()) for _ in range(2)]
    for _ in range(3):
        await _stale(store, turns=(_turn("old"),))
    assert await store.expire() == 3
    assert await store.expire() == 0
    assert {s.thread_id for s in await store.list()} == {t.thread_id for t in live}


async def test_append_merges_state_keys_and_keeps_the_rest(store: ThreadStore) -> None:
    thread = await store.create(Thread(state={"step": 1, "files": ["/a"], "confidence": "low"}))
    await store.append(thread.thread_id, [_turn("s2")], max_turns=10, state={"step": 2, "files": []})
    updated = await store.append(thread.thread_id, [_turn("s3")], max_turns=10, state={"issues": [{"sev": "high"}]})
    expected = {"step": 2, "files": [], "confidence": "low", "issues": [{"sev": "high"}]}
    assert updated.state == expected
    assert (await store.get(thread.thread_id)).state == expected


async def test_a_thread_is_seen_only_by_its_owner_and_reads_as_unknown_to_anyone_else(store: ThreadStore) -> None:
    alices = await store.create(Thread(owner="alice", turns=(_turn("alice's secret plan"),)))
    bobs = await store.create(Thread(owner="bob"))
    local = await store.create(Thread())
    for intruder in (("bob",), ("local",), ()):
        with pytest.raises(ThreadNotFoundError):
            await store.get(alices.thread_id, owners=intruder)
        with pytest.raises(ThreadNotFoundError):
            await store.append(alices.thread_id, [_turn("hijack")], max_turns=10, owners=intruder)
        assert await store.delete(alices.thread_id, owners=intruder) is False
    assert [s.thread_id for s in await store.list(owners=("bob",))] == [bobs.thread_id]
    assert [s.thread_id for s in await store.list()] == [local.thread_id]  # no owners named: the local user's
    assert (await store.get(alices.thread_id, owners=("alice",))).owner == "alice"
    assert len((await store.get(alices.thread_id, owners=("alice",))).turns) == 1  # the hijack wrote nothing
    assert await store.delete(alices.thread_id, owners=("alice",)) is True
    assert await store.list(owners=("alice",)) == []


async def test_a_caller_that_sees_several_owners_lists_their_threads_newest_first(store: ThreadStore) -> None:
    now = utcnow()
    made = []
    for age, owner in enumerate(["alice", "local", "alice", "local", "bob"]):
        when = now - timedelta(minutes=age)
        made.append(await store.create(Thread(owner=owner, created_at=when, updated_at=when)))
    seen = [s.thread_id for s in await store.list(owners=("alice", "local"))]
    assert seen == [t.thread_id for t in made[:4]]
    assert [s.thread_id for s in await store.list(limit=2, offset=1, owners=("alice", "local"))] == seen[1:3]


async def test_a_huge_list_offset_lists_nothing(store: ThreadStore) -> None:
    await store.create(Thread())
    assert await store.list(offset=10**30) == []
    assert await store.list(limit=10**30) != []


# --- SQLite only --------------------------------------------------------------------------------


async def test_sqlite_threads_survive_closing_and_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "threads.sqlite3"
    first = SqliteThreadStore(path, TTL)
    thread = await first.create(Thread(initial_request={"prompt": "hello"}))
    appended = await first.append(thread.thread_id, [_turn("hello"), _turn("hi", "assistant", "m")], max_turns=5)
    await first.close()
    second = SqliteThreadStore(path, TTL)
    assert await second.get(thread.thread_id) == appended
    assert [s.turn_count for s in await second.list()] == [2]
    await second.close()


async def test_sqlite_file_is_private_in_wal_mode_with_parent_dirs_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "threads.sqlite3"
    store = SqliteThreadStore(path, TTL)
    await store.create(Thread())
    await store.close()
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_sqlite_an_append_waiting_for_the_write_lock_does_not_block_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite3"
    store = SqliteThreadStore(path, TTL, busy_timeout_ms=20_000)
    thread = await store.create(Thread())
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    task = asyncio.create_task(store.append(thread.thread_id, [_turn("waits")], max_turns=5))
    for _ in range(20):  # the loop keeps turning while the append waits in a worker thread
        await asyncio.sleep(0)
    assert not task.done()
    blocker.execute("COMMIT")
    blocker.close()
    assert len((await asyncio.wait_for(task, 30)).turns) == 1
    await store.close()


_WORKER = """
import asyncio, sys
from datetime import timedelta
from pathlib import Path
from utils.conversations.storage.base import ThreadFullError
from utils.conversations.storage.sqlite import SqliteThreadStore
from utils.conversations.turns import Thread, Turn

async def main(path, thread_id, worker, count, max_turns):
    print("ready", flush=True)
    sys.stdin.readline()
    store = SqliteThreadStore(Path(path), timedelta(hours=1))
    if thread_id == "new":
        thread_id = (await store.create(Thread(tool_name=worker))).thread_id
    refused = 0
    for i in range(count):
        try:
            await store.append(thread_id, [Turn(role="user", content=f"{worker}:{i}")], max_turns=max_turns)
        except ThreadFullError:
            refused += 1
    await store.close()
    print(refused, flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
"""


async def _race_processes(path: Path, thread_id: str, workers: int, count: int, max_turns: int) -> int:
    """Start `workers` processes, release them together, return how many appends were refused."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WORKER, str(path), thread_id, str(w), str(count), str(max_turns),
            cwd=REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for w in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert await asyncio.wait_for(proc.stdout.readline(), 60) == b"ready\n"
        outputs = []
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        for proc in procs:
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, err.decode()
            outputs.append(int(out.decode().split()[-1]))
        return sum(outputs)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_sqlite_appends_from_several_processes_lose_nothing_and_keep_order(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite3"
    store = SqliteThreadStore(path, TTL)
    thread = await store.create(Thread())
    assert await _race_processes(path, thread.thread_id, workers=4, count=25, max_turns=1_000) == 0
    turns = (await store.get(thread.thread_id)).turns
    assert len(turns) == 100
    for worker in range(4):
        mine = [int(t.content.split(":")[1]) for t in turns if t.content.startswith(f"{worker}:")]
        assert mine == list(range(25))
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT seq FROM turns WHERE thread_id = ? ORDER BY seq", (thread.thread_id,))
        seqs = [seq for (seq,) in rows]
    assert seqs == list(range(100))
    await store.close()


async def test_sqlite_processes_racing_past_max_turns_store_exactly_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite3"
    store = SqliteThreadStore(path, TTL)
    thread = await store.create(Thread())
    assert await _race_processes(path, thread.thread_id, workers=4, count=25, max_turns=60) == 40
    assert len((await store.get(thread.thread_id)).turns) == 60
    await store.close()


async def test_sqlite_migrations_are_idempotent_and_record_their_version(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite3"
    for opened in range(2):
        store = SqliteThreadStore(path, TTL)
        await store.create(Thread())
        assert len(await store.list()) in (1, 2)
        assert len(await store.list()) == opened + 1  # reopening kept the first thread
        await store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        assert migrate(conn) == 0


async def test_sqlite_processes_opening_a_new_file_at_once_all_migrate_and_write_it(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "threads.sqlite3"
    assert await _race_processes(path, "new", workers=4, count=25, max_turns=100) == 0
    store = SqliteThreadStore(path, TTL)
    summaries = await store.list()
    assert sorted(s.tool_name for s in summaries) == ["0", "1", "2", "3"]
    assert [s.turn_count for s in summaries] == [25] * 4
    await store.close()
    with closing(sqlite3.connect(path)) as conn:
        assert schema_version(conn) == SCHEMA_VERSION


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
async def test_sqlite_a_database_at_any_older_schema_upgrades_and_works(tmp_path: Path, version: int) -> None:
    path = tmp_path / "threads.sqlite3"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate(conn, target=version)
    store = SqliteThreadStore(path, TTL)
    thread = await store.create(Thread(turns=(_turn("q"),)))
    assert (await store.append(thread.thread_id, [_turn("a", "assistant")], max_turns=5)).turns[-1].content == "a"
    await store.close()
    with closing(sqlite3.connect(path)) as conn:
        assert schema_version(conn) == SCHEMA_VERSION


async def test_sqlite_threads_written_at_schema_1_keep_their_turns_and_gain_summaries(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite3"
    turns = [_turn("first  question"), _turn("answer", "assistant", "m1", 0.5), _turn("again"),
             _turn("more", "assistant", "m2", 0.25), _turn("x", "assistant", "m1", 0.125)]
    now = utc_text(utcnow())
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate(conn, target=1)
        conn.execute(
            "INSERT INTO threads (id, parent_id, tool_name, created_at, updated_at, initial_request, state)"
            " VALUES ('old', NULL, 'chat', ?, ?, '{}', '{\"step\": 3}')", (now, now),
        )
        conn.executemany(
            "INSERT INTO turns (thread_id, seq, turn) VALUES ('old', ?, ?)",
            [(seq, t.model_dump_json()) for seq, t in enumerate(turns)],
        )
    store = SqliteThreadStore(path, TTL)
    thread = await store.get("old")
    assert list(thread.turns) == turns and thread.state == {"step": 3}
    assert await store.list() == [summarise(thread)]
    appended = await store.append("old", [_turn("new", "assistant", "m3", 1.0)], max_turns=10)
    assert await store.list() == [summarise(appended)]
    await store.close()


# --- factory ------------------------------------------------------------------------------------


async def test_open_store_builds_the_backend_the_settings_name(tmp_path: Path) -> None:
    base = {"CONVERSATION_TIMEOUT_HOURS": 2, "QUORUM_SQLITE_PATH": str(tmp_path / "x" / "t.sqlite3")}
    memory = open_store(Settings.model_validate({**base, "QUORUM_STORAGE": "memory"}))
    assert isinstance(memory, MemoryThreadStore) and memory.ttl == timedelta(hours=2)
    sqlite_store = open_store(Settings.model_validate(base))
    assert isinstance(sqlite_store, SqliteThreadStore) and sqlite_store.path == tmp_path / "x" / "t.sqlite3"
    await sqlite_store.close()


async def test_open_store_builds_a_redis_store_without_a_running_server() -> None:
    require(importlib.util.find_spec("redis") is not None, "the redis package is not installed")
    from utils.conversations.storage.redis_store import RedisThreadStore

    settings = {"CONVERSATION_TIMEOUT_HOURS": 2, "QUORUM_STORAGE": "redis", "QUORUM_REDIS_URL": "redis://127.0.0.1:9/0"}
    redis_store = open_store(Settings.model_validate(settings))
    assert isinstance(redis_store, RedisThreadStore) and redis_store.ttl == timedelta(hours=2)
    await redis_store.close()


async def test_redis_keys_carry_the_sliding_ttl(redis_url: str) -> None:
    from utils.conversations.storage.redis_store import RedisThreadStore

    store = RedisThreadStore(redis_url, TTL, prefix=f"t{uuid.uuid4().hex}:")
    nearly = utcnow() - TTL + timedelta(minutes=1)
    thread = await store.create(Thread(created_at=nearly, updated_at=nearly))
    head = f"{store.prefix}thread:{thread.thread_id}"
    assert 0 < await store._client.pttl(head) <= 60_000
    await store.append(thread.thread_id, [_turn("x")], max_turns=5, state={"a": 1})
    for key in (head, f"{store.prefix}turns:{thread.thread_id}", f"{store.prefix}state:{thread.thread_id}"):
        assert await store._client.pttl(key) > (TTL - timedelta(minutes=1)).total_seconds() * 1000
    await store.close()


async def test_redis_threads_stored_before_owners_existed_belong_to_the_local_user(redis_url: str) -> None:
    from utils.conversations.storage.redis_store import RedisThreadStore

    prefix = f"t{uuid.uuid4().hex}:"
    writer = RedisThreadStore(redis_url, TTL, prefix=prefix)
    old = await writer.create(Thread(initial_request={"prompt": "from an older Quorum"}))
    # What an older version wrote: no owner field, no owner index, no layout marker.
    await writer._client.hdel(f"{prefix}thread:{old.thread_id}", "owner")
    await writer._client.delete(f"{prefix}owned:local", f"{prefix}layout")
    await writer.close()
    store = RedisThreadStore(redis_url, TTL, prefix=prefix)
    assert [s.thread_id for s in await store.list()] == [old.thread_id]
    assert await store.list(owners=("alice",)) == []
    assert (await store.get(old.thread_id)).owner == "local"
    await store.close()


async def test_a_server_shutting_down_sweeps_expired_threads_out_of_its_database(tmp_path: Path) -> None:
    from server import build_services

    home = tmp_path / "home"
    services = build_services(Settings.from_env({"QUORUM_HOME": str(home), "CONVERSATION_TIMEOUT_HOURS": "1"}), cwd=tmp_path)
    live = await services.store.create(Thread())
    when = utcnow() - timedelta(hours=3)
    await services.store.create(Thread(created_at=when, updated_at=when, turns=(_turn("old"),)))
    await services.aclose()
    with closing(sqlite3.connect(home / "threads.sqlite3")) as conn:
        assert [row[0] for row in conn.execute("SELECT id FROM threads")] == [live.thread_id]
        assert conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0
