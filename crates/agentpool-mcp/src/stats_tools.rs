//! The `stats` toolset: `get_stats` (the `stats/v1` document, as CLI `stats --json` prints it)
//! and `get_stats_card` (the 1200×630 PNG share card, written to a file; the result names the
//! file and never inlines the image). Both default to `scope = "mine"`: this server process's
//! own sessions.

use std::path::Path;

use agentpool_core::error::{Error, ErrorCode};
use agentpool_core::scope::Scope;
use agentpool_stats::{ShareCard, StatsReport};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::output;
use crate::server::AgentPoolServer;

// Whose sessions count: `mine` (spawned by this server process) or `all`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeArg {
    #[default]
    Mine,
    All,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        match s {
            ScopeArg::Mine => Scope::Mine,
            ScopeArg::All => Scope::All,
        }
    }
}

// Optional sections of `stats/v1` (`window`, `scope` and `data_quality` are always present).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SectionArg {
    Sessions,
    Parallelism,
    Walls,
    Quota,
    Utilization,
    Tokens,
    SuggestedNext,
}

impl SectionArg {
    fn name(self) -> &'static str {
        match self {
            Self::Sessions => "sessions",
            Self::Parallelism => "parallelism",
            Self::Walls => "walls",
            Self::Quota => "quota",
            Self::Utilization => "utilization",
            Self::Tokens => "tokens",
            Self::SuggestedNext => "suggested_next",
        }
    }
}

fn seven_days() -> String {
    "7d".to_owned()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsArgs {
    /// 12h, 7d, 1w, all, an ISO date, or FROM/TO.
    #[serde(default = "seven_days")]
    pub window: String,
    #[serde(default)]
    pub provider_id: Option<String>,
    /// Null: every section (window, scope and data_quality are always in).
    #[serde(default)]
    pub sections: Option<Vec<SectionArg>>,
    /// mine: sessions this server spawned.
    #[serde(default)]
    pub scope: ScopeArg,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardArgs {
    /// 12h, 7d, 1w, all, an ISO date, or FROM/TO.
    #[serde(default = "seven_days")]
    pub window: String,
    /// Absolute path of a new .png file in an existing directory. Default: AGENTPOOL_HOME/cards.
    #[serde(default)]
    pub output_path: Option<String>,
    /// mine: sessions this server spawned.
    #[serde(default)]
    pub scope: ScopeArg,
}

/// Window and section errors from the stats crate carry CLI examples; MCP callers get calls.
fn mcp_example(err: Error, example: &str) -> Error {
    match err.code {
        ErrorCode::InvalidWindow | ErrorCode::InvalidRequest => err.with("example", example),
        _ => err,
    }
}

/// Where the card goes: the caller's path must name a new `.png` file by an absolute path, so
/// an agent can neither clobber a source file or an earlier card nor write somewhere unexpected.
fn card_path(raw: Option<&str>) -> agentpool_core::Result<Option<&Path>> {
    let Some(raw) = raw.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = Path::new(raw);
    let invalid = |message: String| {
        Error::new(ErrorCode::InvalidRequest, message)
            .with("output_path", raw)
            .with("example", "get_stats_card(window='7d', output_path=None)")
    };
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        return Err(invalid(format!("output_path `{raw}` must end in .png")));
    }
    // The server's working directory is the host's choice, not the caller's: relative paths
    // would land somewhere the agent cannot predict.
    let resolved = agentpool_core::config::expand_tilde(path);
    if !resolved.is_absolute() {
        return Err(invalid(format!("output_path `{raw}` must be absolute (or start with ~/)")));
    }
    if resolved.symlink_metadata().is_ok() {
        return Err(invalid(format!("output_path `{raw}` already exists; choose a new file or omit output_path")));
    }
    Ok(Some(path))
}

impl AgentPoolServer {
    async fn stats_doc(
        &self,
        window: &str,
        provider: Option<String>,
        sections: Vec<String>,
        scope: ScopeArg,
        now: OffsetDateTime,
    ) -> agentpool_core::Result<StatsReport> {
        let example = "get_stats(window='7d', sections=['sessions'])";
        let window = agentpool_stats::parse_window(window, now).map_err(|e| mcp_example(e, example))?;
        let sections = agentpool_stats::parse_sections(&sections).map_err(|e| mcp_example(e, example))?;
        let provider = provider.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        let query = agentpool_stats::Query { window, provider, scope: scope.into(), sections };
        agentpool_stats::run(&self.manager, query, now).await
    }
}

#[tool_router(router = stats_tools, vis = "pub(crate)")]
impl AgentPoolServer {
    #[tool(
        name = "get_stats",
        description = "What the pool did in a window (stats/v1): sessions, parallelism, usage walls avoided or hit, quota, utilization, tokens, data-quality caveats. scope=mine: this server's sessions.",
        input_schema = output::input::<StatsArgs>(),
        output_schema = output::output::<StatsReport>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_stats(&self, Parameters(a): Parameters<StatsArgs>) -> CallToolResult {
        let sections: Vec<String> = a.sections.unwrap_or_default().into_iter().map(|s| s.name().to_owned()).collect();
        let now = OffsetDateTime::now_utc();
        self.stats_doc(&a.window, a.provider_id, sections, a.scope, now)
            .await
            .map_or_else(output::fail, |doc| output::ok(&doc))
    }

    #[tool(
        name = "get_stats_card",
        description = "Render the stats for a window as a 1200x630 PNG share card and return its file path (the image is not inlined).",
        input_schema = output::input::<CardArgs>(),
        output_schema = output::output::<ShareCard>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn get_stats_card(&self, Parameters(a): Parameters<CardArgs>) -> CallToolResult {
        let now = OffsetDateTime::now_utc();
        let result = async {
            let path = card_path(a.output_path.as_deref())?;
            let doc = self.stats_doc(&a.window, None, Vec::new(), a.scope, now).await?;
            agentpool_stats::share(&self.manager, &doc, path, now)
        }
        .await;
        result.map_or_else(output::fail, |card| output::ok(&card))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_path_rules() {
        assert_eq!(card_path(None).unwrap(), None);
        assert_eq!(card_path(Some("  ")).unwrap(), None);
        let e = card_path(Some("src/main.rs")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("must end in .png"), "{}", e.message);
        let e = card_path(Some("card.png")).unwrap_err();
        assert!(e.message.contains("must be absolute"), "{}", e.message);
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("card.PNG");
        std::fs::write(&existing, b"x").unwrap();
        let e = card_path(Some(existing.to_str().unwrap())).unwrap_err();
        assert!(e.message.contains("already exists"), "{}", e.message);
        let fresh = dir.path().join("new.png");
        assert_eq!(card_path(Some(fresh.to_str().unwrap())).unwrap(), Some(fresh.as_path()));
    }
}
