//! Spawn and resume: record the session, prepare its workspace, launch the CLI, settle it and
//! deliver the first prompt.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::api::{
    LiveControl, RESUME_TASK, ResumeFrom, SpawnRequest, Spawned, field_error, invalid_request, resolve_repo,
    validate_task,
};
use crate::error::{Error, ErrorCode, Result};
use crate::model::SessionMeta;
use crate::model::{
    AgentSession, Isolation, PromptMode, RuntimeKind, RuntimeRef, SessionState, TmuxRef, parse_runtime,
};
use crate::pool::{Guard, Pool, blocking};
use crate::profile::ProviderProfile;
use crate::prompt;
use crate::provider::{LaunchContext, Provider};
use crate::redact::redact;
use crate::runtime::SpawnSpec;
use crate::session::settle::Blocked;
use crate::store::{self, SessionFilter};
use crate::util;
use crate::workspace::artifacts::{self, ArtifactDir};
use crate::workspace::git;

/// `provider_default` resolves to the provider's profile: the catalog's or the config's
/// `default_initial_prompt_mode` when it names a usable mode, else the crate's own default.
pub fn resolve_prompt_mode(requested: PromptMode, profile: &ProviderProfile) -> PromptMode {
    if requested != PromptMode::ProviderDefault {
        return requested;
    }
    profile.default_prompt_mode
}

/// `<prefix>-<provider with non-alphanumerics as ->-<last 6 of id>`.
pub fn runtime_session_name(prefix: &str, provider_id: &str, session_id: &str) -> String {
    let safe: String = provider_id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("{prefix}-{}-{}", safe.trim_matches('-'), &session_id[session_id.len().saturating_sub(6)..])
}

fn resume_unsupported(provider_id: &str) -> Error {
    Error::new(
        ErrorCode::ResumeUnsupported,
        format!("provider `{provider_id}` has no resume mode AgentPool can drive; spawn a new worker instead"),
    )
    .with("provider_id", provider_id)
}

impl Pool {
    /// Spawns one worker. Validation comes first, so a refused request creates nothing.
    /// Starts a new worker that continues an ended session's conversation with the provider's
    /// own resume mode: same provider, model, effort, tier, role, repo and isolation, linked by
    /// `metadata.resumed_from`. `task` is the first message of the new turn (default: carry on).
    /// A live session is `INVALID_REQUEST` (send to it instead); a provider without a resume
    /// mode, or a session whose CLI reported no conversation id, is `RESUME_UNSUPPORTED`.
    pub async fn resume(&self, session_id: &str, task: Option<&str>) -> Result<Spawned> {
        let old = self.load(session_id).await?;
        if old.is_live() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("session `{session_id}` is still running; send it a message instead of resuming it"),
            )
            .with("session_id", session_id)
            .with("state", old.state)
            .with("example", format!("agentpool send {session_id} \"<message>\" --json")));
        }
        let provider = self.registry.get(&old.provider_id)?;
        if !provider.resumes() {
            return Err(resume_unsupported(&old.provider_id).with("session_id", session_id));
        }
        let Some(cli_session_id) = old.meta().cli_session_id.as_deref().map(str::to_owned) else {
            return Err(Error::new(
                ErrorCode::ResumeUnsupported,
                format!("session `{session_id}` has no conversation id of its CLI to resume (none was reported)"),
            )
            .with("session_id", session_id)
            .with("provider_id", &old.provider_id));
        };
        let task = task.map(str::trim).filter(|t| !t.is_empty()).unwrap_or(RESUME_TASK).to_owned();
        let meta = old.meta();
        let mut req = SpawnRequest::new(&old.provider_id, task, &old.repo_path);
        req.role = old.role;
        req.model = old.model.clone();
        req.account = old.account.clone();
        if let Some(i) = meta.isolation {
            req.isolation = i;
        }
        if let Some(s) = meta.supervision {
            req.supervision = s;
        }
        req.reasoning_effort = meta.reasoning_effort;
        req.service_tier = meta.service_tier;
        let worktree = old.worktree_path.clone().filter(|p| Path::new(p).is_dir()).map(|p| (p, Self::branch_of(&old)));
        req.resume = Some(ResumeFrom { session_id: old.id.clone(), cli_session_id, worktree });
        let mut out = self.spawn(req).await?;
        out.resumed_from = Some(old.id);
        Ok(out)
    }

    pub async fn spawn(&self, req: SpawnRequest) -> Result<Spawned> {
        let policy = &self.settings.config.policy;
        let task = validate_task(&req.task)?;
        let bad_env: Vec<Value> = req
            .env
            .iter()
            .filter_map(|(k, v)| crate::env::check_var(k, v).err().map(|why| field_error("env", &why, k)))
            .collect();
        if !bad_env.is_empty() {
            return Err(invalid_request("invalid env", bad_env));
        }
        let provider_id = req.provider_id.trim().to_owned();
        if provider_id.is_empty() || provider_id.eq_ignore_ascii_case("auto") {
            return Err(Error::new(
                ErrorCode::PolicyBlocked,
                "AgentPool requires an explicit provider; `auto` routing is disabled",
            )
            .with("provider_id", &req.provider_id)
            .with("policy", "require_explicit_provider"));
        }
        if policy.denied_providers.contains(&provider_id) {
            return Err(Error::new(ErrorCode::PolicyBlocked, format!("provider `{provider_id}` is denied by policy"))
                .with("provider_id", &provider_id)
                .with("policy", "denied_providers"));
        }
        if !policy.allowed_providers.is_empty() && !policy.allowed_providers.contains(&provider_id) {
            return Err(Error::new(
                ErrorCode::PolicyBlocked,
                format!("provider `{provider_id}` is not in the allowed list"),
            )
            .with("provider_id", &provider_id)
            .with("policy", "allowed_providers"));
        }
        let mut req = req;
        // An editing role never runs read-only when policy names a default isolation for it.
        if req.role.is_mutating()
            && req.isolation == Isolation::ReadOnly
            && let Some(default) = policy.default_isolation_for_mutating_roles
        {
            req.isolation = default;
        }
        if req.role.is_mutating() && policy.require_worktree_for_edits && req.isolation != Isolation::Worktree {
            return Err(Error::new(ErrorCode::PolicyBlocked, "policy requires worktree isolation for editing roles")
                .with("role", req.role)
                .with("isolation", req.isolation)
                .with("policy", "require_worktree_for_edits"));
        }
        if req.isolation == Isolation::Shared && req.role.is_mutating() && !policy.allow_shared_repo_edits {
            return Err(Error::new(ErrorCode::PolicyBlocked, "policy forbids editing roles in the shared checkout")
                .with("role", req.role)
                .with("isolation", req.isolation)
                .with("policy", "allow_shared_repo_edits"));
        }
        let runtime_name = req
            .runtime
            .clone()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| self.settings.config.runtime.default.clone());
        let runtime_kind = parse_runtime(&runtime_name);
        if runtime_kind != Some(RuntimeKind::Tmux) {
            return Err(Error::new(
                ErrorCode::RuntimeNotSupported,
                format!("runtime `{runtime_name}` is not supported for worker sessions"),
            )
            .with("runtime", &runtime_name)
            .with("supported", ["tmux"]));
        }
        if let Some(n) = req.max_runtime_seconds.filter(|n| *n <= 0) {
            return Err(Error::new(
                ErrorCode::InvalidLimit,
                "max_runtime_seconds must be a positive number of seconds",
            )
            .with("max_runtime_seconds", n));
        }
        if let Some(n) = req.max_turns.filter(|n| *n <= 0) {
            return Err(Error::new(ErrorCode::InvalidLimit, "max_turns must be a positive number").with("max_turns", n));
        }
        if req.initial_prompt_mode == PromptMode::Stdin {
            return Err(invalid_request(
                "initial_prompt_mode `stdin` is not supported: workers keep their terminal for steering; use `send_after_launch` or `arg`",
                vec![field_error("initial_prompt_mode", "unsupported mode", "stdin")],
            ));
        }
        let repo = resolve_repo(&req.repo_path)?;
        let provider = self.registry.get(&provider_id)?;
        if req.resume.is_some() && !provider.resumes() {
            return Err(resume_unsupported(&provider_id));
        }
        let profile = self.profile(provider.as_ref());
        let prompt_mode = resolve_prompt_mode(req.initial_prompt_mode, &profile);
        provider.check_prompt_mode(prompt_mode)?;
        let ctx = self.probe_context(provider.as_ref());
        let detected = provider.discover(&ctx).await;
        if !detected.installed {
            return Err(Error::new(
                ErrorCode::ProviderNotInstalled,
                format!("provider `{provider_id}` is not installed"),
            )
            .with("provider_id", &provider_id)
            .with("warnings", &detected.warnings));
        }
        if req.isolation == Isolation::Worktree && !git::is_repo(&repo).await {
            return Err(Error::new(ErrorCode::GitNotRepo, "worktree isolation requires a git repository")
                .with("repo_path", repo.display().to_string()));
        }

        self.reconcile().await?;
        self.check_cached_usage(&provider_id).await?;

        // Defaults.
        let model_was_explicit = req.model.as_deref().is_some_and(|m| !m.trim().is_empty());
        let model = if model_was_explicit {
            req.model.clone().map(|m| m.trim().to_owned())
        } else {
            profile.text("default_model").map(str::to_owned)
        };
        // The catalog's default effort applies only to a model the caller named, and only for
        // providers that take an effort at all.
        let reasoning_effort = req.reasoning_effort.clone().filter(|e| !e.trim().is_empty()).or_else(|| {
            let takes_effort = ["reasoning_effort_config_key", "reasoning_effort_arg"]
                .iter()
                .any(|k| profile.config.metadata.contains_key(*k));
            if !(model_was_explicit && takes_effort) {
                return None;
            }
            let models = self.settings.catalog.models(&provider_id);
            model.as_deref().and_then(|m| crate::catalog::reasoning_default(&models, m))
        });

        // Record.
        let session_id = util::new_session_id();
        let repo_str = repo.display().to_string();
        let repo_hash = &util::sha256_hex(repo_str.as_bytes())[..16];
        let artifact_dir = self.settings.paths.artifact_root.join(repo_hash).join(&session_id);
        let ad = ArtifactDir::new(&artifact_dir);
        let now = util::now();
        // Which variables were set on top of the spawning call's environment (names only).
        let mut env_keys: Vec<String> = profile.config.env.keys().cloned().collect();
        env_keys.extend(req.env.keys().cloned());
        env_keys.sort();
        env_keys.dedup();
        let resume = req.resume.as_ref();
        // Not this spawn's to remove on failure: `rollback_worktree` leaves a reused one alone.
        let reused = resume.and_then(|r| r.worktree.clone());
        let typed = SessionMeta {
            coordinator_id: Some(self.opts.principal.coordinator_id.clone()),
            initial_prompt_mode: Some(prompt_mode),
            // Lets reconcile tell a crashed spawn from a slow one (see `spawner_gone`).
            spawn_pid: Some(i64::from(std::process::id())),
            // Cleared when the launch finishes; reconcile stops a worker whose spawner died first.
            launch_pending: Some(true),
            reasoning_effort: reasoning_effort.clone(),
            service_tier: req.service_tier.clone().filter(|t| !t.trim().is_empty()),
            deadline_at: req.max_runtime_seconds.map(|secs| {
                util::format_ts(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs.min(10 * 365 * 86_400)))
            }),
            max_turns: req.max_turns,
            turns_sent: req.max_turns.map(|_| 0),
            allowed_files: (!req.allowed_files.is_empty()).then(|| req.allowed_files.clone()),
            supervision: Some(req.supervision),
            isolation: Some(req.isolation),
            resumed_from: resume.map(|r| r.session_id.clone()),
            resume_cli_session_id: resume.map(|r| r.cli_session_id.clone()),
            worktree_reused: reused.as_ref().map(|(path, _)| path.clone()),
            worktree_branch: reused.map(|(_, branch)| branch),
            env_keys: (!env_keys.is_empty()).then_some(env_keys),
            ..SessionMeta::default()
        };
        // The caller's own keys first; AgentPool's keys (in `SessionMeta` order) replace any of
        // the same name in place.
        let mut meta = req.metadata.clone();
        meta.extend(typed.to_map());
        let session_name =
            runtime_session_name(&self.settings.config.runtime.tmux.session_prefix, &provider_id, &session_id);
        let mut session = AgentSession {
            id: session_id.clone(),
            provider_id: provider_id.clone(),
            model: model.clone(),
            harness: provider.harness().to_owned(),
            account: req.account.clone(),
            role: req.role,
            task: task.clone(),
            repo_path: repo_str.clone(),
            worktree_path: None,
            runtime: RuntimeKind::Tmux,
            state: SessionState::Starting,
            created_at: now.clone(),
            updated_at: now,
            ended_at: None,
            tmux: None,
            artifact_dir: artifact_dir.display().to_string(),
            transcript_path: ad.file("transcript").display().to_string(),
            events_path: ad.file("events").display().to_string(),
            metadata: meta,
        };

        // The parallel-session check and the insert are one transaction, so concurrent spawns
        // from many processes can never exceed the limit.
        let max = i64::from(policy.max_parallel_sessions);
        let scope = self.opts.principal.scoped.then(|| self.opts.principal.coordinator_id.clone());
        // The worker is handed the task as written; every stored copy is redacted.
        let mut row = session.clone();
        row.task = redact(&row.task).into_owned();
        row.account = row.account.map(|a| redact(&a).into_owned());
        row.metadata = crate::redact::redact_map(&row.metadata);
        self.store
            .call(move |c| {
                store::immediate(c, |tx| {
                    let filter = SessionFilter { coordinator_id: scope, live_only: true, ..Default::default() };
                    let active = store::count_sessions(tx, &filter)?;
                    if active >= max {
                        let sessions = store::list_sessions(tx, &filter, Some(20), 0)?;
                        let rows: Vec<Value> = sessions
                            .iter()
                            .map(|s| {
                                json!({"id": s.id, "provider_id": s.provider_id, "runtime": s.runtime, "state": s.state,
                                       "created_at": s.created_at, "deadline_at": s.metadata.get("deadline_at"),
                                       "runtime_session": s.tmux.as_ref().map(|t| &t.session_name),
                                       "tmux_session": s.tmux.as_ref().map(|t| &t.session_name)})
                            })
                            .collect();
                        return Err(Error::new(ErrorCode::PolicyBlocked, "max parallel sessions reached")
                            .with("policy", "max_parallel_sessions")
                            .with("max_parallel_sessions", max)
                            .with("active_count", active)
                            .with("active_sessions", rows));
                    }
                    store::insert_session(tx, &row)
                })
            })
            .await?;

        match self
            .launch(
                &mut session,
                &session_name,
                provider.as_ref(),
                &ad,
                detected.binary_path,
                prompt_mode,
                req.isolation,
                &req.env,
            )
            .await
        {
            Ok(()) => {}
            Err(err) => {
                let mut m = Map::new();
                m.insert("error".into(), err.envelope()["error"].clone());
                // From whatever state the launch reached, unless a terminate settled it first.
                let stored = self.load(&session.id).await.map(|s| s.state).unwrap_or(session.state);
                let guard = Guard::Move { from: stored, to: SessionState::Failed, ended: true };
                let _ = self.record(&session, "spawn_failed", Some(SessionState::Failed), None, None, m, guard).await;
                if let Some(r) = session.runtime_ref() {
                    let _ = self.runtime.terminate(&r).await;
                }
                // The worktree and branch were made for this spawn only; do not leave them.
                self.rollback_worktree(&session).await;
                return Err(err.with("session_id", &session.id).with("artifact_dir", &session.artifact_dir));
            }
        }
        let session = self.load(&session_id).await?;
        let r = self.runtime_ref(&session)?;
        let live = self.runtime.live_control(policy.allow_raw_keys);
        Ok(Spawned {
            session_id: session.id.clone(),
            attach_command: self.runtime.attach_command(&r),
            session,
            preferences: self.preferences_ref(),
            live_control: LiveControl {
                can_capture_screen: live.can_capture_screen,
                can_send_message: live.can_send_message,
                can_send_keys: live.can_send_keys,
                can_interrupt: live.can_interrupt,
                can_attach: live.can_attach,
                attach_kind: live.attach_kind.to_owned(),
                initial_prompt_mode: prompt_mode,
            },
            resumed_from: None,
        })
    }

    async fn launch(
        &self,
        session: &mut AgentSession,
        session_name: &str,
        provider: &dyn Provider,
        ad: &ArtifactDir,
        binary_path: Option<String>,
        prompt_mode: PromptMode,
        isolation: Isolation,
        request_env: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        if isolation == Isolation::Worktree {
            // A resumed worker goes back to its conversation's worktree when that still exists.
            let wt = match session.meta().worktree_reused.as_deref() {
                Some(path) => PathBuf::from(path),
                None => self.create_worktree(session).await?,
            };
            let id = session.id.clone();
            let wt_str = wt.display().to_string();
            let branch = json!(Self::branch_of(session));
            session.worktree_path = Some(wt_str.clone());
            session.metadata.insert(crate::model::MetaKey::WorktreeBranch.as_str().into(), branch.clone());
            self.store
                .call(move |c| {
                    store::set_worktree_path(c, &id, Some(&wt_str))?;
                    store::set_meta(c, &id, crate::model::MetaKey::WorktreeBranch, &branch)
                })
                .await?;
        }
        let workdir = PathBuf::from(session.workdir());
        let prompt_text =
            prompt::initial_prompt(session.role, isolation, session.workdir(), &session.id, &session.task);
        {
            let ad = ad.clone();
            let prompt_text = prompt_text.clone();
            let meta_json = artifacts::pretty_sorted(&crate::redact::redact_value(
                &serde_json::to_value(&*session).unwrap_or_default(),
            ));
            // A provider whose CLI reports through hooks gets the pool's whereabouts, so the hook
            // call can record what it reports (see `agentpool __signal`).
            let pool = provider.signals().is_some().then(|| {
                json!({"home": self.settings.paths.home, "config_file": self.settings.paths.config_file}).to_string()
            });
            blocking(move || {
                ad.create()?;
                if let Some(pool) = pool {
                    util::write_atomic(&ad.pool_file(), pool.as_bytes())?;
                }
                util::write_atomic(&ad.file("transcript"), b"")?;
                util::write_atomic(&ad.file("events"), b"")?;
                util::write_atomic(&ad.file("prompt"), redact(&prompt_text).as_bytes())?;
                util::write_atomic(&ad.file("metadata"), meta_json.as_bytes())?;
                ad.record_echo(&prompt_text)
            })
            .await?;
        }
        let ctx = LaunchContext {
            session_id: session.id.clone(),
            binary_path,
            self_exe: self.opts.self_exe.clone(),
            config: self.profile(provider).config.clone(),
            model: session.model.clone(),
            reasoning_effort: session.meta().reasoning_effort.as_deref().map(str::to_owned),
            service_tier: session.meta().service_tier.as_deref().map(str::to_owned),
            isolation,
            role: session.role,
            workdir: workdir.clone(),
            prompt_mode,
            home: self.settings.paths.home.clone(),
            signal_log: ad.signal_log(),
            resume_session: session.meta().resume_cli_session_id.as_deref().map(str::to_owned),
        };
        let mut plan = provider.launch(&ctx)?;
        let mut shown = plan.argv.clone();
        if prompt_mode == PromptMode::Arg {
            if let Some(flag) = provider.prompt_arg_flag() {
                plan.argv.push(flag.clone());
                shown.push(flag);
            }
            plan.argv.push(prompt_text.clone());
            shown.push("<agentpool-initial-prompt>".into());
        }
        // The provider's launch variables, then config's, then the request's, then ours (the
        // runtime puts the spawning call's own environment underneath; see `env`).
        let mut over: Vec<(String, String)> = ctx.config.env.clone().into_iter().collect();
        over.extend(request_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        over.push(("AGENTPOOL_ARTIFACT_DIR".into(), session.artifact_dir.clone()));
        over.push(("AGENTPOOL_SESSION_ID".into(), session.id.clone()));
        plan.env = crate::env::overlay(std::mem::take(&mut plan.env), &over);
        let spec = SpawnSpec {
            name: session_name.to_owned(),
            argv: plan.argv,
            cwd: workdir,
            env: plan.env,
            output_log: ad.raw_log(),
            // Secrets a worker prints are redacted before its raw output touches the disk.
            output_filter: vec![self.opts.self_exe.display().to_string(), "__redact-pipe".to_owned()],
        };
        // Where the worker will live is recorded before tmux is touched, so a spawn killed at
        // any moment leaves a row that reconcile and terminate can find the worker by.
        {
            let planned = RuntimeRef {
                session_name: spec.name.clone(),
                window: "0".into(),
                pane: "0".into(),
                pane_id: None,
                socket: self.runtime.socket(),
                output_log: Some(spec.output_log.display().to_string()),
            };
            let tmux = TmuxRef { session_name: spec.name.clone(), window: "0".into(), pane: "0".into() };
            let planned = serde_json::to_value(&planned).unwrap_or_default();
            session.metadata.insert(crate::model::MetaKey::RuntimeRef.as_str().into(), planned.clone());
            let id = session.id.clone();
            self.store
                .call(move |c| store::set_runtime_ref(c, &id, Some(&tmux), &planned, SessionState::Starting))
                .await?;
        }
        let r = self.runtime.spawn(&spec).await?;
        let state = if prompt_mode == PromptMode::Arg { SessionState::Running } else { SessionState::Ready };
        let tmux = TmuxRef { session_name: r.session_name.clone(), window: r.window.clone(), pane: r.pane.clone() };
        let ref_json = serde_json::to_value(&r).unwrap_or_default();
        session.metadata.insert(crate::model::MetaKey::RuntimeRef.as_str().into(), ref_json.clone());
        session.tmux = Some(tmux.clone());
        {
            let id = session.id.clone();
            self.store.call(move |c| store::set_runtime_ref(c, &id, Some(&tmux), &ref_json, state)).await?;
        }
        let mut m = Map::new();
        m.insert("command".into(), json!(shown));
        m.insert("initial_prompt_mode".into(), json!(prompt_mode));
        m.insert("runtime".into(), json!("tmux"));
        self.event(session, "spawn", Some(state), None, None, m).await?;

        // Clear known startup dialogs (and notice a login screen) before anything is typed; an
        // `arg` worker gets the same treatment, its prompt is already on the command line.
        let blocked = self.settle(&r, provider, ad, session).await;
        if let (Some(block), PromptMode::SendAfterLaunch) = (blocked, prompt_mode) {
            // Typing the prompt into a sign-in menu or a dialog could pick one of its entries;
            // leave it to a human (observe reports it), and record why nothing was typed.
            let mut m = Map::new();
            let (event, reason, hint) = match block {
                Blocked::LoginRequired => {
                    ("login_required", "the worker is at its sign-in screen", crate::machine::login_hint(provider))
                }
                Blocked::StartupPrompt => (
                    "startup_prompt_pending",
                    "the worker shows a startup prompt AgentPool does not answer",
                    "attach and answer the prompt, then send the task again".to_owned(),
                ),
            };
            m.insert("reason".into(), json!(format!("{reason}; the initial prompt was not sent")));
            m.insert("hint".into(), json!(hint));
            self.event(session, event, Some(SessionState::Ready), None, None, m).await?;
        } else if prompt_mode == PromptMode::SendAfterLaunch {
            let submit_keys = match self.deliver(&r, provider, &prompt_text, true).await {
                Ok(keys) => keys,
                Err(e) => return Err(self.explain_exit(e, session, &r).await),
            };
            let id = session.id.clone();
            self.store
                .call(move |c| {
                    store::set_detected_state(c, &id, SessionState::Running, false)?;
                    store::set_meta(c, &id, crate::model::MetaKey::InitialPromptSent, &Value::Bool(true))
                })
                .await?;
            let mut m = Map::new();
            m.insert("submit_keys".into(), json!(submit_keys));
            self.event(session, "send_initial_prompt", Some(SessionState::Running), None, None, m).await?;
        }
        let id = session.id.clone();
        self.store
            .call(move |c| store::set_meta(c, &id, crate::model::MetaKey::LaunchPending, &Value::Bool(false)))
            .await?;
        Ok(())
    }

    async fn create_worktree(&self, session: &AgentSession) -> Result<PathBuf> {
        // Under AgentPool's home, keyed by the repository path: sibling repositories never
        // share a worktree root (see `worktree` module docs).
        let root = crate::workspace::worktrees::worktree_root(&self.settings.paths.home, &session.repo_path);
        let path = root.join(&session.id);
        let branch = crate::workspace::worktrees::worktree_branch(&session.provider_id, &session.id);
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::io(format_args!("could not create `{}`", root.display()), &e))?;
        let argv: Vec<String> =
            ["git", "-C", &session.repo_path, "worktree", "add", "-b", &branch, &path.display().to_string()]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        let out = crate::process::run(
            &argv,
            crate::process::RunOptions { timeout: Some(Duration::from_secs(60)), ..Default::default() },
        )
        .await;
        if !out.success() {
            return Err(Error::new(ErrorCode::WorktreeFailed, "`git worktree add` failed")
                .with("repo_path", &session.repo_path)
                .with("stderr", out.stderr.trim())
                .with("branch", &branch));
        }
        Ok(path)
    }
}
