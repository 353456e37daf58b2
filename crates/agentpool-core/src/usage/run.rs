//! Usage probes run by the engine: one provider at a time under the budget, persisted, and
//! summarised (`usage`, `usage-summary`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::backends as usage_backends;
use super::*;
use crate::api::{CachedSnapshots, LiveSnapshots, UsageSnapshots, UsageSource, UsageSummary};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{CapacitySnapshot, Confidence, UsageStatus};
use crate::pool::Pool;
use crate::provider::{Detected, ProbeContext, Provider};
use crate::runtime::Runtime;

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

impl Pool {
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
            config: self.profile(provider).config.clone(),
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

    /// `usage --cached`: the latest stored snapshots of one provider (validated) or of every
    /// enabled one (fakes included).
    pub async fn cached_snapshots(&self, provider_id: Option<&str>) -> Result<CachedSnapshots> {
        self.cached_snapshots_in(provider_id, true).await
    }

    async fn cached_snapshots_in(&self, provider_id: Option<&str>, all: bool) -> Result<CachedSnapshots> {
        let snapshots = self.cached_usage_in(provider_id, all).await?;
        Ok(CachedSnapshots { snapshots, source: UsageSource::SqliteCache })
    }

    /// `usage`: live snapshots (`source: live_probe`) or, with `cached`, stored ones; every
    /// enabled provider (fakes included) when the request names none.
    pub async fn usage(&self, req: &UsageRequest, cached: bool) -> Result<UsageSnapshots> {
        self.usage_listed(req, cached, true).await
    }

    /// [`Self::usage`] as the CLI lists it: without a provider id, the built-in fakes only
    /// with `all` (or when enabled explicitly in config).
    pub async fn usage_listed(&self, req: &UsageRequest, cached: bool, all: bool) -> Result<UsageSnapshots> {
        if cached {
            return Ok(UsageSnapshots::Cached(self.cached_snapshots_in(req.provider_id.as_deref(), all).await?));
        }
        // Dead workers are marked first, as every front-end read does.
        self.reconcile().await?;
        let run = self.probe_usage_in(req, all).await?;
        Ok(UsageSnapshots::Live(LiveSnapshots {
            snapshots: run.snapshots,
            source: UsageSource::LiveProbe,
            backend: req.backend.as_str().to_owned(),
            partial: run.partial,
        }))
    }

    /// `usage-summary`: per provider whether it can take work now, from the cache unless
    /// `refresh` (or the auto-refresh policy) asks for a live probe.
    pub async fn usage_summary(&self, req: &UsageRequest, refresh: bool) -> Result<UsageSummary> {
        self.usage_summary_listed(req, refresh, true).await
    }

    /// [`Self::usage_summary`] as the CLI lists it: without a provider id, the built-in fakes
    /// only with `all` (or when enabled explicitly in config).
    pub async fn usage_summary_listed(&self, req: &UsageRequest, refresh: bool, all: bool) -> Result<UsageSummary> {
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
        let (source, backend) =
            if live { (UsageSource::LiveProbe, req.backend.as_str()) } else { (UsageSource::SqliteCache, "cache") };
        let provenance =
            Provenance { preferences: self.preferences_ref(), source, backend: backend.to_owned(), partial };
        Ok(summary(&snaps, &facts, policy, OffsetDateTime::now_utc(), provenance))
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
