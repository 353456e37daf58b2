//! Notifications: `[[notify]]` entries tell a human about recorded events by a command, a
//! desktop notification, a terminal bell or a webhook.
//!
//! Whichever process records an event delivers its notifications, exactly once across
//! processes: in the transaction that inserts the event it claims `(dedupe key, notify index)`
//! rows in the `notifications` table with `INSERT OR IGNORE`, and only the claims it won are
//! delivered. The dedupe key is the session, event type and screen hash for observed events
//! (two observers recording the same screen change claim the same key) — or, when a signal the
//! CLI reported decided the event, that signal (a hook call's own look and a later observer's
//! record one turn end once) — else the event id.
//!
//! Delivery never blocks the lifecycle: each one runs as a tokio task bounded by its entry's
//! `timeout_ms` (a command's process group is killed then; a webhook request is abandoned).
//! Short-lived processes call [`drain`] before they exit, which waits for what is still in
//! flight — bounded by the same timeouts. Failures are logged, never returned.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::model::{AgentSession, EventRecord};
use crate::process::{self, RunOptions};
use serde::{Deserialize, Serialize};

/// Default delivery timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

/// Event names `on` accepts: the observed events (recorded as `observe:<name>`), the lifecycle
/// events and `approval` (short for `approval_prompt`).
pub const EVENT_NAMES: &[&str] = &[
    "question",
    "approval",
    "approval_prompt",
    "idle",
    "completed",
    "error",
    "limit_warning",
    "overage_prompt",
    "screen_changed",
    "startup_dialog",
    "login_required",
    "startup_prompt_pending",
    "spawn",
    "spawn_failed",
    "send_initial_prompt",
    "send_message",
    "send_keys",
    "interrupt",
    "reopen",
    "collect",
    "terminate",
    "timeout",
    "reconcile_stale_start",
    "reconcile_abandoned_launch",
    "reconcile_dead_tmux",
];

/// The event name `name` stands for (`approval` → `approval_prompt`), if it is one.
pub fn canonical_event(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if name == "approval" {
        return Some("approval_prompt");
    }
    EVENT_NAMES.iter().copied().find(|n| *n == name)
}

/// The event name of a recorded event type: `observe:question` → `question`.
pub fn event_name(event_type: &str) -> &str {
    event_type.strip_prefix("observe:").unwrap_or(event_type)
}

/// Indices of the entries that want `event_type` (empty when none: nothing more happens).
pub fn wanted(entries: &[NotifyConfig], event_type: &str) -> Vec<usize> {
    let name = event_name(event_type);
    entries
        .iter()
        .enumerate()
        .filter(|(_, n)| n.on.iter().any(|o| canonical_event(o) == Some(name)))
        .map(|(i, _)| i)
        .collect()
}

/// The key two records of one change share (see the module docs).
pub fn dedupe_key(rec: &EventRecord) -> String {
    // A change a CLI reported through its hooks is that signal, whatever the screen showed at
    // each look (the hook call's own look, then an observer's).
    if let Some(signal) = rec.metadata.get("signal").filter(|_| rec.event_type.starts_with("observe:")) {
        return format!(
            "{}|{}|{}|signal:{}:{}",
            rec.session_id,
            rec.event_type,
            rec.state.as_deref().unwrap_or(""),
            signal["kind"].as_str().unwrap_or(""),
            signal["ts"].as_str().unwrap_or("")
        );
    }
    match &rec.screen_hash {
        Some(hash) if rec.event_type.starts_with("observe:") => {
            format!("{}|{}|{}|{}", rec.session_id, rec.event_type, rec.state.as_deref().unwrap_or(""), hash)
        }
        _ => format!("event:{}", rec.id),
    }
}

/// Claims delivery of `rec` for each wanted entry; returns the entries this call won. Runs in
/// the transaction that inserted the event. A failure is logged and claims nothing.
pub fn claim(conn: &Connection, rec: &EventRecord, wanted: &[usize]) -> Vec<usize> {
    let key = dedupe_key(rec);
    let mut won = Vec::new();
    for &i in wanted {
        match crate::store::claim_notification(conn, &key, i, rec.id, &rec.ts) {
            Ok(true) => won.push(i),
            Ok(false) => tracing::debug!(event_id = rec.id, notify_index = i, "notification already claimed"),
            Err(e) => tracing::warn!(event_id = rec.id, notify_index = i, "could not claim a notification: {e}"),
        }
    }
    won
}

/// The JSON every delivery carries (already redacted).
pub fn payload(session: &AgentSession, rec: &EventRecord) -> Value {
    let v = json!({
        "schema": "agentpool.notification/v1",
        "event_id": rec.id,
        "event": event_name(&rec.event_type),
        "event_type": rec.event_type,
        "ts": rec.ts,
        "session_id": session.id,
        "provider_id": session.provider_id,
        "model": session.model,
        "state": rec.state.clone().unwrap_or_else(|| session.state.as_str().to_owned()),
        "coordinator_id": session.meta().coordinator_id.as_deref(),
        "repo_path": session.repo_path,
        "excerpt": rec.excerpt,
    });
    crate::redact::redact_value(&v)
}

/// Deliveries still in flight in this process.
static IN_FLIGHT: Mutex<Vec<tokio::task::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Starts delivering `payload` to `entries[i]` for each claimed `i`, in the background. Needs
/// a tokio runtime; without one the claims are logged and dropped.
pub fn dispatch(entries: &Arc<Vec<NotifyConfig>>, claimed: &[usize], payload: Value) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no async runtime: notifications not delivered");
        return;
    };
    let payload = Arc::new(payload);
    let mut in_flight = IN_FLIGHT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    in_flight.retain(|h| !h.is_finished());
    for &i in claimed {
        let Some(entry) = entries.get(i).cloned() else { continue };
        let payload = payload.clone();
        in_flight.push(handle.spawn(async move { deliver(i, &entry, &payload).await }));
    }
}

/// Waits for every delivery started in this process to finish (each is bounded by its own
/// timeout). Short-lived front ends call it before exiting.
pub async fn drain() {
    loop {
        let pending: Vec<_> = std::mem::take(&mut *IN_FLIGHT.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if pending.is_empty() {
            return;
        }
        for h in pending {
            let _ = h.await;
        }
    }
}

/// Whether deliveries are still in flight.
pub fn pending() -> bool {
    IN_FLIGHT.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().any(|h| !h.is_finished())
}

async fn deliver(index: usize, entry: &NotifyConfig, payload: &Value) {
    let timeout = entry.timeout();
    let event_id = payload["event_id"].as_i64().unwrap_or_default();
    let body = payload.to_string();
    let result = if let Some(command) = &entry.command {
        run_command(command, &body, timeout).await
    } else if let Some(url) = &entry.webhook {
        post(url, body, timeout).await
    } else if entry.desktop {
        desktop(payload, timeout).await
    } else if entry.bell {
        bell()
    } else {
        Err("nothing to deliver to".to_owned())
    };
    match result {
        Ok(()) => tracing::debug!(event_id, notify_index = index, "notification delivered"),
        Err(why) => tracing::warn!(event_id, notify_index = index, "notification not delivered: {why}"),
    }
}

async fn run_command(command: &str, body: &str, timeout: Duration) -> Result<(), String> {
    let argv = ["sh".to_owned(), "-c".to_owned(), command.to_owned()];
    let out =
        process::run(&argv, RunOptions { stdin: Some(body.as_bytes()), timeout: Some(timeout), ..Default::default() })
            .await;
    match out.status {
        0 => Ok(()),
        process::TIMEOUT_EXIT => Err(format!("`{command}` timed out after {} ms and was killed", timeout.as_millis())),
        n => Err(format!("`{command}` exited {n}: {}", crate::util::tail_chars(out.stderr.trim(), 300))),
    }
}

async fn post(url: &str, body: String, timeout: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("could not build an HTTP client: {e}"))?;
    // The overall bound also covers DNS, which reqwest's timeouts may not.
    let sent = tokio::time::timeout(
        timeout,
        client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("agentpool/", env!("CARGO_PKG_VERSION")))
            .body(body)
            .send(),
    )
    .await;
    match sent {
        Err(_) => Err(format!("webhook `{url}` did not answer within {} ms", timeout.as_millis())),
        Ok(Err(e)) => Err(format!("webhook `{url}`: {e}")),
        Ok(Ok(r)) if r.status().is_success() => Ok(()),
        Ok(Ok(r)) => Err(format!("webhook `{url}` answered {}", r.status())),
    }
}

async fn desktop(payload: &Value, timeout: Duration) -> Result<(), String> {
    let title = format!(
        "agentpool: {} {}",
        payload["session_id"].as_str().unwrap_or(""),
        payload["event"].as_str().unwrap_or("")
    );
    let body =
        format!("{} is {}", payload["provider_id"].as_str().unwrap_or(""), payload["state"].as_str().unwrap_or(""));
    let argv = if let Some(bin) = crate::probe::which("notify-send") {
        vec![bin.display().to_string(), "--app-name=agentpool".into(), title, body]
    } else if let Some(bin) = crate::probe::which("osascript") {
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let script = format!("display notification \"{}\" with title \"{}\"", quote(&body), quote(&title));
        vec![bin.display().to_string(), "-e".into(), script]
    } else {
        tracing::info!("{title}: {body} (no notify-send or osascript for a desktop notification)");
        return Ok(());
    };
    let out = process::run(&argv, RunOptions { timeout: Some(timeout), ..Default::default() }).await;
    if out.success() { Ok(()) } else { Err(format!("{} exited {}", argv[0], out.status)) }
}

fn bell() -> Result<(), String> {
    use std::io::Write;
    // The controlling terminal, whatever stdout is; a process without one has nothing to ring.
    let mut tty = std::fs::OpenOptions::new().write(true).open("/dev/tty").map_err(|e| format!("no terminal: {e}"))?;
    tty.write_all(b"\x07").map_err(|e| format!("could not write to the terminal: {e}"))
}

/// `[[notify]]`: one way to tell a human about some event types. Exactly one of `command`,
/// `desktop = true`, `bell = true` and `webhook` says how.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Event names (`question`, `approval`, `completed`, …; see [`EVENT_NAMES`]).
    pub on: Vec<String>,
    /// Run through `sh -c`, the event as JSON on stdin.
    pub command: Option<String>,
    /// A desktop notification (`notify-send` or `osascript`, else a log line).
    pub desktop: bool,
    /// A BEL to the controlling terminal, if there is one.
    pub bell: bool,
    /// `http://` or `https://` URL the event is POSTed to as JSON (one attempt).
    pub webhook: Option<String>,
    /// Longest a delivery may take before it is abandoned (a command is killed); default 5000.
    pub timeout_ms: Option<u64>,
}

impl NotifyConfig {
    /// Every problem with this entry, each naming it (`notify[<i>]`).
    pub(crate) fn problems(&self, index: usize) -> Vec<String> {
        let name = format!("notify[{index}]");
        let mut out = Vec::new();
        if self.on.is_empty() {
            out.push(format!("{name}: `on` must list at least one event (e.g. `on = [\"question\"]`)"));
        }
        for event in &self.on {
            if canonical_event(event).is_none() {
                out.push(format!("{name}: unknown event `{event}` in `on`; known: {}", EVENT_NAMES.join(", ")));
            }
        }
        let ways = [self.command.is_some(), self.desktop, self.bell, self.webhook.is_some()];
        if ways.iter().filter(|w| **w).count() != 1 {
            out.push(format!("{name}: set exactly one of `command`, `desktop = true`, `bell = true`, `webhook`"));
        }
        if self.command.as_deref().is_some_and(|c| c.trim().is_empty()) {
            out.push(format!("{name}: `command` must not be empty"));
        }
        if let Some(url) = &self.webhook
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            out.push(format!("{name}: `webhook` must be an `http://` or `https://` URL (got `{url}`)"));
        }
        if self.timeout_ms.is_some_and(|t| !(1..=600_000).contains(&t)) {
            out.push(format!("{name}: `timeout_ms` must be 1-600000"));
        }
        out
    }

    /// The delivery timeout (default 5 s).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(on: &[&str]) -> NotifyConfig {
        NotifyConfig { on: on.iter().map(|s| (*s).to_owned()).collect(), bell: true, ..Default::default() }
    }

    #[test]
    fn entries_match_event_names_and_aliases() {
        let entries = vec![entry(&["question", "approval"]), entry(&["completed"]), entry(&["terminate"])];
        assert_eq!(wanted(&entries, "observe:question"), vec![0]);
        assert_eq!(wanted(&entries, "observe:approval_prompt"), vec![0]);
        assert_eq!(wanted(&entries, "observe:completed"), vec![1]);
        assert_eq!(wanted(&entries, "terminate"), vec![2]);
        assert!(wanted(&entries, "observe:idle").is_empty());
        assert_eq!(canonical_event("nope"), None);
    }

    #[test]
    fn observed_changes_share_a_key_other_events_do_not() {
        let rec = |id, et: &str, hash: Option<&str>| EventRecord {
            id,
            session_id: "ap_1".into(),
            ts: "t".into(),
            event_type: et.into(),
            state: Some("AWAITING_USER_INPUT".into()),
            screen_hash: hash.map(str::to_owned),
            excerpt: None,
            metadata: serde_json::Map::new(),
        };
        assert_eq!(
            dedupe_key(&rec(1, "observe:question", Some("h"))),
            dedupe_key(&rec(2, "observe:question", Some("h")))
        );
        assert_ne!(
            dedupe_key(&rec(1, "observe:question", Some("h"))),
            dedupe_key(&rec(2, "observe:question", Some("g")))
        );
        assert_ne!(dedupe_key(&rec(1, "terminate", None)), dedupe_key(&rec(2, "terminate", None)));
        // One reported signal is one change, whatever the screen showed at each look.
        let signalled = |id, hash: &str, ts: &str| {
            let mut r = rec(id, "observe:idle", Some(hash));
            r.metadata.insert("signal".into(), json!({"kind": "turn_ended", "source": "stop", "ts": ts}));
            r
        };
        assert_eq!(dedupe_key(&signalled(1, "h", "t1")), dedupe_key(&signalled(2, "g", "t1")));
        assert_ne!(dedupe_key(&signalled(1, "h", "t1")), dedupe_key(&signalled(2, "h", "t2")));
    }
}
