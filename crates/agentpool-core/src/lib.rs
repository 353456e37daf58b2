//! AgentPool's core: the domain model, errors, configuration, the `Provider` and `Runtime`
//! traits with link-time provider registration, screen detection, redaction, the SQLite store
//! and the session lifecycle.
//!
//! Architecture invariant: this crate depends on no other workspace crate and knows nothing
//! of clap, rmcp or tmux commands. Front ends and runtimes plug into it.

pub mod agent_io;
pub mod artifacts;
pub mod candidates;
pub mod catalog;
pub mod config;
pub mod custom;
pub mod detect;
pub mod dialog;
pub mod env;
pub mod error;
pub mod git;
pub mod launch;
pub mod leases;
pub mod line_child;
pub mod manager;
pub mod model;
pub mod notify;
pub mod observe;
pub mod probe;
pub mod process;
pub mod prompt;
pub mod provider;
pub mod redact;
pub mod runtime;
pub mod scope;
pub mod smoke;
pub mod store;
pub mod tail;
pub mod usage;
pub mod usage_backends;
pub mod usage_screen;
pub mod util;
pub mod worktree;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod untrusted_tests;

pub use error::{Error, ErrorCode, Result};
pub use manager::{Manager, ManagerOptions, SpawnRequest, VERSION};

/// Re-exported so `register_provider!` works without a direct `inventory` dependency.
pub use inventory;
