#!/usr/bin/env bash
# Installs what AgentPool needs at run time (tmux, git) when they are missing; with --for-tests
# also what the MCP SDK conformance tests need (node and npm, python3 with venv).
# Uses apt-get as root, or sudo when available, or Homebrew; otherwise says what to install.
set -euo pipefail

for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

# Prints the packages to install: the command's own name, or the package that provides it.
missing_tools() {
  local tool
  for tool in tmux git; do
    command -v "$tool" >/dev/null 2>&1 || echo "$tool"
  done
  if [ $for_tests = 1 ]; then
    command -v node >/dev/null 2>&1 || echo nodejs
    command -v npm >/dev/null 2>&1 || echo npm
    command -v python3 >/dev/null 2>&1 || echo python3
    if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      if command -v apt-get >/dev/null 2>&1; then echo python3-venv; fi
    fi
  fi
}

mapfile -t missing < <(missing_tools)
[ ${#missing[@]} -eq 0 ] && exit 0

# apt-get: try the package lists already on the machine first (works offline), and refresh
# them only when that fails (a fresh container ships with none).
apt_install() {
  "$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ||
    { "$@" apt-get update -qq && "$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }
}

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt_install || true
elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
  apt_install sudo || true
elif command -v brew >/dev/null 2>&1; then
  brew_names=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs | npm) brew_names+=(node) ;; python3 | python3-venv) brew_names+=(python) ;; *) brew_names+=("$p") ;; esac
  done
  brew install "${brew_names[@]}" || true
fi

mapfile -t still < <(missing_tools)
if [ ${#still[@]} -gt 0 ]; then
  echo "AgentPool needs: ${still[*]}. Install them with your package manager and retry." >&2
  exit 1
fi
