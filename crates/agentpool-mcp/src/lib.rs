//! The AgentPool MCP server (stdio): toolsets as rmcp tool routers combined at start-up,
//! resources and prompts, the observe wait guard, and lockdown.
//!
//! Architecture invariant: this is the only crate that knows rmcp. It formats and transports;
//! every lifecycle decision is made by `agentpool_core::Pool`. It never creates a tokio
//! runtime: the binary does (`agentpool mcp`).

pub mod catalog;
pub mod docs;
mod guard;
mod guides;
mod output;
mod params;
mod server;
mod stats_tools;
mod tools;
mod transport;
mod usage_tools;

use std::sync::Arc;

use agentpool_core::Pool;
use rmcp::ServiceExt;

pub use catalog::{Selection, SelectionError, SelectionInput};
pub use server::AgentPoolServer;

/// Resolves a selection against the tools this build implements.
pub fn select(input: &SelectionInput) -> Result<Selection, SelectionError> {
    Selection::resolve(input, &AgentPoolServer::available_tool_names())
}

/// Serves MCP on stdin/stdout until the client closes the stream.
pub async fn serve_stdio(manager: Pool, selection: Selection) -> Result<(), String> {
    let server = AgentPoolServer::new(Arc::new(manager), &selection);
    let pipe = transport::framed(tokio::io::stdin(), tokio::io::stdout());
    let running = server.serve(pipe).await.map_err(|e| format!("MCP initialisation failed: {e}"))?;
    running.waiting().await.map_err(|e| format!("MCP server stopped: {e}"))?;
    Ok(())
}
