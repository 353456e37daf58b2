//! Codex usage over `codex app-server` (JSON-RPC-like, one JSON object per line, no
//! `jsonrpc` member): `initialize`, the `initialized` notification, then
//! `account/rateLimits/read`. Windows are named by their duration (300 min → `5h`,
//! 10080 → `weekly`), never by their slot. The child runs read-only in its own process group
//! and is killed on every path.

use std::path::Path;
use std::time::Duration;

use agentpool_sdk::line_child::LineChild;
use agentpool_sdk::model::{CapacitySnapshot, Confidence, UsageStatus};
use agentpool_sdk::usage::{self, kind_for_minutes, number, status_from_windows};
use serde_json::{Value, json};

/// `raw.source` of this probe.
pub const SOURCE: &str = "codex_app_server";

/// How long each request may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub initialize: Duration,
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { initialize: Duration::from_secs(8), read: Duration::from_secs(4) }
    }
}

/// The argv of the probe. No `-a`: today's codex accepts only `on-request`/`never` there and
/// exits 2 on anything else; a read-only sandbox is enough since no turn ever starts.
pub fn argv(binary: &Path) -> Vec<String> {
    vec![binary.display().to_string(), "-s".into(), "read-only".into(), "app-server".into()]
}

/// Runs the probe.
pub async fn probe(provider_id: &str, binary: &Path, timeouts: Timeouts) -> CapacitySnapshot {
    match exchange(binary, timeouts).await {
        Ok(result) => parse_rate_limits(provider_id, &result).unwrap_or_else(|e| {
            usage::unknown(provider_id, SOURCE, format!("Codex app-server usage probe failed: {e}"))
        }),
        Err(e) => from_error(provider_id, &e),
    }
}

async fn exchange(binary: &Path, timeouts: Timeouts) -> Result<Value, String> {
    let mut child = LineChild::spawn(&argv(binary)).await?;
    let init = json!({"id": 1, "method": "initialize",
                      "params": {"clientInfo": {"name": "agentpool", "version": agentpool_sdk::VERSION}}});
    child.send(&init).await?;
    reply_result(child.read_reply(1, "initialize", timeouts.initialize).await?)?;
    child.send(&json!({"method": "initialized", "params": {}})).await?;
    child.send(&json!({"id": 2, "method": "account/rateLimits/read", "params": {}})).await?;
    let result = reply_result(child.read_reply(2, "account/rateLimits/read", timeouts.read).await?);
    child.kill();
    result
}

fn reply_result(reply: Value) -> Result<Value, String> {
    if let Some(err) = reply.get("error") {
        let message = err.get("message").and_then(Value::as_str).map_or_else(|| err.to_string(), str::to_owned);
        let code = err.get("code").and_then(Value::as_i64);
        return Err(match code {
            Some(c) => format!("error {c}: {message}"),
            None => message,
        });
    }
    match reply.get("result") {
        Some(r @ Value::Object(_)) => Ok(r.clone()),
        _ => Err("reply has no object result".into()),
    }
}

/// Maps a failure: signed out → `unauthenticated`; usage embedded in an error body →
/// recovered windows; anything else → `unknown` with the reason.
pub fn from_error(provider_id: &str, reason: &str) -> CapacitySnapshot {
    let lower = reason.to_lowercase();
    if lower.contains("authentication required") || lower.contains("not logged in") || lower.contains("unauthorized") {
        let mut s = usage::snapshot(provider_id, UsageStatus::Unauthenticated, Confidence::Official, SOURCE);
        s.warnings.push("codex is signed out; run `codex login`".into());
        return s;
    }
    if let Some(s) = recover_from_error_body(provider_id, reason) {
        return s;
    }
    usage::unknown(provider_id, SOURCE, format!("Codex app-server usage probe failed: {reason}"))
}

fn recover_from_error_body(provider_id: &str, reason: &str) -> Option<CapacitySnapshot> {
    let body: Value = serde_json::from_str(&reason[reason.find('{')?..=reason.rfind('}')?]).ok()?;
    let details = body.pointer("/rate_limit/details")?.as_array()?;
    let mut windows = Vec::new();
    for d in details {
        let Some(used) = d.get("used_percent").and_then(number) else { continue };
        let minutes = d.get("limit_window_seconds").and_then(number).map(|s| (s / 60.0) as i64);
        let kind = minutes.and_then(kind_for_minutes);
        let mut w = usage::window_used(kind.unwrap_or("window"), kind.unwrap_or("unknown"), used, Confidence::Official);
        w.reset_at = d.get("reset_at").and_then(number).and_then(|t| usage::epoch_to_ts(t as i64));
        windows.push(w);
    }
    if windows.is_empty() {
        return None;
    }
    let mut s = usage::snapshot(
        provider_id,
        status_from_windows(&windows),
        Confidence::Official,
        "codex_app_server_error_body",
    );
    s.windows = windows;
    s.warnings.push("Codex app-server returned usage inside an error response".into());
    Some(s)
}

/// Maps an `account/rateLimits/read` result (`{"rateLimits": {...}}` or the object itself).
pub fn parse_rate_limits(provider_id: &str, result: &Value) -> Result<CapacitySnapshot, String> {
    let limits = result.get("rateLimits").filter(|v| v.is_object()).unwrap_or(result);
    let mut windows = Vec::new();
    for slot in ["primary", "secondary"] {
        let Some(w) = limits.get(slot).filter(|v| v.is_object()) else { continue };
        let Some(used) = w.get("usedPercent").and_then(number) else { continue };
        let minutes = w.get("windowDurationMins").and_then(number).map(|m| m.round() as i64);
        let kind = minutes.and_then(kind_for_minutes);
        let mut win = usage::window_used(kind.unwrap_or(slot), kind.unwrap_or("unknown"), used, Confidence::Official);
        win.reset_at = w.get("resetsAt").and_then(number).and_then(|t| usage::epoch_to_ts(t as i64));
        win.raw_text = Some(format!("{slot}:{}", minutes.map_or("unknown".to_owned(), |m| m.to_string())));
        windows.push(win);
    }
    let credits = limits.get("credits").filter(|c| c.is_object());
    let balance = credits
        .filter(|c| !c.get("unlimited").and_then(Value::as_bool).unwrap_or(false))
        .and_then(|c| c.get("balance"))
        .and_then(number);
    if windows.is_empty() && balance.is_none() {
        return Err("no rate-limit windows or credits in the reply".into());
    }
    let mut s = usage::snapshot(provider_id, status_from_windows(&windows), Confidence::Official, SOURCE);
    s.windows = windows;
    s.credits_remaining = balance;
    s.raw.insert(
        "credits".into(),
        credits.map_or(Value::Null, |c| {
            json!({"hasCredits": c.get("hasCredits").and_then(Value::as_bool).unwrap_or(false),
                   "unlimited": c.get("unlimited").and_then(Value::as_bool).unwrap_or(false),
                   "hasBalance": c.get("balance").is_some_and(|b| !b.is_null())})
        }),
    );
    Ok(s)
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
