"""Overflow files stay private and short-lived; odd answers, offsets and failing stores give clear errors."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fake_model import FakeModelProvider
from tests.workflow_support import isolate_git, step
from tools.pipeline.envelope import Envelope, serialise
from utils.conversations.storage.base import StoreError
from utils.conversations.storage.memory import MemoryThreadStore
from utils.conversations.turns import Thread

TTL = timedelta(hours=1)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the output cap covers the whole envelope --------------------------------------------------------


def test_a_reply_with_huge_metadata_stays_under_the_cap_and_the_whole_response_is_saved(tmp_path: Path) -> None:
    dropped = [f"/project/src/module_{i:03d}.py (skipped: budget, 12,345 tokens)" for i in range(300)]
    envelope = Envelope(
        status="success",
        content="The answer. " * 2_000,
        metadata={"tool_name": "chat", "model_used": "beta", "dropped": dropped, "notes": ["n" * 5_000]},
        extra={"required_actions": [f"action {i}: " + "x" * 200 for i in range(100)]},
    )
    text = serialise(envelope, 1_000, tmp_path / "out")
    body = json.loads(text)
    assert len(text) <= 3_500, len(text)
    assert body["metadata"]["output_truncated"] is True and body["metadata"]["tool_name"] == "chat"
    assert body["content"].startswith("The answer.")
    assert Path(body["metadata"]["output_file"]).read_text() == "The answer. " * 2_000
    saved = json.loads(Path(body["metadata"]["output_metadata_file"]).read_text())
    assert saved["metadata"]["dropped"] == dropped and saved["required_actions"][99].startswith("action 99")


@pytest.mark.parametrize("cap", [1_000, 1_500, 25_000])
def test_any_mix_of_content_metadata_and_escaping_fits_the_cap(tmp_path: Path, cap: int) -> None:
    envelope = Envelope(
        status="success",
        content='"\\\n\x00' * 30_000,  # every character escapes to several
        metadata={"tool_name": "chat", "deep": {"k": [{"x": ["y" * 3_000] * 40}] * 40}, "keys": {str(i): i for i in range(2_000)}},
    )
    text = serialise(envelope, cap, tmp_path / "out")
    assert len(text) <= cap * 3.5
    assert json.loads(text)["metadata"]["output_truncated"] is True


# --- overflow files -----------------------------------------------------------------------------------


def test_overflow_in_a_project_is_private_ignored_by_git_and_expires_with_the_threads(tmp_path: Path) -> None:
    outputs = tmp_path / "project" / ".quorum" / "outputs"
    outputs.mkdir(parents=True, mode=0o755)
    os.chmod(outputs, 0o755)
    old, recent = outputs / "quorum-output-old.md", outputs / "quorum-output-recent.md"
    for path in (old, recent):
        path.write_text("earlier answer")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    text = serialise(Envelope(status="success", content="z" * 50_000), 1_000, outputs, TTL)
    written = Path(json.loads(text)["metadata"]["output_file"])
    assert written.parent == outputs and "z" * 50_000 in written.read_text()
    assert mode(written) == 0o600 and mode(outputs) == 0o700
    assert (tmp_path / "project" / ".quorum" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert not old.exists() and recent.exists()


def test_overflow_is_never_written_through_a_symlinked_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / ".quorum").mkdir()
    (project / ".quorum" / "outputs").symlink_to(elsewhere)
    text = serialise(Envelope(status="success", content="z" * 50_000), 1_000, project / ".quorum" / "outputs", TTL)
    assert json.loads(text)["metadata"]["output_file"] is None
    assert list(elsewhere.iterdir()) == []


async def test_quorum_home_is_created_owner_only_whatever_the_backend(harness_factory, tmp_path: Path) -> None:
    for backend in ("memory", "sqlite"):
        home = tmp_path / f"home-{backend}"
        await harness_factory({"QUORUM_HOME": str(home), "QUORUM_STORAGE": backend})
        assert mode(home) == 0o700


# --- no internal_error ------------------------------------------------------------------------------------


@pytest.fixture
async def h(harness_factory, monkeypatch):
    isolate_git(monkeypatch)
    return await harness_factory()


@pytest.mark.parametrize("depth", [990, 5_000, 100_000])
async def test_a_deeply_nested_json_answer_is_kept_as_text_not_an_internal_error(h, depth: int) -> None:
    first = await step(h, "analyze", 1, 2)
    h.fakes["openai"].queue("[" * depth + "]" * depth)
    body = await h.call("analyze", step="s", step_number=2, total_steps=2, next_step_required=False, findings="f",
                        continuation_id=first["continuation_offer"]["continuation_id"], confidence="high", model="beta")
    is_error = body.is_error
    assert not is_error, body
    # Not parsed into a structure: kept as the expert's text (inline, or in content when it is long).
    assert isinstance(body["expert_analysis"], str)


async def test_a_cli_printing_deeply_nested_json_is_not_an_internal_error(harness_factory, tmp_path: Path) -> None:
    import sys

    cli = tmp_path / "deep-cli"
    cli.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\nprint('{{\"a\":' * 50000 + '1' + '}}' * 50000)\n")
    cli.chmod(0o755)
    harness = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(cli)})
    body = await harness.call("clink", prompt="hi", cli_name="gemini")
    is_error = body.is_error
    assert body["metadata"].get("error_kind") != "internal_error", body
    # The CLI's output came back as its text, not as a failure of some other kind.
    assert not is_error, body.envelope
    assert body.content.startswith('{"a":'), body.content[:80]


async def test_threads_with_a_huge_offset_lists_nothing_and_says_why(harness) -> None:
    await harness.ok("chat", prompt="one thread", model="alpha")
    body = await harness.ok("threads", action="list", offset=10**30)
    assert body["metadata"]["count"] == 0 and "offset" in body["content"]


async def test_an_unreachable_redis_is_a_storage_error_that_names_it(harness_factory) -> None:
    from tests.requirements import require
    import importlib.util

    require(importlib.util.find_spec("redis") is not None, "the redis Python client is not installed")
    from utils.conversations.storage.redis_store import RedisThreadStore

    store = RedisThreadStore("redis://:hunter2@127.0.0.1:1/0", TTL)
    harness = await harness_factory(store=store)
    for tool, args in (("threads", {}), ("chat", {"prompt": "hi", "model": "alpha"})):
        body = await harness.fail(tool, **args)
        assert body["metadata"]["error_kind"] == "storage_error", body
        assert "127.0.0.1:1" in body["content"] and "QUORUM_REDIS_URL" in body["content"]
        assert "hunter2" not in body["content"]
    await store.close()


class FailingWrites(MemoryThreadStore):
    """A store that reads fine and fails every write, as a full disk or a dropped Redis does."""

    async def create(self, thread: Thread) -> Thread:
        raise StoreError("The conversation database is read-only")

    async def append(self, thread_id: str, turns: Any, **kwargs: Any) -> Thread:
        raise StoreError("The conversation database is read-only")


async def test_when_the_store_fails_after_the_model_answered_the_answer_comes_back_in_the_error(harness_factory) -> None:
    harness = await harness_factory(store=FailingWrites(TTL))
    fake: FakeModelProvider = harness.fakes["custom"]
    fake.queue("the paid-for answer")
    body = await harness.fail("chat", prompt="hi", model="alpha")
    assert body["metadata"]["error_kind"] == "storage_error"
    assert "read-only" in body["content"] and "the paid-for answer" in body["content"]
