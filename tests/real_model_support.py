"""A real local model server for the opt-in tier: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M.

`./run-tests.sh --real-model` builds and installs llama-cpp-python into its own virtualenv, writes the GGUF
file, and exports QUORUM_LLAMA_PYTHON (that virtualenv's python) and QUORUM_GGUF (the model file).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.spawn import stop_process
from tests.requirements import require

N_CTX = 8_192
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LlamaServer:
    url: str  # the OpenAI base URL, .../v1
    aliases: tuple[str, ...]
    process: subprocess.Popen[bytes]


def tier_inputs() -> tuple[str, str]:
    """The llama-cpp-python interpreter and the GGUF file; skips (fails under CI) when the tier is not set up."""
    python, gguf = os.environ.get("QUORUM_LLAMA_PYTHON", ""), os.environ.get("QUORUM_GGUF", "")
    require(bool(python) and Path(python).is_file() and bool(gguf) and Path(gguf).is_file(),
            "the real-model tier needs QUORUM_LLAMA_PYTHON and QUORUM_GGUF: run ./run-tests.sh --real-model")
    return python, gguf


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server not ready within {READY_TIMEOUT_S}s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def llama_server(workdir: Path, aliases: Sequence[str]) -> Iterator[LlamaServer]:
    """One server: command-line flags for one alias, a config file with one entry per alias for several."""
    python, gguf = tier_inputs()
    port = _free_port()
    common = {"n_ctx": N_CTX, "n_threads": 2, "chat_format": "gemma"}
    if len(aliases) == 1:
        args = ["--model", gguf, "--model_alias", aliases[0], "--n_ctx", str(N_CTX), "--host", "127.0.0.1",
                "--port", str(port), "--n_threads", "2", "--chat_format", "gemma"]
    else:
        config = workdir / f"llama-{port}.json"
        config.write_text(json.dumps({"host": "127.0.0.1", "port": port, "models": [
            {"model": gguf, "model_alias": alias, **common} for alias in aliases]}))
        args = ["--config_file", str(config)]
    log = workdir / f"llama-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([python, "-m", "llama_cpp.server", *args], stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, process, log)
        yield LlamaServer(url=url, aliases=tuple(aliases), process=process)
    finally:
        stop_process(process, timeout=15)
