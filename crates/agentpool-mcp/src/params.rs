//! Tool arguments. Names and defaults are the wire contract (kept from the reference); closed
//! value sets are real enums so the input schemas publish them. Doc comments become property
//! descriptions, so they stay short: the whole default `tools/list` must fit in 12 000 bytes.

use agentpool_core::model::{Detail, Isolation, PromptMode, Role, Supervision};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

fn yes() -> bool {
    true
}
fn explorer() -> Role {
    Role::Explorer
}
fn read_only() -> Isolation {
    Isolation::ReadOnly
}
fn interactive() -> Supervision {
    Supervision::Interactive
}
fn provider_default() -> PromptMode {
    PromptMode::ProviderDefault
}
fn summary() -> Detail {
    Detail::Summary
}
fn page_limit() -> i64 {
    4000
}
fn fifty() -> Option<i64> {
    Some(50)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryArgs {
    #[serde(default = "yes")]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelsArgs {
    /// Null: every provider.
    #[serde(default)]
    pub provider_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnArgs {
    /// From get_inventory; `auto` is refused.
    pub provider_id: String,
    pub task: String,
    pub repo_path: String,
    /// implementer and tester edit files.
    #[serde(default = "explorer")]
    pub role: Role,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub runtime: Option<String>,
    /// worktree: own git worktree.
    #[serde(default = "read_only")]
    pub isolation: Isolation,
    #[serde(default)]
    pub allowed_files: Option<Vec<String>>,
    #[serde(default)]
    pub max_runtime_seconds: Option<i64>,
    #[serde(default)]
    pub max_turns: Option<i64>,
    /// Recorded, advisory.
    #[serde(default = "interactive")]
    pub supervision: Supervision,
    #[serde(default = "provider_default")]
    pub initial_prompt_mode: PromptMode,
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    #[serde(default)]
    pub service_tier: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Extra environment variables for this worker (over the server's own).
    #[serde(default)]
    pub env: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObserveArgs {
    pub session_id: String,
    /// Events or states, e.g. question, completed.
    #[serde(default)]
    pub wait_for: Option<Vec<String>>,
    /// 0/1 = poll once; capped at 45 (call again).
    #[serde(default)]
    pub timeout_seconds: i64,
    /// summary = no worker text.
    #[serde(default = "summary")]
    pub detail: Detail,
    #[serde(default)]
    pub max_lines: Option<i64>,
    #[serde(default)]
    pub include_recent_log: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollArgs {
    pub session_id: String,
    /// summary = no worker text.
    #[serde(default = "summary")]
    pub detail: Detail,
    #[serde(default)]
    pub max_lines: Option<i64>,
    #[serde(default = "yes")]
    pub include_recent_log: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendArgs {
    pub session_id: String,
    /// "" presses Enter.
    pub message: String,
    #[serde(default = "yes")]
    pub submit: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionArgs {
    pub session_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectArgs {
    pub session_id: String,
    #[serde(default = "yes")]
    pub include_diff: bool,
    #[serde(default = "yes")]
    pub include_transcript: bool,
    #[serde(default)]
    pub mark_completed: bool,
    /// summary = no worker text.
    #[serde(default = "summary")]
    pub detail: Detail,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptArgs {
    pub session_id: String,
    #[serde(default)]
    pub offset: i64,
    /// Bytes, at most 8000.
    #[serde(default = "page_limit")]
    pub limit: i64,
    #[serde(default)]
    pub tail_lines: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateArgs {
    pub session_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeArgs {
    /// The ended session whose conversation to continue.
    pub session_id: String,
    /// The first message of the resumed conversation (default: "Continue where you left off.").
    #[serde(default)]
    pub task: Option<String>,
}

/// `state` accepts one name or a list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSessionsArgs {
    /// State name(s), e.g. RUNNING or [AWAITING_USER_INPUT, COMPLETED].
    #[serde(default)]
    pub state: Option<OneOrMany>,
    #[serde(default)]
    pub provider_id: Option<String>,
    /// Include other coordinators' sessions.
    #[serde(default)]
    pub include_all: bool,
    /// 1..500; null lists everything.
    #[serde(default = "fifty")]
    pub limit: Option<i64>,
    #[serde(default)]
    pub offset: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysArgs {
    pub session_id: String,
    /// tmux key names, e.g. Enter, Escape, Up, C-c.
    pub keys: Vec<String>,
}

fn write_mode() -> String {
    "write".to_owned()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquireLeaseArgs {
    pub session_id: String,
    /// Inside the session's repository or worktree.
    pub file_path: String,
    /// read (shared) or write (exclusive).
    #[serde(default = "write_mode")]
    pub mode: String,
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListLeasesArgs {
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub repo_path: Option<String>,
    #[serde(default = "yes")]
    pub active_only: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseLeaseArgs {
    #[serde(default)]
    pub lease_id: Option<i64>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub file_path: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoArgs {
    pub repo_path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanupWorktreeArgs {
    pub session_id: String,
    /// Remove even when modified, untracked or ignored files would be lost (a branch holding unmerged commits, and stashes, are kept).
    #[serde(default)]
    pub force: bool,
    /// Only report what would be removed and lost (would_lose); change nothing.
    #[serde(default)]
    pub dry_run: bool,
}
