//! Reconcile stored sessions with their runtimes, deadlines, and the read side (show, list).

use std::time::Duration;

use serde_json::{Map, json};

use crate::api::{ListScope, Pagination, SessionPage, Shown, check_session_id};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentSession, SessionState};
use crate::pool::{Guard, Pool};
use crate::runtime::Liveness;
use crate::store::{self, SessionFilter};
use crate::util;

/// Sessions stuck in `STARTING` without a runtime for this long are treated as crashed.
const STALE_START: Duration = Duration::from_secs(120);

/// Whether the process that was spawning a `STARTING` session is gone (it crashed between
/// recording the session and starting its runtime). A reused pid only delays the verdict
/// until `STALE_START` passes.
fn spawner_gone(session: &AgentSession) -> bool {
    let Some(pid) = session.meta().spawn_pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0) else {
        return false;
    };
    if i64::from(pid) == i64::from(std::process::id()) {
        return false;
    }
    matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH))
}

impl Pool {
    /// One session.
    pub async fn show(&self, session_id: &str) -> Result<Shown> {
        check_session_id(session_id)?;
        // A session whose runtime died must not look alive to whoever asks first.
        self.reconcile().await?;
        let session = self.load(session_id).await?;
        Ok(Shown { session })
    }

    /// Lists sessions with pagination. `limit = None` means all.
    pub async fn list(
        &self,
        states: Option<Vec<String>>,
        provider_id: Option<String>,
        limit: Option<i64>,
        offset: i64,
        include_all: bool,
    ) -> Result<SessionPage> {
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
    ) -> Result<SessionPage> {
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
        Ok(SessionPage {
            sessions,
            pagination: Pagination {
                limit,
                offset,
                count,
                total,
                has_more,
                next_offset: has_more.then_some(offset + count),
            },
            scope: ListScope {
                coordinator_id: self.opts.principal.coordinator_id.clone(),
                current_coordinator_only: current_only,
            },
        })
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
            let launching = session.meta().launch_pending == Some(true);
            match listing.get(&r.session_name) {
                // The spawning process died between starting the worker and finishing its
                // launch (the task may never have been typed): stop the orphan and say why,
                // rather than leave a worker nobody drives counted as live forever.
                Some(Liveness::Alive) if launching && spawner_gone(&session) => {
                    // The row was read before the spawner was seen gone: a spawn that finished
                    // cleared the flag before it exited, so only a fresh read tells a launch
                    // that died from one that completed meanwhile (whose worker must live).
                    let fresh = self.load(&session.id).await?;
                    if fresh.meta().launch_pending != Some(true) || fresh.state != session.state {
                        continue;
                    }
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
                    let _ =
                        Box::pin(self.observe(&session.id, crate::session::observe::ObserveOptions::default())).await;
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

    pub(crate) async fn enforce_deadline(&self, session: &AgentSession) -> Result<()> {
        if self.deadline_passed(session) {
            self.expire(session).await?;
            return Err(Error::new(
                ErrorCode::SessionTimeout,
                "session exceeded max_runtime_seconds and was terminated",
            )
            .with("session_id", &session.id)
            .with("deadline_at", session.meta().deadline_at.as_deref()));
        }
        Ok(())
    }
}
