"""Pytest fixtures for the fake provider server.

Registered for every test by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fake_provider import FakeProviderServer


@pytest.fixture(scope="session")
def fake_provider_session() -> Iterator[FakeProviderServer]:
    """One fake provider for the whole session: starting uvicorn per test would dominate the run time."""
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake_server(fake_provider_session: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """The session's fake provider, with an empty script, empty log and start-up config."""
    fake_provider_session.reset()
    yield fake_provider_session
    fake_provider_session.reset()
