#!/usr/bin/env bash
# Set up Quorum (virtualenv + dependencies) and start the MCP server on stdio.
#   ./run-server.sh              set up if needed, print client registration lines, start the server
#   ./run-server.sh --setup-only set up and print the registration lines, do not start
#   ./run-server.sh --http       start the streamable HTTP transport instead of stdio
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
VENV="$HERE/.venv"
PY="$VENV/bin/python"

say() { echo "$@" >&2; }   # stdout belongs to the MCP protocol

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  say "Quorum needs Python 3.11 or newer; install it and run ./run-server.sh again."; exit 1
}

setup() {
  local extras="${1:-}"
  if [ ! -x "$PY" ]; then
    say "Creating virtualenv in $VENV"
    "$(find_python)" -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip >&2
  fi
  local stamp="$VENV/.quorum-installed${extras:+-$extras}"
  if [ ! -f "$stamp" ] || [ "$HERE/pyproject.toml" -nt "$stamp" ]; then
    say "Installing dependencies${extras:+ (extras: $extras)}"
    "$PY" -m pip install --quiet -e ".${extras:+[$extras]}" >&2
    touch "$stamp"
  fi
}

print_registration() {
  local cmd="$VENV/bin/quorum-mcp"
  say ""
  say "Quorum is installed. Register it with your coding agent:"
  say ""
  say "  Claude Code:  claude mcp add quorum -s user -- $cmd"
  say "  Codex CLI:    add to ~/.codex/config.toml"
  say "                  [mcp_servers.quorum]"
  say "                  command = \"$cmd\""
  say "  Gemini CLI:   add to ~/.gemini/settings.json"
  say "                  {\"mcpServers\": {\"quorum\": {\"command\": \"$cmd\"}}}"
  say ""
  say "API keys go in the environment or in $HERE/.env (see .env.example)."
  say ""
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  mode="${1:-}"
  setup
  if [ ! -f "$HERE/.env" ] && [ -f "$HERE/.env.example" ]; then
    say "Tip: cp .env.example .env and fill in at least one API key (or CUSTOM_API_URL)."
  fi
  if [ -t 0 ] || [ "$mode" = "--setup-only" ]; then
    print_registration
  fi
  [ "$mode" = "--setup-only" ] && exit 0
  if [ "$mode" = "--http" ]; then
    exec "$PY" "$HERE/server.py" --transport http
  fi
  [ -t 0 ] && say "Starting Quorum on stdio (an MCP client normally starts it; Ctrl-C to stop)."
  exec "$PY" "$HERE/server.py"
fi
