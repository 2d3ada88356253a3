"""The fake provider as a raw ASGI app: OpenAI and Gemini routes, scripted faults, control API."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import struct
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tests.fakes import wire_gemini, wire_local, wire_openai
from tests.fakes.replies import resolve
from tests.fakes.state import FakeState, RecordedRequest, ReplySpec

logger = logging.getLogger(__name__)

_GEMINI_PATH = re.compile(r"^(?:/[^:]*)?/(?:v1beta|v1alpha|v1)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
_GEMINI_KINDS = {"generateContent": "gemini.generate", "streamGenerateContent": "gemini.stream",
                 "countTokens": "gemini.count"}
_SPECS = TypeAdapter(list[ReplySpec])
_CONFIG_KEYS = frozenset({"delay", "hang_seconds", "models", "flavour", "windows"})


def classify(method: str, path: str, headers: dict[str, str], query: dict[str, str]) -> tuple[str, str | None]:
    """Name the endpoint a request is for, and the model named in its path (Gemini)."""
    local = wire_local.classify(method, path)
    if local is not None:
        return local, None
    match = _GEMINI_PATH.match(path)
    if method == "POST" and match:
        return _GEMINI_KINDS.get(match["method"], "unknown"), match["model"]
    if method == "POST" and path.endswith("/chat/completions"):
        return "openai.chat", None
    if method == "POST" and path.endswith("/responses"):
        return "openai.responses", None
    if method == "GET" and path.endswith("/models"):
        gemini = "x-goog-api-key" in headers or "key" in query or "/v1beta/" in path
        return ("gemini.models" if gemini else "openai.models"), None
    return "unknown", None


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _transport(send: Send) -> asyncio.Transport | None:
    """The connection's transport; uvicorn's `send` is a method of an object that holds it."""
    return getattr(getattr(send, "__self__", None), "transport", None)


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class FakeApp:
    """ASGI callable serving one FakeState; `halt()` (on the server loop) ends pending pauses."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self._halted: asyncio.Event | None = None

    def _halt_event(self) -> asyncio.Event:
        if self._halted is None:
            self._halted = asyncio.Event()
        return self._halted

    def halt(self) -> None:
        self._halt_event().set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if scope["path"].startswith("/_control/"):
            response = await self._control(request)
            await response(scope, receive, send)
            return
        await self._serve(request, scope, receive, send)

    # ---- control API -------------------------------------------------------------------------

    async def _control(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        try:
            if path == "/_control/script" and method == "POST":
                data = await request.json()
                specs = _SPECS.validate_python(data.get("replies") if isinstance(data, dict) else data)
                return JSONResponse({"queued": self.state.add_replies(specs)})
            if path == "/_control/script" and method == "GET":
                return JSONResponse([s.model_dump() for s in self.state.pending_replies()])
            if path == "/_control/requests" and method == "GET":
                return JSONResponse([r.to_dict() for r in self.state.requests()])
            if path == "/_control/reset" and method == "POST":
                self.state.reset()
                return JSONResponse({"ok": True})
            if path == "/_control/config" and method in ("GET", "POST"):
                data = await request.json() if method == "POST" else {}
                if not isinstance(data, dict) or set(data) - _CONFIG_KEYS:
                    raise ValueError(f"config takes an object with keys {sorted(_CONFIG_KEYS)}")
                return JSONResponse(self.state.configure(**data).to_dict())
        except (ValueError, ValidationError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"error": f"no control endpoint {method} {path}"}, status_code=404)

    # ---- provider endpoints ------------------------------------------------------------------

    async def _serve(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        body = _parse_body(await request.body())
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query_params)
        kind, path_model = classify(request.method, request.url.path, headers, query)
        model = path_model or (str(body.get("model")) if isinstance(body, dict) and body.get("model") else None)
        stream = kind == "gemini.stream" or (kind == "openai.chat" and isinstance(body, dict)
                                              and body.get("stream") is True)
        rec = self.state.record(kind=kind, method=request.method, path=request.url.path, query=query,
                                headers=headers, body=body, model=model, stream=stream)
        outcome = "error"
        try:
            outcome = await self._dispatch(rec, scope, receive, send)
        finally:
            self.state.finish(rec, outcome)

    async def _dispatch(self, rec: RecordedRequest, scope: Scope, receive: Receive, send: Send) -> str:
        config = self.state.config
        models = config.models
        if rec.kind in wire_local.SERVED_BY:
            status, payload = wire_local.answer(rec.kind, rec.body, models, config.windows) \
                if wire_local.SERVED_BY[rec.kind] == config.flavour else (404, {"error": "not found"})
            await JSONResponse(payload, status_code=status)(scope, receive, send)
            return "ok" if status == 200 else f"status {status}"
        simple: dict[str, Any] = {
            "openai.models": lambda: wire_local.model_list(config.flavour, models, config.windows),
            "gemini.models": lambda: wire_gemini.models_list(models),
            "gemini.count": lambda: wire_gemini.count_tokens(rec.body),
        }
        if rec.kind in simple:
            await JSONResponse(simple[rec.kind]())(scope, receive, send)
            return "ok"
        if rec.kind == "unknown":
            message = f"fake provider has no route for {rec.method} {rec.path}"
            await JSONResponse({"error": {"message": message}}, status_code=404)(scope, receive, send)
            return "no route"
        return await self._generate(rec, scope, receive, send)

    async def _generate(self, rec: RecordedRequest, scope: Scope, receive: Receive, send: Send) -> str:
        spec, number = self.state.take_reply(rec.model)
        spec = spec or ReplySpec()
        config = self.state.config
        delay = config.hang_seconds if spec.hang else (spec.delay if spec.delay is not None else config.delay)
        interrupted = await self._pause(delay, receive)
        if interrupted:
            return interrupted
        gemini = rec.kind.startswith("gemini.")
        if spec.reset:
            await self._reset(send, receive)
            return "connection reset"
        if spec.status != 200:
            await self._error(spec, gemini, scope, receive, send)
            return f"status {spec.status}"
        if spec.malformed:
            if rec.stream:
                await self._stream(['{"broken": '], False, send, receive)
                return "malformed"
            broken = Response(b'{"id": "broken", "choices": [{"message": ', media_type="application/json")
            await broken(scope, receive, send)
            return "malformed"
        if spec.prompt_blocked and not gemini:
            await JSONResponse(wire_openai.prompt_blocked_body(), status_code=400)(scope, receive, send)
            return "prompt blocked"
        return await self._answer(rec, spec, number, scope, receive, send)

    async def _answer(self, rec: RecordedRequest, spec: ReplySpec, number: int, scope: Scope, receive: Receive,
                      send: Send) -> str:
        """A successful reply (possibly empty, blocked or cut short) in the request's wire format."""
        model, gemini = rec.model or "unknown", rec.kind.startswith("gemini.")
        last_user, chars = wire_gemini.request_text(rec.body) if gemini else wire_openai.request_text(rec.body, rec.kind)
        outcome = resolve(spec, model=model, number=number, last_user=last_user, input_chars=chars)
        if rec.stream and gemini:
            chunks = wire_gemini.stream_chunks(model, outcome, number, spec.prompt_blocked)
            return await self._stream([json.dumps(c) for c in chunks], spec.truncate, send, receive)
        if rec.stream:
            options = rec.body.get("stream_options") or {} if isinstance(rec.body, dict) else {}
            chunks = wire_openai.chat_chunks(model, outcome, number, bool(options.get("include_usage")))
            return await self._stream([json.dumps(c) for c in chunks] + ["[DONE]"], spec.truncate, send, receive)

        if gemini:
            payload = wire_gemini.generate_response(model, outcome, number, spec.prompt_blocked)
        elif rec.kind == "openai.responses":
            payload = wire_openai.response_object(model, outcome, number)
        else:
            payload = wire_openai.chat_completion(model, outcome, number)
        data = json.dumps(payload).encode()
        if spec.truncate:
            await self._start(send, 200, "application/json", {"content-length": str(len(data))})
            await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
            await self._reset(send, receive)
            return "truncated"
        await Response(data, media_type="application/json", headers=spec.headers)(scope, receive, send)
        return "ok"

    async def _error(self, spec: ReplySpec, gemini: bool, scope: Scope, receive: Receive, send: Send) -> None:
        if isinstance(spec.body, str):
            response: Response = Response(spec.body, status_code=spec.status, headers=spec.headers,
                                          media_type="text/plain")
        else:
            if spec.body is not None:
                body = spec.body
            elif gemini:
                body = wire_gemini.error_body(spec.status, spec.error_message)
            else:
                body = wire_openai.error_body(spec.status, spec.error_code, spec.error_message)
            response = JSONResponse(body, status_code=spec.status, headers=spec.headers)
        await response(scope, receive, send)

    # ---- low-level behaviours ----------------------------------------------------------------

    async def _pause(self, seconds: float, receive: Receive) -> str | None:
        """Wait `seconds`; or say why waiting ended early (client gone, server stopping)."""
        if seconds <= 0:
            return None
        gone = asyncio.ensure_future(_until_disconnected(receive))
        halted = asyncio.ensure_future(self._halt_event().wait())
        try:
            await asyncio.wait({gone, halted}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            halted.cancel()
        if halted.done() and not halted.cancelled():
            return "server stopping"
        if gone.done() and not gone.cancelled():
            return "client went away"
        return None

    @staticmethod
    async def _start(send: Send, status: int, media_type: str, extra: dict[str, str] | None = None) -> None:
        headers = [(b"content-type", media_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _stream(self, events: list[str], truncate: bool, send: Send, receive: Receive) -> str:
        await self._start(send, 200, "text/event-stream", {"cache-control": "no-cache"})
        if truncate:
            events = events[: max(1, len(events) // 2)]
        for event in events:
            await send({"type": "http.response.body", "body": f"data: {event}\n\n".encode(), "more_body": True})
        if truncate:
            await self._reset(send, receive)
            return "truncated stream"
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return "ok"

    @staticmethod
    async def _reset(send: Send, receive: Receive) -> None:
        """Drop the connection with a TCP RST, as a crashed proxy or load balancer would."""
        transport = _transport(send)
        if transport is None:
            raise RuntimeError("fake provider cannot reach the connection to reset it (not running under uvicorn?)")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Zero linger turns close() into an RST instead of an orderly FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        try:
            await asyncio.wait_for(_until_disconnected(receive), timeout=1.0)
        except asyncio.TimeoutError:
            logger.debug("connection reset not acknowledged within 1s")
