//! `agentpool worktrees …`: list AgentPool's worktrees of a repository and clean one up.

use agentpool_core::error::Result;
use serde_json::Value;

use crate::args::WorktreesCommand;
use crate::commands::Context;
use crate::output::{self, Out};

pub async fn run(ctx: &Context, cmd: WorktreesCommand) -> Result<Out> {
    match cmd {
        WorktreesCommand::List { repo } => list(ctx, &repo).await,
        WorktreesCommand::Cleanup { session_id, force, dry_run } => cleanup(ctx, &session_id, force, dry_run).await,
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
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
    let mut human = format!("session: {session_id}\npath: {}\n", s(&r["path"]));
    if dry_run {
        human.push_str(&format!(
            "would remove: {}\nblocked: {}\nreason: {}\n",
            s(&r["would_remove"]),
            s(&r["blocked"]),
            s(&r["reason"])
        ));
        let lose = &r["would_lose"];
        if lose.is_object() {
            human.push_str(&at_risk(lose, "would lose"));
        }
    } else {
        human.push_str(&format!(
            "removed: {}\nbranch: {} ({})\n",
            s(&r["removed"]),
            s(&r["branch"]),
            if r["branch_deleted"] == Value::Bool(true) {
                "deleted".to_owned()
            } else {
                format!("kept: {}", s(&r["branch_kept_reason"]))
            }
        ));
        if r["discarded"].is_object() {
            human.push_str(&files_at_risk(&r["discarded"], "discarded"));
        }
        let kept = &r["stashes_kept"];
        if kept["count"].as_u64().unwrap_or(0) > 0 {
            human.push_str(&listing("stashes kept (git stash list)", kept, "items"));
        }
    }
    Ok(Out::new(r, human))
}

/// `label (count):` and one line per listed entry, with `… and N more` when truncated.
fn listing(label: &str, list: &Value, key: &str) -> String {
    let count = list["count"].as_u64().unwrap_or(0);
    let mut out = format!("{label} ({count}):\n");
    let items = list[key].as_array().map(Vec::as_slice).unwrap_or_default();
    for item in items {
        let line = match item {
            Value::Object(_) => format!("{} {}", s(&item["ref"]), s(&item["sha"])),
            other => s(other),
        };
        out.push_str(&format!("  {line}\n"));
    }
    let more = count.saturating_sub(items.len() as u64);
    if more > 0 {
        out.push_str(&format!("  … and {more} more\n"));
    }
    out
}

/// The files part of a `would_lose` / `discarded` object.
fn files_at_risk(lose: &Value, verb: &str) -> String {
    let mut out = String::new();
    if lose["unreadable"] == Value::Bool(true) {
        out.push_str(&format!("{verb}: the worktree (git status could not read it)\n"));
    }
    for (kind, label) in
        [("modified", "modified files"), ("untracked", "untracked files"), ("ignored", "ignored files")]
    {
        if lose[kind]["count"].as_u64().unwrap_or(0) > 0 {
            out.push_str(&listing(&format!("{verb}: {label}"), &lose[kind], "paths"));
        }
    }
    out
}

/// Everything in a `would_lose` object, one kind after another; `nothing` when empty.
fn at_risk(lose: &Value, verb: &str) -> String {
    let mut out = files_at_risk(lose, verb);
    if lose["commits"]["count"].as_u64().unwrap_or(0) > 0 {
        out.push_str(&listing(&format!("{verb}: commits on no other branch"), &lose["commits"], "shas"));
    }
    if lose["stashes"]["count"].as_u64().unwrap_or(0) > 0 {
        out.push_str(&listing("stashes made in the worktree, kept in the repository", &lose["stashes"], "items"));
    }
    if out.is_empty() {
        out.push_str(&format!("{verb}: nothing\n"));
    }
    out
}
