//! The `stats/v1` document: what the pool did in a window, computed from the SQLite store.
//!
//! Cost model: three range queries (sessions by `created_at`, lifecycle events from the
//! covering index on `(event_type, ts, session_id)`, usage snapshots), then linear work in Rust (a sort for the
//! concurrency sweep, binary searches for walls). Timestamps are AgentPool's fixed-width
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so text order is time order in SQL, and they are parsed
//! with a fixed-width reader rather than a general RFC 3339 parser.
//!
//! Fixes over the reference (see `docs/stats.md`): an empty session selection selects no
//! events; `--scope mine` uses the stable coordinator id; walls, quota and tokens consider
//! enabled providers that have usage data (not every key of the config, fakes included);
//! token counts are read in both the normalised and ccusage's camelCase shapes.

use agentpool_core::store::SqlExt as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use agentpool_core::error::Result;
use agentpool_core::util;
use rusqlite::{Connection, params};
use serde_json::Value;
use time::OffsetDateTime;

use crate::report::{
    DataQuality, Parallelism, ProviderMap, Quota, SessionCounts, StatsFilters, StatsReport, StatsWindow, TokenCounts,
    TokenTotals, Tokens, Utilization, WallCounts, Walls,
};
use crate::window::Window;

/// Schema of the document.
pub const SCHEMA: &str = "stats/v1";
/// Optional sections, in output order.
pub const SECTIONS: &[&str] = &["sessions", "parallelism", "walls", "quota", "utilization", "tokens", "suggested_next"];
/// Providers whose usage source reports token counts.
const TOKEN_CAPABLE: &[&str] = &["claude-code"];

/// What to compute.
#[derive(Debug, Clone)]
pub struct Request {
    pub window: Window,
    pub provider: Option<String>,
    /// `Some(id)`: only sessions spawned by this coordinator (`--scope mine`).
    pub coordinator: Option<String>,
    /// Sections to keep (empty: all). Validated names from [`SECTIONS`].
    pub sections: Vec<String>,
}

/// Facts from settings and the registry.
#[derive(Debug, Clone)]
pub struct Env {
    /// Enabled provider ids.
    pub providers: Vec<String>,
    pub usage_stale_after_seconds: i64,
    pub min_remaining_percent: f64,
    pub now: OffsetDateTime,
}

/// Splits and checks `--sections` values (comma lists, repeatable); unknown names are an
/// `INVALID_REQUEST` listing the valid ones.
pub fn parse_sections(raw: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in raw.iter().flat_map(|r| r.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        let name = name.to_ascii_lowercase();
        if name == "coordinator_id" {
            continue; // always present with scope mine; accepted for compatibility
        }
        if !SECTIONS.contains(&name.as_str()) {
            return Err(agentpool_core::Error::new(
                agentpool_core::ErrorCode::InvalidRequest,
                format!("unknown stats section `{name}`; use: {}", SECTIONS.join(", ")),
            )
            .with("allowed", SECTIONS)
            .with("example", "agentpool stats --sections sessions,parallelism --json"));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

struct SessionRow {
    provider: String,
    role: String,
    state: String,
    start: i64,
    end: Option<i64>,
}

struct Snapshot {
    provider: String,
    ts: i64,
    status: String,
    min_remaining: Option<f64>,
}

/// Computes the document.
pub fn compute(conn: &Connection, req: &Request, env: &Env) -> Result<StatsReport> {
    let start_ts = req.window.start_ts();
    let end_ts = req.window.end_ts();
    let window_end = micros(&end_ts).unwrap_or(0);
    let provider = req.provider.as_deref();
    let coordinator = req.coordinator.as_deref();

    // --- sessions ---------------------------------------------------------------------
    // A window covering most of the history reads the table straight through: walking the
    // time index and then fetching each row costs more than a sequential scan.
    let sessions_scan = if wide(conn, "sessions", "created_at", &start_ts, &end_ts)? { "NOT INDEXED" } else { "" };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT id, provider_id, role, state, created_at, ended_at FROM sessions {sessions_scan}
         WHERE created_at >= ?1 AND created_at < ?2
           AND (?3 IS NULL OR provider_id = ?3)
           AND (?4 IS NULL OR json_extract(metadata_json, '$.coordinator_id') = ?4)"
        ))
        .sql()?;
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut sessions: Vec<SessionRow> = Vec::new();
    let mut rows = stmt.query(params![start_ts, end_ts, provider, coordinator]).sql()?;
    while let Some(r) = rows.next().sql()? {
        ids.insert(r.get(0).sql()?, sessions.len());
        sessions.push(SessionRow {
            provider: r.get(1).sql()?,
            role: r.get(2).sql()?,
            state: r.get(3).sql()?,
            start: micros(txt(r, 4).sql()?).unwrap_or(0),
            end: opt_txt(r, 5).sql()?.and_then(micros),
        });
    }
    drop(rows);

    // Lifecycle events of the selected sessions only (an empty selection counts none; the
    // reference counted every event then). The session filter is a hash lookup here rather
    // than a SQL join, which would look each event's session up in the table.
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut spawns: Vec<(String, i64)> = Vec::new();
    if !sessions.is_empty() {
        // Served from the covering index `idx_events_type_ts` (store migration 2).
        let mut stmt = conn
            .prepare_cached(
                "SELECT session_id, event_type, ts FROM events
             WHERE ts >= ?1 AND ts < ?2 AND event_type IN ('spawn', 'terminate', 'interrupt', 'timeout')",
            )
            .sql()?;
        let mut rows = stmt.query(params![start_ts, end_ts]).sql()?;
        while let Some(r) = rows.next().sql()? {
            let Some(&i) = ids.get(txt(r, 0).sql()?) else { continue };
            let kind = txt(r, 1).sql()?;
            if kind == "spawn" {
                spawns.push((sessions[i].provider.clone(), micros(txt(r, 2).sql()?).unwrap_or(0)));
            }
            match counts.get_mut(kind) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(kind.to_owned(), 1);
                }
            }
        }
    }

    let tally = |f: &dyn Fn(&SessionRow) -> &str| -> BTreeMap<String, u64> {
        let mut m: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &sessions {
            *m.entry(f(s)).or_default() += 1;
        }
        m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    let session_counts = SessionCounts {
        total: sessions.len() as u64,
        by_provider: tally(&|s| s.provider.as_str()),
        by_role: tally(&|s| s.role.as_str()),
        by_state: tally(&|s| s.state.as_str()),
        spawned: count("spawn"),
        terminated: count("terminate"),
        interrupted: count("interrupt"),
        timed_out: count("timeout"),
    };

    // --- parallelism ------------------------------------------------------------------
    let par = parallelism(&sessions, window_end);

    // --- usage snapshots ----------------------------------------------------------------
    let has_any: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM usage_snapshots)", [], |r| r.get(0)).sql()?;
    let stale_window = env.usage_stale_after_seconds.max(0).saturating_mul(2).saturating_mul(1_000_000);
    let with_data: BTreeSet<String> = if has_any {
        let mut stmt = conn.prepare_cached("SELECT DISTINCT provider_id FROM usage_snapshots").sql()?;
        let ids =
            stmt.query_map([], |r| r.get::<_, String>(0)).sql()?.collect::<rusqlite::Result<BTreeSet<_>>>().sql()?;
        ids.into_iter().filter(|id| env.providers.contains(id)).collect()
    } else {
        BTreeSet::new()
    };
    // Snapshots that can matter: in the window, or fresh enough at its start for walls.
    let earliest = util::format_ts(
        OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(micros(&start_ts).unwrap_or(0).saturating_sub(stale_window)) * 1000,
        )
        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    );
    let snapshots: Vec<Snapshot> = if has_any {
        let mut stmt = conn
            .prepare_cached(
                "SELECT provider_id, ts, status,
                    (SELECT MIN(CAST(json_extract(w.value, '$.remaining_percent') AS REAL))
                       FROM json_each(raw_json, '$.windows') w
                      WHERE json_extract(w.value, '$.remaining_percent') IS NOT NULL)
               FROM usage_snapshots WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, id",
            )
            .sql()?;
        stmt.query_map(params![earliest, end_ts], |r| {
            let ts: String = r.get(1)?;
            Ok(Snapshot {
                provider: r.get(0)?,
                ts: micros(&ts).unwrap_or(0),
                status: r.get(2)?,
                min_remaining: r.get(3)?,
            })
        })
        .sql()?
        .collect::<rusqlite::Result<_>>()
        .sql()?
    } else {
        Vec::new()
    };
    let mut by_provider: HashMap<&str, Vec<&Snapshot>> = HashMap::new();
    for s in &snapshots {
        by_provider.entry(s.provider.as_str()).or_default().push(s);
    }

    let mut data_quality: Vec<DataQuality> = Vec::new();

    // --- walls ------------------------------------------------------------------------
    let walls =
        walls(&spawns, &by_provider, &with_data, has_any, stale_window, env.min_remaining_percent, &mut data_quality);

    // --- quota ------------------------------------------------------------------------
    let window_start = micros(&start_ts).unwrap_or(0);
    let quota_providers: Vec<String> = match provider {
        Some(p) => vec![p.to_owned()],
        None => {
            let mut set: BTreeSet<String> = with_data.clone();
            set.extend(
                sessions
                    .iter()
                    .map(|s| s.provider.clone())
                    .filter(|p| env.providers.contains(p) && !p.starts_with("fake-")),
            );
            set.into_iter().collect()
        }
    };
    let mut quota = BTreeMap::new();
    for pid in &quota_providers {
        let in_window: Vec<&&Snapshot> = by_provider
            .get(pid.as_str())
            .map(|v| v.iter().filter(|s| s.ts >= window_start).collect())
            .unwrap_or_default();
        if in_window.is_empty() {
            data_quality.push(DataQuality {
                provider_id: Some(pid.clone()),
                ..DataQuality::new(
                    "no_usage_data_for_provider",
                    "quota and walls undercount",
                    format!("no usage snapshot for {pid} in this window; run `agentpool usage-summary --provider {pid} --refresh`"),
                )
            });
            continue;
        }
        let values: Vec<f64> = in_window.iter().filter_map(|s| s.min_remaining).collect();
        let fold = |f: fn(f64, f64) -> f64| values.iter().copied().reduce(f);
        quota.insert(
            pid.clone(),
            Quota {
                current_remaining_percent: in_window.last().and_then(|s| s.min_remaining),
                min_in_window: fold(f64::min),
                max_in_window: fold(f64::max),
                samples: in_window.len() as u64,
            },
        );
    }

    // --- utilization ------------------------------------------------------------------
    let window_hours = req.window.hours();
    let usable_hours = window_hours * quota.len() as f64;
    let worker_hours = par.sum_worker_hours;
    let utilization = Utilization {
        window_hours: round2(window_hours),
        usable_hours: round2(usable_hours),
        subscription_utilization: (usable_hours > 0.0).then(|| round2(worker_hours / usable_hours)),
        method: "sum(worker_hours)/sum(usable_hours_in_window)".into(),
    };

    // --- tokens -----------------------------------------------------------------------
    let tokens = tokens(conn, env, provider, &start_ts, &end_ts, &mut data_quality)?;

    // --- suggested next -----------------------------------------------------------------
    let mut suggested = Vec::new();
    if par.peak_at.is_some() {
        suggested.push("See which sessions overlapped at the peak: agentpool sessions --json (MCP: list_sessions).");
    }
    if walls.avoided.unwrap_or(0) > 0 {
        suggested.push("Check how work is spread across providers: agentpool usage-summary --json.");
    }
    if !data_quality.is_empty() {
        suggested.push("Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json.");
    }

    let wanted = |name: &str| req.sections.is_empty() || req.sections.iter().any(|s| s == name);
    Ok(StatsReport {
        schema_version: SCHEMA.into(),
        generated_at: util::format_ts(env.now),
        source: "computed".into(),
        scope: if coordinator.is_some() { "mine" } else { "all" }.into(),
        window: StatsWindow {
            start: start_ts,
            end: end_ts,
            label: req.window.label.clone(),
            spec: req.window.spec.clone(),
        },
        filters: StatsFilters { provider_id: provider.map(str::to_owned) },
        data_quality,
        coordinator_id: coordinator.map(str::to_owned),
        sessions: wanted("sessions").then_some(session_counts),
        parallelism: wanted("parallelism").then_some(par),
        walls: wanted("walls").then_some(walls),
        quota: wanted("quota").then_some(quota),
        utilization: wanted("utilization").then_some(utilization),
        tokens: wanted("tokens").then_some(tokens),
        suggested_next: wanted("suggested_next").then(|| suggested.into_iter().map(str::to_owned).collect()),
    })
}

fn conversion(i: usize, e: rusqlite::types::FromSqlError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

/// Column `i` as borrowed text (no allocation per row).
fn txt<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'a str> {
    r.get_ref(i)?.as_str().map_err(|e| conversion(i, e))
}

fn opt_txt<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'a str>> {
    r.get_ref(i)?.as_str_or_null().map_err(|e| conversion(i, e))
}

/// Whether `[start, end)` covers most of `table`'s history by `column` (both ends come from
/// the index, so this costs two lookups).
fn wide(conn: &Connection, table: &str, column: &str, start: &str, end: &str) -> Result<bool> {
    let (first, last): (Option<String>, Option<String>) = conn
        .query_row(&format!("SELECT MIN({column}), MAX({column}) FROM {table}"), [], |r| Ok((r.get(0)?, r.get(1)?)))
        .sql()?;
    let (Some(first), Some(last)) = (first.as_deref().and_then(micros), last.as_deref().and_then(micros)) else {
        return Ok(false);
    };
    let (start, end) = (micros(start).unwrap_or(0).max(first), micros(end).unwrap_or(0).min(last));
    let span = (last - first).max(1);
    Ok((end - start) * 10 >= span * 3)
}

/// Worker-hours, wall-clock span, their ratio and peak concurrency. Touching intervals
/// overlap (a start sorts before an end at the same instant).
fn parallelism(sessions: &[SessionRow], window_end: i64) -> Parallelism {
    if sessions.is_empty() {
        return Parallelism {
            wall_clock_hours: 0.0,
            sum_worker_hours: 0.0,
            ratio: None,
            peak_concurrent: 0,
            peak_at: None,
        };
    }
    let mut points: Vec<(i64, i8)> = Vec::with_capacity(sessions.len() * 2);
    let (mut first, mut last, mut sum) = (i64::MAX, i64::MIN, 0i128);
    for s in sessions {
        let end = s.end.unwrap_or(window_end).max(s.start);
        first = first.min(s.start);
        last = last.max(end);
        sum += i128::from(end - s.start);
        points.push((s.start, 0)); // 0 sorts before 1: starts first at equal instants
        points.push((end, 1));
    }
    points.sort_unstable();
    let (mut running, mut peak, mut peak_at) = (0u64, 0u64, None);
    for (t, kind) in points {
        if kind == 0 {
            running += 1;
            if running > peak {
                peak = running;
                peak_at = Some(t);
            }
        } else {
            running -= 1;
        }
    }
    let hours = |us: f64| us / 3_600_000_000.0;
    let wall = hours((last - first) as f64);
    let sum = hours(sum as f64);
    Parallelism {
        wall_clock_hours: round2(wall),
        sum_worker_hours: round2(sum),
        ratio: (wall > 0.0).then(|| round2(sum / wall)),
        peak_concurrent: peak,
        peak_at: peak_at.map(format_micros),
    }
}

/// Why a snapshot makes its provider a bad choice for quota reasons, if it does.
fn quota_reason(s: &Snapshot, min_remaining_percent: f64) -> Option<String> {
    match s.status.as_str() {
        "limit_reached" => Some("limit_reached".into()),
        "near_limit" => Some("near_limit".into()),
        _ => match s.min_remaining {
            Some(r) if r < min_remaining_percent => {
                Some(format!("remaining_below_{}_percent", fmt_num(min_remaining_percent)))
            }
            _ => None,
        },
    }
}

/// Usable for new work as far as a snapshot tells (quota and sign-in).
fn usable(s: &Snapshot, min_remaining_percent: f64) -> bool {
    quota_reason(s, min_remaining_percent).is_none() && !matches!(s.status.as_str(), "unauthenticated" | "unavailable")
}

/// Newest snapshot at or before `t` that is no older than `max_age` µs.
fn latest_at<'a>(list: Option<&Vec<&'a Snapshot>>, t: i64, max_age: i64) -> Option<&'a Snapshot> {
    let list = list?;
    let idx = list.partition_point(|s| s.ts <= t);
    let s = *list.get(idx.checked_sub(1)?)?;
    (t - s.ts <= max_age).then_some(s)
}

/// Spawns that hit a quota wall (the provider spawned was already limited) or avoided one
/// (it was usable while another provider with data was limited).
fn walls(
    spawns: &[(String, i64)],
    snaps: &HashMap<&str, Vec<&Snapshot>>,
    with_data: &BTreeSet<String>,
    has_any: bool,
    max_age: i64,
    min_remaining: f64,
    data_quality: &mut Vec<DataQuality>,
) -> Walls {
    let definition = "see docs/stats.md#walls".to_owned();
    if spawns.is_empty() || !has_any {
        if !has_any {
            data_quality.push(DataQuality::new(
                "no_usage_data_in_window",
                "walls undercount",
                "no usage snapshots recorded; walls need `agentpool usage-summary --refresh` runs around spawns",
            ));
        }
        let zero = has_any.then_some(0);
        return Walls {
            definition,
            hit: zero,
            avoided: zero,
            by_provider: BTreeMap::new(),
            confidence: if has_any { "high" } else { "low" }.into(),
        };
    }
    let (mut hit, mut avoided, mut unknown) = (0u64, 0u64, 0usize);
    let mut per: BTreeMap<&str, WallCounts> = BTreeMap::new();
    for (p, t) in spawns {
        let entry = per.entry(p.as_str()).or_default();
        let mut neighbour_unknown = false;
        let mut neighbour_limited = false;
        for q in with_data {
            match latest_at(snaps.get(q.as_str()), *t, max_age) {
                None => neighbour_unknown = true,
                Some(s) if q != p && quota_reason(s, min_remaining).is_some() => neighbour_limited = true,
                Some(_) => {}
            }
        }
        if neighbour_unknown {
            unknown += 1;
        }
        let Some(own) = latest_at(snaps.get(p.as_str()), *t, max_age) else { continue };
        if usable(own, min_remaining) && neighbour_limited {
            avoided += 1;
            entry.avoided += 1;
        } else if quota_reason(own, min_remaining).is_some() {
            hit += 1;
            entry.hit += 1;
        }
    }
    let low = unknown * 2 > spawns.len();
    if low {
        data_quality.push(DataQuality::new(
            "walls_low_confidence",
            "walls may be undercounted",
            format!("{unknown} of {} spawns had no fresh usage snapshot for some provider", spawns.len()),
        ));
    }
    Walls {
        definition,
        hit: Some(hit),
        avoided: Some(avoided),
        by_provider: per.into_iter().map(|(k, c)| (k.to_owned(), c)).collect(),
        confidence: if low { "low" } else { "high" }.into(),
    }
}

/// Token counts from the newest snapshot in the window of each provider that reports them.
fn tokens(
    conn: &Connection,
    env: &Env,
    filter: Option<&str>,
    start: &str,
    end: &str,
    data_quality: &mut Vec<DataQuality>,
) -> Result<Tokens> {
    let candidates: Vec<&String> = env.providers.iter().filter(|p| filter.is_none_or(|f| f == p.as_str())).collect();
    let mut by_provider = ProviderMap::default();
    let (mut total_in, mut total_out) = (0i64, 0i64);
    let mut stmt = conn.prepare_cached(
        "SELECT raw_json FROM usage_snapshots WHERE provider_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts DESC, id DESC LIMIT 1",
    ).sql()?;
    for pid in &candidates {
        let raw: Option<String> =
            stmt.query_map(params![pid, start, end], |r| r.get(0)).sql()?.next().transpose().sql()?;
        let Some(raw) = raw else { continue };
        let Ok(snap) = serde_json::from_str::<Value>(&raw) else { continue };
        let Some(counts) = token_counts(&snap["raw"]) else { continue };
        total_in += counts.input;
        total_out += counts.output;
        by_provider.insert((*pid).clone(), counts);
    }
    let capable: Vec<&str> = candidates
        .iter()
        .map(|p| p.as_str())
        .filter(|p| TOKEN_CAPABLE.contains(p) || by_provider.contains_key(p))
        .collect();
    let without: Vec<&str> = candidates.iter().map(|p| p.as_str()).filter(|p| !by_provider.contains_key(p)).collect();
    if !by_provider.is_empty() {
        data_quality.push(DataQuality {
            code: "tokens_partial".into(),
            provider_id: None,
            providers: Some(by_provider.keys().map(str::to_owned).collect()),
            impact: None,
            note: "ccusage exposes only current 5h block".into(),
        });
    } else if capable.is_empty() {
        data_quality.push(DataQuality::new(
            "no_token_capable_providers",
            "tokens null",
            "no enabled provider reports token counts",
        ));
    } else {
        data_quality.push(DataQuality {
            providers: Some(capable.into_iter().map(str::to_owned).collect()),
            ..DataQuality::new(
                "no_token_data_available",
                "tokens null",
                "no usage snapshot in this window carries token counts (claude-code needs the ccusage backend)",
            )
        });
    }
    let totals = if by_provider.is_empty() {
        TokenTotals { input: None, output: None }
    } else {
        TokenTotals { input: Some(total_in), output: Some(total_out) }
    };
    Ok(Tokens { by_provider, totals, providers_without_token_data: without.into_iter().map(str::to_owned).collect() })
}

/// `raw.token_counts` or `raw.ccusage.token_counts`, in snake_case or ccusage's camelCase.
fn token_counts(raw: &Value) -> Option<TokenCounts> {
    let src = [&raw["token_counts"], &raw["ccusage"]["token_counts"], &raw["ccusage"]["tokenCounts"]]
        .into_iter()
        .find(|v| v.is_object())?;
    let num = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            let v = &src[*k];
            v.as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
    };
    let input = num(&["input", "inputTokens", "input_tokens"]);
    let output = num(&["output", "outputTokens", "output_tokens"]);
    if input.is_none() && output.is_none() {
        return None;
    }
    Some(TokenCounts {
        input: input.unwrap_or(0),
        output: output.unwrap_or(0),
        cache_creation: num(&["cache_creation", "cacheCreationTokens", "cache_creation_input_tokens"]),
        cache_read: num(&["cache_read", "cacheReadTokens", "cache_read_input_tokens"]),
        data_quality: "active_5h_block_only".into(),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 { format!("{}", x as i64) } else { format!("{x}") }
}

/// Microseconds since the epoch of AgentPool's fixed-width UTC timestamps
/// (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`); anything else goes through the RFC 3339 parser.
pub fn micros(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    let fixed = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b.last() == Some(&b'Z');
    if fixed {
        let n = |r: std::ops::Range<usize>| -> Option<i64> {
            let mut v = 0i64;
            for &c in b.get(r)? {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some(v)
        };
        let frac = match b.get(19) {
            Some(b'.') => {
                let digits = &b[20..b.len() - 1];
                if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
                    return slow(ts);
                }
                let mut v = 0i64;
                for i in 0..6 {
                    v = v * 10 + digits.get(i).map_or(0, |c| i64::from(c - b'0'));
                }
                v
            }
            Some(b'Z') if b.len() == 20 => 0,
            _ => return slow(ts),
        };
        if let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) =
            (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19))
        {
            return Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000 + frac);
        }
    }
    slow(ts)
}

fn slow(ts: &str) -> Option<i64> {
    util::parse_ts(ts).map(|t| (t.unix_timestamp_nanos() / 1000) as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn format_micros(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).map(util::format_ts).unwrap_or_default()
}
