//! The engine's request types and input checks, shared by the CLI and the MCP server.

mod outcomes;
mod usage;
pub use outcomes::*;
pub use usage::*;

use std::path::{Path, PathBuf};

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorCode, Result};
use crate::model::{Detail, Isolation, PromptMode, Role, Supervision};
use crate::util;

/// Longest observe wait accepted (one day).
pub const MAX_OBSERVE_TIMEOUT_SECS: f64 = 86_400.0;

/// A request to start one worker. Field names are the wire names.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    /// Explicit provider id (`auto` is refused).
    pub provider_id: String,
    /// The concrete task for the worker.
    pub task: String,
    /// Repository (or any directory) the worker runs in.
    pub repo_path: String,
    #[serde(default = "default_role")]
    pub role: Role,
    #[serde(default)]
    pub model: Option<String>,
    /// Free account label recorded with the session.
    #[serde(default)]
    pub account: Option<String>,
    /// Runtime name (`tmux`); defaults to the configured runtime.
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default = "default_isolation")]
    pub isolation: Isolation,
    /// Advisory list of files the worker may touch (recorded in metadata).
    #[serde(default)]
    pub allowed_files: Vec<String>,
    #[serde(default)]
    pub max_runtime_seconds: Option<i64>,
    #[serde(default)]
    pub max_turns: Option<i64>,
    #[serde(default = "default_supervision")]
    pub supervision: Supervision,
    #[serde(default = "default_prompt_mode")]
    pub initial_prompt_mode: PromptMode,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    #[serde(default)]
    pub service_tier: Option<String>,
    /// Extra caller metadata copied onto the session.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Extra environment for this worker, over the spawning call's own and the provider's
    /// `[providers.<id>] env` (see `env`). Names are recorded; values never are.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Set by [`Pool::resume`] only: the ended session this one continues.
    #[serde(skip)]
    pub resume: Option<ResumeFrom>,
}

fn default_role() -> Role {
    Role::Explorer
}

fn default_isolation() -> Isolation {
    Isolation::ReadOnly
}

fn default_supervision() -> Supervision {
    Supervision::Interactive
}

fn default_prompt_mode() -> PromptMode {
    PromptMode::ProviderDefault
}

impl SpawnRequest {
    /// A request with every optional field at its default.
    pub fn new(provider_id: impl Into<String>, task: impl Into<String>, repo_path: impl Into<String>) -> Self {
        Self {
            provider_id: provider_id.into(),
            task: task.into(),
            repo_path: repo_path.into(),
            role: default_role(),
            model: None,
            account: None,
            runtime: None,
            isolation: default_isolation(),
            allowed_files: Vec::new(),
            max_runtime_seconds: None,
            max_turns: None,
            supervision: default_supervision(),
            initial_prompt_mode: default_prompt_mode(),
            reasoning_effort: None,
            service_tier: None,
            metadata: Map::new(),
            env: std::collections::BTreeMap::new(),
            resume: None,
        }
    }
}

/// One field-level validation problem, reported in `details.errors`.
pub(crate) fn field_error(field: &str, msg: &str, input: &str) -> Value {
    json!({"loc": [field], "msg": msg, "input": util::tail_chars(input, 200)})
}

pub(crate) fn invalid_request(message: &str, errors: Vec<Value>) -> Error {
    Error::new(ErrorCode::InvalidRequest, message).with("errors", errors)
}

/// Checks that a task is a concrete instruction (trimmed, no template placeholders).
pub fn validate_task(task: &str) -> Result<String> {
    static PLACEHOLDERS: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"(?i)@filename\b|<\s*filename\s*>|\{\s*filename\s*\}|<\s*task\s*>|\b(?:your task here|replace this|todo task)\b")
            .expect("placeholder regex is valid")
    });
    let trimmed = task.trim();
    if trimmed.is_empty() {
        return Err(invalid_request(
            "task must be a concrete, non-empty instruction",
            vec![field_error("task", "task is empty", task)],
        ));
    }
    if let Some(m) = PLACEHOLDERS.find(trimmed) {
        return Err(invalid_request(
            &format!("task contains placeholder text `{}`; write the actual instruction", m.as_str()),
            vec![field_error("task", "task contains placeholder text", trimmed)],
        ));
    }
    if trimmed.contains('\0') {
        return Err(invalid_request("task must not contain NUL bytes", vec![field_error("task", "NUL byte", "")]));
    }
    Ok(trimmed.to_owned())
}

/// Checks a session id's shape before it is used anywhere.
pub fn check_session_id(id: &str) -> Result<()> {
    if util::is_valid_session_id(id) {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::InvalidSessionId, "session ids look like `ap_` followed by letters and digits")
            .with("session_id", util::tail_chars(id, 80)))
    }
}

/// The conversation a resumed worker continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeFrom {
    /// The ended AgentPool session.
    pub session_id: String,
    /// The CLI's own id of that conversation (`metadata.cli_session_id`).
    pub cli_session_id: String,
    /// The ended session's worktree and branch, when it had one that still exists: the resumed
    /// worker runs there again.
    pub worktree: Option<(String, String)>,
}

/// The first message of a resumed worker when the caller gives none.
pub const RESUME_TASK: &str = "Continue where you left off.";

/// Detail for worker text, validated.
pub fn parse_detail(raw: &str) -> Result<Detail> {
    Detail::parse_loose(raw).ok_or_else(|| {
        Error::new(ErrorCode::InvalidDetail, "detail must be `summary`, `excerpt` or `full`")
            .with("detail", util::tail_chars(raw, 80))
    })
}

/// Resolves a repo path: `~` expanded, absolute, symlinks resolved; it must be a directory.
pub fn resolve_repo(raw: &str) -> Result<PathBuf> {
    if raw.trim().is_empty() || raw.contains('\0') {
        return Err(Error::new(ErrorCode::RepoNotFound, "repo path is empty or invalid")
            .with("repo_path", util::tail_chars(raw, 200)));
    }
    let expanded = crate::config::expand_tilde(Path::new(raw));
    match std::fs::canonicalize(&expanded) {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(p) => Err(Error::new(ErrorCode::RepoNotFound, format!("repo path `{}` is not a directory", p.display()))
            .with("repo_path", p.display().to_string())),
        Err(_) => {
            Err(Error::new(ErrorCode::RepoNotFound, format!("repo path `{}` does not exist", expanded.display()))
                .with("repo_path", expanded.display().to_string()))
        }
    }
}
