//! `agentpool mcp`: wires settings, the provider registry and the tmux runtime into one
//! coordinator-scoped `Pool` and serves it over MCP stdio (`agentpool-mcp`). This command
//! owns its tokio runtime (multi-threaded, so tool calls run in parallel); stdout carries only
//! protocol frames and logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use agentpool_core::config::Settings;
use agentpool_core::pool::{Pool, PoolOptions};
use agentpool_core::provider::Registry;
use agentpool_mcp::{Selection, SelectionInput};
use clap::Args;

/// Arguments of `agentpool mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Comma-separated toolsets: default, sessions, usage, stats, leases, worktrees
    /// [env: AGENTPOOL_MCP_TOOLSETS; the flag replaces it].
    #[arg(long, value_name = "A,B")]
    pub toolsets: Option<String>,
    /// Comma-separated single tools added on top of the toolsets [env: AGENTPOOL_MCP_TOOLS].
    #[arg(long, value_name = "X,Y")]
    pub tools: Option<String>,
    /// Never return worker text (transcripts, screens, results); list artifacts as gated
    /// [env: AGENTPOOL_MCP_LOCKDOWN=1].
    #[arg(long)]
    pub lockdown: bool,
}

/// Runs the server until the client disconnects. Exit codes: 0 clean end, 1 start-up or
/// transport failure, 2 unknown toolset or tool.
pub fn main(args: &McpArgs) -> ExitCode {
    init_logging();
    let input = SelectionInput::from_env(args.toolsets.clone(), args.tools.clone(), args.lockdown);
    let selection = match agentpool_mcp::select(&input) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !selection.unavailable.is_empty() {
        tracing::info!(unavailable = %selection.unavailable.join(", "), "selected tools not implemented in this build");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let manager = match build_manager(selection.lockdown) {
        Ok(m) => m,
        Err(e) => {
            eprint!("{}", crate::output::human_error(&crate::output::with_hint(e)));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(manager, selection)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(manager: Pool, selection: Selection) -> Result<(), String> {
    agentpool_mcp::serve_stdio(manager, selection).await
}

/// One manager per server process, scoped to this server's coordinator: listings and the
/// parallel-session limit count only the sessions it spawned. `AGENTPOOL_COORDINATOR_ID` keeps
/// the identity stable across restarts; otherwise each process is a fresh `coord_…`.
fn build_manager(server_lockdown: bool) -> agentpool_core::Result<Pool> {
    agentpool_providers::link_all();
    let settings = Settings::load()?;
    let registry = Registry::new(&settings)?;
    let runtime = Arc::new(crate::commands::tmux_runtime(&settings));
    let principal = agentpool_core::scope::Principal::mcp(server_lockdown, &settings)?;
    let self_exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("agentpool"));
    tracing::debug!(coordinator_id = %principal.coordinator_id, lockdown = principal.lockdown, "mcp principal");
    Pool::new(settings, registry, runtime, PoolOptions { principal, self_exe })
}

/// `AGENTPOOL_LOG` takes `target=level` directives or a bare level (`warn` by default), e.g.
/// `agentpool_mcp=debug`. `filter::Targets` does this without `tracing-subscriber`'s
/// env-filter, whose regex matching switches on full-DFA builds for every regex in the binary.
pub(crate) fn init_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter: Targets = std::env::var("AGENTPOOL_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::WARN));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
