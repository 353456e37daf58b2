#!/usr/bin/env bash
# Installs what AgentPool needs at run time (tmux, git) when they are missing.
# Uses apt-get as root, or sudo when available, or Homebrew; otherwise says what to install.
set -euo pipefail

missing_tools() {
  local tool
  for tool in tmux git; do
    command -v "$tool" >/dev/null 2>&1 || echo "$tool"
  done
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
  brew install "${missing[@]}" || true
fi

mapfile -t still < <(missing_tools)
if [ ${#still[@]} -gt 0 ]; then
  echo "AgentPool needs: ${still[*]}. Install them with your package manager and retry." >&2
  exit 1
fi
