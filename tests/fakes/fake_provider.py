"""A fake model provider on 127.0.0.1 speaking the OpenAI and Gemini wire formats.

In-process: `with FakeProviderServer() as fake: ... fake.url ...` (uvicorn in a background thread).
As a process: `python -m tests.fakes.fake_provider --port P [--delay S]` prints its URL on line 1
and is scripted through the control API (`POST /_control/script`, see tests/fakes/control.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import uvicorn

from tests.fakes.app import FakeApp
from tests.fakes.state import (
    DEFAULT_HANG_SECONDS, DEFAULT_MODELS, GENERATION_KINDS, FakeConfig, FakeState, RecordedRequest, ReplySpec,
)

logger = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    """Bind before starting uvicorn so that port 0 yields a known free port with no race."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and with proto 0 Nagle + delayed ACK add ~40 ms to every reply (body after headers).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening now lets clients connect (queued in the backlog) as soon as the URL is known.
    sock.listen(2048)
    return sock


def _uvicorn_server(app: FakeApp, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="off", http="h11", ws="none",
        proxy_headers=False, server_header=False, timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


class FakeProviderServer:
    """The fake provider running in a background thread, with helpers to script and inspect it."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0,
        hang_seconds: float = DEFAULT_HANG_SECONDS, models: Sequence[str] = DEFAULT_MODELS,
    ) -> None:
        self.state = FakeState(FakeConfig(delay=delay, hang_seconds=hang_seconds, models=tuple(models)))
        self.app = FakeApp(self.state)
        self._host, self._requested_port = host, port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> FakeProviderServer:
        """Start serving and return once the server accepts connections."""
        if self._thread is not None:
            return self
        self.app = FakeApp(self.state)  # a fresh app: its halt event belongs to the new loop
        sock = _bind(self._host, self._requested_port)
        self._port = sock.getsockname()[1]
        self._server = server = _uvicorn_server(self.app, "warning")

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), name="fake-provider", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake provider did not start on {self.url} within {timeout}s")
            time.sleep(0.005)
        logger.debug("fake provider listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; pending delays and hangs end at once."""
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.app.halt)
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = self._thread = self._loop = None

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("fake provider is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a path, e.g. http://127.0.0.1:PORT (the Gemini SDK base_url)."""
        return f"http://{self._host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """The OpenAI SDK base_url (`{url}/v1`)."""
        return f"{self.url}/v1"

    # ---- scripting ---------------------------------------------------------------------------

    def script(self, *replies: ReplySpec | Mapping[str, Any]) -> None:
        """Queue replies, consumed in order by generation requests (a reply with `model` waits for it)."""
        self.state.add_replies(r if isinstance(r, ReplySpec) else ReplySpec.model_validate(r) for r in replies)

    def configure(self, *, delay: float | None = None, hang_seconds: float | None = None,
                  models: Sequence[str] | None = None, flavour: str | None = None,
                  windows: dict[str, int] | None = None) -> FakeConfig:
        """Change reply timing, the listed models, and which local server's discovery answers it imitates."""
        return self.state.configure(delay=delay, hang_seconds=hang_seconds, models=models, flavour=flavour,
                                    windows=windows)

    def reset(self) -> None:
        """Forget script and requests, and restore the start-up config."""
        self.state.reset()

    # ---- inspection --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests()

    def requests_of(self, *kinds: str) -> list[RecordedRequest]:
        return [r for r in self.state.requests() if r.kind in kinds]

    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_of("openai.chat")

    def responses_requests(self) -> list[RecordedRequest]:
        return self.requests_of("openai.responses")

    def gemini_requests(self) -> list[RecordedRequest]:
        return self.requests_of("gemini.generate", "gemini.stream")

    def generation_requests(self) -> list[RecordedRequest]:
        return self.requests_of(*GENERATION_KINDS)

    @property
    def last_request(self) -> RecordedRequest:
        log = self.state.requests()
        if not log:
            raise AssertionError("the fake provider has not received any request")
        return log[-1]

    def wait_for_requests(self, count: int, timeout: float = 5.0, *, finished: bool = False,
                          kinds: frozenset[str] | None = None) -> list[RecordedRequest]:
        """Block until `count` requests (of `kinds`) arrived (or finished); TimeoutError after `timeout` seconds."""
        return self.state.wait_for_requests(count, timeout, finished=finished, kinds=kinds)

    def wait_for_generations(self, count: int, timeout: float = 5.0, *, finished: bool = False) -> list[RecordedRequest]:
        """Like wait_for_requests, counting model calls only (not model listings or discovery probes)."""
        return self.wait_for_requests(count, timeout, finished=finished, kinds=GENERATION_KINDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake provider in the foreground; line 1 of stdout is its URL."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.fake_provider", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every reply")
    parser.add_argument("--hang-seconds", type=float, default=DEFAULT_HANG_SECONDS)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model list")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    state = FakeState(FakeConfig(delay=args.delay, hang_seconds=args.hang_seconds, models=models))
    sock = _bind(args.host, args.port)
    print(f"http://{args.host}:{sock.getsockname()[1]}", flush=True)
    _uvicorn_server(FakeApp(state), args.log_level).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
