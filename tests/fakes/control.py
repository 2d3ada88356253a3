"""Script and inspect a fake provider running in another process, through its control API."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any


class FakeProviderControl:
    """Thin stdlib client for `/_control/*` of a fake provider at `url`."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: object = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.url}/_control/{path}", data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def script(self, replies: Sequence[Mapping[str, Any]]) -> int:
        """Queue reply specs (dicts with ReplySpec fields); returns how many are waiting."""
        return int(self._call("POST", "script", list(replies))["queued"])

    def requests(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "requests"))

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change `delay`, `hang_seconds` or `models`; returns the config now in force."""
        return dict(self._call("POST", "config", settings))
