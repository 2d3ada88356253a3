"""The streamable HTTP transport: bearer token required, tools callable with it."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from server import create_server
from utils.access.http_transport import build_http_app
from utils.access.principals import TokenVerifier


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def http_url(harness):
    port = free_port()
    app = build_http_app(create_server(harness.services), TokenVerifier.from_settings("s3cret-token", None), "127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


async def test_http_requests_without_the_bearer_token_are_refused(http_url):
    async with httpx2.AsyncClient() as client:
        response = await client.post(http_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert "QUORUM_HTTP_TOKEN" in response.text


async def test_http_client_with_the_token_lists_and_calls_tools(http_url):
    http = httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret-token"}, timeout=30)
    async with http, Client(streamable_http_client(http_url, http_client=http)) as client:
        tools = await client.list_tools()
        assert "chat" in {t.name for t in tools.tools}
        result = await client.call_tool("chat", {"prompt": "over http", "model": "alpha"})
    body = json.loads(result.content[0].text)
    assert body["status"] == "continuation_available"


def test_http_transport_refuses_to_start_without_a_token(harness):
    with pytest.raises(SystemExit, match="QUORUM_HTTP_TOKEN"):
        build_http_app(create_server(harness.services), TokenVerifier.from_settings("", None), "127.0.0.1")
