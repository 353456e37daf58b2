//! The `claude-code` provider: Anthropic's Claude Code (`claude`).
//!
//! Launch: `claude [--model M] [--effort E]`; the prompt is pasted after launch and submitted
//! with `Enter`. `DISABLE_AUTOUPDATER=1` keeps a worker from updating itself mid-task.
//! Read-only isolation is a prompt rule here (the initial prompt says so).
//!
//! Startup dialogs: the folder-trust prompt ("Do you trust the files in this folder?", or in
//! newer releases "Is this a project you created or one you trust?") is answered only when
//! trust may be accepted. Releases differ in which option they pre-select, so the answer reads
//! the highlighted option's text: `Enter` when it is the "Yes" option, arrow keys towards it
//! otherwise — never a blind key. The login menu is `login_required`.

use std::sync::{Arc, LazyLock};

use agentpool_sdk::dialog;
use agentpool_sdk::error::Result;
use agentpool_sdk::launch;
use agentpool_sdk::model::Capability;
use agentpool_sdk::probe;
use agentpool_sdk::provider::{
    Detected, DialogAnswer, DialogContext, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo,
    ScreenRules, StartupSpec,
};
use async_trait::async_trait;

mod usage;

/// The provider id.
pub const ID: &str = "claude-code";

/// Claude Code.
#[derive(Debug, Clone, Copy, Default)]
pub struct Claude;

#[async_trait]
impl Provider for Claude {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| {
            ProviderInfo::new(ID, "Claude Code", "Anthropic")
                .capabilities([Capability::SupportsModelArg, Capability::SupportsUsageProbe])
                .startup(StartupSpec { ready_markers: vec!["? for shortcuts"], quiet_ms: 600 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["claude"]).await
    }

    /// `/usage` in a temporary session, only when interactive probes are allowed.
    async fn usage(&self, ctx: &agentpool_sdk::usage::UsageContext) -> Option<agentpool_sdk::model::CapacitySnapshot> {
        if !ctx.allow_interactive {
            return Some(usage::disabled(&ctx.provider_id));
        }
        Some(usage::probe(ctx).await)
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        argv.extend(launch::model_args(ctx));
        argv.extend(launch::effort_args(ctx));
        Ok(LaunchPlan { argv, env: vec![("DISABLE_AUTOUPDATER".into(), "1".into())] })
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![
                r"(?i)select login method".into(),
                r"(?i)claude account with subscription".into(),
                r"(?i)invalid api key.{0,40}/login".into(),
                r"(?i)please run /login".into(),
            ],
            login_command: Some("claude, then /login".into()),
            approval_patterns: vec![
                r"(?im)^\s*do you want to (make this edit|create|overwrite|proceed|run)\b".into(),
                r"(?i)yes, and don.t ask again".into(),
            ],
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)\besc to interrupt\b".into()],
            error_patterns: Vec::new(),
        }
    }

    fn startup_dialog(&self, screen: &str, ctx: &DialogContext) -> Option<DialogAnswer> {
        let lower = screen.to_lowercase();
        let trust = lower.contains("do you trust the files in this folder")
            || lower.contains("a project you created or one you trust")
            || lower.contains("trust this folder");
        if !(trust && ctx.accept_trust) {
            return None;
        }
        let options = dialog::menu(screen);
        let keys = dialog::select(&options, |t| t.starts_with("yes"))?;
        Some(dialog::answer("trust_prompt", "trusted_folder", keys))
    }
}

agentpool_sdk::register_provider!(ID, 10, || Arc::new(Claude));

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;
    use agentpool_sdk::detect::{ExtraRules, detect_with};
    use agentpool_sdk::model::{Isolation, ObserveEvent};

    fn ctx(accept_trust: bool) -> DialogContext {
        DialogContext { accept_trust, isolation: Isolation::ReadOnly, workdir: "/work/repo".into() }
    }

    #[test]
    fn launch_plans() {
        let home = tempfile::tempdir().unwrap();
        insta::assert_json_snapshot!(launch::plan_matrix(&Claude, "/usr/local/bin/claude", home.path()));
    }

    #[test]
    fn trust_prompt_reads_the_highlighted_option() {
        // An older release highlights "Yes"; a newer one highlights "No" first.
        let yes_first = "Do you trust the files in this folder?\n\n/work/repo\n\n\u{276F} 1. Yes, proceed\n  2. No, exit\n\nEnter to confirm \u{00B7} Esc to exit";
        let no_first = "Quick safety check: Is this a project you created or one you trust?\n\n  1. Yes, I trust this folder\n\u{276F} 2. No, exit\n\nEnter to confirm \u{00B7} Esc to cancel";
        assert_eq!(Claude.startup_dialog(yes_first, &ctx(true)).map(|a| a.keys), Some(vec!["Enter".to_owned()]));
        let a = Claude.startup_dialog(no_first, &ctx(true)).unwrap();
        assert_eq!((a.action.as_str(), a.keys), ("moved_selection", vec!["Up".to_owned()]));
        assert_eq!(Claude.startup_dialog(yes_first, &ctx(false)), None, "trust needs consent");
        // No highlight visible: nothing is sent.
        assert_eq!(
            Claude.startup_dialog("Do you trust the files in this folder?\n 1. Yes, proceed\n 2. No, exit", &ctx(true)),
            None
        );
    }

    #[test]
    fn screen_rules_on_written_screens() {
        let rules = ExtraRules::compile(&Claude.screen_rules());
        let login = "Claude Code can be used with your Claude subscription or billed based on API usage.\n\n Select login method:\n\n \u{276F} 1. Claude account with subscription \u{00B7} Pro, Max, Team, or Enterprise\n   2. Anthropic Console account \u{00B7} API usage billing";
        assert!(rules.login_required(login));
        assert!(rules.login_required("Invalid API key \u{00B7} Please run /login"));
        assert!(!rules.login_required("\u{276F} \n  ? for shortcuts"));
        let edit = "\u{256D} Edit file src/lib.rs\n Do you want to make this edit to lib.rs?\n \u{276F} 1. Yes\n   2. Yes, and don't ask again this session (shift+tab)\n   3. No, and tell Claude what to do differently (esc)";
        assert_eq!(detect_with(edit, None, &Default::default(), &rules).event, ObserveEvent::ApprovalPrompt);
        let busy = "Should I check the tests too?\n\u{273B} Pondering\u{2026} (3s \u{00B7} esc to interrupt)";
        assert_ne!(detect_with(busy, None, &Default::default(), &rules).event, ObserveEvent::Question);
    }
}
