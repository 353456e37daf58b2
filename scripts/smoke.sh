#!/usr/bin/env bash
# The main job: build AgentPool and run the fake-provider smoke in this repository.
# Needs no account: the fake worker is built into the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p agentpool-cli
exec target/release/agentpool smoke --provider fake-question --repo . --json
