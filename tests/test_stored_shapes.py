"""Threads stored by earlier versions (usage and cost inside turn metadata, summaries kept by the store)
still load, list, continue and sum correctly, through a real MCP client, on every durable backend."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.redis_support import redis_url  # noqa: F401 (a fixture)
from utils.conversations.storage.records import utc_text
from utils.conversations.storage.sqlite import SqliteThreadStore
from utils.conversations.storage.sqlite_migrations import migrate
from utils.conversations.turns import utcnow

TTL = timedelta(hours=3)
THREAD = "0ld5hape-0000-4000-8000-000000000001"
OLD_TOKENS = {"input": 100, "output": 30, "reasoning": 5, "cached": 20}
OLD_COST = 0.25

# Turns exactly as they were serialised when usage and cost lived in `metadata`.
OLD_TURNS = [
    {"role": "user", "content": "Is the cache key stable?", "timestamp": "2026-11-30T10:00:00Z", "files": [],
     "images": [], "tool_name": "chat", "provider": "", "model": "", "metadata": {}},
    {"role": "assistant", "content": "Yes, it hashes the path.", "timestamp": "2026-11-30T10:00:05Z", "files": [],
     "images": [], "tool_name": "chat", "provider": "custom", "model": "alpha",
     "metadata": {"tokens": OLD_TOKENS, "cost_usd": OLD_COST, "failover": [{"model": "beta", "error": "timeout"}]}},
]
INITIAL = {"prompt": "Is the cache key stable?", "model": "alpha"}


def _old_sqlite(path: Path, version: int) -> None:
    """A database at schema `version` holding one chat thread in the old turn shape, written by hand."""
    now = utc_text(utcnow())
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate(conn, target=version)
        conn.execute(
            "INSERT INTO threads (id, parent_id, tool_name, created_at, updated_at, initial_request, state)"
            " VALUES (?, NULL, 'chat', ?, ?, ?, '{}')", (THREAD, now, now, json.dumps(INITIAL)),
        )
        conn.executemany(
            "INSERT INTO turns (thread_id, seq, turn) VALUES (?, ?, ?)",
            [(THREAD, seq, json.dumps(turn)) for seq, turn in enumerate(OLD_TURNS)],
        )
        if version >= 2:  # the summary columns as that version kept them
            conn.execute(
                "UPDATE threads SET turn_count = 2, first_prompt = ?, models = '[\"alpha\"]', total_cost_usd = ?"
                " WHERE id = ?", (INITIAL["prompt"], OLD_COST, THREAD),
            )
        if version >= 3:
            conn.execute("UPDATE threads SET total_tokens = 130 WHERE id = ?", (THREAD,))


async def _old_redis(url: str, prefix: str) -> None:
    """One chat thread in Redis as the earlier layout stored it: header hash with its summary fields, turns list."""
    from redis.asyncio import Redis

    client = Redis.from_url(url, decode_responses=True)
    now = utcnow()
    head = {
        "parent_id": "null", "tool_name": "chat", "created_at": utc_text(now), "updated_at": utc_text(now),
        "updated_score": repr(now.timestamp()), "initial_request": json.dumps(INITIAL), "models": "alpha",
        "cost": f"{OLD_COST:.12f}", "tokens": "130", "owner": "local", "first_prompt": INITIAL["prompt"],
    }
    await client.hset(f"{prefix}thread:{THREAD}", mapping=head)
    await client.rpush(f"{prefix}turns:{THREAD}", *(json.dumps(t) for t in OLD_TURNS))
    await client.zadd(f"{prefix}index", {THREAD: now.timestamp()})
    await client.zadd(f"{prefix}owned:local", {THREAD: now.timestamp()})
    await client.sadd(f"{prefix}owners", "local")
    await client.set(f"{prefix}layout", 2)
    await client.aclose()


async def _check_old_thread_through_the_client(harness: Any) -> None:
    listed = await harness.ok("threads", action="list")
    row = next(line for line in listed.content.splitlines() if THREAD in line)
    assert "| 2 | alpha | 130 | $0.2500 |" in row, row

    exported = await harness.export(THREAD)
    assistant = exported["turns"][1]
    assert assistant["usage"] == OLD_TOKENS and assistant["cost_usd"] == OLD_COST
    # Notes other than usage stay in metadata.
    assert assistant["metadata"] == {"failover": [{"model": "beta", "error": "timeout"}]}

    harness.fakes["custom"].queue("Still stable.")
    reply = await harness.ok("chat", prompt="And after a rename?", model="alpha", continuation_id=THREAD)
    assert reply.metadata["thread_cost_usd"] == pytest.approx(OLD_COST + reply.metadata["cost_usd"])
    assert reply.metadata["thread_tokens"]["input"] == OLD_TOKENS["input"] + reply.metadata["tokens"]["input"]
    assert reply.metadata["thread_tokens"]["cached"] == OLD_TOKENS["cached"] + reply.metadata["tokens"]["cached"]

    listed = await harness.ok("threads", action="list")
    row = next(line for line in listed.content.splitlines() if THREAD in line)
    added = reply.metadata["tokens"]["input"] + reply.metadata["tokens"]["output"]
    assert f"| 4 | alpha | {130 + added:,} | ${OLD_COST + reply.metadata['cost_usd']:.4f} |" in row, row


@pytest.mark.parametrize("version", [1, 2, 3, 4])
async def test_a_sqlite_thread_in_the_old_turn_shape_loads_lists_and_continues(
    harness_factory: Any, tmp_path: Path, version: int
) -> None:
    path = tmp_path / "threads.sqlite3"
    _old_sqlite(path, version)
    store = SqliteThreadStore(path, TTL)
    try:
        await _check_old_thread_through_the_client(await harness_factory(store=store))
    finally:
        await store.close()


async def test_a_redis_thread_in_the_old_turn_shape_loads_lists_and_continues(
    harness_factory: Any, redis_url: str  # noqa: F811 (the fixture)
) -> None:
    from utils.conversations.storage.redis_store import RedisThreadStore

    prefix = f"old{uuid.uuid4().hex}:"
    await _old_redis(redis_url, prefix)
    store = RedisThreadStore(redis_url, TTL, prefix=prefix)
    try:
        await _check_old_thread_through_the_client(await harness_factory(store=store))
    finally:
        await store.close()


# A codereview run paused after step 1, as the thread state stored it (a plain JSON object).
OLD_RUN = {
    "run_id": "a" * 32, "tool": "codereview", "status": "active", "params": {"review_type": "full"},
    "steps": [{
        "n": 1, "step": "Review the payment module", "findings": "old-finding-one", "confidence": "medium",
        "issues": [{"severity": "high", "description": "rounding loses cents", "location": "pay.py:3"}],
    }],
}
OLD_STEP_TURN = {"role": "user", "content": "[codereview step 1/2 · confidence: medium]\nStep: Review the payment module",
                 "timestamp": "2026-11-30T10:00:00Z", "tool_name": "codereview", "metadata": {
                     "workflow": {"tool": "codereview", "run": "a" * 32, "step": 1}}}


async def test_a_workflow_run_stored_in_the_old_shape_continues_and_keeps_that_shape(harness_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite3"
    now = utc_text(utcnow())
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate(conn, target=4)
        conn.execute(
            "INSERT INTO threads (id, parent_id, tool_name, created_at, updated_at, initial_request, state, turn_count)"
            " VALUES (?, NULL, 'codereview', ?, ?, '{}', ?, 1)",
            (THREAD, now, now, json.dumps({"workflow:codereview": OLD_RUN})),
        )
        conn.execute("INSERT INTO turns (thread_id, seq, turn) VALUES (?, 0, ?)", (THREAD, json.dumps(OLD_STEP_TURN)))
    store = SqliteThreadStore(path, TTL)
    try:
        harness = await harness_factory(store=store)
        harness.fakes["openai"].queue('{"summary": "fine"}')
        final = await harness.ok(
            "codereview", step="Check the fix", step_number=2, total_steps=2, next_step_required=False,
            findings="new-finding-two", confidence="high", continuation_id=THREAD, model="beta",
        )
        assert final["investigation"]["steps_taken"] == 2
        assert final["investigation"]["issues"] == [OLD_RUN["steps"][0]["issues"][0]]
        sent = harness.fakes["openai"].calls[-1].messages[-1].content
        assert "old-finding-one" in sent and "new-finding-two" in sent and "rounding loses cents (pay.py:3)" in sent

        stored = (await harness.export(THREAD))["state"]["workflow:codereview"]
        assert stored["run_id"] == OLD_RUN["run_id"] and stored["status"] == "complete"
        assert stored["steps"][0] == OLD_RUN["steps"][0]
        assert stored["steps"][1] == {"n": 2, "step": "Check the fix", "findings": "new-finding-two", "confidence": "high"}
        assert set(stored) == {"run_id", "tool", "status", "steps", "params"}
    finally:
        await store.close()


# A key pasted before every turn, request and state was redacted on the way in.
OLD_KEY = "sk-proj-0ldSecretKeyAbcdefghij1234567890"
LEAKY_TURNS = [
    {**OLD_TURNS[0], "content": f"Why is {OLD_KEY} refused?"},
    {**OLD_TURNS[1], "content": f"Rotate {OLD_KEY} today."},
]


async def _continue_and_check_no_old_key_leaves(harness: Any, stored: Any) -> None:
    harness.fakes["custom"].queue("Rotated.")
    await harness.ok("chat", prompt="Done?", model="alpha", continuation_id=THREAD)
    sent = "\n".join(m.content for call in harness.fakes["custom"].calls for m in call.messages)
    assert "Rotate [REDACTED:openai_key] today." in sent and OLD_KEY not in sent
    assert OLD_KEY not in await stored()


async def test_an_old_sqlite_thread_holding_a_key_is_redacted_when_the_store_is_upgraded(
    harness_factory: Any, tmp_path: Path
) -> None:
    path = tmp_path / "threads.sqlite3"
    _old_sqlite(path, 5)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for seq, turn in enumerate(LEAKY_TURNS):
            conn.execute("UPDATE turns SET turn = ? WHERE thread_id = ? AND seq = ?", (json.dumps(turn), THREAD, seq))
        conn.execute("UPDATE threads SET initial_request = ?, first_prompt = ?, state = ? WHERE id = ?",
                     (json.dumps({"prompt": LEAKY_TURNS[0]["content"]}), LEAKY_TURNS[0]["content"],
                      json.dumps({"note": {"text": OLD_KEY}}), THREAD))
    store = SqliteThreadStore(path, TTL)

    async def stored() -> str:
        return "".join(p.read_bytes().decode(errors="replace") for p in tmp_path.glob("threads.sqlite3*"))

    try:
        await _continue_and_check_no_old_key_leaves(await harness_factory(store=store), stored)
    finally:
        await store.close()


async def test_an_old_redis_thread_holding_a_key_is_redacted_when_the_store_is_upgraded(
    harness_factory: Any, redis_url: str  # noqa: F811 (the fixture)
) -> None:
    from redis.asyncio import Redis

    from utils.conversations.storage.redis_store import RedisThreadStore

    prefix = f"old{uuid.uuid4().hex}:"
    await _old_redis(redis_url, prefix)
    client = Redis.from_url(redis_url, decode_responses=True)
    await client.delete(f"{prefix}turns:{THREAD}")
    await client.rpush(f"{prefix}turns:{THREAD}", *(json.dumps(t) for t in LEAKY_TURNS))
    await client.hset(f"{prefix}thread:{THREAD}", mapping={
        "initial_request": json.dumps({"prompt": LEAKY_TURNS[0]["content"]}), "first_prompt": LEAKY_TURNS[0]["content"]})
    await client.hset(f"{prefix}state:{THREAD}", "note", json.dumps({"text": OLD_KEY}))
    store = RedisThreadStore(redis_url, TTL, prefix=prefix)

    async def stored() -> str:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        values = []
        for key in keys:
            kind = await client.type(key)
            if kind == "hash":
                values.append(json.dumps(await client.hgetall(key)))
            elif kind == "list":
                values.append(json.dumps(await client.lrange(key, 0, -1)))
        return "".join(values)

    try:
        harness = await harness_factory(store=store)
        await harness.ok("threads", action="list")  # the first read upgrades the layout
        await _continue_and_check_no_old_key_leaves(harness, stored)
    finally:
        await store.close()
        await client.aclose()
