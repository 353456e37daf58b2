//! The `usage_snapshots` table: one row per probe result, and the latest real one per provider.

use rusqlite::{Connection, params};

use super::SqlExt as _;
use crate::error::Result;

/// Stores one snapshot (`raw_json` is the whole snapshot as JSON).
pub fn insert_usage_snapshot(
    conn: &Connection,
    provider_id: &str,
    ts: &str,
    status: &str,
    confidence: &str,
    raw_json: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO usage_snapshots(provider_id, ts, status, confidence, raw_json) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![provider_id, ts, status, confidence, raw_json],
    )
    .sql()?;
    Ok(())
}

/// `(provider_id, raw_json)` of the latest snapshot per provider (newest `ts`, then newest row),
/// timeout and error placeholders skipped.
pub fn latest_usage_rows(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
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
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).sql()?.collect::<rusqlite::Result<Vec<_>>>().sql()?;
    Ok(rows)
}
