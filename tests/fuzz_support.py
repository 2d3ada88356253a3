"""Hypothesis strategies for tool arguments, derived from a tool's published JSON input schema.

`arguments(schema, domain)` draws schema-valid arguments; `broken_arguments(schema, domain)` draws
arguments with one deliberate violation (a missing required field, an unknown field, a wrong type, a number
out of range, a value outside an enum, a null, a broken nested item). Random text rarely names anything
Quorum knows, so string fields whose meaning is clear from their name draw from a `Domain` of meaningful
values too: real and unknown model names, live and made-up thread ids, and paths of every awkward sort.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

Schema = dict[str, Any]
Strategy = st.SearchStrategy[Any]

MODEL_FIELDS = frozenset({"model", "synthesis_model"})
PATH_FIELDS = frozenset({
    "absolute_file_paths", "relevant_files", "files_checked", "images", "style_guide_examples",
    "working_directory_absolute_path", "path",
})
# Strings that have broken parsers, shells, terminals and databases before.
ODD_STRINGS = (
    "", " ", "\t\n\r", "\x00", "nul\x00inside", "\u202eevil\u202c", "\ufeffbom", "e\u0301\u0301\u0301", "🙂🙃" * 5,
    "𝕌𝕟𝕚𝕔𝕠𝕕𝕖", "中文提示", "عربى", "'; DROP TABLE threads; --", "${jndi:ldap://x}", "{{prompt}}", "%s%n%x",
    "</tool_result>", "```", "null", "true", "[]", "{}", "\\", "\\u0000", "a" * 300,
)

# Refs a git command line must never take as options or ranges.
GIT_REFS = ("HEAD", "HEAD~1", "HEAD~99", "main", "no-such-branch", "-", "-p", "HEAD..HEAD", "@{-1}", "$(id)", "`id`")


@dataclass
class Domain:
    """Values that mean something to the server under test; `thread_ids` grows as threads are created."""

    models: tuple[str, ...]
    good_paths: tuple[str, ...]
    awkward_paths: tuple[str, ...]
    project: str
    repo: str = ""
    # A file that must never come to exist: git options smuggled in as refs try to write it.
    canary: str = "/nonexistent/canary"
    thread_ids: list[str] = field(default_factory=list)
    huge_min: int = 5_001
    huge_max: int = 12_000


def text(domain: Domain) -> Strategy:
    """Any string: mostly short, sometimes odd, now and then longer than the prompt limit."""
    huge = st.integers(domain.huge_min, domain.huge_max).map(lambda n: ("Ω≈ç√ " * (n // 5 + 1))[:n])
    return weighted(
        (5, st.text(max_size=30)),
        (3, st.sampled_from(ODD_STRINGS)),
        (3, st.text(st.characters(codec="utf-8"), min_size=1, max_size=120)),
        (1, huge),
    )


def weighted(*choices: tuple[int, Strategy]) -> Strategy:
    """One of several strategies, picked in proportion to its weight."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def model_name(domain: Domain) -> Strategy:
    return weighted(
        (4, st.sampled_from(domain.models)),
        (1, st.sampled_from(("auto", "AUTO", " auto ", "no-such-model", "vendor/unknown-model", "gpt-fake\n", ""))),
        (1, st.text(max_size=20)),
    )


def thread_id(domain: Domain) -> Strategy:
    """A live thread id (by index: the pool grows between examples), or a plausible or absurd fake."""

    def live(i: int) -> str:
        return domain.thread_ids[i % len(domain.thread_ids)] if domain.thread_ids else str(uuid.UUID(int=i))

    return weighted(
        (4, st.integers(0, 10_000).map(live)),
        (1, st.uuids().map(str)),
        (1, st.sampled_from(("", " ", "../../etc/passwd", "0" * 36, "thread-1", "NULL", "' OR 1=1 --"))),
        (1, st.text(max_size=40)),
    )


def path(domain: Domain) -> Strategy:
    """Files, directories, relative, outside the roots, missing, secret, too long, malformed."""
    project = domain.project
    return weighted(
        (3, st.sampled_from(domain.good_paths)),
        (3, st.sampled_from(domain.awkward_paths)),
        (1, st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=24)
        .map(lambda name: f"{project}/{name}")),
        (1, st.integers(1, 400).map(lambda n: f"{project}/{'n' * n}.py")),
        (1, st.text(max_size=30).map(lambda rel: rel.lstrip("/") or "relative.py")),
        (1, st.text(max_size=30).map(lambda tail: f"/nonexistent-{tail}")),
    )


def valid_value(schema: Schema, name: str, domain: Domain) -> Strategy:
    """A value that satisfies `schema` (the schema of the field called `name`)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of(*(valid_value(option, name, domain) for option in schema["anyOf"]))
    kind = schema.get("type")
    if kind == "string":
        if name in MODEL_FIELDS:
            return model_name(domain)
        if name == "continuation_id":
            return thread_id(domain)
        if name == "path" and domain.repo:
            return weighted((2, st.just(domain.repo)), (1, path(domain)))
        if name == "compare_to":
            smuggled = (f"--output={domain.canary}", f"--output {domain.canary}")
            return weighted((2, st.sampled_from(GIT_REFS + smuggled)), (1, text(domain)))
        if name in PATH_FIELDS:
            return path(domain)
        return text(domain)
    if kind == "integer":
        low = schema.get("minimum", -1_000)
        if "maximum" in schema:
            return st.integers(low, schema["maximum"])
        # Mostly small counts; now and then one no database column or JSON parser expects.
        return weighted((6, st.integers(low, low + 12)), (1, st.integers(low, 2**80)))
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        # consensus takes 2-10 models (said in its description, not its schema): mostly send a usable number.
        least = 2 if name == "models" else 0
        return st.lists(valid_value(schema.get("items", {}), name, domain), min_size=least, max_size=4)
    if kind == "object":
        return valid_object(schema, domain)
    return json_value()


def valid_object(schema: Schema, domain: Domain) -> Strategy:
    """Every required property, and any subset of the optional ones."""
    properties: dict[str, Schema] = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in properties]
    optional = {k: valid_value(v, k, domain) for k, v in properties.items() if k not in required}
    return st.fixed_dictionaries(
        {k: valid_value(properties[k], k, domain) for k in required},
        optional=optional,
    )


def arguments(schema: Schema, domain: Domain) -> Strategy:
    return valid_object(schema, domain)


def json_value() -> Strategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=8)


def wrong_type(schema: Schema) -> Strategy:
    """A JSON value whose type the schema does not allow (a lone string for an array is allowed: skip it)."""
    kind = schema.get("type")
    others: dict[str, Strategy] = {
        "string": st.one_of(st.integers(), st.booleans(), st.lists(st.text(max_size=5), max_size=2)),
        "integer": st.one_of(st.text(max_size=5), st.floats(0.5, 1e6).filter(lambda f: not f.is_integer()),
                             st.lists(st.integers(), max_size=2)),
        "number": st.one_of(st.text(min_size=1, max_size=5).filter(lambda s: not _numeric(s)), st.lists(st.integers())),
        # Not "yes"/"no"/0/1: pydantic reads those as booleans.
        "boolean": st.one_of(st.sampled_from(["maybe", "2", 2, -1, 0.5]), st.dictionaries(st.text(max_size=3),
                                                                                         st.integers(), max_size=2)),
        "array": st.one_of(st.integers(), st.booleans(), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                         min_size=1, max_size=2)),
        "object": st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)),
    }
    return others.get(str(kind), st.just(object.__name__))


def _numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def out_of_range(schema: Schema) -> Strategy | None:
    """A number just past the schema's bounds, or None when it has none."""
    choices: list[Strategy] = []
    integer = schema.get("type") == "integer"
    if "minimum" in schema:
        low = schema["minimum"]
        choices.append(st.integers(low - 10**6, low - 1) if integer
                       else st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False))
    if "maximum" in schema:
        high = schema["maximum"]
        choices.append(st.integers(high + 1, high + 10**6) if integer
                       else st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False))
    return st.one_of(*choices) if choices else None


@st.composite
def broken_arguments(draw: st.DrawFn, schema: Schema, domain: Domain) -> tuple[dict[str, Any], str]:
    """Schema-valid arguments with one violation applied; returns (arguments, what was broken)."""
    args: dict[str, Any] = dict(draw(arguments(schema, domain)))
    properties: dict[str, Schema] = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in properties]
    bounded = {k: v for k, v in properties.items() if out_of_range(v) is not None}
    enums = {k: v for k, v in properties.items() if "enum" in v}
    nested = {k: v for k, v in properties.items()
              if v.get("type") == "array" and v.get("items", {}).get("type") == "object"}

    options = ["unknown field", "wrong type", "null", "arbitrary JSON"]
    options += ["missing required"] * bool(required)
    options += ["out of range"] * bool(bounded)
    options += ["outside enum"] * bool(enums)
    options += ["broken nested item"] * bool(nested)
    if not properties:
        options = ["unknown field"]
    how = draw(st.sampled_from(options))

    if how == "unknown field":
        key = draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in properties))
        args[key] = draw(json_value())
        return args, f"{how} {key!r}"
    if how == "missing required":
        key = draw(st.sampled_from(required))
        args.pop(key, None)
        return args, f"{how} {key!r}"
    if how == "out of range":
        key = draw(st.sampled_from(sorted(bounded)))
        strategy = out_of_range(bounded[key])
        assert strategy is not None
        args[key] = draw(strategy)
        return args, f"{how} {key!r}"
    if how == "outside enum":
        key = draw(st.sampled_from(sorted(enums)))
        args[key] = draw(st.text(max_size=12).filter(lambda v: v not in enums[key]["enum"]))
        return args, f"{how} {key!r}"
    if how == "broken nested item":
        key = draw(st.sampled_from(sorted(nested)))
        item_schema = nested[key]["items"]
        item = dict(draw(valid_object(item_schema, domain)))
        inner_required = item_schema.get("required", [])
        if inner_required and draw(st.booleans()):
            item.pop(draw(st.sampled_from(inner_required)), None)
        else:
            item[draw(st.sampled_from(sorted(item_schema.get("properties", {"x": {}}))))] = draw(st.integers())
        args[key] = [item]
        return args, f"{how} {key!r}"
    key = draw(st.sampled_from(sorted(properties)))
    if how == "wrong type":
        args[key] = draw(wrong_type(properties[key]))
    elif how == "null":
        args[key] = None
    else:
        args[key] = draw(json_value())
    return args, f"{how} {key!r}"
