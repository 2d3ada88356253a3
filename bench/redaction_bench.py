"""Redaction throughput: Quorum's redaction pass against the detect-secrets library, on the same text.

    .venv/bin/python bench/redaction_bench.py            # 4 MB of source, both engines
    .venv/bin/python bench/redaction_bench.py --mb 1

The corpus is the Python standard library's own source (present wherever Python is), read in sorted order
until the size is reached, with one planted secret line about every 8 KB (the formats below, in turn).
Quorum redacts each file as one text, as the file reader does; detect-secrets scans the same files with
`scan_file` and its default plugins and filters. Both report MB/s and ms per MB of CPU time (steadier than
wall time on a shared machine), and how many planted secrets they caught. detect-secrets is optional (the
`bench` extra installs it).
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a script from anywhere

from bench.common import Bench, Line, RowResult  # noqa: E402

PLANT_EVERY = 8_000  # characters of source between two planted secrets


def _planted_lines() -> list[tuple[str, str]]:
    """(line, secret value) pairs, one per format; assembled at run time so no secret-shaped literal is stored."""
    pieces = {
        "openai": "sk-" + "proj-" + "Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed",
        "anthropic": "sk-ant-" + "api03-" + "Mn4Bv5Cx6Zl7Kj8Hg9Fd0Sa1Qw2Er3Ty4",
        "aws": "AKIA" + "Q3EGRKZ7N5XW2MJ4",
        "github": "ghp_" + "Zz1Yy2Xx3Ww4Vv5Uu6Tt7Ss8Rr9Qq0Pp1Oo2",
        "gitlab": "glpat-" + "xYz12AbC34dEf56GhI78",
        "slack": "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKl",
        "stripe": "sk_" + "live_" + "51HxYzAbCdEfGhIjKlMnOpQr",
        "hf": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
        "sendgrid": "SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
        "jwt": "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "password": "correct" + "horsebattery",
        "url": "s3cr3t" + "Pw0rd",
    }
    return [
        (f'OPENAI_API_KEY = "{pieces["openai"]}"', pieces["openai"]),
        (f'client = Anthropic(api_key="{pieces["anthropic"]}")', pieces["anthropic"]),
        (f"aws_access_key_id = {pieces['aws']}", pieces["aws"]),
        (f'GITHUB_TOKEN = "{pieces["github"]}"', pieces["github"]),
        (f"GITLAB_TOKEN={pieces['gitlab']}", pieces["gitlab"]),
        (f'SLACK = "{pieces["slack"]}"', pieces["slack"]),
        (f'stripe.api_key = "{pieces["stripe"]}"', pieces["stripe"]),
        (f'login(token="{pieces["hf"]}")', pieces["hf"]),
        (f'SENDGRID_API_KEY = "{pieces["sendgrid"]}"', pieces["sendgrid"]),
        (f'headers = {{"Cookie": "session={pieces["jwt"]}"}}', pieces["jwt"]),
        (f"DB_PASSWORD={pieces['password']}  # production", pieces["password"]),
        (f'DATABASE_URL = "postgres://app:{pieces["url"]}@db:5432/app"', pieces["url"]),
    ]


@dataclass(frozen=True)
class Corpus:
    files: tuple[tuple[str, str], ...]  # (name, text)
    planted: tuple[tuple[str, int, str], ...]  # (name, 1-based line, secret value)

    @property
    def megabytes(self) -> float:
        return sum(len(text.encode()) for _, text in self.files) / 1e6


def build_corpus(megabytes: float) -> Corpus:
    """Standard-library sources up to `megabytes`, with a planted secret line every PLANT_EVERY characters."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    lines_to_plant = _planted_lines()
    files: list[tuple[str, str]] = []
    planted: list[tuple[str, int, str]] = []
    size, since, turn = 0, 0, 0
    for path in sorted(stdlib.glob("**/*.py")):
        if "test" in path.parts or size >= megabytes * 1e6:
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        name = str(path.relative_to(stdlib))
        out: list[str] = []
        for line in source.splitlines():
            out.append(line)
            since += len(line) + 1
            if since >= PLANT_EVERY and not line.endswith(("\\", ",", "(", "[", "{")):
                text, value = lines_to_plant[turn % len(lines_to_plant)]
                out.append(text)
                planted.append((name, len(out), value))
                since, turn = 0, turn + 1
        text = "\n".join(out) + "\n"
        files.append((name, text))
        size += len(text.encode())
    return Corpus(tuple(files), tuple(planted))


@dataclass(frozen=True)
class EngineResult:
    engine: str
    megabytes: float
    files: int
    seconds: float
    mb_per_s: float
    ms_per_mb: float
    planted: int
    caught: int
    note: str = ""


def _result(engine: str, corpus: Corpus, seconds: float, caught: int, note: str = "") -> EngineResult:
    mb = corpus.megabytes
    return EngineResult(engine, round(mb, 3), len(corpus.files), round(seconds, 4), round(mb / seconds, 2),
                        round(seconds * 1000 / mb, 2), len(corpus.planted), caught, note)


def measure_quorum(corpus: Corpus, runs: int = 3) -> EngineResult:
    from utils.privacy.redaction import redact_secrets

    best = float("inf")
    outputs: dict[str, str] = {}
    for _ in range(runs):
        started = time.process_time()
        outputs = {name: redact_secrets(text)[0] for name, text in corpus.files}
        best = min(best, time.process_time() - started)
    caught = sum(value not in outputs[name].splitlines()[line - 1] for name, line, value in corpus.planted)
    return _result("quorum", corpus, best, caught, f"best of {runs}")


def measure_detect_secrets(corpus: Corpus) -> EngineResult | None:
    try:
        from detect_secrets.core.scan import scan_file
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    with tempfile.TemporaryDirectory(prefix="quorum-redaction-bench-") as scratch:
        paths = []
        for n, (name, text) in enumerate(corpus.files):
            path = Path(scratch, f"{n:05d}_{Path(name).name}")
            path.write_text(text, encoding="utf-8")
            paths.append((name, str(path)))
        flagged: set[tuple[str, int]] = set()
        with default_settings():
            started = time.process_time()
            for name, path in paths:
                flagged.update((name, s.line_number) for s in scan_file(path))
            seconds = time.process_time() - started
    caught = sum((name, line) in flagged for name, line, _ in corpus.planted)
    return _result("detect-secrets", corpus, seconds, caught, "scan_file, default plugins and filters, one run")


def run(megabytes: float) -> list[EngineResult]:
    corpus = build_corpus(megabytes)
    results = [measure_quorum(corpus)]
    library = measure_detect_secrets(corpus)
    if library is not None:
        results.append(library)
    return results


async def row(bench: Bench) -> RowResult:
    """The bench/run.py row: ms per MB for Quorum, with detect-secrets as the floor column when installed."""
    results = {r.engine: r for r in run(0.25 if bench.sizes.quick else 4.0)}
    ours, library = results["quorum"], results.get("detect-secrets")
    lines = [
        Line(f"redaction cost per MB of source (ms), {ours.megabytes:.1f} MB", ours.ms_per_mb,
             library.ms_per_mb if library else None, "ms", "reported",
             note=f"floor: detect-secrets {library.caught}/{library.planted} caught" if library
             else "detect-secrets not installed"),
        Line("redaction throughput (MB/s)", ours.mb_per_s, library.mb_per_s if library else None, "MB/s", "reported",
             note=f"{ours.caught}/{ours.planted} planted secrets caught"),
    ]
    return RowResult("redaction", lines, {"results": [asdict(r) for r in results.values()]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=4.0, help="corpus size in MB (default 4)")
    args = parser.parse_args()
    for r in run(args.mb):
        print(f"{r.engine:>15}: {r.megabytes:.2f} MB in {r.files} files, {r.seconds:.3f} s, {r.mb_per_s:.2f} MB/s, "
              f"{r.ms_per_mb:.1f} ms/MB, caught {r.caught}/{r.planted} planted secrets ({r.note})")


if __name__ == "__main__":
    main()
