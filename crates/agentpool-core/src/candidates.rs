//! Candidate filtering (MCP `filter_candidates`): which providers *could* take a task, and
//! why each of the others could not. It is advisory and never chooses: the caller still names
//! `provider_id` and `model` explicitly when it spawns.
//!
//! The built-in fakes (`fake-question`, …) are never candidates unless the user asked for them:
//! `[providers.<id>] enabled = true` in config, or naming them in `allowed_providers`.
//!
//! Usage status comes from the latest stored snapshot (no probe runs), so `avoid_statuses`
//! acts on what `usage-summary` last saw. A snapshot older than
//! `policy.usage_stale_after_seconds`, or none at all, counts as `unknown`.

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::api::{Candidate, CandidateUsage, Candidates, ExcludedCandidate};
use crate::config::PolicyConfig;
use crate::error::Result;
use crate::model::{Capability, CapacitySnapshot, ProviderDescriptor, RuntimeKind, UsageStatus};
use crate::pool::Pool;
use crate::usage;

/// What the caller needs; empty lists impose nothing.
#[derive(Debug, Clone, Default)]
pub struct CandidateFilter {
    /// Every one of these must be offered by the provider.
    pub required_capabilities: Vec<Capability>,
    /// Providers whose (fresh) usage status is one of these are excluded.
    pub avoid_statuses: Vec<UsageStatus>,
    /// Only these providers are considered (empty: all).
    pub allowed_providers: Vec<String>,
    /// Keep providers whose usage status is unknown (no fresh snapshot).
    pub include_usage_unknown: bool,
}

/// The usage facts one verdict rests on.
fn usage_fact(snap: Option<&CapacitySnapshot>, policy: &PolicyConfig, now: OffsetDateTime) -> CandidateUsage {
    let Some(s) = snap.filter(|s| s.raw.get("source").and_then(Value::as_str) != Some(usage::NO_SNAPSHOT_SOURCE))
    else {
        return CandidateUsage { status: UsageStatus::Unknown, checked_at: None, age_seconds: None, stale: false };
    };
    let age = usage::age_seconds(&s.checked_at, now);
    let stale = age > policy.usage_stale_after_seconds as f64;
    CandidateUsage {
        status: if stale { UsageStatus::Unknown } else { s.status },
        checked_at: Some(s.checked_at.clone()),
        age_seconds: Some((age * 10.0).round() / 10.0),
        stale,
    }
}

/// The reason a built-in fake nobody asked for is excluded.
pub const FAKE_NOT_REQUESTED: &str =
    "built-in fake provider (for tests): name it in allowed_providers or set `[providers.<id>] enabled = true`";

/// The verdict on one provider: `Ok(included reasons)` or `Err(excluded reasons)`, plus the
/// usage facts it used. `listed` is whether the provider shows without being asked for (see
/// `Settings::listed_by_default`); an `allowed_providers` list is itself the asking.
fn judge(
    d: &ProviderDescriptor,
    listed: bool,
    snap: Option<&CapacitySnapshot>,
    filter: &CandidateFilter,
    policy: &PolicyConfig,
    now: OffsetDateTime,
) -> (std::result::Result<Vec<String>, Vec<String>>, CandidateUsage) {
    let fact = usage_fact(snap, policy, now);
    let mut excluded = Vec::new();
    if !filter.allowed_providers.is_empty() && !filter.allowed_providers.contains(&d.id) {
        excluded.push("not in allowed_providers filter".to_owned());
    }
    if filter.allowed_providers.is_empty() && !listed {
        excluded.push(FAKE_NOT_REQUESTED.to_owned());
    }
    if !d.installed {
        excluded.push("not installed".to_owned());
    }
    let mut missing: Vec<&str> =
        filter.required_capabilities.iter().filter(|c| !d.capabilities.contains(c)).map(|c| c.as_str()).collect();
    missing.sort_unstable();
    missing.dedup();
    if !missing.is_empty() {
        excluded.push(format!("missing capabilities: {}", missing.join(", ")));
    }
    if filter.avoid_statuses.contains(&fact.status) {
        excluded.push(format!("usage status avoided: {}", fact.status));
    }
    if fact.status == UsageStatus::Unknown && !filter.include_usage_unknown {
        excluded.push(if fact.stale { "usage unknown (stored snapshot is stale)" } else { "usage unknown" }.to_owned());
    }
    if policy.denied_providers.contains(&d.id) {
        excluded.push("policy: provider denied".to_owned());
    }
    if !policy.allowed_providers.is_empty() && !policy.allowed_providers.contains(&d.id) {
        excluded.push("policy: provider not in allowed_providers".to_owned());
    }
    if !excluded.is_empty() {
        return (Err(excluded), fact);
    }
    let runtimes: Vec<&str> = d.runtimes.iter().map(|r: &RuntimeKind| r.as_str()).collect();
    let mut included = vec!["installed".to_owned(), format!("supports {}", runtimes.join(", "))];
    included.push(match (&fact.status, fact.stale) {
        (UsageStatus::Unknown, true) => "usage unknown (stored snapshot is stale)".to_owned(),
        (UsageStatus::Unknown, false) => "usage unknown (no stored snapshot)".to_owned(),
        (status, _) => format!("usage {status}"),
    });
    (Ok(included), fact)
}

impl Pool {
    /// Splits every registered provider (in configured order) into candidates and excluded
    /// ones, with reasons. Reads detection (cached) and stored usage only; never probes.
    pub async fn filter_candidates(&self, filter: &CandidateFilter) -> Result<Candidates> {
        let described = self.describe_providers(false).await;
        let snaps: BTreeMap<String, CapacitySnapshot> = usage::latest(self.store(), None).await?;
        let policy = &self.settings().config.policy;
        let now = OffsetDateTime::now_utc();
        let (mut candidates, mut excluded) = (Vec::new(), Vec::new());
        for d in &described {
            let listed = self.settings().listed_by_default(&d.id);
            let (verdict, usage) = judge(d, listed, snaps.get(&d.id), filter, policy, now);
            let provider_id = d.id.clone();
            match verdict {
                Ok(included_reasons) => candidates.push(Candidate { provider_id, included_reasons, usage }),
                Err(excluded_reasons) => excluded.push(ExcludedCandidate { provider_id, excluded_reasons, usage }),
            }
        }
        Ok(Candidates { candidates, excluded, advisory: ADVISORY.to_owned() })
    }
}

/// What every candidate list says: the filter only advises.
pub const ADVISORY: &str = "AgentPool never routes: choose provider_id and model explicitly when spawning";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuthState, Confidence};

    fn provider(id: &str, installed: bool, caps: &[Capability]) -> ProviderDescriptor {
        ProviderDescriptor {
            id: id.to_owned(),
            display_name: id.to_owned(),
            vendor: String::new(),
            harness: String::new(),
            installed,
            binary_path: None,
            version: None,
            auth: crate::provider::auth_status(AuthState::Unknown, Confidence::Unknown, None),
            models: Vec::new(),
            runtimes: if installed { vec![RuntimeKind::Tmux] } else { Vec::new() },
            capabilities: caps.to_vec(),
            usage: None,
            accounts: Vec::new(),
            warnings: Vec::new(),
            metadata: serde_json::Map::new(),
        }
    }

    fn snap(id: &str, status: UsageStatus, age_seconds: i64, now: OffsetDateTime) -> CapacitySnapshot {
        let mut s = usage::snapshot(id, status, Confidence::Official, "test");
        s.checked_at = crate::util::format_ts(now - time::Duration::seconds(age_seconds));
        s
    }

    fn filter(f: impl FnOnce(&mut CandidateFilter)) -> CandidateFilter {
        let mut c = CandidateFilter { include_usage_unknown: true, ..CandidateFilter::default() };
        f(&mut c);
        c
    }

    #[test]
    fn included_reasons_name_install_runtime_and_usage() {
        let now = OffsetDateTime::now_utc();
        let policy = PolicyConfig::default();
        let p = provider("codex-cli", true, &[Capability::LiveSteering]);
        let s = snap("codex-cli", UsageStatus::Available, 10, now);
        let (v, fact) = judge(&p, true, Some(&s), &filter(|_| {}), &policy, now);
        assert_eq!(v.unwrap(), ["installed", "supports tmux", "usage available"]);
        assert!(!fact.stale && fact.age_seconds.is_some());
        let (v, _) = judge(&p, true, None, &filter(|_| {}), &policy, now);
        assert_eq!(v.unwrap()[2], "usage unknown (no stored snapshot)");
    }

    #[test]
    fn excluded_reasons_accumulate_in_order() {
        let now = OffsetDateTime::now_utc();
        let policy = PolicyConfig { denied_providers: vec!["cursor-cli".into()], ..PolicyConfig::default() };
        let p = provider("cursor-cli", false, &[]);
        let f = filter(|f| {
            f.allowed_providers = vec!["codex-cli".into()];
            f.required_capabilities = vec![Capability::WorktreeEdits, Capability::CanRunTests];
            f.avoid_statuses = vec![UsageStatus::Unknown];
            f.include_usage_unknown = false;
        });
        let (v, _) = judge(&p, true, None, &f, &policy, now);
        assert_eq!(
            v.unwrap_err(),
            [
                "not in allowed_providers filter",
                "not installed",
                "missing capabilities: can_run_tests, worktree_edits",
                "usage status avoided: unknown",
                "usage unknown",
                "policy: provider denied",
            ]
        );
    }

    #[test]
    fn fakes_are_candidates_only_when_asked_for() {
        let now = OffsetDateTime::now_utc();
        let policy = PolicyConfig::default();
        let fake = provider("fake-question", true, &[]);
        let (v, _) = judge(&fake, false, None, &filter(|_| {}), &policy, now);
        assert_eq!(v.unwrap_err(), [FAKE_NOT_REQUESTED]);
        // Named in allowed_providers: an explicit choice.
        let (v, _) =
            judge(&fake, false, None, &filter(|f| f.allowed_providers = vec!["fake-question".into()]), &policy, now);
        assert!(v.is_ok(), "{v:?}");
        // Not named while others are: only the filter's reason.
        let (v, _) =
            judge(&fake, false, None, &filter(|f| f.allowed_providers = vec!["codex-cli".into()]), &policy, now);
        assert_eq!(v.unwrap_err(), ["not in allowed_providers filter"]);
        // Enabled explicitly in config (listed): an ordinary candidate.
        let (v, _) = judge(&fake, true, None, &filter(|_| {}), &policy, now);
        assert!(v.is_ok(), "{v:?}");
    }

    #[test]
    fn stale_snapshots_count_as_unknown_and_avoided_statuses_exclude() {
        let now = OffsetDateTime::now_utc();
        let policy = PolicyConfig { usage_stale_after_seconds: 60, ..PolicyConfig::default() };
        let p = provider("claude-code", true, &[]);
        let old = snap("claude-code", UsageStatus::LimitReached, 3600, now);
        let (v, fact) =
            judge(&p, true, Some(&old), &filter(|f| f.avoid_statuses = vec![UsageStatus::LimitReached]), &policy, now);
        assert!(fact.stale);
        assert_eq!(v.unwrap()[2], "usage unknown (stored snapshot is stale)");
        let fresh = snap("claude-code", UsageStatus::LimitReached, 5, now);
        let (v, _) = judge(
            &p,
            true,
            Some(&fresh),
            &filter(|f| f.avoid_statuses = vec![UsageStatus::LimitReached]),
            &policy,
            now,
        );
        assert_eq!(v.unwrap_err(), ["usage status avoided: limit_reached"]);
        let (v, _) = judge(&p, true, Some(&old), &filter(|f| f.include_usage_unknown = false), &policy, now);
        assert_eq!(v.unwrap_err(), ["usage unknown (stored snapshot is stale)"]);
    }
}
