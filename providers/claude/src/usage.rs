//! Claude Code usage from its own `/usage` panel, typed into a temporary worker session on
//! the runtime (only when interactive probes are allowed). Nothing is stored but the parsed
//! figures; the session and its throw-away directory are removed on every path.
//!
//! The panel shows one section per quota ("Current session", "Current week (all models)",
//! "Current week (Opus)", …), each with a percentage and a "Resets …" line, and optionally an
//! "Extra usage" section with dollars spent of a limit. Labels are matched as whole lines, so
//! "Current week (Sonnet only)" is never taken for the all-models week.

use std::time::Duration;

use agentpool_sdk::model::{CapacitySnapshot, Confidence, Isolation, UsageStatus, UsageWindow};
use agentpool_sdk::provider::DialogContext;
use agentpool_sdk::usage::{self, UsageContext};
use agentpool_sdk::usage_screen::{self, ScreenProbe};
use agentpool_sdk::util;
use regex::Regex;
use serde_json::json;
use time::OffsetDateTime;

/// `raw.source` of this probe.
pub const SOURCE: &str = "claude_pty_usage";

/// Section labels, in the order tried: (line text, window name, kind).
const LABELS: [(&str, &str, &str); 5] = [
    ("current session", "session", "session"),
    ("current week (all models)", "weekly", "weekly"),
    ("current week (opus)", "weekly_opus", "weekly"),
    ("current week (sonnet only)", "weekly_sonnet", "weekly"),
    ("current week (sonnet)", "weekly_sonnet", "weekly"),
];

/// Runs `/usage` in a temporary session. The caller checked `allow_interactive`.
pub async fn probe(ctx: &UsageContext) -> CapacitySnapshot {
    let Some(binary) = ctx.binary_path.as_ref() else {
        let mut s = usage::snapshot(&ctx.provider_id, UsageStatus::Unavailable, Confidence::Unknown, SOURCE);
        s.warnings.push("Claude Code is not installed.".into());
        return s;
    };
    // The throw-away directory is ours and empty: its trust prompt may be accepted.
    let answer = |screen: &str| {
        let dctx = DialogContext {
            accept_trust: true,
            isolation: Isolation::ReadOnly,
            workdir: Default::default(),
            provider_metadata: Default::default(),
        };
        agentpool_sdk::provider::Provider::startup_dialog(&crate::Claude, screen, &dctx).map(|a| a.keys)
    };
    let spec = ScreenProbe {
        // An empty allowed-tools list: the session can run no tool.
        argv: vec![binary.display().to_string(), "--allowed-tools".into(), String::new()],
        env: vec![("DISABLE_AUTOUPDATER".into(), "1".into())],
        slash: "/usage",
        startup_delay: Duration::from_millis(1200),
        pre_keys: Vec::new(),
        dialog: Some(&answer),
        extra_keys: vec![vec!["PageDown".into()]],
        prefer_text: None,
        timeout: Duration::from_secs(18),
        source: SOURCE,
    };
    let now = OffsetDateTime::now_utc();
    usage_screen::run(ctx, &spec, &|screen| parse(&ctx.provider_id, screen, now)).await
}

/// Parses a `/usage` screen. `None` while no quota section is visible yet; an auth failure
/// is an `unauthenticated` snapshot. `now` anchors relative reset times ("Resets in 4h 11m").
pub fn parse(provider_id: &str, screen: &str, now: OffsetDateTime) -> Option<CapacitySnapshot> {
    let text = strip_ansi(screen);
    let auth = Regex::new(r"(?i)failed to load usage|token expired|not authenticated|login required").ok()?;
    if auth.is_match(&text) {
        let mut s = usage::snapshot(provider_id, UsageStatus::Unauthenticated, Confidence::LocalCli, SOURCE);
        s.warnings.push("Claude Code could not load usage (signed out or token expired).".into());
        return Some(s);
    }
    let lines: Vec<&str> =
        text.lines().map(|l| l.trim_matches(|c: char| c.is_whitespace() || "│|".contains(c))).collect();
    let is_heading = |l: &str| {
        let l = l.to_lowercase();
        l.starts_with("current session") || l.starts_with("current week") || l.starts_with("extra usage")
    };
    let percent = Regex::new(r"(?i)(\d+(?:\.\d+)?)\s*%\s*(left|remaining|used)?").ok()?;
    let reset = Regex::new(r"(?i)\bresets?\s+(?:in\s+)?([^\n\r|·]+)").ok()?;
    let mut windows: Vec<UsageWindow> = Vec::new();
    for (label, name, kind) in LABELS {
        if windows.iter().any(|w| w.name == name) {
            continue;
        }
        let Some(start) = lines.iter().position(|l| l.to_lowercase() == label) else { continue };
        let body: Vec<&str> = lines[start + 1..].iter().take_while(|l| !is_heading(l)).take(12).copied().collect();
        let body = body.join("\n");
        let Some(c) = percent.captures(&body) else { continue };
        let Ok(p) = c[1].parse::<f64>() else { continue };
        let mut w = if c.get(2).is_some_and(|d| d.as_str().eq_ignore_ascii_case("used")) {
            usage::window_used(name, kind, p, Confidence::LocalCli)
        } else {
            usage::window_remaining(name, kind, p, Confidence::LocalCli)
        };
        let mut raw = format!("{} {}", lines[start], body.chars().take(400).collect::<String>());
        if let Some(r) = reset.captures(&body) {
            let when = r[1].trim().to_owned();
            w.reset_at = reset_at(&r[0], &when, now);
            raw.push_str(&format!(" reset {when}"));
        }
        w.raw_text = Some(raw.split_whitespace().collect::<Vec<_>>().join(" "));
        windows.push(w);
    }
    if windows.is_empty() {
        return None;
    }
    let mut s = usage::snapshot(provider_id, usage::status_from_windows(&windows), Confidence::LocalCli, SOURCE);
    if let Some(start) = lines.iter().position(|l| l.to_lowercase().starts_with("extra usage")) {
        let body: Vec<&str> = lines[start..].iter().take(8).copied().collect();
        let body = body.join("\n");
        let spent = Regex::new(r"(?i)\$\s*(\d+(?:\.\d+)?)\s*/\s*\$\s*(\d+(?:\.\d+)?)\s+spent").ok()?;
        if let Some(c) = spent.captures(&body)
            && let (Ok(spent), Ok(limit)) = (c[1].parse::<f64>(), c[2].parse::<f64>())
        {
            let left = ((limit - spent).max(0.0) * 100.0).round() / 100.0;
            let used = if limit <= 0.0 { 100.0 } else { spent / limit * 100.0 };
            let mut w = usage::window_used("extra_usage", "on_demand", used, Confidence::LocalCli);
            w.used_units = Some(spent);
            w.remaining_units = Some(left);
            w.raw_text = Some(body.split_whitespace().collect::<Vec<_>>().join(" "));
            s.credits_remaining = Some(left);
            windows.push(w);
        }
    }
    // Soonest reset of a quota window.
    s.reset_at = windows.iter().filter_map(|w| w.reset_at.clone()).min();
    s.windows = windows;
    Some(s)
}

/// A reset time we can place exactly: relative ("in 4h 11m", "in 2d 3h") or a date and
/// time marked UTC ("Nov 28, 9am (UTC)"). Dates in a named local zone stay text only.
fn reset_at(matched: &str, when: &str, now: OffsetDateTime) -> Option<String> {
    let lower = matched.to_lowercase();
    if Regex::new(r"(?i)^resets?\s+in\s").ok()?.is_match(&lower) {
        let unit = Regex::new(r"(\d+)\s*(d|h|m)\b").ok()?;
        let mut secs = 0i64;
        for c in unit.captures_iter(&when.to_lowercase()) {
            let n: i64 = c[1].parse().ok()?;
            secs += n * match &c[2] {
                "d" => 86_400,
                "h" => 3_600,
                _ => 60,
            };
        }
        return (secs > 0).then(|| util::format_ts(now + time::Duration::seconds(secs)));
    }
    let abs =
        Regex::new(r"(?i)^([a-z]{3})[a-z]*\s+(\d{1,2})(?:,?\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm))?\s*\(utc\)").ok()?;
    let c = abs.captures(when.trim())?;
    let month = time::Month::try_from(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            .iter()
            .position(|m| c[1].eq_ignore_ascii_case(m))? as u8
            + 1,
    )
    .ok()?;
    let day: u8 = c[2].parse().ok()?;
    let mut hour: u8 = c.get(3).map_or(Some(0), |h| h.as_str().parse().ok())?;
    let minute: u8 = c.get(4).map_or(Some(0), |m| m.as_str().parse().ok())?;
    if let Some(ap) = c.get(5) {
        hour %= 12;
        if ap.as_str().eq_ignore_ascii_case("pm") {
            hour += 12;
        }
    }
    let at = |year: i32| {
        time::Date::from_calendar_date(year, month, day)
            .ok()
            .and_then(|d| d.with_hms(hour, minute, 0).ok())
            .map(|dt| dt.assume_utc())
    };
    // The panel omits the year: the next such date not in the past.
    let t = at(now.year()).filter(|t| *t >= now - time::Duration::days(1)).or_else(|| at(now.year() + 1))?;
    Some(util::format_ts(t))
}

fn strip_ansi(s: &str) -> String {
    Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]").map_or_else(|_| s.to_owned(), |re| re.replace_all(s, "").into_owned())
}

/// The snapshot when interactive probes are off.
pub fn disabled(provider_id: &str) -> CapacitySnapshot {
    let mut s = usage::unknown(
        provider_id,
        "interactive_probe_disabled",
        "Claude Code usage is read from its /usage screen, and interactive probes are disabled (--no-interactive, AGENTPOOL_NO_INTERACTIVE_USAGE or an MCP call)",
    );
    s.raw.insert("probe".into(), json!(SOURCE));
    s
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
