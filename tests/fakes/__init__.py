"""Test doubles: a fake model provider server speaking the OpenAI and Gemini wire formats."""

from tests.fakes.control import FakeProviderControl
from tests.fakes.fake_provider import FakeProviderServer
from tests.fakes.state import FakeConfig, RecordedRequest, ReplySpec

__all__ = ["FakeConfig", "FakeProviderControl", "FakeProviderServer", "RecordedRequest", "ReplySpec"]
