//! The `claude-code` provider: Anthropic's Claude Code (`claude`).
//!
//! Launch: `claude [--model M] [--effort E] --settings <session>/claude-settings.json
//! [--permission-mode M]`; the prompt is pasted after launch and submitted with `Enter`.
//! `DISABLE_AUTOUPDATER=1` keeps a worker from updating itself mid-task.
//!
//! Signals: the settings file wires Claude Code's hooks to `agentpool __signal` (see
//! [`hooks`]), so turn ends, permission requests, questions and API failures are reported by
//! Claude Code itself; the screen rules below are the fallback.
//!
//! Permissions: read-only isolation starts Claude Code in `plan` mode (catalog/config fact
//! `read_only_mode_arg`), where commands that change files are refused or asked about —
//! releases from 2.1.3xx otherwise start in `auto` mode, which runs them unasked. Other
//! isolations keep Claude Code's default unless `[providers.claude-code.metadata]
//! permission_mode` names one. A `--permission-mode` in a configured `command` wins.
//!
//! Startup dialogs: the folder-trust prompt ("Do you trust the files in this folder?", or in
//! newer releases "Is this a project you created or one you trust?") is answered only when
//! trust may be accepted. Releases differ in which option they pre-select and in whether the
//! options are numbered, so the answer reads the highlighted option's text: `Enter` when it is
//! the "Yes" option, arrow keys towards it otherwise — never a blind key. The "Detected a
//! custom API key … Do you want to use this API key?" dialog is answered as
//! `[providers.claude-code.metadata] use_env_api_key` (true: Yes, false: No) says; unset, it is
//! left alone and blocks the first paste (`startup_prompt_pending`), so the task is never typed
//! into it. The login menu, and the "Not logged in · run /login" footer, are `login_required`.
//!
//! Interrupt: `Escape`, Claude Code's own key (a second `Ctrl-C` would quit it).

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

pub mod hooks;
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
                .interrupt_keys(["Escape"])
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
        let configured_mode = argv.iter().any(|a| a == "--permission-mode" || a.starts_with("--permission-mode="));
        argv.extend(launch::model_args(ctx));
        argv.extend(launch::effort_args(ctx));
        let settings = hooks::write_settings(ctx)?;
        argv.push("--settings".into());
        argv.push(settings.display().to_string());
        let mode = if ctx.isolation == Isolation::ReadOnly {
            Some(launch::fact(ctx, "read_only_mode_arg").unwrap_or(READ_ONLY_MODE))
        } else {
            launch::fact(ctx, "permission_mode")
        };
        if let Some(mode) = mode.filter(|_| !configured_mode) {
            argv.push("--permission-mode".into());
            argv.push(mode.to_owned());
        }
        // `agentpool resume`: the conversation its SessionStart hook reported.
        if let Some(id) = &ctx.resume_session {
            argv.push("--resume".into());
            argv.push(id.clone());
        }
        Ok(LaunchPlan { argv, env: vec![("DISABLE_AUTOUPDATER".into(), "1".into())] })
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
                r"(?i)select login method".into(),
                r"(?i)claude account with subscription".into(),
                r"(?i)invalid api key.{0,40}/login".into(),
                r"(?i)please run /login".into(),
                r"(?i)not logged in\s*\u{00B7}\s*run /login".into(),
            ],
            login_command: Some("claude, then /login".into()),
            approval_patterns: vec![
                r"(?im)^\s*do you want to (make this edit|create|overwrite|proceed|run)\b".into(),
                r"(?i)yes, and don.t ask again".into(),
                // The API-key dialog, when config does not decide it: never paste into it.
                r"(?i)do you want to use this api key\?".into(),
            ],
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)\besc to interrupt\b".into()],
            // The status line of a turn at work: `✽ Whirlpooling… (11s · ↓ 9 tokens)`; its glyph,
            // verb, seconds and token count turn on their own.
            volatile_patterns: vec![r"(?:\S )?[A-Z][a-z]+… \([^)\n]*\d+s[^)\n]*\)".into()],
            // The final screen of a turn that failed for good: Claude Code's input box offers
            // to resend the message (after a 429/5xx) or asks to fix the key first (after a 401).
            // Claude Code draws it before its `StopFailure` hook runs, so the screen can decide
            // first: the named groups give it the class the hook would have (the status in the
            // `API Error:` line above the resend prompt; "Once fixed" is a credentials failure).
            error_patterns: vec![
                r"(?ms)API Error:[^\n\d]{0,80}?(?P<status>[45]\d\d)\b[^\n]*$.{0,1000}?^\s*\u{276F}\s*Resend your message to try again\s*$".into(),
                r"(?m)^\s*\u{276F}\s*(?P<auth>Once fixed), resend your message\s*$".into(),
                r"(?m)^\s*\u{276F}\s*(?:Resend your message to try again|Once fixed, resend your message)\s*$".into(),
            ],
        }
    }

    fn startup_dialog(&self, screen: &str, ctx: &DialogContext) -> Option<DialogAnswer> {
        let lower = screen.to_lowercase();
        if lower.contains("do you want to use this api key?") {
            let use_key = ctx.provider_metadata.get(USE_ENV_API_KEY).and_then(|v| v.as_bool())?;
            let wanted = if use_key { "yes" } else { "no" };
            let keys = dialog::select(&menu(screen), |t| t.starts_with(wanted))?;
            let action = if use_key { "used_env_api_key" } else { "declined_env_api_key" };
            return Some(dialog::answer("api_key_prompt", action, keys));
        }
        let trust = lower.contains("do you trust the files in this folder")
            || lower.contains("a project you created or one you trust")
            || lower.contains("trust this folder");
        if !(trust && ctx.accept_trust) {
            return None;
        }
        let keys = dialog::select(&menu(screen), |t| t.starts_with("yes"))?;
        Some(dialog::answer("trust_prompt", "trusted_folder", keys))
    }
}

/// The permission mode of read-only sessions (catalog/config `read_only_mode_arg` overrides).
pub const READ_ONLY_MODE: &str = "plan";

/// The provider metadata key that answers the API-key dialog.
pub const USE_ENV_API_KEY: &str = "use_env_api_key";

/// The menu of a Claude Code dialog: the option lines right above its `Enter to confirm` hint,
/// numbered (older releases) or not (`❯ No, exit` / `  Yes, I trust this folder`). Falls back
/// to the last numbered menu on screen.
pub fn menu(screen: &str) -> Vec<dialog::MenuOption> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(hint) = lines.iter().rposition(|l| l.to_lowercase().contains("enter to confirm")) else {
        return dialog::menu(screen);
    };
    let mut end = hint;
    while end > 0 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && !lines[start - 1].trim().is_empty() {
        start -= 1;
    }
    let run = &lines[start..end];
    if run.len() < 2 || run.len() > 8 {
        return dialog::menu(screen);
    }
    let options: Vec<dialog::MenuOption> = run
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let t = line.trim();
            let (highlighted, rest) = match t.strip_prefix(['\u{276F}', '>', '\u{203A}']) {
                Some(r) => (true, r.trim_start()),
                None => (false, t),
            };
            // `1. Yes` → `Yes`.
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            let (number, text) = match rest[digits..].strip_prefix(['.', ')']) {
                Some(after) if digits > 0 => (rest[..digits].parse().ok(), after.trim()),
                _ => (None, rest),
            };
            dialog::MenuOption { index, number, text: text.to_owned(), highlighted }
        })
        .collect();
    if options.iter().filter(|o| o.highlighted).count() == 1 { options } else { dialog::menu(screen) }
}

agentpool_sdk::register_provider!(ID, 10, || Arc::new(Claude));

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;
    use agentpool_sdk::detect::{ExtraRules, detect_with};
    use agentpool_sdk::model::ObserveEvent;

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
    fn unnumbered_dialogs_are_read_by_their_highlight() {
        // 2.1.3xx: no numbers, "No, exit" pre-selected.
        let trust = "Quick safety check: Is this a project you created or one you trust?\n\n Security guide\n\n \u{276F} No, exit\n   Yes, I trust this folder\n\n Enter to confirm \u{00B7} Esc to cancel";
        let a = Claude.startup_dialog(trust, &ctx(true)).unwrap();
        assert_eq!(
            (a.dialog.as_str(), a.action.as_str(), a.keys),
            ("trust_prompt", "moved_selection", vec!["Down".to_owned()])
        );
        let moved = trust.replace(" \u{276F} No, exit\n   Yes", "   No, exit\n \u{276F} Yes");
        assert_eq!(Claude.startup_dialog(&moved, &ctx(true)).unwrap().keys, ["Enter"]);
        assert_eq!(Claude.startup_dialog(trust, &ctx(false)), None);
    }

    #[test]
    fn the_api_key_dialog_is_answered_only_as_config_says() {
        let screen = "  Detected a custom API key in your environment\n\n  ANTHROPIC_API_KEY: sk-ant-...0000\n\n  Do you want to use this API key?\n\n    Yes\n  \u{276F} No (recommended)\n\n  Enter to confirm \u{00B7} Esc to cancel";
        assert_eq!(Claude.startup_dialog(screen, &ctx(true)), None, "unset: left to a human");
        let with = |v: bool| DialogContext {
            provider_metadata: serde_json::json!({ USE_ENV_API_KEY: v }).as_object().cloned().unwrap(),
            ..ctx(true)
        };
        let yes = Claude.startup_dialog(screen, &with(true)).unwrap();
        assert_eq!((yes.dialog.as_str(), yes.keys), ("api_key_prompt", vec!["Up".to_owned()]));
        let no = Claude.startup_dialog(screen, &with(false)).unwrap();
        assert_eq!((no.action.as_str(), no.keys), ("declined_env_api_key", vec!["Enter".to_owned()]));
        // Unanswered, it blocks the first paste like any approval prompt.
        let rules = ExtraRules::compile(&Claude.screen_rules());
        assert_eq!(detect_with(screen, None, &Default::default(), &rules).event, ObserveEvent::ApprovalPrompt);
    }

    #[test]
    fn final_api_errors_and_the_signed_out_footer() {
        let rules = ExtraRules::of(&Claude);
        let line = "\u{2500}".repeat(40);
        for (said, input) in [
            ("\u{25CF} API Error: 500 Internal server error (stand-in).", "Resend your message to try again"),
            ("  \u{23BF}  Invalid API key \u{00B7} Fix external API key", "Once fixed, resend your message"),
        ] {
            let screen =
                format!("\u{276F} Say hello.\n{said}\n\n{line}\n\u{276F} {input}\n{line}\n  \u{23F8} manual mode on");
            assert_eq!(detect_with(&screen, None, &Default::default(), &rules).event, ObserveEvent::Error, "{screen}");
        }
        // While retrying, or after the user typed over the placeholder: not final.
        let retrying =
            format!("\u{273B} 429 Rate limit \u{00B7} retrying in 3s \u{00B7} attempt 2/10\n{line}\n\u{276F} \n{line}");
        assert_ne!(detect_with(&retrying, None, &Default::default(), &rules).event, ObserveEvent::Error);
        assert!(rules.login_required("\u{276F} \n  \u{23F5}\u{23F5} auto mode on Not logged in \u{00B7} run /login"));
    }

    #[test]
    fn read_only_sessions_start_in_plan_mode_and_hooks_are_wired() {
        let home = tempfile::tempdir().unwrap();
        let ctx = |isolation, metadata: serde_json::Value, command: Option<Vec<String>>| LaunchContext {
            session_id: "ap_1".into(),
            binary_path: Some("/bin/claude".into()),
            self_exe: "/bin/agentpool".into(),
            config: agentpool_sdk::provider::ProviderConfig {
                metadata: metadata.as_object().cloned().unwrap_or_default(),
                command,
                ..Default::default()
            },
            model: None,
            reasoning_effort: None,
            service_tier: None,
            isolation,
            role: agentpool_sdk::model::Role::Explorer,
            workdir: "/work/repo".into(),
            prompt_mode: agentpool_sdk::model::PromptMode::SendAfterLaunch,
            home: home.path().into(),
            signal_log: home.path().join("artifacts/ap_1/signals.jsonl"),
            resume_session: None,
        };
        let argv = |c| Claude.launch(&c).unwrap().argv;
        let ro = argv(ctx(Isolation::ReadOnly, serde_json::json!({}), None));
        assert!(ro.ends_with(&["--permission-mode".to_owned(), "plan".to_owned()]), "{ro:?}");
        let wt = argv(ctx(Isolation::Worktree, serde_json::json!({}), None));
        assert!(!wt.contains(&"--permission-mode".to_owned()), "{wt:?}");
        let manual = argv(ctx(Isolation::Worktree, serde_json::json!({"permission_mode": "default"}), None));
        assert!(manual.ends_with(&["--permission-mode".to_owned(), "default".to_owned()]), "{manual:?}");
        let own = vec!["claude".to_owned(), "--permission-mode".to_owned(), "default".to_owned()];
        let mine = argv(ctx(Isolation::ReadOnly, serde_json::json!({}), Some(own)));
        assert_eq!(mine.iter().filter(|a| *a == "--permission-mode").count(), 1, "{mine:?}");
        // The settings file wires every hook to `agentpool __signal claude-code <source> <log>`.
        let at = ro.iter().position(|a| a == "--settings").unwrap();
        let settings: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&ro[at + 1]).unwrap()).unwrap();
        let stop = settings["hooks"]["Stop"][0]["hooks"][0]["command"].as_str().unwrap();
        assert!(stop.starts_with("/bin/agentpool __signal claude-code stop "), "{stop}");
        assert!(stop.ends_with("artifacts/ap_1/signals.jsonl"), "{stop}");
        assert_eq!(settings["hooks"].as_object().unwrap().len(), hooks::HOOKS.len());
        // `agentpool resume` continues the conversation the SessionStart hook reported.
        assert!(Claude.resumes());
        let resumed = Claude
            .launch(&LaunchContext {
                resume_session: Some("conv-9".into()),
                ..ctx(Isolation::ReadOnly, serde_json::json!({}), None)
            })
            .unwrap()
            .argv;
        assert!(resumed.ends_with(&["--resume".to_owned(), "conv-9".to_owned()]), "{resumed:?}");
        assert!(!ro.contains(&"--resume".to_owned()), "{ro:?}");
    }

    #[test]
    fn recorded_final_errors_carry_their_class() {
        use agentpool_sdk::signal::ErrorClass;
        let rules = ExtraRules::compile(&Claude.screen_rules());
        // Final screens the conformance suite recorded (2.1.332; the repository path shortened).
        for (screen, class, line) in [
            (
                include_str!("../testdata/2.1.332-err401.txt"),
                ErrorClass::Auth,
                "\u{276F}\u{a0}Once fixed, resend your message",
            ),
            (
                include_str!("../testdata/2.1.332-err429.txt"),
                ErrorClass::RateLimit,
                "\u{25CF} API Error: Request rejected (429) \u{00B7} Rate limit exceeded (stand-in)",
            ),
            (
                include_str!("../testdata/2.1.332-err500.txt"),
                ErrorClass::Server,
                "\u{25CF} API Error: 500 Internal server error (stand-in). This is a server-side issue, usually temporary \u{2014} try again in a moment. If it persists, check your inference gateway (127.0.0.1:43785).",
            ),
        ] {
            assert_eq!(detect_with(screen, None, &Default::default(), &rules).event, ObserveEvent::Error);
            assert_eq!(rules.error_class(screen), Some((class, line.to_owned())));
        }
        // Written: other wordings of a status, and the overloaded status.
        for (api, class) in [
            ("API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}", ErrorClass::Server),
            ("API Error: Internal server error (500)", ErrorClass::Server),
            ("API Error: Repeated 529 Overloaded errors", ErrorClass::Server),
            ("API Error: 403 Forbidden", ErrorClass::Auth),
        ] {
            let screen = format!(
                "\u{25CF} {api}\n\n\u{2500}\u{2500}\n\u{276F} Resend your message to try again\n\u{2500}\u{2500}\n  ? for shortcuts"
            );
            assert_eq!(rules.error_class(&screen).map(|(c, _)| c), Some(class), "{api}");
        }
        // An API error line while Claude Code still retries is no final failure (no resend prompt).
        let retrying = "\u{25CF} API Error (429 Rate limit) \u{00B7} Retrying in 1 seconds\u{2026} (attempt 1/1)\n\u{273B} Thinking\u{2026} (esc to interrupt)";
        assert_ne!(detect_with(retrying, None, &Default::default(), &rules).event, ObserveEvent::Error);
        assert_eq!(rules.error_class(retrying), None);
        // The resend prompt alone is a failure without a class.
        let bare = "\u{276F} Resend your message to try again\n";
        assert_eq!(detect_with(bare, None, &Default::default(), &rules).event, ObserveEvent::Error);
        assert_eq!(rules.error_class(bare), None);
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

    #[test]
    fn the_status_line_of_a_turn_at_work_is_no_news() {
        let rules = ExtraRules::compile(&Claude.screen_rules());
        let at = |s: &str| {
            format!("> Fix the tests\n\n\u{273D} {s}\n\n  \u{23F5}\u{23F5} auto mode on · esc to interrupt\n")
        };
        let a = at("Whirlpooling… (3s · ↓ 3 tokens)");
        let b = at("Cogitating… (1m 20s · ↑ 1.2k tokens)");
        assert_eq!(rules.screen_hash(&a), rules.screen_hash(&b));
        assert_ne!(rules.screen_hash(&a), rules.screen_hash(&at("Whirlpooling… (3s · ↓ 3 tokens)\n● Read 2 files")));
        assert!(rules.busy(&a));
    }
}
