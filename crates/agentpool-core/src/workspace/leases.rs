//! File leases: advisory locks coordinators take on repository files so several workers do
//! not edit the same file. AgentPool never enforces them on the worker; they tell callers who
//! is working where.
//!
//! Rules:
//! * Reads share, writes exclude: another session's read blocks a write, another session's
//!   write blocks both.
//! * A lease is active while it is unreleased, unexpired (compared as real instants, not as
//!   strings) and its session is still live. Sessions that ended (terminate, reconcile, exit)
//!   stop blocking at once; terminate and reconcile also mark their leases released.
//! * Re-acquiring a file the session already holds returns that lease; asking for `write`
//!   while holding `read` upgrades it when no other session holds the file; a TTL given on
//!   re-acquire renews the expiry.
//! * The check and the insert run in one `BEGIN IMMEDIATE` transaction, so racing processes
//!   cannot both win a write.
//! * Paths are stored relative to the repository root in POSIX form. Anything that leaves
//!   the repository (or the session's worktree), after `..` and symlinks are resolved, is
//!   refused, as are empty paths, NUL bytes and paths longer than 4096 bytes.

use std::path::{Component, Path, PathBuf};

use rusqlite::Connection;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

pub use crate::api::FileLease;
use crate::api::resolve_repo;
use crate::api::{LeaseList, LeaseTaken, LeasesReleased, ReleaseDone, ReleasePlan};
use crate::error::{Error, ErrorCode, Result};
use crate::model::AgentSession;
use crate::pool::Pool;
use crate::store;
pub use crate::store::leases::release_session;
use crate::util;

/// Longest lease path accepted, in bytes (PATH_MAX on Linux).
pub const MAX_LEASE_PATH_BYTES: usize = 4096;
/// Longest TTL accepted: one year.
pub const MAX_LEASE_TTL_SECONDS: i64 = 366 * 86_400;

/// Lease mode from user input (`read` or `write`, any case).
pub fn parse_mode(raw: &str) -> Result<&'static str> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "read" => Ok("read"),
        "write" => Ok("write"),
        _ => Err(Error::new(ErrorCode::InvalidLeaseMode, "lease mode must be `read` or `write`")
            .with("mode", util::tail_chars(raw, 40))
            .with("allowed", ["read", "write"])),
    }
}

fn bad_path(reason: &str, message: String, raw: &str) -> Error {
    Error::new(ErrorCode::InvalidLeasePath, message)
        .with("reason", reason)
        .with("file_path", util::tail_chars(raw, 200))
}

/// Lexically cleans a relative path: drops `.` and empty parts, applies `..`. Returns `None`
/// when `..` climbs above the start.
fn clean_relative(parts: impl Iterator<Item = String>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in parts {
        match part.as_str() {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            _ => out.push(part),
        }
    }
    Some(out)
}

/// The deepest existing ancestor of `path`, resolved (symlinks followed), with the missing
/// rest appended. Lets a lease name a file that does not exist yet while still catching a
/// symlinked directory that points outside the repository.
fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let mut missing: Vec<std::ffi::OsString> = Vec::new();
    let mut cur = path.to_path_buf();
    loop {
        if let Ok(real) = std::fs::canonicalize(&cur) {
            let mut out = real;
            for m in missing.iter().rev() {
                out.push(m);
            }
            return out;
        }
        match (cur.file_name().map(ToOwned::to_owned), cur.parent().map(Path::to_path_buf)) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                cur = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Normalises a lease path to a POSIX path relative to the first root that contains it.
/// `roots` are canonical directories (the session's worktree first, then the repository).
pub fn normalize_path(raw: &str, roots: &[PathBuf]) -> Result<String> {
    if raw.len() > MAX_LEASE_PATH_BYTES {
        return Err(bad_path("too_long", format!("lease path is longer than {MAX_LEASE_PATH_BYTES} bytes"), raw)
            .with("bytes", raw.len()));
    }
    if raw.contains('\0') {
        return Err(bad_path("nul_byte", "lease path contains a NUL byte".into(), raw));
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(bad_path("empty", "lease path is empty".into(), raw));
    }
    let expanded = crate::config::expand_tilde(Path::new(trimmed));
    let Some(primary) = roots.first() else {
        return Err(bad_path("outside_repo", "session has no repository".into(), raw));
    };
    // Absolute paths: made relative to whichever root holds them (lexically, then with
    // symlinks resolved). Relative paths are relative to the primary root.
    let (root, rel_parts): (&PathBuf, Vec<String>) = if expanded.is_absolute() {
        let lexical: PathBuf = {
            let mut parts = Vec::new();
            for c in expanded.components() {
                match c {
                    Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                    Component::ParentDir if parts.pop().is_none() => {
                        return Err(bad_path("outside_repo", "lease path climbs above `/`".into(), raw));
                    }
                    _ => {}
                }
            }
            let mut p = PathBuf::from("/");
            p.extend(parts);
            p
        };
        let resolved = resolve_existing_prefix(&lexical);
        let found = roots.iter().find_map(|r| {
            lexical.strip_prefix(r).ok().or_else(|| resolved.strip_prefix(r).ok()).map(|rest| {
                (r, rest.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>())
            })
        });
        match found {
            Some(f) => f,
            None => {
                return Err(bad_path(
                    "outside_repo",
                    format!("`{}` is outside the repository", util::tail_chars(trimmed, 200)),
                    raw,
                )
                .with("repo_path", primary.display().to_string()));
            }
        }
    } else {
        (primary, trimmed.split('/').map(str::to_owned).collect())
    };
    let Some(clean) = clean_relative(rel_parts.into_iter()) else {
        return Err(bad_path(
            "outside_repo",
            format!("`{}` climbs out of the repository", util::tail_chars(trimmed, 200)),
            raw,
        )
        .with("repo_path", root.display().to_string()));
    };
    if clean.is_empty() {
        return Err(bad_path("not_a_file", "lease path names the repository root, not a file".into(), raw));
    }
    let rel = clean.join("/");
    // A symlink inside the repository may still point outside it.
    let resolved = resolve_existing_prefix(&root.join(&rel));
    if !resolved.starts_with(root) {
        return Err(bad_path(
            "outside_repo",
            format!("`{rel}` resolves outside the repository (through a symlink)"),
            raw,
        )
        .with("resolved_path", resolved.display().to_string()));
    }
    // The lease names the file itself, not the way to it: `srclink/a.rs` through an in-repo
    // symlinked directory and `src/a.rs` are one file, so one lease key.
    let canonical = resolved
        .strip_prefix(root)
        .map(|rest| rest.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>())
        .unwrap_or_default();
    if canonical.is_empty() {
        return Ok(rel);
    }
    Ok(canonical.join("/"))
}

/// How an acquire ended.
enum Acquired {
    New(FileLease),
    Existing(FileLease),
    Upgraded(FileLease),
}

fn acquire_tx(
    conn: &Connection,
    session_id: &str,
    repo: &str,
    file: &str,
    mode: &str,
    expires_at: Option<String>,
    metadata: &Map<String, Value>,
) -> Result<Acquired> {
    let held = store::lease_query(
        conn,
        "WHERE l.repo_path = ?1 AND l.file_path = ?2 AND l.released_at IS NULL",
        &[&repo, &file],
    )?;
    let active: Vec<&FileLease> = held.iter().filter(|l| l.active).collect();
    let mine = active.iter().find(|l| l.session_id == session_id);
    let blocker = active.iter().find(|l| l.session_id != session_id && (mode == "write" || l.mode == "write"));
    if let Some(holder) = blocker {
        return Err(Error::new(
            ErrorCode::LeaseConflict,
            format!("`{file}` is leased for {} by session `{}`", holder.mode, holder.session_id),
        )
        .with("file_path", file)
        .with("requested_mode", mode)
        .with("holder_session_id", &holder.session_id)
        .with("lease", holder));
    }
    if let Some(existing) = mine {
        let upgrade = mode == "write" && existing.mode == "read";
        let renew = expires_at.is_some();
        if upgrade || renew {
            let new_mode = if upgrade { "write" } else { existing.mode.as_str() };
            let new_expiry = if renew { expires_at.clone() } else { existing.expires_at.clone() };
            store::update_lease(conn, existing.id, new_mode, new_expiry.as_deref())?;
            let mut updated = (*existing).clone();
            updated.mode = new_mode.to_owned();
            updated.expires_at = new_expiry;
            return Ok(if upgrade { Acquired::Upgraded(updated) } else { Acquired::Existing(updated) });
        }
        return Ok(Acquired::Existing((*existing).clone()));
    }
    let created_at = util::now();
    let id = store::insert_lease(conn, session_id, repo, file, mode, expires_at.as_deref(), &created_at, metadata)?;
    Ok(Acquired::New(FileLease {
        id,
        session_id: session_id.to_owned(),
        repo_path: repo.to_owned(),
        file_path: file.to_owned(),
        mode: mode.to_owned(),
        expires_at,
        created_at,
        released_at: None,
        metadata: metadata.clone(),
        active: true,
    }))
}

impl Pool {
    /// The directories a session's lease paths may live in: its worktree, then its repo.
    fn lease_roots(session: &AgentSession) -> Vec<PathBuf> {
        let mut roots = Vec::new();
        if let Some(wt) = session.worktree_path.as_deref()
            && let Ok(p) = std::fs::canonicalize(wt)
        {
            roots.push(p);
        }
        roots.push(std::fs::canonicalize(&session.repo_path).unwrap_or_else(|_| PathBuf::from(&session.repo_path)));
        roots
    }

    /// Takes (or returns, upgrades, renews) a lease on one file for a live session.
    pub async fn acquire_lease(
        &self,
        session_id: &str,
        file_path: &str,
        mode: &str,
        ttl_seconds: Option<i64>,
        metadata: Map<String, Value>,
    ) -> Result<LeaseTaken> {
        let mode = parse_mode(mode)?;
        if let Some(t) = ttl_seconds
            && !(0..=MAX_LEASE_TTL_SECONDS).contains(&t)
        {
            return Err(Error::new(
                ErrorCode::InvalidLeaseTtl,
                format!("ttl_seconds must be between 0 (no expiry) and {MAX_LEASE_TTL_SECONDS}"),
            )
            .with("ttl_seconds", t));
        }
        let session = self.load(session_id).await?;
        if !session.is_live() {
            return Err(Error::new(
                ErrorCode::SessionNotActive,
                format!("session `{}` is {}; only live sessions can hold leases", session.id, session.state),
            )
            .with("session_id", &session.id)
            .with("state", session.state));
        }
        let file = normalize_path(file_path, &Self::lease_roots(&session))?;
        let expires_at = ttl_seconds
            .filter(|t| *t > 0)
            .map(|t| util::format_ts(OffsetDateTime::now_utc() + time::Duration::seconds(t)));
        let sid = session.id.clone();
        let repo = session.repo_path.clone();
        let f = file.clone();
        let outcome = self
            .store
            .call(move |c| store::immediate(c, |tx| acquire_tx(tx, &sid, &repo, &f, mode, expires_at, &metadata)))
            .await?;
        let (status, lease) = match outcome {
            Acquired::New(l) => ("acquired", l),
            Acquired::Existing(l) => ("existing", l),
            Acquired::Upgraded(l) => ("upgraded", l),
        };
        let mut m = Map::new();
        m.insert("file_path".into(), json!(file));
        m.insert("mode".into(), json!(mode));
        m.insert("lease_id".into(), json!(lease.id));
        m.insert("status".into(), json!(status));
        self.event(&session, "lease_acquire", Some(session.state), None, None, m).await?;
        Ok(LeaseTaken { ok: true, status: status.to_owned(), lease })
    }

    /// Lists leases (active only unless `all`), optionally for one session or repository.
    pub async fn list_leases(&self, session_id: Option<&str>, repo_path: Option<&str>, all: bool) -> Result<LeaseList> {
        if let Some(s) = session_id {
            crate::api::check_session_id(s)?;
        }
        let repo = repo_path.map(resolve_repo).transpose()?.map(|p| p.display().to_string());
        let sid = session_id.map(str::to_owned);
        let leases = self
            .store
            .call(move |c| {
                let mut clauses = Vec::new();
                let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
                if let Some(s) = &sid {
                    args.push(s);
                    clauses.push(format!("l.session_id = ?{}", args.len()));
                }
                if let Some(r) = &repo {
                    args.push(r);
                    clauses.push(format!("l.repo_path = ?{}", args.len()));
                }
                let where_sql =
                    if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
                store::lease_query(c, &where_sql, &args)
            })
            .await?;
        let leases: Vec<FileLease> = leases.into_iter().filter(|l| all || l.active).collect();
        Ok(LeaseList { count: leases.len(), leases, active_only: !all })
    }

    /// Releases leases by id, by session, or by session and file.
    pub async fn release_lease(
        &self,
        lease_id: Option<i64>,
        session_id: Option<&str>,
        file_path: Option<&str>,
        dry_run: bool,
    ) -> Result<LeasesReleased> {
        if lease_id.is_none() && session_id.is_none() {
            return Err(Error::new(ErrorCode::InvalidLeaseRelease, "release needs `--lease-id` or `--session-id`")
                .with("example", "agentpool leases release --session-id <session-id> --file <path>"));
        }
        let session = match session_id {
            Some(s) => Some(self.load(s).await?),
            None => None,
        };
        let file = match (&session, file_path) {
            (Some(s), Some(f)) => Some(normalize_path(f, &Self::lease_roots(s))?),
            (None, Some(_)) => {
                return Err(Error::new(ErrorCode::InvalidLeaseRelease, "`--file` needs `--session-id`")
                    .with("example", "agentpool leases release --session-id <session-id> --file <path>"));
            }
            _ => None,
        };
        let sid = session.as_ref().map(|s| s.id.clone());
        let f = file.clone();
        let matched = self
            .store
            .call(move |c| {
                store::immediate(c, |tx| {
                    let mut clauses = vec!["l.released_at IS NULL".to_owned()];
                    let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
                    if let Some(id) = &lease_id {
                        args.push(id);
                        clauses.push(format!("l.id = ?{}", args.len()));
                    }
                    if let Some(s) = &sid {
                        args.push(s);
                        clauses.push(format!("l.session_id = ?{}", args.len()));
                    }
                    if let Some(f) = &f {
                        args.push(f);
                        clauses.push(format!("l.file_path = ?{}", args.len()));
                    }
                    let found = store::lease_query(tx, &format!("WHERE {}", clauses.join(" AND ")), &args)?;
                    if !dry_run {
                        let now = util::now();
                        for l in &found {
                            store::release_lease(tx, l.id, &now)?;
                        }
                    }
                    Ok(found)
                })
            })
            .await?;
        let ids: Vec<i64> = matched.iter().map(|l| l.id).collect();
        if dry_run {
            return Ok(LeasesReleased::Planned(ReleasePlan {
                ok: true,
                dry_run: true,
                would_release: !ids.is_empty(),
                count: ids.len(),
                lease_ids: ids,
                lease_id,
                session_id: session_id.map(str::to_owned),
                file_path: file,
            }));
        }
        // One event per session whose leases were released.
        let mut owners: Vec<String> = matched.iter().map(|l| l.session_id.clone()).collect();
        owners.sort();
        owners.dedup();
        for owner in owners {
            let owner_session = match &session {
                Some(s) if s.id == owner => Some(s.clone()),
                _ => {
                    let o = owner.clone();
                    self.store.call(move |c| store::get_session(c, &o)).await?
                }
            };
            if let Some(s) = owner_session {
                let released: Vec<&FileLease> = matched.iter().filter(|l| l.session_id == owner).collect();
                let mut m = Map::new();
                m.insert("lease_ids".into(), json!(released.iter().map(|l| l.id).collect::<Vec<_>>()));
                m.insert("file_paths".into(), json!(released.iter().map(|l| l.file_path.clone()).collect::<Vec<_>>()));
                self.event(&s, "lease_release", Some(s.state), None, None, m).await?;
            }
        }
        Ok(LeasesReleased::Done(ReleaseDone { ok: true, released: ids.len(), lease_ids: ids }))
    }

    /// Releases every lease a session still holds (terminate, reconcile). Records an event
    /// when there were any.
    pub(crate) async fn release_session_leases(&self, session: &AgentSession, reason: &str) -> Result<()> {
        let id = session.id.clone();
        let n = self.store.call(move |c| release_session(c, &id)).await?;
        if n > 0 {
            let mut m = Map::new();
            m.insert("released".into(), json!(n));
            m.insert("reason".into(), json!(reason));
            self.event(session, "lease_release", None, None, None, m).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqlExt as _;
    use crate::store::lease_query as query;
    use crate::store::leases::expired;
    use rusqlite::params;

    fn roots(dir: &Path) -> Vec<PathBuf> {
        vec![std::fs::canonicalize(dir).unwrap()]
    }

    #[test]
    fn paths_normalise_inside_the_repo() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("src")).unwrap();
        let r = roots(&repo);
        let real = &r[0];
        for (input, want) in [
            ("src/app.rs", "src/app.rs"),
            ("./src//app.rs", "src/app.rs"),
            ("src/../src/./app.rs", "src/app.rs"),
            ("new/dir/file.txt", "new/dir/file.txt"),
        ] {
            assert_eq!(normalize_path(input, &r).unwrap(), want, "{input}");
        }
        let abs = real.join("src/app.rs").display().to_string();
        assert_eq!(normalize_path(&abs, &r).unwrap(), "src/app.rs");
        let abs_dots = format!("{}/src/../lib.rs", real.display());
        assert_eq!(normalize_path(&abs_dots, &r).unwrap(), "lib.rs");
    }

    #[test]
    fn a_file_reached_through_an_in_repo_symlink_has_one_lease_path() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("src")).unwrap();
        std::fs::write(repo.join("src/a.rs"), "x").unwrap();
        std::os::unix::fs::symlink("src", repo.join("srclink")).unwrap();
        std::os::unix::fs::symlink("src/a.rs", repo.join("a-link.rs")).unwrap();
        let r = roots(&repo);
        for input in ["src/a.rs", "srclink/a.rs", "./srclink/../src/a.rs", "a-link.rs"] {
            assert_eq!(normalize_path(input, &r).unwrap(), "src/a.rs", "{input}");
        }
        let abs = r[0].join("srclink/a.rs").display().to_string();
        assert_eq!(normalize_path(&abs, &r).unwrap(), "src/a.rs");
        // A file that does not exist yet, under a symlinked directory.
        assert_eq!(normalize_path("srclink/new.rs", &r).unwrap(), "src/new.rs");
    }

    #[test]
    fn junk_and_escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::os::unix::fs::symlink(dir.path(), repo.join("escape")).unwrap();
        let r = roots(&repo);
        let long = "a/".repeat(3000);
        let outside = dir.path().join("other.txt").display().to_string();
        for (input, reason) in [
            ("../secret", "outside_repo"),
            ("src/../../secret", "outside_repo"),
            ("/etc/passwd", "outside_repo"),
            (outside.as_str(), "outside_repo"),
            ("escape/other.txt", "outside_repo"),
            ("a\0b", "nul_byte"),
            ("", "empty"),
            ("   ", "empty"),
            (".", "not_a_file"),
            (long.as_str(), "too_long"),
        ] {
            let err = normalize_path(input, &r).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidLeasePath, "{input:?}");
            assert_eq!(err.details["reason"], reason, "{input:?}: {err:?}");
        }
        // A megabyte of junk is refused without echoing it back whole.
        let huge = "x".repeat(1 << 20);
        let err = normalize_path(&huge, &r).unwrap_err();
        assert!(err.details["file_path"].as_str().unwrap().len() <= 200);
    }

    fn insert_session(conn: &Connection, id: &str, state: &str) {
        conn.execute(
            "INSERT INTO sessions (id, provider_id, harness, role, task, repo_path, runtime, state, artifact_dir, transcript_path, events_path, created_at, updated_at) \
             VALUES (?1, 'fake-idle', 'fake-idle', 'explorer', 't', '/r', 'tmux', ?2, '/a', '/a/t', '/a/e', 'x', 'x')",
            params![id, state],
        )
        .unwrap();
    }

    fn acquire(conn: &Connection, sid: &str, file: &str, mode: &str, exp: Option<&str>) -> Result<(String, FileLease)> {
        acquire_tx(conn, sid, "/r", file, mode, exp.map(str::to_owned), &Map::new()).map(|a| match a {
            Acquired::New(l) => ("new".to_owned(), l),
            Acquired::Existing(l) => ("existing".to_owned(), l),
            Acquired::Upgraded(l) => ("upgraded".to_owned(), l),
        })
    }

    #[test]
    fn reads_share_writes_exclude() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("db.sqlite")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(store.call(|c| {
            insert_session(c, "ap_a", "RUNNING");
            insert_session(c, "ap_b", "RUNNING");
            insert_session(c, "ap_done", "COMPLETED");
            // reads share
            assert_eq!(acquire(c, "ap_a", "f", "read", None).unwrap().0, "new");
            assert_eq!(acquire(c, "ap_b", "f", "read", None).unwrap().0, "new");
            // a write conflicts with another session's read, naming the holder
            let err = acquire(c, "ap_b", "f", "write", None).unwrap_err();
            assert_eq!(err.code, ErrorCode::LeaseConflict);
            assert_eq!(err.details["lease"]["session_id"], "ap_a");
            // same session re-acquire returns the lease
            assert_eq!(acquire(c, "ap_a", "f", "read", None).unwrap().0, "existing");
            release_session(c, "ap_b")?;
            // the only reader may upgrade; then reads from others conflict
            let (status, lease) = acquire(c, "ap_a", "f", "write", None).unwrap();
            assert_eq!((status.as_str(), lease.mode.as_str()), ("upgraded", "write"));
            assert_eq!(acquire(c, "ap_b", "f", "read", None).unwrap_err().code, ErrorCode::LeaseConflict);
            // a write holder asking for read keeps its write lease
            assert_eq!(acquire(c, "ap_a", "f", "read", None).unwrap().1.mode, "write");
            // expired leases do not block (real instants: an offset form in the past)
            assert_eq!(acquire(c, "ap_a", "g", "write", Some("2000-01-01T00:00:00+00:00")).unwrap().0, "new");
            assert_eq!(acquire(c, "ap_b", "g", "write", None).unwrap().0, "new");
            // a lease of a session that ended does not block
            c.execute(
                "INSERT INTO file_leases (session_id, repo_path, file_path, mode, created_at, metadata_json) VALUES ('ap_done','/r','h','write','x','{}')",
                [],
            ).sql()?;
            assert_eq!(acquire(c, "ap_b", "h", "write", None).unwrap().0, "new");
            let all = query(c, "", &[])?;
            assert_eq!(all.iter().filter(|l| l.active).count(), 3, "{all:?}");
            Ok(())
        }))
        .unwrap();
    }

    #[test]
    fn expiry_compares_instants() {
        let now = OffsetDateTime::now_utc();
        assert!(expired(Some("2000-01-01T00:00:00Z"), now));
        assert!(!expired(Some("2999-01-01T00:00:00.000000+05:00"), now));
        assert!(!expired(None, now));
        assert!(expired(Some("garbage"), now));
        assert!(parse_mode("WRITE").is_ok());
        assert_eq!(parse_mode("exclusive").unwrap_err().code, ErrorCode::InvalidLeaseMode);
    }
}
