//! The `copilot-cli` provider: GitHub Copilot CLI — the `copilot` command, with `gh copilot`
//! as a fallback when only the GitHub CLI is installed.
//!
//! Launch: `copilot [--model M] [--mode plan] [--resume=<session id>] --plugin-dir <dir>` (or
//! `gh copilot -- …`: `gh` needs the `--` separator, catalog `forward_separator`, before flags
//! meant for Copilot). Read-only isolation starts Copilot in plan mode (catalog
//! `read_only_mode_arg`). The prompt is always pasted after launch: today's `copilot -i
//! "prompt"` starts the session but drops the prompt, and a bare prompt argument is not
//! accepted, so `arg` prompt mode is refused up front. A long prompt becomes a paste chip
//! (`[Paste #1 - 29 lines]`) that takes its own `Enter`, so the prompt is submitted with an
//! `Enter` sent after a pause (`submit_keys`). The interrupt key is Copilot's default, `C-c`
//! (`Escape` does not stop a turn).
//!
//! Signals: `--plugin-dir` loads a plugin AgentPool writes into the session's artifact
//! directory, whose hooks report to `agentpool __signal` (see [`hooks`]): turn ends (`idle`
//! without a result block), approvals, `ask_user` questions, each failed model call with its
//! class, and Copilot's session id, which `agentpool resume` passes to `--resume`. What stays
//! screen-based: the final failure of a turn (the `✗` line after Copilot's retries; the hook's
//! class is attached then), sign-in, and the dialogs' keys.
//!
//! Startup: Copilot draws nothing for a few seconds, then a logo animation, then the folder-trust
//! dialog, so settling waits for its footer (`/ commands`, drawn once the composer is up) or
//! for 2.5 s of quiet. The folder-trust prompt is answered only when trust may be accepted, with
//! the plain "Yes" option (trust for this session) read off the highlighted menu — never "Yes,
//! and remember this folder".

pub mod hooks;
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
use agentpool_sdk::signal::SignalChannel;
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
                .startup(StartupSpec { ready_markers: vec!["/ commands"], quiet_ms: 2500 })
                .submit_keys(["Enter"])
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
        // `agentpool resume`: the session Copilot's `sessionStart` hook reported, in the `=`
        // form so an id can never be read as an option.
        if let Some(id) = ctx.resume_session.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            if id.starts_with('-') || id.chars().any(char::is_whitespace) {
                return Err(agentpool_sdk::error::Error::new(
                    agentpool_sdk::error::ErrorCode::InvalidRequest,
                    format!("`{id}` is not a Copilot session id"),
                ));
            }
            forwarded.push(format!("--resume={id}"));
        }
        let plugin = hooks::write_plugin(ctx)?;
        forwarded.push("--plugin-dir".into());
        forwarded.push(plugin.display().to_string());
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

    fn resumes(&self) -> bool {
        true
    }

    fn signals(&self) -> Option<&dyn SignalChannel> {
        Some(&hooks::Channel)
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![
                r"(?i)use /login to sign in".into(),
                r"(?i)please (log|sign) in to (github|copilot)".into(),
            ],
            login_command: Some("copilot, then /login (or `gh auth login` for gh copilot)".into()),
            approval_patterns: vec![r"(?i)do you want to (run|allow|edit|create)".into()],
            // The `ask_user` form (its question is on the line after).
            question_patterns: vec![r"(?i)copilot needs information".into()],
            // The status line while a turn runs: `◎ Working · 111 B esc esc interrupt`.
            busy_patterns: vec![r"(?i)\besc to cancel\b".into(), r"[\u{25C9}\u{25CE}\u{25CB}\u{25CF}] Working\b".into()],
            // The spinner glyph and the byte counter of that status line turn on every poll.
            volatile_patterns: vec![r"[\u{25C9}\u{25CE}\u{25CB}\u{25CF}] Working(?: · [\d.]+ ?[KMG]?B\b)?".into()],
            // A turn's final failure, after Copilot's own retries: the red `✗` line.
            error_patterns: vec![
                r"(?mi)^\s*\u{2717} (?:authentication failed with provider|failed to get response from the ai model; retried|no model (?:is )?(?:available|configured)|model .* is not available)".into(),
            ],
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

    /// Screens `cargo xtask conformance --cli copilot` recorded (Copilot CLI 1.0.102, a 200x50
    /// pane, as AgentPool captures it: right-edge padding and the scrollbar already trimmed).
    fn recorded(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/screens/{name}.txt", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn detect(screen: &str) -> agentpool_sdk::detect::Detection {
        let rules = ExtraRules::compile(&Copilot.screen_rules());
        agentpool_sdk::detect::detect_with(screen, None, &Default::default(), &rules)
    }

    #[test]
    fn recorded_screens() {
        use agentpool_sdk::model::ObserveEvent;
        // The result block under the task's echo completes the session.
        assert_eq!(detect(&recorded("plain-completed")).event, ObserveEvent::Completed);
        // The boxed "Do you want to run this command?" dialog is an approval.
        assert_eq!(detect(&recorded("approval-dialog")).event, ObserveEvent::ApprovalPrompt);
        // The `ask_user` form is a question, and its unnumbered options are a menu.
        let ask = recorded("ask-question");
        assert_eq!(detect(&ask).event, ObserveEvent::Question);
        let options = dialog::options(&ask);
        let texts: Vec<(&str, bool)> = options.iter().map(|o| (o.text.as_str(), o.highlighted)).collect();
        assert_eq!(texts, [("Red", true), ("Blue", false), ("Other (type your answer)", false)]);
        assert_eq!(dialog::chosen(&options, "2").map(|o| o.text.as_str()), Some("Blue"));
        // A turn that streams is busy: no event but a changed screen.
        let working = detect(&recorded("slow-working"));
        assert!(
            matches!(working.event, ObserveEvent::None | ObserveEvent::ScreenChanged),
            "{working:?} while streaming"
        );
        // A question-like line while the status line says `Working` is not a question.
        let slow = recorded("slow-working");
        let asking = slow.replace(" \u{25CF} tick 1 ", " \u{25CF} Which file should I read first?\n \u{25CF} tick 1 ");
        assert_ne!(asking, slow);
        assert_ne!(detect(&asking).event, ObserveEvent::Question);
        let rules = ExtraRules::compile(&Copilot.screen_rules());
        // The cancelled turn is not an error (the interrupt signal makes it idle).
        assert_ne!(detect(&recorded("interrupted")).event, ObserveEvent::Error);
        // Each final failure after the retries is an error, the 429 one though it quotes a
        // rate-limit message.
        for name in ["err401-failed", "err429-failed", "err500-failed"] {
            assert_eq!(detect(&recorded(name)).event, ObserveEvent::Error, "{name}");
        }
        // While Copilot retries, nothing has failed yet.
        let failed = recorded("err429-failed");
        let retrying = failed.replace(
            " \u{2717} Failed to get response from the AI model; retried 5 times (total retry wait time: 5.52 seconds) Last error: 429 Rate limit reached (stand-in)",
            " \u{25CF} Request failed due to a transient API error. Retrying...",
        );
        assert_ne!(retrying, failed);
        assert_ne!(detect(&retrying).event, ObserveEvent::Error);
        // The spinner glyph and byte counter of the status line are no news; new text is.
        let spun = slow.replace("\u{25CE} Working · 111 B", "\u{25C9} Working · 1.2 KB");
        assert_ne!(spun, slow);
        assert_eq!(rules.screen_hash(&spun), rules.screen_hash(&slow));
        assert_ne!(rules.screen_hash(&asking), rules.screen_hash(&slow));
        assert!(rules.busy(&slow));
        // Signed out: the login line.
        assert!(rules.login_required(&recorded("signed-out")));
        assert!(!rules.login_required(&recorded("plain-completed")));
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
