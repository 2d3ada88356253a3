"""Secret redaction: recognisable keys, tokens and secret assignments replaced by `[REDACTED:<kind>]`.

One pass serves everything that leaves the machine or is stored: files, diffs, tool arguments, CLI output,
stored turns, provider errors. Redacted text never matches again, so redacting twice changes nothing.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

Counts = dict[str, int]

_SECRET_KEY_WORDS = (
    r"password|passwd|secret|secret[_-]?key|api[_-]?key|apikey|access[_-]?token|auth[_-]?token"
    r"|client[_-]?secret|private[_-]?key|token"
)
_IDENTIFIER_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_ENV_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")
# snake_case, kebab-case, dotted.names, camelCase, CamelCase: words without digits, as names are written.
_WORDS_NAME_RE = re.compile(r"[a-z]+(?:[_.:-][a-z]+)+|[a-z]+(?:[A-Z][a-z]+)+|(?:[A-Z]+[a-z]+){2,}[A-Z]*")
_TYPE_NAME_RE = re.compile(r"(?:[A-Z][a-z0-9]+)+(?:\[[\w\[\], .|]*\])?|str|bytes|int|bool|float|Any")
_KEY_CHAR_BEFORE = re.compile(r"[\w-]")  # a key glued to a word is part of something else


def _plain_value_is_secret(value: str) -> bool:
    # Code assigns names (self.password, new_token, API_KEY); config files assign literals.
    if _ENV_NAME_RE.fullmatch(value):
        return False
    if _IDENTIFIER_RE.fullmatch(value):
        return any(c.isdigit() for c in value) and "." not in value and "_" not in value
    return True


def _quoted_value_is_secret(value: str) -> bool:
    # A name is not a value: GEMINI_API_KEY names an environment variable, next_token a field, AWSAccessKeyId
    # a header. Generated secrets have digits; a password of plain words has neither '_' nor inner capitals.
    return not (_ENV_NAME_RE.fullmatch(value) or _WORDS_NAME_RE.fullmatch(value))


def _not_a_type_name(value: str) -> bool:
    # `DB_PASSWORD: SecretStr` in a settings class annotates a type; `DB_PASSWORD: hunter2hunter2` sets a value.
    return _quoted_value_is_secret(value) and not _TYPE_NAME_RE.fullmatch(value)


def _url_password_is_secret(value: str) -> bool:
    # `${DB_PASS}` and `$PASS` are references filled in elsewhere; `***` and `<password>` are placeholders.
    return not value.startswith(("$", "<", "{", "%", "*")) and value.lower() not in ("password", "pass", "pw")


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]  # the rule can only match if one of these occurs; most texts skip it
    group: int = 0  # which group holds the secret; the rest of the match is kept
    accept: Callable[[str], bool] | None = None  # judged on the original (unfolded) value
    fold: bool = False  # match against an ASCII-lower-cased copy (far faster than re.IGNORECASE)
    # Judges what comes before the match (text, start of the match). Checked in code rather than with a
    # leading look-behind, which stops `re` from jumping straight to a pattern's literal prefix (~50x slower).
    before: Callable[[str, int], bool] | None = None
    lead: int = 0  # the secret starts this many characters before the match (a prefix checked by look-behind)


def _standalone(text: str, start: int) -> bool:
    """A key glued to a word or a '-' is part of something else."""
    return start == 0 or not _KEY_CHAR_BEFORE.match(text, start - 1)


def _env_assignment(text: str, start: int) -> bool:
    """The match starts inside NAME=..., NAME is a secret's name, and only `export` or a diff prefix precede it."""
    name_start = start
    while name_start and text[name_start - 1] in _ENV_NAME_ALPHABET:
        name_start -= 1
    line_start = text.rfind("\n", 0, name_start) + 1
    name = _ENV_NAME_CHARS.match(text, name_start)
    return bool(
        name and _ENV_NAME_OK.fullmatch(name.group()) and _ENV_LINE_PREFIX.fullmatch(text, line_start, name_start)
    )


# Not every *_KEY: METADATA_KEY = "..." names a dictionary key in half the code bases there are.
_ENV_NAME_ENDS = (
    r"PASSWORD|PASSWD|_PASS|_PWD|SECRET|SECRET_KEY|SECRET_KEY_BASE|TOKEN|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY"
    r"|SIGNING_KEY|ENCRYPTION_KEY|MASTER_KEY|CREDENTIALS"
)
_ENV_HINTS = ("PASS", "PWD", "SECRET", "TOKEN", "KEY", "CREDENTIALS")
_ENV_NAME_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ENV_NAME_CHARS = re.compile(r"[A-Z0-9_]+")
_ENV_NAME_OK = re.compile(rf"[A-Z0-9_]*(?:{_ENV_NAME_ENDS})")
# A diff's +/-/space, indentation, a YAML list's "- ", a shell's "export ".
_ENV_LINE_PREFIX = re.compile(r"[+ -]?[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?")
_KEY_HINTS = ("password", "passwd", "secret", "key", "token")
_NL = r"(?:\r?\n|\\n)"  # a real newline, or an escaped one inside a JSON string
# A body line of a PEM block (optionally with a diff prefix), its headers, or a blank line before more body.
_PEM_LINE = (
    _NL + r"[+ -]?(?:[A-Za-z0-9+/=]{16,}|(?:Proc-Type|DEK-Info|Comment):[^\n\\]*|(?=" + _NL + r"[A-Za-z0-9+/]{16}))"
)

_RULES: tuple[_Rule, ...] = (
    # With its END line, everything up to it; without (a truncated paste), the base64 lines that follow.
    _Rule("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|(?:" + _PEM_LINE + r")*)"), ("PRIVATE KEY",)),
    _Rule("anthropic_key", re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}"), ("sk-ant-",), before=_standalone),
    _Rule("openai_key", re.compile(
        r"sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"), ("sk-",), before=_standalone),
    _Rule("stripe_key", re.compile(r"_(?:live|test)_(?<=[sr]k_live_|[sr]k_test_)[A-Za-z0-9]{16,}"),
          ("k_live_", "k_test_"), before=_standalone, lead=2),
    _Rule("stripe_key", re.compile(r"whsec_[A-Za-z0-9]{24,}"), ("whsec_",), before=_standalone),
    _Rule("google_api_key", re.compile(r"AIza[0-9A-Za-z_-]{35}(?![\w-])"), ("AIza",), before=_standalone),
    _Rule("google_oauth", re.compile(r"GOCSPX-[A-Za-z0-9_-]{20,}"), ("GOCSPX-",), before=_standalone),
    _Rule("google_oauth", re.compile(r"ya29\.[0-9A-Za-z_-]{20,}"), ("ya29.",), before=_standalone),
    _Rule("aws_access_key_id", re.compile(r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])"),
          ("AKIA", "ASIA", "ABIA", "ACCA"), before=_standalone),
    _Rule("aws_secret_access_key", re.compile(
        r"aws_?secret(?:_access)?_?key\W{0,3}[:=]\s*[\"']?([a-z0-9/+=]{40})(?![a-z0-9/+=])"),
        ("secret",), 1, fold=True),
    _Rule("github_token", re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}"), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
          before=_standalone),
    _Rule("github_token", re.compile(r"github_pat_[A-Za-z0-9_]{22,}"), ("github_pat_",), before=_standalone),
    _Rule("gitlab_token", re.compile(r"gl(?:pat|dt|rt|ptt|cbt|soat|oas|ft|imt)-[A-Za-z0-9_-]{20,}"),
          ("gl",), before=_standalone),
    _Rule("slack_webhook", re.compile(
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]{20,}"), ("hooks.slack.com",)),
    _Rule("slack_token", re.compile(r"xox[abposer]-[A-Za-z0-9-]{10,}"), ("xox",), before=_standalone),
    _Rule("slack_token", re.compile(r"xapp-\d-[A-Za-z0-9-]{20,}"), ("xapp-",), before=_standalone),
    _Rule("huggingface_token", re.compile(r"hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])"), ("hf_",), before=_standalone),
    _Rule("huggingface_token", re.compile(r"api_org_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])"), ("api_org_",),
          before=_standalone),
    _Rule("sendgrid_key", re.compile(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"), ("SG.",), before=_standalone),
    _Rule("mailgun_key", re.compile(r"key-[0-9a-z]{32}(?![A-Za-z0-9])"), ("key-",), before=_standalone),
    # Account and API-key SIDs: upper-case prefix, lower-case hex, unlike content hashes (all one case).
    _Rule("twilio_key", re.compile(r"AC[0-9a-f]{32}(?![A-Za-z0-9])"), ("AC",), before=_standalone),
    _Rule("twilio_key", re.compile(r"SK[0-9a-f]{32}(?![A-Za-z0-9])"), ("SK",), before=_standalone),
    _Rule("azure_key", re.compile(
        r"(?:accountkey|sharedaccesskey|sharedaccesssignature)\s*=\s*([a-z0-9+/%]{20,}={0,2})"),
        ("accountkey", "sharedaccess"), 1, fold=True),
    _Rule("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), ("eyJ",),
          before=_standalone),
    _Rule("basic_auth", re.compile(r"authorization[\"']?\s*[:=]\s*[\"']?basic\s+([a-z0-9+/]{8,}={0,2})"),
          ("basic",), 1, fold=True),
    _Rule("bearer_token", re.compile(r"\bbearer\s+([a-z0-9._~+/-]{20,}=*)"), ("bearer",), 1, fold=True),
    # scheme://user:password@host (database URLs, git remotes with a token).
    _Rule("url_password", re.compile(r"://[^\s:/@'\"<>]+:([^\s:/@'\"<>]{3,})@"),
          ("://",), 1, _url_password_is_secret),
    # KEY=value lines of .env files and shells (also as a diff's +/-/space line), trailing comment allowed.
    # Spaces around '=' with a bare value is code (`ERRORTOKEN = token.ERRORTOKEN`), left to the last rule.
    # The pattern starts at the name's last word (a literal, so `re` finds it fast); _env_assignment checks the
    # whole name and what precedes it on the line.
    _Rule("secret", re.compile(
        r"(?m)(?:PASSWORD|PASSWD|PASS|PWD|SECRET|TOKEN|KEY|BASE|CREDENTIALS)(?:=[ \t]*|[ \t]+=[ \t]*(?=[\"']))"
        r"([\"']?)(?!\[REDACTED)([^\s\"'#$]{6,})\1[ \t]*(?:#.*)?$"), _ENV_HINTS, 2, _quoted_value_is_secret,
        before=_env_assignment),
    # NAME: value, the same in YAML (docker-compose environments, CI variables); a type annotation is not a value.
    _Rule("secret", re.compile(
        r"(?m)(?:PASSWORD|PASSWD|PASS|PWD|SECRET|TOKEN|KEY|BASE|CREDENTIALS)[ \t]*:[ \t]*"
        r"([\"']?)(?!\[REDACTED)([^\s\"'#$]{6,})\1[ \t]*(?:#.*)?$"), _ENV_HINTS, 2, _not_a_type_name,
        before=_env_assignment),
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

# What this request has redacted so far, by kind. Redaction happens in many layers (file reader, git diff,
# tool arguments, CLI output, provider errors); a context variable follows the request into threads and
# tasks without threading a counter through every one of them.
_TALLY: ContextVar[Counter[str] | None] = ContextVar("quorum_redactions", default=None)


def _spans(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) of every secret; earlier (more specific) rules win overlaps."""
    folded: str | None = None
    taken: list[tuple[int, int, str]] = []  # sorted by start; never overlapping, so sorted by end too
    for rule in _RULES:
        if rule.fold:
            folded = text.translate(_ASCII_LOWER) if folded is None else folded
            haystack = folded
        else:
            haystack = text
        if not any(hint in haystack for hint in rule.hints):
            continue
        for match in rule.pattern.finditer(haystack):
            start, end = match.span(rule.group)
            start -= rule.lead
            if rule.before is not None and not rule.before(text, match.start() - rule.lead):
                continue
            if rule.accept is not None and not rule.accept(text[start:end]):
                continue
            # A bisect, not a scan: a file of thousands of secret lines must not cost quadratic time.
            low = bisect.bisect_left(taken, (start,))
            if low and taken[low - 1][1] > start:
                low -= 1
            high = low
            while high < len(taken) and taken[high][0] < end:
                high += 1
            if low == high:
                taken.insert(low, (start, end, rule.kind))
            elif not (high - low == 1 and taken[low][0] <= start and end <= taken[low][1]):
                # Sticking out of what an earlier rule took (a key glued to a PEM header): one span covers both,
                # so no piece of either is left in clear; it keeps the earlier, more specific kind.
                taken[low:high] = [(min(start, taken[low][0]), max(end, taken[high - 1][1]), taken[low][2])]
    return taken


# Fields that name things Quorum opens or resolves: paths read through the gate, images, ids, models, git
# refs. Secret redaction passes them by (a path or a thread id with `[REDACTED]` in it would only break the
# call); every other string a caller sends is free text and is redacted before it reaches a model or the
# store — `files_checked` and `branch_id` too: nothing opens them, and they reach the expert's prompt.
NAMING_FIELDS = frozenset({
    "absolute_file_paths", "images", "relevant_files", "style_guide_examples",
    "working_directory_absolute_path", "path", "continuation_id", "model", "synthesis_model", "compare_to",
})


def redact_secrets(text: str) -> tuple[str, Counts]:
    """Replace recognisable secrets with `[REDACTED:<kind>]`; return the text and the count per kind."""
    spans = _spans(text)
    if not spans:
        return text, {}
    pieces: list[str] = []
    last = 0
    counts: Counter[str] = Counter()
    for start, end, kind in spans:
        pieces += [text[last:start], f"[REDACTED:{kind}]"]
        last = end
        counts[kind] += 1
    tally = _TALLY.get()
    if tally is not None:
        tally.update(counts)
    return "".join(pieces) + text[last:], dict(counts)


def redact_stored_json(text: str, *, turn: bool = False) -> str:
    """A stored JSON document with its secrets redacted: a turn's content, or every free-text string of a tree.

    For data written before redaction existed (storage upgrades); returns `text` itself when nothing changed.
    """
    data = json.loads(text)
    if turn and isinstance(data, dict) and isinstance(data.get("content"), str):
        cleaned = dict(data, content=redact_text(data["content"]))
    else:
        cleaned = redact_tree(data, NAMING_FIELDS)
    return text if cleaned == data else json.dumps(cleaned)


def count_redactions(counts: Counts) -> None:
    """Add redactions made earlier (a cached file's) to the current request's tally, if one is counting."""
    tally = _TALLY.get()
    if tally is not None and counts:
        tally.update(counts)


def redact_text(text: str) -> str:
    """`text` with its secrets replaced (counted for the current request, if one is counting)."""
    return redact_secrets(text)[0]


def redact_tree(value: Any, skip: frozenset[str] = frozenset()) -> Any:
    """Strings inside lists, tuples, dicts and pydantic models redacted; keys/fields named in `skip` kept.

    What holds no secret comes back as the same object, so callers tell "changed" by identity, never by a
    deep comparison.
    """
    if isinstance(value, str):
        return redact_text(value)  # the same object when nothing was found
    if isinstance(value, BaseModel):
        changes = {}
        for name in type(value).model_fields:
            if name in skip:
                continue
            old = getattr(value, name)
            new = redact_tree(old, skip)
            if new is not old:
                changes[name] = new
        return value.model_copy(update=changes) if changes else value
    if isinstance(value, dict):
        items = {k: (v if k in skip else redact_tree(v, skip)) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, (list, tuple)):
        redacted = [redact_tree(v, skip) for v in value]
        return value if all(n is o for n, o in zip(redacted, value)) else type(value)(redacted)
    return value


@contextlib.contextmanager
def counting_redactions(tally: Counter[str] | None = None) -> Iterator[Counter[str]]:
    """Count into `tally`, by kind, every redaction made while the block runs (in this task and what it starts)."""
    tally = Counter() if tally is None else tally
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)
