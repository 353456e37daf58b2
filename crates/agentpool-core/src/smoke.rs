//! The guarded real-provider smoke: one read-only worker of a real CLI, steered once, checked
//! for a token it can only print if it understood the message, and always torn down.
//!
//! Guard rails, in order of importance:
//! - the worker runs with `read_only` isolation and the `reviewer` role, whatever the caller
//!   asked; without `real_read_only` a real provider is `POLICY_BLOCKED`;
//! - only startup dialogs the provider itself recognises (`Provider::startup_dialog`, which
//!   reads the options off the screen) are answered, folder trust only for the smoke's repo
//!   and only with consent; any other prompt stops the smoke for a human;
//! - the message asks for the words AGENTPOOL, SMOKE and DONE joined by underscores, so the
//!   token never appears in what we send and an echo cannot pass the smoke;
//! - `git status --porcelain` of the repo is compared before and after: any change fails it;
//! - the worker is terminated on every path, so nothing is left on the tmux socket.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::api::SpawnRequest;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Isolation, ObserveEvent, PromptMode, Role, SessionState};
use crate::pool::Pool;
use crate::provider::DialogContext;
use crate::session::observe::{ObserveOptions, ObserveResponse};

/// What `agentpool smoke` asks for.
#[derive(Debug, Clone)]
pub struct SmokeOptions {
    pub provider_id: String,
    pub repo: String,
    /// Model for a real provider (default: its `smoke_model`, else `default_model`).
    pub model: Option<String>,
    /// Upper bound on each wait.
    pub timeout: Duration,
    /// The caller's consent to drive a real CLI (read-only).
    pub real_read_only: bool,
    /// Whether folder-trust prompts for the smoke repo may be answered.
    pub accept_startup_trust: bool,
}

/// The task a real smoke worker gets: look, touch nothing, wait for one message.
pub const REAL_SMOKE_TASK: &str = "AgentPool read-only smoke check.\n\
Do not edit, create or delete any file. Do not install anything, use the network or run \
expensive commands. Inspect the repository only if you need to.\n\
Then wait for exactly one steering message from AgentPool and follow it.";

/// The steering message. It spells the token out in words, so the worker has to put it
/// together: seeing the token on screen proves the message was understood, not echoed.
pub const REAL_SMOKE_MESSAGE: &str = "Read-only smoke check: do not change any file. Print the three words \
AGENTPOOL, SMOKE and DONE joined by underscores, on a line of its own, and then stop.";

/// Startup dialogs answered after spawn at most this many times.
const MAX_STARTUP_STEPS: usize = 4;
/// Upper bound on the first wait: a CLI that has not shown anything useful by then will not.
const FIRST_WAIT_CAP: Duration = Duration::from_secs(30);

impl Pool {
    /// `agentpool smoke`: the fake smoke for `fake-*` providers; for a real provider, the
    /// guarded read-only smoke (refused without `real_read_only`).
    pub async fn smoke_with(&self, opts: SmokeOptions) -> Result<Value> {
        let provider_id = opts.provider_id.trim();
        if provider_id.starts_with("fake-") {
            return self.smoke(provider_id, &opts.repo, opts.timeout).await;
        }
        let provider = self.registry.get(provider_id)?;
        if !opts.real_read_only {
            return Err(Error::new(
                ErrorCode::PolicyBlocked,
                format!("a smoke of the real provider `{provider_id}` needs `--real-read-only`"),
            )
            .with("provider_id", provider_id)
            .with("isolation", Isolation::ReadOnly)
            .with("hint", "agentpool smoke --provider <id> --real-read-only"));
        }
        let config = &self.profile(provider.as_ref()).config;
        let model = opts.model.clone().filter(|m| !m.trim().is_empty()).or_else(|| {
            ["smoke_model", "default_model"]
                .iter()
                .find_map(|k| config.metadata.get(*k).and_then(Value::as_str).map(str::to_owned))
        });
        let repo = crate::api::resolve_repo(&opts.repo)?;
        let (status_before, _) = crate::workspace::git::status(&repo).await;

        let mut req = SpawnRequest::new(provider.id(), REAL_SMOKE_TASK, repo.display().to_string());
        req.role = Role::Reviewer;
        req.isolation = Isolation::ReadOnly;
        req.model = model.clone();
        req.initial_prompt_mode = PromptMode::ProviderDefault;
        req.metadata.insert("smoke".into(), json!("real_read_only"));
        req.metadata.insert("accept_startup_trust".into(), json!(opts.accept_startup_trust));
        let spawned = self.spawn(req).await?;
        let session_id = spawned.session_id.clone();

        let mut out = Map::new();
        out.insert("session_id".into(), json!(session_id));
        out.insert("provider_id".into(), json!(provider.id()));
        out.insert("model".into(), json!(model));
        out.insert("isolation".into(), json!(Isolation::ReadOnly));
        out.insert("role".into(), json!(Role::Reviewer));
        out.insert("attach_command".into(), json!(spawned.attach_command));
        let mut lifecycle = Map::new();
        lifecycle.insert("spawn".into(), json!(true));

        let steps = self.real_smoke_steps(&session_id, provider.as_ref(), &opts, &repo, &mut out, &mut lifecycle).await;
        // Always torn down, whatever happened above.
        let terminated = self.terminate(&session_id, Some("smoke finished"), false).await;
        lifecycle.insert("terminate".into(), json!(terminated.is_ok()));

        let (status_after, facts) = crate::workspace::git::status(&repo).await;
        let dirty = status_after != status_before;
        out.insert("git_dirty".into(), json!(dirty));
        if dirty {
            out.insert("git_changes".into(), json!(facts.changed_files));
        }
        if let Err(e) = &steps {
            out.insert("smoke_error".into(), e.envelope()["error"].clone());
        }
        let last_event = out.get("final_event").or_else(|| out.get("initial_event")).cloned().unwrap_or(Value::Null);
        let all = |keys: &[&str]| keys.iter().all(|k| lifecycle.get(*k) == Some(&json!(true)));
        let ok = steps.is_ok()
            && !out.contains_key("blocked_reason")
            && !dirty
            && last_event == json!(ObserveEvent::Completed)
            && all(&["spawn", "send", "collect", "terminate"]);
        out.insert("lifecycle".into(), Value::Object(lifecycle));
        out.insert("ok".into(), json!(ok));
        Ok(Value::Object(out))
    }

    async fn real_smoke_steps(
        &self,
        session_id: &str,
        provider: &dyn crate::provider::Provider,
        opts: &SmokeOptions,
        repo: &std::path::Path,
        out: &mut Map<String, Value>,
        lifecycle: &mut Map<String, Value>,
    ) -> Result<()> {
        let wait = |timeout: Duration, what: &[&str]| ObserveOptions {
            wait_for: what.iter().map(|s| (*s).to_owned()).collect(),
            timeout,
            include_screen: true,
            ..Default::default()
        };
        let first = wait(opts.timeout.min(FIRST_WAIT_CAP), &["question", "approval", "completed", "error"]);
        let mut seen = self.observe(session_id, first.clone()).await?;
        out.insert("initial_event".into(), json!(seen.event));
        out.insert("initial_state".into(), json!(seen.state));

        // Dialogs the worker shows after spawn's own settling (spawn already answered the
        // ones visible before the first paste; they are in the events as `startup_dialog`).
        let dialog_ctx = DialogContext {
            accept_trust: opts.accept_startup_trust,
            isolation: Isolation::ReadOnly,
            workdir: PathBuf::from(repo),
            provider_metadata: self.profile(provider).config.metadata.clone(),
        };
        let mut answered = Vec::new();
        let mut steps = 0;
        while seen.event == ObserveEvent::ApprovalPrompt && steps < MAX_STARTUP_STEPS {
            let screen = self.current_screen(session_id).await.unwrap_or_default();
            let Some(answer) = provider.startup_dialog(&screen, &dialog_ctx) else {
                out.insert(
                    "blocked_reason".into(),
                    json!("the worker shows a prompt AgentPool does not answer; a human must review it"),
                );
                break;
            };
            steps += 1;
            let session = self.load(session_id).await?;
            let r = self.runtime_ref(&session)?;
            self.runtime.send_keys(&r, &answer.keys).await?;
            let mut m = Map::new();
            m.insert("dialog".into(), json!(answer.dialog));
            m.insert("action".into(), json!(answer.action));
            m.insert("keys".into(), json!(answer.keys));
            m.insert("sent".into(), json!(true));
            m.insert("by".into(), json!("smoke"));
            self.event(&session, "startup_dialog", Some(session.state), None, None, m).await?;
            answered.push(json!({"dialog": answer.dialog, "action": answer.action}));
            seen = self.observe(session_id, first.clone()).await?;
        }
        if seen.event == ObserveEvent::ApprovalPrompt && !out.contains_key("blocked_reason") {
            out.insert("blocked_reason".into(), json!("a startup prompt did not clear"));
        }
        let mut dialogs = self.startup_dialog_events(session_id).await;
        dialogs.retain(|d| d["by"] != "smoke");
        dialogs.extend(answered);
        let trust = dialogs.iter().any(|d| d["dialog"] == "trust_prompt" && d["action"] != "moved_selection");
        lifecycle.insert(
            "startup_dialogs".into(),
            json!(dialogs.iter().map(|d| json!({"dialog": d["dialog"], "action": d["action"]})).collect::<Vec<_>>()),
        );
        if trust {
            lifecycle.insert("startup_trust_prompt".into(), json!("accepted"));
        }
        if out.contains_key("blocked_reason") || seen.event == ObserveEvent::Error {
            self.finish_real_smoke(session_id, &seen, out, lifecycle).await;
            return Ok(());
        }

        let sent = self.send(session_id, REAL_SMOKE_MESSAGE).await.is_ok();
        out.insert("send".into(), json!(sent));
        lifecycle.insert("send".into(), json!(sent));
        if sent {
            seen =
                self.observe(session_id, wait(opts.timeout, &["completed", "question", "approval", "error"])).await?;
            out.insert("final_event".into(), json!(seen.event));
            out.insert("final_state".into(), json!(seen.state));
            out.insert("completion_verified".into(), json!(seen.event == ObserveEvent::Completed));
        }
        self.finish_real_smoke(session_id, &seen, out, lifecycle).await;
        Ok(())
    }

    /// Interrupts a worker still busy, then collects.
    async fn finish_real_smoke(
        &self,
        session_id: &str,
        seen: &ObserveResponse,
        out: &mut Map<String, Value>,
        lifecycle: &mut Map<String, Value>,
    ) {
        if matches!(seen.state, SessionState::Completed | SessionState::Failed) {
            out.insert("interrupt".into(), json!("skipped_final_state"));
        } else {
            let interrupted = self.interrupt(session_id, false).await.is_ok();
            out.insert("interrupt".into(), json!(interrupted));
            lifecycle.insert("interrupt".into(), json!(interrupted));
        }
        match self.collect(session_id, true, true, seen.state == SessionState::Completed).await {
            Ok(c) => {
                lifecycle.insert("collect".into(), json!(true));
                out.insert("artifact_dir".into(), json!(c.artifact_dir));
                let kinds: Vec<&str> = c.artifacts.iter().map(|a| a.kind.as_str()).collect();
                out.insert("artifact_kinds".into(), json!(kinds));
            }
            Err(e) => {
                lifecycle.insert("collect".into(), json!(false));
                out.insert("collect_error".into(), e.envelope()["error"].clone());
            }
        }
    }

    async fn current_screen(&self, session_id: &str) -> Result<String> {
        let session = self.load(session_id).await?;
        let r = self.runtime_ref(&session)?;
        Ok(self.runtime.snapshot(&r, 0, Duration::from_secs(2)).await?.screen)
    }

    /// The `startup_dialog` events of a session (their metadata), oldest first.
    async fn startup_dialog_events(&self, session_id: &str) -> Vec<Value> {
        let Ok(session) = self.load(session_id).await else { return Vec::new() };
        let path = crate::workspace::artifacts::ArtifactDir::new(&session.artifact_dir).file("events");
        // Line by line: the event log grows with the session.
        let Ok(file) = std::fs::File::open(path) else { return Vec::new() };
        std::io::BufRead::lines(std::io::BufReader::new(file))
            .map_while(std::result::Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .filter(|e| e["event_type"] == "startup_dialog")
            .map(|e| e["metadata"].clone())
            .collect()
    }
}

impl Pool {
    /// The fake-provider smoke: spawn, wait for the question, answer, wait for completion,
    /// collect, and always terminate the worker.
    pub async fn smoke(&self, provider_id: &str, repo: &str, timeout: Duration) -> Result<Value> {
        if !provider_id.starts_with("fake-") {
            return Err(Error::new(
                ErrorCode::PolicyBlocked,
                "smoke drives only the built-in fake providers here; real providers need a guarded read-only smoke",
            )
            .with("provider_id", provider_id)
            .with("isolation", "read_only"));
        }
        let req = SpawnRequest::new(
            provider_id,
            "AgentPool smoke test: ask exactly one question, then finish after the answer arrives.",
            repo,
        );
        let spawned = self.spawn(req).await?;
        let session_id = spawned.session_id.clone();
        let outcome = self.smoke_steps(&session_id, timeout).await;
        let _ = self.terminate(&session_id, Some("smoke finished"), false).await;
        let mut out = outcome?;
        out["provider_id"] = json!(provider_id);
        Ok(out)
    }

    async fn smoke_steps(&self, session_id: &str, timeout: Duration) -> Result<Value> {
        use crate::session::observe::ObserveOptions;
        let wait = |what: &str| ObserveOptions { wait_for: vec![what.to_owned()], timeout, ..Default::default() };
        let q = self.observe(session_id, wait("question")).await?;
        let sent = self.send(session_id, "Continue read-only.").await.is_ok();
        let c = self.observe(session_id, wait("completed")).await?;
        let collected = self.collect(session_id, true, true, true).await?;
        let kinds: Vec<&str> = collected.artifacts.iter().map(|a| a.kind.as_str()).collect();
        let ok =
            q.event == crate::model::ObserveEvent::Question && sent && c.event == crate::model::ObserveEvent::Completed;
        Ok(json!({
            "session_id": session_id,
            "provider_id": Value::Null,
            "question_event": q.event,
            "question_state": q.state,
            "send": sent,
            "completed_event": c.event,
            "completed_state": c.state,
            "artifact_dir": collected.artifact_dir,
            "artifact_kinds": kinds,
            "git_dirty": collected.git.dirty,
            "ok": ok,
        }))
    }
}
