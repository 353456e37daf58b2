//! What the engine's operations return. Each type serialises to exactly the JSON both front
//! ends print or return (field order is wire order), and the MCP server's output schemas are
//! generated from these same types, so what a tool advertises is what it sends.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::PolicyConfig;
use crate::model::{
    AgentSession, ArtifactRecord, Confidence, ManifestFile, ModelDescriptor, ObserveEvent, PromptMode,
    ProviderDescriptor, RuntimeKind, SessionState,
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

/// A runtime AgentPool can run workers in, and whether it is there.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeRow {
    pub kind: RuntimeKind,
    /// The configured default runtime.
    pub default: bool,
    pub enabled: bool,
    /// Its binary was found.
    pub available: bool,
    pub path: Option<String>,
    /// The tmux socket name workers run on.
    pub socket: String,
}

/// What is installed and allowed (`inventory`, `get_inventory`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Inventory {
    pub providers: Vec<ProviderDescriptor>,
    pub runtimes: Vec<RuntimeRow>,
    pub preferences: PreferencesRef,
    /// The `[policy]` section in effect.
    #[schemars(with = "Map<String, Value>")]
    pub policy: PolicyConfig,
    pub checked_at: String,
}

/// One provider's model facts (`models`, `get_provider_models`): the catalog's with their
/// defaults spelled out, whether it is installed, and its models.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelRow {
    pub provider_id: String,
    pub installed: bool,
    pub default_model: Option<String>,
    /// The model `smoke` uses (the default model when the catalog names none).
    pub smoke_model: Option<String>,
    /// The flag that selects a model.
    pub model_arg: Option<String>,
    /// How a model is chosen: `model_arg` unless the catalog says otherwise.
    pub model_selection: String,
    pub default_initial_prompt_mode: String,
    pub reasoning_effort_arg: Option<String>,
    pub reasoning_effort_config_key: Option<String>,
    pub service_tier_config_key: Option<String>,
    pub read_only_mode_arg: Option<String>,
    pub submit_keys: Vec<Value>,
    pub catalog_completeness: Option<String>,
    pub quirks: Vec<Value>,
    pub models: Vec<ModelDescriptor>,
}

/// The model catalog as AgentPool sees it (`models`, `get_provider_models`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Models {
    pub providers: Vec<ModelRow>,
    /// The catalog layers, embedded first.
    pub catalog_sources: Vec<String>,
    pub preferences: PreferencesRef,
}

/// Paths at risk of one kind: every one counted, the first 50 listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListedPaths {
    pub count: usize,
    pub paths: Vec<String>,
    /// More were counted than listed.
    pub truncated: bool,
}

/// Commits on no other branch: every one counted, the first 50 listed (full hashes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListedCommits {
    pub count: usize,
    pub shas: Vec<String>,
    pub truncated: bool,
}

/// A stash, by its reflog name (`stash@{0}`) and commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StashRef {
    #[serde(rename = "ref")]
    pub reference: String,
    pub sha: String,
}

/// Stashes made in a worktree: every one counted, the first 50 listed, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListedStashes {
    pub count: usize,
    pub items: Vec<StashRef>,
    pub truncated: bool,
}

/// What removing a worktree loses (`would_lose`, `discarded`, and `WORKTREE_DIRTY`'s details).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorktreeLoss {
    /// Modified, untracked and ignored paths together (the first 50), after
    /// `<git status failed>` when the worktree could not be read.
    pub dirty_files: Vec<String>,
    pub dirty_count: usize,
    pub unmerged_commits: u64,
    /// The kinds at risk, in a fixed order: `unreadable`, `modified`, `untracked`, `ignored`,
    /// `unmerged_commits`, `stashes`.
    pub kinds: Vec<String>,
    /// `git status` could not read the worktree: it might hold anything.
    pub unreadable: bool,
    pub modified: ListedPaths,
    pub untracked: ListedPaths,
    pub ignored: ListedPaths,
    pub commits: ListedCommits,
    pub stashes: ListedStashes,
}

/// `worktrees cleanup` of a session that has no worktree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CleanupNoWorktree {
    pub session_id: String,
    pub removed: bool,
    pub would_remove: bool,
    pub dry_run: bool,
    pub reason: String,
}

/// A dry run on a worktree a live worker holds (the session itself, or one resumed into it):
/// blocked, `reason` `active`. Without `dry_run` this is the error `WORKTREE_ACTIVE`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CleanupActive {
    pub session_id: String,
    pub dry_run: bool,
    pub would_remove: bool,
    pub blocked: bool,
    pub reason: String,
    /// The live worker's state.
    pub state: SessionState,
    pub path: String,
    pub branch: String,
    /// The resumed session that holds the worktree, when it is not this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
}

/// A dry run: what a removal would do and lose.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CleanupPlan {
    pub session_id: String,
    pub dry_run: bool,
    pub would_remove: bool,
    /// Something would be lost and `force` was not given.
    pub blocked: bool,
    pub path: String,
    pub exists: bool,
    pub branch: String,
    pub dirty: bool,
    pub force: bool,
    /// `missing`, `dirty`, `unmerged_commits` or `stashes`; null when nothing is at risk.
    pub reason: Option<String>,
    pub would_lose: WorktreeLoss,
    pub would_delete_branch: bool,
}

/// A removal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CleanupDone {
    pub session_id: String,
    pub removed: bool,
    pub path: String,
    /// `missing` when the directory was already gone.
    pub reason: Option<String>,
    pub dirty: bool,
    pub force: bool,
    /// What the forced removal discarded (null when nothing was removed).
    pub discarded: Option<WorktreeLoss>,
    pub branch: String,
    pub branch_deleted: bool,
    /// Why the branch stayed: `unmerged_commits` or `delete_failed`.
    pub branch_kept_reason: Option<String>,
    pub unmerged_commits: u64,
    /// Stashes are never dropped.
    pub stashes_kept: ListedStashes,
}

/// `worktrees cleanup` / `cleanup_worktree`: one of four shapes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Cleanup {
    NoWorktree(CleanupNoWorktree),
    Active(CleanupActive),
    Plan(CleanupPlan),
    Done(CleanupDone),
}
