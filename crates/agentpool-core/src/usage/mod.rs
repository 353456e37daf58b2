//! Usage and capacity: the helpers every probe shares (windows, status, numbers), the probe
//! fan-out under one time budget, snapshot persistence, and the usage summary (`usable`,
//! `unusable_reason`, staleness, next reset).
//!
//! Probes themselves live in their provider crates (`Provider::usage`); optional backends
//! (CodexBar, ccusage) and the combined merge live in [`backends`]; the probe fan-out and summaries as `Pool` methods in [`run`].
//!
//! Decisions that differ from the reference (see `docs/usage-detection.md`): a window at 0 %
//! left is `limit_reached` whatever the parser; timeout and error placeholders are never
//! persisted, so they cannot hide the last good snapshot; "latest" is ordered by time, not by
//! row id; every selection uses the enabled registry set; an unknown `--provider` is an error.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api::{PreferencesRef, SummaryWindow, UsageCounts, UsageSource, UsageSummary, UsageSummaryRow};
use crate::config::PolicyConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AuthState, CapacitySnapshot, Confidence, UsageStatus};
use crate::store::{self, Store};
use crate::util;

pub use agentpool_sdk::usage::*;

/// Default budget of one MCP usage call.
pub const MCP_BUDGET: Duration = Duration::from_secs(25);
/// Default budget of one CLI usage call (the slowest backend allows 45 s).
pub const CLI_BUDGET: Duration = Duration::from_secs(60);

/// Where usage figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The provider's own probe.
    Native,
    /// The CodexBar CLI (safe sources only).
    Codexbar,
    /// ccusage over local Claude Code logs (telemetry, never quota).
    Ccusage,
    /// Native, CodexBar and (claude-code) ccusage, merged.
    Combined,
}

impl Backend {
    /// Every backend name.
    pub const NAMES: [&'static str; 4] = ["native", "codexbar", "ccusage", "combined"];

    /// Parses a backend name; anything else is `INVALID_USAGE_BACKEND`.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "native" => Ok(Self::Native),
            "codexbar" => Ok(Self::Codexbar),
            "ccusage" => Ok(Self::Ccusage),
            "combined" => Ok(Self::Combined),
            _ => Err(Error::new(
                ErrorCode::InvalidUsageBackend,
                format!("usage backend must be one of: {}", Self::NAMES.join(", ")),
            )
            .with("backend", raw)
            .with("allowed", Self::NAMES)),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Codexbar => "codexbar",
            Self::Ccusage => "ccusage",
            Self::Combined => "combined",
        }
    }
}

/// The placeholder for a provider that did not answer within the budget.
pub fn timeout_placeholder(provider_id: &str, backend: Backend, budget: Duration) -> CapacitySnapshot {
    let mut s = unknown(
        provider_id,
        TIMEOUT_SOURCE,
        format!("usage refresh exceeded the {}s budget; the last stored snapshot is kept", fmt_g(budget.as_secs_f64())),
    );
    s.raw.insert("backend".into(), json!(backend.as_str()));
    s.raw.insert("timeout_seconds".into(), json!(budget.as_secs_f64()));
    s
}

// ---------------------------------------------------------------------------------------------
// Persistence.

/// Appends a snapshot. Placeholders are refused (they would hide the last good snapshot);
/// `ts` is the normalised `checked_at`, so text order is time order.
pub async fn persist(store: &Store, snap: &CapacitySnapshot) -> Result<bool> {
    if is_placeholder(snap) {
        return Ok(false);
    }
    let mut snap = snap.clone();
    snap.checked_at = normalize_ts(&snap.checked_at).unwrap_or_else(util::now);
    // Defence in depth: probes never put secrets in warnings, and redaction makes sure.
    for w in &mut snap.warnings {
        *w = crate::redact::redact(w).into_owned();
    }
    let raw_json = serde_json::to_string(&snap).map_err(|e| Error::new(ErrorCode::StoreFailed, e.to_string()))?;
    store
        .call(move |c| {
            store::insert_usage_snapshot(
                c,
                &snap.provider_id,
                &snap.checked_at,
                snap.status.as_str(),
                snap.confidence.as_str(),
                &raw_json,
            )
        })
        .await?;
    Ok(true)
}

/// The latest real snapshot per provider (newest `ts`, then newest row), placeholders skipped.
/// With `only`, just those providers.
pub async fn latest(store: &Store, only: Option<Vec<String>>) -> Result<BTreeMap<String, CapacitySnapshot>> {
    let rows: Vec<(String, String)> = store.call(|c| store::latest_usage_rows(c)).await?;
    let mut out = BTreeMap::new();
    for (id, raw) in rows {
        if only.as_ref().is_some_and(|o| !o.contains(&id)) {
            continue;
        }
        // A row written by an older build that no longer parses is skipped, not fatal.
        if let Ok(s) = serde_json::from_str::<CapacitySnapshot>(&raw) {
            out.insert(id, s);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The summary.

/// Seconds since `checked_at` (never negative; unparseable → 0).
pub fn age_seconds(checked_at: &str, now: OffsetDateTime) -> f64 {
    util::parse_ts(checked_at).map_or(0.0, |t| ((now - t).as_seconds_f64()).max(0.0))
}

/// Why a provider cannot take work, or `None` when it can. Evaluated in this order, first
/// hit wins: not installed, auth, status, unknown status, confidence, a window below
/// `min_remaining_percent`.
pub fn unusable_reason(
    snap: &CapacitySnapshot,
    installed: Option<bool>,
    auth: Option<AuthState>,
    min_remaining_percent: f64,
) -> Option<String> {
    if installed == Some(false) {
        return Some("not_installed".into());
    }
    match auth {
        Some(AuthState::Unauthenticated) => return Some("auth_unauthenticated".into()),
        Some(AuthState::Unavailable) => return Some("auth_unavailable".into()),
        _ => {}
    }
    match snap.status {
        UsageStatus::LimitReached | UsageStatus::Unavailable | UsageStatus::Unauthenticated => {
            return Some(snap.status.as_str().into());
        }
        UsageStatus::Unknown => return Some("usage_unknown".into()),
        _ => {}
    }
    if !matches!(
        snap.confidence,
        Confidence::Official | Confidence::LocalCli | Confidence::LocalConfig | Confidence::UserConfigured
    ) {
        return Some(format!("confidence_{}", snap.confidence.as_str()));
    }
    snap.windows
        .iter()
        .find(|w| w.remaining_percent.is_some_and(|p| p < min_remaining_percent))
        .map(|w| format!("{}_below_{}_percent", w.name, fmt_g(min_remaining_percent)))
}

/// One line: `5h 55% left, weekly 29% left, $0 credits`.
pub fn summary_text(snap: &CapacitySnapshot) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut seen: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for w in &snap.windows {
        let label = if w.kind == "unknown" { w.name.clone() } else { w.kind.clone() };
        let key = (label.clone(), w.remaining_percent.map(fmt_g), w.remaining_units.map(fmt_g));
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        if let Some(p) = w.remaining_percent {
            parts.push(format!("{label} {}% left", fmt_g(p)));
        } else if let Some(u) = w.remaining_units {
            parts.push(format!("{label} {} units left", fmt_g(u)));
        }
    }
    if let Some(c) = snap.credits_remaining {
        parts.push(format!("${} credits", fmt_g(c)));
    }
    if !parts.is_empty() {
        return parts.join(", ");
    }
    if !snap.warnings.is_empty() {
        return snap.warnings.join("; ");
    }
    snap.status.as_str().to_owned()
}

/// What detection said about a provider, as the summary uses it.
#[derive(Debug, Clone)]
pub struct ProviderFacts {
    pub installed: Option<bool>,
    pub auth: Option<AuthState>,
}

/// One summary row.
pub fn summary_row(
    snap: &CapacitySnapshot,
    facts: Option<&ProviderFacts>,
    policy: &PolicyConfig,
    now: OffsetDateTime,
) -> UsageSummaryRow {
    let installed = facts.and_then(|f| f.installed);
    let auth = facts.and_then(|f| f.auth);
    let reason = unusable_reason(snap, installed, auth, policy.min_remaining_percent);
    let source = snap.raw.get("source").and_then(Value::as_str);
    let never = source == Some(NO_SNAPSHOT_SOURCE);
    let age = age_seconds(&snap.checked_at, now);
    let windows = snap
        .windows
        .iter()
        .map(|w| SummaryWindow {
            name: w.name.clone(),
            kind: w.kind.clone(),
            remaining_percent: w.remaining_percent,
            used_percent: w.used_percent,
            remaining_units: w.remaining_units,
            reset_at: w.reset_at.clone(),
            confidence: w.confidence,
        })
        .collect();
    UsageSummaryRow {
        provider_id: snap.provider_id.clone(),
        status: snap.status,
        confidence: snap.confidence,
        installed,
        auth_status: auth,
        usable: reason.is_none(),
        unusable_reason: reason,
        stale: never || age > policy.usage_stale_after_seconds as f64,
        age_seconds: (!never).then(|| (age * 1000.0).round() / 1000.0),
        checked_at: (!never).then(|| snap.checked_at.clone()),
        windows,
        credits_remaining: snap.credits_remaining,
        warnings: snap.warnings.clone(),
        source: source.map(str::to_owned),
        summary: summary_text(snap),
    }
}

/// Where a summary's figures came from, which the call knows and the figures do not.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub preferences: PreferencesRef,
    pub source: UsageSource,
    /// The usage backend asked (`cache` for stored snapshots).
    pub backend: String,
    /// Some providers did not answer within the time budget.
    pub partial: bool,
}

/// The summary of `snaps`: a row per provider, the counts, and the unusable provider whose
/// window resets first.
pub fn summary(
    snaps: &BTreeMap<String, CapacitySnapshot>,
    facts: &BTreeMap<String, ProviderFacts>,
    policy: &PolicyConfig,
    now: OffsetDateTime,
    provenance: Provenance,
) -> UsageSummary {
    let mut providers = BTreeMap::new();
    let mut counts = UsageCounts::default();
    let mut next: Option<(OffsetDateTime, String, String)> = None;
    for (id, snap) in snaps {
        let row = summary_row(snap, facts.get(id), policy, now);
        counts.add(snap.status, row.usable);
        if !row.usable {
            for w in &snap.windows {
                if let Some(t) = w.reset_at.as_deref().and_then(util::parse_ts).filter(|t| *t > now)
                    && next.as_ref().is_none_or(|(best, _, _)| t < *best)
                {
                    next = Some((t, id.clone(), util::format_ts(t)));
                }
            }
        }
        providers.insert(id.clone(), row);
    }
    let (next_available_provider, next_available_at) = next.map(|(_, id, at)| (id, at)).unzip();
    UsageSummary {
        checked_at: util::format_ts(now),
        providers,
        min_remaining_percent: policy.min_remaining_percent,
        next_available_provider,
        next_available_at,
        counts,
        preferences: provenance.preferences,
        source: provenance.source,
        backend: provenance.backend,
        partial: provenance.partial,
    }
}

// ---------------------------------------------------------------------------------------------
// Running probes.

/// One usage call.
#[derive(Debug, Clone)]
pub struct UsageRequest {
    /// One provider, or every enabled one.
    pub provider_id: Option<String>,
    pub backend: Backend,
    pub allow_interactive: bool,
    /// After this, unfinished providers come back as unknown placeholders.
    pub budget: Duration,
}

/// What a live probe produced.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// One snapshot per selected provider, in listing order.
    pub snapshots: Vec<CapacitySnapshot>,
    pub facts: BTreeMap<String, ProviderFacts>,
    /// Some provider did not finish within the budget.
    pub partial: bool,
}

pub mod backends;
pub mod run;

#[cfg(test)]
mod tests;
