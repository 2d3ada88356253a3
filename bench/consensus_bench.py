"""Consensus fan-out: the wall time of ONE consensus call over N slow models vs the slowest model's delay.

Run: `python bench/consensus_bench.py [--mode http|inprocess] [--delays 1,1,1] [--runs 5] [--json PATH]`.
The first call is reported apart (cold: lazy SDK import, connections); the figure is the warm median.

- http (default): the fake provider server on loopback (tests/fakes/fake_provider.py) answers each model after
  its delay; Quorum reaches it through the real OpenAI-compatible adapter (openai SDK, real HTTP).
- inprocess: in-process fake providers that `asyncio.sleep(delay)` before answering.

The server is built in-process and driven by an in-memory MCP client. Not a test: it prints timings.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from providers.base import GenerateRequest, GenerateResult  # noqa: E402
from providers.catalogue import ModelSpec  # noqa: E402
from tests.fakes.fake_model import FakeModelProvider, spec  # noqa: E402
from tools.consensus import ConsensusTool  # noqa: E402
from utils.config.settings import Settings  # noqa: E402
from utils.conversations.storage.memory import MemoryThreadStore  # noqa: E402

MODEL_NAMES = ("gpt-fake", "o-fake", "gemini-fake-pro", "gemini-fake-flash")
STANCES = ("for", "against", "neutral")


class DelayedFake(FakeModelProvider):
    """In-process fake whose delay depends on the model asked."""

    def __init__(self, delays: dict[str, float]) -> None:
        super().__init__("custom", [spec(name) for name in delays])
        self.delays = delays

    async def generate(self, request: GenerateRequest, model: ModelSpec) -> GenerateResult:
        await asyncio.sleep(self.delays[model.model_name])
        return await super().generate(request, model)


def _catalogue(home: Path, names: Sequence[str]) -> str:
    path = home / "custom_catalogue.json"
    models = [{"model_name": n, "context_window": 128_000, "max_output_tokens": 4_000, "intelligence_score": 10} for n in names]
    path.write_text(json.dumps({"models": models}))
    return str(path)


def _services(home: Path, names: Sequence[str], base_url: str, providers: dict[str, Any] | None) -> Any:
    from server import build_services

    settings = Settings.from_env({
        "QUORUM_HOME": str(home / "quorum"),
        "QUORUM_STORAGE": "memory",
        "CUSTOM_API_URL": base_url,
        "CUSTOM_MODELS_CONFIG_PATH": _catalogue(home, names),
        "QUORUM_MAX_RETRIES": "0",
    })
    services = build_services(
        settings, cwd=home, providers=providers,
        store=MemoryThreadStore(timedelta(hours=settings.conversation_timeout_hours)),
    )
    # consensus may not be registered yet: add it here rather than editing the tool registry.
    return dataclasses.replace(services, tools={**services.tools, "consensus": ConsensusTool()})


async def _one_call(server: Any, names: Sequence[str]) -> tuple[float, dict[str, Any]]:
    from mcp import Client

    models = [{"model": n, "stance": STANCES[i % len(STANCES)]} for i, n in enumerate(names)]
    async with Client(server) as client:
        started = time.perf_counter()
        result = await client.call_tool("consensus", {"step": "Should we move from Express to Fastify?", "models": models})
        wall = time.perf_counter() - started
    body = json.loads(result.content[0].text)
    if result.is_error:
        raise RuntimeError(f"consensus failed: {body['content']}")
    return wall, body


async def _run(mode: str, delays: Sequence[float], runs: int) -> dict[str, Any]:
    """One cold call (first use: lazy SDK import, connection set-up), then `runs` warm calls."""
    from server import create_server

    names = MODEL_NAMES[: len(delays)]
    by_model = dict(zip(names, delays))
    walls: list[float] = []
    spreads: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if mode == "inprocess":
            server = create_server(_services(home, names, "http://127.0.0.1:9/v1", {"custom": DelayedFake(by_model)}))
            for _ in range(runs + 1):
                walls.append((await _one_call(server, names))[0])
        else:
            from tests.fakes.fake_provider import FakeProviderServer

            with FakeProviderServer() as fake:
                services = _services(home, names, fake.openai_url, None)
                server = create_server(services)
                for _ in range(runs + 1):
                    seen = len(fake.generation_requests())
                    fake.script(*({"model": n, "delay": d} for n, d in by_model.items()))
                    walls.append((await _one_call(server, names))[0])
                    arrived = [r.arrived for r in fake.generation_requests()[seen:]]
                    spreads.append(max(arrived) - min(arrived))
                await services.registry.aclose()
    cold, warm = walls[0], walls[1:]
    slowest = max(delays)
    median = statistics.median(warm)
    result: dict[str, Any] = {
        "mode": mode,
        "models": len(delays),
        "delays_s": list(delays),
        "slowest_model_delay_s": slowest,
        "sequential_would_take_s": round(sum(delays), 3),
        "cold_call_s": round(cold, 3),
        "warm_runs": len(warm),
        "warm_wall_s": {"median": round(median, 3), "min": round(min(warm), 3), "max": round(max(warm), 3),
                        "all": [round(w, 3) for w in warm]},
        "warm_overhead_over_slowest_s": round(median - slowest, 3),
        "warm_ratio_to_slowest": round(median / slowest, 3),
    }
    if spreads:
        # How far apart the N requests reached the provider: near zero means they were all sent at once.
        result["request_arrival_spread_s"] = {"cold": round(spreads[0], 3), "warm_max": round(max(spreads[1:]), 3)}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("http", "inprocess"), default="http")
    parser.add_argument("--delays", default="1.0,1.0,1.0", help="comma-separated delay per model (2-4 models)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", dest="json_path", help="also write the result as JSON to this path")
    args = parser.parse_args(argv)
    delays = [float(d) for d in args.delays.split(",") if d.strip()]
    if not 2 <= len(delays) <= len(MODEL_NAMES):
        parser.error(f"--delays needs 2 to {len(MODEL_NAMES)} values")
    result = asyncio.run(_run(args.mode, delays, max(1, args.runs)))
    wall = result["warm_wall_s"]
    print(
        f"consensus over {result['models']} models ({args.mode}), delays {result['delays_s']} s:\n"
        f"  one call, warm ({result['warm_runs']} runs): median {wall['median']:.3f} s "
        f"(min {wall['min']:.3f}, max {wall['max']:.3f}); cold first call {result['cold_call_s']:.3f} s\n"
        f"  slowest model: {result['slowest_model_delay_s']:.3f} s -> overhead {result['warm_overhead_over_slowest_s']:+.3f} s "
        f"(x{result['warm_ratio_to_slowest']:.2f}); one after another would take {result['sequential_would_take_s']:.3f} s"
    )
    if "request_arrival_spread_s" in result:
        spread = result["request_arrival_spread_s"]
        print(f"  requests reached the provider within {spread['warm_max'] * 1000:.0f} ms of each other "
              f"(cold call: {spread['cold'] * 1000:.0f} ms)")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))
        print(f"  written to {args.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
