"""Skip a test for a missing component locally; fail it under CI (CI set), where every component must be installed."""

from __future__ import annotations

import os

import pytest


def under_ci() -> bool:
    """True when the suite runs in CI (.ci/run sets CI=1; CI systems set CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(available: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI) the calling test when a component it needs is missing."""
    if available:
        return
    if under_ci():
        pytest.fail(f"{reason} — CI must install it (see run-tests.sh); refusing to skip under CI", pytrace=False)
    pytest.skip(reason)
