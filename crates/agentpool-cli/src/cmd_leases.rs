//! `agentpool leases …`: advisory file leases for coordinating several workers.

use agentpool_core::api::{FileLease, LeasesReleased};
use agentpool_core::error::Result;
use serde_json::Map;

use crate::args::LeasesCommand;
use crate::commands::Context;
use crate::output::{self, Out};

pub async fn run(ctx: &Context, cmd: LeasesCommand) -> Result<Out> {
    match cmd {
        LeasesCommand::List { session_id, repo, all } => {
            let r = ctx.manager.list_leases(session_id.as_deref(), repo.as_deref(), all).await?;
            let rows = r.leases.iter().map(row).collect();
            let human = output::table(&["ID", "SESSION", "MODE", "ACTIVE", "EXPIRES", "FILE"], rows);
            Ok(Out::typed(&r, human))
        }
        LeasesCommand::Acquire { session_id, file, mode, ttl_seconds } => {
            let r = ctx.manager.acquire_lease(&session_id, &file, &mode, ttl_seconds, Map::new()).await?;
            let l = &r.lease;
            let human = format!("lease {} ({}): {} {} for {}\n", l.id, r.status, l.mode, l.file_path, l.session_id);
            Ok(Out::typed(&r, human))
        }
        LeasesCommand::Release { lease_id, session_id, file, dry_run } => {
            let r = ctx.manager.release_lease(lease_id, session_id.as_deref(), file.as_deref(), dry_run).await?;
            let human = match &r {
                LeasesReleased::Planned(p) => format!("would release: {}\n", p.count),
                LeasesReleased::Done(d) => format!("released: {}\n", d.released),
            };
            Ok(Out::typed(&r, human))
        }
    }
}

fn row(l: &FileLease) -> Vec<String> {
    vec![
        l.id.to_string(),
        l.session_id.clone(),
        l.mode.clone(),
        l.active.to_string(),
        l.expires_at.clone().unwrap_or_else(|| "-".to_owned()),
        l.file_path.clone(),
    ]
}
