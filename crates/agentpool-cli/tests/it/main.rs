//! Integration tests of the `agentpool` binary built from this crate.

mod real_providers;
mod redact_pipe;
mod usage;
mod usage_screen;
