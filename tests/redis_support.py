"""A real redis-server on a free loopback port, for the tests that need Redis (skipped without it, failed under CI=1)."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.requirements import require


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    require(server is not None and cli is not None,
            "redis-server/redis-cli not on PATH; install them (apt-get install redis-server) to test Redis")
    require(importlib.util.find_spec("redis") is not None,
            "the redis Python client is not installed (pip install 'quorum-mcp[redis]')")
    assert server is not None and cli is not None
    port, workdir = _free_port(), tmp_path_factory.mktemp("redis")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes"]
    files = ["--dir", str(workdir), "--pidfile", str(workdir / "redis.pid"), "--logfile", str(workdir / "redis.log")]
    subprocess.run([server, *args, *files], check=True, timeout=30)
    try:
        # The daemon forks before it listens: poll for readiness, bounded by a deadline.
        deadline = time.monotonic() + 15
        while not _answers_ping(port):
            assert time.monotonic() < deadline, f"redis-server on port {port} never answered PING"
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        subprocess.run([cli, "-p", str(port), "shutdown", "nosave"], timeout=30, capture_output=True)
