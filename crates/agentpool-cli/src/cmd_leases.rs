//! `agentpool leases …`: advisory file leases for coordinating several workers.

use agentpool_core::error::Result;
use serde_json::{Map, Value};

use crate::args::LeasesCommand;
use crate::commands::Context;
use crate::output::{self, Out};

pub async fn run(ctx: &Context, cmd: LeasesCommand) -> Result<Out> {
    match cmd {
        LeasesCommand::List { session_id, repo, all } => {
            let r = ctx.manager.list_leases(session_id.as_deref(), repo.as_deref(), all).await?;
            let rows = r["leases"].as_array().into_iter().flatten().map(row).collect();
            let human = output::table(&["ID", "SESSION", "MODE", "ACTIVE", "EXPIRES", "FILE"], rows);
            Ok(Out::new(r, human))
        }
        LeasesCommand::Acquire { session_id, file, mode, ttl_seconds } => {
            let r = ctx.manager.acquire_lease(&session_id, &file, &mode, ttl_seconds, Map::new()).await?;
            let l = &r["lease"];
            let human = format!(
                "lease {} ({}): {} {} for {}\n",
                l["id"],
                r["status"].as_str().unwrap_or(""),
                l["mode"].as_str().unwrap_or(""),
                l["file_path"].as_str().unwrap_or(""),
                l["session_id"].as_str().unwrap_or("")
            );
            Ok(Out::new(r, human))
        }
        LeasesCommand::Release { lease_id, session_id, file, dry_run } => {
            let r = ctx.manager.release_lease(lease_id, session_id.as_deref(), file.as_deref(), dry_run).await?;
            let human = if dry_run {
                format!("would release: {}\n", r["count"])
            } else {
                format!("released: {}\n", r["released"])
            };
            Ok(Out::new(r, human))
        }
    }
}

fn row(l: &Value) -> Vec<String> {
    let s = |k: &str| match &l[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    vec![s("id"), s("session_id"), s("mode"), s("active"), s("expires_at"), s("file_path")]
}
