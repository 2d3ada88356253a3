#!/usr/bin/env bash
# Set up Quorum (virtualenv + dependencies) and start the MCP server on stdio.
#   ./run-server.sh              set up if needed, print client registration lines, start the server
#   ./run-server.sh --setup-only set up and print the registration lines, do not start
#   ./run-server.sh --http       start the streamable HTTP transport instead of stdio
#   ./run-server.sh --register claude|codex|gemini|all
#                                register Quorum with those agent CLIs through their own `mcp add` commands
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
  # An install with the dev extras (./run-tests.sh) includes everything the server itself needs.
  [ -z "$extras" ] && [ ! -f "$stamp" ] && [ -f "$VENV/.quorum-installed-dev" ] && stamp="$VENV/.quorum-installed-dev"
  if [ ! -f "$stamp" ] || [ "$HERE/pyproject.toml" -nt "$stamp" ]; then
    say "Installing dependencies${extras:+ (extras: $extras)}"
    "$PY" -m pip install --quiet -e ".${extras:+[$extras]}" >&2
    touch "$stamp"
  fi
}

# Tool-call timeouts: reasoning models can think for minutes (Codex: seconds, Gemini: milliseconds).
TOOL_TIMEOUT_S=1200

print_registration() {
  local cmd="$VENV/bin/quorum-mcp"
  say ""
  say "Quorum is installed. Register it with your coding agent (or: ./run-server.sh --register claude|codex|gemini|all):"
  say ""
  say "  Claude Code:"
  say "    claude mcp add quorum -s user -- $cmd"
  say "  Codex CLI (then add the timeout line under [mcp_servers.quorum] in ~/.codex/config.toml):"
  say "    codex mcp add quorum -- $cmd"
  say "    tool_timeout_sec = $TOOL_TIMEOUT_S"
  say "  Gemini CLI:"
  say "    gemini mcp add -s user --trust --timeout ${TOOL_TIMEOUT_S}000 quorum $cmd"
  say ""
  say "API keys go in the environment or in $HERE/.env (see .env.example)."
  say ""
}

# Give the Codex entry its tool timeout: `codex mcp add` cannot set it, so edit that one key, after a backup.
codex_tool_timeout() {
  local config="${CODEX_HOME:-$HOME/.codex}/config.toml"
  "$PY" - "$config" "$TOOL_TIMEOUT_S" <<'PY' >&2
import shutil, sys, time, tomllib
path, seconds = sys.argv[1], int(sys.argv[2])
text = open(path, encoding="utf-8").read()
entry = tomllib.loads(text).get("mcp_servers", {}).get("quorum", {})
if "tool_timeout_sec" in entry:
    print(f"  {path}: tool_timeout_sec is already {entry['tool_timeout_sec']}; left as it is")
    sys.exit(0)
lines = text.splitlines(keepends=True)
header = next((i for i, line in enumerate(lines) if line.strip() == "[mcp_servers.quorum]"), None)
if header is None:
    print(f"  {path}: no [mcp_servers.quorum] table found; add tool_timeout_sec = {seconds} to Quorum's entry by hand")
    sys.exit(1)
backup = f"{path}.bak-{time.strftime('%Y%m%d-%H%M%S')}"
shutil.copy2(path, backup)
lines.insert(header + 1, f"tool_timeout_sec = {seconds}\n")
open(path, "w", encoding="utf-8").writelines(lines)
tomllib.loads("".join(lines))  # still valid TOML
print(f"  {path}: added tool_timeout_sec = {seconds} (backup: {backup})")
PY
}

register_one() {
  local cli="$1" cmd="$VENV/bin/quorum-mcp"
  if ! command -v "$cli" >/dev/null 2>&1; then
    say "$cli: not found on PATH; install it first (npm), then run ./run-server.sh --register $cli"
    return 1
  fi
  say ""
  say "== $cli"
  case "$cli" in
    claude)
      if claude mcp get quorum >/dev/null 2>&1; then
        say "  already registered (to replace it: claude mcp remove quorum -s user)"
      else
        claude mcp add quorum -s user -- "$cmd" >&2 || return 1
      fi
      claude mcp get quorum >&2 ;;
    codex)
      if codex mcp get quorum >/dev/null 2>&1; then
        say "  already registered (to replace it: codex mcp remove quorum)"
      else
        codex mcp add quorum -- "$cmd" >&2 || return 1
      fi
      codex_tool_timeout || return 1
      codex mcp get quorum >&2 ;;
    gemini)
      local listed
      listed="$(gemini mcp list 2>&1 || true)"
      if grep -q "quorum:" <<<"$listed"; then
        say "  already registered (to replace it: gemini mcp remove -s user quorum)"
      else
        gemini mcp add -s user --trust --timeout "${TOOL_TIMEOUT_S}000" quorum "$cmd" >&2 || return 1
      fi
      # Listing outside a trusted folder shows every server as disabled; this shows the connection check.
      GEMINI_CLI_TRUST_WORKSPACE=true gemini mcp list 2>&1 | grep "quorum:" >&2 ;;
    *)
      say "Unknown client '$cli': use claude, codex, gemini or all."; return 2 ;;
  esac
}

register() {
  local target="${1:-}" failed=0 cli
  case "$target" in
    all) for cli in claude codex gemini; do
           if command -v "$cli" >/dev/null 2>&1; then register_one "$cli" || failed=1
           else say "$cli: not found on PATH; skipped"; fi
         done ;;
    claude|codex|gemini) register_one "$target" || failed=1 ;;
    *) say "Usage: ./run-server.sh --register claude|codex|gemini|all"; return 2 ;;
  esac
  return "$failed"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  mode="${1:-}"
  setup
  if [ "$mode" = "--register" ]; then
    register "${2:-}"
    exit $?
  fi
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
