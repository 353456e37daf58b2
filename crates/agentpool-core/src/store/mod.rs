//! SQLite persistence. Many CLI processes and an MCP server share one database, so every
//! write is a targeted `UPDATE` (never a whole row from a stale copy), check-then-write paths
//! run under `BEGIN IMMEDIATE`, the journal is WAL, and a busy timeout absorbs contention.

pub mod leases;
pub mod usage;

pub use leases::{insert_lease, lease_query, release_lease, update_lease};
pub use usage::{insert_usage_snapshot, latest_usage_rows};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentSession, EventRecord, SessionState, TmuxRef};
use crate::util;

/// A database error as AgentPool reports it: `STORE_FAILED`. (The SDK's error type cannot
/// know SQLite, so `?` on a `rusqlite` result goes through [`SqlExt::sql`].)
pub fn sql_error(err: rusqlite::Error) -> Error {
    Error::new(ErrorCode::StoreFailed, format!("database error: {err}"))
}

/// `.sql()?` turns a `rusqlite` result into an AgentPool one.
pub trait SqlExt<T> {
    /// Maps the error with [`sql_error`].
    fn sql(self) -> Result<T>;
}

impl<T> SqlExt<T> for rusqlite::Result<T> {
    fn sql(self) -> Result<T> {
        self.map_err(sql_error)
    }
}

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, provider_id TEXT NOT NULL, model TEXT, harness TEXT NOT NULL,
  account TEXT, role TEXT NOT NULL, task TEXT NOT NULL, repo_path TEXT NOT NULL,
  worktree_path TEXT, runtime TEXT NOT NULL, state TEXT NOT NULL,
  tmux_session TEXT, tmux_window TEXT, tmux_pane TEXT,
  artifact_dir TEXT NOT NULL, transcript_path TEXT NOT NULL, events_path TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, ended_at TEXT,
  metadata_json TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, ts TEXT NOT NULL,
  event_type TEXT NOT NULL, state TEXT, screen_hash TEXT, excerpt TEXT,
  metadata_json TEXT NOT NULL DEFAULT '{}',
  FOREIGN KEY(session_id) REFERENCES sessions(id));
CREATE TABLE IF NOT EXISTS usage_snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT, provider_id TEXT NOT NULL, ts TEXT NOT NULL,
  status TEXT NOT NULL, confidence TEXT NOT NULL, raw_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, kind TEXT NOT NULL,
  path TEXT NOT NULL, sha256 TEXT, metadata_json TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL, FOREIGN KEY(session_id) REFERENCES sessions(id));
CREATE TABLE IF NOT EXISTS file_leases (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, repo_path TEXT NOT NULL,
  file_path TEXT NOT NULL, mode TEXT NOT NULL, expires_at TEXT, created_at TEXT NOT NULL,
  released_at TEXT, metadata_json TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS idx_sessions_provider_state ON sessions(provider_id, state);
CREATE INDEX IF NOT EXISTS idx_sessions_created_at ON sessions(created_at);
CREATE INDEX IF NOT EXISTS idx_sessions_state ON sessions(state);
CREATE INDEX IF NOT EXISTS idx_events_session_id ON events(session_id);
CREATE INDEX IF NOT EXISTS idx_events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS idx_usage_snapshots_provider_id_desc ON usage_snapshots(provider_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_file_leases_repo_file ON file_leases(repo_path, file_path);
"#,
    // 2: `stats` counts lifecycle events by type over a time window; this covering index answers
    // that from the index alone instead of reading every event row.
    r#"
CREATE INDEX IF NOT EXISTS idx_events_type_ts ON events(event_type, ts, session_id);
"#,
    // 3: `[[notify]]` deliveries claimed, one row per change and entry, so each is delivered
    // once however many processes record it (see `notify`).
    r#"
CREATE TABLE IF NOT EXISTS notifications (
  dedupe_key TEXT NOT NULL, notify_index INTEGER NOT NULL, event_id INTEGER NOT NULL,
  created_at TEXT NOT NULL, PRIMARY KEY (dedupe_key, notify_index));
"#,
];

/// SQL predicate for sessions that occupy a worker slot (see `AgentSession::is_live`).
pub const LIVE_PREDICATE: &str =
    "(state NOT IN ('COMPLETED','FAILED','CANCELLED') OR (state = 'FAILED' AND ended_at IS NULL))";

/// SQL predicate that protects a settled terminal state from being overwritten by detection.
const NOT_SETTLED: &str = "NOT (state IN ('COMPLETED','CANCELLED') OR (state = 'FAILED' AND ended_at IS NOT NULL))";

/// A handle on the database, cheap to clone. Calls run on the blocking pool.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: Arc<Path>,
}

/// A database error names the database it happened in (message and `details.db_path`).
fn in_db(err: Error, path: &Path) -> Error {
    if err.code != ErrorCode::StoreFailed || err.details.contains_key("db_path") {
        return err;
    }
    let message = format!("{} (database `{}`)", err.message, path.display());
    Error { message, ..err }.with("db_path", path.display().to_string())
}

/// WAL size, in pages, past which a commit checkpoints it into the database (SQLite's
/// default is 1000); see [`Store::open`].
const WAL_AUTOCHECKPOINT_PAGES: i64 = 256;

impl Store {
    /// Opens (creating when needed) the database and applies migrations.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_at(path).map_err(|e| in_db(e, path))
    }

    fn open_at(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format_args!("could not create `{}`", dir.display()), &e))?;
        }
        let conn = Connection::open(path).map_err(|e| {
            Error::new(ErrorCode::StoreFailed, format!("could not open database `{}`: {e}", path.display()))
        })?;
        conn.busy_timeout(Duration::from_secs(15)).sql()?;
        // WAL lets readers proceed while one process writes; NORMAL sync is durable across
        // process crashes, which is the failure we care about for a local tool.
        // Switching a fresh database to WAL takes its exclusive lock without consulting the
        // busy handler, so processes that open it together can get `database is locked`:
        // retry that one step briefly.
        let mut tries = 0;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 200 =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => return Err(sql_error(e)),
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL").sql()?;
        // Each CLI call is a short-lived process, most often the database's only connection.
        // SQLite checkpoints the WAL into the database when the last connection closes and
        // deletes it, and the next writer creates it afresh: four fsyncs per command (about
        // 4 ms each on an ordinary disk), most of a `send` or `terminate`. So the WAL stays
        // when a connection closes and is checkpointed by the commit that grows it past
        // `wal_autocheckpoint` pages, once every few dozen commits. Durability is the same:
        // a committed transaction is in the WAL either way, and every opener reads it. The
        // limit is low so the next process's WAL recovery (it reads the whole log) stays cheap.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).sql()?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES).sql()?;
        migrate(&conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: Arc::from(path) })
    }

    /// Runs `f` with the connection on the blocking thread pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| Error::new(ErrorCode::StoreFailed, "database handle poisoned"))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::new(ErrorCode::StoreFailed, format!("database task failed: {e}")))
        .and_then(|r| r);
        result.map_err(|e| in_db(e, &self.path))
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).sql()? as usize;
    if version >= MIGRATIONS.len() {
        return Ok(());
    }
    // IMMEDIATE takes the write lock up front (waiting in the busy handler); a deferred
    // transaction that reads and then writes fails at once with `database is locked` when
    // several processes open a fresh database together.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).sql()?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).sql()? as usize;
    for sql in MIGRATIONS.iter().skip(version) {
        tx.execute_batch(sql).sql()?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64).sql()?;
    tx.commit().sql()?;
    Ok(())
}

const SESSION_COLUMNS: &str = "id, provider_id, model, harness, account, role, task, repo_path, worktree_path, runtime, state, tmux_session, tmux_window, tmux_pane, artifact_dir, transcript_path, events_path, created_at, updated_at, ended_at, metadata_json";

fn parse_json_map(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn enum_col<T: serde::de::DeserializeOwned>(i: usize, raw: String) -> rusqlite::Result<T> {
    serde_json::from_value(Value::String(raw.clone())).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, format!("bad value `{raw}`").into())
    })
}

fn row_to_session(row: &Row<'_>) -> rusqlite::Result<AgentSession> {
    let text = |i: usize| row.get::<_, String>(i);
    let opt = |i: usize| row.get::<_, Option<String>>(i);
    let tmux = opt(11)?.map(|session_name| -> rusqlite::Result<TmuxRef> {
        Ok(TmuxRef {
            session_name,
            window: opt(12)?.unwrap_or_else(|| "0".into()),
            pane: opt(13)?.unwrap_or_else(|| "0".into()),
        })
    });
    Ok(AgentSession {
        id: text(0)?,
        provider_id: text(1)?,
        model: opt(2)?,
        harness: text(3)?,
        account: opt(4)?,
        role: enum_col(5, text(5)?)?,
        task: text(6)?,
        repo_path: text(7)?,
        worktree_path: opt(8)?,
        runtime: enum_col(9, text(9)?)?,
        state: enum_col(10, text(10)?)?,
        tmux: tmux.transpose()?,
        artifact_dir: text(14)?,
        transcript_path: text(15)?,
        events_path: text(16)?,
        created_at: text(17)?,
        updated_at: text(18)?,
        ended_at: opt(19)?,
        metadata: parse_json_map(&text(20)?),
    })
}

/// Inserts a new session row.
pub fn insert_session(conn: &Connection, s: &AgentSession) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)"),
        params![
            s.id,
            s.provider_id,
            s.model,
            s.harness,
            s.account,
            s.role.as_str(),
            s.task,
            s.repo_path,
            s.worktree_path,
            s.runtime.as_str(),
            s.state.as_str(),
            s.tmux.as_ref().map(|t| &t.session_name),
            s.tmux.as_ref().map(|t| &t.window),
            s.tmux.as_ref().map(|t| &t.pane),
            s.artifact_dir,
            s.transcript_path,
            s.events_path,
            s.created_at,
            s.updated_at,
            s.ended_at,
            Value::Object(s.metadata.clone()).to_string(),
        ],
    ).sql()?;
    Ok(())
}

/// Loads one session.
pub fn get_session(conn: &Connection, id: &str) -> Result<Option<AgentSession>> {
    conn.query_row(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"), [id], row_to_session)
        .optional()
        .sql()
}

/// Filter for session listings.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub states: Option<Vec<String>>,
    pub provider_id: Option<String>,
    pub coordinator_id: Option<String>,
    pub live_only: bool,
}

impl SessionFilter {
    fn where_clause(&self) -> (String, Vec<String>) {
        let mut clauses = Vec::new();
        let mut args = Vec::new();
        if let Some(states) = &self.states {
            let marks: Vec<String> = states
                .iter()
                .map(|s| {
                    args.push(s.clone());
                    format!("?{}", args.len())
                })
                .collect();
            clauses.push(if marks.is_empty() { "0".to_owned() } else { format!("state IN ({})", marks.join(",")) });
        }
        if let Some(p) = &self.provider_id {
            args.push(p.clone());
            clauses.push(format!("provider_id = ?{}", args.len()));
        }
        if let Some(c) = &self.coordinator_id {
            args.push(c.clone());
            clauses.push(format!("json_extract(metadata_json, '$.coordinator_id') = ?{}", args.len()));
        }
        if self.live_only {
            clauses.push(LIVE_PREDICATE.to_owned());
        }
        let sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        (sql, args)
    }
}

/// Lists sessions newest first.
pub fn list_sessions(
    conn: &Connection,
    filter: &SessionFilter,
    limit: Option<i64>,
    offset: i64,
) -> Result<Vec<AgentSession>> {
    let (where_sql, args) = filter.where_clause();
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions {where_sql} ORDER BY created_at DESC, rowid DESC LIMIT {} OFFSET {}",
        limit.unwrap_or(-1),
        offset.max(0)
    );
    let mut stmt = conn.prepare(&sql).sql()?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row_to_session).sql()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().sql()
}

/// A session as a dashboard shows it: the row and its latest event (type and time).
pub type BoardRow = (AgentSession, Option<(String, String)>);

/// Sessions for a dashboard: live ones first, then the most recently updated, each with its
/// latest event. Reads only.
pub fn board(conn: &Connection, filter: &SessionFilter, limit: i64) -> Result<Vec<BoardRow>> {
    let (where_sql, args) = filter.where_clause();
    // Two scalar subqueries (one column each) over the per-session event index.
    let last = |col: &str| {
        format!("(SELECT e.{col} FROM events e WHERE e.session_id = sessions.id ORDER BY e.id DESC LIMIT 1)")
    };
    let sql = format!(
        "SELECT {SESSION_COLUMNS}, {}, {} FROM sessions {where_sql} \
         ORDER BY {LIVE_PREDICATE} DESC, updated_at DESC, rowid DESC LIMIT {limit}",
        last("event_type"),
        last("ts")
    );
    let mut stmt = conn.prepare(&sql).sql()?;
    let n = SESSION_COLUMNS.split(',').count();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let session = row_to_session(r)?;
            let event: Option<String> = r.get(n)?;
            let ts: Option<String> = r.get(n + 1)?;
            Ok((session, event.zip(ts)))
        })
        .sql()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().sql()
}

/// Every session that runs (or ran) in this worktree.
pub fn sessions_in_worktree(conn: &Connection, path: &str) -> Result<Vec<AgentSession>> {
    let mut stmt = conn.prepare(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE worktree_path = ?1")).sql()?;
    let rows = stmt.query_map([path], row_to_session).sql()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().sql()
}

/// SQLite's change counter for this connection: it moves when another connection commits.
pub fn data_version(conn: &Connection) -> Result<i64> {
    conn.pragma_query_value(None, "data_version", |r| r.get(0)).sql()
}

/// Counts sessions matching a filter.
pub fn count_sessions(conn: &Connection, filter: &SessionFilter) -> Result<i64> {
    let (where_sql, args) = filter.where_clause();
    conn.query_row(
        &format!("SELECT COUNT(*) FROM sessions {where_sql}"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )
    .sql()
}

/// Sets the state unconditionally (terminate, reconcile, spawn failure).
pub fn set_state(conn: &Connection, id: &str, state: SessionState, ended: bool) -> Result<()> {
    let now = util::now();
    conn.execute(
        "UPDATE sessions SET state = ?1, updated_at = ?2, ended_at = CASE WHEN ?3 THEN ?2 ELSE ended_at END WHERE id = ?4",
        params![state.as_str(), now, ended, id],
    ).sql()?;
    Ok(())
}

/// Moves a session from `from` (the state the caller read) to `to`, unless another process
/// changed it meanwhile or it is settled (completed, cancelled, or failed and ended): a
/// compare-and-set, so a stale reader never overwrites a newer state. Returns whether the row
/// moved. `ended` stamps `ended_at` (kept when already set).
pub fn transition(conn: &Connection, id: &str, from: SessionState, to: SessionState, ended: bool) -> Result<bool> {
    let now = util::now();
    let n = conn.execute(
        &format!(
            "UPDATE sessions SET state = ?1, updated_at = ?2, ended_at = CASE WHEN ?3 THEN COALESCE(ended_at, ?2) ELSE ended_at END
             WHERE id = ?4 AND state = ?5 AND {NOT_SETTLED}"
        ),
        params![to.as_str(), now, ended, id, from.as_str()],
    ).sql()?;
    Ok(n > 0)
}

/// The stored state of a session, and whether it is settled.
pub fn current_state(conn: &Connection, id: &str) -> Result<Option<(SessionState, bool)>> {
    use rusqlite::OptionalExtension;
    let row: Option<(String, bool)> = conn
        .query_row(&format!("SELECT state, NOT ({NOT_SETTLED}) FROM sessions WHERE id = ?1"), params![id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .sql()?;
    Ok(row.and_then(|(s, settled)| SessionState::parse_loose(&s).map(|s| (s, settled))))
}

/// Records a state found by screen detection, unless the stored state is already settled
/// (a terminate or exit recorded meanwhile by another process wins). Returns whether the row
/// changed.
pub fn set_detected_state(conn: &Connection, id: &str, state: SessionState, ended: bool) -> Result<bool> {
    let now = util::now();
    let n = conn.execute(
        &format!(
            "UPDATE sessions SET state = ?1, updated_at = ?2, ended_at = CASE WHEN ?3 THEN ?2 ELSE NULL END WHERE id = ?4 AND {NOT_SETTLED}"
        ),
        params![state.as_str(), now, ended, id],
    ).sql()?;
    Ok(n > 0)
}

/// Sets one metadata key atomically (other keys written concurrently are kept).
pub fn set_meta(conn: &Connection, id: &str, key: crate::model::MetaKey, value: &Value) -> Result<()> {
    conn.execute(
        "UPDATE sessions SET metadata_json = json_set(metadata_json, ?1, json(?2)) WHERE id = ?3",
        params![format!("$.\"{}\"", key.as_str()), value.to_string(), id],
    )
    .sql()?;
    Ok(())
}

/// Counts one more sent turn, unless the session has `max_turns` and has used them all: one
/// UPDATE, so concurrent senders can never pass the limit together. `Ok(Ok(turns_sent))` when
/// taken, `Ok(Err((max_turns, turns_sent)))` when the limit is reached.
pub fn take_turn(conn: &Connection, id: &str) -> Result<std::result::Result<i64, (i64, i64)>> {
    let taken = conn
        .execute(
            "UPDATE sessions SET metadata_json = json_set(metadata_json, '$.turns_sent', \
             COALESCE(json_extract(metadata_json, '$.turns_sent'), 0) + 1), updated_at = ?2 \
         WHERE id = ?1 AND (json_extract(metadata_json, '$.max_turns') IS NULL \
             OR COALESCE(json_extract(metadata_json, '$.turns_sent'), 0) < json_extract(metadata_json, '$.max_turns'))",
            params![id, util::now()],
        )
        .sql()?;
    let (max, sent): (Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT json_extract(metadata_json, '$.max_turns'), json_extract(metadata_json, '$.turns_sent') \
         FROM sessions WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .sql()?;
    let sent = sent.unwrap_or(0);
    Ok(if taken > 0 { Ok(sent) } else { Err((max.unwrap_or(0), sent)) })
}

/// Returns a turn taken by [`take_turn`] whose message was never delivered.
pub fn give_back_turn(conn: &Connection, id: &str) -> Result<()> {
    conn.execute(
        "UPDATE sessions SET metadata_json = json_set(metadata_json, '$.turns_sent', \
             MAX(COALESCE(json_extract(metadata_json, '$.turns_sent'), 0) - 1, 0)) WHERE id = ?1",
        params![id],
    )
    .sql()?;
    Ok(())
}

/// Records the runtime reference and the post-launch state.
pub fn set_runtime_ref(
    conn: &Connection,
    id: &str,
    tmux: Option<&TmuxRef>,
    runtime_ref: &Value,
    state: SessionState,
) -> Result<()> {
    conn.execute(
        "UPDATE sessions SET tmux_session = ?1, tmux_window = ?2, tmux_pane = ?3, state = ?4, updated_at = ?5,
         metadata_json = json_set(metadata_json, '$.runtime_ref', json(?6)) WHERE id = ?7",
        params![
            tmux.map(|t| &t.session_name),
            tmux.map(|t| &t.window),
            tmux.map(|t| &t.pane),
            state.as_str(),
            util::now(),
            runtime_ref.to_string(),
            id
        ],
    )
    .sql()?;
    Ok(())
}

/// Appends an event row and returns it.
pub fn append_event(
    conn: &Connection,
    session_id: &str,
    event_type: &str,
    state: Option<SessionState>,
    screen_hash: Option<&str>,
    excerpt: Option<&str>,
    metadata: &Map<String, Value>,
) -> Result<EventRecord> {
    let ts = util::now();
    conn.execute(
        "INSERT INTO events (session_id, ts, event_type, state, screen_hash, excerpt, metadata_json) VALUES (?1,?2,?3,?4,?5,?6,?7)",
        params![
            session_id,
            ts,
            event_type,
            state.map(|s| s.as_str()),
            screen_hash,
            excerpt,
            Value::Object(metadata.clone()).to_string()
        ],
    ).sql()?;
    Ok(EventRecord {
        id: conn.last_insert_rowid(),
        session_id: session_id.to_owned(),
        ts,
        event_type: event_type.to_owned(),
        state: state.map(|s| s.as_str().to_owned()),
        screen_hash: screen_hash.map(str::to_owned),
        excerpt: excerpt.map(str::to_owned),
        metadata: metadata.clone(),
    })
}

/// Whether a session has an event of this type.
pub fn has_event(conn: &Connection, session_id: &str, event_type: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM events WHERE session_id = ?1 AND event_type = ?2 LIMIT 1",
            params![session_id, event_type],
            |_| Ok(()),
        )
        .optional()
        .sql()?
        .is_some())
}

/// Every event of a session, oldest first.
pub fn list_events(conn: &Connection, session_id: &str) -> Result<Vec<EventRecord>> {
    let mut stmt = conn.prepare(
        "SELECT id, session_id, ts, event_type, state, screen_hash, excerpt, metadata_json FROM events WHERE session_id = ?1 ORDER BY id",
    ).sql()?;
    let rows = stmt
        .query_map([session_id], |r| {
            Ok(EventRecord {
                id: r.get(0)?,
                session_id: r.get(1)?,
                ts: r.get(2)?,
                event_type: r.get(3)?,
                state: r.get(4)?,
                screen_hash: r.get(5)?,
                excerpt: r.get(6)?,
                metadata: parse_json_map(&r.get::<_, String>(7)?),
            })
        })
        .sql()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().sql()
}

/// Records a collected artifact.
pub fn save_artifact(conn: &Connection, session_id: &str, kind: &str, path: &str, sha256: Option<&str>) -> Result<()> {
    conn.execute(
        "INSERT INTO artifacts (session_id, kind, path, sha256, metadata_json, created_at) VALUES (?1,?2,?3,?4,'{}',?5)",
        params![session_id, kind, path, sha256, util::now()],
    ).sql()?;
    Ok(())
}

/// Runs `f` inside `BEGIN IMMEDIATE`, so a check and the write that depends on it are atomic
/// across processes.
pub fn immediate<T>(conn: &mut Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).sql()?;
    let out = f(&tx)?;
    tx.commit().sql()?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Read-only checks the onboarding commands make (`doctor`, `setup`, `onboard`).

/// Opens the database file read-only, creating nothing.
fn open_read_only(db: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
}

/// SQLite's own verdict on the file: `PRAGMA quick_check`, or `integrity_check` when `deep`.
/// `["ok"]` means sound; anything else lists the damage. `Err` when the file cannot be read.
pub fn integrity_check(db: &Path, deep: bool) -> std::result::Result<Vec<String>, String> {
    let pragma = if deep { "integrity_check" } else { "quick_check" };
    open_read_only(db)
        .and_then(|c| {
            let mut stmt = c.prepare(&format!("PRAGMA {pragma}"))?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .map_err(|e| e.to_string())
}

/// Whether the database file holds a `COMPLETED` session of this provider. A missing file is
/// `false`; nothing is created.
pub fn has_completed_session(db: &Path, provider_id: &str) -> std::result::Result<bool, String> {
    if !db.exists() {
        return Ok(false);
    }
    open_read_only(db)
        .and_then(|c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM sessions WHERE provider_id = ?1 AND state = 'COMPLETED')",
                [provider_id],
                |r| r.get::<_, bool>(0),
            )
        })
        .map_err(|e| e.to_string())
}

/// How many usage snapshots are stored.
pub fn count_usage_snapshots(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM usage_snapshots", [], |r| r.get(0)).sql()
}

/// The status and time of a provider's newest stored usage snapshot.
pub fn latest_usage_status(conn: &Connection, provider_id: &str) -> Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT status, ts FROM usage_snapshots WHERE provider_id = ?1 ORDER BY ts DESC, id DESC LIMIT 1",
        [provider_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .sql()
}

/// Records (or clears) a session's worktree path.
pub fn set_worktree_path(conn: &Connection, id: &str, path: Option<&str>) -> Result<()> {
    conn.execute("UPDATE sessions SET worktree_path = ?1 WHERE id = ?2", params![path, id]).sql()?;
    Ok(())
}

/// A `COMPLETED` session starts another turn: `RUNNING` again, `ended_at` cleared. Returns
/// whether it was still `COMPLETED` to reopen.
pub fn reopen_completed(conn: &Connection, id: &str) -> Result<bool> {
    let n = conn
        .execute(
            "UPDATE sessions SET state = 'RUNNING', ended_at = NULL, updated_at = ?1 WHERE id = ?2 AND state = 'COMPLETED'",
            params![util::now(), id],
        )
        .sql()?;
    Ok(n > 0)
}

/// Claims one notification delivery (`dedupe_key`, entry index) for an event; `true` when
/// this call won it.
pub fn claim_notification(conn: &Connection, dedupe_key: &str, index: usize, event_id: i64, ts: &str) -> Result<bool> {
    let n = conn
        .execute(
            "INSERT OR IGNORE INTO notifications (dedupe_key, notify_index, event_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![dedupe_key, index as i64, event_id, ts],
        )
        .sql()?;
    Ok(n == 1)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, RuntimeKind};

    fn session(id: &str, created: &str) -> AgentSession {
        AgentSession {
            id: id.into(),
            provider_id: "fake-question".into(),
            model: None,
            harness: "fake-question".into(),
            account: None,
            role: Role::Explorer,
            task: "t".into(),
            repo_path: "/r".into(),
            worktree_path: None,
            runtime: RuntimeKind::Tmux,
            state: SessionState::Running,
            created_at: created.into(),
            updated_at: created.into(),
            ended_at: None,
            tmux: None,
            artifact_dir: "/a".into(),
            transcript_path: "/a/t".into(),
            events_path: "/a/e".into(),
            metadata: serde_json::json!({"coordinator_id": "coord_x"}).as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn crud_and_targeted_updates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let conn = store.conn.lock().unwrap();
        insert_session(&conn, &session("ap_1", "2026-01-01T00:00:00.000000Z")).unwrap();
        insert_session(&conn, &session("ap_2", "2026-01-02T00:00:00.000000Z")).unwrap();
        insert_session(&conn, &session("ap_3", "2026-01-03T00:00:00.000000Z")).unwrap();

        let page = list_sessions(&conn, &SessionFilter::default(), Some(2), 1).unwrap();
        assert_eq!(page.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["ap_2", "ap_1"]);

        set_meta(&conn, "ap_1", crate::model::MetaKey::LastScreenHash, &Value::from("abc")).unwrap();
        assert_eq!(take_turn(&conn, "ap_1").unwrap(), Ok(1));
        give_back_turn(&conn, "ap_1").unwrap();
        assert_eq!(take_turn(&conn, "ap_1").unwrap(), Ok(1));
        set_meta(&conn, "ap_1", crate::model::MetaKey::MaxTurns, &serde_json::json!(1)).unwrap();
        assert_eq!(take_turn(&conn, "ap_1").unwrap(), Err((1, 1)), "the limit holds");
        set_meta(&conn, "ap_1", crate::model::MetaKey::MaxTurns, &serde_json::Value::Null).unwrap();
        assert_eq!(take_turn(&conn, "ap_1").unwrap(), Ok(2), "no limit: counted only");
        let s = get_session(&conn, "ap_1").unwrap().unwrap();
        assert_eq!(s.metadata["coordinator_id"], "coord_x");
        assert_eq!(s.metadata["last_screen_hash"], "abc");
        assert_eq!(s.metadata["turns_sent"], 2);

        // A settled terminal state is not overwritten by detection.
        set_state(&conn, "ap_1", SessionState::Cancelled, true).unwrap();
        assert!(!set_detected_state(&conn, "ap_1", SessionState::Running, false).unwrap());
        assert_eq!(get_session(&conn, "ap_1").unwrap().unwrap().state, SessionState::Cancelled);

        // A detected FAILED (no ended_at) is not settled and still counts as live.
        set_detected_state(&conn, "ap_2", SessionState::Failed, false).unwrap();
        let live = SessionFilter { live_only: true, ..Default::default() };
        assert_eq!(count_sessions(&conn, &live).unwrap(), 2);
        assert!(set_detected_state(&conn, "ap_2", SessionState::Running, false).unwrap());

        let filter = SessionFilter { states: Some(vec!["CANCELLED".into()]), ..Default::default() };
        assert_eq!(count_sessions(&conn, &filter).unwrap(), 1);
        let coord = SessionFilter { coordinator_id: Some("coord_x".into()), ..Default::default() };
        assert_eq!(count_sessions(&conn, &coord).unwrap(), 3);

        let e = append_event(&conn, "ap_1", "spawn", Some(SessionState::Ready), None, None, &Map::new()).unwrap();
        assert!(e.id > 0);
        assert!(has_event(&conn, "ap_1", "spawn").unwrap());
        assert_eq!(list_events(&conn, "ap_1").unwrap().len(), 1);
    }

    #[test]
    fn reopening_keeps_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let conn = store.conn.lock().unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }
}
