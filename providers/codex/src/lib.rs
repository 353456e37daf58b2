//! The `codex-cli` provider: OpenAI's Codex CLI (`codex`).
//!
//! Launch: `codex [--model M] [-c model_reasoning_effort="E"] [-c service_tier="T"]
//! [--sandbox read-only|workspace-write] [PROMPT]`. The prompt goes as the last argument by
//! default (catalog `default_initial_prompt_mode = "arg"`); messages are submitted with `C-m`.
//! AgentPool never passes `-a/--ask-for-approval`: today's releases accept only `on-request`
//! and `never` there, and codex's own default is what a supervised worker wants.
//!
//! Signals: `-c notify=[…]` runs `agentpool __signal codex-cli notify <log>` at the end of each
//! turn (see [`notify`]), so a turn that ends without a result block is `idle` (or `question`,
//! when its final reply ends in one), and the session learns codex's thread id, which
//! `agentpool resume` passes to `codex resume`. Approvals and final API errors (`■ unexpected
//! status 401 …`, `■ exceeded retry limit, last status: 429 …`, a model provider's missing key
//! variable) are read off the screen; the screen rules' named groups class them, so observe
//! reports `error_class` `auth` / `rate_limit` / `server` / `network` with the `■` line as the
//! event's message. (Codex's own `hooks`, stable in 0.171 and under development in 0.169,
//! report no API failure: there is no failure event to hook.)
//!
//! Startup dialogs: the update prompt is skipped; the folder-trust prompt is answered with the
//! option that keeps approvals ("ask me to approve") when there is one, and otherwise with
//! "Yes, continue" only when trust may be accepted. A signed-out codex shows a "Sign in with
//! ChatGPT" menu: that is `login_required`, and the hint names `codex login`.

pub mod notify;
mod usage;

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
pub const ID: &str = "codex-cli";

/// Codex CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codex;

/// A JSON string literal, as codex's `-c key=value` overrides expect for strings.
fn toml_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
}

#[async_trait]
impl Provider for Codex {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| {
            ProviderInfo::new(ID, "Codex CLI", "OpenAI")
                .capabilities([Capability::SupportsModelArg, Capability::SupportsUsageProbe])
                // Codex draws its composer before it puts a folder-trust screen over it, so a
                // short quiet spell is no proof of readiness (under load the trust screen came
                // more than 600 ms later and was never answered). A turn at work ("esc to
                // interrupt") is: the prompt went in as an argument and codex is on it.
                .startup(StartupSpec { ready_markers: vec!["esc to interrupt"], quiet_ms: 1500 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["codex"]).await
    }

    async fn usage(&self, ctx: &agentpool_sdk::usage::UsageContext) -> Option<agentpool_sdk::model::CapacitySnapshot> {
        let binary = ctx.binary_path.as_deref()?;
        Some(usage::probe(ID, binary, usage::Timeouts::default()).await)
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        // `agentpool resume`: `codex [<configured args>] resume [OPTIONS] <thread id> [PROMPT]`,
        // the thread its `notify` reported; the id goes last, right before the prompt.
        let resume = ctx.resume_session.as_deref().map(str::trim).filter(|id| !id.is_empty());
        if resume.is_some() {
            argv.push("resume".into());
        }
        argv.extend(launch::model_args(ctx));
        if let Some(effort) = launch::effort(ctx) {
            argv.push("-c".into());
            argv.push(format!("model_reasoning_effort={}", toml_string(effort)));
        }
        if let Some(tier) = launch::service_tier(ctx) {
            argv.push("-c".into());
            argv.push(format!("service_tier={}", toml_string(tier)));
        }
        argv.push("--sandbox".into());
        argv.push(if ctx.isolation == Isolation::ReadOnly { "read-only" } else { "workspace-write" }.into());
        // The end of every turn reaches this session's signal log; the payload is the last
        // argument codex adds.
        let notify: Vec<String> = ctx.signal_command(ID, notify::SOURCE).iter().map(|w| toml_string(w)).collect();
        argv.push("-c".into());
        argv.push(format!("notify=[{}]", notify.join(",")));
        if let Some(id) = resume {
            if id.starts_with('-') {
                return Err(agentpool_sdk::error::Error::new(
                    agentpool_sdk::error::ErrorCode::InvalidRequest,
                    format!("`{id}` is not a codex thread id"),
                ));
            }
            argv.push(id.to_owned());
        }
        Ok(LaunchPlan { argv, env: Vec::new() })
    }

    fn resumes(&self) -> bool {
        true
    }

    fn signals(&self) -> Option<&dyn SignalChannel> {
        Some(&notify::Channel)
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![r"(?i)sign in with chatgpt".into(), r"(?i)provide your own api key".into()],
            login_command: Some("codex login".into()),
            approval_patterns: vec![r"(?i)would you like to (run|make|apply) ".into()],
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)\besc to interrupt\b".into()],
            // The elapsed time of a turn at work: `• Working (12s • esc to interrupt)`.
            volatile_patterns: vec![r"\((?:\d+[hm] )*\d+s • esc to interrupt\)".into()],
            // A turn's final failure, after codex's own retries: the red `■` line. The named
            // groups give observe its `error_class` (an HTTP status, or the class by name).
            error_patterns: vec![
                r"(?mi)^\s*\u{25A0} unexpected status (?P<status>[45]\d\d)\b".into(),
                r"(?mi)^\s*\u{25A0} exceeded retry limit, last status: (?P<status>\d{3})\b".into(),
                r"(?mi)^\s*\u{25A0} (?:(?P<server>we.re currently experiencing high demand|server overloaded)|(?P<auth>missing environment variable: )|(?P<rate_limit>quota exceeded|you.ve hit your usage limit)|(?P<network>stream disconnected before completion|connection failed|error sending request for url))".into(),
            ],
        }
    }

    fn startup_dialog(&self, screen: &str, ctx: &DialogContext) -> Option<DialogAnswer> {
        let lower = screen.to_lowercase();
        let options = dialog::menu(screen);
        if lower.contains("update available") {
            let keys = dialog::select(&options, |t| t.starts_with("skip"))?;
            return Some(dialog::answer("update_prompt", "skipped", keys));
        }
        let trust = lower.contains("do you trust the contents of this directory")
            || lower.contains("trust this folder")
            || lower.contains("work in this folder");
        if trust {
            // Keeping approvals is always safe: it trusts nothing.
            if let Some(keys) = dialog::select(&options, |t| t.contains("ask me to approve")) {
                return Some(dialog::answer("trust_prompt", "kept_approvals", keys));
            }
            if ctx.accept_trust {
                // Older releases: "Yes, continue"; 0.171: "Trust and continue" (approvals stay
                // as configured either way).
                let keys = dialog::select(&options, |t| t.starts_with("yes") || t.starts_with("trust and continue"))?;
                return Some(dialog::answer("trust_prompt", "trusted_folder", keys));
            }
        }
        None
    }
}

agentpool_sdk::register_provider!(ID, 11, || Arc::new(Codex));

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;

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
        insta::assert_json_snapshot!(launch::plan_matrix(&Codex, "/usr/local/bin/codex", home.path()));
    }

    #[test]
    fn resume_continues_the_thread_notify_reported() {
        let home = tempfile::tempdir().unwrap();
        let base = LaunchContext {
            session_id: "ap_1".into(),
            binary_path: Some("/usr/local/bin/codex".into()),
            self_exe: "/usr/local/bin/agentpool".into(),
            config: Default::default(),
            model: None,
            reasoning_effort: None,
            service_tier: None,
            isolation: Isolation::ReadOnly,
            role: agentpool_sdk::model::Role::Explorer,
            workdir: "/work/repo".into(),
            prompt_mode: agentpool_sdk::model::PromptMode::Arg,
            home: home.path().to_path_buf(),
            signal_log: home.path().join("artifacts/ap_1/signals.jsonl"),
            resume_session: Some("01a24e99-8599-7c52-a265-5094978f98a7".into()),
        };
        assert!(Codex.resumes());
        let argv = Codex.launch(&base).unwrap().argv;
        assert_eq!(argv[..2], ["/usr/local/bin/codex".to_owned(), "resume".to_owned()]);
        assert_eq!(argv.last().map(String::as_str), Some("01a24e99-8599-7c52-a265-5094978f98a7"));
        let bad = LaunchContext { resume_session: Some("--dangerously-bypass-approvals-and-sandbox".into()), ..base };
        assert!(Codex.launch(&bad).is_err(), "an id is never taken for an option");
    }

    #[test]
    fn update_prompt_is_skipped_by_its_text() {
        let screen = "\u{2728} Update available! 0.168.0 -> 0.169.0\n\n\u{203A} 1. Update now (runs `npm install -g @openai/codex`)\n  2. Skip\n  3. Skip until next version\n\n  Press enter to continue";
        assert_eq!(
            Codex.startup_dialog(screen, &ctx(false)),
            Some(DialogAnswer {
                dialog: "update_prompt".into(),
                action: "moved_selection".into(),
                keys: vec!["Down".into()]
            })
        );
        let moved = screen.replace("\u{203A} 1.", "  1.").replace("  2. Skip\n", "\u{203A} 2. Skip\n");
        assert_eq!(
            Codex.startup_dialog(&moved, &ctx(false)).map(|a| (a.action, a.keys)),
            Some(("skipped".into(), vec!["Enter".into()]))
        );
    }

    #[test]
    fn trust_prompt_prefers_keeping_approvals() {
        let new_style = "You are in /work/repo\n\nDo you trust the contents of this directory? Working with untrusted contents comes with higher risk of prompt injection.\n\n\u{203A} 1. Yes, allow Codex to work in this folder without asking for approval\n  2. No, ask me to approve edits and commands\n\n  Press enter to continue";
        let a = Codex.startup_dialog(new_style, &ctx(false)).unwrap();
        assert_eq!((a.dialog.as_str(), a.keys), ("trust_prompt", vec!["Down".to_owned()]));
        let old_style = "Do you trust the contents of this directory?\n\n\u{203A} 1. Yes, continue\n  2. No, quit\n\n  Press enter to continue";
        assert_eq!(Codex.startup_dialog(old_style, &ctx(false)), None, "trust is never accepted unless allowed");
        let a = Codex.startup_dialog(old_style, &ctx(true)).unwrap();
        assert_eq!((a.action.as_str(), a.keys), ("trusted_folder", vec!["Enter".to_owned()]));
        assert_eq!(Codex.startup_dialog("\u{203A} Ask Codex to do anything", &ctx(true)), None);
        let folder_access = "  Folder access\n  /work/repo\n  Trust this folder? Codex can read, edit, and run files here, subject to your permission settings.\n\u{203A} 1. Trust and continue\n  2. Back to Agent Command Center\n  enter continue \u{b7} esc back";
        assert_eq!(Codex.startup_dialog(folder_access, &ctx(false)), None, "trust is never accepted unless allowed");
        let a = Codex.startup_dialog(folder_access, &ctx(true)).unwrap();
        assert_eq!((a.action.as_str(), a.keys), ("trusted_folder", vec!["Enter".to_owned()]));
    }

    /// Final screens the conformance suite recorded (`cargo xtask conformance --cli codex`,
    /// `target/conformance/screens/`), the scratch repository's path shortened.
    const RECORDED: [(&str, &str, &str, agentpool_sdk::signal::ErrorClass); 8] = {
        use agentpool_sdk::signal::ErrorClass::{Auth, RateLimit, Server};
        [
            ("0.169.0", "err401", include_str!("../testdata/0.169.0-err401.txt"), Auth),
            ("0.169.0", "err429", include_str!("../testdata/0.169.0-err429.txt"), RateLimit),
            ("0.169.0", "err500", include_str!("../testdata/0.169.0-err500.txt"), Server),
            ("0.169.0", "signed_out", include_str!("../testdata/0.169.0-signed_out.txt"), Auth),
            ("0.171.0", "err401", include_str!("../testdata/0.171.0-err401.txt"), Auth),
            ("0.171.0", "err429", include_str!("../testdata/0.171.0-err429.txt"), RateLimit),
            ("0.171.0", "err500", include_str!("../testdata/0.171.0-err500.txt"), Server),
            ("0.171.0", "signed_out", include_str!("../testdata/0.171.0-signed_out.txt"), Auth),
        ]
    };

    #[test]
    fn recorded_api_errors_carry_their_class_and_message() {
        let rules = agentpool_sdk::detect::ExtraRules::compile(&Codex.screen_rules());
        for (version, scenario, screen, class) in RECORDED {
            let det = agentpool_sdk::detect::detect_with(screen, None, &Default::default(), &rules);
            assert_eq!(det.event, agentpool_sdk::model::ObserveEvent::Error, "{version} {scenario}");
            let (got, message) = rules.error_class(screen).unwrap_or_else(|| panic!("{version} {scenario}: no class"));
            assert_eq!(got, class, "{version} {scenario}");
            assert!(message.starts_with('\u{25A0}'), "{version} {scenario}: the message is codex's line: {message}");
        }
        let message = |i: usize| rules.error_class(RECORDED[i].2).map(|(_, m)| m);
        assert_eq!(message(1).as_deref(), Some("\u{25A0} exceeded retry limit, last status: 429 Too Many Requests"));
    }

    #[test]
    fn other_final_failures_are_classed_by_name() {
        use agentpool_sdk::signal::ErrorClass;
        let rules = agentpool_sdk::detect::ExtraRules::compile(&Codex.screen_rules());
        // Codex's own wording of these failures (its error messages), written here: the stand-in
        // does not provoke them.
        for (line, class) in [
            (
                "\u{25A0} stream disconnected before completion: error sending request for url (http://127.0.0.1:9/v1/responses)",
                ErrorClass::Network,
            ),
            ("\u{25A0} Connection failed: connection refused", ErrorClass::Network),
            ("\u{25A0} Quota exceeded. Check your plan and billing details.", ErrorClass::RateLimit),
            ("\u{25A0} You've hit your usage limit. Try again later.", ErrorClass::RateLimit),
            ("\u{25A0} unexpected status 503 Service Unavailable: overloaded", ErrorClass::Server),
            ("\u{25A0} unexpected status 403 Forbidden: no access", ErrorClass::Auth),
        ] {
            let screen = format!("\u{203A} Say hello\n\n{line}\n\n\u{203A} Ask Codex to do anything\n");
            assert_eq!(rules.error_class(&screen).map(|(c, _)| c), Some(class), "{line}");
        }
        // An interrupted turn is not a failure, and a retry in progress names no class yet.
        let interrupted = "\u{25A0} Conversation interrupted - use /feedback if something went wrong\n\n\u{203A} Ask Codex to do anything";
        assert_eq!(rules.error_class(interrupted), None);
        let retrying = "\u{2022} Reconnecting... 2/5 (3s \u{2022} esc to interrupt)\n  \u{2514} unexpected status 429";
        assert_eq!(rules.error_class(retrying), None);
    }

    #[test]
    fn screen_rules_on_written_screens() {
        let rules = agentpool_sdk::detect::ExtraRules::compile(&Codex.screen_rules());
        let signed_out = ">_ Welcome to Codex, OpenAI's command-line coding agent\n\n  Sign in with ChatGPT to use Codex as part of your paid plan\n  or connect an API key for usage-based billing\n\n\u{203A} 1. Sign in with ChatGPT\n  2. Provide your own API key\n\n  Press Enter to continue";
        assert!(rules.login_required(signed_out));
        assert!(!rules.login_required("\u{203A} Explain this codebase\n\n  100% context left"));
        let approval = "Would you like to run the following command?\n\n  $ cargo test\n\n\u{203A} 1. Yes, proceed\n  2. No, and tell Codex what to do differently";
        let det = agentpool_sdk::detect::detect_with(approval, None, &Default::default(), &rules);
        assert_eq!(det.event, agentpool_sdk::model::ObserveEvent::ApprovalPrompt);
        for line in [
            "\u{25A0} unexpected status 401 Unauthorized: Incorrect API key provided, url: http://127.0.0.1:9/v1/responses",
            "\u{25A0} exceeded retry limit, last status: 429 Too Many Requests",
            "\u{25A0} exceeded retry limit, last status: 500 Internal Server Error",
            "\u{25A0} We\u{2019}re currently experiencing high demand, which may cause temporary errors.",
            "\u{25A0} Missing environment variable: `OPENAI_API_KEY`.",
        ] {
            let screen = format!("\u{203A} Say hello\n\n{line}\n\n\u{203A} Ask Codex to do anything\n");
            let det = agentpool_sdk::detect::detect_with(&screen, None, &Default::default(), &rules);
            assert_eq!(det.event, agentpool_sdk::model::ObserveEvent::Error, "{line}");
        }
        let retrying = "\u{2022} Reconnecting... 2/5 (3s \u{2022} esc to interrupt)\n  \u{2514} unexpected status 429";
        let det = agentpool_sdk::detect::detect_with(retrying, None, &Default::default(), &rules);
        assert_ne!(det.event, agentpool_sdk::model::ObserveEvent::Error, "a retry in progress is not the end");
        let busy = "Is the cache shared?\n\n\u{2022} Working (12s \u{2022} esc to interrupt)";
        let det = agentpool_sdk::detect::detect_with(busy, None, &Default::default(), &rules);
        assert_ne!(det.event, agentpool_sdk::model::ObserveEvent::Question, "a busy worker is not asking");
    }

    #[test]
    fn the_elapsed_time_of_a_turn_at_work_is_no_news() {
        let rules = agentpool_sdk::detect::ExtraRules::compile(&Codex.screen_rules());
        let at = |t: &str| format!("› fix the tests\n\n• Working ({t} • esc to interrupt)\n");
        assert_eq!(rules.screen_hash(&at("2s")), rules.screen_hash(&at("1m 05s")));
        assert_ne!(rules.screen_hash(&at("2s")), rules.screen_hash(&format!("{}• Ran cargo test\n", at("2s"))));
    }
}
