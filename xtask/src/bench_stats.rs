//! The `stats` series of `cargo xtask bench`: `stats --since all --json` over a seeded store of
//! 100,000 sessions, 1,000,000 events and 20,160 usage snapshots (7 providers every 15
//! minutes for 30 days), in a private `AGENTPOOL_HOME`.
//!
//! The schema comes from `agentpool` itself (one run creates and migrates the database); the
//! rows are generated inside SQLite with recursive CTEs, so seeding takes seconds even in a
//! debug build of this task. Every session is finished, so reconcile has nothing to ask tmux.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Sessions seeded.
pub const SESSIONS: i64 = 100_000;
/// Events per session (10 → 1,000,000 events).
const EVENTS_PER_SESSION: i64 = 10;
/// Target for one `stats --json` run, in milliseconds.
pub const STATS_MAX_MS: f64 = 1000.0;

const SEED: &str = r#"
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :sessions - 1)
INSERT INTO sessions (id, provider_id, harness, role, task, repo_path, runtime, state, artifact_dir,
                      transcript_path, events_path, created_at, updated_at, ended_at, metadata_json)
SELECT printf('ap_%012x', i),
       p, p,
       CASE i % 5 WHEN 0 THEN 'explorer' WHEN 1 THEN 'reviewer' WHEN 2 THEN 'implementer' WHEN 3 THEN 'tester' ELSE 'custom' END,
       'bench task', '/bench/repo', 'tmux',
       CASE i % 4 WHEN 0 THEN 'FAILED' WHEN 1 THEN 'CANCELLED' ELSE 'COMPLETED' END,
       '/bench/a', '/bench/a/t', '/bench/a/e',
       strftime('%Y-%m-%dT%H:%M:%S', :now - 2592000 + i * 25, 'unixepoch') || '.000000Z',
       strftime('%Y-%m-%dT%H:%M:%S', :now - 2592000 + i * 25 + 600 + (i % 7) * 300, 'unixepoch') || '.000000Z',
       strftime('%Y-%m-%dT%H:%M:%S', :now - 2592000 + i * 25 + 600 + (i % 7) * 300, 'unixepoch') || '.000000Z',
       json_object('coordinator_id', CASE i % 3 WHEN 0 THEN 'default' ELSE 'coord-' || (i % 3) END)
FROM (SELECT i, CASE i % 7 WHEN 0 THEN 'codex-cli' WHEN 1 THEN 'claude-code' WHEN 2 THEN 'cursor-cli'
                 WHEN 3 THEN 'copilot-cli' WHEN 4 THEN 'devin-cli' WHEN 5 THEN 'droid-cli' ELSE 'opencode' END AS p FROM n);
WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < :events_per - 1)
INSERT INTO events (session_id, ts, event_type, state)
SELECT s.id,
       strftime('%Y-%m-%dT%H:%M:%S', :now - 2592000 + s.rowid * 25 - 25 + k.j * 60, 'unixepoch') || '.000000Z',
       CASE k.j WHEN 0 THEN 'spawn' WHEN 9 THEN 'terminate' WHEN 5 THEN
         CASE s.rowid % 10 WHEN 0 THEN 'interrupt' WHEN 1 THEN 'timeout' ELSE 'question' END
         ELSE 'observe' END,
       s.state
FROM sessions s CROSS JOIN k;
WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < 2880 - 1),
     p(id) AS (VALUES ('codex-cli'), ('claude-code'), ('cursor-cli'), ('copilot-cli'), ('devin-cli'), ('droid-cli'), ('opencode'))
INSERT INTO usage_snapshots (provider_id, ts, status, confidence, raw_json)
SELECT p.id,
       strftime('%Y-%m-%dT%H:%M:%S', :now - 2592000 + t.i * 900, 'unixepoch') || '.000000Z',
       CASE WHEN (t.i + length(p.id)) % 11 = 0 THEN 'limit_reached' ELSE 'available' END,
       'high',
       json_object('provider_id', p.id, 'status', 'available',
                   'windows', json_array(json_object('name', '5h', 'kind', 'five_hour',
                                                     'remaining_percent', (t.i * 7 + length(p.id)) % 100)),
                   'raw', CASE p.id WHEN 'claude-code' THEN json_object('token_counts', json_object('input', t.i * 10, 'output', t.i)) ELSE json_object() END)
FROM t CROSS JOIN p;
COMMIT;
"#;

/// Seeds a fresh home and times `runs` calls of `stats --since all --json`; milliseconds.
pub fn measure(scratch: &Path, exe: &Path, runs: usize) -> Result<Vec<f64>, String> {
    let home = scratch.join("stats-home");
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let socket = format!("agentpool-bench-{}-stats", std::process::id());
    let run = || {
        let start = Instant::now();
        let out = Command::new(exe)
            .args(["stats", "--since", "all", "--json"])
            .env("AGENTPOOL_HOME", &home)
            .env("AGENTPOOL_TMUX_SOCKET", &socket)
            .env_remove("AGENTPOOL_CONFIG")
            .output()
            .map_err(|e| format!("could not run agentpool stats: {e}"))?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        if !out.status.success() {
            return Err(format!("agentpool stats failed: {}", String::from_utf8_lossy(&out.stdout)));
        }
        Ok((elapsed, out.stdout))
    };
    // First run creates and migrates the database.
    run()?;
    eprintln!("bench: seeding {SESSIONS} sessions and {} events", SESSIONS * EVENTS_PER_SESSION);
    let seeded = Instant::now();
    let conn = rusqlite::Connection::open(home.join("agentpool.sqlite")).map_err(|e| e.to_string())?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs() as i64;
    let sql = SEED
        .replace(":sessions", &SESSIONS.to_string())
        .replace(":events_per", &EVENTS_PER_SESSION.to_string())
        .replace(":now", &now.to_string());
    conn.execute_batch(&sql).map_err(|e| format!("seeding failed: {e}"))?;
    drop(conn);
    eprintln!("bench: seeded in {:.1} s", seeded.elapsed().as_secs_f64());
    // Warm-up, and a sanity check that the seeded rows are what stats sees.
    let (_, stdout) = run()?;
    let doc: serde_json::Value =
        serde_json::from_slice(&stdout).map_err(|e| format!("stats printed invalid JSON: {e}"))?;
    if doc["sessions"]["total"].as_i64() != Some(SESSIONS) || doc["sessions"]["spawned"].as_i64() != Some(SESSIONS) {
        return Err(format!(
            "stats saw {} sessions / {} spawns, expected {SESSIONS}",
            doc["sessions"]["total"], doc["sessions"]["spawned"]
        ));
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(run()?.0);
    }
    let _ = Command::new("tmux").args(["-L", &socket, "kill-server"]).output();
    Ok(times)
}
