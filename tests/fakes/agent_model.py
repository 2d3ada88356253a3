"""A fake model for agent CLIs: asks the CLI to call one tool, then answers with what the tool returned.

It speaks the three wire formats the agent CLIs use — Anthropic Messages (Claude Code), Gemini
generateContent / streamGenerateContent (Gemini CLI) and OpenAI Responses / Chat Completions (Codex
CLI) — streaming or not, and records every request so tests can check what the CLI sent back.
Script: the first model request that offers a tool whose name ends with `tool` gets a call to it with
`arguments`; a request that carries a tool result gets the text `DONE <first line of the result>`;
anything else (titles, routing, a CLI with no such tool) gets `reply`. `fail_status` makes every
model request fail; `hang` makes every model request wait until the client goes away.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    tool: str = "version"
    arguments: dict[str, Any] = field(default_factory=dict)
    reply: str = "FAKE MODEL REPLY"
    fail_status: int = 0
    hang: bool = False


@dataclass
class Seen:
    path: str
    body: Any


def _offered(body: dict[str, Any]) -> list[Any]:
    """Tool declarations: the request's own, plus those a client-side tool search returned (Codex)."""
    tools = list(body.get("tools") or [])
    for item in body.get("input") if isinstance(body.get("input"), list) else []:
        if isinstance(item, dict) and item.get("type") == "tool_search_output":
            tools.extend(item.get("tools") or [])
    return tools


def _joined(namespace: str, name: str) -> str:
    return f"{namespace}{name}" if namespace.endswith("_") else f"{namespace}__{name}"


def _tool_names(body: dict[str, Any]) -> list[str]:
    """Every tool name a request offers, whatever the wire format."""
    names: list[str] = []
    for tool in _offered(body):
        if not isinstance(tool, dict):
            continue
        for decl in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
            names.append(str(decl.get("name")))
        if "name" in tool:
            names.append(str(tool["name"]))
        if isinstance(tool.get("function"), dict):
            names.append(str(tool["function"].get("name")))
        for inner in tool.get("tools") or []:  # Codex namespaces MCP tools
            if isinstance(inner, dict) and "name" in inner:
                names.append(_joined(str(tool.get("name", "")), str(inner["name"])))
    return names


# Tools a CLI offers while its MCP servers are still starting (Claude Code); calling one waits for them.
WAIT_TOOLS = frozenset({"WaitForMcpServers"})


def called_tools(body: dict[str, Any]) -> list[str]:
    """Names of the tools the model already called in this conversation, whatever the wire format."""
    names: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                names.append(str(block.get("name")))
        for call in message.get("tool_calls") or []:
            names.append(str(call.get("function", {}).get("name")))
    for item in body.get("input") if isinstance(body.get("input"), list) else []:
        if isinstance(item, dict) and item.get("type") == "function_call":
            names.append(_joined(str(item["namespace"]), str(item["name"])) if item.get("namespace") else str(item["name"]))
    for content in body.get("contents") or []:
        for part in content.get("parts") or []:
            if isinstance(part, dict) and "functionCall" in part:
                names.append(str(part["functionCall"].get("name")))
    return names


def tool_result_text(body: dict[str, Any]) -> str | None:
    """The text of the last tool result in a request, if it carries one."""
    found: str | None = None
    for message in body.get("messages") or []:  # Anthropic, OpenAI chat
        content = message.get("content")
        if message.get("role") == "tool":
            found = content if isinstance(content, str) else json.dumps(content)
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    inner = block.get("content")
                    found = inner if isinstance(inner, str) else json.dumps(inner)
    for item in body.get("input") or [] if isinstance(body.get("input"), list) else []:  # OpenAI Responses
        if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            found = output if isinstance(output, str) else json.dumps(output)
    for content in body.get("contents") or []:  # Gemini
        for part in content.get("parts") or []:
            if isinstance(part, dict) and "functionResponse" in part:
                found = json.dumps(part["functionResponse"].get("response"))
    return found


@dataclass(frozen=True)
class Answer:
    text: str | None = None
    call: tuple[str, dict[str, Any]] | None = None
    search: str | None = None  # ask the client's own tool search for this (Codex defers MCP tools behind it)
    number: int = 1  # tool call ids must differ within one conversation


def _offers_tool_search(body: dict[str, Any]) -> bool:
    searched = any(isinstance(i, dict) and i.get("type") == "tool_search_output"
                   for i in (body.get("input") if isinstance(body.get("input"), list) else []))
    return not searched and any(isinstance(t, dict) and t.get("type") == "tool_search" for t in body.get("tools") or [])


class AgentModel:
    """The server, its script and its record; use `with AgentModel.running() as model:`."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.seen: list[Seen] = []
        self.calls_made: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @classmethod
    def running(cls, script: Script | None = None) -> _Running:
        return _Running(cls(script))

    def model_requests(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if isinstance(s.body, dict) and _is_generation(s.path, s.body)]

    def _is_target(self, name: str) -> bool:
        return name == self.script.tool or name.endswith(f"_{self.script.tool}")

    def answer(self, body: dict[str, Any]) -> Answer:
        called = called_tools(body)
        result = tool_result_text(body)
        if result is not None and any(self._is_target(n) for n in called):
            first = next((line for line in result.splitlines() if line.strip()), "")
            return Answer(text=f"DONE {first[:2000]}")
        wanted = [n for n in _tool_names(body) if self._is_target(n)]
        if wanted:
            with self._lock:
                self.calls_made.append((wanted[0], dict(self.script.arguments)))
            return Answer(call=(wanted[0], dict(self.script.arguments)), number=len(called) + 1)
        waits = [n for n in _tool_names(body) if n in WAIT_TOOLS and n not in called]
        if waits:  # the CLI is still starting its MCP servers: wait for them, as a real model is told to
            return Answer(call=(waits[0], {}), number=len(called) + 1)
        if _offers_tool_search(body):
            return Answer(search=self.script.tool)
        return Answer(text=self.script.reply)

    def serve(self) -> ThreadingHTTPServer:
        model = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                model._record(self.path, None)
                self._json({"data": [], "models": [], "object": "list"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                model._record(self.path, body)
                if not isinstance(body, dict) or not _is_generation(self.path, body):
                    self._json({"input_tokens": 10, "totalTokens": 10})
                    return
                if model.script.hang:
                    self._hang()
                    return
                if model.script.fail_status:
                    self._json({"error": {"type": "invalid_request_error", "code": "bad", "message": "scripted failure",
                                          "status": "INVALID_ARGUMENT"}}, model.script.fail_status)
                    return
                answer = model.answer(body)
                events = _render(self.path, body, answer)
                if isinstance(events, dict):
                    self._json(events)
                else:
                    self._sse(events)

            def _json(self, payload: Any, status: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[tuple[str | None, Any]]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for name, data in events:
                    head = f"event: {name}\n" if name else ""
                    text = data if isinstance(data, str) else json.dumps(data)
                    self.wfile.write(f"{head}data: {text}\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

            def _hang(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                try:
                    while True:  # until the client goes away or the server stops
                        self.wfile.write(b": waiting\n\n")
                        self.wfile.flush()
                        time.sleep(0.5)
                        if model._server is None:
                            return
                except OSError:
                    return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server

    def _record(self, path: str, body: Any) -> None:
        with self._lock:
            self.seen.append(Seen(path, body))


class _Running:
    def __init__(self, model: AgentModel) -> None:
        self.model = model

    def __enter__(self) -> AgentModel:
        self.model._server = self.model.serve()
        threading.Thread(target=self.model._server.serve_forever, daemon=True).start()
        return self.model

    def __exit__(self, *exc: object) -> None:
        server, self.model._server = self.model._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _is_generation(path: str, body: dict[str, Any]) -> bool:
    route = path.split("?")[0]
    return (route.endswith("/messages") or route.endswith("/responses") or route.endswith("/chat/completions")
            or route.endswith(":generateContent") or route.endswith(":streamGenerateContent"))


def _render(path: str, body: dict[str, Any], answer: Answer) -> dict[str, Any] | list[tuple[str | None, Any]]:
    route = path.split("?")[0]
    if route.endswith("/messages"):
        return _anthropic(body, answer)
    if route.endswith("/responses"):
        return _responses(body, answer)
    if route.endswith("/chat/completions"):
        return _chat(body, answer)
    stream = route.endswith(":streamGenerateContent")
    return _gemini(body, answer, stream)


def _anthropic(body: dict[str, Any], answer: Answer) -> dict[str, Any] | list[tuple[str | None, Any]]:
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if answer.call:
        block: dict[str, Any] = {"type": "tool_use", "id": f"toolu_fake{answer.number}", "name": answer.call[0], "input": answer.call[1]}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": answer.text or ""}
        stop = "end_turn"
    message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model", "fake"),
               "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage}
    if not body.get("stream"):
        return message
    start = {**message, "content": [], "stop_reason": None}
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start})]
    if answer.call:
        opened = {**block, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(answer.call[1])}
    else:
        opened = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": answer.text or ""}
    events += [
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opened}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _sample(schema: Any) -> Any:
    """A value that satisfies a (Gemini-style) JSON schema: what a structured-output request expects back."""
    if not isinstance(schema, dict):
        return None
    kind = str(schema.get("type", "object")).lower()
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {k: _sample(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    return {"string": "fake", "integer": 1, "number": 1, "boolean": False}.get(kind)


def _gemini(body: dict[str, Any], answer: Answer, stream: bool) -> dict[str, Any] | list[tuple[str | None, Any]]:
    config = body.get("generationConfig") or {}
    if answer.call:
        part: dict[str, Any] = {"functionCall": {"name": answer.call[0], "args": answer.call[1]}}
    elif config.get("responseMimeType") == "application/json":
        part = {"text": json.dumps(_sample(config.get("responseJsonSchema") or config.get("responseSchema")))}
    else:
        part = {"text": answer.text}
    payload = {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-fake",
    }
    return [(None, payload)] if stream else payload


def _responses(body: dict[str, Any], answer: Answer) -> dict[str, Any] | list[tuple[str | None, Any]]:
    if answer.search:
        item: dict[str, Any] = {"type": "tool_search_call", "id": "ts_fake1", "call_id": "call_search1",
                                "execution": "client", "status": "completed",
                                "arguments": {"query": answer.search, "limit": 8}}
    elif answer.call:
        name = answer.call[0]
        item = {"type": "function_call", "id": f"fc_fake{answer.number}", "call_id": f"call_fake{answer.number}", "name": name,
                                "arguments": json.dumps(answer.call[1]), "status": "completed"}
        namespace = _namespace_of(body, name)
        if namespace is not None:
            item.update(namespace=namespace[0], name=namespace[1])
    else:
        item = {"type": "message", "id": "msg_fake1", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": answer.text or "", "annotations": []}]}
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
    response = {"id": "resp_fake1", "object": "response", "created_at": int(time.time()), "status": "completed",
                "model": body.get("model", "fake"), "output": [item], "usage": usage}
    if not body.get("stream"):
        return response
    return [
        ("response.created", {"type": "response.created", "response": {**response, "status": "in_progress", "output": []}}),
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "response": response}),
    ]


def _namespace_of(body: dict[str, Any], full_name: str) -> tuple[str, str] | None:
    """Codex offers MCP tools inside a namespace tool: split the full name back into (namespace, tool)."""
    for tool in _offered(body):
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            for inner in tool.get("tools") or []:
                if _joined(str(tool.get("name", "")), str(inner.get("name"))) == full_name:
                    return str(tool["name"]), str(inner["name"])
    return None


def _chat(body: dict[str, Any], answer: Answer) -> dict[str, Any] | list[tuple[str | None, Any]]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.call:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_fake{answer.number}", "type": "function",
             "function": {"name": answer.call[0], "arguments": json.dumps(answer.call[1])}}]}
    finish = "tool_calls" if answer.call else "stop"
    completion = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                  "model": body.get("model", "fake"),
                  "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                  "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    if not body.get("stream"):
        return completion
    chunk = {**completion, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": message, "finish_reason": finish}]}
    return [(None, chunk), (None, "[DONE]")]
