//! Read-only git facts for collect: status, changed files and a diff that includes untracked
//! files. Nothing here changes the repository or its index.

use std::path::Path;
use std::time::Duration;

use crate::process::{self, RunOptions, TIMEOUT_EXIT};

const GIT_TIMEOUT: Duration = Duration::from_secs(30);

pub use crate::api::GitFacts;

/// Runs `git -C <dir> <args>` without prompts, pagers or optional locks.
pub(crate) async fn git(dir: &Path, args: &[&str]) -> process::Output {
    let mut argv = vec!["git".to_owned(), "-C".to_owned(), dir.display().to_string()];
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    // Keep git from paging, prompting or reading the user's pager/editor settings.
    let env = [
        ("GIT_TERMINAL_PROMPT".to_owned(), "0".to_owned()),
        ("GIT_PAGER".to_owned(), "cat".to_owned()),
        ("GIT_OPTIONAL_LOCKS".to_owned(), "0".to_owned()),
    ];
    process::run(&argv, RunOptions { env: &env, timeout: Some(GIT_TIMEOUT), ..Default::default() }).await
}

/// Whether `dir` is inside a git work tree. A missing directory is not a repo.
pub async fn is_repo(dir: &Path) -> bool {
    dir.is_dir() && git(dir, &["rev-parse", "--is-inside-work-tree"]).await.stdout.trim() == "true"
}

/// `git status --porcelain` text and the facts derived from it.
pub async fn status(dir: &Path) -> (String, GitFacts) {
    if !is_repo(dir).await {
        return (String::new(), GitFacts::default());
    }
    let out = git(dir, &["status", "--porcelain"]).await;
    let text = if out.success() { out.stdout } else { String::new() };
    let changed_files: Vec<String> = text.lines().filter(|l| l.len() > 3).map(|l| l[3..].to_owned()).collect();
    let facts = GitFacts { is_repo: true, dirty: !text.trim().is_empty(), changed_files };
    (text, facts)
}

/// The working-tree diff against `HEAD` (binary-safe), followed by one new-file diff per
/// untracked, non-ignored file.
pub async fn diff(dir: &Path) -> String {
    if !is_repo(dir).await {
        return String::new();
    }
    let has_head = git(dir, &["rev-parse", "--verify", "-q", "HEAD"]).await.success();
    let tracked =
        if has_head { git(dir, &["diff", "--binary", "HEAD"]).await } else { git(dir, &["diff", "--binary"]).await };
    let mut out = match tracked.status {
        0 => tracked.stdout,
        TIMEOUT_EXIT => return "[agentpool] git diff timed out after 30s; diff omitted.\n".to_owned(),
        _ => return format!("[agentpool] git diff failed: {}\n", tracked.stderr.trim()),
    };
    let untracked = git(dir, &["ls-files", "--others", "--exclude-standard", "-z"]).await;
    for file in untracked.stdout.split('\0').filter(|f| !f.is_empty()) {
        // `--no-index` exits 1 when the files differ, which is the expected case here.
        let d = git(dir, &["diff", "--binary", "--no-index", "--", "/dev/null", file]).await;
        if d.status == 0 || d.status == 1 {
            out.push_str(&d.stdout);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn diff_includes_untracked_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let sh = |args: &[&str]| {
            let ok = std::process::Command::new("git").arg("-C").arg(p).args(args).output().unwrap().status.success();
            assert!(ok, "git {args:?}");
        };
        sh(&["init", "-q"]);
        sh(&["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"]);
        assert!(is_repo(p).await);
        let (_, clean) = status(p).await;
        assert!(!clean.dirty);
        std::fs::write(p.join("new.txt"), "hello\n").unwrap();
        let (text, facts) = status(p).await;
        assert_eq!(text.trim(), "?? new.txt");
        assert_eq!(facts.changed_files, ["new.txt"]);
        let d = diff(p).await;
        assert!(d.contains("+++ b/new.txt") && d.contains("+hello"), "{d}");
        assert!(!is_repo(&p.join("missing")).await);
    }
}
