"""Tool calls as real MCP clients send them, recorded from the CLIs themselves (see simulator_tests/test_real_clients.py).

Each entry is the `params` of one `tools/call` request, copied from a recording of the client registered with
Quorum through a logging wrapper (tests/fakes/mcp_recorder.py), with ids shortened. The live tests check
that the installed CLIs still send these shapes; tests/test_client_calls.py replays them against the server.
"""

from __future__ import annotations

from typing import Any

# Claude Code 2.1.197: arguments exactly as its model wrote them; the progress token is an integer in `_meta`,
# next to its own tool-use id.
CLAUDE_CODE: dict[str, Any] = {
    "name": "version",
    "arguments": {},
    "_meta": {"claudecode/toolUseId": "toolu_fake1", "progressToken": 3},
}

# Gemini CLI 0.61.0: adds `wait_for_previous` to every tool schema it shows its model, so the model's value
# comes back in the arguments; the progress token is a UUID string.
GEMINI_CLI: dict[str, Any] = {
    "name": "version",
    "arguments": {"wait_for_previous": False},
    "_meta": {"progressToken": "4fff6025-2a9a-48d5-b2e9-02e7d1bbdb0c"},
}

# Codex CLI 0.171.0: arguments unchanged; turn metadata and an integer progress token in `_meta`.
CODEX_CLI: dict[str, Any] = {
    "name": "chat",
    "arguments": {"prompt": "say hi", "model": "gpt-fake"},
    "_meta": {
        "callId": "call_fake1",
        "x-codex-turn-metadata": {
            "session_id": "01a2321a-3285-75a2-8156-e6eace6a6331",
            "turn_id": "01a2321a-40b3-7c61-b829-45a4f1f73b0f",
            "model": "gpt-5.5",
            "sandbox_mode": "read-only",
            "codex_version": "0.171.0",
        },
        "threadId": "01a2321a-3285-75a2-8156-e6eace6a6331",
        "itemId": "fc_fake1",
        "progressToken": 1,
    },
}

RECORDED: dict[str, dict[str, Any]] = {"claude": CLAUDE_CODE, "gemini": GEMINI_CLI, "codex": CODEX_CLI}

# Schema keywords Codex CLI removes before its model sees a tool (it sends the rest with `strict: false`).
CODEX_STRIPPED_KEYWORDS = ("minimum", "maximum", "default")
