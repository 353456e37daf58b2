//! Terminate: stop the worker's process tree, then claim the session exactly once.

use serde_json::{Map, json};

use crate::api::Terminated;
use crate::error::Result;
use crate::model::SessionState;
use crate::pool::{Pool, blocking};
use crate::store::SqlExt as _;
use crate::store::{self};
use crate::workspace::artifacts::ArtifactDir;

impl Pool {
    /// Terminates a worker. Idempotent: a second call reports `already_terminated`.
    pub async fn terminate(&self, session_id: &str, reason: Option<&str>, dry_run: bool) -> Result<Terminated> {
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
        let mut plan = Terminated {
            dry_run: dry_run.then_some(true),
            session_id: session.id.clone(),
            ok: true,
            state: final_state,
            current_state: session.state,
            would_terminate_runtime: would,
            would_terminate_tmux: would,
            already_terminated: already,
        };
        if dry_run {
            return Ok(plan);
        }
        // Exactly one terminate claims the session: the check for an earlier terminate, the
        // state change and the event are one write transaction, against the state stored *now*
        // (an observe or reconcile may have settled it since it was read above).
        let claim = {
            let id = session.id.clone();
            let reason = reason.map(str::to_owned);
            let acting = session
                .meta()
                .coordinator_id
                .as_deref()
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
        match claim {
            Some(state) => {
                plan.state = state;
                plan.already_terminated = false;
            }
            None => {
                let now = self.load(&session.id).await?;
                plan.state = now.state;
                plan.already_terminated = true;
            }
        }
        // A terminated worker edits nothing more: its file leases end with it.
        self.release_session_leases(&session, "terminate").await?;
        Ok(plan)
    }
}
