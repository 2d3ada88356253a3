"""Test doubles: a fake model provider server speaking the OpenAI and Gemini wire formats.

Names are resolved lazily so that `python -m tests.fakes.fake_provider` does not import its own
module twice, and importing a sibling (e.g. tests.fakes.fake_model) does not pull in uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.control import FakeProviderControl
    from tests.fakes.fake_provider import FakeProviderServer
    from tests.fakes.state import FakeConfig, RecordedRequest, ReplySpec

_HOMES = {
    "FakeProviderControl": "tests.fakes.control",
    "FakeProviderServer": "tests.fakes.fake_provider",
    "FakeConfig": "tests.fakes.state",
    "RecordedRequest": "tests.fakes.state",
    "ReplySpec": "tests.fakes.state",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'tests.fakes' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
