"""The open-time checks on their own: what the descriptor says wins over what the name said a moment before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from utils.gate.errors import FileTooLargeError, PathRefusedError
from utils.gate.files import load_text_files
from utils.gate.opener import read_checked
from utils.gate.security import PathPolicy


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("OUTSIDE\n")
    return project


def policy(root: Path) -> PathPolicy:
    return PathPolicy(allowed_roots=(root,))


def read(path: Path, root: Path, cap: int = 1_000) -> bytes:
    return read_checked(str(path), path, policy(root), cap, cap_name="QUORUM_MAX_FILE_BYTES").data


def test_a_name_that_became_a_symlink_after_its_check_is_not_followed(root: Path, tmp_path: Path) -> None:
    # As if the check had seen a regular file here and the swap happened just before the open.
    (root / "a.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    with pytest.raises(PathRefusedError, match="symbolic link"):
        read(root / "a.txt", root)


def test_a_directory_on_the_path_swapped_for_a_link_out_is_caught_by_the_descriptors_real_path(
    root: Path, tmp_path: Path
) -> None:
    (root / "dir").symlink_to(tmp_path / "outside")
    with pytest.raises(PathRefusedError, match="outside the allowed directories"):
        read(root / "dir" / "secret.txt", root)


def test_only_cap_plus_one_bytes_are_read_when_a_file_grows_after_fstat(root: Path) -> None:
    path = root / "log.txt"
    path.write_bytes(b"x" * 100)
    assert read(path, root, cap=100) == b"x" * 100
    path.write_bytes(b"x" * 101)
    with pytest.raises(FileTooLargeError, match="101 bytes, over the 100-byte limit"):
        read(path, root, cap=100)


def test_a_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(PathRefusedError, match="FIFO"):
        read(root / "pipe", root)


def test_a_directory_walk_reads_nothing_past_the_budget_and_lists_what_it_skipped(root: Path) -> None:
    for i in range(5):
        (root / f"f{i}.txt").write_bytes(b"y" * 400)
    (root / "huge.txt").write_bytes(b"z" * 5_000)
    loaded = load_text_files([str(root)], policy(root), max_bytes=1_000, budget=1_000)
    assert [Path(f.path).name for f in loaded.files] == ["f0.txt", "f1.txt"]
    assert any("f2.txt" in note and "does not fit" in note for note in loaded.skipped)
    assert any("more file(s) not read" in note or "huge.txt" in note for note in loaded.skipped), loaded.skipped
