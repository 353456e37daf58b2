//! Helpers every usage probe shares: the context a probe gets, snapshot and window builders,
//! status from windows, numbers and timestamps as providers report them.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::config::ProviderConfig;
use crate::model::{CapacitySnapshot, Confidence, UsageStatus, UsageWindow};
use crate::runtime::Runtime;
use crate::util;

/// Remaining percent at or below which a subscription is `near_limit`.
pub const NEAR_LIMIT_PERCENT: f64 = 15.0;
/// `raw.source` of the placeholder for a provider that did not answer within the budget.
pub const TIMEOUT_SOURCE: &str = "agentpool_usage_timeout";
/// `raw.source` of the placeholder for a provider whose probe task failed.
pub const ERROR_SOURCE: &str = "agentpool_usage_error";
/// `raw.source` of a summary row for a provider with no stored snapshot (never persisted).
pub const NO_SNAPSHOT_SOURCE: &str = "agentpool_no_snapshot";
/// Environment variable that turns interactive (screen) probes off.
pub const NO_INTERACTIVE_ENV: &str = "AGENTPOOL_NO_INTERACTIVE_USAGE";

/// Whether interactive probes are allowed: not when the caller said no, nor when
/// `AGENTPOOL_NO_INTERACTIVE_USAGE` is truthy.
pub fn interactive_allowed(flag_no_interactive: bool) -> bool {
    !flag_no_interactive && !std::env::var(NO_INTERACTIVE_ENV).is_ok_and(|v| util::truthy(&v))
}

/// What a provider's usage probe may use. Providers reach the outside world only through
/// this: a screen probe gets a runtime handle, never tmux itself.
#[derive(Clone)]
pub struct UsageContext {
    /// The provider id being probed.
    pub provider_id: String,
    /// The user's overrides for this provider.
    pub config: ProviderConfig,
    /// AgentPool's home.
    pub home: PathBuf,
    /// The binary detection found.
    pub binary_path: Option<PathBuf>,
    /// Screen probes (a temporary worker session) may run.
    pub allow_interactive: bool,
    /// The runtime a screen probe starts its temporary session on.
    pub runtime: Option<Arc<dyn Runtime>>,
}

impl std::fmt::Debug for UsageContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageContext")
            .field("provider_id", &self.provider_id)
            .field("binary_path", &self.binary_path)
            .field("allow_interactive", &self.allow_interactive)
            .field("runtime", &self.runtime.as_ref().map(|r| r.kind()))
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by every probe.

/// A snapshot with no windows, stamped now, with `raw.source` set.
pub fn snapshot(provider_id: &str, status: UsageStatus, confidence: Confidence, source: &str) -> CapacitySnapshot {
    let mut raw = Map::new();
    raw.insert("source".into(), json!(source));
    CapacitySnapshot {
        provider_id: provider_id.to_owned(),
        status,
        confidence,
        checked_at: util::now(),
        windows: Vec::new(),
        premium_requests_remaining: None,
        credits_remaining: None,
        reset_at: None,
        warnings: Vec::new(),
        raw,
    }
}

/// An `unknown` snapshot with one warning.
pub fn unknown(provider_id: &str, source: &str, warning: impl Into<String>) -> CapacitySnapshot {
    let mut s = snapshot(provider_id, UsageStatus::Unknown, Confidence::Unknown, source);
    s.warnings.push(warning.into());
    s
}

/// A window from a used percentage (remaining is its complement), clamped to 0..=100.
pub fn window_used(name: &str, kind: &str, used: f64, confidence: Confidence) -> UsageWindow {
    let used = clamp_percent(used);
    UsageWindow {
        name: name.to_owned(),
        kind: kind.to_owned(),
        status: None,
        remaining_percent: Some(clamp_percent(100.0 - used)),
        used_percent: Some(used),
        remaining_units: None,
        used_units: None,
        reset_at: None,
        confidence,
        raw_text: None,
    }
}

/// A window from a remaining percentage.
pub fn window_remaining(name: &str, kind: &str, remaining: f64, confidence: Confidence) -> UsageWindow {
    window_used(name, kind, 100.0 - clamp_percent(remaining), confidence)
}

/// Clamps a percentage to 0..=100 (NaN becomes 0).
pub fn clamp_percent(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v.clamp(0.0, 100.0) }
}

/// The window kind of a duration in minutes, shared by every source so one table decides:
/// 300 → `5h`, 1440 → `daily`, 10080 → `weekly`, 27–32 days → `monthly`.
pub fn kind_for_minutes(minutes: i64) -> Option<&'static str> {
    match minutes {
        300 => Some("5h"),
        1440 => Some("daily"),
        10080 => Some("weekly"),
        38_880..=46_080 => Some("monthly"),
        _ => None,
    }
}

/// Status from windows: the smallest remaining percent (windows without one are ignored);
/// none → `unknown`, 0 → `limit_reached`, ≤ 15 → `near_limit`, else `available`.
pub fn status_from_windows(windows: &[UsageWindow]) -> UsageStatus {
    let min = windows
        .iter()
        .filter_map(|w| w.remaining_percent)
        .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.min(v))));
    match min {
        None => UsageStatus::Unknown,
        Some(v) if v <= 0.0 => UsageStatus::LimitReached,
        Some(v) if v <= NEAR_LIMIT_PERCENT => UsageStatus::NearLimit,
        Some(_) => UsageStatus::Available,
    }
}

/// A number from JSON: a number or a numeric string (`"12.50"`); booleans are not numbers.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Epoch seconds as our timestamp; zero or out of range is no time.
pub fn epoch_to_ts(secs: i64) -> Option<String> {
    if secs == 0 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp(secs).ok().map(util::format_ts)
}

/// Normalises an RFC 3339 time (any offset) to ours; unparseable → `None`.
pub fn normalize_ts(raw: &str) -> Option<String> {
    util::parse_ts(raw.trim()).map(util::format_ts)
}

/// Whether a snapshot is a placeholder for a probe that did not finish.
pub fn is_placeholder(s: &CapacitySnapshot) -> bool {
    matches!(s.raw.get("source").and_then(Value::as_str), Some(TIMEOUT_SOURCE | ERROR_SOURCE | NO_SNAPSHOT_SOURCE))
}

/// Formats like C's `%g`: six significant digits, trailing zeros dropped.
pub fn fmt_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() { "0".into() } else { x.to_string() };
    }
    let exp = x.abs().log10().floor() as i32;
    // Rounding can carry into the next power of ten (999999.5 → 1e+06).
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    let exp = if rounded.abs() >= 10f64.powi(exp + 1) { exp + 1 } else { exp };
    if !(-4..6).contains(&exp) {
        let s = format!("{x:.5e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = trim_zeros(mantissa);
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = usize::try_from(5 - exp).unwrap_or(0);
    trim_zeros(&format!("{x:.decimals$}")).to_owned()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}
