//! End-to-end tests of `agentpool mcp` over stdio: an rmcp client (or a raw JSON-RPC client)
//! drives the built binary as a child process, with a temporary `AGENTPOOL_HOME` and a private
//! tmux socket per test.

// Helpers outside `#[test]` fns unwrap too: a panic is a test failure with a clear location.
#![allow(clippy::unwrap_used)]

mod harness;
mod lifecycle;
mod models;
mod protocol;
mod stats;
mod structured;
mod surface;
