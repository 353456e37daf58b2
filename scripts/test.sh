#!/usr/bin/env bash
# Runs every test: unit tests, end-to-end tests over the built binary (real tmux on private
# sockets, temporary AGENTPOOL_HOME), and the workspace checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --for-tests
# Tests never touch the user's world; make that hold even if they try.
export AGENTPOOL_HOME="${TMPDIR:-/tmp}/agentpool-test-home-$$"
export AGENTPOOL_TMUX_SOCKET="agentpool-test-$$"
trap 'tmux -L "$AGENTPOOL_TMUX_SOCKET" kill-server 2>/dev/null || true; rm -rf "$AGENTPOOL_HOME"' EXIT
cargo build --locked -p agentpool-cli
# --no-fail-fast: one failing test binary does not hide the results of the others.
cargo test --workspace --locked --no-fail-fast
# The official TypeScript and Python MCP SDKs drive the built binary over stdio (needs node, python3).
bash tests/mcp-sdk/run.sh target/debug/agentpool
# Real MCP hosts (Claude Code, opencode, Codex from npm, pinned) load it via `mcp-config --install`.
bash tests/mcp-hosts/run.sh target/debug/agentpool
# Real Claude Code and Codex CLI (each also at an older release), Copilot CLI and opencode, pinned,
# driven through every lifecycle scenario against a loopback model stand-in: completion, idle,
# approvals, questions, errors, interrupt, read-only, terminate, resume, signed out
# (docs/conformance.md).
cargo xtask conformance --cli claude
cargo xtask conformance --cli codex
cargo xtask conformance --cli claude --version 2.1.197
cargo xtask conformance --cli codex --version 0.169.0
cargo xtask conformance --cli copilot
cargo xtask conformance --cli opencode
# The install paths: wheel (pip, uv, uvx, pipx), npm packages (npx), install.sh, from `cargo xtask dist`.
bash tests/dist/run.sh target/debug/agentpool
# Formatting (rustfmt.toml) and lints (the workspace's clippy settings), warnings as errors.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
else
  echo "test.sh: rustfmt is not installed; skipping the format check" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "test.sh: clippy is not installed; skipping the lint check" >&2
fi
# Architecture invariants and hygiene (also run inside `cargo test`, kept here for a clear line).
cargo xtask tidy
# Snapshots and the generated docs/cli.md and docs/mcp-tools.md must match the code.
cargo xtask snapshot --check
# Licences, bans and sources (no advisory database is needed for these three checks).
if ! command -v cargo-deny >/dev/null 2>&1; then
  cargo install --locked cargo-deny
fi
cargo deny check licenses bans sources
