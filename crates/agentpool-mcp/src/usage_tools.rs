//! The usage tools: the summary (and its alias), live or cached snapshots (default toolset);
//! the catalog checker and candidate filter (opt-in `usage` toolset). MCP callers never run
//! interactive (screen) probes, and every call has a time budget after which slow providers
//! come back unknown with `partial: true`.

use std::time::Duration;

use agentpool_core::api::{CachedSnapshots, Candidates, CatalogValidation, UsageSnapshots, UsageSummary};
use agentpool_core::candidates::CandidateFilter;
use agentpool_core::model::{Capability, UsageStatus};
use agentpool_core::usage::{Backend, MCP_BUDGET, UsageRequest};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::output;
use crate::server::AgentPoolServer;

// Usage backends (an enum, so the input schemas publish the values).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendArg {
    Native,
    Codexbar,
    Ccusage,
    #[default]
    Combined,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Native => Backend::Native,
            BackendArg::Codexbar => Backend::Codexbar,
            BackendArg::Ccusage => Backend::Ccusage,
            BackendArg::Combined => Backend::Combined,
        }
    }
}

fn budget() -> f64 {
    MCP_BUDGET.as_secs_f64()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageArgs {
    #[serde(default)]
    pub provider_id: Option<String>,
    #[serde(default)]
    pub refresh: bool,
    #[serde(default)]
    pub backend: BackendArg,
    #[serde(default = "budget")]
    pub timeout_seconds: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateCatalogArgs {
    #[serde(default)]
    pub path: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterArgs {
    #[serde(default)]
    pub required_capabilities: Option<Vec<Capability>>,
    /// Judged on the latest stored snapshot; stale or missing counts as unknown.
    #[serde(default)]
    pub avoid_statuses: Option<Vec<UsageStatus>>,
    #[serde(default)]
    pub allowed_providers: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub include_usage_unknown: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CachedUsageArgs {
    #[serde(default)]
    pub provider_id: Option<String>,
}

fn request(
    provider_id: Option<String>,
    backend: BackendArg,
    timeout_seconds: f64,
) -> agentpool_core::Result<UsageRequest> {
    let budget = agentpool_core::session::observe::parse_timeout(timeout_seconds)?.max(Duration::from_millis(1));
    Ok(UsageRequest { provider_id, backend: backend.into(), allow_interactive: false, budget })
}

impl AgentPoolServer {
    async fn summary(&self, a: UsageArgs) -> CallToolResult {
        let r = match request(a.provider_id, a.backend, a.timeout_seconds) {
            Ok(req) => self.manager.usage_summary(&req, a.refresh).await,
            Err(e) => Err(e),
        };
        r.map_or_else(output::fail, |v| output::ok(&v))
    }
}

#[tool_router(router = usage_tools, vis = "pub(crate)")]
impl AgentPoolServer {
    #[tool(
        name = "get_usage_summary",
        description = "Per provider: usable, why not, windows, resets. Cached unless refresh",
        input_schema = output::input::<UsageArgs>(),
        output_schema = output::output::<UsageSummary>(),
        annotations(read_only_hint = true)
    )]
    async fn get_usage_summary(&self, Parameters(a): Parameters<UsageArgs>) -> CallToolResult {
        self.summary(a).await
    }

    #[tool(
        name = "get_capacity_summary",
        description = "Alias.",
        input_schema = output::input::<UsageArgs>(),
        output_schema = output::output::<UsageSummary>(),
        annotations(read_only_hint = true)
    )]
    async fn get_capacity_summary(&self, Parameters(a): Parameters<UsageArgs>) -> CallToolResult {
        self.summary(a).await
    }

    #[tool(
        name = "get_usage_snapshot",
        description = "Snapshots, live if refresh.",
        input_schema = output::input::<UsageArgs>(),
        output_schema = output::output::<UsageSnapshots>(),
        annotations(read_only_hint = true)
    )]
    async fn get_usage_snapshot(&self, Parameters(a): Parameters<UsageArgs>) -> CallToolResult {
        let r = match request(a.provider_id, a.backend, a.timeout_seconds) {
            Ok(req) => self.manager.usage(&req, !a.refresh).await,
            Err(e) => Err(e),
        };
        r.map_or_else(output::fail, |v| output::ok(&v))
    }

    #[tool(
        name = "get_cached_usage_snapshot",
        description = "Stored snapshots.",
        input_schema = output::input::<CachedUsageArgs>(),
        output_schema = output::output::<CachedSnapshots>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_cached_usage_snapshot(&self, Parameters(a): Parameters<CachedUsageArgs>) -> CallToolResult {
        self.manager.cached_snapshots(a.provider_id.as_deref()).await.map_or_else(output::fail, |v| output::ok(&v))
    }

    #[tool(
        name = "validate_model_catalog",
        description = "Check the embedded model catalog, or the catalog file at path.",
        input_schema = output::input::<ValidateCatalogArgs>(),
        output_schema = output::output::<CatalogValidation>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn validate_model_catalog(&self, Parameters(a): Parameters<ValidateCatalogArgs>) -> CallToolResult {
        output::ok(&self.manager.validate_catalog(a.path.as_deref()))
    }

    #[tool(
        name = "filter_candidates",
        description = "Advisory: which providers could take a task (capabilities, stored usage status, policy) and why the others cannot. Never picks one; no probe runs.",
        input_schema = output::input::<FilterArgs>(),
        output_schema = output::output::<Candidates>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn filter_candidates(&self, Parameters(a): Parameters<FilterArgs>) -> CallToolResult {
        let filter = CandidateFilter {
            required_capabilities: a.required_capabilities.unwrap_or_default(),
            avoid_statuses: a.avoid_statuses.unwrap_or_default(),
            allowed_providers: a
                .allowed_providers
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.trim().to_owned())
                .collect(),
            include_usage_unknown: a.include_usage_unknown,
        };
        self.manager.filter_candidates(&filter).await.map_or_else(output::fail, |v| output::ok(&v))
    }
}
