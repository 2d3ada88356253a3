"""Secret redaction: recognisable keys, tokens and secret assignments replaced by `[REDACTED:<kind>]`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_SECRET_KEY_WORDS = (
    r"password|passwd|secret|secret[_-]?key|api[_-]?key|apikey|access[_-]?token|auth[_-]?token"
    r"|client[_-]?secret|private[_-]?key|token"
)
_IDENTIFIER_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_ENV_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")


def _plain_value_is_secret(value: str) -> bool:
    # Code assigns names (self.password, new_token, API_KEY); config files assign literals.
    if _ENV_NAME_RE.fullmatch(value):
        return False
    if _IDENTIFIER_RE.fullmatch(value):
        return any(c.isdigit() for c in value) and "." not in value and "_" not in value
    return True


def _quoted_value_is_secret(value: str) -> bool:
    # An all-caps name is the name of an environment variable, not its value.
    return not _ENV_NAME_RE.fullmatch(value)


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]  # the rule can only match if one of these occurs; most files skip it
    group: int = 0  # which group holds the secret; the rest of the match is kept
    accept: Callable[[str], bool] | None = None  # judged on the original (unfolded) value
    fold: bool = False  # match against an ASCII-lower-cased copy (far faster than re.IGNORECASE)


_ENV_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY")
_KEY_HINTS = ("password", "passwd", "secret", "key", "token")

_RULES: tuple[_Rule, ...] = (
    _Rule("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s:,.\\-]*?"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), ("PRIVATE KEY",)),
    _Rule("anthropic_key", re.compile(r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,}"), ("sk-ant-",)),
    _Rule("openai_key", re.compile(
        r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"), ("sk-",)),
    _Rule("google_api_key", re.compile(r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])"), ("AIza",)),
    _Rule("aws_access_key_id", re.compile(
        r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"), ("AKIA", "ASIA")),
    _Rule("aws_secret_access_key", re.compile(
        r"aws_?secret(?:_access)?_?key\W{0,3}[:=]\s*[\"']?([a-z0-9/+=]{40})(?![a-z0-9/+=])"),
        ("secret",), 1, fold=True),
    _Rule("github_token", re.compile(
        r"(?<![\w-])(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    _Rule("slack_token", re.compile(r"(?<![\w-])xox[bpas]-[A-Za-z0-9-]{10,}"), ("xox",)),
    _Rule("jwt", re.compile(
        r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), ("eyJ",)),
    _Rule("bearer_token", re.compile(r"\bbearer\s+([a-z0-9._~+/-]{20,}=*)"), ("bearer",), 1, fold=True),
    # KEY=value lines of .env files and shells: upper-case name ending in a secret word.
    _Rule("secret", re.compile(
        rf"(?m)^[ \t]*(?:export[ \t]+)?[A-Z0-9_]*(?:{'|'.join(_ENV_WORDS)})[ \t]*=[ \t]*"
        r"([\"']?)(?!\[REDACTED)([^\s\"'#$]{8,})\1[ \t]*$"), _ENV_WORDS, 2),
    # name = "literal" in code, JSON, YAML, TOML.
    _Rule("secret", re.compile(
        rf"(?:{_SECRET_KEY_WORDS})\b[\"']?\s*[:=]\s*(?:[bru]{{1,2}})?([\"'])(?!\[redacted)([^\"'\s]{{8,}})\1"),
        _KEY_HINTS, 2, _quoted_value_is_secret, fold=True),
    # name: value without quotes (YAML, INI); code expressions are told apart by _plain_value_is_secret.
    _Rule("secret", re.compile(
        rf"(?:{_SECRET_KEY_WORDS})\b[ \t]*[:=][ \t]*([\w+/=.~!@#%^&*-]{{8,}})(?=\s|$|[,;])"),
        _KEY_HINTS, 1, _plain_value_is_secret, fold=True),
)

# Only ASCII letters change, so the folded copy keeps every index of the original.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def redact_secrets(text: str) -> tuple[str, int]:
    """Replace recognisable secrets with `[REDACTED:<kind>]`; return the text and how many."""
    count = 0
    for rule in _RULES:
        haystack = text.translate(_ASCII_LOWER) if rule.fold else text
        if not any(hint in haystack for hint in rule.hints):
            continue
        pieces: list[str] = []
        last = 0
        for match in rule.pattern.finditer(haystack):
            start, end = match.span(rule.group)
            if rule.accept is not None and not rule.accept(text[start:end]):
                continue
            pieces += [text[last:start], f"[REDACTED:{rule.kind}]"]
            last = end
            count += 1
        if pieces:
            text = "".join(pieces) + text[last:]
    return text, count
