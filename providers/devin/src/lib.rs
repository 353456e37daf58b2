//! The `devin-cli` provider: Cognition's Devin CLI (`devin`).
//!
//! Launch: `devin [--model M]`; the prompt is pasted after launch. Read-only isolation is a
//! prompt rule. A signed-out Devin CLI is `login_required`, and the hint names
//! `devin auth login`.

use std::sync::{Arc, LazyLock};

use agentpool_sdk::error::Result;
use agentpool_sdk::launch;
use agentpool_sdk::model::Capability;
use agentpool_sdk::probe;
use agentpool_sdk::provider::{
    Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo, ScreenRules, StartupSpec,
};
use async_trait::async_trait;

mod usage;

/// The provider id.
pub const ID: &str = "devin-cli";

/// Devin CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct Devin;

#[async_trait]
impl Provider for Devin {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| {
            ProviderInfo::new(ID, "Devin CLI", "Devin")
                .capabilities([Capability::SupportsModelArg, Capability::SupportsUsageProbe])
                .startup(StartupSpec { ready_markers: Vec::new(), quiet_ms: 800 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["devin"]).await
    }

    /// The plan-status API with the CLI's credential; `/usage` as a fallback when allowed.
    async fn usage(&self, ctx: &agentpool_sdk::usage::UsageContext) -> Option<agentpool_sdk::model::CapacitySnapshot> {
        Some(usage::probe(ctx).await)
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        argv.extend(launch::model_args(ctx));
        argv.extend(launch::effort_args(ctx));
        Ok(LaunchPlan { argv, env: Vec::new() })
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![r"(?i)run .?devin auth login".into(), r"(?i)not (logged|signed) in to devin".into()],
            login_command: Some("devin auth login".into()),
            approval_patterns: Vec::new(),
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)\besc to interrupt\b".into()],
            volatile_patterns: Vec::new(),
            error_patterns: Vec::new(),
        }
    }
}

agentpool_sdk::register_provider!(ID, 16, || Arc::new(Devin));

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_plans() {
        let home = tempfile::tempdir().unwrap();
        insta::assert_json_snapshot!(launch::plan_matrix(&Devin, "/usr/local/bin/devin", home.path()));
    }

    #[test]
    fn login_screen() {
        let rules = agentpool_sdk::detect::ExtraRules::compile(&Devin.screen_rules());
        assert!(rules.login_required("Devin CLI\n\nYou are not logged in to Devin. Run `devin auth login` first."));
        assert!(!rules.login_required("Devin CLI\n> "));
    }
}
