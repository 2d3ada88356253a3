"""Redis thread store: for several hosts behind a load balancer sharing one Redis (standalone, not cluster)."""

from __future__ import annotations

import functools
import heapq
import json
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from pydantic_core import to_json

from utils.conversations.storage.base import LOCAL_VIEW, StoreError, ThreadFullError, ThreadNotFoundError, ThreadSummary
from utils.conversations.storage.records import bounded, cutoff_for, epoch, parse_utc, utc_text
from utils.conversations.storage.summary import Totals, totals_of
from utils.conversations.turns import LOCAL_OWNER, Thread, Turn, has_room, utcnow
from utils.privacy.redaction import redact_stored_json, redact_text

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Append if the thread is still as it was read (same update time and turn count): one atomic step. The
# caller checked liveness, owner and room on that read and computed the new summary fields in Python.
# KEYS: header hash, turns list, state hash, index zset, owner index zset.
# ARGV: expected updated_score, expected turn count, now text, now score, ttl ms, thread id,
#       n turns, n state pairs, n header pairs, then turns, state key/value pairs, header field/value pairs.
_APPEND_LUA = """
local head, turns, state = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', head, 'updated_score') ~= ARGV[1] then return {'changed'} end
if redis.call('LLEN', turns) ~= tonumber(ARGV[2]) then return {'changed'} end
local n_turns, n_state, n_head = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local i = 10
if n_turns > 0 then redis.call('RPUSH', turns, unpack(ARGV, i, i + n_turns - 1)) end
i = i + n_turns
if n_state > 0 then redis.call('HSET', state, unpack(ARGV, i, i + 2 * n_state - 1)) end
i = i + 2 * n_state
redis.call('HSET', head, 'updated_at', ARGV[3], 'updated_score', ARGV[4])
if n_head > 0 then redis.call('HSET', head, unpack(ARGV, i, i + 2 * n_head - 1)) end
for _, key in ipairs({head, turns, state}) do redis.call('PEXPIRE', key, ARGV[5]) end
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[6])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[6])
return {'ok', redis.call('HGETALL', head), redis.call('LRANGE', turns, 0, -1), redis.call('HGETALL', state)}
"""

# Drop a batch of index entries at or before the cutoff, with whatever keys they still have.
# KEYS: index. ARGV: key prefix, cutoff score, batch size.
_EXPIRE_LUA = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local owner = redis.call('HGET', ARGV[1] .. 'thread:' .. id, 'owner')
  if owner then redis.call('ZREM', ARGV[1] .. 'owned:' .. owner, id) end
  redis.call('DEL', ARGV[1] .. 'thread:' .. id, ARGV[1] .. 'turns:' .. id, ARGV[1] .. 'state:' .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
"""

# Delete one thread if one of the allowed owners holds it. KEYS: header, turns, state, index.
# ARGV: owners allowed (newline-separated), thread id, owner index key prefix.
_DELETE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local owner = redis.call('HGET', KEYS[1], 'owner') or 'local'
if not string.find('\\n' .. ARGV[1] .. '\\n', '\\n' .. owner .. '\\n', 1, true) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('ZREM', ARGV[3] .. owner, ARGV[2])
return 1
"""

# Give an ownerless thread to ARGV[1], unless its header has expired meanwhile (never recreate a key).
_ADOPT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSETNX', KEYS[1], 'owner', ARGV[1]) end
return 0
"""

_EXPIRE_BATCH = 500
# Bumped when stored data needs adopting by a newer layout: 2 = every thread has an owner and an owner index;
# 3 = what was stored before redaction covered it (turns, first request, first prompt, state) is redacted.
_LAYOUT = 3
# Each lost try means another append to the thread landed, so this bounds only a pathological pile-up.
_APPEND_TRIES = 1_000
_TOTAL_FIELDS = ("first_prompt", "models", "cost", "tokens")
_SUMMARY_FIELDS = ("tool_name", "created_at", "updated_at", *_TOTAL_FIELDS)


P = ParamSpec("P")
T = TypeVar("T")


def _reported(
    method: Callable[Concatenate[RedisThreadStore, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[RedisThreadStore, P], Coroutine[Any, Any, T]]:
    """Turn the client's connection and server errors into a StoreError that says where and what to do."""

    @functools.wraps(method)
    async def call(self: RedisThreadStore, *args: P.args, **kwargs: P.kwargs) -> T:
        from redis.exceptions import RedisError

        try:
            return await method(self, *args, **kwargs)
        except (RedisError, OSError) as exc:
            raise StoreError(
                f"Redis at {self.where} could not be used ({exc}). Check that the Redis server is running and reachable "
                "there and that QUORUM_REDIS_URL names it, or set QUORUM_STORAGE=sqlite to keep threads in a local file"
            ) from exc

    return call


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _total_fields(totals: Totals) -> dict[str, str]:
    """Totals (computed in Python, utils/conversations/storage/summary) as the header hash stores them."""
    fields = {"models": "\n".join(totals.models), "cost": f"{totals.cost_usd:.12f}", "tokens": str(totals.tokens)}
    return fields if totals.first_prompt is None else {**fields, "first_prompt": totals.first_prompt}


def _totals_from(count: int, fields: Sequence[str | None]) -> Totals:
    """Totals from the header hash's _TOTAL_FIELDS and the length of the turns list."""
    first_prompt, models, cost, tokens = fields
    return Totals(
        turn_count=count, first_prompt=first_prompt, models=tuple(models.split("\n")) if models else (),
        cost_usd=float(cost or 0.0), tokens=int(tokens or 0),
    )


class RedisThreadStore:
    """ThreadStore over Redis: header hash, turns list, state hash per thread, plus an updated_at index."""

    def __init__(self, url: str, ttl: timedelta, prefix: str = "quorum:") -> None:
        from redis.asyncio import Redis  # optional dependency: imported only when this backend is chosen

        self.ttl = ttl
        self.prefix = prefix
        self._client: Redis = Redis.from_url(url, decode_responses=True)
        where = self._client.connection_pool.connection_kwargs
        # Host, port and database only: the URL may carry a password.
        self.where = f"{where.get('host', where.get('path', '?'))}:{where.get('port', '')}/{where.get('db', 0)}"
        self._append_script = self._client.register_script(_APPEND_LUA)
        self._expire_script = self._client.register_script(_EXPIRE_LUA)
        self._delete_script = self._client.register_script(_DELETE_LUA)
        self._adopted = False

    def _keys(self, thread_id: str) -> tuple[str, str, str]:
        p = self.prefix
        return f"{p}thread:{thread_id}", f"{p}turns:{thread_id}", f"{p}state:{thread_id}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}index"

    @property
    def _owned(self) -> str:
        """Prefix of the per-owner index keys (owner name appended), so `list` reads only the caller's threads."""
        return f"{self.prefix}owned:"

    def _ttl_ms(self, updated_score: float) -> int:
        """Milliseconds a thread updated at `updated_score` has left (at least 1, so keys always expire)."""
        left = updated_score + self.ttl.total_seconds() - utcnow().timestamp()
        return max(1, int(left * 1000))

    def _cutoff_score(self) -> float:
        return cutoff_for(self.ttl).timestamp()

    def _thread(
        self, thread_id: str, head: dict[str, str], turns: Sequence[str], state: dict[str, str], owners: Sequence[str]
    ) -> Thread:
        if not head or float(head["updated_score"]) <= self._cutoff_score():
            raise ThreadNotFoundError(thread_id)
        owner = head.get("owner", LOCAL_OWNER)
        if owner not in owners:
            raise ThreadNotFoundError(thread_id)  # someone else's thread reads exactly like an unknown one
        return Thread(
            thread_id=thread_id,
            parent_id=json.loads(head["parent_id"]),
            tool_name=head["tool_name"],
            created_at=parse_utc(head["created_at"]),
            updated_at=parse_utc(head["updated_at"]),
            initial_request=json.loads(head["initial_request"]),
            owner=owner,
            state={key: json.loads(value) for key, value in state.items()},
            turns=tuple(Turn.model_validate_json(text) for text in turns),
        )

    @_reported
    async def create(self, thread: Thread) -> Thread:
        head_key, turns_key, state_key = self._keys(thread.thread_id)
        score = epoch(thread.updated_at)
        head: dict[Any, str] = {
            "parent_id": json.dumps(thread.parent_id),
            "tool_name": thread.tool_name,
            "created_at": utc_text(thread.created_at),
            "updated_at": utc_text(thread.updated_at),
            "updated_score": repr(score),
            "initial_request": to_json(thread.initial_request).decode(),
            "owner": thread.owner,
            **_total_fields(totals_of(thread)),
        }
        ttl_ms = self._ttl_ms(score)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(head_key, turns_key, state_key)
            pipe.hset(head_key, mapping=head)
            if thread.turns:
                pipe.rpush(turns_key, *(t.model_dump_json() for t in thread.turns))
            if thread.state:
                pipe.hset(state_key, mapping={k: to_json(v).decode() for k, v in thread.state.items()})
            for key in (head_key, turns_key, state_key):
                pipe.pexpire(key, ttl_ms)
            pipe.zadd(self._index, {thread.thread_id: score})
            pipe.zadd(self._owned + thread.owner, {thread.thread_id: score})
            pipe.sadd(f"{self.prefix}owners", thread.owner)
            await pipe.execute()
        return thread

    @_reported
    async def get(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> Thread:
        head_key, turns_key, state_key = self._keys(thread_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hgetall(head_key)
            pipe.lrange(turns_key, 0, -1)
            pipe.hgetall(state_key)
            head, turns, state = await pipe.execute()
        return self._thread(thread_id, head, turns, state, owners)

    @_reported
    async def append(
        self, thread_id: str, turns: list[Turn], *, max_turns: int, state: dict[str, Any] | None = None,
        owners: Sequence[str] = LOCAL_VIEW,
    ) -> Thread:
        head_key, turns_key, _ = self._keys(thread_id)
        pairs = [item for k, v in (state or {}).items() for item in (k, to_json(v).decode())]
        bodies = [t.model_dump_json() for t in turns]
        for _ in range(_APPEND_TRIES):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hmget(head_key, ["updated_score", "owner", *_TOTAL_FIELDS])
                pipe.llen(turns_key)
                (score, owner, *fields), count = await pipe.execute()
            owner = owner or LOCAL_OWNER
            if score is None or float(score) <= self._cutoff_score() or owner not in owners:
                raise ThreadNotFoundError(thread_id)
            held = _totals_from(int(count), fields)
            if not has_room(held.turn_count, len(turns), max_turns):
                raise ThreadFullError(thread_id, max_turns)
            head = [item for pair in _total_fields(held.extended(turns)).items() for item in pair]
            now = utcnow()
            args: list[str | int | float] = [
                score, count, utc_text(now), repr(now.timestamp()), max(1, int(self.ttl.total_seconds() * 1000)),
                thread_id, len(bodies), len(pairs) // 2, len(head) // 2, *bodies, *pairs, *head,
            ]
            reply = await self._append_script(keys=[*self._keys(thread_id), self._index, self._owned + owner], args=args)
            if reply[0] == "ok":
                return self._thread(thread_id, _pairs(reply[1]), reply[2], _pairs(reply[3]), owners)
            if reply[0] != "changed":
                raise StoreError(f"Unexpected reply from Redis append script: {reply[0]!r}. Check the Redis server.")
        raise StoreError(
            f"Conversation '{thread_id}' kept changing under concurrent writers ({_APPEND_TRIES} tries); retry the call."
        )

    async def _adopt_unowned(self) -> None:
        """Give threads stored before owners existed to the local user, once per store and database."""
        if self._adopted:
            return
        marker = f"{self.prefix}layout"
        layout = int(await self._client.get(marker) or 0)
        if layout < _LAYOUT:
            found = cast(list[tuple[str, float]], await self._client.zrange(self._index, 0, -1, withscores=True))
            for thread_id, score in found:
                if layout < 2:
                    head_key = self._keys(str(thread_id))[0]
                    if await self._client.eval(_ADOPT_LUA, 1, head_key, LOCAL_OWNER):
                        await self._client.zadd(self._owned + LOCAL_OWNER, {str(thread_id): score})
                await self._redact_stored(str(thread_id))
            await self._client.sadd(f"{self.prefix}owners", LOCAL_OWNER)
            await self._client.set(marker, _LAYOUT)
        self._adopted = True

    async def _redact_stored(self, thread_id: str) -> None:
        """Redact, in place, what one thread stored before redaction covered it (changed values only)."""
        head_key, turns_key, state_key = self._keys(thread_id)
        turns = cast(list[str], await self._client.lrange(turns_key, 0, -1))
        for index, turn in enumerate(turns):
            if (cleaned := redact_stored_json(turn, turn=True)) is not turn:
                await self._client.lset(turns_key, index, cleaned)
        state = cast(dict[str, str], await self._client.hgetall(state_key))
        changed: dict[Any, str] = {
            key: cleaned for key, value in state.items() if (cleaned := redact_stored_json(value)) is not value
        }
        initial, first = cast(list[str | None], await self._client.hmget(head_key, ["initial_request", "first_prompt"]))
        if initial is not None and (cleaned := redact_stored_json(initial)) is not initial:
            await self._client.hset(head_key, "initial_request", cleaned)
        if first is not None and (clean_first := redact_text(first)) != first:
            await self._client.hset(head_key, "first_prompt", clean_first)
        if changed:
            await self._client.hset(state_key, mapping=changed)

    async def _page(self, owners: Sequence[str], limit: int, offset: int) -> list[str]:
        """Ids of the owners' live threads, newest first: one index read per owner, merged by update time."""
        low = f"({self._cutoff_score()!r}"
        names = list(dict.fromkeys(owners))
        if len(names) == 1:
            found = await self._client.zrevrangebyscore(self._owned + names[0], "+inf", low, start=offset, num=limit)
            return [str(thread_id) for thread_id in found]
        runs = [
            cast(
                list[tuple[str, float]],
                await self._client.zrevrangebyscore(
                    self._owned + name, "+inf", low, start=0, num=offset + limit, withscores=True
                ),
            )
            for name in names
        ]
        merged = heapq.merge(*runs, key=lambda pair: -float(pair[1]))
        return [str(thread_id) for thread_id, _ in list(merged)[offset : offset + limit]]

    @_reported
    async def list(self, limit: int = 20, offset: int = 0, *, owners: Sequence[str] = LOCAL_VIEW) -> list[ThreadSummary]:
        if limit <= 0 or not owners:
            return []
        await self._adopt_unowned()
        ids = await self._page(owners, bounded(limit), bounded(offset))
        async with self._client.pipeline(transaction=False) as pipe:
            for thread_id in ids:
                head_key, turns_key, _ = self._keys(thread_id)
                pipe.hmget(head_key, _SUMMARY_FIELDS)
                pipe.llen(turns_key)
            replies = await pipe.execute()
        summaries = []
        for thread_id, fields, count in zip(ids, replies[::2], replies[1::2], strict=True):
            tool_name, created_at, updated_at, *totals = fields
            if created_at is None:  # the key expired before the index was pruned
                continue
            summaries.append(
                ThreadSummary.of(thread_id, tool_name, parse_utc(created_at), parse_utc(updated_at), _totals_from(int(count), totals))
            )
        return summaries

    @_reported
    async def delete(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> bool:
        keys = [*self._keys(thread_id), self._index]
        return bool(await self._delete_script(keys=keys, args=["\n".join(owners), thread_id, self._owned]))

    @_reported
    async def expire(self) -> int:
        total = 0
        while True:
            cutoff = repr(self._cutoff_score())
            pruned = int(await self._expire_script(keys=[self._index], args=[self.prefix, cutoff, _EXPIRE_BATCH]))
            total += pruned
            if pruned < _EXPIRE_BATCH:
                break
        # Entries whose keys Redis already expired by TTL, so the script could not read their owner.
        for owner in await self._client.smembers(f"{self.prefix}owners"):
            await self._client.zremrangebyscore(self._owned + str(owner), "-inf", repr(self._cutoff_score()))
        return total

    async def close(self) -> None:
        await self._client.aclose()
