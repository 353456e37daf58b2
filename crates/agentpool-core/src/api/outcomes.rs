//! What the engine's operations return. Each type serialises to exactly the JSON both front
//! ends print or return (field order is wire order), and the MCP server's output schemas are
//! generated from these same types, so what a tool advertises is what it sends.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{
    AgentSession, ArtifactRecord, Confidence, ManifestFile, ObserveEvent, PromptMode, RuntimeKind, SessionState,
};

/// Where the user's delegation preferences live, and their first lines.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PreferencesRef {
    pub path: String,
    pub resource_uri: String,
    pub exists: bool,
    pub using_default_template: bool,
    pub read_hint: String,
    /// Up to eight bullet points of the file.
    pub digest: Vec<String>,
    /// The whole text (MCP `get_delegation_preferences` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// What a front end can do with a live worker.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LiveControl {
    pub can_capture_screen: bool,
    pub can_send_message: bool,
    pub can_send_keys: bool,
    pub can_interrupt: bool,
    pub can_attach: bool,
    pub attach_kind: String,
    /// How the task reached the worker.
    pub initial_prompt_mode: PromptMode,
}

/// A started worker (`spawn`, `resume`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Spawned {
    pub session_id: String,
    pub session: AgentSession,
    pub attach_command: String,
    pub preferences: PreferencesRef,
    pub live_control: LiveControl,
    /// The ended session whose conversation this worker continues (`resume` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
}

/// A menu option a message selected instead of being typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SelectedOption {
    pub number: Option<u32>,
    pub text: String,
}

/// A delivered message (`send`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Sent {
    pub ok: bool,
    pub session_id: String,
    pub event_id: i64,
    /// The menu option the message chose, when it named one of the menu on screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_option: Option<SelectedOption>,
}

/// Keys sent (`keys`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct KeysSent {
    pub ok: bool,
    pub session_id: String,
}

/// An interrupt, or with `dry_run` whether there is a worker to interrupt.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Interrupted {
    pub ok: bool,
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_interrupt: Option<bool>,
    pub state: SessionState,
}

/// How a human attaches to a worker.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Attach {
    pub session_id: String,
    pub runtime: RuntimeKind,
    pub attach_command: String,
    pub can_attach: bool,
    pub attach_kind: String,
    /// Always null; kept for scripts written against earlier versions.
    pub commands: Option<Vec<String>>,
    pub tmux_session: String,
    pub pane_target: String,
    pub pane_id: Option<String>,
    pub socket: Option<String>,
}

/// A row (an artifact file or record) and whether lockdown withholds its contents from agents.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Gated<T> {
    #[serde(flatten)]
    pub item: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated_reason: Option<String>,
}

impl<T> Gated<T> {
    /// The row, marked gated when `gate` holds.
    pub fn new(item: T, gate: bool) -> Self {
        Self { item, gated: gate.then_some(true), gated_reason: gate.then(|| "lockdown".to_owned()) }
    }
}

/// An artifact file of a session.
pub type ManifestEntry = Gated<ManifestFile>;

/// The artifact files of a session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    pub session_id: String,
    pub artifact_dir: String,
    pub files: Vec<ManifestEntry>,
}

/// A page (or tail) of a transcript. For agents the text is fenced (`fenced`) or, in
/// lockdown, withheld (`included: false`, `reason`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptPage {
    pub session_id: String,
    pub path: String,
    pub exists: bool,
    /// `page`, `tail` or `missing`.
    pub mode: String,
    pub offset: Option<u64>,
    pub limit: Option<i64>,
    pub tail_lines: Option<i64>,
    pub next_offset: Option<u64>,
    pub has_more: bool,
    pub size_bytes: u64,
    pub truncated: bool,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fenced: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Git state of a worker's directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct GitFacts {
    pub is_repo: bool,
    pub dirty: bool,
    pub changed_files: Vec<String>,
}

/// Worker text for an agent: fenced with a fresh nonce (`included: true`), or an explanation
/// of why it was left out.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WorkerOutput {
    pub included: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chars: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Collected artifacts, as the engine returns them (with the plain summary).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Collected {
    pub session_id: String,
    pub state: SessionState,
    pub artifact_dir: String,
    pub artifacts: Vec<ArtifactRecord>,
    pub summary: String,
    pub git: GitFacts,
    /// Error envelopes of steps that could not run (the runtime was gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<Value>>,
}

/// Collected artifacts as front ends show them: the summary as fenced worker output.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CollectView {
    pub session_id: String,
    pub state: SessionState,
    pub artifact_dir: String,
    pub artifacts: Vec<Gated<ArtifactRecord>>,
    pub git: GitFacts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<Value>>,
    pub worker_output: WorkerOutput,
}

/// A terminate, or with `dry_run` what it would do.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Terminated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    pub session_id: String,
    pub ok: bool,
    pub state: SessionState,
    pub current_state: SessionState,
    pub would_terminate_runtime: bool,
    pub would_terminate_tmux: bool,
    /// An earlier terminate already ended this session.
    pub already_terminated: bool,
}

/// One session (`show`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Shown {
    pub session: AgentSession,
}

/// Where a page of sessions sits in the whole list.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Pagination {
    pub limit: Option<i64>,
    pub offset: i64,
    pub count: i64,
    pub total: i64,
    pub has_more: bool,
    pub next_offset: Option<i64>,
}

/// Whose sessions a listing shows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ListScope {
    pub coordinator_id: String,
    pub current_coordinator_only: bool,
}

/// A page of sessions (`sessions`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionPage {
    pub sessions: Vec<AgentSession>,
    pub pagination: Pagination,
    pub scope: ListScope,
}

/// A transcript page for an agent: the text as fenced worker output (`worker_output`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptExcerpt {
    pub session_id: String,
    pub path: String,
    pub exists: bool,
    pub mode: String,
    pub offset: Option<u64>,
    pub limit: Option<i64>,
    pub tail_lines: Option<i64>,
    pub next_offset: Option<u64>,
    pub has_more: bool,
    pub size_bytes: u64,
    pub truncated: bool,
    pub worker_output: WorkerOutput,
}

/// A file an agent may not read in lockdown.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Withheld {
    pub session_id: String,
    pub path: String,
    pub blocked: bool,
    pub reason: String,
    pub kind: String,
}

/// `read_worker_transcript`: a page, or in lockdown what was withheld.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TranscriptForAgent {
    Page(TranscriptExcerpt),
    Withheld(Withheld),
}

/// What an observe found, as front ends show it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ObserveView {
    pub session_id: String,
    pub state: SessionState,
    pub event: ObserveEvent,
    pub confidence: Confidence,
    /// readiness, screen_hash, pending, and the wait guard's keys.
    pub metadata: Map<String, Value>,
    pub artifact_manifest: Manifest,
    /// The question, fenced (excerpt or full detail, not in lockdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed_question: Option<WorkerOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed_question_available: Option<bool>,
    pub worker_output: WorkerOutput,
}

/// A stored lease. Field names are the wire names.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FileLease {
    pub id: i64,
    pub session_id: String,
    pub repo_path: String,
    pub file_path: String,
    pub mode: String,
    pub expires_at: Option<String>,
    pub created_at: String,
    pub released_at: Option<String>,
    pub metadata: Map<String, Value>,
    /// Unreleased, unexpired, and held by a live session (computed when read).
    #[serde(default)]
    pub active: bool,
}

/// A lease taken (`status`: `acquired`), already held (`existing`) or turned from read to
/// write (`upgraded`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LeaseTaken {
    pub ok: bool,
    pub status: String,
    pub lease: FileLease,
}

/// Leases of a session or repository (`active_only` unless all were asked for).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LeaseList {
    pub leases: Vec<FileLease>,
    pub count: usize,
    pub active_only: bool,
}

/// What a dry-run release would release.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReleasePlan {
    pub ok: bool,
    pub dry_run: bool,
    pub would_release: bool,
    pub count: usize,
    pub lease_ids: Vec<i64>,
    pub lease_id: Option<i64>,
    pub session_id: Option<String>,
    pub file_path: Option<String>,
}

/// Leases released.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReleaseDone {
    pub ok: bool,
    pub released: usize,
    pub lease_ids: Vec<i64>,
}

/// `release`: what was released, or with `dry_run` what would be.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LeasesReleased {
    Planned(ReleasePlan),
    Done(ReleaseDone),
}

/// One of AgentPool's worktrees of a repository, and the session it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WorktreeRow {
    pub path: String,
    pub head: Option<String>,
    pub branch: Option<String>,
    pub detached: bool,
    pub exists: bool,
    pub active: bool,
    pub session_id: Option<String>,
    pub state: Option<SessionState>,
}

/// AgentPool's worktrees of one repository.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WorktreeList {
    pub repo_path: String,
    pub worktrees: Vec<WorktreeRow>,
}
