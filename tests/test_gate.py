"""The input gate against odd and hostile files: FIFOs, sockets, sparse giants, swapped symlinks, hard links,
renamed types, oversized data URLs, big folders, two prompt.txt files — driven through a real MCP client."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
# A call that should be refused at once is given this long before the test gives up on it (a hang, not a timing).
HANG_S = 20.0


@pytest.fixture
async def h(harness_factory, catalogue) -> Any:
    """A harness whose 'alpha' model takes images of at most 1 MB."""
    vision = catalogue("vision", [{"model_name": "alpha", "context_window": 64_000, "max_output_tokens": 4_000,
                                   "intelligence_score": 8, "supports_images": True, "max_image_size_mb": 1}])
    return await harness_factory({"CUSTOM_MODELS_CONFIG_PATH": vision})


def sent(h: Any) -> str:
    return "\n".join(m.content for fake in h.fakes.values() for call in fake.calls for m in call.messages)


def images_sent(h: Any) -> list[Any]:
    return [img for fake in h.fakes.values() for call in fake.calls for img in call.images]


@pytest.fixture
def fifo(h: Any) -> Iterator[Path]:
    path = h.workdir / "pipe.png"
    os.mkfifo(path)
    yield path
    # Release readers stuck on the FIFOs (the behaviour under test, if it breaks), so the test run can end.
    for pipe in h.workdir.glob("pipe.*"):
        try:
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


async def bounded(h: Any, tool: str, **arguments: Any) -> tuple[dict[str, Any], bool]:
    try:
        return await asyncio.wait_for(h.call(tool, **arguments), HANG_S)
    except TimeoutError:
        pytest.fail(f"{tool} hung on {arguments}")


# ---- only regular files ------------------------------------------------------------------------

async def test_a_fifo_passed_as_an_image_is_refused_instead_of_hanging(h, fifo: Path) -> None:
    body = await bounded(h, "chat", prompt="look", model="alpha", images=[str(fifo)])
    is_error = body.is_error
    assert is_error and body["metadata"]["error_kind"] == "path_refused"
    assert "it is a FIFO (named pipe), not a regular file" in body["content"]


async def test_a_fifo_passed_as_a_file_is_refused_and_one_inside_a_folder_is_passed_over(h, fifo: Path) -> None:
    named = fifo.with_name("pipe.txt")
    os.mkfifo(named)
    body = await bounded(h, "chat", prompt="read", model="alpha", absolute_file_paths=[str(named)])
    is_error = body.is_error
    assert is_error and body["metadata"]["error_kind"] == "path_refused"
    (h.workdir / "real.py").write_text("REAL = 1\n")
    body = await bounded(h, "chat", prompt="read", model="alpha", absolute_file_paths=[str(h.workdir)])
    is_error = body.is_error
    assert not is_error, body
    assert "REAL = 1" in sent(h)


async def test_a_socket_is_refused(h, tmp_path: Path) -> None:
    where = h.workdir / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(where))
        body = await bounded(h, "chat", prompt="read", model="alpha", absolute_file_paths=[str(where)])
        is_error = body.is_error
    finally:
        server.close()
    assert is_error and body["metadata"]["error_kind"] == "path_refused"
    assert "is a socket, not a regular file" in body["content"]


async def test_a_directory_passed_as_an_image_is_refused_not_an_internal_error(h) -> None:
    (h.workdir / "photos.png").mkdir()
    body = await h.fail("chat", prompt="look", model="alpha", images=[str(h.workdir / "photos.png")])
    assert body["metadata"]["error_kind"] == "path_refused"
    assert "it is a directory" in body["content"]


# ---- size before reading -----------------------------------------------------------------------

async def test_a_sparse_3_gb_image_is_refused_from_its_size_without_being_read(h) -> None:
    giant = h.workdir / "giant.png"
    with open(giant, "wb") as handle:
        handle.write(PNG[:8])
        handle.truncate(3 * 1024**3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    body = await h.fail("chat", prompt="look", model="alpha", images=[str(giant)])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert body["metadata"]["error_kind"] == "file_too_large"
    assert "3,221,225,472 bytes" in body["content"] and "nothing of it was read" in body["content"]
    assert grown_mb < 300, f"the peak memory grew by {grown_mb:.0f} MB"
    assert images_sent(h) == []


async def test_an_oversized_data_url_is_refused_from_its_length_before_decoding(h) -> None:
    # Not even valid base64: decoding it first would report bad base64, not its size.
    url = "data:image/png;base64," + "!" * 2_000_000
    body = await h.fail("chat", prompt="look", model="alpha", images=[url])
    assert body["metadata"]["error_kind"] == "file_too_large"
    assert "not decoded" in body["content"]


async def test_the_image_limit_is_counted_in_mib_in_every_place(h) -> None:
    # 1,040,000 bytes: over 1 MB counted as 10^6, under 1 MiB as the provider adapters count it.
    picture = h.workdir / "just-under.png"
    picture.write_bytes(PNG + b"\0" * (1_040_000 - len(PNG)))
    await h.ok("chat", prompt="look", model="alpha", images=[str(picture)])
    assert len(images_sent(h)) == 1


# ---- images are images -------------------------------------------------------------------------

async def test_a_text_file_renamed_png_is_refused(h) -> None:
    fake = h.workdir / "notes.png"
    fake.write_text("DB_PASSWORD=hunter2\n")
    body = await h.fail("chat", prompt="look", model="alpha", images=[str(fake)])
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert "not a PNG, JPEG, GIF or WebP image" in body["content"]
    assert images_sent(h) == []


async def test_a_text_data_url_is_refused(h) -> None:
    body = await h.fail("chat", prompt="look", model="alpha", images=["data:text/plain;base64,aGVsbG8gd29ybGQ="])
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert images_sent(h) == []


async def test_the_image_type_comes_from_the_bytes_not_the_name(h) -> None:
    misnamed = h.workdir / "photo.png"
    misnamed.write_bytes(JPEG_HEAD + b"\0" * 64)
    await h.ok("chat", prompt="look", model="alpha", images=[str(misnamed)])
    assert [img.mime_type for img in images_sent(h)] == ["image/jpeg"]


# ---- open-time checks --------------------------------------------------------------------------

# Flips a path between a real file (or directory) and a symlink to the outside, as fast as it can, in
# another process so that it truly runs alongside the server (a thread would mostly wait for the GIL).
FLIPPER = """
import os, shutil, sys
flipping, link_to, kind = sys.argv[1:4]
spare = flipping + ".new"
def clear(p):
    if os.path.islink(p) or os.path.isfile(p): os.unlink(p)
    elif os.path.isdir(p): shutil.rmtree(p)
while True:
    for make in ("link", "real"):
        try:
            clear(spare)
            if make == "link":
                os.symlink(link_to, spare)
            elif kind == "file":
                with open(spare, "w") as f: f.write("inside content")
            else:
                os.mkdir(spare)
                with open(os.path.join(spare, "target.txt"), "w") as f: f.write("inside content")
            if kind == "directory": clear(flipping)  # a directory cannot be renamed over a link
            os.replace(spare, flipping)
        except OSError:
            pass
"""


@pytest.mark.slow
@pytest.mark.parametrize("swapped", ["file", "directory"])
async def test_a_path_swapped_for_a_symlink_in_a_loop_never_leaks_the_outside_file(
    h, tmp_path: Path, swapped: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.txt").write_text("OUTSIDE-SECRET\n")
    flipping = h.workdir / ("target.txt" if swapped == "file" else "dir")
    asked = flipping if swapped == "file" else flipping / "target.txt"
    link_to = outside / "target.txt" if swapped == "file" else outside
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(flipping), str(link_to), swapped])
    outcomes = Counter[str]()
    try:
        for _ in range(300):
            body = await h.call("chat", prompt="read", model="alpha", absolute_file_paths=[str(asked)])
            outcomes[body["metadata"].get("error_kind") or "answered"] += 1
    finally:
        flipper.kill()
        flipper.wait(10)
    assert "OUTSIDE-SECRET" not in sent(h), outcomes
    assert "internal_error" not in outcomes, outcomes
    # The race really ran: some calls read the real file, others met the link and were refused.
    assert outcomes["answered"] > 0 and set(outcomes) - {"answered"}, outcomes
    assert "inside content" in sent(h), outcomes


async def test_a_hard_link_to_a_file_outside_the_roots_is_refused(h, tmp_path: Path) -> None:
    outside = tmp_path / "private.txt"
    outside.write_text("OUTSIDE-SECRET\n")
    linked = h.workdir / "innocent.txt"
    os.link(outside, linked)
    body = await h.fail("chat", prompt="read", model="alpha", absolute_file_paths=[str(linked)])
    assert body["metadata"]["error_kind"] == "path_refused" and "hard link" in body["content"]
    body = await h.ok("chat", prompt="read", model="alpha", absolute_file_paths=[str(h.workdir)])
    assert "OUTSIDE-SECRET" not in sent(h)


# ---- directories -------------------------------------------------------------------------------

async def test_a_big_folder_is_expanded_from_stat_and_says_what_it_left_out(h) -> None:
    folder = h.workdir / "many"
    folder.mkdir()
    (folder / "a-small.py").write_text("SMALL = 1\n")
    for i in range(40):
        (folder / f"big{i:02}.txt").write_bytes(b"x" * 900_000)
    body = await h.ok("chat", prompt="read", model="alpha", absolute_file_paths=[str(folder)])
    notes = body["metadata"]["notes"]
    assert any("big01.txt" in n and "does not fit" in n for n in notes), notes
    assert any("more file(s)" in n for n in notes), notes
    assert "SMALL = 1" in sent(h)


# ---- the prompt and what is stored -------------------------------------------------------------

async def test_two_prompt_files_are_refused_rather_than_one_dropped(h) -> None:
    (h.workdir / "a").mkdir()
    (h.workdir / "a" / "prompt.txt").write_text("FIRST HALF\n")
    (h.workdir / "prompt.txt").write_text("SECOND HALF\n")
    body = await h.fail("chat", prompt="", model="alpha",
                        absolute_file_paths=[str(h.workdir / "a" / "prompt.txt"), str(h.workdir / "prompt.txt")])
    assert body["metadata"]["error_kind"] == "invalid_arguments" and "prompt.txt" in body["content"]
    assert sent(h) == ""


async def test_an_image_data_url_is_not_stored_verbatim_in_the_thread(h) -> None:
    payload = base64.b64encode(PNG + b"\0" * 600_000).decode()
    body = await h.ok("chat", prompt="look", model="alpha", images=["data:image/png;base64," + payload])
    thread_id = body["continuation_offer"]["continuation_id"]
    exported = await h.ok("threads", action="export", continuation_id=thread_id)
    stored = exported["content"]
    if exported["metadata"].get("output_file"):
        stored = Path(exported["metadata"]["output_file"]).read_text()
    assert payload[:1_000] not in stored
    assert json.loads(stored)["initial_request"]["images"][0].startswith("data:image/png;base64,<")


@pytest.mark.parametrize(("field", "value"), [
    ("absolute_file_paths", ["{w}/gone.py"]),
    ("absolute_file_paths", ["{w}/gone/prompt.txt"]),
    ("images", ["{w}/gone.png"]),
    ("working_directory_absolute_path", "{w}/gone"),
])
async def test_a_missing_file_is_file_missing_wherever_it_is_named(h, field: str, value: Any) -> None:
    value = [v.format(w=h.workdir) for v in value] if isinstance(value, list) else value.format(w=h.workdir)
    body = await h.fail("chat", prompt="read", model="alpha", **{field: value})
    assert body["metadata"]["error_kind"] == "file_missing", body


async def test_overflow_never_goes_to_a_directory_outside_the_roots(harness_factory, tmp_path: Path) -> None:
    h = await harness_factory({"MAX_MCP_OUTPUT_TOKENS": "1000"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    h.fakes["custom"].queue("long answer " * 2_000)
    # A working directory outside the roots is refused before any model call, so nothing can spill there.
    await h.fail("chat", "path_refused", prompt="hi", model="alpha", working_directory_absolute_path=str(elsewhere))
    assert not (elsewhere / ".quorum").exists()
    h.fakes["custom"].queue("long answer " * 2_000)
    body = await h.ok("chat", prompt="hi", model="alpha", working_directory_absolute_path=str(h.workdir))
    assert body["metadata"]["output_file"].startswith(str(h.workdir / ".quorum"))


async def test_a_prompt_that_starts_like_a_data_url_is_stored_as_the_text_it_is(h) -> None:
    prompt = "data: the weekly report, summarised for the team"
    body = await h.ok("chat", prompt=prompt, model="alpha")
    stored = await h.export(body.thread_id)
    assert stored["initial_request"]["prompt"] == prompt
