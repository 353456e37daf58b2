//! What the usage reports return: snapshots (`usage`), the summary (`usage-summary`), the
//! candidate filter and the model catalog check. Like every `api` result, each serialises to
//! exactly the JSON both front ends print or return (field order is wire order), and the MCP
//! output schemas are generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PreferencesRef;
use crate::model::{AuthState, CapacitySnapshot, Confidence, UsageStatus};

/// Where a usage result's figures come from: `live_probe` (probed during this call) or
/// `sqlite_cache` (the latest stored snapshots; no probe ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    LiveProbe,
    SqliteCache,
}

impl UsageSource {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LiveProbe => "live_probe",
            Self::SqliteCache => "sqlite_cache",
        }
    }
}

impl std::fmt::Display for UsageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Snapshots probed during the call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LiveSnapshots {
    /// One per selected provider, in listing order; a provider that did not answer within the
    /// budget is an `unknown` placeholder (never stored).
    pub snapshots: Vec<CapacitySnapshot>,
    /// `live_probe`.
    pub source: UsageSource,
    /// The backend asked for: `native`, `codexbar`, `ccusage` or `combined`.
    pub backend: String,
    /// Some provider did not answer within the time budget.
    pub partial: bool,
}

/// The latest stored snapshots.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CachedSnapshots {
    /// The latest stored snapshot of each selected provider that has one.
    pub snapshots: Vec<CapacitySnapshot>,
    /// `sqlite_cache`.
    pub source: UsageSource,
}

/// `usage`: snapshots probed now, or with `cached` the stored ones.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UsageSnapshots {
    Live(LiveSnapshots),
    Cached(CachedSnapshots),
}

impl UsageSnapshots {
    /// The snapshots, whichever way they were read.
    pub fn snapshots(&self) -> &[CapacitySnapshot] {
        match self {
            Self::Live(l) => &l.snapshots,
            Self::Cached(c) => &c.snapshots,
        }
    }

    /// Where they come from.
    pub fn source(&self) -> UsageSource {
        match self {
            Self::Live(l) => l.source,
            Self::Cached(c) => c.source,
        }
    }

    /// Some provider did not answer within the time budget (never for cached reads).
    pub fn partial(&self) -> bool {
        matches!(self, Self::Live(l) if l.partial)
    }
}

/// A usage window as the summary shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummaryWindow {
    pub name: String,
    /// The window's length (`5h`, `weekly`, …), or `unknown`; the summary line then uses `name`.
    pub kind: String,
    pub remaining_percent: Option<f64>,
    pub used_percent: Option<f64>,
    pub remaining_units: Option<f64>,
    pub reset_at: Option<String>,
    pub confidence: Confidence,
}

/// One provider in the usage summary: can it take work now, and how sure is that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UsageSummaryRow {
    pub provider_id: String,
    pub status: UsageStatus,
    pub confidence: Confidence,
    /// Null when detection did not finish within the budget.
    pub installed: Option<bool>,
    pub auth_status: Option<AuthState>,
    /// Whether the provider can take work now (then `unusable_reason` is null).
    pub usable: bool,
    /// The first reason that holds, in this order: `not_installed`, `auth_…`, the status,
    /// `usage_unknown`, `confidence_…`, `<window>_below_<n>_percent`.
    pub unusable_reason: Option<String>,
    /// Older than `policy.usage_stale_after_seconds`, or nothing stored.
    pub stale: bool,
    /// Seconds since `checked_at`, to the millisecond; null when nothing is stored.
    pub age_seconds: Option<f64>,
    /// Null when nothing is stored.
    pub checked_at: Option<String>,
    pub windows: Vec<SummaryWindow>,
    pub credits_remaining: Option<f64>,
    pub warnings: Vec<String>,
    /// Where the snapshot came from (its `raw.source`, e.g. `codex_app_server`,
    /// `agentpool_no_snapshot`, `agentpool_usage_timeout`).
    pub source: Option<String>,
    /// One line, e.g. `5h 55% left, weekly 29% left, $0 credits`.
    pub summary: String,
}

/// How many summary rows are usable, unusable, and in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UsageCounts {
    pub total: usize,
    pub usable: usize,
    pub unusable: usize,
    pub available: usize,
    pub near_limit: usize,
    pub limit_reached: usize,
    pub unknown: usize,
    pub unavailable: usize,
    pub unauthenticated: usize,
    pub overage_possible: usize,
}

impl UsageCounts {
    /// Counts one row.
    pub fn add(&mut self, status: UsageStatus, usable: bool) {
        self.total += 1;
        if usable {
            self.usable += 1;
        } else {
            self.unusable += 1;
        }
        match status {
            UsageStatus::Available => self.available += 1,
            UsageStatus::NearLimit => self.near_limit += 1,
            UsageStatus::LimitReached => self.limit_reached += 1,
            UsageStatus::Unknown => self.unknown += 1,
            UsageStatus::Unavailable => self.unavailable += 1,
            UsageStatus::Unauthenticated => self.unauthenticated += 1,
            UsageStatus::OveragePossible => self.overage_possible += 1,
        }
    }
}

/// `usage-summary`: per provider whether it can take work now.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UsageSummary {
    pub checked_at: String,
    /// One row per selected provider, by id.
    pub providers: BTreeMap<String, UsageSummaryRow>,
    /// `policy.min_remaining_percent`: a window below it makes a provider unusable.
    pub min_remaining_percent: f64,
    /// The unusable provider whose window resets first (in the future).
    pub next_available_provider: Option<String>,
    pub next_available_at: Option<String>,
    pub counts: UsageCounts,
    pub preferences: PreferencesRef,
    pub source: UsageSource,
    /// The backend probed (`native`, `codexbar`, `ccusage`, `combined`), or `cache`.
    pub backend: String,
    /// Some provider did not answer within the time budget.
    pub partial: bool,
}

/// What a candidate verdict knew of a provider's usage: its latest stored snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CandidateUsage {
    /// `unknown` when nothing is stored or the snapshot is stale.
    pub status: UsageStatus,
    pub checked_at: Option<String>,
    /// To a tenth of a second.
    pub age_seconds: Option<f64>,
    /// Older than `policy.usage_stale_after_seconds`.
    pub stale: bool,
}

/// A provider that could take the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Candidate {
    pub provider_id: String,
    pub included_reasons: Vec<String>,
    pub usage: CandidateUsage,
}

/// A provider that could not, and every reason why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExcludedCandidate {
    pub provider_id: String,
    pub excluded_reasons: Vec<String>,
    pub usage: CandidateUsage,
}

/// The candidate filter's advice (it never chooses a provider).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Candidates {
    pub candidates: Vec<Candidate>,
    pub excluded: Vec<ExcludedCandidate>,
    pub advisory: String,
}

/// A model catalog check (`models validate`, `validate_model_catalog`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogValidation {
    /// No errors (warnings allowed).
    pub ok: bool,
    /// The file checked, or the embedded catalog's name.
    pub path: String,
    pub errors: Vec<String>,
    /// Problems that do not fail the check (e.g. provider ids this build does not know).
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UsageWindow;

    fn snapshot() -> CapacitySnapshot {
        let mut s =
            crate::usage::snapshot("codex-cli", UsageStatus::NearLimit, Confidence::Official, "codex_app_server");
        s.checked_at = "2026-05-08T10:00:00.000000Z".into();
        s.windows.push(UsageWindow {
            name: "weekly".into(),
            kind: "weekly".into(),
            status: None,
            remaining_percent: Some(8.0),
            used_percent: Some(92.0),
            remaining_units: None,
            used_units: None,
            reset_at: Some("2026-05-08T13:00:00.000000Z".into()),
            confidence: Confidence::Official,
            raw_text: None,
        });
        s
    }

    const SNAPSHOT: &str = concat!(
        r#"{"provider_id":"codex-cli","status":"near_limit","confidence":"official","#,
        r#""checked_at":"2026-05-08T10:00:00.000000Z","windows":[{"name":"weekly","kind":"weekly","status":null,"#,
        r#""remaining_percent":8.0,"used_percent":92.0,"remaining_units":null,"used_units":null,"#,
        r#""reset_at":"2026-05-08T13:00:00.000000Z","confidence":"official","raw_text":null}],"#,
        r#""premium_requests_remaining":null,"credits_remaining":null,"reset_at":null,"warnings":[],"#,
        r#""raw":{"source":"codex_app_server"}}"#
    );

    #[test]
    fn snapshots_serialise_as_the_wire_json() {
        let live = UsageSnapshots::Live(LiveSnapshots {
            snapshots: vec![snapshot()],
            source: UsageSource::LiveProbe,
            backend: "native".into(),
            partial: false,
        });
        assert_eq!(
            serde_json::to_string(&live).unwrap(),
            format!(r#"{{"snapshots":[{SNAPSHOT}],"source":"live_probe","backend":"native","partial":false}}"#)
        );
        assert!(!live.partial() && live.source() == UsageSource::LiveProbe && live.snapshots().len() == 1);
        let cached = UsageSnapshots::Cached(CachedSnapshots { snapshots: vec![], source: UsageSource::SqliteCache });
        assert_eq!(serde_json::to_string(&cached).unwrap(), r#"{"snapshots":[],"source":"sqlite_cache"}"#);
        // Read back, each document is its own shape again.
        let back: UsageSnapshots = serde_json::from_str(r#"{"snapshots":[],"source":"sqlite_cache"}"#).unwrap();
        assert!(matches!(back, UsageSnapshots::Cached(_)));
    }

    #[test]
    fn a_summary_serialises_as_the_wire_json() {
        let snaps = [("codex-cli".to_owned(), snapshot())].into_iter().collect();
        let now = crate::util::parse_ts("2026-05-08T12:00:00Z").unwrap();
        let preferences = PreferencesRef {
            path: "home/preferences.md".into(),
            resource_uri: "agentpool://preferences.md".into(),
            exists: false,
            using_default_template: true,
            read_hint: "read these".into(),
            digest: vec![],
            text: None,
        };
        let provenance = crate::usage::Provenance {
            preferences,
            source: UsageSource::SqliteCache,
            backend: "cache".to_owned(),
            partial: false,
        };
        let summary =
            crate::usage::summary(&snaps, &BTreeMap::new(), &crate::config::PolicyConfig::default(), now, provenance);
        assert_eq!(
            serde_json::to_string(&summary).unwrap(),
            concat!(
                r#"{"checked_at":"2026-05-08T12:00:00.000000Z","providers":{"codex-cli":{"provider_id":"codex-cli","#,
                r#""status":"near_limit","confidence":"official","installed":null,"auth_status":null,"usable":false,"#,
                r#""unusable_reason":"weekly_below_10_percent","stale":true,"age_seconds":7200.0,"#,
                r#""checked_at":"2026-05-08T10:00:00.000000Z","windows":[{"name":"weekly","kind":"weekly","#,
                r#""remaining_percent":8.0,"used_percent":92.0,"remaining_units":null,"#,
                r#""reset_at":"2026-05-08T13:00:00.000000Z","confidence":"official"}],"credits_remaining":null,"#,
                r#""warnings":[],"source":"codex_app_server","summary":"weekly 8% left"}},"#,
                r#""min_remaining_percent":10.0,"next_available_provider":"codex-cli","#,
                r#""next_available_at":"2026-05-08T13:00:00.000000Z","counts":{"total":1,"usable":0,"unusable":1,"#,
                r#""available":0,"near_limit":1,"limit_reached":0,"unknown":0,"unavailable":0,"unauthenticated":0,"#,
                r#""overage_possible":0},"preferences":{"path":"home/preferences.md","#,
                r#""resource_uri":"agentpool://preferences.md","exists":false,"using_default_template":true,"#,
                r#""read_hint":"read these","digest":[]},"source":"sqlite_cache","backend":"cache","partial":false}"#
            )
        );
    }

    #[test]
    fn candidates_serialise_as_the_wire_json() {
        let usage = |status, stale| CandidateUsage {
            status,
            checked_at: Some("2026-05-08T10:00:00.000000Z".into()),
            age_seconds: Some(12.5),
            stale,
        };
        let c = Candidates {
            candidates: vec![Candidate {
                provider_id: "codex-cli".into(),
                included_reasons: vec!["installed".into(), "supports tmux".into(), "usage available".into()],
                usage: usage(UsageStatus::Available, false),
            }],
            excluded: vec![ExcludedCandidate {
                provider_id: "cursor-cli".into(),
                excluded_reasons: vec!["not installed".into()],
                usage: CandidateUsage {
                    status: UsageStatus::Unknown,
                    checked_at: None,
                    age_seconds: None,
                    stale: false,
                },
            }],
            advisory: crate::candidates::ADVISORY.into(),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            concat!(
                r#"{"candidates":[{"provider_id":"codex-cli","included_reasons":["installed","supports tmux","#,
                r#""usage available"],"usage":{"status":"available","checked_at":"2026-05-08T10:00:00.000000Z","#,
                r#""age_seconds":12.5,"stale":false}}],"excluded":[{"provider_id":"cursor-cli","#,
                r#""excluded_reasons":["not installed"],"usage":{"status":"unknown","checked_at":null,"#,
                r#""age_seconds":null,"stale":false}}],"#,
                r#""advisory":"AgentPool never routes: choose provider_id and model explicitly when spawning"}"#
            )
        );
    }

    #[test]
    fn a_catalog_check_serialises_as_the_wire_json() {
        let v = CatalogValidation {
            ok: false,
            path: "catalog.json".into(),
            errors: vec!["catalog.providers is required".into()],
            warnings: vec![],
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"ok":false,"path":"catalog.json","errors":["catalog.providers is required"],"warnings":[]}"#
        );
    }
}
