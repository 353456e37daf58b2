//! The `cursor-cli` provider: the Cursor Agent CLI (`agent`, formerly `cursor-agent`).
//!
//! Launch: `agent [--model M] [--mode ask] --workspace <workdir> [PROMPT]`. Read-only isolation
//! uses Cursor's ask mode (catalog `read_only_mode_arg`); the prompt goes as the last argument
//! by default. Auth is not probed during inventory (`agent status` talks to the network); a
//! sign-in screen ("Press any key to log in") is `login_required`.
//!
//! Startup dialogs: the workspace-trust prompt is answered only when trust may be accepted, with
//! the key the prompt itself shows next to its "trust" choice (e.g. `[a]`), or by moving the
//! menu highlight onto the option that says to trust.

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
pub const ID: &str = "cursor-cli";

/// Cursor Agent CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor;

/// The single-letter key shown in brackets on a line that offers to trust, e.g.
/// `[a] Trust this workspace`.
fn bracketed_trust_key(screen: &str) -> Option<String> {
    screen.lines().find_map(|line| {
        let lower = line.to_lowercase();
        if !lower.contains("trust") || lower.contains("don't trust") || lower.contains("do not trust") {
            return None;
        }
        let start = line.find('[')?;
        let rest = &line[start + 1..];
        let end = rest.find(']')?;
        let key = rest[..end].trim();
        (key.chars().count() == 1 && key.chars().all(|c| c.is_ascii_alphanumeric())).then(|| key.to_owned())
    })
}

#[async_trait]
impl Provider for Cursor {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| {
            ProviderInfo::new(ID, "Cursor Agent CLI", "Cursor")
                .capabilities([Capability::SupportsModelArg, Capability::SupportsUsageProbe])
                .startup(StartupSpec { ready_markers: Vec::new(), quiet_ms: 600 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["agent", "cursor-agent"]).await
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        argv.extend(launch::model_args(ctx));
        argv.extend(launch::effort_args(ctx));
        if ctx.isolation == Isolation::ReadOnly {
            argv.push("--mode".into());
            argv.push(launch::fact(ctx, "read_only_mode_arg").unwrap_or("ask").to_owned());
        }
        argv.push("--workspace".into());
        argv.push(ctx.workdir.display().to_string());
        Ok(LaunchPlan { argv, env: Vec::new() })
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![r"(?i)press any key to log in".into(), r"(?i)run `?(cursor-)?agent login`?".into()],
            login_command: Some("agent login (or cursor-agent login)".into()),
            approval_patterns: vec![r"(?i)run this command\?".into(), r"(?i)\(y\)\s*\(enter\)".into()],
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)ctrl\+c to stop".into()],
            volatile_patterns: Vec::new(),
            error_patterns: Vec::new(),
        }
    }

    fn startup_dialog(&self, screen: &str, ctx: &DialogContext) -> Option<DialogAnswer> {
        let lower = screen.to_lowercase();
        let trust = lower.contains("workspace trust")
            || lower.contains("trust this workspace")
            || lower.contains("do you trust");
        if !(trust && ctx.accept_trust) {
            return None;
        }
        if let Some(key) = bracketed_trust_key(screen) {
            return Some(DialogAnswer {
                dialog: "trust_prompt".into(),
                action: "trusted_workspace".into(),
                keys: vec![key],
            });
        }
        let keys = dialog::select(&dialog::menu(screen), |t| {
            t.contains("trust") && !t.contains("don't") && !t.contains("not")
        })?;
        Some(dialog::answer("trust_prompt", "trusted_workspace", keys))
    }
}

agentpool_sdk::register_provider!(ID, 12, || Arc::new(Cursor));

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
        insta::assert_json_snapshot!(launch::plan_matrix(&Cursor, "/usr/local/bin/agent", home.path()));
    }

    #[test]
    fn trust_prompt_uses_the_key_it_shows() {
        let screen = "\u{26A0} Workspace Trust Required\n\nCursor Agent can execute code and access files in this directory.\nDo you trust the contents of /work/repo?\n\n  [a] Trust this workspace\n  [w] Trust this workspace and remember\n  [q] Quit";
        let a = Cursor.startup_dialog(screen, &ctx(true)).unwrap();
        assert_eq!((a.action.as_str(), a.keys), ("trusted_workspace", vec!["a".to_owned()]));
        assert_eq!(Cursor.startup_dialog(screen, &ctx(false)), None);
        let menu = "Workspace Trust Required\n\n\u{2192} 1. Trust this workspace\n  2. Quit";
        assert_eq!(Cursor.startup_dialog(menu, &ctx(true)).map(|a| a.keys), Some(vec!["Enter".to_owned()]));
    }

    #[test]
    fn login_screen() {
        let rules = ExtraRules::compile(&Cursor.screen_rules());
        assert!(rules.login_required("Cursor Agent\n\nPress any key to log in..."));
        assert!(!rules.login_required("Cursor Agent\n\u{2192} Plan, search, build anything"));
    }
}
