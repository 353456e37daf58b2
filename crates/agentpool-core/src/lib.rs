//! AgentPool's engine: configuration, the provider registry, redaction, the SQLite store and
//! the session lifecycle, over the traits and helpers of `agentpool-sdk` (re-exported here at
//! their old paths: `agentpool_core::model`, `::provider`, `::detect`, …).
//!
//! Architecture invariant: this crate depends on `agentpool-sdk` alone among workspace crates
//! and knows nothing of clap, rmcp or tmux commands. Front ends and runtimes plug into it.

pub use agentpool_sdk::{
    detect, dialog, env, error, launch, line_child, model, probe, process, prompt, runtime, signal, tail, usage_screen,
    util,
};

pub mod agent_io;
pub mod api;
pub mod candidates;
pub mod catalog;
pub mod config;
pub mod custom;
pub mod describe;
pub mod machine;
pub mod notify;
pub mod pool;
pub mod profile;
pub mod provider;
pub mod redact;
pub mod scope;
pub mod session;
pub mod smoke;
pub mod store;
pub mod terminal;
pub mod usage;
pub mod workspace;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod untrusted_tests;

pub use api::SpawnRequest;
pub use error::{Error, ErrorCode, Result};
pub use pool::{Pool, PoolOptions, VERSION};

/// Re-exported so `agentpool_core::register_provider!` keeps working.
pub use agentpool_sdk::{inventory, register_provider};

/// Test helpers shared with the SDK (`check_property`, `word_wrap`).
#[cfg(test)]
use agentpool_sdk::testing as test_support;
