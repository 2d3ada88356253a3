"""Redis thread store: for several hosts behind a load balancer sharing one Redis (standalone, not cluster)."""

from __future__ import annotations

import functools
import heapq
import json
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from pydantic_core import to_json

from utils.conversation import LOCAL_OWNER, Thread, Turn, merge_models, turns_cost, turns_tokens, utcnow
from utils.storage.base import LOCAL_VIEW, StoreError, ThreadFullError, ThreadNotFoundError, ThreadSummary
from utils.storage.records import (
    bounded,
    cutoff_for,
    epoch,
    excerpt,
    first_user_content,
    parse_utc,
    prompt_seed,
    utc_text,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Check liveness and room, append, merge state, refresh the sliding TTL and the index: one atomic step.
# KEYS: header hash, turns list, state hash, index zset.
# ARGV: max_turns, cutoff score, now text, now score, ttl ms, thread id, cost delta, has-user flag,
#       first user prompt, n turns, n state pairs, n models, owners allowed (newline-separated),
#       owner index key prefix, then turns, state key/value pairs, models, and last the token delta.
_APPEND_LUA = """
local head, turns, state, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local score = redis.call('HGET', head, 'updated_score')
if (not score) or tonumber(score) <= tonumber(ARGV[2]) then return {'missing'} end
local owner = redis.call('HGET', head, 'owner') or 'local'
if not string.find('\\n' .. ARGV[13] .. '\\n', '\\n' .. owner .. '\\n', 1, true) then return {'missing'} end
local n_turns, n_state, n_models = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
if redis.call('LLEN', turns) + n_turns > tonumber(ARGV[1]) then return {'full'} end
local i = 15
if n_turns > 0 then redis.call('RPUSH', turns, unpack(ARGV, i, i + n_turns - 1)) end
i = i + n_turns
if n_state > 0 then redis.call('HSET', state, unpack(ARGV, i, i + 2 * n_state - 1)) end
i = i + 2 * n_state
local models = redis.call('HGET', head, 'models') or ''
for j = i, i + n_models - 1 do
  if not string.find('\\n' .. models .. '\\n', '\\n' .. ARGV[j] .. '\\n', 1, true) then
    if models == '' then models = ARGV[j] else models = models .. '\\n' .. ARGV[j] end
  end
end
redis.call('HSET', head, 'updated_at', ARGV[3], 'updated_score', ARGV[4], 'models', models)
redis.call('HINCRBYFLOAT', head, 'cost', ARGV[7])
redis.call('HINCRBY', head, 'tokens', ARGV[#ARGV])
if ARGV[8] == '1' and redis.call('HEXISTS', head, 'first_prompt') == 0 then
  redis.call('HSET', head, 'first_prompt', ARGV[9])
end
for _, key in ipairs({head, turns, state}) do redis.call('PEXPIRE', key, ARGV[5]) end
redis.call('ZADD', index, ARGV[4], ARGV[6])
redis.call('ZADD', ARGV[14] .. owner, ARGV[4], ARGV[6])
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
# Bumped when stored data needs adopting by a newer layout: 2 = every thread has an owner and an owner index.
_LAYOUT = 2
_SUMMARY_FIELDS = ("tool_name", "created_at", "updated_at", "first_prompt", "models", "cost", "tokens")


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


def _models(text: str | None) -> tuple[str, ...]:
    return tuple(text.split("\n")) if text else ()


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
            "models": "\n".join(merge_models((), thread.turns)),
            "cost": f"{turns_cost(thread.turns):.12f}",
            "tokens": str(turns_tokens(thread.turns)),
            "owner": thread.owner,
        }
        seed = prompt_seed(thread.initial_request)
        first = seed if seed is not None else first_user_content(thread.turns)
        if first is not None:
            head["first_prompt"] = first
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
        now = utcnow()
        pairs = [item for k, v in (state or {}).items() for item in (k, to_json(v).decode())]
        models = merge_models((), turns)
        first = first_user_content(turns)
        args: list[str | int | float] = [
            max_turns,
            repr(self._cutoff_score()),
            utc_text(now),
            repr(now.timestamp()),
            max(1, int(self.ttl.total_seconds() * 1000)),
            thread_id,
            f"{turns_cost(turns):.12f}",
            "1" if first is not None else "0",
            first or "",
            len(turns),
            len(pairs) // 2,
            len(models),
            "\n".join(owners),
            self._owned,
            *(t.model_dump_json() for t in turns),
            *pairs,
            *models,
            turns_tokens(turns),
        ]
        reply = await self._append_script(keys=[*self._keys(thread_id), self._index], args=args)
        if reply[0] == "missing":
            raise ThreadNotFoundError(thread_id)
        if reply[0] == "full":
            raise ThreadFullError(thread_id, max_turns)
        if reply[0] != "ok":
            raise StoreError(f"Unexpected reply from Redis append script: {reply[0]!r}. Check the Redis server.")
        return self._thread(thread_id, _pairs(reply[1]), reply[2], _pairs(reply[3]), owners)

    async def _adopt_unowned(self) -> None:
        """Give threads stored before owners existed to the local user, once per store and database."""
        if self._adopted:
            return
        marker = f"{self.prefix}layout"
        if int(await self._client.get(marker) or 0) < _LAYOUT:
            found = cast(list[tuple[str, float]], await self._client.zrange(self._index, 0, -1, withscores=True))
            for thread_id, score in found:
                head_key = self._keys(str(thread_id))[0]
                if await self._client.eval(_ADOPT_LUA, 1, head_key, LOCAL_OWNER):
                    await self._client.zadd(self._owned + LOCAL_OWNER, {str(thread_id): score})
            await self._client.sadd(f"{self.prefix}owners", LOCAL_OWNER)
            await self._client.set(marker, _LAYOUT)
        self._adopted = True

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
            tool_name, created_at, updated_at, first_prompt, models, cost, tokens = fields
            if created_at is None:  # the key expired before the index was pruned
                continue
            summaries.append(
                ThreadSummary(
                    thread_id=thread_id,
                    tool_name=tool_name,
                    created_at=parse_utc(created_at),
                    updated_at=parse_utc(updated_at),
                    turn_count=int(count),
                    first_prompt=excerpt(first_prompt),
                    models=_models(models),
                    total_cost_usd=round(float(cost or 0.0), 6),
                    total_tokens=int(tokens or 0),
                )
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
