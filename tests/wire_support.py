"""The environment of a Quorum wired to the fake provider over the OpenAI wire, the Gemini wire or both
(connect it with `tests.env_quorum.quorum`).

The OpenAI wire is reached through the custom (OpenAI-compatible) vendor at `CUSTOM_API_URL`; the Gemini
wire through the native Gemini vendor with `GEMINI_BASE_URL` pointed at the fake. Each wire gets a small
catalogue of its own, so nothing depends on the shipped conf/ files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Wire:
    """One wire format as Quorum is configured to reach it: vendor name and the models it serves."""

    name: str
    vendor: str
    model: str
    second_model: str


OPENAI = Wire("openai", vendor="custom", model="gpt-fake", second_model="o-fake")
GEMINI = Wire("gemini", vendor="gemini", model="gemini-fake-pro", second_model="gemini-fake-flash")
WIRES: dict[str, Wire] = {w.name: w for w in (OPENAI, GEMINI)}


def _entry(name: str, alias: str, score: int) -> dict[str, Any]:
    return {
        "model_name": name,
        "aliases": [alias],
        "context_window": 64_000,
        "max_output_tokens": 4_000,
        "intelligence_score": score,
        "supports_images": True,
        "max_image_size_mb": 1.0,
        "temperature": {"kind": "range", "min": 0.0, "max": 1.0},
        "input_price_per_mtok": 1.0,
        "output_price_per_mtok": 2.0,
    }


def wire_env(fake_url: str, home: Path, wires: Iterable[str] = ("openai", "gemini"), **extra: str) -> dict[str, str]:
    """The environment of a Quorum whose only providers are the fake, over the given wires."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "QUORUM_HOME": str(home),
        "QUORUM_STORAGE": "sqlite",
        "QUORUM_RETRY_BASE_DELAY_S": "0.01",
        "QUORUM_MAX_RETRIES": "2",
        "QUORUM_PROVIDER_TIMEOUT_S": "15",
        "LOG_LEVEL": "WARNING",
    }
    for name in wires:
        wire = WIRES[name]
        catalogue = home / f"{wire.vendor}_catalogue.json"
        models = [_entry(wire.model, f"{name}-main", 12), _entry(wire.second_model, f"{name}-second", 9)]
        catalogue.write_text(json.dumps({"models": models}), encoding="utf-8")
        if name == "openai":
            env.update({"CUSTOM_API_URL": f"{fake_url}/v1", "CUSTOM_MODELS_CONFIG_PATH": str(catalogue)})
        else:
            env.update({"GEMINI_API_KEY": "fake-gemini-key-0123", "GEMINI_BASE_URL": fake_url,
                        "GEMINI_MODELS_CONFIG_PATH": str(catalogue)})
    env.update(extra)
    return env


def warm_sdks() -> None:
    """Import both provider SDKs once, so a cold import never eats into a short per-call timeout."""
    import google.genai  # noqa: F401
    import openai  # noqa: F401
