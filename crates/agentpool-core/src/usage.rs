//! Usage and capacity: the helpers every probe shares (windows, status, numbers), the probe
//! fan-out under one time budget, snapshot persistence, and the usage summary (`usable`,
//! `unusable_reason`, staleness, next reset).
//!
//! Probes themselves live in their provider crates (`Provider::usage`); optional backends
//! (CodexBar, ccusage) and the combined merge live in [`crate::usage_backends`].
//!
//! Decisions that differ from the reference (see `docs/usage-detection.md`): a window at 0 %
//! left is `limit_reached` whatever the parser; timeout and error placeholders are never
//! persisted, so they cannot hide the last good snapshot; "latest" is ordered by time, not by
//! row id; every selection uses the enabled registry set; an unknown `--provider` is an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::config::PolicyConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::manager::Manager;
use crate::model::{AuthState, CapacitySnapshot, Confidence, UsageStatus};
use crate::provider::{Detected, ProbeContext, Provider};
use crate::runtime::Runtime;
use crate::store::SqlExt as _;
use crate::store::Store;
use crate::usage_backends;
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
            c.execute(
                "INSERT INTO usage_snapshots(provider_id, ts, status, confidence, raw_json) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![snap.provider_id, snap.checked_at, snap.status.as_str(), snap.confidence.as_str(), raw_json],
            ).sql()?;
            Ok(())
        })
        .await?;
    Ok(true)
}

/// The latest real snapshot per provider (newest `ts`, then newest row), placeholders skipped.
/// With `only`, just those providers.
pub async fn latest(store: &Store, only: Option<Vec<String>>) -> Result<BTreeMap<String, CapacitySnapshot>> {
    let rows: Vec<(String, String)> = store
        .call(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT provider_id, raw_json FROM (
                   SELECT provider_id, raw_json, ROW_NUMBER() OVER (
                     PARTITION BY provider_id ORDER BY ts DESC, id DESC) AS rn
                   FROM usage_snapshots
                   WHERE raw_json NOT LIKE '%\"source\":\"agentpool_usage_timeout\"%'
                     AND raw_json NOT LIKE '%\"source\":\"agentpool_usage_error\"%')
                 WHERE rn = 1",
                )
                .sql()?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()?;
            Ok(rows)
        })
        .await?;
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
) -> Value {
    let installed = facts.and_then(|f| f.installed);
    let auth = facts.and_then(|f| f.auth);
    let reason = unusable_reason(snap, installed, auth, policy.min_remaining_percent);
    let never = snap.raw.get("source").and_then(Value::as_str) == Some(NO_SNAPSHOT_SOURCE);
    let age = age_seconds(&snap.checked_at, now);
    let windows: Vec<Value> = snap
        .windows
        .iter()
        .map(|w| {
            json!({"name": w.name, "kind": w.kind, "remaining_percent": w.remaining_percent,
                   "used_percent": w.used_percent, "remaining_units": w.remaining_units,
                   "reset_at": w.reset_at, "confidence": w.confidence})
        })
        .collect();
    json!({
        "provider_id": snap.provider_id,
        "status": snap.status,
        "confidence": snap.confidence,
        "installed": installed,
        "auth_status": auth,
        "usable": reason.is_none(),
        "unusable_reason": reason,
        "stale": never || age > policy.usage_stale_after_seconds as f64,
        "age_seconds": if never { Value::Null } else { json!((age * 1000.0).round() / 1000.0) },
        "checked_at": if never { Value::Null } else { json!(snap.checked_at) },
        "windows": windows,
        "credits_remaining": snap.credits_remaining,
        "warnings": snap.warnings,
        "source": snap.raw.get("source").cloned().unwrap_or(Value::Null),
        "summary": summary_text(snap),
    })
}

/// The summary document (without `preferences`, `source`, `backend`, `partial`, which the
/// caller adds).
pub fn summary(
    snaps: &BTreeMap<String, CapacitySnapshot>,
    facts: &BTreeMap<String, ProviderFacts>,
    policy: &PolicyConfig,
    now: OffsetDateTime,
) -> Map<String, Value> {
    let mut providers = Map::new();
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    let mut next: Option<(OffsetDateTime, String, String)> = None;
    for (id, snap) in snaps {
        let row = summary_row(snap, facts.get(id), policy, now);
        let usable = row["usable"] == Value::Bool(true);
        *counts.entry("total").or_default() += 1;
        *counts.entry(if usable { "usable" } else { "unusable" }).or_default() += 1;
        *counts.entry(snap.status.as_str()).or_default() += 1;
        if !usable {
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
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    let mut out = Map::new();
    out.insert("checked_at".into(), json!(util::format_ts(now)));
    out.insert("providers".into(), Value::Object(providers));
    out.insert("min_remaining_percent".into(), json!(policy.min_remaining_percent));
    out.insert("next_available_provider".into(), json!(next.as_ref().map(|n| &n.1)));
    out.insert("next_available_at".into(), json!(next.as_ref().map(|n| &n.2)));
    out.insert(
        "counts".into(),
        json!({"total": count("total"), "usable": count("usable"), "unusable": count("unusable"),
               "available": count("available"), "near_limit": count("near_limit"),
               "limit_reached": count("limit_reached"), "unknown": count("unknown"),
               "unavailable": count("unavailable"), "unauthenticated": count("unauthenticated"),
               "overage_possible": count("overage_possible")}),
    );
    out
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

/// Detection, then the selected backend, for one provider.
async fn probe_one(
    provider: Arc<dyn Provider>,
    probe_ctx: ProbeContext,
    runtime: Arc<dyn Runtime>,
    backend: Backend,
    allow_interactive: bool,
) -> (CapacitySnapshot, ProviderFacts) {
    let id = provider.id().to_owned();
    let detected: Detected = provider.discover(&probe_ctx).await;
    let facts = ProviderFacts { installed: Some(detected.installed), auth: Some(detected.auth.status) };
    if !detected.installed {
        let mut s = snapshot(&id, UsageStatus::Unavailable, Confidence::Unknown, "agentpool_detect");
        s.warnings.push("provider binary is not installed".into());
        return (s, facts);
    }
    let ctx = UsageContext {
        provider_id: id.clone(),
        config: probe_ctx.config.clone(),
        home: probe_ctx.home.clone(),
        binary_path: detected.binary_path.as_deref().map(PathBuf::from),
        allow_interactive,
        runtime: Some(runtime),
    };
    let snap = match backend {
        Backend::Native => native(provider.as_ref(), &ctx).await,
        Backend::Codexbar => usage_backends::codexbar(&id).await,
        Backend::Ccusage => usage_backends::ccusage(&id).await,
        Backend::Combined => {
            // Backends run side by side: their timeouts do not add up.
            let (n, c, k) = tokio::join!(native(provider.as_ref(), &ctx), usage_backends::codexbar(&id), async {
                if id == "claude-code" { Some(usage_backends::ccusage(&id).await) } else { None }
            });
            usage_backends::merge(n, c, k)
        }
    };
    (snap, facts)
}

/// The provider's own probe, or an unknown row when it has none.
async fn native(provider: &dyn Provider, ctx: &UsageContext) -> CapacitySnapshot {
    match provider.usage(ctx).await {
        Some(mut s) => {
            s.provider_id = provider.id().to_owned();
            s
        }
        None => unknown(provider.id(), "agentpool_no_probe", "no safe usage probe is available for this provider"),
    }
}

impl Manager {
    /// The providers a usage call covers: one (validated; `auto` refused; a fake is fine when
    /// named), or every enabled one — without the built-in fakes nobody asked for unless `all`
    /// (see `Settings::listed_by_default`).
    fn usage_selection(&self, provider_id: Option<&str>, all: bool) -> Result<Vec<Arc<dyn Provider>>> {
        match provider_id {
            Some(id) => Ok(vec![self.registry.get(id.trim())?]),
            None => Ok(self
                .registry
                .ordered()
                .into_iter()
                .filter(|p| all || self.settings.listed_by_default(p.id()))
                .collect()),
        }
    }

    fn usage_probe_context(&self, provider: &dyn Provider) -> ProbeContext {
        ProbeContext {
            config: self.settings.provider(provider.id()),
            self_exe: self.opts.self_exe.clone(),
            agentpool_version: crate::VERSION,
            home: self.settings.paths.home.clone(),
        }
    }

    /// Probes live within the budget and persists every real result. Providers still running
    /// when the budget ends are cancelled (their children are killed with them) and come back
    /// as unknown placeholders, which are not persisted.
    pub async fn probe_usage(&self, req: &UsageRequest) -> Result<ProbeRun> {
        self.probe_usage_in(req, true).await
    }

    /// [`Self::probe_usage`]; without a provider id, the fakes only with `all`.
    async fn probe_usage_in(&self, req: &UsageRequest, all: bool) -> Result<ProbeRun> {
        let selected = self.usage_selection(req.provider_id.as_deref(), all)?;
        let deadline = tokio::time::Instant::now() + req.budget;
        let mut tasks = tokio::task::JoinSet::new();
        let mut task_index = std::collections::HashMap::new();
        for (i, p) in selected.iter().enumerate() {
            let fut = probe_one(
                p.clone(),
                self.usage_probe_context(p.as_ref()),
                self.runtime.clone(),
                req.backend,
                req.allow_interactive,
            );
            let handle = tasks.spawn(async move { (i, tokio::time::timeout_at(deadline, fut).await.ok()) });
            task_index.insert(handle.id(), i);
        }
        let mut results: Vec<Option<(CapacitySnapshot, ProviderFacts)>> = vec![None; selected.len()];
        let mut errors: Vec<Option<String>> = vec![None; selected.len()];
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((_, (i, r))) => results[i] = r,
                // A panicking probe is a bug; it becomes an error row rather than failing the
                // whole call.
                Err(e) => {
                    if let Some(&i) = task_index.get(&e.id()) {
                        errors[i] = Some(e.to_string());
                    }
                }
            }
        }
        let mut run = ProbeRun { snapshots: Vec::new(), facts: BTreeMap::new(), partial: false };
        for (i, p) in selected.iter().enumerate() {
            let id = p.id().to_owned();
            match results[i].take() {
                Some((snap, facts)) => {
                    persist(&self.store, &snap).await?;
                    run.facts.insert(id, facts);
                    run.snapshots.push(snap);
                }
                None => {
                    run.partial = true;
                    run.facts.insert(id.clone(), ProviderFacts { installed: None, auth: None });
                    run.snapshots.push(match errors[i].take() {
                        Some(e) => unknown(&id, ERROR_SOURCE, format!("usage refresh failed: {e}")),
                        None => timeout_placeholder(&id, req.backend, req.budget),
                    });
                }
            }
        }
        Ok(run)
    }

    /// Latest stored snapshots: one provider (validated), or every enabled provider.
    pub async fn cached_usage(&self, provider_id: Option<&str>) -> Result<Vec<CapacitySnapshot>> {
        self.cached_usage_in(provider_id, true).await
    }

    async fn cached_usage_in(&self, provider_id: Option<&str>, all: bool) -> Result<Vec<CapacitySnapshot>> {
        let ids: Vec<String> = self.usage_selection(provider_id, all)?.iter().map(|p| p.id().to_owned()).collect();
        let latest = latest(&self.store, Some(ids.clone())).await?;
        Ok(ids.iter().filter_map(|id| latest.get(id).cloned()).collect())
    }

    /// `usage`: live snapshots (`source: live_probe`) or, with `cached`, stored ones; every
    /// enabled provider (fakes included) when the request names none.
    pub async fn usage(&self, req: &UsageRequest, cached: bool) -> Result<Value> {
        self.usage_listed(req, cached, true).await
    }

    /// [`Self::usage`] as the CLI lists it: without a provider id, the built-in fakes only
    /// with `all` (or when enabled explicitly in config).
    pub async fn usage_listed(&self, req: &UsageRequest, cached: bool, all: bool) -> Result<Value> {
        if cached {
            let snaps = self.cached_usage_in(req.provider_id.as_deref(), all).await?;
            return Ok(json!({"snapshots": snaps, "source": "sqlite_cache"}));
        }
        // Dead workers are marked first, as every front-end read does.
        self.reconcile().await?;
        let run = self.probe_usage_in(req, all).await?;
        Ok(
            json!({"snapshots": run.snapshots, "source": "live_probe", "backend": req.backend.as_str(), "partial": run.partial}),
        )
    }

    /// `usage-summary`: per provider whether it can take work now, from the cache unless
    /// `refresh` (or the auto-refresh policy) asks for a live probe.
    pub async fn usage_summary(&self, req: &UsageRequest, refresh: bool) -> Result<Value> {
        self.usage_summary_listed(req, refresh, true).await
    }

    /// [`Self::usage_summary`] as the CLI lists it: without a provider id, the built-in fakes
    /// only with `all` (or when enabled explicitly in config).
    pub async fn usage_summary_listed(&self, req: &UsageRequest, refresh: bool, all: bool) -> Result<Value> {
        let started = Instant::now();
        self.reconcile().await?;
        let policy = &self.settings.config.policy;
        let ids: Vec<String> =
            self.usage_selection(req.provider_id.as_deref(), all)?.iter().map(|p| p.id().to_owned()).collect();
        let now = OffsetDateTime::now_utc();
        let mut live = refresh;
        let mut cached = BTreeMap::new();
        if !refresh {
            cached = latest(&self.store, Some(ids.clone())).await?;
            if let Some(after) = policy.usage_auto_refresh_after_seconds.filter(|a| *a >= 0) {
                let missing = ids.iter().any(|id| !cached.contains_key(id));
                let old = cached.values().any(|s| age_seconds(&s.checked_at, now) > after as f64);
                live = missing || old;
            }
        }
        let remaining = req.budget.saturating_sub(started.elapsed()).max(Duration::from_millis(1));
        let (snaps, facts, partial) = if live {
            let run = self.probe_usage_in(&UsageRequest { budget: remaining, ..req.clone() }, all).await?;
            let snaps: BTreeMap<String, CapacitySnapshot> =
                run.snapshots.into_iter().map(|s| (s.provider_id.clone(), s)).collect();
            (snaps, run.facts, run.partial)
        } else {
            let (facts, partial) = self.detect_facts(&ids, remaining).await;
            (cached, facts, partial)
        };
        // Every selected provider gets a row, probed or not.
        let mut snaps = snaps;
        for id in &ids {
            snaps.entry(id.clone()).or_insert_with(|| {
                unknown(id, NO_SNAPSHOT_SOURCE, "no usage snapshot stored yet; run `agentpool usage-summary --refresh`")
            });
        }
        let mut out = summary(&snaps, &facts, policy, OffsetDateTime::now_utc());
        out.insert("preferences".into(), self.preferences_ref());
        out.insert("source".into(), json!(if live { "live_probe" } else { "sqlite_cache" }));
        out.insert("backend".into(), json!(if live { req.backend.as_str() } else { "cache" }));
        out.insert("partial".into(), json!(partial));
        Ok(Value::Object(out))
    }

    /// Detection only (no usage probe), within the budget; providers that did not finish have
    /// no facts and make the result partial.
    async fn detect_facts(&self, ids: &[String], budget: Duration) -> (BTreeMap<String, ProviderFacts>, bool) {
        let deadline = tokio::time::Instant::now() + budget;
        let mut tasks = tokio::task::JoinSet::new();
        for id in ids {
            let Ok(p) = self.registry.get(id) else { continue };
            let ctx = self.usage_probe_context(p.as_ref());
            tasks.spawn(async move {
                let d = tokio::time::timeout_at(deadline, p.discover(&ctx)).await.ok();
                (p.id().to_owned(), d)
            });
        }
        let mut facts = BTreeMap::new();
        let mut partial = false;
        while let Some(Ok((id, d))) = tasks.join_next().await {
            match d {
                Some(d) => {
                    facts.insert(id, ProviderFacts { installed: Some(d.installed), auth: Some(d.auth.status) });
                }
                None => partial = true,
            }
        }
        (facts, partial)
    }

    /// The spawn-time usage check: the latest real snapshot (same selection as the summary)
    /// whose status is in `policy.block_on_usage_statuses` refuses the spawn.
    pub(crate) async fn usage_block(&self, provider_id: &str) -> Result<()> {
        let policy = &self.settings.config.policy;
        if policy.block_on_usage_statuses.is_empty() {
            return Ok(());
        }
        let latest = latest(&self.store, Some(vec![provider_id.to_owned()])).await?;
        let Some(snap) = latest.get(provider_id) else { return Ok(()) };
        if !policy.block_on_usage_statuses.contains(&snap.status) {
            return Ok(());
        }
        let reason = unusable_reason(snap, None, None, policy.min_remaining_percent);
        Err(Error::new(
            ErrorCode::UsagePolicyBlocked,
            format!("the last usage snapshot of `{provider_id}` says `{}`", snap.status),
        )
        .with("provider_id", provider_id)
        .with("status", snap.status.as_str())
        .with("unusable_reason", reason)
        .with("policy", "block_on_usage_statuses")
        .with("source", "sqlite_cache")
        .with("checked_at", &snap.checked_at)
        .with("age_seconds", age_seconds(&snap.checked_at, OffsetDateTime::now_utc()).round()))
    }
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
