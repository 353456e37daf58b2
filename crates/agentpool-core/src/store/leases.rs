//! The `file_leases` table: reading leases with whether each is active, and the targeted writes
//! that take, upgrade and release them. The rules (conflicts, paths, TTLs) live in
//! `workspace::leases`.

use rusqlite::{Connection, params};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{LIVE_PREDICATE, SqlExt as _};
use crate::api::FileLease;
use crate::error::Result;
use crate::util;

const LEASE_COLUMNS: &str =
    "l.id, l.session_id, l.repo_path, l.file_path, l.mode, l.expires_at, l.created_at, l.released_at, l.metadata_json";

fn row_to_lease(r: &rusqlite::Row<'_>) -> rusqlite::Result<(FileLease, bool)> {
    let metadata: String = r.get(8)?;
    Ok((
        FileLease {
            id: r.get(0)?,
            session_id: r.get(1)?,
            repo_path: r.get(2)?,
            file_path: r.get(3)?,
            mode: r.get(4)?,
            expires_at: r.get(5)?,
            created_at: r.get(6)?,
            released_at: r.get(7)?,
            metadata: serde_json::from_str(&metadata).unwrap_or_default(),
            active: false,
        },
        r.get::<_, i64>(9)? != 0,
    ))
}

/// Whether an expiry lies in the past. Unparseable expiries count as expired: a lease whose
/// end cannot be read should not block anyone forever.
pub(crate) fn expired(expires_at: Option<&str>, now: OffsetDateTime) -> bool {
    match expires_at {
        None => false,
        Some(t) => util::parse_ts(t).is_none_or(|t| t <= now),
    }
}

/// Leases matching a `WHERE` fragment (over `file_leases l`), with `active` computed.
pub fn lease_query(conn: &Connection, where_sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<FileLease>> {
    let sql = format!(
        "SELECT {LEASE_COLUMNS}, EXISTS(SELECT 1 FROM sessions s WHERE s.id = l.session_id AND {live}) \
         FROM file_leases l {where_sql} ORDER BY l.id",
        live = LIVE_PREDICATE.replace("state", "s.state").replace("ended_at", "s.ended_at"),
    );
    let mut stmt = conn.prepare(&sql).sql()?;
    let rows = stmt.query_map(args, row_to_lease).sql()?;
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    for row in rows {
        let (mut lease, live) = row.sql()?;
        lease.active = live && lease.released_at.is_none() && !expired(lease.expires_at.as_deref(), now);
        out.push(lease);
    }
    Ok(out)
}

/// Changes a lease's mode and expiry.
pub fn update_lease(conn: &Connection, id: i64, mode: &str, expires_at: Option<&str>) -> Result<()> {
    conn.execute("UPDATE file_leases SET mode = ?1, expires_at = ?2 WHERE id = ?3", params![mode, expires_at, id])
        .sql()?;
    Ok(())
}

/// Records a new unreleased lease; returns its id.
#[allow(clippy::too_many_arguments)]
pub fn insert_lease(
    conn: &Connection,
    session_id: &str,
    repo: &str,
    file: &str,
    mode: &str,
    expires_at: Option<&str>,
    created_at: &str,
    metadata: &Map<String, Value>,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO file_leases (session_id, repo_path, file_path, mode, expires_at, created_at, released_at, metadata_json) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
        params![session_id, repo, file, mode, expires_at, created_at, Value::Object(metadata.clone()).to_string()],
    )
    .sql()?;
    Ok(conn.last_insert_rowid())
}

/// Marks one lease released at `now`.
pub fn release_lease(conn: &Connection, id: i64, now: &str) -> Result<()> {
    conn.execute("UPDATE file_leases SET released_at = ?1 WHERE id = ?2", params![now, id]).sql()?;
    Ok(())
}

/// Marks every unreleased lease of a session released; returns how many.
pub fn release_session(conn: &Connection, session_id: &str) -> Result<usize> {
    conn.execute(
        "UPDATE file_leases SET released_at = ?1 WHERE session_id = ?2 AND released_at IS NULL",
        params![util::now(), session_id],
    )
    .sql()
}
