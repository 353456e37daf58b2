//! Snapshots of the JSON every lifecycle command prints, over one fake-question session, and
//! of the SQLite schema a fresh store creates.
//! Volatile values (ids, paths, hashes, timestamps, nonces, pane ids) are redacted by the
//! harness filters; values that depend on timing or path lengths are checked here and then
//! replaced by a placeholder, so the snapshots are stable across runs and machines.

use agentpool_tests::{TestContext, positive_int, replace};
use insta::assert_json_snapshot;
use serde_json::{Value, json};

/// Built-in fakes added after the lifecycle surface was pinned (0.3): `fake-hooks`.
const LATER_FAKES: [&str; 1] = ["fake-hooks"];

/// The `agentpool --version` number.
fn version(ctx: &TestContext) -> String {
    let out = ctx.cmd(&["--version"]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("agentpool").trim().to_owned()
}

#[test]
fn lifecycle_json_snapshots() {
    let ctx = TestContext::new();
    let settings = ctx.insta_settings();
    let _guard = settings.bind_to_scope();
    let repo = ctx.repo_str();

    let spawn = ctx.json(&[
        "spawn",
        "--provider",
        "fake-question",
        "--repo",
        &repo,
        "--task",
        "Find where sessions are stored and report the file.",
        "--json",
    ]);
    let id = spawn["session_id"].as_str().unwrap().to_owned();
    assert_json_snapshot!("lifecycle_01_spawn", spawn);

    let q = ctx.json(&["observe", &id, "--wait-for", "question", "--timeout", "20", "--json"]);
    assert_eq!(q["event"], "question");
    assert_json_snapshot!("lifecycle_02_observe_question", q);

    let mut qx = ctx.json(&["observe", &id, "--detail", "excerpt", "--json"]);
    // Character counts depend on the temp path's length.
    replace(&mut qx, &["worker_output", "chars"], "[CHARS]", positive_int);
    assert_json_snapshot!("lifecycle_03_observe_excerpt", qx);

    let mut sent = ctx.json(&["send", &id, "Inspect migrations first.", "--json"]);
    // How many observe events were stored before depends on timing.
    replace(&mut sent, &["event_id"], "[EVENT_ID]", positive_int);
    assert_json_snapshot!("lifecycle_04_send", sent);

    let mut done = ctx.json(&["observe", &id, "--wait-for", "completed", "--timeout", "20", "--json"]);
    assert_eq!(done["state"], "COMPLETED", "{done}");
    // Present only when the observation landed after the worker's exit (it exits right after
    // printing its result).
    if let Some(status) = done["metadata"].as_object_mut().unwrap().shift_remove("exit_status") {
        assert_eq!(status, 0, "{done}");
    }
    assert_json_snapshot!("lifecycle_05_observe_completed", done);

    assert_json_snapshot!("lifecycle_06_attach", ctx.json(&["attach", &id, "--json"]));
    assert_json_snapshot!("lifecycle_07_artifacts", ctx.json(&["artifacts", &id, "--json"]));

    // The pane's output reaches the transcript through a pipe that may trail the screen by a
    // moment; wait (bounded) until the result's last line is there.
    let mut tail = Value::Null;
    for _ in 0..500 {
        tail = ctx.json(&["transcript", &id, "--tail-lines", "5", "--json"]);
        if tail["text"].as_str().is_some_and(|t| t.contains("AGENTPOOL_RESULT_END")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    replace(&mut tail, &["size_bytes"], "[BYTES]", positive_int);
    assert_json_snapshot!("lifecycle_08_transcript_tail", tail);

    assert_json_snapshot!("lifecycle_09_collect", ctx.json(&["collect", &id, "--json"]));
    let live = ctx.json(&["interrupt", &id, "--dry-run", "--json"]);
    assert_eq!(live["would_interrupt"], true, "{live}");
    assert_json_snapshot!("lifecycle_09b_interrupt_dry_run_before_terminate", live);
    assert_json_snapshot!("lifecycle_10_terminate_dry_run", ctx.json(&["terminate", &id, "--dry-run", "--json"]));
    assert_json_snapshot!("lifecycle_11_terminate", ctx.json(&["terminate", &id, "--json"]));
    let again = ctx.json(&["terminate", &id, "--json"]);
    assert_eq!(again["already_terminated"], true, "{again}");
    assert_json_snapshot!("lifecycle_12_terminate_again", again);
    assert_json_snapshot!("lifecycle_13_terminate_dry_run_after", ctx.json(&["terminate", &id, "--dry-run", "--json"]));
    let gone = ctx.json(&["interrupt", &id, "--dry-run", "--json"]);
    assert_eq!(gone["would_interrupt"], false, "nothing is left to interrupt: {gone}");
    assert_json_snapshot!("lifecycle_14_interrupt_dry_run", gone);
    assert_json_snapshot!("lifecycle_15_sessions", ctx.json(&["sessions", "--json"]));
    assert_json_snapshot!("lifecycle_16_session_show", ctx.json(&["session", "show", &id, "--json"]));

    // Only the built-in fakes are the same on every machine; real providers depend on what is
    // installed, so for them only the shape is checked. The fakes are listed with `--all`.
    let inventory = ctx.json(&["inventory", "--all", "--json"]);
    let version = version(&ctx);
    let mut fakes = Vec::new();
    // Fakes added after the surface was pinned get snapshots of their own, so the pinned ones
    // stay byte for byte what they were.
    let mut later_fakes = Vec::new();
    for p in inventory["providers"].as_array().unwrap() {
        let pid = p["id"].as_str().expect("provider id");
        assert!(p["installed"].is_boolean(), "{p}");
        if pid.starts_with("fake-") {
            let mut p = p.clone();
            // Fakes report AgentPool's own version; keep snapshots stable across releases.
            replace(&mut p, &["version"], "[VERSION]", |v| v == version.as_str());
            if LATER_FAKES.contains(&pid) { later_fakes.push(p) } else { fakes.push(p) }
        }
    }
    assert_eq!(fakes.len(), 6, "{inventory}");
    assert_json_snapshot!("lifecycle_17_inventory_providers", fakes);
    let mut providers = ctx.json(&["providers", "--json"]);
    let mut later_rows = Vec::new();
    if let Some(rows) = providers["providers"].as_array_mut() {
        later_rows = rows.iter().filter(|r| LATER_FAKES.contains(&r.as_str().unwrap_or(""))).cloned().collect();
        rows.retain(|r| !LATER_FAKES.contains(&r.as_str().unwrap_or("")));
    }
    assert_json_snapshot!("lifecycle_18_providers", providers);
    assert_eq!(later_fakes.len(), LATER_FAKES.len(), "{inventory}");
    assert_json_snapshot!("lifecycle_19_later_fakes", json!({"inventory": later_fakes, "providers": later_rows}));
}

/// The SQLite schema a fresh store creates — every table and index with its SQL, as stored in
/// `sqlite_master`, and the migration count (`PRAGMA user_version`) — so table, column and
/// index names are pinned.
#[test]
fn sqlite_schema_snapshot() {
    let ctx = TestContext::new();
    let settings = ctx.insta_settings();
    let _guard = settings.bind_to_scope();
    // Any command that touches the store creates and migrates it.
    ctx.json(&["sessions", "--json"]);
    let db = ctx.home().join("agentpool.sqlite");
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    let mut out = format!("PRAGMA user_version = {version};\n");
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
        })
        .unwrap();
    for row in rows {
        let (kind, name, table, sql) = row.unwrap();
        out.push_str(&format!("\n-- {kind} {name} (on {table})\n{};\n", sql.as_deref().unwrap_or("-- no SQL")));
    }
    insta::assert_snapshot!("sqlite_schema", out);
}
