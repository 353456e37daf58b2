//! The `opencode` provider: the opencode TUI (`opencode`).
//!
//! Launch: `opencode [--model provider/model]`; the prompt is pasted after launch. opencode's
//! first positional argument is a *project directory*, so in `arg` mode the prompt is passed
//! with `--prompt` instead of as a bare argument (a bare prompt would be taken for a path).
//! The worker runs in its workdir, so a directory named `opencode` anywhere changes nothing.
//! Read-only isolation is a prompt rule. A screen saying no provider is configured is
//! `login_required` (`opencode auth login`).

use std::sync::{Arc, LazyLock};

use agentpool_sdk::error::Result;
use agentpool_sdk::launch;
use agentpool_sdk::model::Capability;
use agentpool_sdk::probe;
use agentpool_sdk::provider::{
    Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo, ScreenRules, StartupSpec,
};
use async_trait::async_trait;

/// The provider id.
pub const ID: &str = "opencode";

/// opencode.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenCode;

#[async_trait]
impl Provider for OpenCode {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| {
            ProviderInfo::new(ID, "OpenCode", "OpenCode")
                .capabilities([Capability::SupportsModelArg])
                .prompt_arg_flag("--prompt")
                .startup(StartupSpec { ready_markers: Vec::new(), quiet_ms: 800 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["opencode"]).await
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        argv.extend(launch::model_args(ctx));
        argv.extend(launch::effort_args(ctx));
        Ok(LaunchPlan { argv, env: Vec::new() })
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![
                r"(?i)no providers? (are )?(configured|connected)".into(),
                r"(?i)run .?opencode auth login".into(),
            ],
            login_command: Some("opencode auth login".into()),
            approval_patterns: vec![r"(?i)permission required".into()],
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)\besc (to )?interrupt\b".into()],
            error_patterns: Vec::new(),
        }
    }
}

agentpool_sdk::register_provider!(ID, 13, || Arc::new(OpenCode));

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;
    use agentpool_sdk::detect::{ExtraRules, detect_with};
    use agentpool_sdk::model::ObserveEvent;

    #[test]
    fn launch_plans() {
        let home = tempfile::tempdir().unwrap();
        insta::assert_json_snapshot!(launch::plan_matrix(&OpenCode, "/usr/local/bin/opencode", home.path()));
    }

    #[test]
    fn screen_rules_on_written_screens() {
        let rules = ExtraRules::compile(&OpenCode.screen_rules());
        assert!(
            rules.login_required("opencode 1.18.33\n\nNo providers configured. Run `opencode auth login` to add one.")
        );
        assert!(!rules.login_required("opencode\n> \nctrl+p commands"));
        let perm = "Permission required\n  bash: rm -rf target\n  Allow once   Always allow   Reject";
        assert_eq!(detect_with(perm, None, &Default::default(), &rules).event, ObserveEvent::ApprovalPrompt);
    }
}
