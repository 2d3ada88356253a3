"""Flat JSON schemas from pydantic request models: no $defs, no top-level anyOf, no titles."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

DESCRIPTION_LIMIT = 2_048


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**_inline(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, defs)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "$defs"):
                continue
            out[key] = _inline(value, defs)
        return _collapse_optional(out)
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def _collapse_optional(node: dict[str, Any]) -> dict[str, Any]:
    """`X | None` becomes plain X: omitting a field is how a caller says 'none'."""
    options = node.get("anyOf")
    if not isinstance(options, list):
        return node
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) == len(options):
        return node
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(kept) == 1:
        merged = {**kept[0], **rest}
        if merged.get("default", 0) is None:
            merged.pop("default")
        return merged
    return {**rest, "anyOf": kept}


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The tool input schema for a request model, flat and compact."""
    raw = model.model_json_schema()
    defs = raw.get("$defs", {})
    schema = _inline(raw, defs)
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        if prop.get("default") in ([], None):
            prop.pop("default", None)
        # Nested objects are validated server-side; repeating strictness in every schema costs client context.
        items = prop.get("items")
        if isinstance(items, dict):
            items.pop("additionalProperties", None)
    schema["additionalProperties"] = False
    return schema


def check_description(name: str, description: str) -> str:
    if len(description) > DESCRIPTION_LIMIT:
        raise ValueError(f"tool {name}: description is {len(description)} chars, over {DESCRIPTION_LIMIT}")
    return description
