//! The `opencode` provider: the opencode TUI (`opencode`).
//!
//! Launch: `opencode [-s <session id>] [--model provider/model] --prompt <task>`. opencode's
//! first positional argument is a *project directory*, so the prompt goes with `--prompt`,
//! and it goes on the command line by default (`arg` mode): opencode itself submits it once
//! its input is ready, which can take many seconds after the screen is drawn — a prompt typed
//! in earlier is lost, or left pasted and unsubmitted. The worker runs in its workdir, so a
//! directory named `opencode` anywhere changes nothing. Read-only isolation is a prompt rule.
//!
//! Signals: a plugin written per worker reports opencode's own events (turn ends, errors
//! after its retries, permission requests, questions, aborts) through `agentpool __signal`
//! (see [`events`]); it is named in the worker's `OPENCODE_CONFIG_CONTENT`, which opencode
//! merges over the user's config. The screen rules below are the fallback.
//!
//! Screen: opencode draws a sidebar (title, context, LSP) beside the conversation when the pane
//! is wider than 120 columns, in the same rows as the reply, so a result block read off the
//! screen would carry the sidebar's words. The worker gets its own `XDG_STATE_HOME` (opencode's
//! TUI preferences and prompt history; sessions, auth and config stay where they are), seeded
//! with the user's preferences and the sidebar hidden.
//!
//! Interrupt: `Escape`, twice (opencode asks for a second press; `Ctrl-C` quits it). Questions
//! (opencode's question tool) pick an option by its number key. `agentpool resume` continues
//! the session the plugin reported (`opencode --session <id>`); opencode 1.18 ignores
//! `--prompt` beside `--session`, so the plugin submits the task (the session's `prompt.md`)
//! to that session through opencode's own API once it serves. opencode has no sign-in screen: with
//! no usable model provider it opens a "Connect a provider" dialog, which the plugin reports as
//! an `auth` error, so observe reports `login_required` (`opencode auth login`).

pub mod events;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use agentpool_sdk::error::{Error, ErrorCode, Result};
use agentpool_sdk::launch;
use agentpool_sdk::model::{Capability, PromptMode};
use agentpool_sdk::probe;
use agentpool_sdk::provider::{
    Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo, ScreenRules, StartupSpec,
};
use agentpool_sdk::signal::SignalChannel;
use async_trait::async_trait;
use serde_json::{Map, Value, json};

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
                .default_prompt_mode(PromptMode::Arg)
                .interrupt_keys(["Escape", "Escape"])
                .metadata(Map::from_iter([("menu_digit_keys".to_owned(), json!(true))]))
                .startup(StartupSpec { ready_markers: Vec::new(), quiet_ms: 800 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["opencode"]).await
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        // `agentpool resume`: the session the plugin reported.
        let resume = ctx.resume_session.as_deref().map(str::trim).filter(|id| !id.is_empty());
        if let Some(id) = resume {
            if id.starts_with('-') {
                return Err(Error::new(ErrorCode::InvalidRequest, format!("`{id}` is not an opencode session id")));
            }
            argv.push("--session".into());
            argv.push(id.to_owned());
        }
        argv.extend(launch::model_args(ctx));
        argv.extend(launch::effort_args(ctx));
        let plugin = events::write_plugin(ctx, ID, resume)?;
        let state = write_state(ctx)?;
        let env = vec![
            ("OPENCODE_CONFIG_CONTENT".to_owned(), events::config_content(&plugin)),
            ("XDG_STATE_HOME".to_owned(), state.display().to_string()),
        ];
        Ok(LaunchPlan { argv, env })
    }

    fn resumes(&self) -> bool {
        true
    }

    fn signals(&self) -> Option<&dyn SignalChannel> {
        Some(&events::Channel)
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
            // The progress bar of a turn at work: `■■■■⬝⬝⬝⬝  esc interrupt`.
            volatile_patterns: vec![r"[■⬝]{4,}".into()],
            error_patterns: Vec::new(),
        }
    }
}

/// The worker's own `XDG_STATE_HOME`, in its artifact directory.
const STATE_DIR: &str = "opencode-state";

/// The user's opencode TUI preferences (`$XDG_STATE_HOME/opencode/kv.json`, else
/// `~/.local/state/opencode/kv.json`), when there are any.
fn user_preferences() -> Map<String, Value> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")));
    base.and_then(|b| std::fs::read_to_string(b.join("opencode/kv.json")).ok())
        .and_then(|t| serde_json::from_str::<Map<String, Value>>(&t).ok())
        .unwrap_or_default()
}

/// The preferences a worker starts with: the user's, with the sidebar hidden.
pub fn worker_preferences(user: Map<String, Value>) -> Map<String, Value> {
    let mut kv = user;
    kv.insert("sidebar".into(), json!("hide"));
    kv
}

/// Writes the worker's state directory (its `opencode/kv.json`); returns the directory.
fn write_state(ctx: &LaunchContext) -> Result<PathBuf> {
    let session = ctx
        .signal_log
        .parent()
        .ok_or_else(|| Error::new(ErrorCode::IoFailed, "the session's signal log has no directory"))?;
    let state = session.join(STATE_DIR);
    let dir = state.join("opencode");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format_args!("could not create `{}`", dir.display()), &e))?;
    let kv = serde_json::to_string_pretty(&worker_preferences(user_preferences())).unwrap_or_default();
    agentpool_sdk::util::write_atomic(&dir.join("kv.json"), kv.as_bytes())?;
    Ok(state)
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
    fn the_question_menu_is_read_and_answered_by_number() {
        let screen = include_str!("screens/question.txt");
        let options = agentpool_sdk::dialog::menu(screen);
        let texts: Vec<&str> = options.iter().map(|o| o.text.as_str()).collect();
        assert_eq!(texts, ["Red", "Blue", "Type your own answer"]);
        assert!(options.iter().all(|o| !o.highlighted), "opencode highlights by colour only");
        assert_eq!(agentpool_sdk::dialog::chosen(&options, "2").map(|o| o.number), Some(Some(2)));
        let provider: &dyn Provider = &OpenCode;
        assert_eq!(provider.metadata()["menu_digit_keys"], true);
        assert_eq!(provider.interrupt_keys(), ["Escape", "Escape"]);
    }

    #[test]
    fn resume_continues_the_session_the_plugin_reported() {
        let home = tempfile::tempdir().unwrap();
        let ctx = LaunchContext {
            session_id: "ap_1".into(),
            binary_path: Some("/usr/local/bin/opencode".into()),
            self_exe: "/usr/local/bin/agentpool".into(),
            config: Default::default(),
            model: None,
            reasoning_effort: None,
            service_tier: None,
            isolation: agentpool_sdk::model::Isolation::ReadOnly,
            role: agentpool_sdk::model::Role::Explorer,
            workdir: "/work/repo".into(),
            prompt_mode: PromptMode::Arg,
            home: home.path().to_path_buf(),
            signal_log: home.path().join("artifacts/ap_1/signals.jsonl"),
            resume_session: Some("ses_db0fa1d0affemQVsNTL2kXYgea".into()),
        };
        assert!(OpenCode.resumes());
        let plan = OpenCode.launch(&ctx).unwrap();
        assert_eq!(plan.argv[1..], ["--session".to_owned(), "ses_db0fa1d0affemQVsNTL2kXYgea".to_owned()]);
        let plugin = std::fs::read_to_string(home.path().join("artifacts/ap_1").join(events::PLUGIN_FILE)).unwrap();
        assert!(plugin.contains(r#"["/usr/local/bin/agentpool","__signal","opencode","event","#), "{plugin}");
        assert!(plugin.contains(r#""session":"ses_db0fa1d0affemQVsNTL2kXYgea""#), "{plugin}");
        let kv = std::fs::read_to_string(home.path().join("artifacts/ap_1/opencode-state/opencode/kv.json")).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&kv).unwrap()["sidebar"], "hide");
        let bad = LaunchContext { resume_session: Some("--dangerously-skip".into()), ..ctx };
        assert!(OpenCode.launch(&bad).is_err(), "an id is never taken for an option");
    }

    #[test]
    fn the_sidebar_is_hidden_and_other_preferences_kept() {
        let user = serde_json::from_str(r#"{"theme":"nord","sidebar":"show"}"#).unwrap();
        let kv = worker_preferences(user);
        assert_eq!((kv["theme"].as_str(), kv["sidebar"].as_str()), (Some("nord"), Some("hide")));
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

    #[test]
    fn the_progress_bar_of_a_turn_at_work_is_no_news() {
        let rules = ExtraRules::compile(&OpenCode.screen_rules());
        let at = |bar: &str| format!("┃  fix the tests\n\n   {bar}  esc interrupt\n");
        assert_eq!(rules.screen_hash(&at("■■■■⬝⬝⬝⬝")), rules.screen_hash(&at("⬝⬝⬝■■■■■")));
        assert_ne!(rules.screen_hash(&at("■■■■⬝⬝⬝⬝")), rules.screen_hash(&format!("tick 1\n{}", at("■■■■⬝⬝⬝⬝"))));
    }
}
