//! The `stats/v1` document and the share card result as typed values: what [`crate::compute`]
//! and [`crate::share`] return, what CLI `stats --json` prints and MCP `get_stats` /
//! `get_stats_card` return, and where the MCP output schemas come from. Field order is wire
//! order; `docs/stats.md` is the contract.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `stats/v1`: what the pool did in a window. The core keys are always present; each section
/// only when asked for (all of them by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatsReport {
    /// Always `stats/v1`.
    pub schema_version: String,
    /// When the document was computed (UTC, microseconds).
    pub generated_at: String,
    /// Always `computed` (read from the store, nothing probed).
    pub source: String,
    /// `all` sessions, or `mine`: those spawned by `coordinator_id`.
    pub scope: String,
    /// The window counted, `[start, end)`.
    pub window: StatsWindow,
    /// The filters applied.
    pub filters: StatsFilters,
    /// Caveats about the data behind the numbers (walls entries, quota entries, the tokens
    /// entry, in that order).
    pub data_quality: Vec<DataQuality>,
    /// The coordinator whose sessions were counted (scope `mine` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub coordinator_id: Option<String>,
    /// Session counts and lifecycle event counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "SessionCounts")]
    pub sessions: Option<SessionCounts>,
    /// Worker-hours against wall-clock hours, and peak concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Parallelism")]
    pub parallelism: Option<Parallelism>,
    /// Spawns that hit or avoided a usage wall (see `docs/stats.md#walls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Walls")]
    pub walls: Option<Walls>,
    /// Remaining quota per provider over the window's usage snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "BTreeMap<String, Quota>")]
    pub quota: Option<BTreeMap<String, Quota>>,
    /// Worker-hours against usable subscription hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Utilization")]
    pub utilization: Option<Utilization>,
    /// Token counts of the providers whose usage carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Tokens")]
    pub tokens: Option<Tokens>,
    /// Up to three next commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<String>")]
    pub suggested_next: Option<Vec<String>>,
}

/// CLI `stats --share --json`: the document, then the card written for it, as one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SharedReport {
    #[serde(flatten)]
    pub report: StatsReport,
    /// The card written for the document.
    pub share_card: ShareCard,
}

/// A resolved window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatsWindow {
    /// Inclusive start (UTC).
    pub start: String,
    /// Exclusive end (UTC).
    pub end: String,
    /// For people: `last 7d`, `all time`, `2026-03-01 to 2026-03-08`.
    pub label: String,
    /// The normalised spec: `7d`, `all`, `FROM/TO`.
    pub spec: String,
}

/// Filters of the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatsFilters {
    /// Only this provider's sessions (null: every provider).
    pub provider_id: Option<String>,
}

/// A caveat: which numbers it affects and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DataQuality {
    /// `no_usage_data_in_window`, `walls_low_confidence`, `no_usage_data_for_provider`,
    /// `tokens_partial`, `no_token_capable_providers` or `no_token_data_available`.
    pub code: String,
    /// The provider concerned (`no_usage_data_for_provider`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The providers concerned (`tokens_partial`, `no_token_data_available`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    /// Which numbers are affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// What happened, and what to run about it.
    pub note: String,
}

impl DataQuality {
    /// A caveat with an impact and no provider.
    pub fn new(code: &str, impact: &str, note: impl Into<String>) -> Self {
        Self { code: code.into(), provider_id: None, providers: None, impact: Some(impact.into()), note: note.into() }
    }
}

/// The `sessions` section: sessions created in the window, and their lifecycle events in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionCounts {
    /// Sessions selected.
    pub total: u64,
    /// Sessions per provider id (sorted).
    pub by_provider: BTreeMap<String, u64>,
    /// Sessions per role (sorted).
    pub by_role: BTreeMap<String, u64>,
    /// Sessions per state as stored, e.g. `COMPLETED` (sorted).
    pub by_state: BTreeMap<String, u64>,
    /// `spawn` events.
    pub spawned: u64,
    /// `terminate` events.
    pub terminated: u64,
    /// `interrupt` events.
    pub interrupted: u64,
    /// `timeout` events.
    pub timed_out: u64,
}

/// The `parallelism` section (hours rounded to two decimals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Parallelism {
    /// Latest end − earliest start.
    pub wall_clock_hours: f64,
    /// Total of the sessions' spans.
    pub sum_worker_hours: f64,
    /// `sum_worker_hours / wall_clock_hours` (null when wall-clock is 0).
    pub ratio: Option<f64>,
    /// Most sessions running at once.
    pub peak_concurrent: u64,
    /// First instant of the peak (null without sessions).
    pub peak_at: Option<String>,
}

/// The `walls` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Walls {
    /// Where the rule is written down.
    pub definition: String,
    /// Spawns of a provider that was limited (null without any usage snapshot).
    pub hit: Option<u64>,
    /// Spawns of a usable provider while another was limited (null without any snapshot).
    pub avoided: Option<u64>,
    /// Per provider spawned (sorted).
    pub by_provider: BTreeMap<String, WallCounts>,
    /// `high`, or `low` when most spawns lacked a fresh snapshot for some provider.
    pub confidence: String,
}

/// Walls of one provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WallCounts {
    /// Spawns of this provider while it was limited.
    pub hit: u64,
    /// Spawns of this provider while it was usable and another was limited.
    pub avoided: u64,
}

/// Quota of one provider: the smallest window `remaining_percent` of each snapshot in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Quota {
    /// Of the latest snapshot.
    pub current_remaining_percent: Option<f64>,
    /// Lowest over the window (null when no snapshot had a window percentage).
    pub min_in_window: Option<f64>,
    /// Highest over the window (null when no snapshot had a window percentage).
    pub max_in_window: Option<f64>,
    /// Snapshots in the window.
    pub samples: u64,
}

/// The `utilization` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Utilization {
    /// Length of the window.
    pub window_hours: f64,
    /// Window hours × providers in `quota`.
    pub usable_hours: f64,
    /// `sum_worker_hours / usable_hours` (null when there are no usable hours).
    pub subscription_utilization: Option<f64>,
    /// How `subscription_utilization` is computed.
    pub method: String,
}

/// The `tokens` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tokens {
    /// From the newest snapshot in the window of each provider whose usage carries token
    /// counts, in the registry's provider order.
    pub by_provider: ProviderMap<TokenCounts>,
    /// Sums over `by_provider` (nulls when it is empty).
    pub totals: TokenTotals,
    /// Enabled providers (after the provider filter) without token counts in the window.
    pub providers_without_token_data: Vec<String>,
}

/// Token counts of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenCounts {
    /// Input tokens (0 when the usage source reported only output).
    pub input: i64,
    /// Output tokens (0 when the usage source reported only input).
    pub output: i64,
    /// Cache-creation tokens, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<i64>,
    /// Cache-read tokens, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<i64>,
    /// Always `active_5h_block_only`: the counts cover the current 5-hour block.
    pub data_quality: String,
}

/// Token totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenTotals {
    /// Sum of `input` (null without token data).
    pub input: Option<i64>,
    /// Sum of `output` (null without token data).
    pub output: Option<i64>,
}

/// A written share card (`get_stats_card`, and `share_card` of CLI `stats --share`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShareCard {
    /// Absolute path of the PNG file.
    pub path: String,
    /// Size of the file.
    pub bytes: u64,
    /// Always 1200.
    pub width: u32,
    /// Always 630.
    pub height: u32,
    /// The window's spec (`window.spec` of the document).
    pub stats_window: String,
    /// `generated_at` of the document.
    pub generated_at: String,
}

/// A JSON object keyed by provider id whose keys keep the order they were inserted in (a
/// `BTreeMap` would sort them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMap<T>(Vec<(String, T)>);

impl<T> Default for ProviderMap<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> ProviderMap<T> {
    /// Adds `id` at the end (replacing an earlier value of the same id in place).
    pub fn insert(&mut self, id: String, value: T) {
        match self.0.iter_mut().find(|(k, _)| *k == id) {
            Some(slot) => slot.1 = value,
            None => self.0.push((id, value)),
        }
    }

    /// The value of `id`.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }

    /// Whether `id` has a value.
    pub fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Whether no provider has a value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many providers have a value.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Provider ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<T> FromIterator<(String, T)> for ProviderMap<T> {
    fn from_iter<I: IntoIterator<Item = (String, T)>>(iter: I) -> Self {
        let mut map = Self::default();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<T: Serialize> Serialize for ProviderMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ProviderMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for InOrder<T> {
            type Value = ProviderMap<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object keyed by provider id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = ProviderMap::default();
                while let Some((k, v)) = access.next_entry::<String, T>()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(InOrder(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for ProviderMap<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <BTreeMap<String, T>>::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <BTreeMap<String, T>>::json_schema(generator)
    }
}
