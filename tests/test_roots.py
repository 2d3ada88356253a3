"""Roots come from the user (client roots, server directory, QUORUM_ALLOWED_ROOTS), never from a tool call."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from tests.client import ToolClient

from tests.test_http_transport import http_url  # noqa: F401  (the HTTP server fixture)
from utils.gate.roots import decide_roots, paths_from_uris


def roots_callback(*directories: Path) -> Any:
    """A client's list-roots callback that answers with whatever `directories` holds when asked."""
    current = list(directories)

    async def answer(_ctx: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=d.as_uri(), name=d.name) for d in current])

    answer.current = current  # type: ignore[attr-defined]
    return answer


def client(h: Any, callback: Any = None, mode: str = "auto") -> Client:
    return Client(h.server, list_roots_callback=callback, mode=mode)  # type: ignore[arg-type]


@pytest.fixture
async def h(harness: Any) -> Any:
    return harness


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the project: readable only when the user makes it a root."""
    other = tmp_path / "other-project"
    other.mkdir()
    (other / "notes.txt").write_text("OUTSIDE-CONTENT\n")
    return other


def sent(h: Any) -> str:
    return "\n".join(m.content for fake in h.fakes.values() for call in fake.calls for m in call.messages)


async def test_a_working_directory_of_slash_is_refused_and_the_refusal_names_the_roots_and_the_setting(h) -> None:
    body = await h.fail("chat", prompt="hi", model="alpha", working_directory_absolute_path="/",
                        absolute_file_paths=["/var/log"])
    assert body["metadata"]["error_kind"] == "path_refused"
    assert str(h.workdir) in body["content"] and "QUORUM_ALLOWED_ROOTS" in body["content"]
    assert sent(h) == ""


async def test_a_working_directory_cannot_add_a_directory_outside_the_roots(h, outside: Path) -> None:
    body = await h.fail("chat", prompt="hi", model="alpha", working_directory_absolute_path=str(outside),
                        absolute_file_paths=[str(outside / "notes.txt")])
    assert body["metadata"]["error_kind"] == "path_refused"
    assert "working_directory_absolute_path" in body["content"]
    assert "OUTSIDE-CONTENT" not in sent(h)


async def test_the_home_directory_as_working_directory_is_refused(h, monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / "home-of-user"
    (home / ".config").mkdir(parents=True)
    (home / ".bash_history").write_text("HISTORY-LINE\n")
    monkeypatch.setenv("HOME", str(home))
    body = await h.fail("chat", prompt="hi", model="alpha", working_directory_absolute_path=str(home),
                        absolute_file_paths=[str(home / ".bash_history")])
    assert body["metadata"]["error_kind"] == "path_refused"
    assert "HISTORY-LINE" not in sent(h)


async def test_a_working_directory_inside_the_roots_narrows_them(h) -> None:
    (h.workdir / "sub").mkdir()
    (h.workdir / "sub" / "in.txt").write_text("INSIDE\n")
    (h.workdir / "beside.txt").write_text("BESIDE\n")
    await h.ok("chat", prompt="hi", model="alpha", working_directory_absolute_path=str(h.workdir / "sub"),
               absolute_file_paths=[str(h.workdir / "sub" / "in.txt")])
    body = await h.fail("chat", prompt="hi", model="alpha", working_directory_absolute_path=str(h.workdir / "sub"),
                        absolute_file_paths=[str(h.workdir / "beside.txt")])
    assert body["metadata"]["error_kind"] == "path_refused" and "working directory" in body["content"]


async def test_a_server_started_from_the_home_directory_does_not_open_it_and_says_so(
    harness_factory, monkeypatch, tmp_path: Path
) -> None:
    home = tmp_path / "project"  # the harness starts the server here; make it the home directory
    monkeypatch.setenv("HOME", str(home))
    h = await harness_factory()
    (home / ".bash_history").write_text("HISTORY-LINE\n")
    body = await h.fail("chat", prompt="hi", model="alpha", absolute_file_paths=[str(home / ".bash_history")])
    assert body["metadata"]["error_kind"] == "path_refused"
    assert "home directory itself" in body["content"] and "QUORUM_ALLOWED_ROOTS" in body["content"]
    version = json.loads((await h.ok("version"))["content"])
    assert version["file_roots"]["allowed"] == []
    assert "home directory itself" in version["file_roots"]["note"]


async def test_quorum_allowed_roots_widens_what_may_be_read(harness_factory, outside: Path) -> None:
    h = await harness_factory({"QUORUM_ALLOWED_ROOTS": str(outside)})
    await h.ok("chat", prompt="hi", model="alpha", absolute_file_paths=[str(outside / "notes.txt")])
    assert "OUTSIDE-CONTENT" in sent(h)


@pytest.mark.parametrize("mode", ["legacy", "auto"], ids=["handshake client", "2026-07-28 client"])
async def test_a_client_that_declares_roots_opens_them_and_nothing_else(h, outside: Path, tmp_path: Path, mode: str) -> None:
    third = tmp_path / "third"
    third.mkdir()
    (third / "x.txt").write_text("THIRD\n")
    async with client(h, roots_callback(outside), mode) as c:
        ok = await ToolClient(c).call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(outside / "notes.txt")])
        is_error = ok.is_error
        assert not is_error, ok
        refused = await ToolClient(c).call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(third / "x.txt")])
        is_error = refused.is_error
    assert is_error and refused["metadata"]["error_kind"] == "path_refused"
    assert "client's roots" in refused["content"]
    assert "OUTSIDE-CONTENT" in sent(h) and "THIRD" not in sent(h)


async def test_a_client_without_roots_gets_only_the_server_directory(h, outside: Path) -> None:
    async with client(h) as c:
        body = await ToolClient(c).call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(outside / "notes.txt")])
        is_error = body.is_error
    assert is_error and body["metadata"]["error_kind"] == "path_refused"
    (h.workdir / "inside.txt").write_text("INSIDE-CONTENT\n")
    async with client(h) as c:
        inside = await ToolClient(c).call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(h.workdir / "inside.txt")])
    assert not inside.is_error, inside.envelope
    assert "INSIDE-CONTENT" in sent(h)


async def test_new_client_roots_apply_after_the_client_says_they_changed(h, outside: Path, tmp_path: Path) -> None:
    later = tmp_path / "later"
    later.mkdir()
    (later / "y.txt").write_text("LATER\n")
    callback = roots_callback(outside)
    async with client(h, callback, "legacy") as c:
        first = await ToolClient(c).call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(later / "y.txt")])
        is_error = first.is_error
        assert is_error, first
        callback.current[:] = [later]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await c.send_roots_list_changed()
        for _ in range(50):  # the notification is handled concurrently with later requests: bounded retries
            body = await ToolClient(c).call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(later / "y.txt")])
            is_error = body.is_error
            if not is_error:
                break
    assert not is_error, body
    assert "LATER" in sent(h)
    # The new list replaced the old one: the first root is no longer readable.
    async with client(h, callback, "legacy") as c:
        gone = await ToolClient(c).call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(outside / "notes.txt")])
    assert gone.is_error and gone.error_kind == "path_refused", gone.envelope


def test_slash_and_home_are_never_implicit_roots_but_may_be_configured(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    roots = decide_roots(server_cwd=Path("/"), configured=(), client=(home, tmp_path), home=home)
    assert roots.allowed == (tmp_path.resolve(),)
    assert "file system root" in roots.note and "home directory itself" in roots.note
    assert decide_roots(server_cwd=home, configured=(home,), client=None, home=home).allowed == (home.resolve(),)


def test_only_local_file_uris_become_roots() -> None:
    assert paths_from_uris(["file:///a/b", "file://localhost/c%20d", "https://x/y", "file://host/z", "file:rel"]) == (
        Path("/a/b"), Path("/c d"))


@pytest.mark.parametrize("mode", ["legacy", "auto"], ids=["handshake client", "2026-07-28 client"])
async def test_over_streamable_http_a_clients_roots_only_narrow_the_servers(
    h, http_url: str, outside: Path, mode: str
) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    # Several principals share an HTTP server: a remote client cannot open a directory the server's user did not.
    sub = h.workdir / "sub"
    sub.mkdir()
    (sub / "in.txt").write_text("SUB-CONTENT\n")
    (h.workdir / "beside.txt").write_text("BESIDE-CONTENT\n")
    http = httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret-token"}, timeout=30)
    transport = streamable_http_client(http_url, http_client=http)
    async with http, Client(transport, list_roots_callback=roots_callback(outside, sub), mode=mode) as c:  # type: ignore[arg-type]
        tool = ToolClient(c)
        body = await tool.call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(sub / "in.txt")])
        is_error = body.is_error
        widened = await tool.call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(outside / "notes.txt")])
        beside = await tool.call("chat", prompt="hi", model="alpha", absolute_file_paths=[str(h.workdir / "beside.txt")])
    assert not is_error, body
    assert "SUB-CONTENT" in sent(h)
    assert widened.is_error and widened.error_kind == "path_refused", widened.envelope
    assert "only narrow" in widened.content, widened.content
    assert beside.is_error and beside.error_kind == "path_refused", beside.envelope
    assert "OUTSIDE-CONTENT" not in sent(h) and "BESIDE-CONTENT" not in sent(h)