//! The session lifecycle: spawn, send, keys, interrupt, attach, artifacts, transcript,
//! collect, terminate, listing and reconcile. Observe lives in [`crate::observe`].
//!
//! Front ends build one [`Manager`] and call it; they hold no lifecycle logic.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::agent_io;
use crate::artifacts::{self, ArtifactDir, NO_RESULT};
use crate::config::Settings;
use crate::detect;
use crate::error::{Error, ErrorCode, Result};
use crate::git;
use crate::model::{
    AgentSession, ArtifactRecord, Detail, EventRecord, Isolation, ManifestFile, PromptMode, ProviderDescriptor, Role,
    RuntimeKind, RuntimeRef, SessionState, Supervision, TmuxRef, parse_runtime,
};
use crate::prompt;
use crate::provider::{self, LaunchContext, ProbeContext, Provider, Registry};
use crate::redact::redact;
use crate::runtime::{Liveness, Runtime, SpawnSpec};
use crate::store::SqlExt as _;
use crate::store::{self, SessionFilter, Store};
use crate::tail;
use crate::util;

/// The longest `send`/`keys` wait for a dialog a signal announced to be drawn (see
/// `Manager::await_signalled_dialog`).
pub const DIALOG_DRAW_WAIT: Duration = Duration::from_secs(2);

/// AgentPool's version, reported everywhere.
pub const VERSION: &str = agentpool_sdk::VERSION;

/// Sessions stuck in `STARTING` without a runtime for this long are treated as crashed.
const STALE_START: Duration = Duration::from_secs(120);
/// Longest observe wait accepted (one day).
pub const MAX_OBSERVE_TIMEOUT_SECS: f64 = 86_400.0;

/// A request to start one worker. Field names are the wire names.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    /// Explicit provider id (`auto` is refused).
    pub provider_id: String,
    /// The concrete task for the worker.
    pub task: String,
    /// Repository (or any directory) the worker runs in.
    pub repo_path: String,
    #[serde(default = "default_role")]
    pub role: Role,
    #[serde(default)]
    pub model: Option<String>,
    /// Free account label recorded with the session.
    #[serde(default)]
    pub account: Option<String>,
    /// Runtime name (`tmux`); defaults to the configured runtime.
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default = "default_isolation")]
    pub isolation: Isolation,
    /// Advisory list of files the worker may touch (recorded in metadata).
    #[serde(default)]
    pub allowed_files: Vec<String>,
    #[serde(default)]
    pub max_runtime_seconds: Option<i64>,
    #[serde(default)]
    pub max_turns: Option<i64>,
    #[serde(default = "default_supervision")]
    pub supervision: Supervision,
    #[serde(default = "default_prompt_mode")]
    pub initial_prompt_mode: PromptMode,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    #[serde(default)]
    pub service_tier: Option<String>,
    /// Extra caller metadata copied onto the session.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Extra environment for this worker, over the spawning call's own and the provider's
    /// `[providers.<id>] env` (see `env`). Names are recorded; values never are.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Set by [`Manager::resume`] only: the ended session this one continues.
    #[serde(skip)]
    pub resume: Option<ResumeFrom>,
}

/// What recording an event requires of the stored session (see [`Manager::record`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guard {
    /// Nothing: the event is recorded whatever the state.
    None,
    /// The stored state is still this one.
    StillIn(SessionState),
    /// Compare-and-set: the state moves from `from` (as read) to `to`, unless it changed or
    /// settled meanwhile.
    Move { from: SessionState, to: SessionState, ended: bool },
}

fn default_role() -> Role {
    Role::Explorer
}
fn default_isolation() -> Isolation {
    Isolation::ReadOnly
}
fn default_supervision() -> Supervision {
    Supervision::Interactive
}
fn default_prompt_mode() -> PromptMode {
    PromptMode::ProviderDefault
}

impl SpawnRequest {
    /// A request with every optional field at its default.
    pub fn new(provider_id: impl Into<String>, task: impl Into<String>, repo_path: impl Into<String>) -> Self {
        Self {
            provider_id: provider_id.into(),
            task: task.into(),
            repo_path: repo_path.into(),
            role: default_role(),
            model: None,
            account: None,
            runtime: None,
            isolation: default_isolation(),
            allowed_files: Vec::new(),
            max_runtime_seconds: None,
            max_turns: None,
            supervision: default_supervision(),
            initial_prompt_mode: default_prompt_mode(),
            reasoning_effort: None,
            service_tier: None,
            metadata: Map::new(),
            env: std::collections::BTreeMap::new(),
            resume: None,
        }
    }
}

/// One field-level validation problem, reported in `details.errors`.
fn field_error(field: &str, msg: &str, input: &str) -> Value {
    json!({"loc": [field], "msg": msg, "input": util::tail_chars(input, 200)})
}

fn invalid_request(message: &str, errors: Vec<Value>) -> Error {
    Error::new(ErrorCode::InvalidRequest, message).with("errors", errors)
}

/// Checks that a task is a concrete instruction (trimmed, no template placeholders).
pub fn validate_task(task: &str) -> Result<String> {
    static PLACEHOLDERS: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"(?i)@filename\b|<\s*filename\s*>|\{\s*filename\s*\}|<\s*task\s*>|\b(?:your task here|replace this|todo task)\b")
            .expect("placeholder regex is valid")
    });
    let trimmed = task.trim();
    if trimmed.is_empty() {
        return Err(invalid_request(
            "task must be a concrete, non-empty instruction",
            vec![field_error("task", "task is empty", task)],
        ));
    }
    if let Some(m) = PLACEHOLDERS.find(trimmed) {
        return Err(invalid_request(
            &format!("task contains placeholder text `{}`; write the actual instruction", m.as_str()),
            vec![field_error("task", "task contains placeholder text", trimmed)],
        ));
    }
    if trimmed.contains('\0') {
        return Err(invalid_request("task must not contain NUL bytes", vec![field_error("task", "NUL byte", "")]));
    }
    Ok(trimmed.to_owned())
}

/// Checks a session id's shape before it is used anywhere.
pub fn check_session_id(id: &str) -> Result<()> {
    if util::is_valid_session_id(id) {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::InvalidSessionId, "session ids look like `ap_` followed by letters and digits")
            .with("session_id", util::tail_chars(id, 80)))
    }
}

/// The conversation a resumed worker continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeFrom {
    /// The ended AgentPool session.
    pub session_id: String,
    /// The CLI's own id of that conversation (`metadata.cli_session_id`).
    pub cli_session_id: String,
    /// The ended session's worktree and branch, when it had one that still exists: the resumed
    /// worker runs there again.
    pub worktree: Option<(String, String)>,
}

/// Options shared by a [`Manager`]'s operations.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Who acts through this manager (coordinator, scope, lockdown).
    pub principal: crate::scope::Principal,
    /// The `agentpool` executable fakes run from.
    pub self_exe: PathBuf,
}

/// The lifecycle over one store, registry and runtime.
pub struct Manager {
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    pub(crate) registry: Registry,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) opts: ManagerOptions,
}

impl Manager {
    /// Builds a manager; opens (and migrates) the database.
    pub fn new(
        settings: Settings,
        registry: Registry,
        runtime: Arc<dyn Runtime>,
        opts: ManagerOptions,
    ) -> Result<Self> {
        let store = Store::open(&settings.paths.db_path)?;
        Ok(Self { settings, store, registry, runtime, opts })
    }

    /// The resolved settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The provider registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Path of the runtime binary (tmux), when found.
    pub fn runtime_path(&self) -> Option<String> {
        self.runtime.binary_path()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The acting coordinator (what `--scope mine` selects).
    pub fn principal(&self) -> &crate::scope::Principal {
        &self.opts.principal
    }

    /// The acting coordinator.
    pub fn coordinator_id(&self) -> &str {
        &self.opts.principal.coordinator_id
    }

    pub(crate) async fn load(&self, id: &str) -> Result<AgentSession> {
        check_session_id(id)?;
        let owned = id.to_owned();
        self.store.call(move |c| store::get_session(c, &owned)).await?.ok_or_else(|| Error::session_not_found(id))
    }

    pub(crate) async fn event(
        &self,
        session: &AgentSession,
        event_type: &str,
        state: Option<SessionState>,
        screen_hash: Option<String>,
        excerpt: Option<String>,
        metadata: Map<String, Value>,
    ) -> Result<i64> {
        let id = self.record(session, event_type, state, screen_hash, excerpt, metadata, Guard::None).await?;
        Ok(id.unwrap_or_default())
    }

    /// Records an event, in one write transaction with what `guard` asks of the stored row:
    /// nothing, that the state still is what the caller saw, or a compare-and-set transition.
    /// Returns `None` (and records nothing) when the guard fails: another process changed the
    /// session meanwhile, and its word stands.
    pub(crate) async fn record(
        &self,
        session: &AgentSession,
        event_type: &str,
        state: Option<SessionState>,
        screen_hash: Option<String>,
        excerpt: Option<String>,
        metadata: Map<String, Value>,
        guard: Guard,
    ) -> Result<Option<i64>> {
        let mut metadata = metadata;
        // Acting on another coordinator's session is allowed, and recorded (see `scope`).
        if session.meta_str("coordinator_id").is_some_and(|owner| owner != self.opts.principal.coordinator_id) {
            metadata.insert("acting_coordinator_id".into(), json!(self.opts.principal.coordinator_id));
        }
        // Nothing reaches the database or events.jsonl unredacted.
        let metadata = crate::redact::redact_map(&metadata);
        let excerpt = excerpt.map(|e| redact(&e).into_owned());
        let id = session.id.clone();
        let et = event_type.to_owned();
        let ad = ArtifactDir::new(&session.artifact_dir);
        // The line is appended while the insert's write lock is held, so `events.jsonl` lists
        // events in `event_id` order even with several processes writing to one session. The
        // database stays the record: its row is committed even if the file append fails.
        let wanted = crate::notify::wanted(&self.settings.config.notify, event_type);
        let done = self
            .store
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).sql()?;
                let pass = match guard {
                    Guard::None => true,
                    Guard::StillIn(s) => store::current_state(&tx, &id)?.is_some_and(|(now, _)| now == s),
                    Guard::Move { from, to, ended } => store::transition(&tx, &id, from, to, ended)?,
                };
                if !pass {
                    return Ok(None);
                }
                let rec =
                    store::append_event(&tx, &id, &et, state, screen_hash.as_deref(), excerpt.as_deref(), &metadata)?;
                let appended = ad.append_event(&rec);
                let claimed = if wanted.is_empty() { Vec::new() } else { crate::notify::claim(&tx, &rec, &wanted) };
                tx.commit().sql()?;
                Ok(Some((rec, appended, claimed)))
            })
            .await?;
        match done {
            Some((rec, appended, claimed)) => {
                self.notify(session, &rec, &claimed);
                appended?;
                Ok(Some(rec.id))
            }
            None => Ok(None),
        }
    }

    /// Starts delivering the notifications this process claimed for `rec` (in the background).
    fn notify(&self, session: &AgentSession, rec: &EventRecord, claimed: &[usize]) {
        if claimed.is_empty() {
            return;
        }
        let entries = Arc::new(self.settings.config.notify.clone());
        crate::notify::dispatch(&entries, claimed, crate::notify::payload(session, rec));
    }

    pub(crate) fn runtime_ref(&self, session: &AgentSession) -> Result<RuntimeRef> {
        session.runtime_ref().ok_or_else(|| {
            Error::new(ErrorCode::RuntimeSessionNotFound, "session has no runtime reference (it never started)")
                .with("session_id", &session.id)
                .with("runtime", session.runtime.as_str())
        })
    }

    fn probe_context(&self, provider: &dyn Provider) -> ProbeContext {
        ProbeContext {
            config: self.settings.provider(provider.id()),
            self_exe: self.opts.self_exe.clone(),
            agentpool_version: VERSION,
            home: self.settings.paths.home.clone(),
        }
    }

    /// Inventory of every enabled provider (detection runs concurrently).
    pub async fn describe_providers(&self, with_usage: bool) -> Vec<ProviderDescriptor> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, p) in self.registry.ordered().into_iter().enumerate() {
            let ctx = self.probe_context(p.as_ref());
            tasks.spawn(async move {
                let d = p.discover(&ctx).await;
                (i, describe(p.as_ref(), &ctx, d, with_usage))
            });
        }
        let mut rows: Vec<(usize, ProviderDescriptor)> = tasks.join_all().await;
        rows.sort_by_key(|(i, _)| *i);
        rows.into_iter().map(|(_, d)| d).collect()
    }

    /// Runtimes and whether they are available.
    pub fn runtimes(&self) -> Value {
        json!([{
            "kind": "tmux",
            "default": self.settings.config.runtime.default == "tmux",
            "enabled": true,
            "available": self.runtime.binary_path().is_some(),
            "path": self.runtime.binary_path(),
            "socket": self.settings.tmux_socket,
        }])
    }

    /// Spawns one worker. Validation comes first, so a refused request creates nothing.
    /// Starts a new worker that continues an ended session's conversation with the provider's
    /// own resume mode: same provider, model, effort, tier, role, repo and isolation, linked by
    /// `metadata.resumed_from`. `task` is the first message of the new turn (default: carry on).
    /// A live session is `INVALID_REQUEST` (send to it instead); a provider without a resume
    /// mode, or a session whose CLI reported no conversation id, is `RESUME_UNSUPPORTED`.
    pub async fn resume(&self, session_id: &str, task: Option<&str>) -> Result<Value> {
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
        let Some(cli_session_id) = old.meta_str("cli_session_id").map(str::to_owned) else {
            return Err(Error::new(
                ErrorCode::ResumeUnsupported,
                format!("session `{session_id}` has no conversation id of its CLI to resume (none was reported)"),
            )
            .with("session_id", session_id)
            .with("provider_id", &old.provider_id));
        };
        let task = task.map(str::trim).filter(|t| !t.is_empty()).unwrap_or(RESUME_TASK).to_owned();
        let meta = |k: &str| old.meta_str(k).map(str::to_owned);
        let mut req = SpawnRequest::new(&old.provider_id, task, &old.repo_path);
        req.role = old.role;
        req.model = old.model.clone();
        req.account = old.account.clone();
        if let Some(i) = meta("isolation").and_then(|i| i.parse().ok()) {
            req.isolation = i;
        }
        if let Some(s) = meta("supervision").and_then(|s| s.parse().ok()) {
            req.supervision = s;
        }
        req.reasoning_effort = meta("reasoning_effort");
        req.service_tier = meta("service_tier");
        let worktree = old.worktree_path.clone().filter(|p| Path::new(p).is_dir()).map(|p| (p, Self::branch_of(&old)));
        req.resume = Some(ResumeFrom { session_id: old.id.clone(), cli_session_id, worktree });
        let mut out = self.spawn(req).await?;
        out["resumed_from"] = json!(old.id);
        Ok(out)
    }

    pub async fn spawn(&self, req: SpawnRequest) -> Result<Value> {
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
        let provider_config = self.settings.provider(&provider_id);
        let prompt_mode = resolve_prompt_mode(req.initial_prompt_mode, &provider_config, provider.as_ref());
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
        let metadata = provider.metadata();
        let model = if model_was_explicit {
            req.model.clone().map(|m| m.trim().to_owned())
        } else {
            provider_config
                .metadata
                .get("default_model")
                .or_else(|| metadata.get("default_model"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        // The catalog's default effort applies only to a model the caller named, and only for
        // providers that take an effort at all.
        let reasoning_effort = req.reasoning_effort.clone().filter(|e| !e.trim().is_empty()).or_else(|| {
            let takes_effort = ["reasoning_effort_config_key", "reasoning_effort_arg"]
                .iter()
                .any(|k| provider_config.metadata.contains_key(*k));
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
        let mut meta = req.metadata.clone();
        meta.insert("coordinator_id".into(), json!(self.opts.principal.coordinator_id));
        meta.insert("initial_prompt_mode".into(), json!(prompt_mode));
        // Lets reconcile tell a crashed spawn from a slow one (see `spawner_gone`).
        meta.insert("spawn_pid".into(), json!(std::process::id()));
        // Cleared when the launch finishes; reconcile stops a worker whose spawner died first.
        meta.insert("launch_pending".into(), json!(true));
        if let Some(e) = reasoning_effort.as_ref() {
            meta.insert("reasoning_effort".into(), json!(e));
        }
        if let Some(t) = req.service_tier.as_ref().filter(|t| !t.trim().is_empty()) {
            meta.insert("service_tier".into(), json!(t));
        }
        if let Some(secs) = req.max_runtime_seconds {
            let deadline = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs.min(10 * 365 * 86_400));
            meta.insert("deadline_at".into(), json!(util::format_ts(deadline)));
        }
        if let Some(n) = req.max_turns {
            meta.insert("max_turns".into(), json!(n));
            meta.insert("turns_sent".into(), json!(0));
        }
        if !req.allowed_files.is_empty() {
            meta.insert("allowed_files".into(), json!(req.allowed_files));
        }
        meta.insert("supervision".into(), json!(req.supervision));
        meta.insert("isolation".into(), json!(req.isolation));
        if let Some(r) = &req.resume {
            meta.insert("resumed_from".into(), json!(r.session_id));
            meta.insert("resume_cli_session_id".into(), json!(r.cli_session_id));
            if let Some((path, branch)) = &r.worktree {
                // Not this spawn's to remove on failure: `rollback_worktree` leaves it alone.
                meta.insert("worktree_reused".into(), json!(path));
                meta.insert("worktree_branch".into(), json!(branch));
            }
        }
        // Which variables were set on top of the spawning call's environment (names only).
        let mut env_keys: Vec<String> = self.settings.provider(&provider_id).env.into_keys().collect();
        env_keys.extend(req.env.keys().cloned());
        env_keys.sort();
        env_keys.dedup();
        if !env_keys.is_empty() {
            meta.insert("env_keys".into(), json!(env_keys));
        }
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
        let mut live = serde_json::to_value(self.runtime.live_control(policy.allow_raw_keys)).unwrap_or_default();
        live["initial_prompt_mode"] = json!(prompt_mode);
        Ok(json!({
            "session_id": session.id,
            "session": session,
            "attach_command": self.runtime.attach_command(&r),
            "preferences": self.preferences_ref(),
            "live_control": live,
        }))
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
            let wt = match session.meta_str("worktree_reused") {
                Some(path) => PathBuf::from(path),
                None => self.create_worktree(session).await?,
            };
            let id = session.id.clone();
            let wt_str = wt.display().to_string();
            let branch = json!(Self::branch_of(session));
            session.worktree_path = Some(wt_str.clone());
            session.metadata.insert("worktree_branch".into(), branch.clone());
            self.store
                .call(move |c| {
                    c.execute("UPDATE sessions SET worktree_path = ?1 WHERE id = ?2", rusqlite::params![wt_str, id])
                        .sql()?;
                    store::set_meta(c, &id, "worktree_branch", &branch)
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
            config: self.settings.provider(&session.provider_id),
            model: session.model.clone(),
            reasoning_effort: session.meta_str("reasoning_effort").map(str::to_owned),
            service_tier: session.meta_str("service_tier").map(str::to_owned),
            isolation,
            role: session.role,
            workdir: workdir.clone(),
            prompt_mode,
            home: self.settings.paths.home.clone(),
            signal_log: ad.signal_log(),
            resume_session: session.meta_str("resume_cli_session_id").map(str::to_owned),
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
            session.metadata.insert("runtime_ref".into(), planned.clone());
            let id = session.id.clone();
            self.store
                .call(move |c| store::set_runtime_ref(c, &id, Some(&tmux), &planned, SessionState::Starting))
                .await?;
        }
        let r = self.runtime.spawn(&spec).await?;
        let state = if prompt_mode == PromptMode::Arg { SessionState::Running } else { SessionState::Ready };
        let tmux = TmuxRef { session_name: r.session_name.clone(), window: r.window.clone(), pane: r.pane.clone() };
        let ref_json = serde_json::to_value(&r).unwrap_or_default();
        session.metadata.insert("runtime_ref".into(), ref_json.clone());
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
                    ("login_required", "the worker is at its sign-in screen", login_hint(provider))
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
                    store::set_meta(c, &id, "initial_prompt_sent", &Value::Bool(true))
                })
                .await?;
            let mut m = Map::new();
            m.insert("submit_keys".into(), json!(submit_keys));
            self.event(session, "send_initial_prompt", Some(SessionState::Running), None, None, m).await?;
        }
        let id = session.id.clone();
        self.store.call(move |c| store::set_meta(c, &id, "launch_pending", &Value::Bool(false))).await?;
        Ok(())
    }

    async fn create_worktree(&self, session: &AgentSession) -> Result<PathBuf> {
        // Under AgentPool's home, keyed by the repository path: sibling repositories never
        // share a worktree root (see `worktree` module docs).
        let root = crate::worktree::worktree_root(&self.settings.paths.home, &session.repo_path);
        let path = root.join(&session.id);
        let branch = crate::worktree::worktree_branch(&session.provider_id, &session.id);
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

    /// Waits (bounded) until the worker's screen is ready for the first paste: a provider
    /// ready marker appeared, or the screen is non-empty and stopped changing. Meanwhile it
    /// answers the startup dialogs the provider knows (one `startup_dialog` event each, never
    /// twice on the same screen). Returns what, if anything, still blocks the first paste.
    async fn settle(
        &self,
        r: &RuntimeRef,
        provider: &dyn Provider,
        ad: &ArtifactDir,
        session: &AgentSession,
    ) -> Option<Blocked> {
        /// More answers than this means a dialog that does not go away; stop answering.
        const MAX_DIALOG_ANSWERS: usize = 8;
        let spec = provider.startup();
        let rules = detect::ExtraRules::of(provider);
        let config = self.settings.provider(provider.id());
        let dialog_ctx = crate::provider::DialogContext {
            // The request's word (the smoke's `--no-accept-startup-trust`) over the config's.
            accept_trust: session
                .metadata
                .get("accept_startup_trust")
                .or_else(|| config.metadata.get("accept_startup_trust"))
                .and_then(Value::as_bool)
                .unwrap_or(true),
            isolation: session
                .metadata
                .get("isolation")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or(Isolation::ReadOnly),
            workdir: PathBuf::from(session.workdir()),
            provider_metadata: config.metadata.clone(),
        };
        let limit = Duration::from_millis(self.settings.config.runtime.tmux.settle_timeout_ms);
        let start = tokio::time::Instant::now();
        let quiet = Duration::from_millis(spec.quiet_ms.max(50));
        let mut last = String::new();
        let mut last_change = start;
        let mut answered_screen: Option<String> = None;
        // The dialog last confirmed (its keys chose an option, not only moved the highlight):
        // it is not answered again while the screen is still changing — a redraw of it before
        // the CLI acted on the key would otherwise take a second `Enter`, which then lands on the
        // next dialog (Claude Code 2.1.197: on the API-key dialog, whose highlight is "No").
        let mut confirmed: Option<String> = None;
        let mut answers = 0;
        let log = ad.raw_log();
        let mut log_len = 0;
        // The same reading of a capture observe makes: redacted, with the echo of what AgentPool
        // typed (in `arg` mode the CLI may show the prompt) taken out.
        let echo = crate::observe::load_echo(ad);
        let blocked_by = |screen: &str| {
            let det = detect::detect_with(screen, None, &echo, &rules);
            matches!(det.event, crate::model::ObserveEvent::ApprovalPrompt | crate::model::ObserveEvent::OveragePrompt)
                .then_some(Blocked::StartupPrompt)
        };
        while start.elapsed() < limit {
            if let Ok(snap) = self.runtime.snapshot(r, 0, Duration::from_secs(2)).await {
                if snap.dead {
                    return None;
                }
                let screen = redact(snap.screen.trim_end()).into_owned();
                if crate::machine::login_required(&screen, &echo, &rules) {
                    return Some(Blocked::LoginRequired);
                }
                if answers < MAX_DIALOG_ANSWERS
                    && answered_screen.as_deref() != Some(screen.as_str())
                    && let Some(answer) = provider.startup_dialog(&screen, &dialog_ctx)
                    && confirmed.as_deref() != Some(answer.dialog.as_str())
                {
                    answers += 1;
                    answered_screen = Some(screen.clone());
                    confirmed = (answer.action != "moved_selection").then(|| answer.dialog.clone());
                    let sent = self.runtime.send_keys(r, &answer.keys).await.is_ok();
                    let mut m = Map::new();
                    m.insert("dialog".into(), json!(answer.dialog));
                    m.insert("action".into(), json!(answer.action));
                    m.insert("keys".into(), json!(answer.keys));
                    m.insert("sent".into(), json!(sent));
                    let _ = self.event(session, "startup_dialog", Some(SessionState::Ready), None, None, m).await;
                    last.clear();
                    last_change = tokio::time::Instant::now();
                } else if spec.ready_markers.iter().any(|m| screen.contains(m)) {
                    return blocked_by(&screen);
                }
                if screen != last {
                    last = screen;
                    last_change = tokio::time::Instant::now();
                } else if !last.is_empty() && last_change.elapsed() >= quiet {
                    // The dialog just answered is still there, unchanged: the keys came before
                    // the CLI read its input (codex 0.171's trust screen drops an early Enter).
                    // Answer it again on the next capture, within the answer budget.
                    let still_confirmed = confirmed.is_some()
                        && provider
                            .startup_dialog(&last, &dialog_ctx)
                            .is_some_and(|a| confirmed.as_deref() == Some(a.dialog.as_str()));
                    if (answered_screen.as_deref() == Some(last.as_str()) || still_confirmed)
                        && answers < MAX_DIALOG_ANSWERS
                    {
                        answered_screen = None;
                        confirmed = None;
                    } else {
                        return blocked_by(&last);
                    }
                }
            }
            let until = (tokio::time::Instant::now() + Duration::from_millis(100)).min(start + limit);
            log_len = wait_for_growth(&log, log_len, until).await;
        }
        blocked_by(&last)
    }

    /// Types a message into the worker and submits it, per provider rules. Returns the
    /// submit keys used (`None` when the default paste + `Enter` path was taken).
    pub(crate) async fn deliver(
        &self,
        r: &RuntimeRef,
        provider: &dyn Provider,
        message: &str,
        submit: bool,
    ) -> Result<Option<Vec<String>>> {
        if submit && message.is_empty() {
            self.runtime.send_keys(r, &["Enter".to_owned()]).await?;
            return Ok(Some(vec!["Enter".to_owned()]));
        }
        let trimmed = message.trim();
        let menu_choice =
            !trimmed.is_empty() && trimmed.chars().count() <= 3 && trimmed.chars().all(char::is_alphanumeric);
        let keys = if submit && !menu_choice {
            self.settings
                .provider(provider.id())
                .metadata
                .get("submit_keys")
                .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
                .or_else(|| provider.submit_keys())
                .filter(|k| !k.is_empty())
        } else {
            None
        };
        match &keys {
            Some(k) => {
                self.runtime.paste(r, message).await?;
                // TUIs treat a key that arrives in the same read as the paste as part of it.
                tokio::time::sleep(Duration::from_millis(100)).await;
                self.runtime.send_keys(r, k).await?;
            }
            // Paste and Enter in one runtime step (one tmux call), as before one after the other.
            None if submit && !message.ends_with('\n') => {
                self.runtime.paste_then_keys(r, message, &["Enter".to_owned()]).await?;
            }
            None => self.runtime.paste(r, message).await?,
        }
        Ok(keys)
    }

    /// When the screen shows a numbered menu with a highlighted option and `answer` names one of
    /// its options, moves the highlight there, checks on screen that it arrived, and confirms
    /// with `Enter`; returns `{number, text}` of the option chosen. `None`: no menu, or the
    /// answer names none of its options (it is then typed as usual).
    async fn select_menu_option(&self, r: &RuntimeRef, answer: &str) -> Result<Option<Value>> {
        const CONFIRM_TRIES: usize = 20;
        let look = || async {
            let snap = self.runtime.snapshot(r, 0, Duration::from_secs(2)).await?;
            if snap.dead {
                return Err(Error::new(ErrorCode::WorkerExited, "the worker has exited"));
            }
            Ok(crate::dialog::menu(&redact(&snap.screen)))
        };
        let options = look().await?;
        let (Some(current), Some(target)) =
            (options.iter().find(|o| o.highlighted), crate::dialog::chosen(&options, answer))
        else {
            return Ok(None);
        };
        let chosen = json!({"number": target.number, "text": target.text});
        let moves = crate::dialog::arrows(current, target);
        if !moves.is_empty() {
            self.runtime.send_keys(r, &moves).await?;
        }
        for attempt in 0..CONFIRM_TRIES {
            let now = look().await?;
            if now.iter().any(|o| o.highlighted && o.index == target.index && o.text == target.text) {
                self.runtime.send_keys(r, &["Enter".to_owned()]).await?;
                return Ok(Some(chosen));
            }
            if attempt + 1 < CONFIRM_TRIES {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Err(Error::new(
            ErrorCode::MenuSelectionFailed,
            format!(
                "the menu's highlight did not reach option {} ({}); nothing was confirmed",
                target.index + 1,
                target.text
            ),
        )
        .with("selected_option", chosen)
        .with("keys_sent", moves))
    }

    async fn check_cached_usage(&self, provider_id: &str) -> Result<()> {
        // The same "latest snapshot" as the usage summary (placeholders skipped, newest by time).
        self.usage_block(provider_id).await
    }

    /// Sends one message to a worker and submits it.
    pub async fn send(&self, session_id: &str, message: &str) -> Result<Value> {
        self.send_with(session_id, message, true).await
    }

    /// Sends one message; with `submit = false` it is typed but the submit key is not pressed.
    ///
    /// A session with `max_turns` has its turn taken before anything is typed, in one write
    /// (so concurrent sends can never exceed the limit), and given back if the message is not
    /// delivered.
    pub async fn send_with(&self, session_id: &str, message: &str, submit: bool) -> Result<Value> {
        let session = self.load(session_id).await?;
        self.enforce_deadline(&session).await?;
        let id = session.id.clone();
        let taken = self.store.call(move |c| store::take_turn(c, &id)).await?;
        if let Err((max, sent)) = taken {
            return Err(Error::new(ErrorCode::TurnLimitReached, "session reached its max_turns")
                .with("session_id", session_id)
                .with("max_turns", max)
                .with("turns_sent", sent));
        }
        let sent = self.deliver_message(&session, message, submit).await;
        if sent.is_err() {
            let id = session.id.clone();
            let _ = self.store.call(move |c| store::give_back_turn(c, &id)).await;
        }
        sent
    }

    async fn deliver_message(&self, session: &AgentSession, message: &str, submit: bool) -> Result<Value> {
        let r = self.runtime_ref(session)?;
        if session.state == SessionState::Completed {
            self.reopen(session, &r).await?;
        }
        let drawn = self.await_signalled_dialog(session, &r).await;
        let provider = self.registry.get(&session.provider_id)?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        {
            // Note the message in the transcript before the worker can answer it, so the
            // transcript reads in order.
            let ad = ad.clone();
            let m = message.to_owned();
            blocking(move || {
                ad.record_echo(&m)?;
                ad.append_sent(&m)
            })
            .await?;
        }
        // A new turn begins: signals the CLI logged so far belong to earlier turns.
        if let Ok(m) = std::fs::metadata(ad.signal_log()) {
            let id = session.id.clone();
            self.store.call(move |c| store::set_meta(c, &id, "signal_offset", &json!(m.len()))).await?;
        }
        // An answer that names an option of the menu on screen (its number or its text)
        // selects that option with the menu's own keys, confirmed on screen, instead of being
        // typed into it.
        if submit && matches!(session.state, SessionState::AwaitingUserInput | SessionState::AwaitingApproval) {
            match self.select_menu_option(&r, message).await {
                Ok(Some(chosen)) => {
                    let mut m = Map::new();
                    m.insert("submit".into(), json!(submit));
                    m.insert("selected_option".into(), chosen.clone());
                    if let Some(d) = drawn {
                        m.insert("dialog_drawn".into(), json!(d));
                    }
                    let event_id = self.event(session, "send_message", Some(session.state), None, None, m).await?;
                    return Ok(
                        json!({"ok": true, "session_id": session.id, "event_id": event_id, "selected_option": chosen}),
                    );
                }
                Ok(None) => {}
                Err(e) if e.code == ErrorCode::MenuSelectionFailed => return Err(e.with("session_id", &session.id)),
                Err(e) => return Err(self.explain_exit(e, session, &r).await),
            }
        }
        let keys = match self.deliver(&r, provider.as_ref(), message, submit).await {
            Ok(keys) => keys,
            Err(e) => {
                // The note above went in first; say that the message never arrived.
                let _ = blocking(move || ad.append_note("the message above was not delivered: the worker has exited"))
                    .await;
                return Err(self.explain_exit(e, session, &r).await);
            }
        };
        let mut m = Map::new();
        m.insert("submit".into(), json!(submit));
        m.insert("submit_keys".into(), json!(keys));
        if let Some(d) = drawn {
            m.insert("dialog_drawn".into(), json!(d));
        }
        let event_id = self.event(session, "send_message", Some(session.state), None, None, m).await?;
        Ok(json!({"ok": true, "session_id": session.id, "event_id": event_id}))
    }

    /// Hooks can fire before the CLI draws the dialog they announce (Claude Code's do), and keys
    /// sent before it is drawn are lost. When the worker's question or approval was decided by
    /// a signal, this waits (at most [`DIALOG_DRAW_WAIT`]) until the worker has printed
    /// something since that signal was logged and its screen shows a question or an approval
    /// (an older question still on screen is not the new one). `None`: nothing to wait for (no
    /// signal decided one); else whether the dialog was seen drawn before the wait ran out.
    async fn await_signalled_dialog(&self, session: &AgentSession, r: &RuntimeRef) -> Option<bool> {
        use crate::model::ObserveEvent;
        if !matches!(session.state, SessionState::AwaitingUserInput | SessionState::AwaitingApproval) {
            return None;
        }
        let ad = ArtifactDir::new(&session.artifact_dir);
        let offset = session.metadata.get("signal_offset").and_then(Value::as_u64).unwrap_or(0);
        let (signals, _) = crate::signal::read_since(&ad.signal_log(), offset);
        let (decided, _) = crate::machine::fold(&signals);
        let by_signal = decided.is_some_and(|s| {
            matches!(s.signal, crate::signal::Signal::Question { .. } | crate::signal::Signal::Approval { .. })
        });
        if !by_signal {
            return None;
        }
        let rules = detect::ExtraRules::of(self.registry.get(&session.provider_id).ok()?.as_ref());
        let echo = crate::observe::load_echo(&ad);
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let signalled = modified(&ad.signal_log());
        let start = tokio::time::Instant::now();
        loop {
            let printed_since = matches!((modified(&ad.raw_log()), signalled), (Some(out), Some(sig)) if out > sig);
            if printed_since && let Ok(snap) = self.runtime.snapshot(r, 0, Duration::from_secs(2)).await {
                if snap.dead {
                    return Some(false);
                }
                let screen = redact(snap.screen.trim_end()).into_owned();
                let det = detect::detect_with(&screen, None, &echo, &rules);
                if matches!(det.event, ObserveEvent::Question | ObserveEvent::ApprovalPrompt) {
                    return Some(true);
                }
            }
            if start.elapsed() >= DIALOG_DRAW_WAIT {
                return Some(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A follow-up message to a worker that completed but still runs starts a new turn: the
    /// session is live again, and the result it already printed no longer counts.
    async fn reopen(&self, session: &AgentSession, r: &RuntimeRef) -> Result<()> {
        let lines = self.settings.config.runtime.tmux.capture_lines;
        let screen = self.runtime.snapshot(r, lines, Duration::from_secs(2)).await?;
        if screen.dead {
            return Err(worker_exited(session, screen.exit_status, &screen.screen));
        }
        let echo = crate::observe::load_echo(&ArtifactDir::new(&session.artifact_dir));
        let previous = detect::extract_result(&redact(&screen.screen), &echo).map(|b| util::sha256_hex(b.as_bytes()));
        let id = session.id.clone();
        self.store
            .call(move |c| {
                c.execute(
                    "UPDATE sessions SET state = 'RUNNING', ended_at = NULL, updated_at = ?1 WHERE id = ?2 AND state = 'COMPLETED'",
                    rusqlite::params![util::now(), id],
                ).sql()?;
                store::set_meta(c, &id, "previous_result_sha256", &json!(previous))
            })
            .await?;
        let mut m = Map::new();
        m.insert("reason".into(), json!("follow-up message after completion"));
        self.event(session, "reopen", Some(SessionState::Running), None, None, m).await?;
        Ok(())
    }

    /// A `WORKER_EXITED` from the runtime, with the worker's exit status and final screen.
    /// Other errors pass through.
    async fn explain_exit(&self, err: Error, session: &AgentSession, r: &RuntimeRef) -> Error {
        if err.code != ErrorCode::WorkerExited {
            return err;
        }
        match self.runtime.snapshot(r, 0, Duration::from_secs(2)).await {
            Ok(s) => {
                // A worker that exits at once can leave an empty pane behind (tmux shows only
                // its "Pane is dead" line); its transcript still has what it printed.
                let screen = if s.screen.lines().any(|l| !l.trim().is_empty() && !l.starts_with("Pane is dead")) {
                    s.screen
                } else {
                    // The raw log holds only what the worker printed (no AgentPool notes).
                    let raw = ArtifactDir::new(&session.artifact_dir).raw_log();
                    let tail = util::read_tail(&raw, 4096);
                    artifacts::strip_terminal(tail.as_bytes()).0
                };
                worker_exited(session, s.exit_status, &screen)
            }
            Err(_) => err.with("session_id", &session.id),
        }
    }

    /// Sends raw keys, when policy allows it.
    pub async fn keys(&self, session_id: &str, keys: &[String]) -> Result<Value> {
        if !self.settings.config.policy.allow_raw_keys {
            return Err(Error::new(
                ErrorCode::PolicyBlocked,
                "raw key sending is disabled by policy; use `interrupt` for Ctrl-C",
            )
            .with("keys", keys)
            .with("policy", "allow_raw_keys"));
        }
        if keys.is_empty() {
            return Err(invalid_request("give at least one key", vec![field_error("keys", "no keys", "")]));
        }
        for k in keys {
            if k.is_empty()
                || k.chars().count() > 32
                || k.chars().any(char::is_control)
                || (k.starts_with('-') && k.len() > 1)
            {
                return Err(invalid_request(
                    &format!(
                        "`{}` is not a key name (use tmux names such as `Enter`, `Escape`, `C-c`, `Up`)",
                        util::tail_chars(k, 40)
                    ),
                    vec![field_error("keys", "invalid key", k)],
                ));
            }
        }
        let session = self.load(session_id).await?;
        self.enforce_deadline(&session).await?;
        let r = self.runtime_ref(&session)?;
        let drawn = self.await_signalled_dialog(&session, &r).await;
        self.runtime.send_keys(&r, keys).await?;
        let mut m = Map::new();
        m.insert("keys".into(), json!(keys));
        if let Some(d) = drawn {
            m.insert("dialog_drawn".into(), json!(d));
        }
        self.event(&session, "send_keys", Some(session.state), None, None, m).await?;
        Ok(json!({"ok": true, "session_id": session.id}))
    }

    /// Sends the provider's interrupt key (or, with `dry_run`, says it would).
    pub async fn interrupt(&self, session_id: &str, dry_run: bool) -> Result<Value> {
        let session = self.load(session_id).await?;
        if dry_run {
            // Predict the real call: it needs the runtime session to still exist.
            let exists = match session.runtime_ref() {
                Some(r) => self
                    .runtime
                    .list(r.socket.as_deref())
                    .await
                    .map(|m| m.contains_key(&r.session_name))
                    .unwrap_or(false),
                None => false,
            };
            return Ok(
                json!({"ok": true, "session_id": session.id, "dry_run": true, "would_interrupt": exists, "state": session.state}),
            );
        }
        let r = self.runtime_ref(&session)?;
        // The CLI's own interrupt key (Claude Code: Escape; a Ctrl-C there can quit it).
        let provider = self.registry.get(&session.provider_id).ok();
        let keys = provider.as_ref().map(|p| p.interrupt_keys()).unwrap_or_default();
        let keys = if keys.is_empty() { vec!["C-c".to_owned()] } else { keys };
        if let Err(e) = self.runtime.send_keys(&r, &keys).await {
            return Err(self.explain_exit(e, &session, &r).await);
        }
        // CLIs report no hook for an interrupted turn; for a provider that speaks through
        // signals, the interrupt is logged as one, so observe reports `interrupted` (a later
        // tool use or turn end from the CLI still has the last word).
        if provider.as_ref().is_some_and(|p| p.signals().is_some()) {
            let logged = crate::signal::LoggedSignal {
                ts: util::now(),
                source: "agentpool_interrupt".into(),
                signal: crate::signal::Signal::Interrupted,
            };
            let log = ArtifactDir::new(&session.artifact_dir).signal_log();
            let _ =
                blocking(move || crate::signal::append(&log, &[logged]).map_err(|e| Error::io("signal log", &e))).await;
        }
        let mut m = Map::new();
        m.insert("keys".into(), json!(keys));
        self.event(&session, "interrupt", Some(session.state), None, None, m).await?;
        Ok(json!({"ok": true, "session_id": session.id, "state": session.state}))
    }

    /// How a human attaches to the worker.
    pub async fn attach(&self, session_id: &str) -> Result<Value> {
        let session = self.load(session_id).await?;
        let r = self.runtime_ref(&session)?;
        let live = self.runtime.live_control(self.settings.config.policy.allow_raw_keys);
        Ok(json!({
            "session_id": session.id,
            "runtime": session.runtime,
            "attach_command": self.runtime.attach_command(&r),
            "can_attach": live.can_attach,
            "attach_kind": live.attach_kind,
            "commands": Value::Null,
            "tmux_session": r.session_name,
            "pane_target": format!("{}:{}.{}", r.session_name, r.window, r.pane),
            "pane_id": r.pane_id,
            "socket": r.socket,
        }))
    }

    /// What a dashboard shows of a worker: its screen as it is now (a capture, or the last
    /// observed screen when the worker is gone), redacted, with every control character except
    /// newlines removed, so nothing the worker printed can drive the viewer's terminal.
    /// Reads only: no state changes, no events, no observe.
    pub async fn preview(&self, session_id: &str) -> Result<String> {
        let session = self.load(session_id).await?;
        let captured = match session.runtime_ref() {
            Some(r) if session.is_live() => {
                self.runtime.snapshot(&r, 0, Duration::from_secs(2)).await.ok().map(|s| s.screen)
            }
            _ => None,
        };
        let text = match captured {
            Some(t) => t,
            None => {
                let path = ArtifactDir::new(&session.artifact_dir).file("screen");
                blocking(move || Ok(std::fs::read(&path).unwrap_or_default()))
                    .await
                    .map(|raw| crate::artifacts::strip_terminal(&raw).0)?
            }
        };
        Ok(safe_text(&redact(&text)))
    }

    /// The artifact manifest (result files materialised first).
    pub async fn manifest(&self, session_id: &str, materialize: bool) -> Result<Value> {
        let session = self.load(session_id).await?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let files = blocking(move || {
            if materialize {
                materialize_result(&ad, None)?;
            }
            Ok(ad.manifest())
        })
        .await?;
        Ok(json!({"session_id": session.id, "artifact_dir": session.artifact_dir, "files": files}))
    }

    /// A page (byte offset) or tail (lines) of the transcript.
    pub async fn transcript(
        &self,
        session_id: &str,
        offset: i64,
        limit: i64,
        tail_lines: Option<i64>,
    ) -> Result<Value> {
        let range = |msg: &str| Error::new(ErrorCode::InvalidTranscriptRange, msg);
        if offset < 0 {
            return Err(range("offset must be zero or greater").with("offset", offset));
        }
        if !(1..=200_000).contains(&limit) {
            return Err(range("limit must be between 1 and 200000 bytes").with("limit", limit));
        }
        if let Some(t) = tail_lines {
            if !(1..=10_000).contains(&t) {
                return Err(range("tail_lines must be between 1 and 10000").with("tail_lines", t));
            }
            if offset != 0 {
                return Err(range("use either offset paging or tail_lines, not both")
                    .with("offset", offset)
                    .with("tail_lines", t));
            }
        }
        let session = self.load(session_id).await?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let path = ad.file("transcript");
        let sid = session.id.clone();
        blocking(move || {
            let _ = ad.sync_transcript();
            let path_str = path.display().to_string();
            let Ok((mut f, size)) = tail::open(&path) else {
                return Ok(json!({"session_id": sid, "path": path_str, "exists": false, "mode": "missing", "offset": 0,
                    "limit": Value::Null, "tail_lines": Value::Null, "next_offset": 0, "has_more": false, "size_bytes": 0,
                    "truncated": false, "text": ""}));
            };
            let read_err = |e: std::io::Error| Error::io(format_args!("could not read `{path_str}`"), &e);
            if let Some(t) = tail_lines {
                // From the end, at most `TAIL_MAX_BYTES`: a long line is cut, never loaded whole.
                let lines = usize::try_from(t).unwrap_or(1);
                let tail = tail::tail_lines(&mut f, size, lines, tail::TAIL_MAX_BYTES).map_err(read_err)?;
                return Ok(json!({"session_id": sid, "path": path_str, "exists": true, "mode": "tail", "offset": Value::Null,
                    "limit": Value::Null, "tail_lines": t, "next_offset": Value::Null, "has_more": tail.has_more,
                    "size_bytes": size, "truncated": tail.truncated, "text": tail.text}));
            }
            let start = (offset as u64).min(size);
            let page = tail::read_range(&mut f, start, limit as u64).map_err(read_err)?;
            let end = start + page.len() as u64;
            Ok(json!({"session_id": sid, "path": path_str, "exists": true, "mode": "page", "offset": start, "limit": limit,
                "tail_lines": Value::Null, "next_offset": end, "has_more": end < size, "size_bytes": size,
                "truncated": false, "text": String::from_utf8_lossy(&page)}))
        })
        .await
    }

    /// Collects artifacts: final screen, transcript, git status, diff (untracked files
    /// included), result and summary.
    pub async fn collect(
        &self,
        session_id: &str,
        include_diff: bool,
        include_transcript: bool,
        mark_completed: bool,
    ) -> Result<Value> {
        let session = self.load(session_id).await?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let mut warnings = Vec::new();
        let mut fresh_screen = None;
        if let Some(r) = session.runtime_ref() {
            let lines = self.settings.config.runtime.tmux.capture_lines;
            match self.runtime.snapshot(&r, lines, Duration::from_secs(2)).await {
                Ok(snap) => fresh_screen = Some(redact(&snap.screen).into_owned()),
                Err(e)
                    if matches!(
                        e.code,
                        ErrorCode::TmuxSessionNotFound
                            | ErrorCode::RuntimeSessionNotFound
                            | ErrorCode::RuntimeCaptureTimeout
                    ) =>
                {
                    // The runtime is gone: keep the last good screen rather than blanking it.
                    if session.is_live() {
                        warnings.push(e.envelope()["error"].clone());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let workdir = PathBuf::from(session.workdir());
        let (status_text, facts) = git::status(&workdir).await;
        let diff = if include_diff { Some(redact(&git::diff(&workdir).await).into_owned()) } else { None };
        let mut state = session.state;
        if mark_completed && !matches!(state, SessionState::Cancelled | SessionState::Failed) {
            state = SessionState::Completed;
        }
        let mut session_json = serde_json::to_value(&session).unwrap_or_default();
        session_json["state"] = json!(state);
        session_json["git"] = serde_json::to_value(&facts).unwrap_or_default();
        let ad2 = ad.clone();
        let (summary, records) = blocking(move || {
            if let Some(screen) = &fresh_screen {
                // No AgentPool notes in a screen: a worker line that looks like one is escaped.
                util::write_atomic(&ad2.file("screen"), artifacts::escape_note_like("", screen).as_bytes())?;
            }
            let _ = ad2.sync_transcript();
            util::write_atomic(&ad2.file("git_status"), redact(&status_text).as_bytes())?;
            if let Some(d) = &diff {
                util::write_atomic(&ad2.file("diff"), d.as_bytes())?;
            }
            let summary = materialize_result(&ad2, fresh_screen.as_deref())?.unwrap_or_else(|| {
                let _ = util::write_atomic(&ad2.file("summary"), NO_RESULT.as_bytes());
                let _ = util::write_atomic(&ad2.file("result"), NO_RESULT.as_bytes());
                NO_RESULT.to_owned()
            });
            util::write_atomic(
                &ad2.file("metadata"),
                artifacts::pretty_sorted(&crate::redact::redact_value(&session_json)).as_bytes(),
            )?;
            let records: Vec<ArtifactRecord> = ad2
                .manifest()
                .into_iter()
                .filter(|f| f.exists)
                .map(|f| ArtifactRecord { kind: f.kind, path: f.path, sha256: f.sha256, metadata: Map::new() })
                .collect();
            Ok((summary, records))
        })
        .await?;
        let id = session.id.clone();
        let rows = records.clone();
        self.store
            .call(move |c| {
                for a in &rows {
                    store::save_artifact(c, &id, &a.kind, &a.path, a.sha256.as_deref())?;
                }
                if state != session_state_of(c, &id)? {
                    store::set_state(c, &id, state, true)?;
                }
                Ok(())
            })
            .await?;
        let mut m = Map::new();
        m.insert("include_diff".into(), json!(include_diff));
        self.event(&session, "collect", Some(state), None, None, m).await?;
        let artifacts: Vec<ArtifactRecord> =
            records.into_iter().filter(|a| include_transcript || a.kind != "transcript").collect();
        let mut out = json!({
            "session_id": session.id,
            "state": state,
            "artifact_dir": session.artifact_dir,
            "artifacts": artifacts,
            "summary": summary,
            "git": facts,
        });
        if !warnings.is_empty() {
            out["warnings"] = json!(warnings);
        }
        Ok(out)
    }

    /// Terminates a worker. Idempotent: a second call reports `already_terminated`.
    pub async fn terminate(&self, session_id: &str, reason: Option<&str>, dry_run: bool) -> Result<Value> {
        let session = self.load(session_id).await?;
        let terminal = !session.is_live();
        let id = session.id.clone();
        let previous = self.store.call(move |c| store::has_event(c, &id, "terminate")).await?;
        let r = session.runtime_ref();
        // Every terminate that finds the worker stops it, before anything is recorded (killing
        // twice is harmless; a process killed in between leaves a live row, never a CANCELLED
        // one with a running worker). Only the one that claims the session reports it ended it.
        // Finding and stopping are one runtime step; a dry run only looks.
        let exists = match &r {
            Some(r) if dry_run => {
                self.runtime.list(r.socket.as_deref()).await.map(|m| m.contains_key(&r.session_name)).unwrap_or(false)
            }
            Some(r) => {
                // The transcript takes the worker's output up to now, alongside the kill (the
                // raw log stays, so a later read syncs whatever came after).
                let ad = ArtifactDir::new(&session.artifact_dir);
                let (_, present) =
                    tokio::join!(blocking(move || ad.sync_transcript()), self.runtime.terminate_if_present(r));
                present?
            }
            None => false,
        };
        let final_state = if terminal { session.state } else { SessionState::Cancelled };
        let already = terminal && previous;
        let would = exists && !already;
        let plan = json!({
            "session_id": session.id,
            "ok": true,
            "state": final_state,
            "current_state": session.state,
            "would_terminate_runtime": would,
            "would_terminate_tmux": would,
            "already_terminated": already,
        });
        if dry_run {
            let mut out = Map::new();
            out.insert("dry_run".into(), json!(true));
            if let Value::Object(m) = plan {
                out.extend(m);
            }
            return Ok(Value::Object(out));
        }
        // Exactly one terminate claims the session: the check for an earlier terminate, the
        // state change and the event are one write transaction, against the state stored *now*
        // (an observe or reconcile may have settled it since it was read above).
        let claim = {
            let id = session.id.clone();
            let reason = reason.map(str::to_owned);
            let acting = session
                .meta_str("coordinator_id")
                .is_some_and(|owner| owner != self.opts.principal.coordinator_id)
                .then(|| self.opts.principal.coordinator_id.clone());
            let ad = ArtifactDir::new(&session.artifact_dir);
            let wanted = crate::notify::wanted(&self.settings.config.notify, "terminate");
            self.store
                .call(move |c| {
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).sql()?;
                    if store::has_event(&tx, &id, "terminate")? {
                        return Ok(None);
                    }
                    let Some(current) = store::get_session(&tx, &id)? else { return Ok(None) };
                    let final_state = if current.is_live() { SessionState::Cancelled } else { current.state };
                    if current.is_live() {
                        store::transition(&tx, &id, current.state, SessionState::Cancelled, true)?;
                    }
                    let mut m = Map::new();
                    m.insert("reason".into(), json!(reason));
                    if let Some(a) = acting {
                        m.insert("acting_coordinator_id".into(), json!(a));
                    }
                    let m = crate::redact::redact_map(&m);
                    let rec = store::append_event(&tx, &id, "terminate", Some(final_state), None, None, &m)?;
                    let appended = ad.append_event(&rec);
                    let claimed = if wanted.is_empty() { Vec::new() } else { crate::notify::claim(&tx, &rec, &wanted) };
                    tx.commit().sql()?;
                    appended?;
                    Ok(Some((final_state, rec, claimed)))
                })
                .await?
        };
        let claim = claim.map(|(state, rec, claimed)| {
            self.notify(&session, &rec, &claimed);
            state
        });
        let mut plan = plan;
        match claim {
            Some(state) => {
                plan["state"] = json!(state);
                plan["already_terminated"] = json!(false);
            }
            None => {
                let now = self.load(&session.id).await?;
                plan["state"] = json!(now.state);
                plan["already_terminated"] = json!(true);
            }
        }
        // A terminated worker edits nothing more: its file leases end with it.
        self.release_session_leases(&session, "terminate").await?;
        Ok(plan)
    }

    /// One session.
    pub async fn show(&self, session_id: &str) -> Result<Value> {
        check_session_id(session_id)?;
        // A session whose runtime died must not look alive to whoever asks first.
        self.reconcile().await?;
        let session = self.load(session_id).await?;
        Ok(json!({"session": session}))
    }

    /// Lists sessions with pagination. `limit = None` means all.
    pub async fn list(
        &self,
        states: Option<Vec<String>>,
        provider_id: Option<String>,
        limit: Option<i64>,
        offset: i64,
        include_all: bool,
    ) -> Result<Value> {
        let scope = if self.opts.principal.scoped && !include_all {
            crate::scope::Scope::Mine
        } else {
            crate::scope::Scope::All
        };
        self.list_in_scope(states, provider_id, limit, offset, scope).await
    }

    /// Lists sessions with pagination, either the acting coordinator's own or all of them.
    pub async fn list_in_scope(
        &self,
        states: Option<Vec<String>>,
        provider_id: Option<String>,
        limit: Option<i64>,
        offset: i64,
        scope: crate::scope::Scope,
    ) -> Result<Value> {
        if let Some(l) = limit
            && !(1..=500).contains(&l)
        {
            return Err(Error::new(ErrorCode::InvalidSessionPage, "limit must be between 1 and 500")
                .with("limit", l)
                .with("max_limit", 500));
        }
        if offset < 0 {
            return Err(
                Error::new(ErrorCode::InvalidSessionPage, "offset must be zero or greater").with("offset", offset)
            );
        }
        let states = match states {
            Some(list) => {
                let mut parsed = Vec::new();
                for raw in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                    match SessionState::parse_loose(raw) {
                        Some(s) => parsed.push(s.as_str().to_owned()),
                        None => {
                            return Err(Error::new(
                                ErrorCode::InvalidRequest,
                                format!("unknown session state `{raw}`"),
                            )
                            .with("state", raw)
                            .with("allowed", SessionState::names()));
                        }
                    }
                }
                (!parsed.is_empty()).then_some(parsed)
            }
            None => None,
        };
        self.reconcile().await?;
        let current_only = scope == crate::scope::Scope::Mine;
        let filter = SessionFilter {
            states,
            provider_id,
            coordinator_id: current_only.then(|| self.opts.principal.coordinator_id.clone()),
            live_only: false,
        };
        let (sessions, total) = self
            .store
            .call(move |c| Ok((store::list_sessions(c, &filter, limit, offset)?, store::count_sessions(c, &filter)?)))
            .await?;
        let count = sessions.len() as i64;
        let has_more = offset + count < total;
        Ok(json!({
            "sessions": sessions,
            "pagination": {"limit": limit, "offset": offset, "count": count, "total": total, "has_more": has_more,
                           "next_offset": if has_more { Some(offset + count) } else { None }},
            "scope": {"coordinator_id": self.opts.principal.coordinator_id, "current_coordinator_only": current_only},
        }))
    }

    /// Settles sessions whose worker is gone or exited, or whose deadline passed, or whose
    /// spawn crashed before launch. Returns the ids it changed.
    pub async fn reconcile(&self) -> Result<Vec<String>> {
        let live = self
            .store
            .call(|c| store::list_sessions(c, &SessionFilter { live_only: true, ..Default::default() }, None, 0))
            .await?;
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let mut changed = Vec::new();
        // One listing per socket: each session is looked up where it recorded it lives.
        let mut listings: std::collections::HashMap<Option<String>, std::collections::HashMap<String, Liveness>> =
            std::collections::HashMap::new();
        for session in live {
            if self.deadline_passed(&session) {
                self.expire(&session).await?;
                changed.push(session.id.clone());
                continue;
            }
            let Some(r) = session.runtime_ref() else {
                let stale = util::parse_ts(&session.created_at)
                    .is_some_and(|t| time::OffsetDateTime::now_utc() - t > STALE_START)
                    || spawner_gone(&session);
                if session.state == SessionState::Starting && stale {
                    let mut m = Map::new();
                    m.insert("reason".into(), json!("spawn never reached the runtime"));
                    let to = SessionState::Failed;
                    let guard = Guard::Move { from: session.state, to, ended: true };
                    if self.record(&session, "reconcile_stale_start", Some(to), None, None, m, guard).await?.is_some() {
                        self.release_session_leases(&session, "reconcile").await?;
                        changed.push(session.id.clone());
                    }
                }
                continue;
            };
            if !listings.contains_key(&r.socket) {
                match self.runtime.list(r.socket.as_deref()).await {
                    Ok(l) => {
                        listings.insert(r.socket.clone(), l);
                    }
                    // Without tmux we cannot tell; leave sessions as they are.
                    Err(e) if e.code == ErrorCode::TmuxNotFound => return Ok(changed),
                    Err(e) => return Err(e),
                }
            }
            let Some(listing) = listings.get(&r.socket) else { continue };
            let launching = session.metadata.get("launch_pending").is_some_and(|v| v == true);
            match listing.get(&r.session_name) {
                // The spawning process died between starting the worker and finishing its
                // launch (the task may never have been typed): stop the orphan and say why,
                // rather than leave a worker nobody drives counted as live forever.
                Some(Liveness::Alive) if launching && spawner_gone(&session) => {
                    let mut m = Map::new();
                    m.insert(
                        "reason".into(),
                        json!("the spawning process ended before the launch finished; the worker was stopped"),
                    );
                    m.insert("runtime_session".into(), json!(r.session_name));
                    // Stop it first: a process killed between the two steps then leaves a row
                    // the next reconcile settles, never a FAILED row with a running worker.
                    let _ = self.runtime.terminate(&r).await;
                    let to = SessionState::Failed;
                    let guard = Guard::Move { from: session.state, to, ended: true };
                    if self
                        .record(&session, "reconcile_abandoned_launch", Some(to), None, None, m, guard)
                        .await?
                        .is_some()
                    {
                        self.release_session_leases(&session, "reconcile").await?;
                        changed.push(session.id.clone());
                    }
                }
                Some(Liveness::Alive) => {}
                // A launch in progress records where the worker will live before tmux starts
                // it: not there yet is not gone, unless the spawning process died or it is old.
                None if launching
                    && !spawner_gone(&session)
                    && util::parse_ts(&session.created_at)
                        .is_some_and(|t| time::OffsetDateTime::now_utc() - t <= STALE_START) => {}
                Some(Liveness::Dead { .. }) => {
                    // Observe settles exited workers from their final screen and status.
                    let _ = Box::pin(self.observe(&session.id, crate::observe::ObserveOptions::default())).await;
                    changed.push(session.id.clone());
                }
                None => {
                    let mut m = Map::new();
                    m.insert("runtime".into(), json!("tmux"));
                    m.insert("runtime_session".into(), json!(r.session_name));
                    m.insert("tmux_session".into(), json!(r.session_name));
                    m.insert("socket".into(), json!(r.socket));
                    m.insert("reason".into(), json!("the tmux session is gone"));
                    let to = SessionState::Failed;
                    let guard = Guard::Move { from: session.state, to, ended: true };
                    if self.record(&session, "reconcile_dead_tmux", Some(to), None, None, m, guard).await?.is_some() {
                        self.release_session_leases(&session, "reconcile").await?;
                        changed.push(session.id.clone());
                    }
                }
            }
        }
        Ok(changed)
    }

    pub(crate) fn deadline_passed(&self, session: &AgentSession) -> bool {
        session.is_live()
            && session
                .meta_str("deadline_at")
                .and_then(util::parse_ts)
                .is_some_and(|d| time::OffsetDateTime::now_utc() > d)
    }

    /// Cancels a session whose `max_runtime_seconds` passed.
    pub(crate) async fn expire(&self, session: &AgentSession) -> Result<()> {
        if let Some(r) = session.runtime_ref() {
            let _ = self.runtime.terminate(&r).await;
        }
        let mut m = Map::new();
        m.insert("deadline_at".into(), json!(session.meta_str("deadline_at")));
        let to = SessionState::Cancelled;
        let guard = Guard::Move { from: session.state, to, ended: true };
        // Settled meanwhile (terminated, completed): that outcome stands.
        if self.record(session, "timeout", Some(to), None, None, m, guard).await?.is_some() {
            self.release_session_leases(session, "timeout").await?;
        }
        Ok(())
    }

    async fn enforce_deadline(&self, session: &AgentSession) -> Result<()> {
        if self.deadline_passed(session) {
            self.expire(session).await?;
            return Err(Error::new(
                ErrorCode::SessionTimeout,
                "session exceeded max_runtime_seconds and was terminated",
            )
            .with("session_id", &session.id)
            .with("deadline_at", session.meta_str("deadline_at")));
        }
        Ok(())
    }

    /// The preferences file reference agents read before delegating.
    pub fn preferences_ref(&self) -> Value {
        let path = &self.settings.paths.preferences;
        let text = std::fs::read_to_string(path).ok();
        let digest: Vec<String> = text
            .as_deref()
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("- ") || l.starts_with("* "))
                    .map(|l| l[2..].trim().to_owned())
                    .take(8)
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "path": path.display().to_string(),
            "resource_uri": "agentpool://preferences.md",
            "exists": text.is_some(),
            "using_default_template": text.is_none(),
            "read_hint": "read these standing preferences before choosing a provider or delegating",
            "digest": digest,
        })
    }

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
        let session_id = spawned["session_id"].as_str().unwrap_or_default().to_owned();
        let outcome = self.smoke_steps(&session_id, timeout).await;
        let _ = self.terminate(&session_id, Some("smoke finished"), false).await;
        let mut out = outcome?;
        out["provider_id"] = json!(provider_id);
        Ok(out)
    }

    async fn smoke_steps(&self, session_id: &str, timeout: Duration) -> Result<Value> {
        use crate::observe::ObserveOptions;
        let wait = |what: &str| ObserveOptions { wait_for: vec![what.to_owned()], timeout, ..Default::default() };
        let q = self.observe(session_id, wait("question")).await?;
        let sent = self.send(session_id, "Continue read-only.").await.is_ok();
        let c = self.observe(session_id, wait("completed")).await?;
        let collected = self.collect(session_id, true, true, true).await?;
        let kinds: Vec<Value> =
            collected["artifacts"].as_array().into_iter().flatten().map(|a| a["kind"].clone()).collect();
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
            "artifact_dir": collected["artifact_dir"],
            "artifact_kinds": kinds,
            "git_dirty": collected["git"]["dirty"],
            "ok": ok,
        }))
    }
}

/// Why the first paste was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    /// The provider's sign-in screen.
    LoginRequired,
    /// A dialog or approval prompt AgentPool does not answer.
    StartupPrompt,
}

/// The `metadata.hint` of a `login_required` observation.
pub fn login_hint(provider: &dyn Provider) -> String {
    match provider.screen_rules().login_command {
        Some(cmd) => format!(
            "the worker is at its sign-in screen: sign in with `{cmd}` (or attach and sign in there), then send the task again"
        ),
        None => "the worker is at its sign-in screen: attach and sign in, then send the task again".to_owned(),
    }
}

/// `provider_default` resolves to the catalog's `default_initial_prompt_mode` when it names a
/// usable mode, else to the provider's own default.
pub fn resolve_prompt_mode(
    requested: PromptMode,
    config: &crate::config::ProviderConfig,
    provider: &dyn Provider,
) -> PromptMode {
    if requested != PromptMode::ProviderDefault {
        return requested;
    }
    match config.metadata.get("default_initial_prompt_mode").and_then(Value::as_str) {
        Some("arg") => PromptMode::Arg,
        Some("send_after_launch") => PromptMode::SendAfterLaunch,
        _ => provider.default_prompt_mode(),
    }
}

/// Whether the process that was spawning a `STARTING` session is gone (it crashed between
/// recording the session and starting its runtime). A reused pid only delays the verdict
/// until `STALE_START` passes.
/// `WORKER_EXITED`: the worker's process ended, so nothing can be typed into it.
pub(crate) fn worker_exited(session: &AgentSession, exit_status: Option<i32>, screen: &str) -> Error {
    let screen = redact(screen);
    Error::new(
        ErrorCode::WorkerExited,
        match exit_status {
            Some(code) => format!("the worker has exited (status {code}); nothing was sent"),
            None => "the worker has exited; nothing was sent".to_owned(),
        },
    )
    .with("session_id", &session.id)
    .with("exit_status", exit_status)
    // Worker text in an error envelope is fenced like any other (docs/security.md).
    .with("final_screen", agent_io::fence(util::tail_chars(screen.trim(), 2000)).0)
    .with("example", format!("agentpool observe {} --json", session.id))
}

fn spawner_gone(session: &AgentSession) -> bool {
    let Some(pid) = session.meta_i64("spawn_pid").and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0) else {
        return false;
    };
    if i64::from(pid) == i64::from(std::process::id()) {
        return false;
    }
    matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH))
}

fn session_state_of(c: &rusqlite::Connection, id: &str) -> Result<SessionState> {
    Ok(store::get_session(c, id)?.map_or(SessionState::Unknown, |s| s.state))
}

/// `<prefix>-<provider with non-alphanumerics as ->-<last 6 of id>`.
pub fn runtime_session_name(prefix: &str, provider_id: &str, session_id: &str) -> String {
    let safe: String = provider_id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("{prefix}-{}-{}", safe.trim_matches('-'), &session_id[session_id.len().saturating_sub(6)..])
}

/// Resolves a repo path: `~` expanded, absolute, symlinks resolved; it must be a directory.
pub fn resolve_repo(raw: &str) -> Result<PathBuf> {
    if raw.trim().is_empty() || raw.contains('\0') {
        return Err(Error::new(ErrorCode::RepoNotFound, "repo path is empty or invalid")
            .with("repo_path", util::tail_chars(raw, 200)));
    }
    let expanded = crate::config::expand_tilde(Path::new(raw));
    match std::fs::canonicalize(&expanded) {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(p) => Err(Error::new(ErrorCode::RepoNotFound, format!("repo path `{}` is not a directory", p.display()))
            .with("repo_path", p.display().to_string())),
        Err(_) => {
            Err(Error::new(ErrorCode::RepoNotFound, format!("repo path `{}` does not exist", expanded.display()))
                .with("repo_path", expanded.display().to_string()))
        }
    }
}

fn describe(p: &dyn Provider, ctx: &ProbeContext, d: provider::Detected, with_usage: bool) -> ProviderDescriptor {
    let mut metadata = p.metadata();
    metadata.extend(ctx.config.metadata.clone());
    ProviderDescriptor {
        id: p.id().to_owned(),
        display_name: p.display_name().to_owned(),
        vendor: p.vendor().to_owned(),
        harness: p.harness().to_owned(),
        installed: d.installed,
        binary_path: d.binary_path,
        version: d.version,
        auth: d.auth,
        models: p.models(),
        runtimes: if d.installed { vec![RuntimeKind::Tmux] } else { Vec::new() },
        capabilities: if d.installed { provider::capabilities_of(p) } else { Vec::new() },
        usage: if with_usage { p.inventory_usage() } else { None },
        accounts: Vec::new(),
        warnings: d.warnings,
        metadata,
    }
}

/// Writes `summary.md` and `result.md` from the first of: the given screen, the latest
/// screen, the transcript tail, that holds a result. Returns the result text.
pub(crate) fn materialize_result(ad: &ArtifactDir, screen: Option<&str>) -> Result<Option<String>> {
    let mut candidates: Vec<String> = Vec::new();
    if let Some(s) = screen {
        candidates.push(s.to_owned());
    }
    // Both read from the end, a bounded window: the transcript can be any size.
    let screen_file = ad.file("screen");
    if screen_file.exists() {
        candidates.push(util::read_tail(&screen_file, tail::SCREEN_MAX_BYTES));
    }
    let transcript = ad.file("transcript");
    if transcript.exists() {
        candidates.push(util::read_tail(&transcript, 64 * 1024));
    }
    // Text AgentPool typed (the task, messages) is on the screen and in the transcript too; a
    // result block quoted there is not the worker's.
    let echo = crate::observe::load_echo(ad);
    for c in candidates {
        if let Some(result) = detect::extract_result(&c, &echo) {
            util::write_atomic(&ad.file("summary"), result.as_bytes())?;
            util::write_atomic(&ad.file("result"), result.as_bytes())?;
            return Ok(Some(result));
        }
    }
    Ok(None)
}

/// The first message of a resumed worker when the caller gives none.
pub const RESUME_TASK: &str = "Continue where you left off.";

fn resume_unsupported(provider_id: &str) -> Error {
    Error::new(
        ErrorCode::ResumeUnsupported,
        format!("provider `{provider_id}` has no resume mode AgentPool can drive; spawn a new worker instead"),
    )
    .with("provider_id", provider_id)
}

/// Runs blocking file work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorCode::IoFailed, format!("file task failed: {e}")))?
}

/// Waits until any of `paths` has another length than `known` says or `until` passes;
/// returns the new lengths. A short stat loop: cheap, portable, and wakes within a few
/// milliseconds of new output (or a new signal).
pub(crate) async fn wait_for_any_growth<const N: usize>(
    paths: &[PathBuf; N],
    known: [u64; N],
    until: tokio::time::Instant,
) -> [u64; N] {
    loop {
        let lens = paths.each_ref().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
        let now = tokio::time::Instant::now();
        if lens != known || now >= until {
            return lens;
        }
        tokio::time::sleep((until - now).min(Duration::from_millis(4))).await;
    }
}

/// [`wait_for_any_growth`] on one file.
pub(crate) async fn wait_for_growth(path: &Path, known_len: u64, until: tokio::time::Instant) -> u64 {
    let [len] = wait_for_any_growth(&[path.to_path_buf()], [known_len], until).await;
    len
}

/// Unique values, order kept.
pub(crate) fn dedup(values: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    values.into_iter().filter(|v| seen.insert(v.clone())).collect()
}

/// Detail for worker text, validated.
pub fn parse_detail(raw: &str) -> Result<Detail> {
    Detail::parse_loose(raw).ok_or_else(|| {
        Error::new(ErrorCode::InvalidDetail, "detail must be `summary`, `excerpt` or `full`")
            .with("detail", util::tail_chars(raw, 80))
    })
}

/// Manifest rows as JSON, gated in lockdown.
pub fn gate_manifest(files: &[ManifestFile], lockdown: bool) -> Vec<Value> {
    files
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            if lockdown && artifacts::WORKER_TEXT_KINDS.contains(&f.kind.as_str()) {
                v["gated"] = json!(true);
                v["gated_reason"] = json!("lockdown");
            }
            v
        })
        .collect()
}

/// The fenced worker output of a collect result.
pub fn collect_payload(mut result: Value, detail: Detail, lockdown: bool) -> Value {
    let summary = result.get("summary").and_then(Value::as_str).unwrap_or("").to_owned();
    let text = if summary == NO_RESULT { "" } else { summary.as_str() };
    if let Value::Object(m) = &mut result {
        m.shift_remove("summary");
        m.insert("worker_output".into(), agent_io::worker_output(text, detail, lockdown));
    }
    result
}

/// `text` without control characters (escape sequences are dropped whole first), keeping
/// newlines: safe to put on a terminal.
pub fn safe_text(text: &str) -> String {
    let (stripped, _) = crate::artifacts::strip_terminal(text.as_bytes());
    stripped.chars().map(|c| if c == '\t' { ' ' } else { c }).filter(|c| *c == '\n' || !c.is_control()).collect()
}
