"""Pytest fixtures for the fake provider server.

Wire them into a conftest with `from tests.fakes.fixtures import fake_provider_session, fake_server`,
or import them the same way in a test module.
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
