//! The built-in fake providers (`fake-question`, `fake-approval`, `fake-completed`,
//! `fake-idle`, `fake-limit`, `fake-patch`, and `fake-hooks`, which reports through hooks). They run from the `agentpool` binary itself
//! through its hidden worker entry point, so a fresh install can run the smoke with nothing
//! but tmux and git.

pub mod hooks;
pub mod worker;

use std::sync::Arc;

use agentpool_sdk::error::Result;
use agentpool_sdk::model::{
    AuthState, Capability, CapacitySnapshot, Confidence, ModelDescriptor, ModelSource, UsageStatus,
};
use agentpool_sdk::provider::{
    self, Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo, StartupSpec,
};
use async_trait::async_trait;
use serde_json::{Map, json};

pub use worker::FakeKind;

/// The argument that tells `agentpool` to run a built-in worker instead of the CLI.
pub const WORKER_ARG: &str = "__worker";

/// One fake provider.
#[derive(Debug, Clone)]
pub struct FakeProvider {
    kind: FakeKind,
    info: ProviderInfo,
}

impl FakeProvider {
    pub fn new(kind: FakeKind) -> Self {
        let model = ModelDescriptor {
            id: "fake".into(),
            display_name: None,
            source: ModelSource::Config,
            confidence: Confidence::LocalConfig,
            aliases: Vec::new(),
            metadata: Map::new(),
        };
        let mut metadata = Map::new();
        metadata.insert("fake".into(), json!(true));
        let info = ProviderInfo::new(kind.provider_id(), Self::name(kind), "AgentPool")
            .capabilities([
                Capability::WorktreeEdits,
                Capability::SupportsApprovalDetection,
                Capability::SupportsOneShotMode,
            ])
            .startup(StartupSpec { ready_markers: vec!["Agent ready."], quiet_ms: 300 })
            .models(vec![model])
            .metadata(metadata);
        Self { kind, info }
    }

    fn name(kind: FakeKind) -> &'static str {
        match kind {
            FakeKind::Question => "Fake Question",
            FakeKind::Approval => "Fake Approval",
            FakeKind::Completed => "Fake Completed",
            FakeKind::Idle => "Fake Idle",
            FakeKind::Limit => "Fake Limit",
            FakeKind::Patch => "Fake Patch",
            FakeKind::Hooks => "Fake Hooks",
        }
    }
}

#[async_trait]
impl Provider for FakeProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        Detected {
            installed: true,
            binary_path: Some(ctx.self_exe.display().to_string()),
            version: Some(ctx.agentpool_version.to_owned()),
            auth: provider::auth_status(
                AuthState::Authenticated,
                Confidence::LocalConfig,
                Some("built-in fake provider"),
            ),
            warnings: Vec::new(),
        }
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        // A configured command replaces the built-in worker (useful for testing wrappers).
        let argv = match &ctx.config.command {
            Some(cmd) if !cmd.is_empty() => cmd.clone(),
            _ => vec![ctx.self_exe.display().to_string(), WORKER_ARG.to_owned(), self.info.id.clone()],
        };
        let env = match self.kind {
            FakeKind::Hooks => {
                let mut env = vec![hooks::hook_env(ctx)?];
                env.extend(ctx.resume_session.iter().map(|id| (hooks::RESUME_ENV.to_owned(), id.clone())));
                env
            }
            _ => Vec::new(),
        };
        Ok(LaunchPlan { argv, env })
    }

    fn resumes(&self) -> bool {
        self.kind == FakeKind::Hooks
    }

    fn signals(&self) -> Option<&dyn agentpool_sdk::signal::SignalChannel> {
        (self.kind == FakeKind::Hooks).then_some(&hooks::Channel)
    }

    fn inventory_usage(&self) -> Option<CapacitySnapshot> {
        Some(CapacitySnapshot {
            provider_id: self.info.id.clone(),
            status: UsageStatus::Available,
            confidence: Confidence::LocalConfig,
            checked_at: agentpool_sdk::util::now(),
            windows: Vec::new(),
            premium_requests_remaining: None,
            credits_remaining: None,
            reset_at: None,
            warnings: Vec::new(),
            raw: Map::new(),
        })
    }
}

macro_rules! fake {
    ($kind:expr, $id:literal, $order:literal) => {
        agentpool_sdk::register_provider!($id, $order, || Arc::new(FakeProvider::new($kind)));
        agentpool_sdk::register_worker!($id, || worker::run($kind));
    };
}

fake!(FakeKind::Question, "fake-question", 0);
fake!(FakeKind::Approval, "fake-approval", 1);
fake!(FakeKind::Completed, "fake-completed", 2);
fake!(FakeKind::Idle, "fake-idle", 3);
fake!(FakeKind::Limit, "fake-limit", 4);
fake!(FakeKind::Patch, "fake-patch", 5);
fake!(FakeKind::Hooks, "fake-hooks", 6);

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}
