"""Catalogue files shaped like PAL / Zen MCP's `conf/*_models.json` (field structure only; names made up).

PAL files start with a `_README` object, list models under `models`, and describe each with its own field
names (supports_extended_thinking, temperature_constraint, use_openai_response_api, ...). Azure's file keeps
its examples under `_example_models`; Zen's single custom_models.json marked local models with `is_custom`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

README = {"description": "model metadata", "field_notes": "see the capability record",
          "field_descriptions": {"model_name": "the id the API knows"}}

OPENAI = {
    "_README": README,
    "models": [
        {
            "model_name": "reasoner-pro", "friendly_name": "Reasoner Pro", "aliases": ["rpro", "reasoner"],
            "intelligence_score": 18, "description": "a reasoning model behind the responses API",
            "context_window": 400_000, "max_output_tokens": 128_000, "supports_extended_thinking": True,
            "supports_system_prompts": True, "supports_streaming": False, "supports_function_calling": True,
            "supports_json_mode": True, "supports_images": True, "max_image_size_mb": 20.0,
            "supports_temperature": False, "temperature_constraint": "fixed", "use_openai_response_api": True,
            "default_reasoning_effort": "high", "allow_code_generation": True,
        },
        {
            "model_name": "o-series-mini", "friendly_name": "O mini", "aliases": ["omini"], "intelligence_score": 12,
            "description": "a small o-series model", "context_window": 200_000, "max_output_tokens": 65_536,
            "supports_extended_thinking": False, "supports_system_prompts": True, "supports_streaming": True,
            "supports_function_calling": True, "supports_json_mode": True, "supports_images": True,
            "max_image_size_mb": 20.0, "supports_temperature": False, "temperature_constraint": "fixed",
        },
        {
            "model_name": "wide-classic", "friendly_name": "Wide", "aliases": ["wide"], "intelligence_score": 13,
            "description": "a classic chat model without a stated output limit", "context_window": 1_000_000,
            "supports_extended_thinking": False, "supports_system_prompts": True, "supports_streaming": True,
            "supports_function_calling": True, "supports_json_mode": True, "supports_images": True,
            "max_image_size_mb": 20.0, "supports_temperature": True, "temperature_constraint": "range",
        },
    ],
}

GEMINI = {
    "_README": README,
    "models": [
        {
            "model_name": "gem-thinker", "friendly_name": "Gem Thinker", "aliases": ["gthink"], "intelligence_score": 17,
            "description": "a thinking Gemini", "context_window": 1_048_576, "max_output_tokens": 65_536,
            "max_thinking_tokens": 32_768, "supports_extended_thinking": True, "supports_system_prompts": True,
            "supports_streaming": True, "supports_function_calling": True, "supports_json_mode": True,
            "supports_images": True, "supports_temperature": True, "allow_code_generation": True,
            "max_image_size_mb": 32.0,
        },
    ],
}

AZURE = {
    "_README": README,
    "_example_models": [{"model_name": "example", "deployment": "example", "context_window": 1000}],
    "models": [
        {
            "model_name": "az-model", "deployment": "team-deploy", "aliases": ["az"], "context_window": 128_000,
            "max_output_tokens": 16_384, "supports_extended_thinking": False, "supports_json_mode": True,
            "supports_function_calling": False, "supports_images": False, "max_image_size_mb": 0.0,
            "supports_temperature": True, "temperature_constraint": "range", "use_openai_response_api": False,
            "description": "an Azure deployment", "intelligence_score": 10,
        },
        {
            "model_name": "az-other", "deployment_name": "other-deploy", "aliases": "azo, az-two",
            "context_window": 64_000, "max_output_tokens": 8_000, "description": "older deployment_name spelling",
        },
    ],
}

# Zen's combined file: OpenRouter ids next to local models marked is_custom.
ZEN_COMBINED = {
    "_README": README,
    "models": [
        {"model_name": "vendor/cloud-model", "aliases": ["cloudy"], "context_window": 200_000,
         "max_output_tokens": 64_000, "supports_extended_thinking": False, "supports_json_mode": False,
         "supports_function_calling": False, "supports_images": True, "max_image_size_mb": 5.0,
         "description": "a cloud model through OpenRouter", "intelligence_score": 12},
        {"model_name": "homebrew-7b", "aliases": ["homebrew"], "context_window": 16_384, "max_output_tokens": 4_096,
         "supports_extended_thinking": False, "supports_json_mode": False, "supports_function_calling": False,
         "supports_images": False, "max_image_size_mb": 0.0, "is_custom": True,
         "description": "a local model", "intelligence_score": 6},
    ],
}


def write(directory: Path, name: str, content: Any) -> str:
    path = directory / name
    path.write_text(json.dumps(content, indent=2) if not isinstance(content, str) else content, encoding="utf-8")
    return str(path)
