"""What local model servers answer about their models, each in its own shape (the fake's `flavour`).

- `plain`: `/v1/models` lists ids only (llama-cpp-python's server does this, and says nothing more).
- `vllm`: `/v1/models` entries carry `max_model_len`.
- `ollama`: `/api/version`, and `POST /api/show` with `model_info["<arch>.context_length"]` and a `num_ctx`
  parameter line when the window is set explicitly.
- `lmstudio`: `/api/v0/models` with `loaded_context_length` and `max_context_length`.
- `llamacpp`: `/props` with `default_generation_settings.n_ctx`; `/v1/models` entries carry `meta.n_ctx_train`.
Every other flavour-specific endpoint answers 404, as the real servers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Flavour = Literal["plain", "vllm", "ollama", "lmstudio", "llamacpp"]
FLAVOURS: tuple[Flavour, ...] = ("plain", "vllm", "ollama", "lmstudio", "llamacpp")
# The training context of every fake model: larger than any window a test sets, as for real models.
TRAINED_CONTEXT = 131_072

# (method, path suffix) -> kind, checked before the generic OpenAI routes.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/api/v0/models", "lmstudio.models"),
    ("GET", "/props", "llamacpp.props"),
    ("GET", "/api/version", "ollama.version"),
    ("POST", "/api/show", "ollama.show"),
)
SERVED_BY: Mapping[str, Flavour] = {
    "lmstudio.models": "lmstudio", "llamacpp.props": "llamacpp", "ollama.version": "ollama", "ollama.show": "ollama",
}


def classify(method: str, path: str) -> str | None:
    for want_method, suffix, kind in ROUTES:
        if method == want_method and path.endswith(suffix):
            return kind
    return None


def model_list(flavour: str, models: tuple[str, ...], windows: Mapping[str, int]) -> dict[str, Any]:
    """`GET /v1/models` as the flavour's server shapes it."""
    data: list[dict[str, Any]] = []
    for m in models:
        entry: dict[str, Any] = {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
        if flavour == "vllm" and m in windows:
            entry["max_model_len"] = windows[m]
        if flavour == "llamacpp":
            entry["meta"] = {"n_ctx_train": TRAINED_CONTEXT, "n_params": 268_000_000}
        data.append(entry)
    return {"object": "list", "data": data}


def answer(kind: str, body: Any, models: tuple[str, ...], windows: Mapping[str, int]) -> tuple[int, Any]:
    """(status, body) of a flavour-specific endpoint for a server of the flavour that has it."""
    if kind == "lmstudio.models":
        return 200, {"object": "list", "data": [
            {"id": m, "object": "model", "type": "llm", "state": "loaded" if m in windows else "not-loaded",
             "max_context_length": TRAINED_CONTEXT, **({"loaded_context_length": windows[m]} if m in windows else {})}
            for m in models]}
    if kind == "llamacpp.props":
        n_ctx = next(iter(windows.values()), 4_096)
        return 200, {"default_generation_settings": {"n_ctx": n_ctx}, "total_slots": 1}
    if kind == "ollama.version":
        return 200, {"version": "0.12.3"}
    name = body.get("model") if isinstance(body, dict) else None
    if name not in models:
        return 404, {"error": f"model '{name}' not found"}
    parameters = f"num_ctx                        {windows[name]}\nstop                           \"<end>\"" \
        if name in windows else "stop \"<end>\""
    return 200, {"parameters": parameters, "model_info": {"general.architecture": "llama",
                                                          "llama.context_length": TRAINED_CONTEXT}}
