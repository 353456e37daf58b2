//! The `copilot-cli` provider: GitHub Copilot CLI — the `copilot` command, with `gh copilot`
//! as a fallback when only the GitHub CLI is installed.
//!
//! Launch: `copilot [--model M] [--mode plan]` (or `gh copilot -- …`: `gh` needs the `--`
//! separator, catalog `forward_separator`, before flags meant for Copilot). Read-only isolation
//! starts Copilot in plan mode (catalog `read_only_mode_arg`). The prompt is always pasted after
//! launch: today's `copilot -i "prompt"` starts the session but drops the prompt, and a bare
//! prompt argument is not accepted, so `arg` prompt mode is refused up front.
//!
//! Startup dialogs: the folder-trust prompt is answered only when trust may be accepted, with the
//! plain "Yes" option (trust for this session) — never "Yes, and remember this folder".

mod usage;

use std::path::Path;
use std::sync::{Arc, LazyLock};

use agentpool_sdk::dialog;
use agentpool_sdk::error::Result;
use agentpool_sdk::launch;
use agentpool_sdk::model::{Capability, Isolation};
use agentpool_sdk::probe;
use agentpool_sdk::provider::{
    Detected, DialogAnswer, DialogContext, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo,
    ScreenRules, StartupSpec,
};
use async_trait::async_trait;

/// The provider id.
pub const ID: &str = "copilot-cli";

/// GitHub Copilot CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct Copilot;

fn is_gh(path: &str) -> bool {
    Path::new(path).file_name().and_then(|n| n.to_str()) == Some("gh")
}

#[async_trait]
impl Provider for Copilot {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| {
            ProviderInfo::new(ID, "GitHub Copilot CLI", "GitHub")
                .capabilities([Capability::SupportsModelArg, Capability::SupportsUsageProbe])
                .startup(StartupSpec { ready_markers: Vec::new(), quiet_ms: 800 })
                .refuse_arg_prompt("`copilot -i` drops it")
        });
        &INFO
    }

    async fn usage(&self, _ctx: &agentpool_sdk::usage::UsageContext) -> Option<agentpool_sdk::model::CapacitySnapshot> {
        Some(usage::probe(ID).await)
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        let configured = ctx.config.command.is_some() || !ctx.config.binary_candidates.is_empty();
        let mut found = probe::detect_cli(ctx, &["copilot"]).await;
        if found.installed || configured {
            return found;
        }
        let gh = probe::detect_cli(ctx, &["gh"]).await;
        if gh.installed {
            found = gh;
            found
                .warnings
                .push("`copilot` not found; running Copilot through `gh copilot` (the version shown is gh's)".into());
        }
        found
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        let through_gh = argv.first().is_some_and(|a| is_gh(a));
        if through_gh && argv.len() == 1 {
            argv.push("copilot".into());
        }
        let mut forwarded = launch::model_args(ctx);
        forwarded.extend(launch::effort_args(ctx));
        if ctx.isolation == Isolation::ReadOnly {
            forwarded.push("--mode".into());
            forwarded.push(launch::fact(ctx, "read_only_mode_arg").unwrap_or("plan").to_owned());
        }
        let gh_copilot = argv.len() >= 2 && is_gh(&argv[0]) && argv[1] == "copilot";
        if gh_copilot
            && !forwarded.is_empty()
            && let Some(sep) = launch::fact(ctx, "forward_separator")
        {
            argv.push(sep.to_owned());
        }
        argv.extend(forwarded);
        Ok(LaunchPlan { argv, env: Vec::new() })
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![
                r"(?i)use /login to sign in".into(),
                r"(?i)please (log|sign) in to (github|copilot)".into(),
            ],
            login_command: Some("copilot, then /login (or `gh auth login` for gh copilot)".into()),
            approval_patterns: vec![r"(?i)do you want to (run|allow|edit|create)".into()],
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)\besc to cancel\b".into()],
            error_patterns: Vec::new(),
        }
    }

    fn startup_dialog(&self, screen: &str, ctx: &DialogContext) -> Option<DialogAnswer> {
        let lower = screen.to_lowercase();
        let trust = lower.contains("folder trust") || lower.contains("do you trust the files in this folder");
        if !(trust && ctx.accept_trust) {
            return None;
        }
        let keys =
            dialog::select(&dialog::menu(screen), |t| t == "yes" || (t.starts_with("yes") && !t.contains("remember")))?;
        Some(dialog::answer("trust_prompt", "trusted_for_this_session", keys))
    }
}

agentpool_sdk::register_provider!(ID, 14, || Arc::new(Copilot));

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;
    use agentpool_sdk::detect::ExtraRules;

    fn ctx(accept_trust: bool) -> DialogContext {
        DialogContext {
            accept_trust,
            isolation: Isolation::ReadOnly,
            workdir: "/work/repo".into(),
            provider_metadata: Default::default(),
        }
    }

    #[test]
    fn launch_plans() {
        let home = tempfile::tempdir().unwrap();
        insta::assert_json_snapshot!("copilot", launch::plan_matrix(&Copilot, "/usr/local/bin/copilot", home.path()));
        insta::assert_json_snapshot!("gh_copilot", launch::plan_matrix(&Copilot, "/usr/bin/gh", home.path()));
    }

    #[test]
    fn trust_prompt_never_remembers() {
        let screen = "Confirm folder trust\n\n/work/repo\n\nCopilot may read files in this folder. Do you trust the files in this folder?\n\n\u{276F} 1. Yes\n  2. Yes, and remember this folder for future sessions\n  3. No (Esc)";
        let a = Copilot.startup_dialog(screen, &ctx(true)).unwrap();
        assert_eq!((a.action.as_str(), a.keys), ("trusted_for_this_session", vec!["Enter".to_owned()]));
        let on_remember = screen.replace("\u{276F} 1. Yes\n  2.", "  1. Yes\n\u{276F} 2.");
        assert_eq!(Copilot.startup_dialog(&on_remember, &ctx(true)).map(|a| a.keys), Some(vec!["Up".to_owned()]));
        assert_eq!(Copilot.startup_dialog(screen, &ctx(false)), None);
    }

    #[test]
    fn login_screen() {
        let rules = ExtraRules::compile(&Copilot.screen_rules());
        assert!(
            rules.login_required("GitHub Copilot v1.0.102\n\n\u{25CF} Please use /login to sign in to use Copilot")
        );
        assert!(!rules.login_required("GitHub Copilot v1.0.102\n> Ask anything"));
    }
}
