//! Pins every metric of `stats/v1` on a small hand-made database.

#![allow(clippy::unwrap_used)]

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::{Env, Request, parse_range, parse_sections};

const NOW: OffsetDateTime = datetime!(2026-03-02 00:00 UTC);

fn ts(hm: &str) -> String {
    format!("2026-03-01T{hm}:00.000000Z")
}

/// A fresh, migrated database (through the real store, so the schema is the real one).
fn db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agentpool.sqlite");
    drop(agentpool_core::store::Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    (dir, conn)
}

fn session(
    c: &Connection,
    id: &str,
    provider: &str,
    role: &str,
    state: &str,
    created: &str,
    ended: Option<&str>,
    coord: &str,
) {
    c.execute(
        "INSERT INTO sessions (id, provider_id, harness, role, task, repo_path, runtime, state, artifact_dir,
           transcript_path, events_path, created_at, updated_at, ended_at, metadata_json)
         VALUES (?1, ?2, ?2, ?3, 't', '/r', 'tmux', ?4, '/a', '/a/t', '/a/e', ?5, ?5, ?6, ?7)",
        params![id, provider, role, state, created, ended, json!({"coordinator_id": coord}).to_string()],
    )
    .unwrap();
}

fn event(c: &Connection, session: &str, kind: &str, at: &str) {
    c.execute("INSERT INTO events (session_id, ts, event_type) VALUES (?1, ?2, ?3)", params![session, at, kind])
        .unwrap();
}

fn snapshot(c: &Connection, provider: &str, at: &str, status: &str, remaining: f64, raw: Value) {
    let doc = json!({"provider_id": provider, "status": status, "confidence": "high", "checked_at": at,
                     "windows": [{"name": "5h", "kind": "five_hour", "remaining_percent": remaining},
                                 {"name": "weekly", "kind": "weekly", "remaining_percent": null}],
                     "raw": raw});
    c.execute(
        "INSERT INTO usage_snapshots (provider_id, ts, status, confidence, raw_json) VALUES (?1, ?2, ?3, 'high', ?4)",
        params![provider, at, status, doc.to_string()],
    )
    .unwrap();
}

/// Four sessions in the window (two coordinators), one before it whose events fall inside.
fn seeded() -> (tempfile::TempDir, Connection) {
    let (dir, c) = db();
    session(&c, "ap_s0", "codex-cli", "explorer", "COMPLETED", "2026-02-28T05:00:00.000000Z", Some(&ts("05:00")), "A");
    event(&c, "ap_s0", "spawn", &ts("04:00"));
    event(&c, "ap_s0", "terminate", &ts("05:00"));
    session(&c, "ap_s1", "codex-cli", "explorer", "COMPLETED", &ts("10:00"), Some(&ts("11:00")), "A");
    session(&c, "ap_s2", "codex-cli", "implementer", "FAILED", &ts("10:00"), Some(&ts("11:00")), "A");
    session(&c, "ap_s3", "claude-code", "explorer", "COMPLETED", &ts("10:30"), Some(&ts("12:00")), "B");
    session(&c, "ap_s4", "claude-code", "reviewer", "RUNNING", &ts("23:00"), None, "B");
    for (s, at) in [("ap_s1", "10:00"), ("ap_s2", "10:00"), ("ap_s3", "10:30"), ("ap_s4", "23:00")] {
        event(&c, s, "spawn", &ts(at));
    }
    event(&c, "ap_s1", "terminate", &ts("11:00"));
    event(&c, "ap_s2", "interrupt", &ts("10:30"));
    event(&c, "ap_s2", "timeout", &ts("11:00"));
    event(&c, "ap_s1", "observe", &ts("10:10"));
    snapshot(&c, "claude-code", &ts("09:55"), "limit_reached", 0.0, json!({}));
    snapshot(&c, "codex-cli", &ts("09:55"), "available", 80.0, json!({}));
    snapshot(
        &c,
        "claude-code",
        &ts("12:00"),
        "available",
        40.0,
        json!({"ccusage": {"token_counts": {"inputTokens": 1200, "outputTokens": 300, "cacheReadTokens": 50}}}),
    );
    (dir, c)
}

fn env() -> Env {
    Env {
        providers: ["codex-cli", "claude-code", "cursor-cli", "fake-question"].map(String::from).to_vec(),
        usage_stale_after_seconds: 1800,
        min_remaining_percent: 10.0,
        now: NOW,
    }
}

fn request(coordinator: Option<&str>, provider: Option<&str>) -> Request {
    Request {
        window: parse_range("2026-03-01", "2026-03-02", NOW).unwrap(),
        provider: provider.map(str::to_owned),
        coordinator: coordinator.map(str::to_owned),
        sections: Vec::new(),
    }
}

/// The document as the JSON both front ends send, which the assertions below read.
fn compute(c: &Connection, req: &Request, env: &Env) -> agentpool_core::Result<Value> {
    crate::compute(c, req, env).map(|doc| serde_json::to_value(doc).unwrap())
}

fn codes(doc: &Value) -> Vec<&str> {
    doc["data_quality"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect()
}

#[test]
fn every_metric_on_the_seeded_day() {
    let (_d, c) = seeded();
    let doc = compute(&c, &request(None, None), &env()).unwrap();
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "schema_version",
            "generated_at",
            "source",
            "scope",
            "window",
            "filters",
            "data_quality",
            "sessions",
            "parallelism",
            "walls",
            "quota",
            "utilization",
            "tokens",
            "suggested_next"
        ]
    );
    assert_eq!(doc["schema_version"], "stats/v1");
    assert_eq!(doc["scope"], "all");
    assert_eq!(
        doc["window"],
        json!({"start": "2026-03-01T00:00:00.000000Z", "end": "2026-03-02T00:00:00.000000Z",
                                     "label": "2026-03-01 to 2026-03-02", "spec": "2026-03-01/2026-03-02"})
    );
    assert_eq!(
        doc["sessions"],
        json!({
            "total": 4,
            "by_provider": {"claude-code": 2, "codex-cli": 2},
            "by_role": {"explorer": 2, "implementer": 1, "reviewer": 1},
            "by_state": {"COMPLETED": 2, "FAILED": 1, "RUNNING": 1},
            "spawned": 4, "terminated": 1, "interrupted": 1, "timed_out": 1,
        })
    );
    // Intervals 10-11, 10-11, 10:30-12, 23-24 (running: to the window end).
    assert_eq!(
        doc["parallelism"],
        json!({"wall_clock_hours": 14.0, "sum_worker_hours": 4.5, "ratio": 0.32,
                                          "peak_concurrent": 3, "peak_at": "2026-03-01T10:30:00.000000Z"})
    );
    // codex spawns while claude is at its limit: avoided twice; the claude spawn at 10:30 hits
    // the wall; the 23:00 spawn has no fresh data (one of four: confidence stays high).
    assert_eq!(
        doc["walls"],
        json!({"definition": "see docs/stats.md#walls", "hit": 1, "avoided": 2,
        "by_provider": {"claude-code": {"hit": 1, "avoided": 0}, "codex-cli": {"hit": 0, "avoided": 2}},
        "confidence": "high"})
    );
    assert_eq!(
        doc["quota"],
        json!({
            "claude-code": {"current_remaining_percent": 40.0, "min_in_window": 0.0, "max_in_window": 40.0, "samples": 2},
            "codex-cli": {"current_remaining_percent": 80.0, "min_in_window": 80.0, "max_in_window": 80.0, "samples": 1},
        })
    );
    assert_eq!(doc["utilization"]["usable_hours"], 48.0);
    assert_eq!(doc["utilization"]["subscription_utilization"], 0.09);
    assert_eq!(
        doc["tokens"],
        json!({
            "by_provider": {"claude-code": {"input": 1200, "output": 300, "cache_read": 50, "data_quality": "active_5h_block_only"}},
            "totals": {"input": 1200, "output": 300},
            "providers_without_token_data": ["codex-cli", "cursor-cli", "fake-question"],
        })
    );
    assert_eq!(codes(&doc), ["tokens_partial"]);
    assert_eq!(doc["suggested_next"].as_array().unwrap().len(), 3);
}

#[test]
fn scope_and_provider_filters_never_leak_events() {
    let (_d, c) = seeded();
    let mine = compute(&c, &request(Some("A"), None), &env()).unwrap();
    assert_eq!(mine["scope"], "mine");
    assert_eq!(mine["coordinator_id"], "A");
    assert_eq!((mine["sessions"]["total"].as_i64(), mine["sessions"]["spawned"].as_i64()), (Some(2), Some(2)));
    assert_eq!(mine["sessions"]["timed_out"], 1);
    // Nobody's sessions: nothing, not every event in the window.
    let none = compute(&c, &request(Some("nobody"), None), &env()).unwrap();
    assert_eq!((none["sessions"]["total"].as_i64(), none["sessions"]["spawned"].as_i64()), (Some(0), Some(0)));
    assert_eq!(none["sessions"]["terminated"], 0);
    assert_eq!(none["parallelism"]["ratio"], Value::Null);
    let cursor = compute(&c, &request(None, Some("cursor-cli")), &env()).unwrap();
    assert_eq!(cursor["sessions"]["spawned"], 0);
    assert_eq!(cursor["filters"]["provider_id"], "cursor-cli");
    assert_eq!(cursor["quota"], json!({}));
    assert_eq!(codes(&cursor), ["no_usage_data_for_provider", "no_token_capable_providers"]);
    assert_eq!(cursor["data_quality"][0]["provider_id"], "cursor-cli");
}

#[test]
fn empty_database_reports_what_is_missing() {
    let (_d, c) = db();
    let doc = compute(&c, &request(None, None), &env()).unwrap();
    assert_eq!(doc["walls"]["hit"], Value::Null);
    assert_eq!(doc["walls"]["confidence"], "low");
    assert_eq!(codes(&doc), ["no_usage_data_in_window", "no_token_data_available"]);
    assert_eq!(doc["data_quality"][1]["providers"], json!(["claude-code"]));
    assert_eq!(doc["tokens"]["totals"], json!({"input": null, "output": null}));
    let mut e = env();
    e.providers.retain(|p| p != "claude-code");
    assert_eq!(codes(&compute(&c, &request(None, None), &e).unwrap())[1], "no_token_capable_providers");
}

#[test]
fn low_confidence_when_most_spawns_lack_fresh_data() {
    let (_d, c) = seeded();
    // Two more late spawns with no fresh snapshot: 3 of 6 unknown is not more than half…
    session(&c, "ap_s5", "codex-cli", "explorer", "COMPLETED", &ts("22:00"), Some(&ts("22:30")), "A");
    event(&c, "ap_s5", "spawn", &ts("22:00"));
    session(&c, "ap_s6", "codex-cli", "explorer", "COMPLETED", &ts("22:10"), Some(&ts("22:30")), "A");
    event(&c, "ap_s6", "spawn", &ts("22:10"));
    assert_eq!(compute(&c, &request(None, None), &env()).unwrap()["walls"]["confidence"], "high");
    // …4 of 7 is.
    session(&c, "ap_s7", "codex-cli", "explorer", "COMPLETED", &ts("22:20"), Some(&ts("22:30")), "A");
    event(&c, "ap_s7", "spawn", &ts("22:20"));
    let doc = compute(&c, &request(None, None), &env()).unwrap();
    assert_eq!(doc["walls"]["confidence"], "low");
    assert_eq!(codes(&doc)[0], "walls_low_confidence");
}

#[test]
fn parallelism_touching_and_identical_intervals() {
    let (_d, c) = db();
    for i in 0..3 {
        session(&c, &format!("ap_p{i}"), "codex-cli", "explorer", "COMPLETED", &ts("01:00"), Some(&ts("02:00")), "A");
    }
    let doc = compute(&c, &request(None, None), &env()).unwrap();
    assert_eq!(
        (doc["parallelism"]["peak_concurrent"].as_i64(), doc["parallelism"]["ratio"].as_f64()),
        (Some(3), Some(3.0))
    );
    let (_d, c) = db();
    for (i, (a, b)) in [("01:00", "02:00"), ("02:00", "03:00"), ("03:00", "04:00")].iter().enumerate() {
        session(&c, &format!("ap_q{i}"), "codex-cli", "explorer", "COMPLETED", &ts(a), Some(&ts(b)), "A");
    }
    let doc = compute(&c, &request(None, None), &env()).unwrap();
    assert_eq!(doc["parallelism"]["ratio"], 1.0);
    assert_eq!(doc["parallelism"]["peak_concurrent"], 2, "touching intervals overlap at the instant");
}

#[test]
fn sections_keep_core_keys_in_canonical_order() {
    let (_d, c) = seeded();
    let mut req = request(Some("A"), None);
    req.sections = parse_sections(&["walls, sessions".into(), "tokens".into()]).unwrap();
    let doc = compute(&c, &req, &env()).unwrap();
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "schema_version",
            "generated_at",
            "source",
            "scope",
            "window",
            "filters",
            "data_quality",
            "coordinator_id",
            "sessions",
            "walls",
            "tokens"
        ]
    );
    let err = parse_sections(&["sessions,bogus".into()]).unwrap_err();
    assert_eq!(err.code, agentpool_core::ErrorCode::InvalidRequest);
}

#[test]
fn fixed_width_timestamps_match_the_general_parser() {
    for t in
        ["2026-03-01T10:30:00.000000Z", "1999-12-31T23:59:59.999999Z", "2026-03-01T10:30:00Z", "2024-02-29T00:00:00.5Z"]
    {
        let want = agentpool_core::util::parse_ts(t).unwrap().unix_timestamp_nanos() / 1000;
        assert_eq!(crate::compute::micros(t), Some(want as i64), "{t}");
    }
}

#[test]
fn share_card_is_a_real_png_with_content() {
    let (dir, c) = seeded();
    let doc = crate::compute(&c, &request(None, None), &env()).unwrap();
    let path = dir.path().join("cards/card.png");
    let info = serde_json::to_value(crate::write_card(&doc, &path, true).unwrap()).unwrap();
    // A named path is written only into an existing directory, and only as a regular file.
    let err = crate::write_card(&doc, &dir.path().join("missing/card.png"), false).unwrap_err();
    assert_eq!(err.code, agentpool_core::error::ErrorCode::InvalidOutput, "{}", err.message);
    assert!(!dir.path().join("missing").exists());
    std::os::unix::fs::symlink(&path, dir.path().join("link.png")).unwrap();
    let err = crate::write_card(&doc, &dir.path().join("link.png"), false).unwrap_err();
    assert_eq!(err.code, agentpool_core::error::ErrorCode::InvalidOutput, "{}", err.message);
    assert_eq!((info["width"].as_u64(), info["height"].as_u64()), (Some(1200), Some(630)));
    let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!((frame.width, frame.height), (1200, 630));
    assert_eq!(info["bytes"].as_u64(), Some(std::fs::metadata(&path).unwrap().len()));
    // Not blank: many pixels differ from the background, in more than two colours.
    let px: Vec<&[u8]> = buf[..frame.buffer_size()].chunks(3).collect();
    let background = px[px.len() / 2 + 599].to_vec();
    let differing = px.iter().filter(|p| **p != background.as_slice()).count();
    assert!(differing > 20_000, "only {differing} non-background pixels");
    let colours: std::collections::BTreeSet<&[u8]> = px.iter().copied().collect();
    assert!(colours.len() >= 4, "{} colours", colours.len());
}

#[test]
fn default_card_paths_never_reuse_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("stats-20261125T120000Z.png");
    assert_eq!(super::unused(first.clone()), first);
    std::fs::write(&first, b"png").unwrap();
    let second = super::unused(first.clone());
    assert_eq!(second, dir.path().join("stats-20261125T120000Z-2.png"));
    std::fs::write(&second, b"png").unwrap();
    assert_eq!(super::unused(first), dir.path().join("stats-20261125T120000Z-3.png"));
}

/// The document exactly as both front ends send it (compact JSON, wire key order): the typed
/// result serialised directly, and through `serde_json::Value` as MCP and the CLI do.
fn wire<T: serde::Serialize>(doc: &T) -> String {
    let direct = serde_json::to_string(doc).unwrap();
    assert_eq!(serde_json::to_string(&serde_json::to_value(doc).unwrap()).unwrap(), direct);
    direct
}

#[test]
fn documents_serialise_exactly_as_pinned() {
    let (_d, c) = seeded();
    insta::assert_snapshot!("doc_all", wire(&crate::compute(&c, &request(None, None), &env()).unwrap()));
    let mut req = request(Some("A"), None);
    req.sections = parse_sections(&["walls,sessions,tokens".into()]).unwrap();
    insta::assert_snapshot!("doc_mine_sections", wire(&crate::compute(&c, &req, &env()).unwrap()));
    insta::assert_snapshot!("doc_nobody", wire(&crate::compute(&c, &request(Some("nobody"), None), &env()).unwrap()));
    insta::assert_snapshot!(
        "doc_cursor",
        wire(&crate::compute(&c, &request(None, Some("cursor-cli")), &env()).unwrap())
    );
    let (_e, empty) = db();
    insta::assert_snapshot!("doc_empty", wire(&crate::compute(&empty, &request(None, None), &env()).unwrap()));
    // Token counts of two providers (in the registry's order, not sorted), in other shapes,
    // and walls of low confidence.
    snapshot(
        &c,
        "codex-cli",
        &ts("12:30"),
        "near_limit",
        5.0,
        json!({"token_counts": {"input": "7", "output": 2.0, "cache_creation": 5}}),
    );
    for (i, at) in ["22:00", "22:10", "22:20"].into_iter().enumerate() {
        session(&c, &format!("ap_l{i}"), "codex-cli", "explorer", "COMPLETED", &ts(at), Some(&ts("22:30")), "A");
        event(&c, &format!("ap_l{i}"), "spawn", &ts(at));
    }
    let doc = crate::compute(&c, &request(None, None), &env()).unwrap();
    insta::assert_snapshot!("doc_low_confidence", wire(&doc));
    // A document read back is the same document, token providers still in their order.
    let back: crate::StatsReport = serde_json::from_str(&wire(&doc)).unwrap();
    assert_eq!(back, doc);
    assert_eq!(back.tokens.unwrap().by_provider.keys().collect::<Vec<_>>(), ["codex-cli", "claude-code"]);
}

/// FNV-1a of `bytes`: pins a rendered card without storing the image.
fn fnv(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    format!("{} bytes, fnv {hash:016x}", bytes.len())
}

#[test]
fn share_cards_render_and_report_exactly_as_pinned() {
    let (dir, c) = seeded();
    let all = crate::compute(&c, &request(None, None), &env()).unwrap();
    let mut req = request(Some("A"), Some("codex-cli"));
    req.sections = parse_sections(&["walls".into()]).unwrap();
    let partial = crate::compute(&c, &req, &env()).unwrap();
    let (_e, empty) = db();
    let none = crate::compute(&empty, &request(None, None), &env()).unwrap();
    let renders: Vec<String> =
        [&all, &partial, &none].into_iter().map(|doc| fnv(&crate::card::render(doc).unwrap())).collect();
    insta::assert_snapshot!("card_renders", renders.join("\n"));
    let path = dir.path().join("card.png");
    let info = wire(&crate::write_card(&all, &path, false).unwrap());
    insta::assert_snapshot!("card_info", info.replace(&path.display().to_string(), "<path>"));
}
