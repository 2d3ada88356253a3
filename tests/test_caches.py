"""Continuation turns do not redo work: files unchanged since a settled read are not read or hashed again, and
rendered file blocks, rendered turns and token counts are computed once per content."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer
from utils.conversations.turns import Turn
from utils.gate.errors import PathRefusedError
from utils.gate.file_cache import RACY_NS, FileCache, racy_margin
from utils.gate.files import FileContent, read_file
from utils.gate.security import PathPolicy
from utils.lru import ENTRY_OVERHEAD, SizedLru
from utils.privacy.redaction import counting_redactions
from utils.prompting.render_cache import RenderCache

LATER = RACY_NS * 10


def policy_for(root: Path) -> PathPolicy:
    return PathPolicy(allowed_roots=(root,))


def settled_cache() -> FileCache:
    """A cache whose reads happen well after any modification (as in a continuation turn minutes later)."""
    return FileCache(clock=lambda: time.time_ns() + LATER)


def read(cache: FileCache, path: Path, root: Path) -> FileContent:
    content = read_file(path, policy_for(root), max_bytes=1_000, cache=cache)
    assert content is not None
    return content


def test_an_unchanged_file_is_read_once(tmp_path: Path) -> None:
    cache = settled_cache()
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    first, second = read(cache, path, tmp_path), read(cache, path, tmp_path)
    assert second is first and cache.reads == 1


def test_a_rewritten_file_is_read_again_even_with_the_same_size(tmp_path: Path) -> None:
    cache = settled_cache()
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    read(cache, path, tmp_path)
    path.write_text("x = 2\n")
    assert read(cache, path, tmp_path).text == "x = 2\n"
    assert cache.reads == 2


def test_a_file_replaced_by_another_with_the_same_stat_times_is_read_again(tmp_path: Path) -> None:
    cache = settled_cache()
    path, other = tmp_path / "a.py", tmp_path / "b.py"
    path.write_text("x = 1\n")
    other.write_text("x = 2\n")
    read(cache, path, tmp_path)
    st = path.stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, path)  # another inode now answers to the path
    assert read(cache, path, tmp_path).text == "x = 2\n"


def test_a_cached_file_is_still_refused_to_a_call_whose_roots_do_not_hold_it(tmp_path: Path) -> None:
    cache = settled_cache()
    project, other = tmp_path / "project", tmp_path / "other"
    project.mkdir()
    other.mkdir()
    path = project / "a.py"
    path.write_text("x = 1\n")
    read(cache, path, project)
    with pytest.raises(PathRefusedError):
        read_file(path, policy_for(other), max_bytes=1_000, cache=cache)


def test_a_cached_file_swapped_for_a_symlink_is_refused_not_served_from_the_cache(tmp_path: Path) -> None:
    cache = settled_cache()
    project = tmp_path / "project"
    project.mkdir()
    path, outside = project / "a.py", tmp_path / "outside.py"
    path.write_text("x = 1\n")
    outside.write_text("secret outside\n")
    read(cache, path, project)
    path.unlink()
    path.symlink_to(outside)
    with pytest.raises(PathRefusedError):
        read_file(path, policy_for(project), max_bytes=1_000, cache=cache)


def test_a_cache_hit_still_counts_the_secrets_the_file_had_redacted(tmp_path: Path) -> None:
    cache = settled_cache()
    path = tmp_path / "a.env.py"
    path.write_text('API_KEY = "sk-proj-abcdefghijklmnop1234567890"\n')
    read(cache, path, tmp_path)
    with counting_redactions() as tally:
        read(cache, path, tmp_path)
    assert cache.reads == 1 and tally == {"openai_key": 1}


def test_a_file_modified_just_before_its_read_is_not_trusted_to_stay_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    # Each read starts 1 ms after the last change: a rewrite within the same timestamp tick could hide.
    cache = FileCache(clock=lambda: max(path.stat().st_mtime_ns, path.stat().st_ctime_ns) + 1_000_000)
    read(cache, path, tmp_path)
    read(cache, path, tmp_path)
    assert cache.reads == 2


def test_whole_second_timestamps_need_a_longer_wait_before_a_read_is_trusted() -> None:
    coarse = (1, 2, 10, 1_700_000_000 * 10**9, 1_700_000_000 * 10**9)
    fine = (1, 2, 10, 1_700_000_000 * 10**9 + 123_456_789, 1_700_000_000 * 10**9 + 123_456_789)
    assert racy_margin(coarse) == RACY_NS > racy_margin(fine) > 10_000_000


def test_the_cache_forgets_the_least_recently_used_entries_beyond_its_size() -> None:
    lru: SizedLru[str] = SizedLru(2 * (ENTRY_OVERHEAD + 4) + 2)
    lru.put("a", "aaaa", 4)
    lru.put("b", "bbbb", 4)
    assert lru.get("a") == "aaaa"  # a is now the most recent
    lru.put("c", "cccc", 4)
    assert lru.get("b") is None and lru.get("a") == "aaaa" and lru.get("c") == "cccc"
    lru.put("huge", "x" * 300, 300)
    assert lru.get("huge") is None and len(lru) == 2


def test_many_tiny_entries_are_bounded_by_what_each_entry_costs() -> None:
    lru: SizedLru[int] = SizedLru(100 * ENTRY_OVERHEAD)
    for i in range(10_000):
        lru.put(("estimate", f"prompt {i}"), i, 8)
    assert len(lru) < 100


def test_blocks_turns_and_counts_are_computed_once_per_content() -> None:
    counted: list[int] = []

    def counter(text: str, tokenizer: str) -> int:
        counted.append(len(text))
        return len(text.split())

    cache = RenderCache(counter=counter)  # type: ignore[arg-type]
    fc = FileContent(path="/p/a.py", text="x = 1\n" * 300, sha256="ab" * 32, size=1_800)
    block = cache.block(fc, False, True)
    assert cache.block(fc, False, True) is block and cache.block(fc, True, True) != block
    turn = Turn(role="user", content="hello")
    assert cache.turn(1, turn) is cache.turn(1, Turn(role="user", content="hello"))
    assert cache.count(block, "estimate") == cache.count(block, "estimate")
    assert cache.count(block, "o200k_base") >= 1
    assert len(counted) == 2  # once per tokenizer
    cache.count("a short prompt", "estimate")
    cache.count("a short prompt", "estimate")
    assert len(counted) == 4  # short texts are counted each time, not held


async def test_a_continuation_turn_does_not_read_unchanged_thread_files_again(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    files = []
    for i in range(3):
        path = tmp_path / f"m{i}.py"
        path.write_text(f"def f{i}():\n    return {i}\n" * 200)
        files.append(path)
    catalogue = tmp_path / "custom.json"
    catalogue.write_text(json.dumps({"models": [{"model_name": "m", "context_window": 200_000, "max_output_tokens": 4_000}]}))
    env = environment(tmp_path / "home", CUSTOM_API_URL=f"{fake_server.url}/v1", CUSTOM_MODELS_CONFIG_PATH=str(catalogue))
    async with quorum(env, tmp_path) as q:
        q.services.file_cache.clock = lambda: time.time_ns() + LATER
        first = await q.ok("chat", prompt="look", absolute_file_paths=[str(p) for p in files], model="m")
        reads = q.services.file_cache.reads
        for n in range(3):
            await q.ok("chat", prompt=f"turn {n}", continuation_id=first.thread_id, model="m")
        assert q.services.file_cache.reads == reads
        files[1].write_text("changed = True\n")
        changed = await q.ok("chat", prompt="again", continuation_id=first.thread_id, model="m")
        assert q.services.file_cache.reads == reads + 1
    assert changed.metadata["prompt"]["files_changed"] == [str(files[1])]
    assert "changed = True" in json.dumps(fake_server.last_request.body)
