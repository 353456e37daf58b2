#!/usr/bin/env bash
# Real MCP hosts load AgentPool: Claude Code, opencode and Codex, installed from npm at the
# versions pinned in package.json / package-lock.json, register the built binary with
# `agentpool mcp-config --client <host> --absolute-command --install` and are asked whether
# the server works. Only login-free commands are run; nothing needs a model or the network.
#
#   bash tests/mcp-hosts/run.sh [BIN]        # BIN defaults to target/debug/agentpool
#
# Installs the host CLIs with `npm ci` into tests/mcp-hosts/node_modules (about 1.2 GB) and
# reuses them while package.json, package-lock.json and node are unchanged (a stamp file).
# Everything runs in a fresh temporary directory: HOME, XDG_*, TMPDIR, AGENTPOOL_HOME, TMUX_TMPDIR and
# a unique AGENTPOOL_TMUX_SOCKET all point inside it, and a scratch git repository is the
# working directory. The hosts themselves run without AGENTPOOL_HOME, AGENTPOOL_TMUX_SOCKET and
# TMUX_TMPDIR, so the server gets its pool only from the entry that mcp-config wrote.
# Needs node >= 18 with npm, git and timeout; a missing one is a failure, never a skip.
# One line per check (`ok - ...` / `FAIL - ... : detail`); the last line is
# `mcp-hosts: N passed, M failed`, and the exit status is non-zero on any failure.
set -uo pipefail

# Tools in the default toolset (docs/mcp-clients.md, docs/mcp-tools.md).
DEFAULT_TOOLS=16
LIMIT=60 # seconds, for every host or agentpool command

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
npm_bin="$here/node_modules/.bin"

passed=0
failed=0
ok() {
  echo "ok - $1"
  passed=$((passed + 1))
}
fail() {
  local detail
  detail="$(printf '%s' "${2:-}" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | tr '\n\t' '  ' | tr -s ' ' | cut -c1-600)"
  echo "FAIL - $1 : $detail"
  failed=$((failed + 1))
}
summary() { echo "mcp-hosts: $passed passed, $failed failed"; }
die() {
  fail "prerequisites" "$*"
  summary
  exit 1
}

# --- prerequisites: fail loudly with what to install --------------------------------------------
command -v node >/dev/null 2>&1 || die "node is not installed; install Node.js 18 or newer with npm (apt-get install nodejs npm, brew install node, or https://nodejs.org/)"
command -v npm >/dev/null 2>&1 || die "npm is not installed; install npm (apt-get install npm, or Node.js from https://nodejs.org/, which includes it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || die "node $(node --version) is too old; the host CLIs need Node.js 18 or newer"
command -v git >/dev/null 2>&1 || die "git is not installed (bash scripts/setup.sh installs it)"
if command -v timeout >/dev/null 2>&1; then
  timeout_cmd=timeout
elif command -v gtimeout >/dev/null 2>&1; then
  timeout_cmd=gtimeout
else
  die "timeout (GNU coreutils) is not installed; it bounds every host command (brew install coreutils)"
fi
[[ -x "$bin" ]] || die "no agentpool binary at $bin; build it first: cargo build -p agentpool-cli"
bin="$(node "$here/hosts.mjs" realpath "$bin")" # what --absolute-command writes (current_exe)

# --- host CLIs: npm ci, reused while the manifests and node are unchanged ------------------------
stamp="$here/node_modules/.agentpool-mcp-hosts-stamp"
want="$(node -e '
  const h = require("crypto").createHash("sha256");
  for (const f of process.argv.slice(1)) h.update(require("fs").readFileSync(f));
  h.update(process.version);
  console.log(h.digest("hex"));' "$here/package.json" "$here/package-lock.json")"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  echo "mcp-hosts: installing the host CLIs (npm ci, about 1.2 GB)"
  # Install scripts stay on: claude-code and opencode-ai put their platform binary in place
  # with a postinstall (package.json allowScripts names exactly those two).
  if ! npm_log="$(cd "$here" && "$timeout_cmd" -k 10 1200 npm ci --no-audit --no-fund --loglevel=error 2>&1)"; then
    echo "$npm_log" >&2
    die "npm ci failed in tests/mcp-hosts (it needs the npm registry or a warm npm cache)"
  fi
  echo "$want" >"$stamp"
fi
for cli in claude opencode codex; do
  [[ -x "$npm_bin/$cli" ]] || die "$npm_bin/$cli is missing after npm ci; remove tests/mcp-hosts/node_modules and run again"
done

# --- the sandbox ----------------------------------------------------------------------------------
# Nothing from the caller's environment may point a host or the server elsewhere.
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(AGENTPOOL_|XDG_|OPENCODE_)' || true)
unset TMUX TMUX_PANE TMUX_TMPDIR CODEX_HOME CODEX_SQLITE_HOME CLAUDE_CONFIG_DIR
# Hosts: no update checks, telemetry, error reports or marketplace installs (there is no network).
export DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1 DISABLE_INSTALLATION_CHECKS=1
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1
export OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_SHARE=1
export OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1 OPENCODE_DISABLE_CLAUDE_CODE=1
export NO_COLOR=1

tmp="$(mktemp -d "${TMPDIR:-/tmp}/agentpool-mcp-hosts.XXXXXX")"
tmp="$(cd "$tmp" && pwd -P)"
socket="agentpool-mcp-hosts-$$-$RANDOM"
tmuxdir="$tmp/tmux"
repo="$tmp/repo"
mkdir -p "$tmuxdir" && chmod 700 "$tmuxdir"

# Processes still running with our sandbox in their environment (the hosts and the servers
# they started all carry HOME=$tmp/...): only these are ever killed, by pid.
sandbox_pids() {
  [[ -d /proc/self ]] || return 0
  grep -lzF -- "$1" /proc/[0-9]*/environ 2>/dev/null | sed -E 's|^/proc/([0-9]+)/environ$|\1|' | grep -vx "$$" || true
}
cleanup() {
  TMUX_TMPDIR="$tmuxdir" tmux -L "$socket" kill-server >/dev/null 2>&1 || true
  local pids
  pids="$(sandbox_pids "HOME=$tmp/")"
  if [[ -n "$pids" ]]; then
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    sleep 1
    pids="$(sandbox_pids "HOME=$tmp/")" # looked up again: a pid that exited may be reused
    # shellcheck disable=SC2086
    [[ -z "$pids" ]] || kill -9 $pids 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! git init -q "$repo" ||
  ! git -C "$repo" -c user.name=agentpool-test -c user.email=test@agentpool.invalid -c commit.gpgsign=false \
    commit -q --allow-empty -m init; then
  die "could not create a scratch git repository in $repo"
fi

# run HOST MODE CMD...: runs CMD in the scratch repo with HOST's own home and config dirs.
# MODE `install` also passes the pool variables (only mcp-config sees them); MODE `host` does
# not. Sets $out (stdout), $err (stderr) and $rc; the time limit gives rc 124.
run() {
  local host="$1" mode="$2"
  shift 2
  local h="$tmp/$host"
  mkdir -p "$h/home" "$h/config" "$h/data" "$h/cache" "$h/state" "$h/tmp"
  local -a vars=(HOME="$h/home" XDG_CONFIG_HOME="$h/config" XDG_DATA_HOME="$h/data"
    XDG_CACHE_HOME="$h/cache" XDG_STATE_HOME="$h/state" TMPDIR="$h/tmp" PATH="$npm_bin:$PATH")
  if [[ "$mode" == install ]]; then
    vars+=(AGENTPOOL_HOME="$h/pool" AGENTPOOL_TMUX_SOCKET="$socket" TMUX_TMPDIR="$tmuxdir")
  fi
  rc=0
  (cd "$repo" && env "${vars[@]}" "$timeout_cmd" -k 5 "$LIMIT" "$@" </dev/null >"$tmp/out" 2>"$tmp/err") || rc=$?
  out="$(cat "$tmp/out")"
  err="$(cat "$tmp/err")"
}
why() { # the detail for a failed command
  if ((rc == 124)); then echo "timed out after ${LIMIT}s; $out $err"; else echo "exit $rc; $out $err"; fi
}

# install_twice HOST CLIENT "FIRST ACTIONS": runs --install twice; the second run must change nothing.
install_twice() {
  local host="$1" client="$2" first="$3" action
  run "$host" install "$bin" mcp-config --client "$client" --absolute-command --install --json
  if ((rc != 0)); then
    fail "$host: mcp-config --client $client --absolute-command --install" "$(why)"
    return 1
  fi
  if ! action="$(node "$here/hosts.mjs" action <<<"$out")"; then
    fail "$host: mcp-config --client $client --absolute-command --install" "${action#problem: }"
    return 1
  fi
  if [[ " $first " == *" $action "* ]]; then
    ok "$host: mcp-config --client $client --absolute-command --install ($action)"
  else
    fail "$host: mcp-config --client $client --absolute-command --install" "action $action, want one of: $first"
  fi
  run "$host" install "$bin" mcp-config --client "$client" --absolute-command --install --json
  if ((rc != 0)); then
    fail "$host: the same --install again is idempotent" "$(why)"
    return 0
  fi
  if ! action="$(node "$here/hosts.mjs" action <<<"$out")"; then
    fail "$host: the same --install again is idempotent" "${action#problem: }"
    return 0
  fi
  if [[ "$action" == unchanged ]]; then
    ok "$host: the same --install again is idempotent (unchanged)"
  else
    fail "$host: the same --install again is idempotent" "action $action, want unchanged"
  fi
}

# The server that HOST started used the pool from the entry's env, not $HOME/.agentpool, and
# no server outlives the host.
pool_checks() {
  local host="$1" h="$tmp/$1" n
  if [[ -f "$h/pool/agentpool.sqlite" ]]; then
    ok "$host: the server opened the entry's AGENTPOOL_HOME (agentpool.sqlite there)"
  else
    fail "$host: the server opened the entry's AGENTPOOL_HOME" "no $h/pool/agentpool.sqlite ($([[ -d "$h/pool" ]] && echo "it holds: $(find "$h/pool" -mindepth 1 | tr '\n' ' ')" || echo "no such directory"))"
  fi
  if [[ -e "$h/home/.agentpool" ]]; then
    fail "$host: no \$HOME/.agentpool" "$h/home/.agentpool exists: the server ignored the entry's env ($(find "$h/home/.agentpool" -mindepth 1 | tr '\n' ' '))"
  else
    ok "$host: no \$HOME/.agentpool"
  fi
  if [[ ! -d /proc/self ]]; then
    echo "note - $host: no /proc here, so leftover servers are not looked for"
    return 0
  fi
  local deadline=$((SECONDS + 10))
  while :; do
    n="$(sandbox_pids "AGENTPOOL_HOME=$h/pool" | wc -l)"
    ((n == 0 || SECONDS >= deadline)) && break
    sleep 0.2
  done
  if ((n == 0)); then
    ok "$host: no agentpool server left running"
  else
    fail "$host: no agentpool server left running" "$n process(es) with AGENTPOOL_HOME=$h/pool still running 10 s after the host exited"
  fi
}

version_check() {
  local host="$1" cli="$2" pkg="$3" pin got
  pin="$(node -p 'require(process.argv[1]).dependencies[process.argv[2]]' "$here/package.json" "$pkg")"
  run "$host" host "$cli" --version
  got="$(printf '%s' "$out" | head -n 1)"
  if ((rc == 0)) && [[ "$got" == *"$pin"* ]]; then
    ok "$host: $cli --version is the pinned $pkg $pin"
  else
    fail "$host: $cli --version is the pinned $pkg $pin" "$(why)"
  fi
}

echo "mcp-hosts: $bin, sandbox $tmp"

# --- 1. Claude Code ------------------------------------------------------------------------------
host=claude-code
pool="$tmp/$host/pool"
version_check "$host" claude @anthropic-ai/claude-code
if install_twice "$host" claude-code "add replace"; then
  run "$host" host claude mcp list
  if ((rc != 0)); then
    fail "$host: claude mcp list" "$(why)"
  elif ! grep -qE "^agentpool: .*Connected" <<<"$out"; then
    fail "$host: claude mcp list shows agentpool Connected" "$out $err"
  elif grep -qiE "fetch failed|Failed" <<<"$out$err"; then
    fail "$host: claude mcp list shows no failure" "$out $err"
  else
    ok "$host: claude mcp list shows agentpool Connected, no failure"
  fi
  run "$host" host claude mcp get agentpool
  if ((rc != 0)); then
    fail "$host: claude mcp get agentpool" "$(why)"
  elif ! grep -qE "Status: .*Connected" <<<"$out"; then
    fail "$host: claude mcp get agentpool shows Status Connected" "$out $err"
  elif grep -q "Issue" <<<"$out$err"; then
    fail "$host: claude mcp get agentpool has no Issue" "$out $err"
  elif ! grep -qF "AGENTPOOL_HOME=$pool" <<<"$out" || ! grep -qF "AGENTPOOL_TMUX_SOCKET=$socket" <<<"$out"; then
    fail "$host: claude mcp get agentpool shows the entry's env" "$out"
  else
    ok "$host: claude mcp get agentpool shows Status Connected with the entry's env, no Issue"
  fi
  pool_checks "$host"
fi

# --- 2. opencode ---------------------------------------------------------------------------------
host=opencode
version_check "$host" opencode opencode-ai
if install_twice "$host" opencode "create update"; then
  run "$host" host opencode mcp list --pure
  list="$(printf '%s\n%s' "$out" "$err" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g')"
  if ((rc != 0)); then
    fail "$host: opencode mcp list" "$(why)"
  elif ! grep -qE "✓ agentpool +connected" <<<"$list"; then
    fail "$host: opencode mcp list shows agentpool connected" "$list"
  elif grep -qiE "failed" <<<"$list"; then
    fail "$host: opencode mcp list shows no failure" "$list"
  else
    ok "$host: opencode mcp list shows agentpool connected (its MCP client listed the tools)"
  fi
  pool_checks "$host"
fi

# --- 3. Codex ------------------------------------------------------------------------------------
host=codex
pool="$tmp/$host/pool"
version_check "$host" codex @openai/codex
if install_twice "$host" codex "create update"; then
  run "$host" host codex mcp list
  line="$(grep -E '^agentpool ' <<<"$out" || true)"
  if ((rc != 0)); then
    fail "$host: codex mcp list" "$(why)"
  elif [[ "$line" != *"$bin"* || "$line" != *" mcp "* || "$line" != *"AGENTPOOL_HOME="* || "$line" != *"AGENTPOOL_TMUX_SOCKET="* || "$line" != *enabled* ]]; then
    fail "$host: codex mcp list shows agentpool enabled with its command and env" "$out"
  else
    ok "$host: codex mcp list shows agentpool enabled with its command and env"
  fi
  run "$host" host codex mcp get agentpool --json
  if ((rc != 0)); then
    fail "$host: codex mcp get agentpool --json" "$(why)"
  elif verdict="$(node "$here/hosts.mjs" codex-entry "$bin" "$pool" "$socket" "$tmuxdir" <<<"$out")"; then
    ok "$host: codex mcp get agentpool --json: ${verdict#ok }"
  else
    fail "$host: codex mcp get agentpool --json" "${verdict#problem: }"
  fi
  # The driver gives up a little before the outer limit, so its own message is the one shown.
  run "$host" host node "$here/hosts.mjs" app-server $((LIMIT > 20 ? (LIMIT - 10) * 1000 : LIMIT * 500)) "$DEFAULT_TOOLS"
  if ((rc == 0)); then
    ok "$host: codex app-server mcpServerStatus/list: agentpool ${out#ok }"
  else
    fail "$host: codex app-server mcpServerStatus/list" "${out#problem: } $([[ $rc == 124 ]] && echo "(timed out)")"
  fi
  pool_checks "$host"
fi

summary
((failed == 0))
