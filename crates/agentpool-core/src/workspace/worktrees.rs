//! Worktree isolation: where AgentPool puts a worker's git worktree, how it lists them, and
//! how it cleans one up without losing work.
//!
//! Layout: `$AGENTPOOL_HOME/worktrees/<sha256(repo path)[:16]>/<session-id>` on branch
//! `agentpool/<provider>/<last 6 of id>`. The directory lives under AgentPool's home, keyed by
//! a hash of the repository path, so two sibling repositories never share a worktree root (the
//! reference used `../.agentpool-worktrees/`, which they did).
//!
//! Cleanup never discards work silently. Before removing a worktree it lists everything the
//! removal would lose:
//! - **modified** files: tracked changes, staged or not (deletions, renames and conflicts too);
//! - **untracked** files;
//! - **ignored** files (`local.env`, build outputs): plain `git worktree remove` deletes them
//!   without a word, so AgentPool checks them itself; a directory whose whole content is
//!   ignored is one entry, `dir/`;
//! - **commits** on the branch (or a detached `HEAD` inside the worktree) that no other ref
//!   holds: the repository's `HEAD`, another local branch, a remote branch or a tag;
//! - **stashes** made in the worktree (stashes are repository-wide; a stash belongs to the
//!   worktree when its message names the worktree's branch, or when it was made on top of one
//!   of the commits above, or on the worktree's detached `HEAD`).
//!
//! Without `--force` a cleanup that would lose any of these is refused with `WORKTREE_DIRTY`,
//! listing them (counts per kind, and the first [`MAX_LISTED`] entries of each), and nothing is
//! removed; the removal itself is a plain `git worktree remove`, so git refuses too if a file
//! appears in between. With `--force` the worktree directory and its registration go
//! (`git worktree remove --force`), but the branch is deleted only when none of its commits
//! would be lost, and stashes are never dropped: both stay recoverable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::api::{
    Cleanup, CleanupActive, CleanupDone, CleanupNoWorktree, CleanupPlan, ListedCommits, ListedPaths, ListedStashes,
    StashRef, WorktreeLoss, resolve_repo,
};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentSession, SessionState};
use crate::pool::Pool;
use crate::runtime::Liveness;
use crate::store::{self, SessionFilter};
use crate::util;
use crate::workspace::git;

/// Most entries of each kind (files, commits, stashes) listed in a cleanup plan or refusal;
/// the counts are always complete.
pub const MAX_LISTED: usize = 50;
/// Entries of each kind named in the refusal's message (its details list up to `MAX_LISTED`).
const MAX_IN_MESSAGE: usize = 3;

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

/// A counted list: every entry is counted, the first [`MAX_LISTED`] are kept.
#[derive(Debug, Clone, PartialEq)]
struct Listed<T = String> {
    count: usize,
    items: Vec<T>,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self { count: 0, items: Vec::new() }
    }
}

impl<T> Listed<T> {
    fn push(&mut self, item: T) {
        self.count += 1;
        if self.items.len() < MAX_LISTED {
            self.items.push(item);
        }
    }

    fn truncated(&self) -> bool {
        self.count > self.items.len()
    }

    /// The first few entries, named by `name`, for a one-line message: `a, b, c, …`.
    fn sample(&self, name: impl Fn(&T) -> &str) -> String {
        let mut names: Vec<&str> = self.items.iter().take(MAX_IN_MESSAGE).map(name).collect();
        if self.count > names.len() {
            names.push("…");
        }
        names.join(", ")
    }
}

impl Listed {
    fn paths(&self) -> ListedPaths {
        ListedPaths { count: self.count, paths: self.items.clone(), truncated: self.truncated() }
    }
}

impl Listed<StashRef> {
    fn stashes(&self) -> ListedStashes {
        ListedStashes { count: self.count, items: self.items.clone(), truncated: self.truncated() }
    }
}

/// The files of a worktree that removing it would delete, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
struct WorkingFiles {
    /// Tracked changes, staged or not: modified, added, deleted, renamed, copied, conflicted.
    modified: Listed,
    untracked: Listed,
    /// Ignored files; a directory whose whole content is ignored is one entry, `dir/`.
    ignored: Listed,
}

impl WorkingFiles {
    fn count(&self) -> usize {
        self.modified.count + self.untracked.count + self.ignored.count
    }
}

/// Parses `git status --porcelain=v1 -z --ignored=matching`: `XY path` records separated by
/// NUL, a rename or copy followed by one more record holding its source path.
fn parse_status_z(text: &str) -> WorkingFiles {
    let mut out = WorkingFiles::default();
    let mut records = text.split('\0');
    while let Some(record) = records.next() {
        let bytes = record.as_bytes();
        let Some(path) = record.get(3..).filter(|p| bytes.len() > 3 && bytes[2] == b' ' && !p.is_empty()) else {
            continue;
        };
        let (x, y) = (bytes[0], bytes[1]);
        if matches!(x, b'R' | b'C') || matches!(y, b'R' | b'C') {
            // The source of a rename or copy: the change is listed once, by its new path.
            records.next();
        }
        let list = match (x, y) {
            (b'?', b'?') => &mut out.untracked,
            (b'!', b'!') => &mut out.ignored,
            _ => &mut out.modified,
        };
        list.push(path.to_owned());
    }
    out
}

/// Commits that only a worktree's branch (or its detached `HEAD`) holds.
#[derive(Debug, Clone, Default)]
struct Unmerged {
    branch_exists: bool,
    count: u64,
    /// Every such commit (full hashes), to tell which stashes were made on top of them.
    shas: Vec<String>,
}

/// Finds the commits reachable from the branch (and the worktree's `HEAD`, which may have
/// moved off it) that no other ref holds: the repository's `HEAD`, other local branches,
/// remote branches, tags.
async fn unmerged_commits(repo: &Path, branch: &str, worktree_head: Option<&str>) -> Unmerged {
    let full = format!("refs/heads/{branch}");
    let branch_exists = git::git(repo, &["rev-parse", "--verify", "-q", &full]).await.success();
    let mut args: Vec<String> = vec!["rev-list".into()];
    if branch_exists {
        args.push(full.clone());
    }
    if let Some(h) = worktree_head {
        args.push(h.to_owned());
    }
    if args.len() == 1 {
        return Unmerged { branch_exists, ..Unmerged::default() };
    }
    let has_head = git::git(repo, &["rev-parse", "--verify", "-q", "HEAD"]).await.success();
    args.push("--not".into());
    if has_head {
        args.push("HEAD".into());
    }
    args.extend([format!("--exclude={branch}"), "--branches".into(), "--remotes".into(), "--tags".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = git::git(repo, &refs).await;
    if !out.success() {
        // When git cannot tell, assume the worst: one commit at risk.
        return Unmerged { branch_exists, count: 1, shas: Vec::new() };
    }
    let shas: Vec<String> = out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    Unmerged { branch_exists, count: shas.len() as u64, shas }
}

/// The stashes made in a worktree (see the module docs): `{ref, sha}` each, newest first.
async fn worktree_stashes(
    repo: &Path,
    branch: &str,
    worktree_head: Option<&str>,
    unmerged: &HashSet<&str>,
) -> Listed<StashRef> {
    let mut out = Listed::default();
    let list = git::git(repo, &["stash", "list", "--no-show-signature", "--format=%gd%x1f%H%x1f%P%x1f%gs"]).await;
    if !list.success() {
        return out;
    }
    for line in list.stdout.lines() {
        let mut f = line.splitn(4, '\x1f');
        let (Some(reference), Some(sha), Some(parents), Some(subject)) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let parent = parents.split(' ').next().unwrap_or("");
        if stash_belongs(subject, parent, branch, worktree_head, unmerged) {
            out.push(StashRef { reference: reference.to_owned(), sha: sha.to_owned() });
        }
    }
    out
}

/// Whether a stash (its reflog subject and the commit it was made on) belongs to a worktree.
fn stash_belongs(
    subject: &str,
    parent: &str,
    branch: &str,
    worktree_head: Option<&str>,
    unmerged: &HashSet<&str>,
) -> bool {
    // `git stash` writes "WIP on <branch>: …" or "On <branch>: <message>".
    let names_branch = [format!("WIP on {branch}: "), format!("On {branch}: ")].iter().any(|p| subject.starts_with(p));
    let detached_here = (subject.starts_with("WIP on (no branch): ") || subject.starts_with("On (no branch): "))
        && worktree_head == Some(parent);
    names_branch || detached_here || unmerged.contains(parent)
}

/// What removing a worktree would lose.
#[derive(Debug, Clone, Default)]
struct AtRisk {
    files: WorkingFiles,
    /// `git status` could not read the worktree: it might hold anything.
    unreadable: bool,
    unmerged_commits: u64,
    /// The first [`MAX_LISTED`] of those commits (hashes).
    commits: Listed,
    stashes: Listed<StashRef>,
    branch_exists: bool,
}

impl AtRisk {
    /// Files at risk: modified, untracked and ignored (the historical `dirty_count`).
    fn dirty_count(&self) -> usize {
        self.files.count() + usize::from(self.unreadable)
    }

    fn is_empty(&self) -> bool {
        self.dirty_count() == 0 && self.unmerged_commits == 0 && self.stashes.count == 0
    }

    fn reason(&self) -> Option<&'static str> {
        if self.dirty_count() > 0 {
            Some("dirty")
        } else if self.unmerged_commits > 0 {
            Some("unmerged_commits")
        } else if self.stashes.count > 0 {
            Some("stashes")
        } else {
            None
        }
    }

    /// The kinds at risk, in a fixed order.
    fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        for (name, n) in [
            ("unreadable", usize::from(self.unreadable)),
            ("modified", self.files.modified.count),
            ("untracked", self.files.untracked.count),
            ("ignored", self.files.ignored.count),
            ("unmerged_commits", usize::try_from(self.unmerged_commits).unwrap_or(usize::MAX)),
            ("stashes", self.stashes.count),
        ] {
            if n > 0 {
                k.push(name);
            }
        }
        k
    }

    /// One line: counts per kind, each with its first few entries.
    fn describe(&self) -> String {
        fn plural(n: usize, one: &str, many: &str) -> String {
            format!("{n} {}", if n == 1 { one } else { many })
        }
        let mut parts = Vec::new();
        if self.unreadable {
            parts.push("a working tree `git status` could not read".to_owned());
        }
        for (list, one, many) in [
            (&self.files.modified, "modified file", "modified files"),
            (&self.files.untracked, "untracked file", "untracked files"),
            (&self.files.ignored, "ignored file", "ignored files"),
        ] {
            if list.count > 0 {
                parts.push(format!("{} ({})", plural(list.count, one, many), list.sample(String::as_str)));
            }
        }
        if self.unmerged_commits > 0 {
            let n = usize::try_from(self.unmerged_commits).unwrap_or(usize::MAX);
            let shas: Vec<String> =
                self.commits.items.iter().take(MAX_IN_MESSAGE).map(|s| s.chars().take(12).collect()).collect();
            let mut named = shas.join(", ");
            if n > shas.len() {
                named.push_str(if shas.is_empty() { "…" } else { ", …" });
            }
            parts.push(format!("{} on no other branch ({named})", plural(n, "commit", "commits")));
        }
        if self.stashes.count > 0 {
            parts.push(format!(
                "{} made in it ({})",
                plural(self.stashes.count, "stash", "stashes"),
                self.stashes.sample(|s| s.reference.as_str())
            ));
        }
        parts.join(", ")
    }

    fn loss(&self) -> WorktreeLoss {
        let f = &self.files;
        let mut dirty_files: Vec<String> = Vec::new();
        if self.unreadable {
            dirty_files.push("<git status failed>".to_owned());
        }
        for list in [&f.modified, &f.untracked, &f.ignored] {
            dirty_files.extend(list.items.iter().cloned());
        }
        dirty_files.truncate(MAX_LISTED);
        WorktreeLoss {
            dirty_files,
            dirty_count: self.dirty_count(),
            unmerged_commits: self.unmerged_commits,
            kinds: self.kinds().into_iter().map(str::to_owned).collect(),
            unreadable: self.unreadable,
            modified: f.modified.paths(),
            untracked: f.untracked.paths(),
            ignored: f.ignored.paths(),
            commits: ListedCommits {
                count: self.commits.count,
                shas: self.commits.items.clone(),
                truncated: self.commits.truncated(),
            },
            stashes: self.stashes.stashes(),
        }
    }
}

/// Everything removing `worktree` (a worktree of `repo` on `branch`) would lose.
async fn assess(repo: &Path, worktree: &Path, branch: &str) -> AtRisk {
    let mut risk = AtRisk::default();
    let mut head = None;
    if worktree.is_dir() {
        // The directory must be a worktree's top level: if its `.git` file were gone, git would
        // answer for whatever repository encloses it.
        let top = git::git(worktree, &["rev-parse", "--show-toplevel"]).await;
        let is_top = top.success() && same_path(top.stdout.trim(), &worktree.display().to_string());
        let status = if is_top {
            Some(
                git::git(
                    worktree,
                    &[
                        "status",
                        "--porcelain=v1",
                        "-z",
                        "--untracked-files=all",
                        "--ignored=matching",
                        "--ignore-submodules=none",
                    ],
                )
                .await,
            )
        } else {
            None
        };
        match status {
            Some(s) if s.success() => risk.files = parse_status_z(&s.stdout),
            // An unreadable worktree might hold anything.
            _ => risk.unreadable = true,
        }
        if is_top {
            let h = git::git(worktree, &["rev-parse", "--verify", "-q", "HEAD"]).await;
            if h.success() {
                head = Some(h.stdout.trim().to_owned());
            }
        }
    }
    let unmerged = unmerged_commits(repo, branch, head.as_deref()).await;
    risk.branch_exists = unmerged.branch_exists;
    risk.unmerged_commits = unmerged.count;
    for sha in &unmerged.shas {
        risk.commits.push(sha.clone());
    }
    // The count stays what rev-list said, even when git failed and no hash is known.
    risk.commits.count = usize::try_from(unmerged.count).unwrap_or(usize::MAX);
    let shas: HashSet<&str> = unmerged.shas.iter().map(String::as_str).collect();
    risk.stashes = worktree_stashes(repo, branch, head.as_deref(), &shas).await;
    risk
}

/// The dry run of a cleanup a live worker blocks: `session` itself (`used_by` none), or the
/// session `used_by` resumed into its worktree, in `state`.
fn held(session: &AgentSession, state: SessionState, path: String, branch: String, used_by: Option<String>) -> Cleanup {
    Cleanup::Active(CleanupActive {
        session_id: session.id.clone(),
        dry_run: true,
        would_remove: false,
        blocked: true,
        reason: "active".to_owned(),
        state,
        path,
        branch,
        used_by,
    })
}

/// The refusal of a cleanup that would lose `risk`.
fn refusal(session_id: &str, path: &str, branch: &str, risk: &AtRisk) -> Error {
    Error::new(
        ErrorCode::WorktreeDirty,
        format!(
            "cleanup would lose work in `{path}`: {}. Nothing was removed; force removes the worktree anyway (a branch with unmerged commits, and stashes, are kept)",
            risk.describe()
        ),
    )
    .with("worktree_path", path)
    .with("session_id", session_id)
    .with("branch", branch)
    .with("reason", risk.reason())
    .with("would_lose", serde_json::to_value(risk.loss()).unwrap_or_default())
    .with("example", format!("agentpool worktrees cleanup --session-id {session_id} --dry-run"))
}

impl Pool {
    /// The branch of a worktree session (recorded at spawn; derived for older sessions).
    pub(crate) fn branch_of(session: &AgentSession) -> String {
        session
            .meta()
            .worktree_branch
            .as_deref()
            .map(str::to_owned)
            .unwrap_or_else(|| worktree_branch(&session.provider_id, &session.id))
    }

    /// AgentPool's worktrees of one repository: `{repo_path, worktrees: [{path, head, branch,
    /// active, session_id, state}]}`. A directory that is not a git repository has none.
    pub async fn list_worktrees(&self, repo_path: &str) -> Result<crate::api::WorktreeList> {
        let repo = resolve_repo(repo_path)?;
        let repo_str = repo.display().to_string();
        if !git::is_repo(&repo).await {
            return Ok(crate::api::WorktreeList { repo_path: repo_str, worktrees: Vec::new() });
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
        let rows: Vec<crate::api::WorktreeRow> = parse_porcelain(&out.stdout)
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
                crate::api::WorktreeRow {
                    exists: Path::new(&r.path).is_dir(),
                    active: owner.is_some_and(|s| s.is_live()),
                    session_id: owner.map(|s| s.id.clone()),
                    state: owner.map(|s| s.state),
                    path: r.path,
                    head: r.head,
                    branch: r.branch,
                    detached: r.detached,
                }
            })
            .collect();
        Ok(crate::api::WorktreeList { repo_path: repo_str, worktrees: rows })
    }

    /// Removes a session's worktree (see the module docs for what is protected).
    pub async fn cleanup_worktree(&self, session_id: &str, force: bool, dry_run: bool) -> Result<Cleanup> {
        let session = self.load(session_id).await?;
        let Some(path_str) = session.worktree_path.clone() else {
            return Ok(Cleanup::NoWorktree(CleanupNoWorktree {
                session_id: session.id,
                removed: false,
                would_remove: false,
                dry_run,
                reason: "session has no worktree".to_owned(),
            }));
        };
        let path = PathBuf::from(&path_str);
        let repo = PathBuf::from(&session.repo_path);
        let branch = Self::branch_of(&session);
        if session.is_live() {
            if dry_run {
                return Ok(held(&session, session.state, path_str, branch, None));
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
        // A resumed session may run in this worktree again: it is theirs too while they live.
        let p = path_str.clone();
        let sharing = self.store.call(move |c| store::sessions_in_worktree(c, &p)).await?;
        if let Some(live) = sharing.iter().find(|s| s.id != session.id && s.is_live()) {
            if dry_run {
                return Ok(held(&session, live.state, path_str, branch, Some(live.id.clone())));
            }
            return Err(Error::new(
                ErrorCode::WorktreeActive,
                format!(
                    "session `{}` (resumed from this one) still runs in this worktree; terminate it first",
                    live.id
                ),
            )
            .with("session_id", &session.id)
            .with("used_by", &live.id)
            .with("state", live.state)
            .with("example", format!("agentpool terminate {}", live.id)));
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
            return Ok(Cleanup::Plan(CleanupPlan {
                session_id: session.id.clone(),
                dry_run: true,
                would_remove: exists && !blocked,
                blocked: exists && blocked,
                path: path_str,
                exists,
                branch,
                dirty: risk.dirty_count() > 0,
                force,
                reason: reason.map(str::to_owned),
                would_lose: risk.loss(),
                would_delete_branch: !blocked && delete_branch,
            }));
        }
        if exists && blocked {
            return Err(refusal(&session.id, &path_str, &branch, &risk));
        }
        // A worker that finished may still hold its pane (a TUI at its prompt, or a kept
        // dead pane); stop it before its directory disappears.
        if let Some(r) = session.runtime_ref()
            && let Ok(list) = self.runtime.list(r.socket.as_deref()).await
            && matches!(list.get(&r.session_name), Some(Liveness::Alive | Liveness::Dead { .. }))
        {
            let _ = self.runtime.terminate(&r).await;
        }
        let mut removed = false;
        if exists {
            if !force {
                // The pane is gone now; look again, in case it wrote something meanwhile.
                let again = assess(&repo, &path, &branch).await;
                if !again.is_empty() {
                    return Err(refusal(&session.id, &path_str, &branch, &again));
                }
            }
            // Without force, plain `git worktree remove`: git refuses too if an untracked or
            // modified file appeared since the check.
            let args: &[&str] =
                if force { &["worktree", "remove", "--force", &path_str] } else { &["worktree", "remove", &path_str] };
            let out = git::git(&repo, args).await;
            if !out.success() {
                if !force {
                    let again = assess(&repo, &path, &branch).await;
                    if !again.is_empty() {
                        return Err(refusal(&session.id, &path_str, &branch, &again));
                    }
                }
                return Err(Error::new(ErrorCode::WorktreeCleanupFailed, "`git worktree remove` failed")
                    .with("worktree_path", &path_str)
                    .with("force", force)
                    .with("stderr", out.stderr.trim()));
            }
            removed = true;
        }
        let _ = git::git(&repo, &["worktree", "prune"]).await;
        // Re-check after removal: the branch is deleted only when nothing on it is lost.
        let after = unmerged_commits(&repo, &branch, None).await;
        let (branch_exists, unmerged) = (after.branch_exists, after.count);
        let mut branch_deleted = false;
        if branch_exists && unmerged == 0 {
            branch_deleted = git::git(&repo, &["branch", "-D", &branch]).await.success();
        }
        let branch_kept_reason = match (branch_exists, branch_deleted) {
            (false, _) | (true, true) => None,
            (true, false) if unmerged > 0 => Some("unmerged_commits".to_owned()),
            (true, false) => Some("delete_failed".to_owned()),
        };
        let result = CleanupDone {
            session_id: session.id.clone(),
            removed,
            path: path_str,
            reason: (!exists).then(|| "missing".to_owned()),
            dirty: risk.dirty_count() > 0,
            force,
            discarded: removed.then(|| risk.loss()),
            branch,
            branch_deleted,
            branch_kept_reason,
            unmerged_commits: unmerged,
            stashes_kept: risk.stashes.stashes(),
        };
        let id = session.id.clone();
        self.store
            .call(move |c| store::set_meta(c, &id, crate::model::MetaKey::WorktreeRemovedAt, &json!(util::now())))
            .await?;
        let data = match serde_json::to_value(&result) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        self.event(&session, "worktree_cleanup", Some(session.state), None, None, data).await?;
        Ok(Cleanup::Done(result))
    }

    /// Undoes a worktree created by a spawn that then failed: the directory, its
    /// registration, and the branch when it holds nothing new. Errors are ignored: this runs
    /// on a failure path and must not mask the original error.
    pub(crate) async fn rollback_worktree(&self, session: &AgentSession) {
        let Some(path) = session.worktree_path.as_deref() else { return };
        // A resumed session's worktree belongs to the conversation, not to this spawn.
        if session.meta().worktree_reused.as_deref().is_some() {
            return;
        }
        let repo = PathBuf::from(&session.repo_path);
        let _ = git::git(&repo, &["worktree", "remove", "--force", path]).await;
        let _ = git::git(&repo, &["worktree", "prune"]).await;
        let branch = Self::branch_of(session);
        let left = unmerged_commits(&repo, &branch, None).await;
        if left.branch_exists && left.count == 0 {
            let _ = git::git(&repo, &["branch", "-D", &branch]).await;
        }
        let id = session.id.clone();
        let _ = self
            .store
            .call(move |c| {
                store::set_worktree_path(c, &id, None)?;
                store::set_meta(c, &id, crate::model::MetaKey::WorktreeRolledBack, &Value::Bool(true))
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

    /// What a removal would lose, as the JSON both front ends show.
    fn json_of(risk: &AtRisk) -> Value {
        serde_json::to_value(risk.loss()).unwrap()
    }

    fn paths(list: &Listed) -> Vec<&str> {
        list.items.iter().map(String::as_str).collect()
    }

    #[test]
    fn status_records_by_kind() {
        let text = " M src/a.rs\0A  staged.txt\0R  new name.txt\0old name.txt\0 D gone.txt\0UU both.txt\0?? dir/new.txt\0?? ünï.txt\0!! local.env\0!! target/\0";
        let f = parse_status_z(text);
        assert_eq!(paths(&f.modified), ["src/a.rs", "staged.txt", "new name.txt", "gone.txt", "both.txt"]);
        assert_eq!(paths(&f.untracked), ["dir/new.txt", "ünï.txt"]);
        assert_eq!(paths(&f.ignored), ["local.env", "target/"]);
        assert_eq!(f.count(), 9);
        assert_eq!(parse_status_z(""), WorkingFiles::default());
        // Junk records are skipped, not misread.
        assert_eq!(parse_status_z("x\0??\0?? \0").count(), 0);
    }

    #[test]
    fn lists_are_bounded_but_counted() {
        let text: String = (0..120).map(|i| format!("!! build/{i}.o\0")).collect();
        let f = parse_status_z(&text);
        assert_eq!((f.ignored.count, f.ignored.items.len()), (120, MAX_LISTED));
        let risk = AtRisk { files: f, ..AtRisk::default() };
        let j = json_of(&risk);
        assert_eq!((j["dirty_count"].as_u64(), j["ignored"]["truncated"].as_bool()), (Some(120), Some(true)));
        assert_eq!(j["dirty_files"].as_array().unwrap().len(), MAX_LISTED);
        assert_eq!(j["kinds"], json!(["ignored"]));
        assert_eq!(risk.describe(), "120 ignored files (build/0.o, build/1.o, build/2.o, …)");
    }

    #[test]
    fn stashes_belong_by_branch_name_or_base_commit() {
        let b = "agentpool/fake/abc123";
        let none = HashSet::new();
        assert!(stash_belongs("WIP on agentpool/fake/abc123: 1234567 init", "p", b, None, &none));
        assert!(stash_belongs("On agentpool/fake/abc123: keep this", "p", b, None, &none));
        assert!(!stash_belongs("On agentpool/fake/abc1234: other", "p", b, None, &none));
        assert!(!stash_belongs("WIP on main: 1234567 init", "p", b, Some("p"), &none));
        assert!(stash_belongs("WIP on (no branch): 1234567 x", "p", b, Some("p"), &none));
        assert!(!stash_belongs("WIP on (no branch): 1234567 x", "q", b, Some("p"), &none));
        let mine: HashSet<&str> = ["q"].into_iter().collect();
        assert!(stash_belongs("On other: x", "q", b, None, &mine));
    }

    fn repo_with_worktree(dir: &Path) -> (PathBuf, PathBuf) {
        let repo = dir.join("repo");
        std::fs::create_dir(&repo).unwrap();
        sh(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join(".gitignore"), "*.env\ntarget/\n").unwrap();
        std::fs::write(repo.join("tracked.txt"), "v1\n").unwrap();
        sh(&repo, &["add", "."]);
        sh(&repo, &["commit", "-q", "-m", "init"]);
        let wt = dir.join("wt");
        sh(&repo, &["worktree", "add", "-q", "-b", "agentpool/p/abc123", wt.to_str().unwrap()]);
        (repo, wt)
    }

    #[tokio::test]
    async fn risk_counts_every_kind_of_work() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = repo_with_worktree(dir.path());
        let b = "agentpool/p/abc123";
        let clean = assess(&repo, &wt, b).await;
        assert!(clean.is_empty() && clean.branch_exists, "{clean:?}");

        // Ignored files are work too: plain `git worktree remove` would delete them silently.
        std::fs::write(wt.join("local.env"), "SECRET=1\n").unwrap();
        std::fs::create_dir_all(wt.join("target/debug")).unwrap();
        std::fs::write(wt.join("target/debug/app"), "bin").unwrap();
        let ignored = assess(&repo, &wt, b).await;
        assert_eq!(paths(&ignored.files.ignored), ["local.env", "target/"], "{ignored:?}");
        assert_eq!((ignored.dirty_count(), ignored.reason()), (2, Some("dirty")));
        assert_eq!(json_of(&ignored)["dirty_files"], json!(["local.env", "target/"]));

        std::fs::write(wt.join("new.txt"), "x").unwrap();
        std::fs::write(wt.join("tracked.txt"), "v2\n").unwrap();
        let dirty = assess(&repo, &wt, b).await;
        assert_eq!(paths(&dirty.files.modified), ["tracked.txt"]);
        assert_eq!(paths(&dirty.files.untracked), ["new.txt"]);
        assert_eq!(dirty.kinds(), ["modified", "untracked", "ignored"]);
        assert_eq!(
            dirty.describe(),
            "1 modified file (tracked.txt), 1 untracked file (new.txt), 2 ignored files (local.env, target/)"
        );

        std::fs::remove_file(wt.join("local.env")).unwrap();
        std::fs::remove_dir_all(wt.join("target")).unwrap();
        sh(&wt, &["add", "-A"]);
        sh(&wt, &["commit", "-q", "-m", "work"]);
        let unmerged = assess(&repo, &wt, b).await;
        assert_eq!((unmerged.dirty_count(), unmerged.unmerged_commits), (0, 1));
        assert_eq!(unmerged.reason(), Some("unmerged_commits"));
        let head = sh(&wt, &["rev-parse", "HEAD"]).trim().to_owned();
        assert_eq!(paths(&unmerged.commits), [head.as_str()]);

        // A tag holds the commit as well as main would.
        sh(&repo, &["tag", "kept", b]);
        assert!(assess(&repo, &wt, b).await.is_empty());
        sh(&repo, &["tag", "-d", "kept"]);

        // Once main holds the commit, nothing is at risk.
        sh(&repo, &["merge", "-q", "--ff-only", b]);
        assert!(assess(&repo, &wt, b).await.is_empty());

        // Commits made on a detached HEAD inside the worktree count too.
        sh(&wt, &["checkout", "-q", "--detach"]);
        sh(&wt, &["commit", "-q", "--allow-empty", "-m", "detached work"]);
        assert_eq!(assess(&repo, &wt, b).await.unmerged_commits, 1);
    }

    #[tokio::test]
    async fn stashes_made_in_the_worktree_are_at_risk_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = repo_with_worktree(dir.path());
        let b = "agentpool/p/abc123";
        // A stash in the main checkout is not the worktree's.
        std::fs::write(repo.join("tracked.txt"), "main edit\n").unwrap();
        sh(&repo, &["stash", "push", "-q", "-m", "mine"]);
        assert!(assess(&repo, &wt, b).await.is_empty());

        std::fs::write(wt.join("tracked.txt"), "worker edit\n").unwrap();
        sh(&wt, &["stash", "push", "-q", "-m", "set aside"]);
        let risk = assess(&repo, &wt, b).await;
        assert_eq!((risk.dirty_count(), risk.stashes.count), (0, 1), "{risk:?}");
        assert_eq!(risk.reason(), Some("stashes"));
        let sha = sh(&repo, &["rev-parse", "stash@{0}"]).trim().to_owned();
        assert_eq!(serde_json::to_value(&risk.stashes.items).unwrap(), json!([{"ref": "stash@{0}", "sha": sha}]));
        assert_eq!(risk.describe(), "1 stash made in it (stash@{0})");
    }

    #[tokio::test]
    async fn an_unreadable_worktree_is_at_risk() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wt) = repo_with_worktree(dir.path());
        // Without its `.git` file the directory is no worktree (git would answer for whatever
        // repository encloses it).
        std::fs::remove_file(wt.join(".git")).unwrap();
        let inner = dir.path().join("wt");
        let risk = assess(&repo, &inner, "agentpool/p/abc123").await;
        assert!(risk.unreadable && !risk.is_empty(), "{risk:?}");
        assert_eq!(json_of(&risk)["dirty_files"], json!(["<git status failed>"]));
    }
}
