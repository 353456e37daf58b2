//! Optional usage backends beside the native probes: CodexBar (only the safe, non-browser
//! source per provider), ccusage (local Claude Code logs: telemetry, never quota), and the
//! `combined` merge of native, CodexBar and ccusage.
//!
//! Both tools run through [`crate::process::run`]: own process group, no stdin, dumb
//! terminal, hard timeout.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::model::{CapacitySnapshot, Confidence, UsageStatus, UsageWindow};
use crate::process::{self, RunOptions};
use crate::usage::{self, clamp_percent, kind_for_minutes, number, status_from_windows};

/// Longest CodexBar or ccusage run.
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(45);
/// Overrides the ccusage command (shell words, so `npx ccusage` works).
pub const CCUSAGE_ENV: &str = "AGENTPOOL_CCUSAGE_COMMAND";
/// Overrides the CodexBar command (shell words).
pub const CODEXBAR_ENV: &str = "AGENTPOOL_CODEXBAR_COMMAND";

/// CodexBar's provider name and the only source AgentPool asks it for (never a browser or
/// cookie source).
pub fn codexbar_mapping(provider_id: &str) -> Option<(&'static str, &'static str)> {
    match provider_id {
        "claude-code" => Some(("claude", "cli")),
        "codex-cli" => Some(("codex", "cli")),
        "copilot-cli" => Some(("copilot", "api")),
        "cursor-cli" => Some(("cursor", "cli")),
        "opencode" => Some(("opencode", "api")),
        _ => None,
    }
}

/// A command from an environment variable (shell words) or a name on `PATH`.
fn resolve_command(env: &str, name: &str) -> Option<Vec<String>> {
    if let Ok(raw) = std::env::var(env)
        && !raw.trim().is_empty()
    {
        let words = shell_words::split(&raw).ok()?;
        let first = words.first()?;
        let exe: PathBuf = crate::probe::which(first)?;
        let mut argv = vec![exe.display().to_string()];
        argv.extend(words.into_iter().skip(1));
        return Some(argv);
    }
    crate::probe::which(name).map(|p| vec![p.display().to_string()])
}

/// The last complete top-level JSON document in tool output. Candidates start at the
/// beginning of a line; a parsed document's own lines are skipped, so a pretty-printed
/// document is one candidate and log noise before it (even `[1]`) loses to it.
pub fn last_json_document(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
        return Some(v);
    }
    let mut found = None;
    let mut pos = 0;
    while pos < text.len() {
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let trimmed = text[pos..line_end].trim_start();
        let start = pos + (line_end - pos - trimmed.len());
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
            if let Some(Ok(v)) = stream.next() {
                let end = start + stream.byte_offset();
                found = Some(v);
                pos = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
                continue;
            }
        }
        pos = line_end;
    }
    found
}

fn failed(provider_id: &str, source: &str, what: &str, reason: &str) -> CapacitySnapshot {
    usage::unknown(provider_id, source, format!("{what} usage probe failed: {reason}"))
}

/// CodexBar's view of one provider.
pub async fn codexbar(provider_id: &str) -> CapacitySnapshot {
    codexbar_with(resolve_command(CODEXBAR_ENV, "codexbar"), provider_id).await
}

/// [`codexbar`] with an explicit command (`None`: not installed).
pub async fn codexbar_with(command: Option<Vec<String>>, provider_id: &str) -> CapacitySnapshot {
    let Some(mut argv) = command else {
        let mut s = usage::snapshot(provider_id, UsageStatus::Unavailable, Confidence::Unknown, "codexbar");
        s.warnings.push("the CodexBar CLI is not installed".into());
        return s;
    };
    let Some((mapped, source)) = codexbar_mapping(provider_id) else {
        return usage::unknown(
            provider_id,
            "codexbar",
            format!("CodexBar has no safe usage source for `{provider_id}`"),
        );
    };
    argv.extend(
        ["usage", "--provider", mapped, "--source", source, "--format", "json", "--json-only", "--no-color"]
            .map(str::to_owned),
    );
    let out =
        process::run(&argv, RunOptions { dumb_terminal: true, timeout: Some(BACKEND_TIMEOUT), ..Default::default() })
            .await;
    if out.status == process::TIMEOUT_EXIT && out.stderr == "timed out" {
        return failed(provider_id, "codexbar", "CodexBar", "timed out");
    }
    let Some(doc) = last_json_document(&out.stdout).or_else(|| last_json_document(&out.stderr)) else {
        let why =
            if out.success() { "no JSON in its output".to_owned() } else { format!("exit status {}", out.status) };
        return failed(provider_id, "codexbar", "CodexBar", &why);
    };
    let mut snap = match parse_codexbar(provider_id, mapped, &doc) {
        Ok(s) => s,
        Err(e) => return failed(provider_id, "codexbar", "CodexBar", &e),
    };
    snap.raw.insert("codexbar_provider".into(), json!(mapped));
    snap.raw.insert("codexbar_source".into(), json!(source));
    if !out.success() {
        snap.warnings.push(format!("CodexBar exited with status {}", out.status));
    }
    snap
}

/// Parses CodexBar's JSON (a list of entries or one entry) for the mapped provider.
pub fn parse_codexbar(provider_id: &str, mapped: &str, doc: &Value) -> Result<CapacitySnapshot, String> {
    let entries: Vec<&Value> = match doc {
        Value::Array(a) => a.iter().collect(),
        v @ Value::Object(_) => vec![v],
        _ => return Err("output is not a JSON object or list".into()),
    };
    let entry = entries
        .into_iter()
        .find(|e| e.get("provider").and_then(Value::as_str) == Some(mapped))
        .ok_or_else(|| format!("no entry for provider `{mapped}`"))?;
    if let Some(err) = entry.get("error").filter(|e| e.is_object()) {
        return Err(err.get("message").and_then(Value::as_str).unwrap_or("error without a message").to_owned());
    }
    let u = entry.get("usage").and_then(Value::as_object).ok_or("entry has no `usage` object")?;
    let mut windows = Vec::new();
    for slot in ["primary", "secondary", "tertiary"] {
        let Some(w) = u.get(slot).and_then(Value::as_object) else { continue };
        let used = w.get("usedPercent").and_then(number);
        let remaining = w.get("remainingPercent").and_then(number);
        let used = match (used, remaining) {
            (Some(u), _) => u,
            (None, Some(r)) => 100.0 - r,
            (None, None) => continue,
        };
        let minutes = w.get("windowMinutes").and_then(number).map(|m| m.round() as i64);
        let kind = minutes.and_then(kind_for_minutes);
        let mut win = usage::window_used(kind.unwrap_or(slot), kind.unwrap_or("unknown"), used, Confidence::LocalCli);
        win.status = Some(slot.to_owned());
        win.reset_at = w.get("resetsAt").and_then(Value::as_str).and_then(usage::normalize_ts);
        win.raw_text = Some(format!("codexbar:{slot}:{}", minutes.map_or("unknown".to_owned(), |m| m.to_string())));
        windows.push(win);
    }
    let credits = u.get("credits").or_else(|| entry.get("credits")).and_then(|c| c.get("remaining")).and_then(number);
    if windows.is_empty() && credits.is_none() {
        return Err("no usage windows or credits".into());
    }
    let mut s = usage::snapshot(provider_id, status_from_windows(&windows), Confidence::LocalCli, "codexbar");
    s.windows = windows;
    s.credits_remaining = credits;
    for (key, value) in [
        ("version", entry.get("version")),
        ("login_method", u.get("loginMethod")),
        ("account_email", u.get("accountEmail")),
    ] {
        if let Some(v) = value.filter(|v| !v.is_null()) {
            s.raw.insert(key.into(), v.clone());
        }
    }
    if let Some(src) = entry.get("source").filter(|v| !v.is_null()) {
        s.raw.insert("codexbar_entry_source".into(), src.clone());
    }
    Ok(s)
}

/// ccusage's active block for claude-code (other providers are not mapped).
pub async fn ccusage(provider_id: &str) -> CapacitySnapshot {
    ccusage_with(resolve_command(CCUSAGE_ENV, "ccusage"), provider_id).await
}

/// [`ccusage`] with an explicit command (`None`: not installed).
pub async fn ccusage_with(command: Option<Vec<String>>, provider_id: &str) -> CapacitySnapshot {
    if provider_id != "claude-code" {
        return usage::unknown(
            provider_id,
            "ccusage",
            format!("ccusage is only mapped for claude-code, not `{provider_id}`"),
        );
    }
    let Some(mut argv) = command else {
        let mut s = usage::snapshot(provider_id, UsageStatus::Unavailable, Confidence::Unknown, "ccusage");
        s.warnings.push(format!("ccusage is not installed (put it on PATH or set {CCUSAGE_ENV})"));
        return s;
    };
    argv.extend(["blocks", "--json", "--offline", "--active", "--no-color"].map(str::to_owned));
    let out =
        process::run(&argv, RunOptions { dumb_terminal: true, timeout: Some(BACKEND_TIMEOUT), ..Default::default() })
            .await;
    if out.status == process::TIMEOUT_EXIT && out.stderr == "timed out" {
        return failed(provider_id, "ccusage", "ccusage", "timed out");
    }
    let Some(doc) = last_json_document(&out.stdout) else {
        return failed(
            provider_id,
            "ccusage",
            "ccusage",
            &format!("no JSON in its output (exit status {})", out.status),
        );
    };
    match parse_ccusage(provider_id, &doc) {
        Ok(mut s) => {
            if !out.success() {
                s.warnings.push(format!("ccusage exited with status {}", out.status));
            }
            s
        }
        Err(e) => failed(provider_id, "ccusage", "ccusage", &e),
    }
}

/// Parses `ccusage blocks --json`: the last active, non-gap block. Token counts are stored
/// normalised (`input`, `output`, `cache_creation`, `cache_read`).
pub fn parse_ccusage(provider_id: &str, doc: &Value) -> Result<CapacitySnapshot, String> {
    let blocks = doc.get("blocks").and_then(Value::as_array).ok_or("output has no `blocks` list")?;
    let block = blocks
        .iter()
        .rev()
        .find(|b| {
            b.get("isActive") == Some(&Value::Bool(true)) && !b.get("isGap").and_then(Value::as_bool).unwrap_or(false)
        })
        .ok_or("no active block")?;
    let used = block.pointer("/tokenLimitStatus/percentUsed").and_then(number).map(clamp_percent);
    let window = UsageWindow {
        name: "active_block".into(),
        kind: "5h".into(),
        status: Some("active_local_log_block".into()),
        remaining_percent: None,
        used_percent: used,
        remaining_units: None,
        used_units: block.get("totalTokens").and_then(number),
        reset_at: block.get("endTime").and_then(Value::as_str).and_then(usage::normalize_ts),
        confidence: Confidence::Observed,
        raw_text: Some("ccusage:blocks:active".into()),
    };
    let mut s = usage::snapshot(provider_id, UsageStatus::Unknown, Confidence::Observed, "ccusage_local_logs");
    s.windows.push(window);
    s.warnings.push("ccusage reads local Claude Code logs: telemetry, not authoritative quota".into());
    let tc = block.get("tokenCounts");
    let count = |k: &str| tc.and_then(|t| t.get(k)).and_then(number);
    s.raw.insert(
        "token_counts".into(),
        json!({"input": count("inputTokens"), "output": count("outputTokens"),
               "cache_creation": count("cacheCreationInputTokens"), "cache_read": count("cacheReadInputTokens")}),
    );
    for (key, from) in [
        ("block_id", "id"),
        ("start_time", "startTime"),
        ("actual_end_time", "actualEndTime"),
        ("entries", "entries"),
        ("cost_usd", "costUSD"),
    ] {
        s.raw.insert(key.into(), block.get(from).cloned().unwrap_or(Value::Null));
    }
    s.raw.insert("models".into(), block.get("models").cloned().unwrap_or_else(|| json!([])));
    for (key, from) in
        [("burn_rate", "burnRate"), ("projection", "projection"), ("token_limit_status", "tokenLimitStatus")]
    {
        s.raw.insert(key.into(), block.get(from).filter(|v| !v.is_null()).cloned().unwrap_or_else(|| json!({})));
    }
    Ok(s)
}

fn bad(status: UsageStatus) -> bool {
    matches!(status, UsageStatus::Unknown | UsageStatus::Unavailable | UsageStatus::Unauthenticated)
}

fn brief(s: &CapacitySnapshot) -> Value {
    json!({"source": s.raw.get("source").cloned().unwrap_or(Value::Null), "status": s.status,
           "confidence": s.confidence, "windows": s.windows.len()})
}

fn alternates(raw: &mut Map<String, Value>) -> &mut Vec<Value> {
    let entry = raw.entry("alternate_sources").or_insert_with(|| json!([]));
    if !entry.is_array() {
        *entry = json!([]);
    }
    entry.as_array_mut().expect("just made an array")
}

/// Merges native (`n`), CodexBar (`c`) and optional ccusage (`k`) snapshots: a bad side
/// defers to the good one; two good sides are unioned by window (kind, name, reset), with
/// native's credits and confidence winning. ccusage only ever enriches `raw`.
pub fn merge(n: CapacitySnapshot, c: CapacitySnapshot, k: Option<CapacitySnapshot>) -> CapacitySnapshot {
    let mut out = if bad(c.status) {
        let mut out = n.clone();
        alternates(&mut out.raw).push(brief(&c));
        out.warnings.extend(c.warnings.iter().map(|w| format!("CodexBar: {w}")));
        out
    } else if bad(n.status) {
        let mut out = c.clone();
        out.raw.insert("source".into(), json!("combined"));
        out.raw.insert("primary_source".into(), json!("codexbar"));
        alternates(&mut out.raw).push(brief(&n));
        out.warnings.extend(n.warnings.iter().map(|w| format!("Native probe: {w}")));
        out
    } else {
        let mut out = n.clone();
        for w in &c.windows {
            let present = out.windows.iter().any(|o| o.kind == w.kind && o.name == w.name && o.reset_at == w.reset_at);
            if !present {
                out.windows.push(w.clone());
            }
        }
        if out.credits_remaining.is_none() {
            out.credits_remaining = c.credits_remaining;
        }
        out.status = status_from_windows(&out.windows);
        let primary = n.raw.get("source").cloned().unwrap_or_else(|| json!("native"));
        out.raw.insert("source".into(), json!("combined"));
        out.raw.insert("primary_source".into(), primary);
        alternates(&mut out.raw).push(brief(&c));
        out
    };
    if let Some(k) = k {
        alternates(&mut out.raw).push(brief(&k));
        if !matches!(k.status, UsageStatus::Unavailable | UsageStatus::Unauthenticated) {
            out.warnings.extend(k.warnings.iter().map(|w| format!("ccusage: {w}")));
            out.raw.insert("ccusage".into(), Value::Object(k.raw.clone()));
        }
    }
    out
}

#[cfg(test)]
#[path = "backends_tests.rs"]
mod tests;
