"""What a local OpenAI-compatible server serves, and each model's context window where the server says it.

Every server lists its models at `GET <base>/models`; only some say how long a prompt may be, each its own way:
vLLM puts `max_model_len` in that list, LM Studio answers `GET /api/v0/models` with `loaded_context_length`
(the window it runs with) and `max_context_length`, llama.cpp's server answers `GET /props` with
`default_generation_settings.n_ctx`, Ollama answers `POST /api/show` with `num_ctx` among its parameters and
`model_info["<arch>.context_length"]`. llama-cpp-python's server says nothing: CUSTOM_CONTEXT_WINDOW covers it.
All probes run at once under one short time bound; a probe a server does not know is simply ignored.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

# How trustworthy each way of learning a window is: the window a server runs with beats the model's maximum.
_RANK = {
    "vLLM max_model_len": 0,
    "LM Studio loaded_context_length": 0,
    "llama.cpp /props n_ctx": 0,
    "Ollama num_ctx": 1,
    "Ollama context_length": 2,
    "LM Studio max_context_length": 2,
    "context_length": 2,
    "llama.cpp n_ctx_train": 3,
}
_MAX_SHOW_CALLS = 32  # Ollama: one /api/show per model; a server with hundreds of models gets the first few
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ServedModel:
    """One model the server lists, with its window and how it was learnt (None: the server did not say)."""

    name: str
    context_window: int | None = None
    source: str = ""


@dataclass(frozen=True)
class Discovery:
    """The outcome of asking a server: its models, or why they could not be listed."""

    url: str
    models: tuple[ServedModel, ...] = ()
    error: str = ""

    def find(self, name: str) -> ServedModel | None:
        wanted = name.strip().lower()
        for m in self.models:
            if m.name.lower() in (wanted, f"{wanted}:latest"):
                return m
        return None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def windows_from_model_list(body: Any) -> dict[str, tuple[int | None, str]]:
    """`GET /v1/models`: every id, with the window the entry itself states (vLLM, some gateways, llama.cpp)."""
    found: dict[str, tuple[int | None, str]] = {}
    data = body.get("data") if isinstance(body, dict) else None
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        candidates = [
            (_positive(entry.get("max_model_len")), "vLLM max_model_len"),
            (_positive(entry.get("loaded_context_length")), "LM Studio loaded_context_length"),
            (_positive(entry.get("max_context_length")), "LM Studio max_context_length"),
            (_positive(entry.get("context_length")), "context_length"),
        ]
        meta = entry.get("meta")
        if isinstance(meta, dict):
            candidates.append((_positive(meta.get("n_ctx_train")), "llama.cpp n_ctx_train"))
        found[entry["id"]] = _best(candidates)
    return found


def window_from_props(body: Any) -> int | None:
    """llama.cpp `GET /props`: the context size the server was started with."""
    if not isinstance(body, dict):
        return None
    settings = body.get("default_generation_settings")
    nested = settings.get("n_ctx") if isinstance(settings, dict) else None
    return _positive(nested) or _positive(body.get("n_ctx"))


def windows_from_lmstudio(body: Any) -> dict[str, tuple[int | None, str]]:
    """LM Studio `GET /api/v0/models`: the loaded window, else the model's maximum."""
    return windows_from_model_list(body)


def window_from_ollama_show(body: Any) -> tuple[int | None, str]:
    """Ollama `POST /api/show`: `num_ctx` when the model sets it, else the model's trained context length."""
    if not isinstance(body, dict):
        return None, ""
    params = body.get("parameters")
    match = _NUM_CTX.search(params) if isinstance(params, str) else None
    info = body.get("model_info")
    trained = next((_positive(v) for k, v in info.items() if k.endswith(".context_length")), None) \
        if isinstance(info, dict) else None
    return _best([(int(match.group(1)) if match else None, "Ollama num_ctx"), (trained, "Ollama context_length")])


def _best(candidates: list[tuple[int | None, str]]) -> tuple[int | None, str]:
    known = [(w, s) for w, s in candidates if w]
    return min(known, key=lambda c: _RANK.get(c[1], 9)) if known else (None, "")


def server_root(base_url: str) -> str:
    """The server's own root, where the non-OpenAI endpoints live: the base URL without its `/v1`."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


async def _get_json(client: httpx.AsyncClient, method: str, url: str, payload: Mapping[str, Any] | None = None) -> Any:
    """The decoded body of a 200 answer, or None for anything else (unknown endpoint, error, not JSON)."""
    try:
        response = await client.request(method, url, json=payload)
        return response.json() if response.status_code == 200 else None
    except Exception as exc:  # a probe a server does not support must never matter
        logger.debug("discovery probe %s %s failed: %s", method, url, exc)
        return None


async def discover(base_url: str, api_key: str = "", timeout: float = 5.0) -> Discovery:
    """List a server's models and learn their windows; never raises (a failure is in `error`)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{base_url.rstrip('/')}/models"
    try:
        async with asyncio.timeout(timeout), httpx.AsyncClient(timeout=timeout, headers=headers) as client:
            response = await client.get(url)
            if response.status_code != 200:
                return Discovery(url, error=f"GET {url} answered HTTP {response.status_code}")
            listed = windows_from_model_list(response.json())
            if not listed:
                return Discovery(url, error=f"GET {url} listed no models")
            found = await _probe(client, server_root(base_url), listed)
    except (TimeoutError, httpx.HTTPError, ValueError) as exc:
        reason = f"no answer within {timeout:g}s" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return Discovery(url, error=f"could not list models at {url} ({reason})")
    models = tuple(ServedModel(name, *found[name]) for name in listed)
    logger.info("discovered %d model(s) at %s: %s", len(models), url,
                ", ".join(f"{m.name} ({m.context_window or 'window unknown'})" for m in models))
    return Discovery(url, models=models)


async def _probe(
    client: httpx.AsyncClient, root: str, listed: dict[str, tuple[int | None, str]],
) -> dict[str, tuple[int | None, str]]:
    """Ask the flavour-specific endpoints, all at once, for the windows the list did not state."""
    found = dict(listed)
    if all(_RANK.get(source, 9) == 0 for _, source in found.values()):
        return found
    props, lmstudio, ollama = await asyncio.gather(
        _get_json(client, "GET", f"{root}/props"),
        _get_json(client, "GET", f"{root}/api/v0/models"),
        _get_json(client, "GET", f"{root}/api/version"),
    )
    n_ctx = window_from_props(props)
    extra = windows_from_lmstudio(lmstudio)
    shown: dict[str, tuple[int | None, str]] = {}
    if isinstance(ollama, dict) and "version" in ollama:
        names = list(found)[:_MAX_SHOW_CALLS]
        bodies = await asyncio.gather(*(_get_json(client, "POST", f"{root}/api/show", {"model": n}) for n in names))
        shown = {n: window_from_ollama_show(b) for n, b in zip(names, bodies)}
    for name, current in found.items():
        candidates = [current, extra.get(name, (None, "")), shown.get(name, (None, ""))]
        if n_ctx and len(found) == 1:  # llama.cpp's /props describes the one model it serves
            candidates.append((n_ctx, "llama.cpp /props n_ctx"))
        found[name] = _best(candidates)
    return found
