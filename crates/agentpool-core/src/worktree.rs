//! Worktree isolation: where AgentPool puts a worker's git worktree, how it lists them, and
//! how it cleans one up without losing work.
//!
//! Layout: `$AGENTPOOL_HOME/worktrees/<sha256(repo path)[:16]>/<session-id>` on branch
//! `agentpool/<provider>/<last 6 of id>`. The directory lives under AgentPool's home, keyed by
//! a hash of the repository path, so two sibling repositories never share a worktree root (the
//! reference used `../.agentpool-worktrees/`, which they did).
//!
//! Cleanup never discards work silently. Work is "at risk" when the worktree has uncommitted
//! changes (tracked or untracked) or when its branch (or detached `HEAD`) holds commits that
//! are not reachable from the repository's `HEAD`, another local branch or a remote branch.
//! Without `--force` such a cleanup is refused with `WORKTREE_DIRTY` naming what would be
//! lost. With `--force` the worktree directory and its registration go, but the branch is
//! deleted only when none of its commits would be lost; otherwise it is kept, so commits stay
//! recoverable.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorCode, Result};
use crate::git;
use crate::manager::{Manager, resolve_repo};
use crate::model::AgentSession;
use crate::runtime::Liveness;
use crate::store::{self, SessionFilter};
use crate::util;

/// Most dirty file names reported in a cleanup plan or error.
const MAX_LISTED_FILES: usize = 50;

/// The directory that holds every worktree of one repository.
pub fn worktree_root(home: &Path, repo_path: &str) -> PathBuf {
    home.join("worktrees").join(&util::sha256_hex(repo_path.as_bytes())[..16])
}

/// The branch AgentPool creates for a worktree session.
pub fn worktree_branch(provider_id: &str, session_id: &str) -> String {
    let safe: String =
        provider_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    format!("agentpool/{}/{}", safe.trim_matches('-'), &session_id[session_id.len().saturating_sub(6)..])
}

/// One record of `git worktree list --porcelain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorktreeRecord {
    pub path: String,
    pub head: Option<String>,
    pub branch: Option<String>,
    pub bare: bool,
    pub detached: bool,
}

/// Parses `git worktree list --porcelain` (blank-line separated records).
pub fn parse_porcelain(text: &str) -> Vec<WorktreeRecord> {
    let mut out = Vec::new();
    let mut cur: Option<WorktreeRecord> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            out.extend(cur.take());
            continue;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "worktree" => {
                out.extend(cur.take());
                cur = Some(WorktreeRecord { path: value.to_owned(), ..Default::default() });
            }
            "HEAD" => {
                if let Some(c) = cur.as_mut() {
                    c.head = Some(value.to_owned());
                }
            }
            "branch" => {
                if let Some(c) = cur.as_mut() {
                    c.branch = Some(value.to_owned());
                }
            }
            "bare" => {
                if let Some(c) = cur.as_mut() {
                    c.bare = true;
                }
            }
            "detached" => {
                if let Some(c) = cur.as_mut() {
                    c.detached = true;
                }
            }
            _ => {}
        }
    }
    out.extend(cur);
    out
}

/// Both spellings of a path: as given, and with symlinks resolved (when it exists).
fn same_path(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// What removing a worktree would lose.
#[derive(Debug, Clone, Default)]
struct AtRisk {
    dirty_files: Vec<String>,
    dirty_count: usize,
    unmerged_commits: u64,
    branch_exists: bool,
}

impl AtRisk {
    fn is_empty(&self) -> bool {
        self.dirty_count == 0 && self.unmerged_commits == 0
    }

    fn reason(&self) -> Option<&'static str> {
        if self.dirty_count > 0 {
            Some("dirty")
        } else if self.unmerged_commits > 0 {
            Some("unmerged_commits")
        } else {
            None
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.dirty_count > 0 {
            parts.push(format!("{} uncommitted change(s)", self.dirty_count));
        }
        if self.unmerged_commits > 0 {
            parts.push(format!("{} commit(s) on no other branch", self.unmerged_commits));
        }
        parts.join(" and ")
    }

    fn to_json(&self) -> Value {
        json!({"dirty_files": self.dirty_files, "dirty_count": self.dirty_count, "unmerged_commits": self.unmerged_commits})
    }
}

/// Counts commits reachable from the branch (and the worktree's `HEAD`, which may have moved
/// off it) that no other ref holds: the repository's `HEAD`, other local branches, remotes.
async fn unmerged_commits(repo: &Path, branch: &str, worktree_head: Option<&str>) -> (bool, u64) {
    let full = format!("refs/heads/{branch}");
    let branch_exists = git::git(repo, &["rev-parse", "--verify", "-q", &full]).await.success();
    let mut args: Vec<String> = vec!["rev-list".into(), "--count".into()];
    if branch_exists {
        args.push(full.clone());
    }
    if let Some(h) = worktree_head {
        args.push(h.to_owned());
    }
    if args.len() == 2 {
        return (branch_exists, 0);
    }
    let has_head = git::git(repo, &["rev-parse", "--verify", "-q", "HEAD"]).await.success();
    args.push("--not".into());
    if has_head {
        args.push("HEAD".into());
    }
    args.extend([format!("--exclude={branch}"), "--branches".into(), "--remotes".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = git::git(repo, &refs).await;
    // When git cannot tell, assume the worst: one commit at risk.
    let count = if out.success() { out.stdout.trim().parse().unwrap_or(1) } else { 1 };
    (branch_exists, count)
}

async fn assess(repo: &Path, worktree: &Path, branch: &str) -> AtRisk {
    let mut risk = AtRisk::default();
    let mut head = None;
    if worktree.is_dir() {
        let status = git::git(worktree, &["status", "--porcelain", "--untracked-files=all"]).await;
        if status.success() {
            let files: Vec<String> = status.stdout.lines().filter(|l| l.len() > 3).map(|l| l[3..].to_owned()).collect();
            risk.dirty_count = files.len();
            risk.dirty_files = files.into_iter().take(MAX_LISTED_FILES).collect();
        } else {
            // An unreadable worktree might hold anything.
            risk.dirty_count = 1;
            risk.dirty_files = vec!["<git status failed>".to_owned()];
        }
        let h = git::git(worktree, &["rev-parse", "--verify", "-q", "HEAD"]).await;
        if h.success() {
            head = Some(h.stdout.trim().to_owned());
        }
    }
    let (exists, count) = unmerged_commits(repo, branch, head.as_deref()).await;
    risk.branch_exists = exists;
    risk.unmerged_commits = count;
    risk
}

impl Manager {
    /// The branch of a worktree session (recorded at spawn; derived for older sessions).
    fn branch_of(session: &AgentSession) -> String {
        session
            .meta_str("worktree_branch")
            .map(str::to_owned)
            .unwrap_or_else(|| worktree_branch(&session.provider_id, &session.id))
    }

    /// AgentPool's worktrees of one repository: `{repo_path, worktrees: [{path, head, branch,
    /// active, session_id, state}]}`. A directory that is not a git repository has none.
    pub async fn list_worktrees(&self, repo_path: &str) -> Result<Value> {
        let repo = resolve_repo(repo_path)?;
        let repo_str = repo.display().to_string();
        if !git::is_repo(&repo).await {
            return Ok(json!({"repo_path": repo_str, "worktrees": []}));
        }
        let out = git::git(&repo, &["worktree", "list", "--porcelain"]).await;
        if !out.success() {
            return Err(Error::new(ErrorCode::GitNotRepo, "`git worktree list` failed")
                .with("repo_path", &repo_str)
                .with("stderr", out.stderr.trim()));
        }
        let home_root = self.settings.paths.home.join("worktrees");
        let home_root_real = std::fs::canonicalize(&home_root).unwrap_or_else(|_| home_root.clone());
        let sessions = self.store.call(|c| store::list_sessions(c, &SessionFilter::default(), None, 0)).await?;
        let with_worktree: Vec<&AgentSession> = sessions.iter().filter(|s| s.worktree_path.is_some()).collect();
        let rows: Vec<Value> = parse_porcelain(&out.stdout)
            .into_iter()
            .filter(|r| {
                let p = Path::new(&r.path);
                p.starts_with(&home_root)
                    || p.starts_with(&home_root_real)
                    || r.branch.as_deref().is_some_and(|b| b.starts_with("refs/heads/agentpool/"))
            })
            .map(|r| {
                let owner =
                    with_worktree.iter().find(|s| s.worktree_path.as_deref().is_some_and(|w| same_path(w, &r.path)));
                json!({
                    "path": r.path,
                    "head": r.head,
                    "branch": r.branch,
                    "detached": r.detached,
                    "exists": Path::new(&r.path).is_dir(),
                    "active": owner.is_some_and(|s| s.is_live()),
                    "session_id": owner.map(|s| s.id.clone()),
                    "state": owner.map(|s| s.state),
                })
            })
            .collect();
        Ok(json!({"repo_path": repo_str, "worktrees": rows}))
    }

    /// Removes a session's worktree (see the module docs for what is protected).
    pub async fn cleanup_worktree(&self, session_id: &str, force: bool, dry_run: bool) -> Result<Value> {
        let session = self.load(session_id).await?;
        let Some(path_str) = session.worktree_path.clone() else {
            return Ok(json!({"session_id": session.id, "removed": false, "would_remove": false, "dry_run": dry_run,
                             "reason": "session has no worktree"}));
        };
        let path = PathBuf::from(&path_str);
        let repo = PathBuf::from(&session.repo_path);
        let branch = Self::branch_of(&session);
        if session.is_live() {
            if dry_run {
                return Ok(json!({"session_id": session.id, "dry_run": true, "would_remove": false, "blocked": true,
                                 "reason": "active", "state": session.state, "path": path_str, "branch": branch}));
            }
            return Err(Error::new(
                ErrorCode::WorktreeActive,
                format!(
                    "session `{}` is still {}; terminate it before removing its worktree",
                    session.id, session.state
                ),
            )
            .with("session_id", &session.id)
            .with("state", session.state)
            .with("example", format!("agentpool terminate {}", session.id)));
        }
        if !git::is_repo(&repo).await {
            return Err(Error::new(ErrorCode::GitNotRepo, format!("`{}` is not a git repository", repo.display()))
                .with("repo_path", &session.repo_path));
        }
        let exists = path.is_dir();
        let risk = assess(&repo, &path, &branch).await;
        let blocked = !force && !risk.is_empty();
        let delete_branch = risk.branch_exists && risk.unmerged_commits == 0;
        if dry_run {
            let reason = if !exists { Some("missing") } else { risk.reason() };
            return Ok(json!({
                "session_id": session.id,
                "dry_run": true,
                "would_remove": exists && !blocked,
                "blocked": exists && blocked,
                "path": path_str,
                "exists": exists,
                "branch": branch,
                "dirty": risk.dirty_count > 0,
                "force": force,
                "reason": reason,
                "would_lose": risk.to_json(),
                "would_delete_branch": !blocked && delete_branch,
            }));
        }
        if exists && blocked {
            return Err(Error::new(
                ErrorCode::WorktreeDirty,
                format!("worktree `{path_str}` has {}; cleanup would lose it", risk.describe()),
            )
            .with("worktree_path", &path_str)
            .with("session_id", &session.id)
            .with("branch", &branch)
            .with("would_lose", risk.to_json())
            .with("example", format!("agentpool worktrees cleanup --session-id {} --dry-run", session.id)));
        }
        // A worker that finished may still hold its pane (a TUI at its prompt, or a kept
        // dead pane); stop it before its directory disappears.
        if let Some(r) = session.runtime_ref()
            && let Ok(list) = self.runtime.list().await
            && matches!(list.get(&r.session_name), Some(Liveness::Alive | Liveness::Dead { .. }))
        {
            let _ = self.runtime.terminate(&r).await;
        }
        let mut removed = false;
        if exists {
            let out = git::git(&repo, &["worktree", "remove", "--force", &path_str]).await;
            if !out.success() {
                return Err(Error::new(ErrorCode::WorktreeCleanupFailed, "`git worktree remove` failed")
                    .with("worktree_path", &path_str)
                    .with("stderr", out.stderr.trim()));
            }
            removed = true;
        }
        let _ = git::git(&repo, &["worktree", "prune"]).await;
        // Re-check after removal: the branch is deleted only when nothing on it is lost.
        let (branch_exists, unmerged) = unmerged_commits(&repo, &branch, None).await;
        let mut branch_deleted = false;
        if branch_exists && unmerged == 0 {
            branch_deleted = git::git(&repo, &["branch", "-D", &branch]).await.success();
        }
        let branch_kept_reason = match (branch_exists, branch_deleted) {
            (false, _) => Value::Null,
            (true, true) => Value::Null,
            (true, false) if unmerged > 0 => json!("unmerged_commits"),
            (true, false) => json!("delete_failed"),
        };
        let result = json!({
            "session_id": session.id,
            "removed": removed,
            "path": path_str,
            "reason": if exists { Value::Null } else { json!("missing") },
            "dirty": risk.dirty_count > 0,
            "force": force,
            "discarded": if removed { risk.to_json() } else { json!(null) },
            "branch": branch,
            "branch_deleted": branch_deleted,
            "branch_kept_reason": branch_kept_reason,
            "unmerged_commits": unmerged,
        });
        let id = session.id.clone();
        self.store.call(move |c| store::set_meta(c, &id, "worktree_removed_at", &json!(util::now()))).await?;
        let mut m = Map::new();
        if let Value::Object(r) = &result {
            m.extend(r.clone());
        }
        self.event(&session, "worktree_cleanup", Some(session.state), None, None, m).await?;
        Ok(result)
    }

    /// Undoes a worktree created by a spawn that then failed: the directory, its
    /// registration, and the branch when it holds nothing new. Errors are ignored: this runs
    /// on a failure path and must not mask the original error.
    pub(crate) async fn rollback_worktree(&self, session: &AgentSession) {
        let Some(path) = session.worktree_path.as_deref() else { return };
        let repo = PathBuf::from(&session.repo_path);
        let _ = git::git(&repo, &["worktree", "remove", "--force", path]).await;
        let _ = git::git(&repo, &["worktree", "prune"]).await;
        let branch = Self::branch_of(session);
        let (exists, unmerged) = unmerged_commits(&repo, &branch, None).await;
        if exists && unmerged == 0 {
            let _ = git::git(&repo, &["branch", "-D", &branch]).await;
        }
        let id = session.id.clone();
        let _ = self
            .store
            .call(move |c| {
                c.execute("UPDATE sessions SET worktree_path = NULL WHERE id = ?1", [&id])?;
                store::set_meta(c, &id, "worktree_rolled_back", &Value::Bool(true))
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_records() {
        let text = "worktree /r\nHEAD aaa\nbranch refs/heads/main\n\nworktree /h/worktrees/x/ap_1\nHEAD bbb\nbranch refs/heads/agentpool/fake-patch/abc123\n\nworktree /d\nHEAD ccc\ndetached\n";
        let recs = parse_porcelain(text);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].branch.as_deref(), Some("refs/heads/agentpool/fake-patch/abc123"));
        assert_eq!(recs[1].head.as_deref(), Some("bbb"));
        assert!(recs[2].detached && recs[2].branch.is_none());
        assert!(parse_porcelain("").is_empty());
    }

    #[test]
    fn layout_separates_sibling_repos() {
        let home = Path::new("/h");
        let a = worktree_root(home, "/src/app");
        let b = worktree_root(home, "/src/app2");
        assert_ne!(a, b);
        assert!(a.starts_with("/h/worktrees"));
        assert_eq!(worktree_branch("fake patch!", "ap_0123456789ab"), "agentpool/fake-patch/6789ab");
    }

    fn sh(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.email=t@e", "-c", "user.name=t"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[tokio::test]
    async fn risk_counts_dirty_files_and_unmerged_commits() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        sh(&repo, &["init", "-q", "-b", "main"]);
        sh(&repo, &["commit", "-q", "--allow-empty", "-m", "init"]);
        let wt = dir.path().join("wt");
        sh(&repo, &["worktree", "add", "-q", "-b", "agentpool/p/abc123", wt.to_str().unwrap()]);
        let clean = assess(&repo, &wt, "agentpool/p/abc123").await;
        assert!(clean.is_empty() && clean.branch_exists, "{clean:?}");

        std::fs::write(wt.join("new.txt"), "x").unwrap();
        let dirty = assess(&repo, &wt, "agentpool/p/abc123").await;
        assert_eq!((dirty.dirty_count, dirty.unmerged_commits), (1, 0));
        assert_eq!(dirty.dirty_files, ["new.txt"]);

        sh(&wt, &["add", "new.txt"]);
        sh(&wt, &["commit", "-q", "-m", "work"]);
        let unmerged = assess(&repo, &wt, "agentpool/p/abc123").await;
        assert_eq!((unmerged.dirty_count, unmerged.unmerged_commits), (0, 1));
        assert_eq!(unmerged.reason(), Some("unmerged_commits"));

        // Once main holds the commit, nothing is at risk.
        sh(&repo, &["merge", "-q", "--ff-only", "agentpool/p/abc123"]);
        assert!(assess(&repo, &wt, "agentpool/p/abc123").await.is_empty());

        // Commits made on a detached HEAD inside the worktree count too.
        sh(&wt, &["checkout", "-q", "--detach"]);
        sh(&wt, &["commit", "-q", "--allow-empty", "-m", "detached work"]);
        assert_eq!(assess(&repo, &wt, "agentpool/p/abc123").await.unmerged_commits, 1);
    }
}
