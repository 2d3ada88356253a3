"""Secrets never leave the machine and are never stored: checked on what the fake provider received, on the
bytes of the SQLite store, and on everything `threads` prints, through a real MCP client."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.env_quorum import quorum as quorum_session
from tests.fakes import FakeProviderServer
from tests.wire_support import OPENAI, warm_sdks, wire_env
from tests.workflow_support import GIT_ENV, git, make_repo
from utils.conversations.turns import Thread, Turn

# Assembled at run time so that this file holds no secret-shaped literal.
OPENAI_KEY = "sk-" + "proj-" + "Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed"
GITHUB_KEY = "ghp_" + "Zz1Yy2Xx3Ww4Vv5Uu6Tt7Ss8Rr9Qq0Pp1Oo2"
FILE_KEY = "sk-ant-" + "api03-" + "Mn4Bv5Cx6Zl7Kj8Hg9Fd0Sa1Qw2Er3Ty4"
# No digit and no underscore: only the KEY=value rule can tell it is a password.
DIFF_PASSWORD = "correct" + "horsebattery"
SECRETS = (OPENAI_KEY, GITHUB_KEY, FILE_KEY, DIFF_PASSWORD)


@pytest.fixture(scope="module", autouse=True)
def _sdks_imported() -> None:
    warm_sdks()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    return make_repo(tmp_path / "project")


@pytest.fixture
def connect(fake_server: FakeProviderServer, tmp_path: Path, project: Path) -> Callable[[], Any]:
    return lambda: quorum_session(wire_env(fake_server.url, tmp_path / "home", ("openai",)), project)


def sent_to_provider(fake: FakeProviderServer) -> str:
    return "\n".join(json.dumps(r.body) for r in fake.generation_requests())


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


async def test_no_secret_reaches_the_provider_from_the_prompt_a_file_or_a_staged_diff(
    fake_server: FakeProviderServer, connect: Callable[[], Any], project: Path
) -> None:
    (project / "settings.py").write_text(f'ANTHROPIC_KEY = "{FILE_KEY}"\n')
    (project / "deploy.conf").write_text("DB_HOST=db\n")
    git(project, "add", "deploy.conf")
    git(project, "commit", "-q", "-m", "deploy config")
    (project / "deploy.conf").write_text(f"DB_HOST=db\nDB_PASSWORD={DIFF_PASSWORD}  # rotated\n")
    git(project, "add", "deploy.conf")
    async with connect() as quorum:
        chat = await quorum.ok("chat", prompt=f"Why is {OPENAI_KEY} refused?", model=OPENAI.model,
                               absolute_file_paths=[str(project / "settings.py")])
        first = await quorum.ok("precommit", step=f"Review the staged change; token {GITHUB_KEY}", step_number=1,
                                total_steps=2, next_step_required=True, findings="config change",
                                path=str(project), model=OPENAI.model)
        await quorum.ok("precommit", step="Validate", step_number=2, total_steps=2, next_step_required=False,
                        findings="looks fine", confidence="high", path=str(project), model=OPENAI.model,
                        continuation_id=first.thread_id)
    sent = sent_to_provider(fake_server)
    assert "DB_PASSWORD=[REDACTED:secret]" in sent, sent  # the diff did go out, redacted
    assert "[REDACTED:openai_key]" in sent and "[REDACTED:anthropic_key]" in sent
    assert leaked(sent) == []
    assert chat.metadata["redactions"] == {"anthropic_key": 1, "openai_key": 1}


async def test_no_secret_lands_in_the_store_or_in_what_threads_prints(
    connect: Callable[[], Any], tmp_path: Path, fake_server: FakeProviderServer
) -> None:
    fake_server.script({"text": f"Rotate {GITHUB_KEY} first."})  # the model's answer quotes a key too
    async with connect() as quorum:
        chat = await quorum.ok("chat", prompt=f"Is {OPENAI_KEY} still valid?", model=OPENAI.model)
        step = await quorum.ok("analyze", step=f"Trace where {OPENAI_KEY} is read", step_number=1, total_steps=2,
                               next_step_required=True, findings=f"config.py sets token={GITHUB_KEY}",
                               issues_found=[{"severity": "high", "description": f"hard-coded {GITHUB_KEY}"}],
                               files_checked=[f"/notes/{OPENAI_KEY}.txt"], model=OPENAI.model)
        listed = await quorum.ok("threads", action="list")
        shown = [await quorum.ok("threads", action=a, continuation_id=r.thread_id)
                 for r in (chat, step) for a in ("show", "export")]
    assert step.metadata["redactions"] == {"github_token": 2, "openai_key": 2}
    stored = b"".join(p.read_bytes() for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert b"[REDACTED:github_token]" in stored  # the findings were stored, redacted
    assert [s for s in SECRETS if s.encode() in stored] == []
    assert leaked(listed.content + "".join(r.content for r in shown)) == []


async def test_threads_stored_before_redaction_are_printed_without_their_secrets(harness) -> None:
    thread = Thread(tool_name="chat", initial_request={"prompt": f"use {OPENAI_KEY}"},
                    turns=(Turn(role="user", content=f"key {OPENAI_KEY}"),
                           Turn(role="assistant", content=f"got {GITHUB_KEY}")),
                    state={"findings": [f"token {GITHUB_KEY}"]})
    await harness.services.store.create(thread)
    listed = await harness.ok("threads", action="list")
    show = await harness.ok("threads", action="show", continuation_id=thread.thread_id)
    export = await harness.ok("threads", action="export", continuation_id=thread.thread_id)
    printed = listed["content"] + show["content"] + export["content"]
    assert leaked(printed) == [], printed
    assert "[REDACTED:openai_key]" in printed and "[REDACTED:github_token]" in export["content"]


async def test_a_provider_error_that_echoes_the_key_reaches_the_client_redacted(
    fake_server: FakeProviderServer, connect: Callable[[], Any]
) -> None:
    fake_server.script({"status": 401, "error_message": f"Incorrect API key provided: {OPENAI_KEY}."})
    async with connect() as quorum:
        reply = await quorum.fail("chat", prompt="hello", model=OPENAI.model)
    assert "[REDACTED:openai_key]" in reply.content and leaked(json.dumps(reply.envelope)) == []


async def test_an_invalid_argument_is_not_echoed_with_its_secret(harness) -> None:
    body = await harness.fail("chat", prompt=f"key {OPENAI_KEY}", temperature=f"{OPENAI_KEY}")
    assert leaked(json.dumps(body.envelope)) == []


LEAKY_CLI = f"""
import sys
sys.stdin.read()
print("The config holds " + {OPENAI_KEY!r}[:3] + {OPENAI_KEY[3:]!r} + "; rotate it.")
"""


async def test_clink_returns_and_stores_the_cli_output_redacted(harness_factory, tmp_path: Path) -> None:
    from tests.test_clink import fake_cli

    cli = fake_cli(tmp_path, "fake-gemini", LEAKY_CLI)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(cli)})
    reply = await h.ok("clink", prompt="What does the config hold?")
    assert reply["content"] == "The config holds [REDACTED:openai_key]; rotate it."
    assert reply["metadata"]["redactions"] == {"openai_key": 1}
    thread = await h.services.store.get(reply["continuation_offer"]["continuation_id"])
    assert leaked(thread.model_dump_json()) == []


async def test_an_error_reply_still_counts_what_was_redacted(harness) -> None:
    body = await harness.fail("chat", prompt=f"key {OPENAI_KEY}", model="no-such-model")
    assert body["metadata"]["redactions"] == {"openai_key": 1}


FAILING_CLI = f"""
import sys
sys.stdin.read()
sys.stderr.write("fatal: the key " + {OPENAI_KEY!r}[:3] + {OPENAI_KEY[3:]!r} + " was refused\\n")
sys.exit(1)
"""

HANGING_CLI = f"""
import sys, time
sys.stdin.read()
print("loaded " + {OPENAI_KEY!r}[:3] + {OPENAI_KEY[3:]!r}, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("script", [FAILING_CLI, HANGING_CLI], ids=["failure", "timeout"])
async def test_a_clink_failure_never_shows_the_key_the_cli_printed(harness_factory, tmp_path: Path, script: str) -> None:
    from tests.test_clink import fake_cli

    cli = fake_cli(tmp_path, "fake-gemini", script)
    h = await harness_factory({"QUORUM_CLINK_GEMINI_COMMAND": str(cli), "QUORUM_CLINK_TIMEOUT_S": "2"})
    body = await h.fail("clink", "tool_error", prompt="What is configured?")
    assert "[REDACTED:openai_key]" in body.content, body.content
    assert leaked(json.dumps(body.envelope)) == []
