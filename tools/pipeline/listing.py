"""The tools/list payload, generated from the request models, and what it weighs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from tools.base import Tool
from tools.pipeline.schema import check_description, input_schema


@lru_cache(maxsize=None)
def _schema(request_model: type[BaseModel]) -> str:
    return json.dumps(input_schema(request_model))


def tool_entries(tools: Mapping[str, Tool]) -> list[dict[str, Any]]:
    """Plain dicts: name, description, inputSchema — the wire shape of each listed tool."""
    return [
        {
            "name": name,
            "description": check_description(name, tool.description),
            "inputSchema": json.loads(_schema(tool.request_model)),
        }
        for name, tool in tools.items()
    ]


def tools_list_weight(tools: Mapping[str, Tool]) -> dict[str, int]:
    """Bytes and cl100k tokens of the tools/list result a client receives."""
    from utils.prompting.tokens import count_tokens

    payload = json.dumps({"tools": tool_entries(tools)}, separators=(",", ":"))
    return {"tools": len(tools), "bytes": len(payload.encode()), "cl100k_tokens": count_tokens(payload, "cl100k_base")}
