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
    let rows = r["worktrees"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            vec![
                s(&w["session_id"]),
                s(&w["state"]),
                if w["active"] == Value::Bool(true) { "yes".into() } else { "no".into() },
                s(&w["branch"]).trim_start_matches("refs/heads/").to_owned(),
                s(&w["path"]),
            ]
        })
        .collect();
    let human = format!(
        "repo: {}\n{}",
        s(&r["repo_path"]),
        output::table(&["SESSION", "STATE", "ACTIVE", "BRANCH", "PATH"], rows)
    );
    Ok(Out::new(r, human))
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
            human.push_str(&format!(
                "uncommitted changes: {}\nunmerged commits: {}\n",
                s(&lose["dirty_count"]),
                s(&lose["unmerged_commits"])
            ));
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
    }
    Ok(Out::new(r, human))
}
