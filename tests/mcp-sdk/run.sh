#!/usr/bin/env bash
# Cross-ecosystem MCP conformance: the official TypeScript SDK (client.mjs) and the official
# Python SDK (client.py) drive the built agentpool binary over stdio.
#
#   bash tests/mcp-sdk/run.sh [BIN]        # BIN defaults to target/debug/agentpool
#
# Installs the pinned packages (npm ci into tests/mcp-sdk/node_modules, a venv under
# target/mcp-sdk-venv) and reuses them while package-lock.json / requirements.txt and the
# interpreter are unchanged. Needs node >= 18 with npm, python3 >= 3.10 with venv, tmux and git;
# a missing one is a failure, never a skip. The last line is `mcp-sdk: N passed, M failed`.
set -euo pipefail

bin_arg="${1:-target/debug/agentpool}"
case "$bin_arg" in
  /*) bin="$bin_arg" ;;
  *) bin="$PWD/$bin_arg" ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ "$bin_arg" == target/* && ! -e "$bin" ]]; then
  bin="$root/$bin_arg" # relative to the repository when not found from the caller's directory
fi
venv="$root/target/mcp-sdk-venv"

summary() { echo "mcp-sdk: $1 passed, $2 failed"; }
die() {
  echo "mcp-sdk: $*" >&2
  summary 0 1
  exit 1
}

# --- prerequisites: fail loudly with what to install --------------------------------------------
command -v node >/dev/null 2>&1 || die "node is not installed; install Node.js 18 or newer (with npm): https://nodejs.org/ or your package manager (apt-get install nodejs npm, brew install node)"
command -v npm >/dev/null 2>&1 || die "npm is not installed; install npm (apt-get install npm, or Node.js from https://nodejs.org/, which includes it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || die "node $(node --version) is too old; @modelcontextprotocol/sdk needs Node.js 18 or newer"
command -v python3 >/dev/null 2>&1 || die "python3 is not installed; install Python 3.10 or newer with venv support (apt-get install python3 python3-venv, brew install python)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  die "python3 $(python3 -c 'import platform; print(platform.python_version())') is too old; the mcp package needs Python 3.10 or newer"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  die "python3 has no venv/ensurepip support; install it (Debian/Ubuntu: apt-get install python3-venv)"
command -v tmux >/dev/null 2>&1 || die "tmux is not installed (bash scripts/setup.sh installs it)"
command -v git >/dev/null 2>&1 || die "git is not installed (bash scripts/setup.sh installs it)"
[[ -x "$bin" ]] || die "no agentpool binary at $bin; build it first: cargo build -p agentpool-cli"

# Content hash of files plus extra text, for the reuse stamps.
fingerprint() {
  python3 - "$@" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
for arg in sys.argv[1:]:
    h.update(open(arg, "rb").read() if arg.startswith("/") else arg.encode())
print(h.hexdigest())
EOF
}

# --- TypeScript SDK: npm ci, reused while the lockfile and node are unchanged -------------------
node_stamp="$here/node_modules/.agentpool-mcp-sdk-stamp"
node_want="$(fingerprint "$here/package.json" "$here/package-lock.json" "node-$(node --version)")"
if [[ "$(cat "$node_stamp" 2>/dev/null || true)" != "$node_want" ]]; then
  echo "mcp-sdk: installing the TypeScript SDK (npm ci)"
  if ! npm_log="$(cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1)"; then
    echo "$npm_log" >&2
    die "npm ci failed in tests/mcp-sdk (it needs the npm registry or a warm npm cache)"
  fi
  echo "$node_want" >"$node_stamp"
fi

# --- Python SDK: a venv under target/, reused while requirements.txt and python are unchanged ---
py_stamp="$venv/.agentpool-mcp-sdk-stamp"
py_want="$(fingerprint "$here/requirements.txt" "python-$(python3 -c 'import sys; print(sys.version)')")"
if [[ "$(cat "$py_stamp" 2>/dev/null || true)" != "$py_want" ]]; then
  echo "mcp-sdk: installing the Python SDK (venv at target/mcp-sdk-venv)"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
  if ! pip_log="$("$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$here/requirements.txt" 2>&1)"; then
    echo "$pip_log" >&2
    die "pip install -r tests/mcp-sdk/requirements.txt failed (it needs PyPI or a warm pip cache)"
  fi
  echo "$py_want" >"$py_stamp"
fi

# --- run both clients ---------------------------------------------------------------------------
total_pass=0
total_fail=0
limit=() # a second guard around the clients' own 180 s timeouts
if command -v timeout >/dev/null 2>&1; then limit=(timeout -k 10 240); fi

run_client() {
  local name="$1"
  shift
  local out rc=0
  out="$(mktemp)"
  ${limit[@]+"${limit[@]}"} "$@" "$bin" 2>&1 | tee "$out" || rc=$?
  local result
  result="$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+$' "$out" | tail -n 1 || true)"
  rm -f "$out"
  if [[ -z "$result" ]]; then
    echo "$name FAIL client: exited (status $rc) without a RESULT line"
    total_fail=$((total_fail + 1))
    return
  fi
  local p f
  p="$(sed -E 's/^RESULT passed=([0-9]+) failed=([0-9]+)$/\1/' <<<"$result")"
  f="$(sed -E 's/^RESULT passed=([0-9]+) failed=([0-9]+)$/\2/' <<<"$result")"
  if ((rc != 0 && f == 0)); then
    echo "$name FAIL client: exit status $rc with no failed check"
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
}

cd "$root"
run_client ts node "$here/client.mjs"
run_client py "$venv/bin/python" "$here/client.py"

summary "$total_pass" "$total_fail"
((total_fail == 0))
