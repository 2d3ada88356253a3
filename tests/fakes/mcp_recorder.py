"""Run an MCP server as a child and log every JSON-RPC line the client sends it (one JSON per line).

Usage: python -m tests.fakes.mcp_recorder LOGFILE -- COMMAND [ARGS...]
Agent CLIs are registered with this in front of Quorum so tests see exactly what each CLI sent.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import IO


def _pump(source: IO[bytes], sink: IO[bytes], log: IO[bytes] | None) -> None:
    for line in iter(source.readline, b""):
        if log is not None:
            log.write(line if line.endswith(b"\n") else line + b"\n")
            log.flush()
        sink.write(line)
        sink.flush()
    sink.close()


def main(argv: list[str]) -> int:
    # Some CLIs (Gemini's `mcp add`) drop a literal `--` from the arguments they store, so it is optional.
    log_path, *command = argv
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("usage: mcp_recorder LOGFILE -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open(f"{log_path}.err", "ab"))
    assert child.stdin is not None and child.stdout is not None
    with open(log_path, "ab") as log, open(f"{log_path}.out", "ab") as answers:
        upstream = threading.Thread(target=_pump, args=(sys.stdin.buffer, child.stdin, log), daemon=True)
        upstream.start()
        _pump(child.stdout, sys.stdout.buffer, answers)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
