"""Start a server script with a known pid: write our pid to $QUORUM_BENCH_PIDFILE, then exec the script.

Usage: `python bench/launch.py SCRIPT [ARGS...]`. exec keeps the pid, so the file names the server
process itself (the memory row reads its RSS from /proc).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    Path(os.environ["QUORUM_BENCH_PIDFILE"]).write_text(str(os.getpid()))
    script = str(Path(sys.argv[1]).resolve())
    os.execv(sys.executable, [sys.executable, script, *sys.argv[2:]])
