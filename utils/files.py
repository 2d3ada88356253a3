"""Safe file reading for prompts: path expansion, text detection, hashing and stable rendering."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from utils.conversation import FileRef
from utils.redaction import redact_secrets
from utils.security import FileMissingError, PathPolicy, PathRefusedError, is_secret_path

logger = logging.getLogger(__name__)

# Directories that hold VCS data, dependencies, build output or caches: never the user's own code.
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "node_modules", "bower_components", "__pycache__", ".venv",
    "venv", "env", ".env", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".hypothesis", "dist", "build", "target", ".next", ".nuxt", ".svelte-kit", ".cache",
    ".parcel-cache", ".idea", ".gradle", "coverage", "htmlcov", ".terraform",
    ".serverless", "Pods", "DerivedData", ".dart_tool", ".pnpm-store", ".yarn", ".turbo",
})

BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tif", ".tiff", ".psd", ".heic",
    ".mp3", ".wav", ".flac", ".ogg", ".m4a", ".mp4", ".mov", ".avi", ".mkv", ".webm",
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".jar", ".war", ".whl",
    ".pyc", ".pyo", ".so", ".dylib", ".dll", ".exe", ".o", ".a", ".lib", ".obj", ".class",
    ".wasm", ".bin", ".dat", ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx",
    ".odt", ".ttf", ".otf", ".woff", ".woff2", ".eot", ".db", ".sqlite", ".sqlite3",
    ".npy", ".npz", ".pkl", ".pickle", ".pt", ".pth", ".onnx", ".safetensors", ".parquet",
    ".DS_Store",
})

_SNIFF_BYTES = 8192
_SHORT_HASH = 12  # enough to tell versions apart; the full hash stays in FileContent


class FileTooLargeError(ValueError):
    """A file is larger than the configured per-file limit."""


class TooManyFilesError(PathRefusedError):
    """Expanding directories found more files than the limit allows; the path is too broad."""


@dataclass(frozen=True)
class FileContent:
    """A file as embedded in a prompt: redacted text plus the hash and size of the raw bytes."""

    path: str
    text: str
    sha256: str
    size: int
    redactions: int = 0

    def ref(self) -> FileRef:
        """How a thread records this embedding: the path and the hash of what was sent."""
        return FileRef(path=self.path, sha256=self.sha256, size=self.size)


def expand_paths(raw_paths: Sequence[str], policy: PathPolicy, *, max_files: int = 1000) -> list[Path]:
    """Check each path and expand directories into their text files, sorted, without duplicates."""
    found: dict[Path, None] = {}  # an ordered set: the first mention of a file wins its place
    for raw in raw_paths:
        path = policy.check(raw)  # explicit paths raise: the caller named them on purpose
        if path.is_dir():
            candidates = _walk(path, policy)
        elif path.is_file() and _is_text(path):
            candidates = [path]
        else:
            logger.info("skipping %s: not a text file", path)
            candidates = []
        for candidate in candidates:
            found.setdefault(candidate, None)
            if len(found) > max_files:
                raise TooManyFilesError(
                    f"{raw!r} expands to more than {max_files} files. Name the subdirectories "
                    "or files that matter instead of the whole tree."
                )
    return list(found)


def _walk(root: Path, policy: PathPolicy) -> list[Path]:
    """Text files under root in sorted order, skipping tooling dirs and files the policy refuses."""
    files: list[Path] = []
    for current, dirs, names in os.walk(root):
        # Pruning in place stops os.walk descending; sorting makes the order reproducible.
        dirs[:] = sorted(
            d for d in dirs
            if d not in SKIPPED_DIRS and not d.endswith(".egg-info")
            and (policy.allow_secret_files or not is_secret_path(Path(current, d)))
        )
        for name in sorted(names):
            try:
                # Re-checking resolves symlinks, so a link inside the tree cannot reach outside it.
                path = policy.check(str(Path(current, name)))
            except (PathRefusedError, FileMissingError):
                continue  # found while walking, not asked for: skip quietly
            if path.is_file() and _is_text(path):
                files.append(path)
    return files


def _is_text(path: Path) -> bool:
    if path.suffix.lower() in BINARY_SUFFIXES or path.name in BINARY_SUFFIXES:
        return False
    try:
        with path.open("rb") as handle:
            return b"\x00" not in handle.read(_SNIFF_BYTES)
    except OSError:
        logger.info("skipping unreadable file %s", path)
        return False


def read_file(path: Path, *, max_bytes: int) -> FileContent:
    """Read a (policy-checked) text file, hash its bytes and redact secrets from its text."""
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLargeError(_too_large(path, size, max_bytes))
    with path.open("rb") as handle:
        raw = handle.read(max_bytes + 1)  # the file may have grown since stat()
    if len(raw) > max_bytes:
        raise FileTooLargeError(_too_large(path, len(raw), max_bytes))
    text, redactions = redact_secrets(raw.decode("utf-8", errors="replace"))
    return FileContent(
        path=str(path), text=text, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
        redactions=sum(redactions.values()),
    )


def _too_large(path: Path, size: int, max_bytes: int) -> str:
    return (
        f"File '{path}' is {size:,} bytes, over the {max_bytes:,}-byte limit per file "
        "(QUORUM_MAX_FILE_BYTES). Pass the smaller files that matter, or an excerpt of this one."
    )


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def number_lines(text: str) -> str:
    """Prefix each line with its right-aligned number and a tab, as narrow as the file allows."""
    # Measured with o200k on Python and Markdown files: a tab costs ~1 token per line less than
    # "│ " or ": " (number lines add ~20-35% to a file instead of ~40%).
    if not text:
        return ""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start a new one
    width = len(str(len(lines)))
    return "\n".join(f"{n:>{width}}\t{line}" for n, line in enumerate(lines, 1))


def render_file_block(fc: FileContent, *, changed: bool = False, numbered: bool = True) -> str:
    """A deterministic BEGIN/END block for one file; identical inputs give identical bytes."""
    notes = [f"sha256 {fc.sha256[:_SHORT_HASH]}"]
    if fc.redactions:
        notes.append(f"{fc.redactions} secret{'s' if fc.redactions != 1 else ''} redacted")
    if changed:
        notes.append("changed since last shared")
    body = number_lines(fc.text) if numbered else fc.text.removesuffix("\n")
    return (
        f"--- BEGIN FILE: {fc.path} ({', '.join(notes)}) ---\n"
        f"{body}\n"
        f"--- END FILE: {fc.path} ---"
    )
