#!/usr/bin/env bash
# Installs what AgentPool needs at run time (tmux, git) when they are missing.
# Uses apt-get as root, or sudo when available; otherwise says what to install.
set -euo pipefail

missing=()
for tool in tmux git; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    exit 0
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    exit 0
  fi
fi
if command -v brew >/dev/null 2>&1; then
  brew install "${missing[@]}"
  exit 0
fi
echo "AgentPool needs: ${missing[*]}. Install them with your package manager and retry." >&2
exit 1
