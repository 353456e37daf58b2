//! `agentpool worktrees …`: list AgentPool's worktrees of a repository and clean one up.

use agentpool_core::api::{Cleanup, ListedStashes, WorktreeLoss};
use agentpool_core::error::Result;

use crate::args::WorktreesCommand;
use crate::commands::Context;
use crate::output::{self, Out};

pub async fn run(ctx: &Context, cmd: WorktreesCommand) -> Result<Out> {
    match cmd {
        WorktreesCommand::List { repo } => list(ctx, &repo).await,
        WorktreesCommand::Cleanup { session_id, force, dry_run } => cleanup(ctx, &session_id, force, dry_run).await,
    }
}

async fn list(ctx: &Context, repo: &str) -> Result<Out> {
    let r = ctx.manager.list_worktrees(repo).await?;
    let rows = r
        .worktrees
        .iter()
        .map(|w| {
            vec![
                w.session_id.clone().unwrap_or_else(|| "-".to_owned()),
                w.state.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                if w.active { "yes".into() } else { "no".into() },
                w.branch.as_deref().unwrap_or("-").trim_start_matches("refs/heads/").to_owned(),
                w.path.clone(),
            ]
        })
        .collect();
    let human =
        format!("repo: {}\n{}", r.repo_path, output::table(&["SESSION", "STATE", "ACTIVE", "BRANCH", "PATH"], rows));
    Ok(Out::typed(&r, human))
}

async fn cleanup(ctx: &Context, session_id: &str, force: bool, dry_run: bool) -> Result<Out> {
    let r = ctx.manager.cleanup_worktree(session_id, force, dry_run).await?;
    Ok(Out::typed(&r, cleanup_text(session_id, &r)))
}

/// The human text of a cleanup or its dry run.
fn cleanup_text(session_id: &str, r: &Cleanup) -> String {
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let mut human = format!("session: {session_id}\n");
    let plan = |path: &str, would_remove: bool, blocked: bool, reason: Option<&str>| {
        format!("path: {path}\nwould remove: {would_remove}\nblocked: {blocked}\nreason: {}\n", or_dash(reason))
    };
    match r {
        Cleanup::NoWorktree(n) => {
            human.push_str(&format!("path: -\nremoved: false\nreason: {}\n", n.reason));
        }
        Cleanup::Active(a) => {
            human.push_str(&plan(&a.path, a.would_remove, a.blocked, Some(&a.reason)));
            let holder = a.used_by.as_deref().unwrap_or(session_id);
            human.push_str(&format!("held by: {holder} ({})\n", a.state));
        }
        Cleanup::Plan(p) => {
            human.push_str(&plan(&p.path, p.would_remove, p.blocked, p.reason.as_deref()));
            human.push_str(&at_risk(&p.would_lose, "would lose"));
        }
        Cleanup::Done(d) => {
            let branch = if d.branch_deleted {
                "deleted".to_owned()
            } else {
                format!("kept: {}", or_dash(d.branch_kept_reason.as_deref()))
            };
            human.push_str(&format!("path: {}\nremoved: {}\nbranch: {} ({branch})\n", d.path, d.removed, d.branch));
            if let Some(lost) = &d.discarded {
                human.push_str(&files_at_risk(lost, "discarded"));
            }
            if d.stashes_kept.count > 0 {
                human.push_str(&listing(
                    "stashes kept (git stash list)",
                    d.stashes_kept.count,
                    &stash_lines(&d.stashes_kept),
                ));
            }
        }
    }
    human
}

fn stash_lines(list: &ListedStashes) -> Vec<String> {
    list.items.iter().map(|s| format!("{} {}", s.reference, s.sha)).collect()
}

/// `label (count):` and one line per listed entry, with `… and N more` when truncated.
fn listing(label: &str, count: usize, lines: &[String]) -> String {
    let mut out = format!("{label} ({count}):\n");
    for line in lines {
        out.push_str(&format!("  {line}\n"));
    }
    let more = count.saturating_sub(lines.len());
    if more > 0 {
        out.push_str(&format!("  … and {more} more\n"));
    }
    out
}

/// The files part of a `would_lose` / `discarded` object.
fn files_at_risk(lose: &WorktreeLoss, verb: &str) -> String {
    let mut out = String::new();
    if lose.unreadable {
        out.push_str(&format!("{verb}: the worktree (git status could not read it)\n"));
    }
    for (list, label) in
        [(&lose.modified, "modified files"), (&lose.untracked, "untracked files"), (&lose.ignored, "ignored files")]
    {
        if list.count > 0 {
            out.push_str(&listing(&format!("{verb}: {label}"), list.count, &list.paths));
        }
    }
    out
}

/// Everything in a `would_lose` object, one kind after another; `nothing` when empty.
fn at_risk(lose: &WorktreeLoss, verb: &str) -> String {
    let mut out = files_at_risk(lose, verb);
    if lose.commits.count > 0 {
        out.push_str(&listing(&format!("{verb}: commits on no other branch"), lose.commits.count, &lose.commits.shas));
    }
    if lose.stashes.count > 0 {
        out.push_str(&listing(
            "stashes made in the worktree, kept in the repository",
            lose.stashes.count,
            &stash_lines(&lose.stashes),
        ));
    }
    if out.is_empty() {
        out.push_str(&format!("{verb}: nothing\n"));
    }
    out
}
