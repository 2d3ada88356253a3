"""File expansion, reading, hashing and rendering."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from utils.gate.files import (
    FileContent,
    FileTooLargeError,
    LoadedFiles,
    TooManyFilesError,
    expand_paths,
    load_text_files,
    number_lines,
    read_file,
    render_file_block,
    sha256_file,
)
from utils.gate.security import FileMissingError, PathPolicy, PathRefusedError


def write(root: Path, relative: str, data: str | bytes = "text\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


@pytest.fixture
def policy(tmp_path: Path) -> PathPolicy:
    return PathPolicy(allowed_roots=(tmp_path,))


def rel(paths: list[Path], root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in paths]


def load(raw: list[str], policy: PathPolicy, *, max_bytes: int = 100_000, budget: int = 10_000_000) -> LoadedFiles:
    return load_text_files(raw, policy, max_bytes=max_bytes, budget=budget)


def names(loaded: LoadedFiles, root: Path) -> list[str]:
    return [str(Path(f.path).relative_to(root)) for f in loaded.files]


def read(path: Path, max_bytes: int) -> FileContent:
    content = read_file(path, PathPolicy(allowed_roots=(path.parent,)), max_bytes=max_bytes)
    assert content is not None
    return content


def test_a_directory_expands_to_its_text_files_in_sorted_order(tmp_path: Path, policy: PathPolicy) -> None:
    for name in ["b.py", "a.py", "sub/z.md", "sub/deeper/y.txt", "A.txt"]:
        write(tmp_path, f"proj/{name}")
    assert rel(expand_paths([str(tmp_path / "proj")], policy), tmp_path / "proj") == [
        "A.txt", "a.py", "b.py", "sub/z.md", "sub/deeper/y.txt",
    ]


@pytest.mark.parametrize("skipped", [
    ".git/config", "node_modules/lib/index.js", "__pycache__/m.py", ".venv/lib/site.py", "venv/x.py",
    "env/x.py", ".tox/x.py", ".mypy_cache/x.json", ".pytest_cache/x", ".ruff_cache/x", "dist/x.js",
    "build/x.js", "target/x.rs", ".next/x.js", ".cache/x", ".idea/workspace.xml", ".gradle/x",
    "coverage/lcov.info", "pkg.egg-info/PKG-INFO", ".quorum/outputs/quorum-output-0123456789ab.md",
])
def test_tooling_directories_are_not_expanded(tmp_path: Path, policy: PathPolicy, skipped: str) -> None:
    write(tmp_path, "proj/keep.py")
    write(tmp_path, f"proj/{skipped}")
    assert rel(expand_paths([str(tmp_path / "proj")], policy), tmp_path / "proj") == ["keep.py"]


@pytest.mark.parametrize(("name", "data"), [
    ("logo.png", "not really a png"),
    ("lib.so", "text"),
    ("archive.zip", "text"),
    ("model.pkl", "text"),
    ("blob.txt", b"abc\x00def"),
    ("late_nul.txt", b"a" * 8000 + b"\x00"),
])
def test_binary_files_are_skipped_by_extension_or_nul_byte(
    tmp_path: Path, policy: PathPolicy, name: str, data: str | bytes
) -> None:
    write(tmp_path, "proj/keep.py")
    write(tmp_path, f"proj/{name}", data)
    assert names(load([str(tmp_path / "proj")], policy), tmp_path / "proj") == ["keep.py"]
    assert load([str(tmp_path / "proj" / name)], policy).files == ()


def test_a_nul_byte_past_the_sniffed_prefix_does_not_make_a_file_binary(tmp_path: Path, policy: PathPolicy) -> None:
    path = write(tmp_path, "big.txt", b"a" * 9000 + b"\x00")
    assert [f.path for f in load([str(path)], policy).files] == [str(path)]


def test_secret_files_inside_a_directory_are_skipped_quietly(tmp_path: Path, policy: PathPolicy) -> None:
    for name in ["app.py", ".env", ".env.example", ".ssh/id_rsa", "certs/tls.key", "config/credentials.json"]:
        write(tmp_path, f"proj/{name}")
    assert rel(expand_paths([str(tmp_path / "proj")], policy), tmp_path / "proj") == [".env.example", "app.py"]


def test_secret_files_inside_a_directory_are_kept_when_allowed(tmp_path: Path) -> None:
    write(tmp_path, "proj/.env")
    allowed = PathPolicy(allowed_roots=(tmp_path,), allow_secret_files=True)
    assert rel(expand_paths([str(tmp_path / "proj")], allowed), tmp_path / "proj") == [".env"]


def test_an_explicitly_named_secret_file_is_refused(tmp_path: Path, policy: PathPolicy) -> None:
    path = write(tmp_path, "proj/.env")
    with pytest.raises(PathRefusedError, match="holds secrets"):
        expand_paths([str(path)], policy)


def test_an_explicitly_named_missing_file_is_reported(tmp_path: Path, policy: PathPolicy) -> None:
    with pytest.raises(FileMissingError):
        expand_paths([str(tmp_path / "gone.py")], policy)


def test_symlinks_inside_a_directory_cannot_escape(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, "keep.py")
    write(tmp_path, "outside/secret.txt")
    (root / "out.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (root / "hostname").symlink_to("/etc/hostname")
    (root / "broken").symlink_to(root / "missing")
    (root / "inside.txt").symlink_to(root / "keep.py")  # resolves to an already listed file
    policy = PathPolicy(allowed_roots=(root,))
    assert rel(expand_paths([str(root)], policy), root) == ["keep.py"]


def test_duplicates_are_dropped_and_the_first_mention_keeps_its_place(tmp_path: Path, policy: PathPolicy) -> None:
    a, b = write(tmp_path, "p/a.py"), write(tmp_path, "p/b.py")
    paths = expand_paths([str(b), str(tmp_path / "p"), str(a), f"{tmp_path}/p/../p/b.py"], policy)
    assert paths == [b, a]


def test_more_files_than_the_limit_asks_the_caller_to_narrow(tmp_path: Path, policy: PathPolicy) -> None:
    for i in range(4):
        write(tmp_path, f"p/{i}.py")
    assert len(expand_paths([str(tmp_path / "p")], policy, max_files=4)) == 4
    with pytest.raises(TooManyFilesError, match="more than 3 files. Name the subdirectories"):
        expand_paths([str(tmp_path / "p")], policy, max_files=3)


def test_read_file_hashes_raw_bytes_and_decodes_with_replacement(tmp_path: Path) -> None:
    raw = b"caf\xc3\xa9 \xff\n"
    fc = read(write(tmp_path, "a.txt", raw), max_bytes=100)
    assert fc == FileContent(path=str(tmp_path / "a.txt"), text="café \ufffd\n",
                             sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), redactions=0)


def test_read_file_redacts_secrets_but_hashes_the_original(tmp_path: Path) -> None:
    raw = b'DB_PASSWORD=correcthorsebattery\nprint("ok")\n'
    fc = read(write(tmp_path, "settings.py", raw), max_bytes=1_000)
    assert fc.text == 'DB_PASSWORD=[REDACTED:secret]\nprint("ok")\n'
    assert (fc.redactions, fc.sha256) == (1, hashlib.sha256(raw).hexdigest())


def test_a_file_over_the_limit_raises_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "big.log", "x" * 101)
    assert read(path, max_bytes=101).size == 101
    with pytest.raises(FileTooLargeError, match=r"101 bytes, over the 100-byte limit .*QUORUM_MAX_FILE_BYTES.*smaller file"):
        read(path, max_bytes=100)


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    assert sha256_file(write(tmp_path, "b.bin", data)) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("text", "expected"), [
    ("", ""),
    ("one", "1\tone"),
    ("one\n", "1\tone"),
    ("a\n\nc\n", "1\ta\n2\t\n3\tc"),
    ("\n".join(f"l{i}" for i in range(1, 11)), "\n".join(f"{i:>2}\tl{i}" for i in range(1, 11))),
    ("x\r\ny\r\n", "1\tx\r\n2\ty\r"),
    ("  indented\n\ttabbed", "1\t  indented\n2\t\ttabbed"),
])
def test_number_lines_right_aligns_to_the_widest_number(text: str, expected: str) -> None:
    assert number_lines(text) == expected


FC = FileContent(path="/p/a.py", text="x = 1\ny = 2\n", sha256="abcdef0123456789" * 4, size=12)


@pytest.mark.parametrize(("fc", "changed", "numbered", "expected"), [
    (FC, False, True,
     "--- BEGIN FILE: /p/a.py (sha256 abcdef012345) ---\n1\tx = 1\n2\ty = 2\n--- END FILE: /p/a.py ---"),
    (FC, True, True,
     "--- BEGIN FILE: /p/a.py (sha256 abcdef012345, changed since last shared) ---\n"
     "1\tx = 1\n2\ty = 2\n--- END FILE: /p/a.py ---"),
    (FC, False, False,
     "--- BEGIN FILE: /p/a.py (sha256 abcdef012345) ---\nx = 1\ny = 2\n--- END FILE: /p/a.py ---"),
    (FileContent(path="/p/.cfg", text="k", sha256="0" * 64, size=1, redactions=2), False, False,
     "--- BEGIN FILE: /p/.cfg (sha256 000000000000, 2 secrets redacted) ---\nk\n--- END FILE: /p/.cfg ---"),
])
def test_render_file_block_layout(fc: FileContent, changed: bool, numbered: bool, expected: str) -> None:
    assert render_file_block(fc, changed=changed, numbered=numbered) == expected


def test_rendering_the_same_file_twice_gives_identical_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "a.py", "def f():\n    return 1\n")
    first = render_file_block(read(path, max_bytes=1_000), changed=True)
    second = render_file_block(read(path, max_bytes=1_000), changed=True)
    assert first.encode() == second.encode()
