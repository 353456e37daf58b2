//! The session lifecycle over a scripted [`Runtime`]: every transition the engine makes, without
//! tmux. The test sets what the worker's screen shows and whether it has exited; the fake
//! records what the engine typed and which workers it ended.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::api::SpawnRequest;
use crate::config::Settings;
use crate::error::{ErrorCode, Result};
use crate::model::{RuntimeKind, RuntimeRef};
use crate::pool::{Pool, PoolOptions};
use crate::provider::Registry;
use crate::runtime::{LiveControl, Liveness, Runtime, Snapshot, SpawnSpec};
use crate::session::observe::ObserveOptions;

#[derive(Debug, Default, Clone)]
struct Pane {
    screen: String,
    dead: bool,
    exit_status: Option<i32>,
}

/// A worker that reacts: called on every capture (`None`) and key press (`Some(keys)`).
type Script = Box<dyn FnMut(&mut Pane, Option<&[String]>) + Send>;

#[derive(Default)]
struct World {
    /// What a new worker's screen shows first (default `> `).
    first_screen: Option<String>,
    /// The reacting worker, for every pane.
    script: Option<Script>,
    panes: HashMap<String, Pane>,
    /// `(session, text)` for every paste, in order.
    pastes: Vec<(String, String)>,
    /// `(session, keys)` for every key press.
    keys: Vec<(String, Vec<String>)>,
    /// Sessions ended by `terminate`, once per call.
    terminated: Vec<String>,
}

/// A runtime whose workers are whatever the test says they are.
#[derive(Clone, Default)]
struct FakeRuntime(Arc<Mutex<World>>);

impl FakeRuntime {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn show(&self, session: &str, screen: &str) {
        self.world().panes.entry(session.to_owned()).or_default().screen = screen.to_owned();
    }

    fn exit(&self, session: &str, status: i32) {
        let mut w = self.world();
        let pane = w.panes.entry(session.to_owned()).or_default();
        pane.dead = true;
        pane.exit_status = Some(status);
    }

    fn vanish(&self, session: &str) {
        self.world().panes.remove(session);
    }
}

fn not_found(name: &str) -> crate::Error {
    crate::Error::new(ErrorCode::TmuxSessionNotFound, format!("no session {name}"))
}

#[async_trait]
impl Runtime for FakeRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Tmux
    }

    fn binary_path(&self) -> Option<String> {
        Some("/fake/tmux".into())
    }

    async fn spawn(&self, spec: &SpawnSpec) -> Result<RuntimeRef> {
        std::fs::write(&spec.output_log, b"").map_err(|e| crate::Error::io("output log", &e))?;
        let mut w = self.world();
        let screen = w.first_screen.clone().unwrap_or_else(|| "> ".into());
        w.panes.insert(spec.name.clone(), Pane { screen, ..Pane::default() });
        drop(w);
        Ok(RuntimeRef {
            session_name: spec.name.clone(),
            window: "0".into(),
            pane: "0".into(),
            pane_id: Some("%1".into()),
            socket: Some("fake".into()),
            output_log: Some(spec.output_log.display().to_string()),
        })
    }

    async fn snapshot(&self, r: &RuntimeRef, _history: usize, _timeout: Duration) -> Result<Snapshot> {
        let mut guard = self.world();
        let w = &mut *guard;
        let pane = w.panes.get_mut(&r.session_name).ok_or_else(|| not_found(&r.session_name))?;
        if let Some(script) = w.script.as_mut() {
            script(pane, None);
        }
        Ok(Snapshot { screen: pane.screen.clone(), dead: pane.dead, exit_status: pane.exit_status })
    }

    async fn paste(&self, r: &RuntimeRef, text: &str) -> Result<()> {
        let mut w = self.world();
        match w.panes.get(&r.session_name) {
            None => return Err(not_found(&r.session_name)),
            Some(p) if p.dead => {
                return Err(crate::Error::new(ErrorCode::WorkerExited, "the worker has exited")
                    .with("exit_status", p.exit_status));
            }
            Some(_) => {}
        }
        w.pastes.push((r.session_name.clone(), text.to_owned()));
        Ok(())
    }

    async fn send_keys(&self, r: &RuntimeRef, keys: &[String]) -> Result<()> {
        let mut w = self.world();
        if w.panes.get(&r.session_name).is_none_or(|p| p.dead) {
            return Err(not_found(&r.session_name));
        }
        w.keys.push((r.session_name.clone(), keys.to_vec()));
        let w = &mut *w;
        if let (Some(script), Some(pane)) = (w.script.as_mut(), w.panes.get_mut(&r.session_name)) {
            script(pane, Some(keys));
        }
        Ok(())
    }

    async fn list(&self, _socket: Option<&str>) -> Result<HashMap<String, Liveness>> {
        Ok(self
            .world()
            .panes
            .iter()
            .map(|(k, p)| {
                let l = if p.dead { Liveness::Dead { exit_status: p.exit_status } } else { Liveness::Alive };
                (k.clone(), l)
            })
            .collect())
    }

    async fn terminate(&self, r: &RuntimeRef) -> Result<()> {
        let mut w = self.world();
        w.panes.remove(&r.session_name);
        w.terminated.push(r.session_name.clone());
        Ok(())
    }

    fn attach_command(&self, r: &RuntimeRef) -> String {
        format!("fake attach {}", r.session_name)
    }

    fn live_control(&self, _allow_raw_keys: bool) -> LiveControl {
        LiveControl {
            can_capture_screen: true,
            can_send_message: true,
            can_send_keys: false,
            can_interrupt: true,
            can_attach: true,
            attach_kind: "interactive",
        }
    }
}

/// A temporary home and git repository, a custom provider `scripted` (no program ever runs:
/// the runtime is fake), and a manager over the fake runtime.
struct Engine {
    _home: tempfile::TempDir,
    repo: tempfile::TempDir,
    runtime: FakeRuntime,
    manager: Pool,
}

const RESULT: &str = "AGENTPOOL_RESULT_START\nSummary: looked at the migrations\nAGENTPOOL_RESULT_END";

impl Engine {
    fn new() -> Self {
        Self::with_config("")
    }

    /// [`Self::new`] with more config after the `scripted` provider.
    fn with_config(extra: &str) -> Self {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("temp home: {e}"));
        let repo = tempfile::tempdir().unwrap_or_else(|e| panic!("temp repo: {e}"));
        for args in [
            &["init", "-q"][..],
            &["-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "--allow-empty", "-m", "init"][..],
        ] {
            let ok = std::process::Command::new("git")
                .args(args)
                .current_dir(repo.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "git {args:?}");
        }
        let config = home.path().join("config.toml");
        std::fs::write(
            &config,
            format!("[[custom_providers]]\nid = \"scripted\"\ncommand = [\"/bin/sh\"]\n\n[custom_providers.patterns]\nquestion = ['(?m)^QUESTION: ']\n\n{extra}"),
        )
        .unwrap_or_else(|e| panic!("config: {e}"));
        let settings = Settings::load_from(home.path().to_path_buf(), config).unwrap_or_else(|e| panic!("{e:?}"));
        let registry = Registry::new(&settings).unwrap_or_else(|e| panic!("{e:?}"));
        let runtime = FakeRuntime::default();
        let principal = crate::scope::Principal { coordinator_id: "tests".into(), scoped: false, lockdown: false };
        let opts = PoolOptions { principal, self_exe: std::env::current_exe().unwrap_or_default() };
        let manager =
            Pool::new(settings, registry, Arc::new(runtime.clone()), opts).unwrap_or_else(|e| panic!("{e:?}"));
        Self { _home: home, repo, runtime, manager }
    }

    async fn spawn(&self, task: &str, max_turns: Option<i64>) -> (String, String) {
        let mut req = SpawnRequest::new("scripted", task, self.repo.path().display().to_string());
        req.max_turns = max_turns;
        let v = self.manager.spawn(req).await.unwrap_or_else(|e| panic!("spawn: {e:?}"));
        let id = v.session_id.clone();
        let name = self.session(&id).await["tmux"]["session_name"].as_str().unwrap_or_default().to_owned();
        assert!(!name.is_empty(), "{v:?}");
        (id, name)
    }

    async fn session(&self, id: &str) -> Value {
        let shown = self.manager.show(id).await.unwrap_or_else(|e| panic!("show: {e:?}"));
        serde_json::to_value(shown.session).unwrap_or_default()
    }

    async fn state(&self, id: &str) -> String {
        self.session(id).await["state"].as_str().unwrap_or_default().to_owned()
    }

    async fn observe(&self, id: &str) -> (String, String) {
        let opts = ObserveOptions { timeout: Duration::ZERO, ..ObserveOptions::default() };
        let r = self.manager.observe(id, opts).await.unwrap_or_else(|e| panic!("observe: {e:?}"));
        (r.state.as_str().to_owned(), r.event.as_str().to_owned())
    }

    async fn event_types(&self, id: &str) -> Vec<String> {
        let dir = self.session(id).await["artifact_dir"].as_str().unwrap_or_default().to_owned();
        std::fs::read_to_string(Path::new(&dir).join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|e| e["event_type"].as_str().map(str::to_owned))
            .collect()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn spawn_types_the_prompt_and_runs() {
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Inspect the migrations.", None).await;
        assert_eq!(e.state(&id).await, "RUNNING");
        let pastes = e.runtime.world().pastes.clone();
        assert_eq!(pastes.len(), 1, "{pastes:?}");
        assert_eq!(pastes[0].0, name);
        assert!(pastes[0].1.contains("Inspect the migrations."), "{pastes:?}");
        let types = e.event_types(&id).await;
        assert!(types.starts_with(&["spawn".to_owned(), "send_initial_prompt".to_owned()]), "{types:?}");
    });
}

#[test]
fn question_then_answer_then_result_completes() {
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Pick an area.", None).await;
        e.runtime.show(&name, "working\nQUESTION: which area first?\n> ");
        assert_eq!(e.observe(&id).await, ("AWAITING_USER_INPUT".into(), "question".into()));
        e.manager.send(&id, "Inspect migrations first.").await.unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!(e.session(&id).await["metadata"]["turns_sent"], 1);
        e.runtime.show(&name, &format!("working\n{RESULT}\n> "));
        assert_eq!(e.observe(&id).await, ("COMPLETED".into(), "completed".into()));
        let dir = e.session(&id).await["artifact_dir"].as_str().unwrap_or_default().to_owned();
        let result = std::fs::read_to_string(Path::new(&dir).join("result.md")).unwrap_or_default();
        assert!(result.contains("looked at the migrations"), "{result:?}");
        // A completed session stays completed while the screen does not change.
        assert_eq!(e.observe(&id).await.0, "COMPLETED");
    });
}

#[test]
fn the_echo_of_the_task_never_completes_it() {
    rt().block_on(async {
        let e = Engine::new();
        let task = format!("Print this when done:\n{RESULT}");
        let (id, name) = e.spawn(&task, None).await;
        // The worker shows only what was typed into it.
        e.runtime.show(&name, &format!("> {task}\n"));
        assert_ne!(e.observe(&id).await.0, "COMPLETED");
    });
}

#[test]
fn a_worker_that_exits_is_failed_with_its_status_or_completed_with_a_result() {
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Do it.", None).await;
        e.runtime.show(&name, "panic: something broke");
        e.runtime.exit(&name, 3);
        assert_eq!(e.observe(&id).await, ("FAILED".into(), "error".into()));
        assert!(e.session(&id).await["ended_at"].is_string());

        let (id, name) = e.spawn("Do it well.", None).await;
        e.runtime.show(&name, &format!("{RESULT}\n"));
        e.runtime.exit(&name, 0);
        assert_eq!(e.observe(&id).await, ("COMPLETED".into(), "completed".into()));
    });
}

#[test]
fn sending_to_an_exited_worker_is_worker_exited_and_gives_the_turn_back() {
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Do it.", Some(3)).await;
        e.runtime.show(&name, "bye");
        e.runtime.exit(&name, 1);
        let err = e.manager.send(&id, "hello?").await.expect_err("the worker is gone");
        assert_eq!(err.code, ErrorCode::WorkerExited, "{err:?}");
        assert_eq!(e.session(&id).await["metadata"]["turns_sent"], 0, "an undelivered message takes no turn");
    });
}

#[test]
fn max_turns_is_counted_once_per_delivered_message() {
    rt().block_on(async {
        let e = Engine::new();
        let (id, _) = e.spawn("Do it.", Some(2)).await;
        let mut results = Vec::new();
        for i in 0..4 {
            results.push(e.manager.send(&id, &format!("turn {i}")).await);
        }
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 2, "{results:?}");
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(err.code, ErrorCode::TurnLimitReached);
        }
        assert_eq!(e.session(&id).await["metadata"]["turns_sent"], 2);
    });
}

#[test]
fn terminate_ends_the_worker_once_and_is_final() {
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Do it.", None).await;
        let first = e.manager.terminate(&id, None, false).await.unwrap_or_else(|err| panic!("{err:?}"));
        let second = e.manager.terminate(&id, None, false).await.unwrap_or_else(|err| panic!("{err:?}"));
        assert!(!first.already_terminated, "{first:?}");
        assert!(second.already_terminated, "{second:?}");
        assert_eq!(e.state(&id).await, "CANCELLED");
        assert!(e.runtime.world().terminated.contains(&name));
        // Nothing an observer sees afterwards changes a settled session.
        e.runtime.show(&name, &format!("{RESULT}\n"));
        assert_eq!(e.observe(&id).await.0, "CANCELLED");
    });
}

#[test]
fn reconcile_fails_a_vanished_worker_and_keeps_a_live_one() {
    rt().block_on(async {
        let e = Engine::new();
        let (gone, gone_name) = e.spawn("Vanish.", None).await;
        let (live, _) = e.spawn("Stay.", None).await;
        e.runtime.vanish(&gone_name);
        e.manager.reconcile().await.unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!(e.state(&gone).await, "FAILED");
        assert_eq!(e.state(&live).await, "RUNNING");
    });
}

impl Engine {
    /// Appends signals to a session's signal log, as `agentpool __signal` does for a hook.
    async fn signal(&self, id: &str, signals: &[crate::signal::Signal]) {
        let dir = self.session(id).await["artifact_dir"].as_str().unwrap_or_default().to_owned();
        let logged: Vec<_> = signals
            .iter()
            .map(|s| crate::signal::LoggedSignal { ts: crate::util::now(), source: "hook".into(), signal: s.clone() })
            .collect();
        crate::signal::append(&Path::new(&dir).join(crate::signal::LOG_NAME), &logged)
            .unwrap_or_else(|err| panic!("signal log: {err}"));
    }
}

#[test]
fn signals_decide_turn_end_and_a_new_turn_starts_clean() {
    use crate::signal::Signal;
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Explain the build.", None).await;
        e.runtime.show(&name, "The build uses cargo.\n> ");
        assert_eq!(e.observe(&id).await.0, "RUNNING", "the screen alone says nothing");
        e.signal(
            &id,
            &[
                Signal::SessionStarted { cli_session_id: Some("conv-1".into()) },
                Signal::TurnEnded { last_reply: Some("The build uses cargo.".into()) },
            ],
        )
        .await;
        assert_eq!(e.observe(&id).await, ("IDLE".into(), "idle".into()));
        assert_eq!(e.session(&id).await["metadata"]["cli_session_id"], "conv-1");

        // A follow-up starts a new turn: the old turn end no longer counts.
        e.manager.send(&id, "And the tests?").await.unwrap_or_else(|err| panic!("{err:?}"));
        e.runtime.show(&name, "The build uses cargo.\n> And the tests?\nWorking...\n");
        assert_eq!(e.observe(&id).await.0, "RUNNING");
        // The CLI asks; then a tool runs (it is working again); then the turn fails for good.
        e.signal(&id, &[Signal::Question { text: Some("Unit or integration?".into()) }]).await;
        assert_eq!(e.observe(&id).await, ("AWAITING_USER_INPUT".into(), "question".into()));
        e.signal(&id, &[Signal::ToolUse { tool: Some("Bash".into()) }]).await;
        assert_eq!(e.observe(&id).await.0, "RUNNING");
        e.signal(&id, &[Signal::Error { class: crate::signal::ErrorClass::RateLimit, message: "429".into() }]).await;
        let opts = ObserveOptions { timeout: Duration::ZERO, ..ObserveOptions::default() };
        let r = e.manager.observe(&id, opts).await.unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!((r.state.as_str(), r.event.as_str()), ("FAILED", "error"));
        assert_eq!(r.metadata["error_class"], "rate_limit");
        assert_eq!(r.metadata["signal"]["kind"], "error");
    });
}

#[test]
fn a_result_block_on_screen_completes_even_when_the_turn_end_came_by_signal() {
    use crate::signal::Signal;
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Summarise.", None).await;
        e.runtime.show(&name, &format!("{RESULT}\n> "));
        e.signal(&id, &[Signal::TurnEnded { last_reply: None }]).await;
        assert_eq!(e.observe(&id).await, ("COMPLETED".into(), "completed".into()));
    });
}

#[test]
fn a_menu_without_a_highlight_takes_the_number_key_only_when_the_provider_says_so() {
    rt().block_on(async {
        // opencode's question dialog: options framed by `┃`, highlighted by colour only.
        let menu = "\u{2503}  QUESTION: Which color should the button be?\n\u{2503}  1. Red\n\u{2503}  2. Blue\n\u{2503}  3. Type your own answer\n";
        let e = Engine::with_config("\n[providers.scripted.metadata]\nmenu_digit_keys = true\n");
        let (id, name) = e.spawn("Pick a colour.", None).await;
        e.runtime.show(&name, menu);
        assert_eq!(e.observe(&id).await.0, "AWAITING_USER_INPUT");
        let pastes_before = e.runtime.world().pastes.len();
        let sent = e.manager.send(&id, "blue").await.unwrap_or_else(|err| panic!("{err:?}"));
        let blue = crate::api::SelectedOption { number: Some(2), text: "Blue".to_owned() };
        assert_eq!(sent.selected_option, Some(blue), "{sent:?}");
        assert_eq!(e.runtime.world().keys.last().map(|k| k.1.clone()), Some(vec!["2".to_owned()]));
        assert_eq!(e.runtime.world().pastes.len(), pastes_before, "nothing was typed");

        // Without the word of the provider, a menu with no highlight is typed into as before.
        let e = Engine::new();
        let (id, name) = e.spawn("Pick a colour.", None).await;
        e.runtime.show(&name, menu);
        assert_eq!(e.observe(&id).await.0, "AWAITING_USER_INPUT");
        let typed = e.manager.send(&id, "2").await.unwrap_or_else(|err| panic!("{err:?}"));
        assert!(typed.selected_option.is_none(), "{typed:?}");
        assert!(e.runtime.world().pastes.iter().any(|p| p.1 == "2"));
    });
}

#[test]
fn an_answer_naming_a_menu_option_selects_it_on_screen() {
    rt().block_on(async {
        let e = Engine::new();
        let (id, name) = e.spawn("Pick a colour.", None).await;
        let menu = "QUESTION: Which color should the button be?\n\u{276F} 1. Red\n  2. Blue\n  3. Type something.\nEnter to select";
        e.runtime.show(&name, menu);
        assert_eq!(e.observe(&id).await.0, "AWAITING_USER_INPUT");
        let pastes_before = e.runtime.world().pastes.len();

        // The highlighted option, named by its text: confirmed with Enter, nothing typed.
        let sent = e.manager.send(&id, "red").await.unwrap_or_else(|err| panic!("{err:?}"));
        let red = crate::api::SelectedOption { number: Some(1), text: "Red".to_owned() };
        assert_eq!(sent.selected_option, Some(red), "{sent:?}");
        assert_eq!(e.runtime.world().keys.last().map(|k| k.1.clone()), Some(vec!["Enter".to_owned()]));
        assert_eq!(e.runtime.world().pastes.len(), pastes_before, "nothing was typed");

        // Another option whose highlight never arrives (this screen does not move): a clear
        // error, and no Enter confirms the wrong option.
        e.runtime.show(&name, menu);
        assert_eq!(e.observe(&id).await.0, "AWAITING_USER_INPUT");
        let keys_before = e.runtime.world().keys.len();
        let err = e.manager.send(&id, "2").await.expect_err("the highlight did not move");
        assert_eq!(err.code, ErrorCode::MenuSelectionFailed, "{err:?}");
        let keys: Vec<Vec<String>> = e.runtime.world().keys[keys_before..].iter().map(|k| k.1.clone()).collect();
        assert_eq!(keys, vec![vec!["Down".to_owned()]], "arrows only, never Enter");

        // Free text is typed as before.
        let typed = e.manager.send(&id, "Green, please").await.unwrap_or_else(|err| panic!("{err:?}"));
        assert!(typed.selected_option.is_none(), "{typed:?}");
        assert!(e.runtime.world().pastes.iter().any(|p| p.1 == "Green, please"));
    });
}

/// A provider whose startup dialogs are answered like Claude Code's: the folder-trust screen
/// with "Yes", the API-key dialog with "Yes" (both read off the highlighted menu option).
struct DialogProvider;

const DIALOG_PROVIDER: &str = "test-dialogs";

#[async_trait]
impl agentpool_sdk::provider::Provider for DialogProvider {
    fn info(&self) -> &agentpool_sdk::provider::ProviderInfo {
        static INFO: std::sync::LazyLock<agentpool_sdk::provider::ProviderInfo> = std::sync::LazyLock::new(|| {
            agentpool_sdk::provider::ProviderInfo::new(DIALOG_PROVIDER, "Test Dialogs", "AgentPool")
                .startup(agentpool_sdk::provider::StartupSpec { ready_markers: vec!["? for shortcuts"], quiet_ms: 600 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &agentpool_sdk::provider::ProbeContext) -> agentpool_sdk::provider::Detected {
        agentpool_sdk::probe::detect_cli(ctx, &[]).await
    }

    fn launch(&self, ctx: &agentpool_sdk::provider::LaunchContext) -> Result<agentpool_sdk::provider::LaunchPlan> {
        Ok(agentpool_sdk::provider::LaunchPlan { argv: agentpool_sdk::launch::base_command(ctx)?, env: Vec::new() })
    }

    fn screen_rules(&self) -> agentpool_sdk::provider::ScreenRules {
        agentpool_sdk::provider::ScreenRules { login_patterns: vec![r"(?i)not logged in".into()], ..Default::default() }
    }

    fn startup_dialog(
        &self,
        screen: &str,
        _ctx: &agentpool_sdk::provider::DialogContext,
    ) -> Option<agentpool_sdk::provider::DialogAnswer> {
        use agentpool_sdk::dialog;
        let name = if screen.contains("Do you want to use this API key?") {
            "api_key_prompt"
        } else if screen.contains("one you trust?") {
            "trust_prompt"
        } else {
            return None;
        };
        let keys = dialog::select(&dialog::menu(screen), |t| t.starts_with("yes"))?;
        Some(dialog::answer(name, "accepted", keys))
    }
}

agentpool_sdk::register_provider!(DIALOG_PROVIDER, 999, || Arc::new(DialogProvider));

/// Claude Code 2.1.197 under load: after the trust screen's `Enter` it redraws that screen a few
/// times before the API-key dialog replaces it, and an `Enter` sent meanwhile is read by the
/// API-key dialog, whose highlighted option is "No" (the key is rejected: signed out).
#[test]
fn a_confirmed_dialog_redrawn_before_the_next_one_is_not_answered_twice() {
    const TRUST: &str = "Accessing workspace:\n/tmp/repo\n\nQuick safety check: Is this a project you created or one you trust?\n\n \u{276F} 1. Yes, I trust this folder\n   2. No, exit\n\n Enter to confirm \u{b7} Esc to cancel";
    const KEY_NO: &str = "Detected a custom API key in your environment\n\nDo you want to use this API key?\n\n   1. Yes\n \u{276F} 2. No (recommended)\n\n Enter to confirm \u{b7} Esc to cancel";
    const KEY_YES: &str = "Detected a custom API key in your environment\n\nDo you want to use this API key?\n\n \u{276F} 1. Yes\n   2. No (recommended)\n\n Enter to confirm \u{b7} Esc to cancel";
    #[derive(Clone, Copy, PartialEq)]
    enum Stage {
        Trust,
        Redraw(u8),
        KeyNo,
        KeyYes,
        Ready,
        SignedOut,
    }
    let mut stage = Stage::Trust;
    let mut stray_enter = false;
    let script: Script = Box::new(move |pane, keys| {
        let enter = keys == Some(&["Enter".to_owned()][..]);
        let up = keys == Some(&["Up".to_owned()][..]);
        stage = match (stage, keys.is_some()) {
            (Stage::Trust, true) if enter => Stage::Redraw(3),
            (Stage::Redraw(_), true) if enter => {
                stray_enter = true;
                stage
            }
            (Stage::Redraw(0), false) if stray_enter => Stage::SignedOut,
            (Stage::Redraw(0), false) => Stage::KeyNo,
            (Stage::Redraw(n), false) => Stage::Redraw(n - 1),
            (Stage::KeyNo, true) if up => Stage::KeyYes,
            (Stage::KeyNo, true) if enter => Stage::SignedOut,
            (Stage::KeyYes, true) if enter => Stage::Ready,
            (other, _) => other,
        };
        pane.screen = match stage {
            Stage::Trust => TRUST.to_owned(),
            Stage::Redraw(n) => format!("{TRUST}\n{}", ".".repeat(usize::from(n))),
            Stage::KeyNo => KEY_NO.to_owned(),
            Stage::KeyYes => KEY_YES.to_owned(),
            Stage::Ready => "\u{276F} \n  ? for shortcuts".to_owned(),
            Stage::SignedOut => "\u{276F} \n  Not logged in \u{b7} Run /login".to_owned(),
        };
    });
    rt().block_on(async {
        let e = Engine::with_config("[providers.test-dialogs]\ncommand = [\"/bin/sh\"]\n");
        {
            let mut w = e.runtime.world();
            w.first_screen = Some(TRUST.to_owned());
            w.script = Some(script);
        }
        let req = SpawnRequest::new(DIALOG_PROVIDER, "Inspect the migrations.", e.repo.path().display().to_string());
        let v = e.manager.spawn(req).await.unwrap_or_else(|err| panic!("spawn: {err:?}"));
        let keys: Vec<Vec<String>> = e.runtime.world().keys.iter().map(|(_, k)| k.clone()).collect();
        let expected: Vec<Vec<String>> = [["Enter"], ["Up"], ["Enter"]].iter().map(|k| vec![k[0].to_owned()]).collect();
        assert_eq!(keys, expected, "the trust screen answered once, then the API-key dialog: {v:?}");
        let pastes = e.runtime.world().pastes.clone();
        assert_eq!(pastes.len(), 1, "the task was typed, the worker is signed in: {pastes:?} {v:?}");
    });
}
