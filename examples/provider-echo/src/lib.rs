//! An example third-party provider: `echo-example` runs `cat`, which echoes what it is sent.
//!
//! It shows the whole route for a provider that lives outside AgentPool's repository: a crate
//! that depends on `agentpool-sdk`, implements [`Provider`] (its three required methods), submits a registration with
//! `agentpool_sdk::register_provider!`, and exposes a `link()` function that the binary calls
//! so the linker keeps the registration (see `src/main.rs` and `docs/adding-a-provider.md`).
//! It is deliberately not in `agentpool_providers::link_all()`.

use std::sync::{Arc, LazyLock};

use agentpool_sdk::error::Result;
use agentpool_sdk::launch;
use agentpool_sdk::probe;
use agentpool_sdk::provider::{Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo};
use async_trait::async_trait;

/// The provider id.
pub const ID: &str = "echo-example";

/// `cat` as a (very patient) coding agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoExample;

#[async_trait]
impl Provider for EchoExample {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> =
            LazyLock::new(|| ProviderInfo::new(ID, "Echo (example)", "AgentPool examples"));
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["cat"]).await
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        Ok(LaunchPlan { argv: launch::base_command(ctx)?, env: Vec::new() })
    }
}

agentpool_sdk::register_provider!(ID, 500, || Arc::new(EchoExample));

/// Called by the binary so the linker keeps this crate's registration.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_itself() {
        link();
        assert!(agentpool_sdk::provider::registrations().iter().any(|r| r.id == ID));
    }

    #[test]
    fn launches_the_detected_binary() {
        let home = std::env::temp_dir();
        let matrix = launch::plan_matrix(&EchoExample, "/usr/bin/cat", &home);
        assert_eq!(matrix["cases"][0]["argv"][0].as_str(), Some("/usr/bin/cat"), "{matrix}");
        assert_eq!(matrix["cases"][0]["argv"].as_array().map(Vec::len), Some(1), "{matrix}");
    }
}
