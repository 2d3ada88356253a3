#!/usr/bin/env bash
# Set up the environment (virtualenv, dev dependencies, redis-server, MCP Inspector CLI) and run the whole suite.
# Extra arguments go to pytest, e.g. ./run-tests.sh -k storage
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
# shellcheck source=run-server.sh
source "$HERE/run-server.sh"
setup dev

# Redis is a real backend: install the server when we can (CI runs as root); tests skip it otherwise.
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing redis-server (apt)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 || \
      echo "redis-server could not be installed; Redis tests will be skipped" >&2
  else
    echo "redis-server not found; Redis tests will be skipped" >&2
  fi
fi

# Real clients the simulator tests drive the server with: the MCP Inspector CLI and the agent CLIs (package.json).
npm_missing() {
  local bin
  for bin in mcp-inspector claude gemini codex; do [ -x "$HERE/node_modules/.bin/$bin" ] || return 0; done
  [ "$HERE/package.json" -nt "$HERE/node_modules/.package-lock.json" ]
}
if command -v npm >/dev/null 2>&1 && npm_missing; then
  echo "Installing the MCP Inspector and the Claude Code, Gemini and Codex CLIs (npm)" >&2
  npm install --no-audit --no-fund --silent >&2 || echo "npm install failed; tests that need these clients will be skipped" >&2
fi

export PYTHONDONTWRITEBYTECODE=1
exec "$PY" -m pytest "$@"
