//! The engine's core: [`Pool`], the façade front ends hold, over one store, provider registry
//! and runtime; and the primitives every lifecycle step uses (load, record with its guard,
//! notify). The steps themselves live in [`crate::session`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::agent_io;
use crate::api::check_session_id;
use crate::config::Settings;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentSession, EventRecord, RuntimeRef, SessionState};
use crate::provider::{ProbeContext, Provider, Registry};
use crate::redact::redact;
use crate::runtime::Runtime;
use crate::store::SqlExt as _;
use crate::store::{self, Store};
use crate::util;
use crate::workspace::artifacts::ArtifactDir;

/// AgentPool's version, reported everywhere.
pub const VERSION: &str = agentpool_sdk::VERSION;

/// What recording an event requires of the stored session (see [`Pool::record`]).
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

/// Options shared by a [`Pool`]'s operations.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Who acts through this manager (coordinator, scope, lockdown).
    pub principal: crate::scope::Principal,
    /// The `agentpool` executable fakes run from.
    pub self_exe: PathBuf,
}

/// The lifecycle over one store, registry and runtime.
pub struct Pool {
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    pub(crate) registry: Registry,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) opts: PoolOptions,
    profiles: crate::profile::Profiles,
}

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

pub(crate) fn session_state_of(c: &rusqlite::Connection, id: &str) -> Result<SessionState> {
    Ok(store::get_session(c, id)?.map_or(SessionState::Unknown, |s| s.state))
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

impl Pool {
    /// Builds a manager; opens (and migrates) the database.
    pub fn new(settings: Settings, registry: Registry, runtime: Arc<dyn Runtime>, opts: PoolOptions) -> Result<Self> {
        let store = Store::open(&settings.paths.db_path)?;
        Ok(Self { settings, store, registry, runtime, opts, profiles: Default::default() })
    }

    /// The resolved settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The provider registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// `provider`'s facts, merged once from its crate, the model catalog and the config.
    pub fn profile(&self, provider: &dyn Provider) -> Arc<crate::profile::ProviderProfile> {
        self.profiles.get(provider, &self.settings)
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
        if session.meta().coordinator_id.as_deref().is_some_and(|owner| owner != self.opts.principal.coordinator_id) {
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
    pub(crate) fn notify(&self, session: &AgentSession, rec: &EventRecord, claimed: &[usize]) {
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

    pub(crate) fn probe_context(&self, provider: &dyn Provider) -> ProbeContext {
        ProbeContext {
            config: self.profile(provider).config.clone(),
            self_exe: self.opts.self_exe.clone(),
            agentpool_version: VERSION,
            home: self.settings.paths.home.clone(),
        }
    }

    pub(crate) fn deadline_passed(&self, session: &AgentSession) -> bool {
        session.is_live()
            && session
                .meta()
                .deadline_at
                .as_deref()
                .and_then(util::parse_ts)
                .is_some_and(|d| time::OffsetDateTime::now_utc() > d)
    }

    /// Cancels a session whose `max_runtime_seconds` passed.
    pub(crate) async fn expire(&self, session: &AgentSession) -> Result<()> {
        if let Some(r) = session.runtime_ref() {
            let _ = self.runtime.terminate(&r).await;
        }
        let mut m = Map::new();
        m.insert("deadline_at".into(), json!(session.meta().deadline_at.as_deref()));
        let to = SessionState::Cancelled;
        let guard = Guard::Move { from: session.state, to, ended: true };
        // Settled meanwhile (terminated, completed): that outcome stands.
        if self.record(session, "timeout", Some(to), None, None, m, guard).await?.is_some() {
            self.release_session_leases(session, "timeout").await?;
        }
        Ok(())
    }

    /// The preferences file reference agents read before delegating.
    pub fn preferences_ref(&self) -> crate::api::PreferencesRef {
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
        crate::api::PreferencesRef {
            path: path.display().to_string(),
            resource_uri: "agentpool://preferences.md".to_owned(),
            exists: text.is_some(),
            using_default_template: text.is_none(),
            read_hint: "read these standing preferences before choosing a provider or delegating".to_owned(),
            digest,
            text: None,
        }
    }
}
