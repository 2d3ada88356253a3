"""The package stays clean under mypy: a type error is a failing test, not a review comment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.requirements import require

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_type_checks_cleanly():
    require(shutil.which("mypy") is not None or (Path(sys.executable).parent / "mypy").exists(),
            "mypy is not installed (pip install -e .[dev])")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
