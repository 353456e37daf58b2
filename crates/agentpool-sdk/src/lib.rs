//! The AgentPool SDK: everything a provider or runtime crate builds on, and nothing of the
//! engine. The `Provider` and `Runtime` traits with link-time registration, launch plans and
//! their building blocks, screen rules and the screen detection they extend, startup dialogs,
//! binary discovery, usage-probe helpers, process helpers, the model catalog, errors with
//! stable codes and the shared data model.
//!
//! Architecture invariant: this crate depends on no other workspace crate. Provider crates and
//! `agentpool-tmux` depend on it alone; `agentpool-core` (the engine) builds on it and
//! re-exports its modules at their old paths.

pub mod catalog;
pub mod config;
pub mod detect;
pub mod dialog;
pub mod env;
pub mod error;
pub mod launch;
pub mod line_child;
pub mod model;
pub mod probe;
pub mod process;
pub mod prompt;
pub mod provider;
pub mod runtime;
pub mod signal;
pub mod tail;
pub mod usage;
pub mod usage_screen;
pub mod util;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, ErrorCode, Result};

/// AgentPool's version (the SDK is versioned with the workspace).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Re-exported so `register_provider!` works without a direct `inventory` dependency.
pub use inventory;
