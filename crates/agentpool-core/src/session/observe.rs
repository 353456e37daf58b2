//! Observe: wait for a worker to reach an event or state, driven by its output log.
//!
//! The loop never sleeps a fixed amount: it captures once, and then only when the runtime's
//! raw output log grows (a short stat loop notices within milliseconds), plus a slow liveness
//! check so an exit without output is still seen. Events are stored only when the event,
//! state or screen changed.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::agent_io;
use crate::api::{Manifest, ObserveView};
use crate::detect::{self, Detection};
use crate::error::{Error, ErrorCode, Result};
use crate::machine;
use crate::model::{AgentSession, Confidence, Detail, ObserveEvent, SessionState};
use crate::pool::{Pool, blocking, dedup, wait_for_any_growth};
use crate::redact::redact;
use crate::session::collect::gate_manifest;
use crate::signal;
use crate::store;
use crate::util;
use crate::workspace::artifacts::{self, ArtifactDir};

/// How often a quiet worker is re-checked for exit or an unchanged screen.
const LIVENESS_INTERVAL: Duration = Duration::from_millis(250);
/// Capture timeout per poll.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(2);
/// How many times in a row one observe re-reads after losing a write race before it reports the
/// stored state as is.
const MAX_OBSERVE_RACES: u32 = 8;

/// How long the worker's output must have paused before a turn's end reported by a signal is
/// taken as the turn's end, and for how long after the signal that wait applies at most.
const TURN_END_QUIET: Duration = Duration::from_millis(300);
const TURN_END_DRAW_LIMIT: Duration = Duration::from_secs(2);

/// Whether the worker wrote output within [`TURN_END_QUIET`], less than
/// [`TURN_END_DRAW_LIMIT`] after a signal logged at `signal_ts`: it is still drawing.
fn still_drawing(log: &std::path::Path, signal_ts: &str) -> bool {
    let since_signal = util::parse_ts(signal_ts)
        .map(|t| (time::OffsetDateTime::now_utc() - t).unsigned_abs())
        .unwrap_or(TURN_END_DRAW_LIMIT);
    let since_output = std::fs::metadata(log).and_then(|m| m.modified()).ok().and_then(|m| m.elapsed().ok());
    since_signal < TURN_END_DRAW_LIMIT && since_output.is_some_and(|d| d < TURN_END_QUIET)
}

/// Options of one observe call.
#[derive(Debug, Clone)]
pub struct ObserveOptions {
    /// Events or states to wait for (aliases accepted); empty returns after one capture.
    pub wait_for: Vec<String>,
    /// Upper bound on waiting.
    pub timeout: Duration,
    /// History lines to capture; default from config.
    pub max_lines: Option<usize>,
    /// Include the screen excerpt in the response.
    pub include_screen: bool,
    /// Include the recent log tail in the response.
    pub include_recent_log: bool,
}

impl Default for ObserveOptions {
    fn default() -> Self {
        Self {
            wait_for: Vec::new(),
            timeout: Duration::ZERO,
            max_lines: None,
            include_screen: false,
            include_recent_log: false,
        }
    }
}

/// What an observe call found.
#[derive(Debug, Clone)]
pub struct ObserveResponse {
    pub session_id: String,
    pub state: SessionState,
    pub event: ObserveEvent,
    pub confidence: Confidence,
    pub parsed_question: Option<String>,
    pub screen_excerpt: Option<String>,
    pub recent_log: Option<String>,
    pub metadata: Map<String, Value>,
    pub artifact_dir: String,
}

/// Parsed `wait_for`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitFor {
    pub events: HashSet<ObserveEvent>,
    pub states: HashSet<SessionState>,
}

impl WaitFor {
    /// Whether nothing was asked for.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.states.is_empty()
    }

    fn matches(&self, event: ObserveEvent, state: SessionState) -> bool {
        self.events.contains(&event) || self.states.contains(&state)
    }
}

/// Every accepted `wait_for` spelling, for error details.
pub fn wait_for_allowed() -> Vec<String> {
    let mut all: Vec<String> = ObserveEvent::names().into_iter().map(str::to_owned).collect();
    all.extend(SessionState::names().into_iter().map(str::to_owned));
    all.extend(
        [
            "approval",
            "approvals",
            "cancelled",
            "canceled",
            "complete",
            "done",
            "failed",
            "failure",
            "overage",
            "question_prompt",
        ]
        .map(str::to_owned),
    );
    all.sort();
    dedup(all)
}

/// Parses `wait_for` entries (comma lists already split), accepting aliases.
pub fn parse_wait_for(raw: &[String]) -> Result<WaitFor> {
    let mut out = WaitFor::default();
    let mut unknown = Vec::new();
    for entry in raw.iter().flat_map(|r| r.split(',')) {
        let norm = entry.trim().to_ascii_lowercase().replace('-', "_");
        if norm.is_empty() {
            continue;
        }
        let alias = match norm.as_str() {
            "approval" | "approvals" => "approval_prompt",
            "canceled" => "cancelled",
            "complete" | "done" => "completed",
            "failure" => "failed",
            "overage" => "overage_prompt",
            "question_prompt" => "question",
            other => other,
        };
        let mut known = false;
        if let Ok(e) = alias.parse::<ObserveEvent>() {
            out.events.insert(e);
            known = true;
        }
        if let Some(s) = SessionState::parse_loose(alias) {
            out.states.insert(s);
            known = true;
        }
        match alias {
            "completed" => {
                out.states.insert(SessionState::Completed);
                known = true;
            }
            "failed" => {
                out.events.insert(ObserveEvent::Error);
                out.states.insert(SessionState::Failed);
                known = true;
            }
            "timeout" => {
                out.states.insert(SessionState::Cancelled);
            }
            _ => {}
        }
        if !known {
            unknown.push(util::tail_chars(entry.trim(), 80).to_owned());
        }
    }
    if !unknown.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidWaitFor,
            format!("unknown wait_for value `{}`", unknown.join("`, `")),
        )
        .with("unknown", unknown)
        .with("allowed", wait_for_allowed()));
    }
    Ok(out)
}

/// Validates a timeout in seconds.
pub fn parse_timeout(seconds: f64) -> Result<Duration> {
    if !seconds.is_finite() || !(0.0..=crate::api::MAX_OBSERVE_TIMEOUT_SECS).contains(&seconds) {
        return Err(Error::new(ErrorCode::InvalidTimeout, "timeout must be between 0 and 86400 seconds")
            .with("timeout_seconds", seconds));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl Pool {
    /// Observes a worker (see module docs).
    pub async fn observe(&self, session_id: &str, opts: ObserveOptions) -> Result<ObserveResponse> {
        let wait = parse_wait_for(&opts.wait_for)?;
        let mut session = self.load(session_id).await?;
        if self.deadline_passed(&session) {
            self.expire(&session).await?;
            let mut meta = Map::new();
            meta.insert("deadline_at".into(), json!(session.meta().deadline_at.as_deref()));
            meta.insert("readiness".into(), json!("cancelled"));
            return Ok(self.response(
                &session,
                SessionState::Cancelled,
                ObserveEvent::Timeout,
                Confidence::Observed,
                meta,
            ));
        }
        if !session.is_live() {
            return Ok(stored_state_response(self, &session, &opts));
        }
        let r = self.runtime_ref(&session)?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let lines = opts.max_lines.unwrap_or(self.settings.config.runtime.tmux.capture_lines);
        let start = tokio::time::Instant::now();
        let deadline = start + opts.timeout;
        let mut previous_hash = session.meta().last_screen_hash.as_deref().map(str::to_owned);
        let mut last_key = session.meta().last_observe_key.as_deref().map(str::to_owned);
        let log = ad.raw_log();
        let signal_log = ad.signal_log();
        let watched = [log.clone(), signal_log.clone()];
        let mut lens = watched.each_ref().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
        let mut last: Option<ObserveResponse> = None;
        let mut races = 0u32;
        // The provider's own screen rules (login screen, extra prompts, busy lines).
        let provider = self.registry.get(&session.provider_id).ok();
        let rules = provider.as_ref().map(|p| detect::ExtraRules::of(p.as_ref())).unwrap_or_default();

        loop {
            let snap = match self.runtime.snapshot(&r, lines, CAPTURE_TIMEOUT).await {
                Ok(s) => s,
                Err(e) if e.code == ErrorCode::RuntimeCaptureTimeout => {
                    let mut resp = last.clone().unwrap_or_else(|| {
                        self.response(&session, session.state, ObserveEvent::Timeout, Confidence::Unknown, Map::new())
                    });
                    resp.event = ObserveEvent::Timeout;
                    resp.metadata.insert("capture_timeout".into(), json!(true));
                    resp.metadata.insert("readiness".into(), json!("timeout"));
                    return Ok(resp);
                }
                Err(e) if e.code == ErrorCode::TmuxSessionNotFound || e.code == ErrorCode::RuntimeSessionNotFound => {
                    // The runtime session vanished (killed tmux server, reboot): settle it.
                    self.reconcile().await?;
                    session = self.load(session_id).await?;
                    return Ok(stored_state_response(self, &session, &opts));
                }
                Err(e) => return Err(e),
            };
            let clean = redact(&snap.screen).into_owned();
            let echo = crate::workspace::artifacts::load_echo(&ad);
            let mut det = detect::detect_with(&clean, previous_hash.as_deref(), &echo, &rules);
            let mut login_required =
                !snap.dead && det.event == ObserveEvent::Error && machine::login_required(&clean, &echo, &rules);
            let hash = rules.screen_hash(&clean);
            let unchanged = previous_hash.as_deref() == Some(hash.as_str());
            let mut settled = false;
            let mut extra = Map::new();
            if snap.dead {
                // The worker exited: its final screen and exit status decide the outcome.
                settled = true;
                extra.insert("exit_status".into(), json!(snap.exit_status));
                // The echo of the task never counts as the worker's result (nor its smoke token).
                let has_result = detect::extract_result(&clean, &echo).is_some();
                det = if snap.exit_status == Some(0) && has_result {
                    Detection {
                        state: SessionState::Completed,
                        event: ObserveEvent::Completed,
                        confidence: Confidence::Observed,
                        parsed_question: None,
                    }
                } else {
                    let reason = match snap.exit_status {
                        Some(0) => "the worker exited without printing a result block".to_owned(),
                        Some(code) => format!("the worker exited with status {code}"),
                        None => "the worker exited".to_owned(),
                    };
                    extra.insert("reason".into(), json!(reason));
                    Detection {
                        state: SessionState::Failed,
                        event: ObserveEvent::Error,
                        confidence: Confidence::Observed,
                        parsed_question: None,
                    }
                };
            } else if det.state == SessionState::Completed {
                // After a follow-up message, the previous turn's result does not complete
                // the session again; only a different (newer) result does.
                let stale = session.meta().previous_result_sha256.is_some_and(|prev| {
                    detect::extract_result(&clean, &echo).is_some_and(|b| util::sha256_hex(b.as_bytes()) == prev)
                });
                if stale {
                    // Look only at what the worker printed after that result.
                    let after =
                        clean.rfind("AGENTPOOL_RESULT_END").map_or("", |i| &clean[i + "AGENTPOOL_RESULT_END".len()..]);
                    det = detect::detect(after, previous_hash.as_deref(), &echo);
                    if det.state == SessionState::Completed {
                        det = Detection {
                            state: SessionState::Running,
                            event: ObserveEvent::None,
                            confidence: Confidence::Unknown,
                            parsed_question: None,
                        };
                    }
                } else {
                    settled = true;
                }
            }
            // What the CLI itself reported through its hooks since this turn began.
            let mut signal_meta = Map::new();
            let mut signal_excerpt = None;
            if !snap.dead && !settled {
                let offset = session.meta().signal_offset.unwrap_or(0);
                let (signals, _) = signal::read_since(&signal_log, offset);
                let (decided, cli_session_id) = machine::fold(&signals);
                if let Some(id) =
                    cli_session_id.filter(|id| session.meta().cli_session_id.as_deref() != Some(id.as_str()))
                {
                    let sid = session.id.clone();
                    let v = json!(id);
                    self.store.call(move |c| store::set_meta(c, &sid, crate::model::MetaKey::CliSessionId, &v)).await?;
                    session.metadata.insert("cli_session_id".into(), json!(id));
                }
                // A turn's end reported while the worker still draws its reply (Copilot CLI's
                // hook fires before the last message is on screen) is not over for the screen
                // yet: the next look, once output has paused, completes it or reports it idle.
                // A one-shot look (a hook call's own, `--timeout 0`) cannot look again, and
                // reports what the signal says, as before.
                let can_wait = deadline.saturating_duration_since(tokio::time::Instant::now()) > TURN_END_QUIET;
                let decided = decided.filter(|s| {
                    !matches!(s.signal, signal::Signal::TurnEnded { .. })
                        || !can_wait
                        || !(detect::result_in_progress(&clean, &echo) || still_drawing(&log, &s.ts))
                });
                signal_excerpt = decided.as_ref().and_then(machine::signal_text).map(str::to_owned);
                (det, signal_meta) = machine::apply_signal(det, decided.as_ref());
                // No signal classed the failure: the provider's error screen may (its rules'
                // named groups), with the CLI's own line as the message.
                if let Some((class, message)) = machine::screen_error_class(&det, &signal_meta, &clean, &echo, &rules) {
                    signal_meta.insert("error_class".into(), json!(class));
                    signal_excerpt = Some(message);
                }
                // A sign-in failure the CLI reported means the same as its sign-in screen,
                // whichever of the two comes first.
                login_required |= machine::signals_login(&signal_meta, &rules);
            }
            let readiness = if snap.dead && det.state == SessionState::Failed {
                "exited"
            } else if login_required {
                "login_required"
            } else if let Some(r) = machine::signal_readiness(&det, &signal_meta) {
                r
            } else {
                detect::classify_readiness(
                    det.event,
                    session.state,
                    session.meta().initial_prompt_mode.map(|m| m.as_str()),
                    // A screen whose only change is a spinner or a counter is not stuck while
                    // it says the worker is at work.
                    unchanged && !rules.busy(&clean),
                    &clean,
                )
            };
            let mut meta = Map::new();
            meta.insert("screen_hash".into(), json!(hash));
            meta.insert("readiness".into(), json!(readiness));
            meta.insert("unchanged_screen".into(), json!(unchanged));
            meta.insert("startup_warnings".into(), json!(detect::startup_warnings(&clean)));
            meta.insert("usage_warnings".into(), json!(machine::usage_warnings(&clean, &echo, &signal_meta)));
            meta.extend(extra);
            meta.extend(signal_meta);
            if login_required && let Some(p) = &provider {
                meta.insert("hint".into(), json!(crate::machine::login_hint(p.as_ref())));
                meta.insert("login_command".into(), json!(rules.login_command));
            }

            // Persist: targeted updates that never overwrite a state settled meanwhile.
            let id = session.id.clone();
            let state = det.state;
            let hash2 = hash.clone();
            // Quiet polls (same state, same screen) write nothing.
            let needs_write = settled || det.state != session.state || !unchanged;
            let applied = if needs_write {
                self.store
                    .call(move |c| {
                        let applied = store::set_detected_state(c, &id, state, settled)?;
                        if applied {
                            store::set_meta(c, &id, crate::model::MetaKey::LastScreenHash, &json!(hash2))?;
                        }
                        Ok(applied)
                    })
                    .await?
            } else {
                true
            };
            if !applied {
                session = self.load(session_id).await?;
                return Ok(stored_state_response(self, &session, &opts));
            }
            let key = format!("{}|{}|{}", det.event, det.state, hash);
            let changed = last_key.as_deref() != Some(key.as_str());
            if changed || !unchanged {
                let ad2 = ad.clone();
                // The files hold no AgentPool notes: a worker line that looks like one is escaped.
                let shown = artifacts::escape_note_like("", &clean).into_owned();
                let partial =
                    artifacts::partial_summary(&session.id, det.state.as_str(), det.event.as_str(), readiness, &shown);
                let screen = clean.clone();
                let completed = det.event == ObserveEvent::Completed;
                blocking(move || {
                    util::write_atomic(&ad2.file("screen"), shown.as_bytes())?;
                    util::write_atomic(&ad2.file("summary_partial"), partial.as_bytes())?;
                    let _ = ad2.sync_transcript();
                    if completed {
                        crate::session::collect::materialize_result(&ad2, Some(&screen))?;
                    }
                    Ok(())
                })
                .await?;
            }
            if changed {
                let mut em = Map::new();
                em.insert("readiness".into(), json!(readiness));
                if let Some(v) = meta.get("exit_status").filter(|v| !v.is_null()) {
                    em.insert("exit_status".into(), v.clone());
                }
                // Which reported signal decided it: one signal is one change, however many
                // looks record it (the notification key, see `notify::dedupe_key`).
                if let Some(v) = meta.get("signal") {
                    em.insert("signal".into(), v.clone());
                }
                let excerpt = util::tail_chars(signal_excerpt.as_deref().unwrap_or(clean.trim()), 1000).to_owned();
                // Only while the stored state is still the one this observe saw: a terminate or
                // reconcile that settled the session meanwhile has the last word.
                let recorded = self
                    .record(
                        &session,
                        &format!("observe:{}", det.event),
                        Some(det.state),
                        Some(hash.clone()),
                        Some(excerpt),
                        em,
                        crate::pool::Guard::StillIn(det.state),
                    )
                    .await?;
                if recorded.is_none() {
                    // Another process (a second observer, a send, a terminate) wrote the state
                    // between our update and this event. A settled session is final; a live one
                    // is simply looked at again, so a waiter never returns on someone else's
                    // half-drawn screen.
                    session = self.load(session_id).await?;
                    races += 1;
                    if !session.is_live() || races > MAX_OBSERVE_RACES {
                        return Ok(stored_state_response(self, &session, &opts));
                    }
                    previous_hash = session.meta().last_screen_hash.as_deref().map(str::to_owned);
                    last_key = session.meta().last_observe_key.as_deref().map(str::to_owned);
                    continue;
                }
                let id = session.id.clone();
                let k = key.clone();
                self.store
                    .call(move |c| store::set_meta(c, &id, crate::model::MetaKey::LastObserveKey, &json!(k)))
                    .await?;
                last_key = Some(key);
            }
            let mut resp = self.response(&session, det.state, det.event, det.confidence, meta);
            resp.parsed_question = det.parsed_question.clone();
            let trimmed = clean.trim();
            if opts.include_screen {
                resp.screen_excerpt = Some(util::tail_chars(trimmed, 4000).to_owned());
            }
            if opts.include_recent_log {
                resp.recent_log = Some(util::tail_chars(trimmed, 2000).to_owned());
            }
            session.state = det.state;
            previous_hash = Some(hash);

            // A sign-in screen never clears by itself: report it whatever was waited for.
            if wait.is_empty()
                || wait.matches(det.event, det.state)
                || opts.timeout.is_zero()
                || settled
                || login_required
            {
                return Ok(resp);
            }
            if tokio::time::Instant::now() >= deadline {
                resp.event = ObserveEvent::Timeout;
                resp.parsed_question_keep_if_pending();
                resp.metadata.insert("readiness".into(), json!("timeout"));
                resp.metadata.insert("waited_for".into(), json!(opts.wait_for));
                return Ok(resp);
            }
            last = Some(resp);
            let until = (tokio::time::Instant::now() + LIVENESS_INTERVAL).min(deadline);
            lens = wait_for_any_growth(&watched, lens, until).await;
        }
    }

    fn response(
        &self,
        session: &AgentSession,
        state: SessionState,
        event: ObserveEvent,
        confidence: Confidence,
        metadata: Map<String, Value>,
    ) -> ObserveResponse {
        ObserveResponse {
            session_id: session.id.clone(),
            state,
            event,
            confidence,
            parsed_question: None,
            screen_excerpt: None,
            recent_log: None,
            metadata,
            artifact_dir: session.artifact_dir.clone(),
        }
    }

    /// The agent-facing observe payload: state, event, manifest, and fenced worker text.
    pub fn observe_payload(&self, resp: &ObserveResponse, detail: Detail, lockdown: bool) -> ObserveView {
        let ad = ArtifactDir::new(&resp.artifact_dir);
        let files = gate_manifest(ad.manifest(), lockdown);
        let (parsed_question, parsed_question_available) = match &resp.parsed_question {
            Some(q) if detail != Detail::Summary && !lockdown => {
                (Some(agent_io::wrap_untrusted(q, Detail::Excerpt)), None)
            }
            q => (None, Some(q.is_some())),
        };
        let text = resp.screen_excerpt.as_deref().or(resp.recent_log.as_deref()).unwrap_or("");
        ObserveView {
            session_id: resp.session_id.clone(),
            state: resp.state,
            event: resp.event,
            confidence: resp.confidence,
            metadata: resp.metadata.clone(),
            artifact_manifest: Manifest {
                session_id: resp.session_id.clone(),
                artifact_dir: resp.artifact_dir.clone(),
                files,
            },
            parsed_question,
            parsed_question_available,
            worker_output: agent_io::worker_output(text, detail, lockdown),
        }
    }
}

impl ObserveResponse {
    /// On a wait timeout, a pending question stays visible: the caller waited for something
    /// else, but the worker is blocked on a question and must be told.
    fn parsed_question_keep_if_pending(&mut self) {
        let pending = match self.state {
            SessionState::AwaitingUserInput => Some("question"),
            SessionState::AwaitingApproval => Some("approval"),
            _ => None,
        };
        if let Some(p) = pending {
            self.metadata.insert("pending".into(), json!(p));
        }
    }
}

fn stored_state_response(m: &Pool, session: &AgentSession, opts: &ObserveOptions) -> ObserveResponse {
    let (event, readiness) = match session.state {
        SessionState::Completed => (ObserveEvent::Completed, "completed"),
        SessionState::Failed => (ObserveEvent::Error, "failed"),
        SessionState::Cancelled => (ObserveEvent::Timeout, "cancelled"),
        _ => (ObserveEvent::None, "unknown"),
    };
    let mut meta = Map::new();
    meta.insert("readiness".into(), json!(readiness));
    meta.insert("source".into(), json!("stored_state"));
    let mut resp = m.response(session, session.state, event, Confidence::Observed, meta);
    if opts.include_screen || opts.include_recent_log {
        // The worker is done; its last captured screen is what there is to show.
        let screen =
            util::read_tail(&ArtifactDir::new(&session.artifact_dir).file("screen"), crate::tail::SCREEN_MAX_BYTES);
        let trimmed = screen.trim();
        if opts.include_screen {
            resp.screen_excerpt = Some(util::tail_chars(trimmed, 4000).to_owned());
        }
        if opts.include_recent_log {
            resp.recent_log = Some(util::tail_chars(trimmed, 2000).to_owned());
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(raw: &[&str]) -> Result<WaitFor> {
        parse_wait_for(&raw.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn wait_for_aliases() {
        let w = wf(&["done,approval", "AWAITING-APPROVAL", "failure"]).unwrap();
        assert!(w.events.contains(&ObserveEvent::ApprovalPrompt));
        assert!(w.states.contains(&SessionState::Completed));
        assert!(w.states.contains(&SessionState::AwaitingApproval));
        assert!(w.events.contains(&ObserveEvent::Error) && w.states.contains(&SessionState::Failed));
        assert!(wf(&["", " , "]).unwrap().is_empty());
        let err = wf(&["question", "finished"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidWaitFor);
        assert_eq!(err.details["unknown"], json!(["finished"]));
        assert!(err.details["allowed"].as_array().unwrap().contains(&json!("question_prompt")));
    }

    #[test]
    fn timeouts() {
        assert!(parse_timeout(-1.0).is_err());
        assert!(parse_timeout(1e12).is_err());
        assert!(parse_timeout(f64::NAN).is_err());
        assert_eq!(parse_timeout(1.5).unwrap(), Duration::from_millis(1500));
    }
}
