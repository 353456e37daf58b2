//! The tool catalogue: every toolset and tool name the MCP surface knows (kept from the Python
//! reference so hosts' configurations keep working), in the order `tools/list` reports them,
//! and the selection rules (`--toolsets`, `--tools`, `--lockdown` and their env mirrors).

use std::fmt;

/// Toolsets and their members, as the reference defines them. A tool listed here but not
/// registered by any router in this build is *known* but unavailable.
pub const TOOLSETS: &[(&str, &[&str])] = &[
    (
        "default",
        &[
            "get_inventory",
            "get_usage_summary",
            "get_capacity_summary",
            "get_usage_snapshot",
            "get_cached_usage_snapshot",
            "get_provider_models",
            "get_delegation_preferences",
            "spawn_worker",
            "observe_worker",
            "poll_worker",
            "send_worker_message",
            "interrupt_worker",
            "collect_worker_artifacts",
            "get_artifact_manifest",
            "read_worker_transcript",
            "terminate_worker",
            // A host that restarted finds the workers it started (scope: this coordinator).
            "list_sessions",
        ],
    ),
    ("usage", &["validate_model_catalog", "filter_candidates"]),
    ("stats", &["get_stats", "get_stats_card"]),
    ("sessions", &["list_sessions", "get_session", "resume_worker", "attach_info", "send_worker_keys"]),
    ("leases", &["acquire_file_lease", "list_file_leases", "release_file_lease"]),
    ("worktrees", &["list_worktrees", "cleanup_worktree"]),
];

/// The order of `tools/list`: workflow order (inventory, spawn, control, artifacts, end).
pub const TOOL_ORDER: &[&str] = &[
    "get_inventory",
    "get_usage_snapshot",
    "get_cached_usage_snapshot",
    "get_usage_summary",
    "get_capacity_summary",
    "get_stats",
    "get_stats_card",
    "get_provider_models",
    "get_delegation_preferences",
    "validate_model_catalog",
    "filter_candidates",
    "spawn_worker",
    "observe_worker",
    "poll_worker",
    "send_worker_message",
    "send_worker_keys",
    "interrupt_worker",
    "attach_info",
    "collect_worker_artifacts",
    "get_artifact_manifest",
    "read_worker_transcript",
    "acquire_file_lease",
    "list_file_leases",
    "release_file_lease",
    "list_worktrees",
    "cleanup_worktree",
    "list_sessions",
    "get_session",
    "resume_worker",
    "terminate_worker",
];

/// Compatibility aliases and the tool each one repeats. An alias stays callable wherever it is
/// selected, but `tools/list` leaves it out when its tool is listed too: the same tool twice
/// costs a model context and says nothing new.
pub const ALIASES: &[(&str, &str)] = &[("get_capacity_summary", "get_usage_summary")];

/// The tool `alias` repeats, when it is an alias.
pub fn alias_of(alias: &str) -> Option<&'static str> {
    ALIASES.iter().find(|(a, _)| *a == alias).map(|(_, tool)| *tool)
}

/// Position of a tool in [`TOOL_ORDER`] (unknown names sort last, by name).
pub fn order_key(name: &str) -> (usize, String) {
    (TOOL_ORDER.iter().position(|n| *n == name).unwrap_or(usize::MAX), name.to_owned())
}

/// Every toolset name, sorted.
pub fn toolset_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = TOOLSETS.iter().map(|(n, _)| *n).collect();
    v.sort_unstable();
    v
}

/// The members of one toolset.
pub fn toolset(name: &str) -> Option<&'static [&'static str]> {
    TOOLSETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The first toolset a tool belongs to (`list_sessions` is in `default` and `sessions`).
pub fn toolset_of(tool: &str) -> Option<&'static str> {
    TOOLSETS.iter().find(|(_, tools)| tools.contains(&tool)).map(|(n, _)| *n)
}

/// A start-up configuration error (unknown toolset or tool). The CLI prints it and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionError(pub String);

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectionError {}

/// What one server process exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Toolsets chosen (flag, else env, else `default`).
    pub toolsets: Vec<String>,
    /// Tools exposed, in `tools/list` order.
    pub tools: Vec<String>,
    /// Worker text is never returned, only its absence explained.
    pub lockdown: bool,
    /// Resources and prompts are served (the `default` toolset is selected).
    pub guides: bool,
    /// Selected toolsets or tools this build cannot serve yet (reported at start-up).
    pub unavailable: Vec<String>,
}

fn csv(raw: &str) -> Vec<String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Raw selection inputs: flags win over the environment (they replace it, never merge).
#[derive(Debug, Clone, Default)]
pub struct SelectionInput {
    pub toolsets_flag: Option<String>,
    pub tools_flag: Option<String>,
    pub lockdown_flag: bool,
    pub toolsets_env: Option<String>,
    pub tools_env: Option<String>,
    pub lockdown_env: Option<String>,
}

impl SelectionInput {
    /// Reads the `AGENTPOOL_MCP_*` environment variables next to the given flags.
    pub fn from_env(toolsets_flag: Option<String>, tools_flag: Option<String>, lockdown_flag: bool) -> Self {
        Self {
            toolsets_flag,
            tools_flag,
            lockdown_flag,
            toolsets_env: std::env::var("AGENTPOOL_MCP_TOOLSETS").ok(),
            tools_env: std::env::var("AGENTPOOL_MCP_TOOLS").ok(),
            lockdown_env: std::env::var("AGENTPOOL_MCP_LOCKDOWN").ok(),
        }
    }
}

impl Selection {
    /// Resolves the selection against the tools this build registers (`available`).
    ///
    /// Unknown toolset or tool names are errors that list the valid names. A known tool that
    /// this build does not implement yet is an error when named explicitly with `--tools`, and
    /// a start-up note when it only comes in through a toolset.
    pub fn resolve(input: &SelectionInput, available: &[String]) -> Result<Self, SelectionError> {
        let toolsets = {
            let raw = input.toolsets_flag.as_deref().or(input.toolsets_env.as_deref()).unwrap_or("");
            let v = csv(raw);
            if v.is_empty() { vec!["default".to_owned()] } else { v }
        };
        let extra = csv(input.tools_flag.as_deref().or(input.tools_env.as_deref()).unwrap_or(""));
        let mut unknown_sets: Vec<&str> =
            toolsets.iter().map(String::as_str).filter(|t| toolset(t).is_none()).collect();
        if !unknown_sets.is_empty() {
            unknown_sets.sort_unstable();
            unknown_sets.dedup();
            return Err(SelectionError(format!(
                "unknown AgentPool MCP toolset(s): {}\nvalid toolsets: {}",
                unknown_sets.join(", "),
                toolset_names().join(", ")
            )));
        }
        let mut valid_tools: Vec<&str> = available.iter().map(String::as_str).collect();
        valid_tools.sort_unstable();
        let mut unknown_tools: Vec<&str> =
            extra.iter().map(String::as_str).filter(|t| toolset_of(t).is_none()).collect();
        if !unknown_tools.is_empty() {
            unknown_tools.sort_unstable();
            unknown_tools.dedup();
            return Err(SelectionError(format!(
                "unknown AgentPool MCP tool(s): {}\nvalid tools: {}",
                unknown_tools.join(", "),
                valid_tools.join(", ")
            )));
        }
        let mut missing: Vec<&str> =
            extra.iter().map(String::as_str).filter(|t| !available.iter().any(|a| a == t)).collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            return Err(SelectionError(format!(
                "AgentPool MCP tool(s) not available in this build: {}\nvalid tools: {}",
                missing.join(", "),
                valid_tools.join(", ")
            )));
        }
        let mut wanted: Vec<String> = Vec::new();
        let mut unavailable = Vec::new();
        for set in &toolsets {
            let members = toolset(set).unwrap_or(&[]);
            let mut served = 0;
            for tool in members {
                if available.iter().any(|a| a == tool) {
                    wanted.push((*tool).to_owned());
                    served += 1;
                } else {
                    unavailable.push((*tool).to_owned());
                }
            }
            if served == 0 {
                unavailable.push(format!("toolset {set}"));
            }
        }
        wanted.extend(extra);
        wanted.sort_by_key(|n| order_key(n));
        wanted.dedup();
        unavailable.sort();
        unavailable.dedup();
        let lockdown = input.lockdown_flag || input.lockdown_env.as_deref().is_some_and(agentpool_core::util::truthy);
        let guides = toolsets.iter().any(|t| t == "default");
        Ok(Self { toolsets, tools: wanted, lockdown, guides, unavailable })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avail() -> Vec<String> {
        ["get_inventory", "spawn_worker", "observe_worker", "terminate_worker", "list_sessions", "get_session"]
            .map(str::to_owned)
            .to_vec()
    }

    fn resolve(f: impl FnOnce(&mut SelectionInput)) -> Result<Selection, SelectionError> {
        let mut input = SelectionInput::default();
        f(&mut input);
        Selection::resolve(&input, &avail())
    }

    #[test]
    fn default_when_nothing_given() {
        let s = resolve(|_| {}).unwrap();
        assert_eq!(s.toolsets, ["default"]);
        assert_eq!(s.tools, ["get_inventory", "spawn_worker", "observe_worker", "list_sessions", "terminate_worker"]);
        assert!(s.guides && !s.lockdown);
        assert!(s.unavailable.contains(&"get_usage_summary".to_owned()));
    }

    #[test]
    fn flag_replaces_env_and_tools_add_on_top() {
        let s = resolve(|i| {
            i.toolsets_env = Some("default".into());
            i.toolsets_flag = Some(" sessions , ".into());
            i.tools_env = Some("get_inventory".into());
        })
        .unwrap();
        assert_eq!(s.toolsets, ["sessions"]);
        assert_eq!(s.tools, ["get_inventory", "list_sessions", "get_session"]);
        assert!(!s.guides, "resources and prompts come with the default toolset only");
    }

    #[test]
    fn unknown_names_fail_with_the_valid_list() {
        let e = resolve(|i| i.toolsets_flag = Some("default,nope".into())).unwrap_err();
        assert!(e.0.starts_with("unknown AgentPool MCP toolset(s): nope"), "{e}");
        assert!(e.0.contains("valid toolsets: default, leases, sessions, stats, usage, worktrees"));
        let e = resolve(|i| i.tools_flag = Some("send_message".into())).unwrap_err();
        assert!(e.0.starts_with("unknown AgentPool MCP tool(s): send_message"), "{e}");
        assert!(e.0.contains("valid tools: get_inventory, get_session"));
        let e = resolve(|i| i.tools_flag = Some("get_stats".into())).unwrap_err();
        assert!(e.0.contains("not available in this build: get_stats"), "{e}");
    }

    #[test]
    fn lockdown_from_flag_or_truthy_env() {
        assert!(resolve(|i| i.lockdown_flag = true).unwrap().lockdown);
        assert!(resolve(|i| i.lockdown_env = Some(" Yes ".into())).unwrap().lockdown);
        assert!(!resolve(|i| i.lockdown_env = Some("0".into())).unwrap().lockdown);
    }

    #[test]
    fn catalogue_is_consistent() {
        let mut all: Vec<&str> = TOOLSETS.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        let mut ordered = TOOL_ORDER.to_vec();
        ordered.sort_unstable();
        assert_eq!(all, ordered, "every tool has a toolset and exactly one position");
        for (alias, tool) in ALIASES {
            assert_eq!(toolset_of(alias), toolset_of(tool), "an alias lives beside its tool");
        }
        assert_eq!(alias_of("get_capacity_summary"), Some("get_usage_summary"));
        assert!(toolset("default").unwrap().contains(&"list_sessions"));
        assert!(toolset("sessions").unwrap().contains(&"list_sessions"));
    }
}
