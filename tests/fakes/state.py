"""Shared state of the fake provider: scripted replies, the request log and settings.

Every method takes the lock only for a few list operations and never across an await, so
any number of concurrent handlers (and a controlling test thread) can use it safely.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODELS: tuple[str, ...] = ("gpt-fake", "o-fake", "gemini-fake-pro", "gemini-fake-flash")
DEFAULT_HANG_SECONDS = 120.0
GENERATION_KINDS = frozenset({"openai.chat", "openai.responses", "gemini.generate", "gemini.stream"})


class ReplySpec(BaseModel):
    """One scripted reply; fields left unset fall back to the deterministic default reply."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    model: str | None = Field(default=None, description="only a request for this model consumes the reply")
    delay: float | None = Field(default=None, ge=0, description="seconds before answering; None = default delay")
    status: int = Field(default=200, ge=100, le=599)
    body: Any = Field(default=None, description="raw body for a non-200 reply (dict/list → JSON, str → text)")
    headers: dict[str, str] = Field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    hang: bool = False
    reset: bool = False
    malformed: bool = False
    empty: bool = False
    blocked: bool = False
    prompt_blocked: bool = False
    truncate: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)
    cached_tokens: int = Field(default=0, ge=0)


@dataclass
class RecordedRequest:
    """What one request to the fake looked like, with monotonic arrival and finish times.

    `finished` and `outcome` are set just after the reply is sent, so a client can see its answer
    before they are: use `wait_for_requests(n, finished=True)` before asserting on them.
    """

    index: int
    kind: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    model: str | None
    stream: bool
    arrived: float
    finished: float | None = None
    outcome: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FakeConfig:
    """Settings that apply to every reply unless a scripted reply overrides them."""

    delay: float = 0.0
    hang_seconds: float = DEFAULT_HANG_SECONDS
    models: tuple[str, ...] = DEFAULT_MODELS
    flavour: str = "plain"  # which local server the model listing imitates (tests/fakes/wire_local.py)
    windows: dict[str, int] = field(default_factory=dict)  # context window per model, told the flavour's way

    def to_dict(self) -> dict[str, Any]:
        return {"delay": self.delay, "hang_seconds": self.hang_seconds, "models": list(self.models),
                "flavour": self.flavour, "windows": dict(self.windows)}


@dataclass
class FakeState:
    """The script queue, the request log and the config, guarded by one condition lock."""

    initial: FakeConfig = field(default_factory=FakeConfig)
    config: FakeConfig = field(init=False)
    _script: list[ReplySpec] = field(default_factory=list, init=False)
    _log: list[RecordedRequest] = field(default_factory=list, init=False)
    _replies_served: int = field(default=0, init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)

    def __post_init__(self) -> None:
        self.config = FakeConfig(**asdict(self.initial))

    def add_replies(self, specs: Iterable[ReplySpec]) -> int:
        """Append scripted replies; returns how many are now waiting."""
        with self._cond:
            self._script.extend(specs)
            return len(self._script)

    def take_reply(self, model: str | None) -> tuple[ReplySpec | None, int]:
        """Pop the first reply meant for `model` (or for any model) and number this reply."""
        with self._cond:
            self._replies_served += 1
            for i, spec in enumerate(self._script):
                if spec.model is None or spec.model == model:
                    return self._script.pop(i), self._replies_served
            return None, self._replies_served

    def pending_replies(self) -> list[ReplySpec]:
        with self._cond:
            return list(self._script)

    def record(
        self, *, kind: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
        body: Any, model: str | None, stream: bool,
    ) -> RecordedRequest:
        """Log a request as it arrives."""
        with self._cond:
            rec = RecordedRequest(
                index=len(self._log), kind=kind, method=method, path=path, query=query, headers=headers,
                body=body, model=model, stream=stream, arrived=time.monotonic(),
            )
            self._log.append(rec)
            self._cond.notify_all()
            return rec

    def finish(self, rec: RecordedRequest, outcome: str) -> None:
        with self._cond:
            rec.finished = time.monotonic()
            rec.outcome = outcome
            self._cond.notify_all()

    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._log)

    def wait_for_requests(
        self, count: int, timeout: float, *, finished: bool = False, kinds: frozenset[str] | None = None,
    ) -> list[RecordedRequest]:
        """Block until `count` requests (of `kinds`, when given) arrived (or finished); return those requests;
        raise TimeoutError after `timeout`."""
        def matching() -> list[RecordedRequest]:
            return [r for r in self._log if kinds is None or r.kind in kinds]

        def ready() -> bool:
            done = [r for r in matching() if r.finished is not None] if finished else matching()
            return len(done) >= count

        with self._cond:
            if not self._cond.wait_for(ready, timeout=timeout):
                raise TimeoutError(f"fake provider saw {len(matching())} request(s), wanted {count} within {timeout}s")
            return matching()

    def configure(
        self, *, delay: float | None = None, hang_seconds: float | None = None, models: Sequence[str] | None = None,
        flavour: str | None = None, windows: dict[str, int] | None = None,
    ) -> FakeConfig:
        with self._cond:
            if delay is not None:
                self.config.delay = max(0.0, float(delay))
            if hang_seconds is not None:
                self.config.hang_seconds = max(0.0, float(hang_seconds))
            if models is not None:
                self.config.models = tuple(models)
            if flavour is not None:
                self.config.flavour = flavour
            if windows is not None:
                self.config.windows = dict(windows)
            return FakeConfig(**asdict(self.config))

    def reset(self) -> None:
        """Forget script, log and counter, and restore the start-up config."""
        with self._cond:
            self._script.clear()
            self._log.clear()
            self._replies_served = 0
            self.config = FakeConfig(**asdict(self.initial))
            self._cond.notify_all()
