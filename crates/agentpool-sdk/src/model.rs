//! The data model shared by every front end: enums with their exact wire spellings, and the
//! records AgentPool persists and prints.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Declares a closed string enum with its exact wire spelling, `FromStr`, `Display` and a list
/// of every value (used in error details and schemas).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Every wire spelling, in declaration order.
            pub fn names() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }
    };
}

wire_enum!(
    /// How sure AgentPool is of a fact it reports.
    Confidence {
        Official => "official",
        LocalCli => "local_cli",
        LocalConfig => "local_config",
        ProviderWarning => "provider_warning",
        Observed => "observed",
        UserConfigured => "user_configured",
        Unknown => "unknown",
    }
);

wire_enum!(
    /// Where a worker runs.
    RuntimeKind {
        Tmux => "tmux",
        TerminalControl => "terminal-control",
        Pty => "pty",
        Acp => "acp",
    }
);

wire_enum!(
    /// What a provider can do.
    Capability {
        LiveSteering => "live_steering",
        ReadOnlyAdvisory => "read_only_advisory",
        WorktreeEdits => "worktree_edits",
        CanRunTests => "can_run_tests",
        SupportsModelArg => "supports_model_arg",
        SupportsResume => "supports_resume",
        SupportsMcpInjection => "supports_mcp_injection",
        SupportsAcp => "supports_acp",
        SupportsUsageProbe => "supports_usage_probe",
        SupportsApprovalDetection => "supports_approval_detection",
        SupportsOneShotMode => "supports_one_shot_mode",
        SupportsInteractiveMode => "supports_interactive_mode",
    }
);

wire_enum!(
    /// Headroom status of a provider subscription.
    UsageStatus {
        Available => "available",
        NearLimit => "near_limit",
        LimitReached => "limit_reached",
        OveragePossible => "overage_possible",
        Unauthenticated => "unauthenticated",
        Unavailable => "unavailable",
        Unknown => "unknown",
    }
);

wire_enum!(
    /// Lifecycle state of a worker session.
    SessionState {
        Starting => "STARTING",
        Ready => "READY",
        Running => "RUNNING",
        AwaitingUserInput => "AWAITING_USER_INPUT",
        AwaitingApproval => "AWAITING_APPROVAL",
        Idle => "IDLE",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
    }
);

impl SessionState {
    /// Terminal states: the worker is done (or given up on).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Parses a user-supplied state name, case-insensitively, `-` accepted for `_`.
    pub fn parse_loose(raw: &str) -> Option<Self> {
        raw.trim().to_ascii_uppercase().replace('-', "_").parse().ok()
    }
}

wire_enum!(
    /// What an observation saw on the worker's screen.
    ObserveEvent {
        None => "none",
        Question => "question",
        ApprovalPrompt => "approval_prompt",
        Idle => "idle",
        Completed => "completed",
        Error => "error",
        LimitWarning => "limit_warning",
        OveragePrompt => "overage_prompt",
        ScreenChanged => "screen_changed",
        Timeout => "timeout",
    }
);

wire_enum!(
    /// Whether an authentication probe found credentials.
    AuthState {
        Authenticated => "authenticated",
        Unauthenticated => "unauthenticated",
        Unknown => "unknown",
        Unavailable => "unavailable",
    }
);

wire_enum!(
    /// Where a model descriptor came from.
    ModelSource {
        CliDetected => "cli_detected",
        Config => "config",
        Default => "default",
        Observed => "observed",
        Unknown => "unknown",
    }
);

wire_enum!(
    /// The worker's job; implementer and tester may edit files.
    Role {
        Explorer => "explorer",
        Reviewer => "reviewer",
        Implementer => "implementer",
        Tester => "tester",
        Custom => "custom",
    }
);

impl Role {
    /// Roles that change files.
    pub fn is_mutating(self) -> bool {
        matches!(self, Self::Implementer | Self::Tester)
    }
}

wire_enum!(
    /// Where the worker may write.
    Isolation {
        ReadOnly => "read_only",
        Worktree => "worktree",
        Shared => "shared",
    }
);

wire_enum!(
    /// How closely a human supervises the worker (recorded, advisory).
    Supervision {
        Interactive => "interactive",
        Autonomous => "autonomous",
        HumanVisible => "human_visible",
    }
);

wire_enum!(
    /// How the initial prompt reaches the worker.
    PromptMode {
        ProviderDefault => "provider_default",
        SendAfterLaunch => "send_after_launch",
        Arg => "arg",
        Stdin => "stdin",
    }
);

wire_enum!(
    /// How much worker text an output includes.
    Detail {
        Summary => "summary",
        Excerpt => "excerpt",
        Full => "full",
    }
);

impl Detail {
    /// Parses a user-supplied detail level (trimmed, case-insensitive).
    pub fn parse_loose(raw: &str) -> Option<Self> {
        raw.trim().to_ascii_lowercase().parse().ok()
    }
}

/// Parses a runtime name as users write it: `termctrl`, `terminal`, `TERMINAL_CONTROL`, …
pub fn parse_runtime(raw: &str) -> Option<RuntimeKind> {
    let norm = raw.trim().to_ascii_lowercase().replace('_', "-");
    match norm.as_str() {
        "termctrl" | "terminal" => Some(RuntimeKind::TerminalControl),
        other => other.parse().ok(),
    }
}

/// Result of an authentication probe.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuthStatus {
    pub status: AuthState,
    pub confidence: Confidence,
    pub reason: Option<String>,
    pub checked_at: String,
}

/// A model a provider can run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelDescriptor {
    pub id: String,
    pub display_name: Option<String>,
    pub source: ModelSource,
    pub confidence: Confidence,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// One usage window (5h, weekly, credits, …).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UsageWindow {
    pub name: String,
    pub kind: String,
    pub status: Option<String>,
    pub remaining_percent: Option<f64>,
    pub used_percent: Option<f64>,
    pub remaining_units: Option<f64>,
    pub used_units: Option<f64>,
    pub reset_at: Option<String>,
    pub confidence: Confidence,
    pub raw_text: Option<String>,
}

/// A provider's usage headroom at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CapacitySnapshot {
    pub provider_id: String,
    pub status: UsageStatus,
    pub confidence: Confidence,
    pub checked_at: String,
    #[serde(default)]
    pub windows: Vec<UsageWindow>,
    pub premium_requests_remaining: Option<i64>,
    pub credits_remaining: Option<f64>,
    pub reset_at: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub raw: Map<String, Value>,
}

/// Everything inventory reports about one provider.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProviderDescriptor {
    pub id: String,
    pub display_name: String,
    pub vendor: String,
    pub harness: String,
    pub installed: bool,
    pub binary_path: Option<String>,
    pub version: Option<String>,
    pub auth: AuthStatus,
    pub models: Vec<ModelDescriptor>,
    pub runtimes: Vec<RuntimeKind>,
    pub capabilities: Vec<Capability>,
    pub usage: Option<CapacitySnapshot>,
    pub accounts: Vec<Value>,
    pub warnings: Vec<String>,
    pub metadata: Map<String, Value>,
}

/// Where a session lives in its runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TmuxRef {
    pub session_name: String,
    pub window: String,
    pub pane: String,
}

/// Reads a metadata value as `T`, or as absent when it has another shape: the caller's own
/// `--metadata` keys share the map, so a key AgentPool owns may hold anything.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

macro_rules! session_meta {
    ($($(#[doc = $doc:expr])* $key:ident => $name:ident: $ty:ty,)*) => {
        /// What AgentPool itself keeps in a session's `metadata` (the `metadata_json` column),
        /// typed. The map on [`AgentSession`] stays the wire form — keys in the order they were
        /// written, beside the caller's own `--metadata` keys — and [`AgentSession::meta`] reads
        /// this view of it; the fields written at spawn serialise in that order. Keys written
        /// later are named by [`MetaKey`].
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct SessionMeta {
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
                pub $name: Option<$ty>,
            )*
        }

        /// The name of one of AgentPool's own metadata keys, for targeted writes
        /// (`store::set_meta`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum MetaKey {
            $($key,)*
        }

        impl MetaKey {
            /// The key as stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$key => stringify!($name),)*
                }
            }
        }
    };
}

session_meta! {
    /// The coordinator that spawned the session (what `--scope mine` selects).
    CoordinatorId => coordinator_id: String,
    /// How the task reached the worker.
    InitialPromptMode => initial_prompt_mode: PromptMode,
    /// The spawning process: reconcile tells a crashed spawn from a slow one by it.
    SpawnPid => spawn_pid: i64,
    /// Set while the launch runs; reconcile stops a worker whose spawner died before it ended.
    LaunchPending => launch_pending: bool,
    ReasoningEffort => reasoning_effort: String,
    ServiceTier => service_tier: String,
    /// `max_runtime_seconds` as a time (RFC 3339, UTC).
    DeadlineAt => deadline_at: String,
    MaxTurns => max_turns: i64,
    TurnsSent => turns_sent: i64,
    AllowedFiles => allowed_files: Vec<String>,
    Supervision => supervision: Supervision,
    Isolation => isolation: Isolation,
    /// The ended session a resumed one continues.
    ResumedFrom => resumed_from: String,
    /// The CLI's conversation id a resumed worker was launched to continue.
    ResumeCliSessionId => resume_cli_session_id: String,
    /// The ended session's worktree a resumed worker runs in again (not this spawn's to remove).
    WorktreeReused => worktree_reused: String,
    WorktreeBranch => worktree_branch: String,
    /// Names of the variables set on top of the spawning call's environment (never values).
    EnvKeys => env_keys: Vec<String>,
    /// Where the worker runs (written before the runtime is touched).
    RuntimeRef => runtime_ref: RuntimeRef,
    InitialPromptSent => initial_prompt_sent: bool,
    /// Byte offset of the signal log where the current turn's signals begin.
    SignalOffset => signal_offset: u64,
    /// The CLI's own id of the conversation, from its signals (what `resume` continues).
    CliSessionId => cli_session_id: String,
    LastScreenHash => last_screen_hash: String,
    LastObserveKey => last_observe_key: String,
    /// The result a reopened turn must not complete from again.
    PreviousResultSha256 => previous_result_sha256: String,
    WorktreeRemovedAt => worktree_removed_at: String,
    WorktreeRolledBack => worktree_rolled_back: bool,
}

impl SessionMeta {
    /// The typed view of a metadata map.
    pub fn of(metadata: &Map<String, Value>) -> Self {
        serde_json::from_value(Value::Object(metadata.clone())).unwrap_or_default()
    }

    /// The keys that are set, as a metadata map (in field order).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// A persisted worker session. Field order is the wire order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AgentSession {
    pub id: String,
    pub provider_id: String,
    pub model: Option<String>,
    pub harness: String,
    pub account: Option<String>,
    pub role: Role,
    pub task: String,
    pub repo_path: String,
    pub worktree_path: Option<String>,
    pub runtime: RuntimeKind,
    pub state: SessionState,
    pub created_at: String,
    pub updated_at: String,
    pub ended_at: Option<String>,
    pub tmux: Option<TmuxRef>,
    pub artifact_dir: String,
    pub transcript_path: String,
    pub events_path: String,
    pub metadata: Map<String, Value>,
}

impl AgentSession {
    /// The runtime reference recorded after launch, if any.
    pub fn runtime_ref(&self) -> Option<RuntimeRef> {
        self.metadata.get(MetaKey::RuntimeRef.as_str()).and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// AgentPool's own keys of [`Self::metadata`], typed.
    pub fn meta(&self) -> SessionMeta {
        SessionMeta::of(&self.metadata)
    }

    /// Whether the session still occupies a worker slot: an active state, or a FAILED that
    /// screen detection reported while the worker may still be alive (no `ended_at`).
    pub fn is_live(&self) -> bool {
        !self.state.is_terminal() || (self.state == SessionState::Failed && self.ended_at.is_none())
    }

    /// The directory the worker runs in.
    pub fn workdir(&self) -> &str {
        self.worktree_path.as_deref().unwrap_or(&self.repo_path)
    }
}

/// A runtime's handle on a running worker. Serialised into `metadata.runtime_ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeRef {
    pub session_name: String,
    #[serde(default = "zero")]
    pub window: String,
    #[serde(default = "zero")]
    pub pane: String,
    /// Stable pane id (`%N`) used for every targeted command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane_id: Option<String>,
    /// The tmux socket name the session lives on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// Raw output log the runtime streams into, for event-driven waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_log: Option<String>,
}

fn zero() -> String {
    "0".to_owned()
}

/// One row of the artifact manifest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ManifestFile {
    pub kind: String,
    pub path: String,
    pub exists: bool,
    pub sha256: Option<String>,
}

/// One collected artifact.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ArtifactRecord {
    pub kind: String,
    pub path: String,
    pub sha256: Option<String>,
    pub metadata: Map<String, Value>,
}

/// A stored lifecycle event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EventRecord {
    pub id: i64,
    pub session_id: String,
    pub ts: String,
    pub event_type: String,
    pub state: Option<String>,
    pub screen_hash: Option<String>,
    pub excerpt: Option<String>,
    pub metadata: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for s in SessionState::ALL {
            assert_eq!(s.as_str().parse::<SessionState>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), Value::from(s.as_str()));
        }
        assert_eq!(SessionState::parse_loose(" awaiting-approval "), Some(SessionState::AwaitingApproval));
        assert_eq!(Detail::parse_loose(" EXCERPT"), Some(Detail::Excerpt));
        assert_eq!(Detail::parse_loose("verbose"), None);
    }

    #[test]
    fn runtime_aliases() {
        assert_eq!(parse_runtime("termctrl"), Some(RuntimeKind::TerminalControl));
        assert_eq!(parse_runtime(" Terminal_Control "), Some(RuntimeKind::TerminalControl));
        assert_eq!(parse_runtime("tmux"), Some(RuntimeKind::Tmux));
        assert_eq!(parse_runtime("screen"), None);
    }

    #[test]
    fn session_meta_reads_typed_and_leniently_and_writes_in_order() {
        let map: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "team": "blue",
            "coordinator_id": "planner-1",
            "max_turns": "three",
            "signal_offset": 42,
            "isolation": "worktree",
            "launch_pending": true,
        }))
        .unwrap();
        let meta = SessionMeta::of(&map);
        assert_eq!(meta.coordinator_id.as_deref(), Some("planner-1"));
        assert_eq!(meta.max_turns, None, "a value of another shape reads as absent");
        assert_eq!(meta.signal_offset, Some(42));
        assert_eq!(meta.isolation, Some(Isolation::Worktree));
        assert_eq!(meta.launch_pending, Some(true));
        let written = SessionMeta { turns_sent: Some(0), coordinator_id: Some("c".into()), ..Default::default() };
        let keys: Vec<String> = written.to_map().keys().cloned().collect();
        assert_eq!(keys, ["coordinator_id", "turns_sent"], "field order, unset keys left out");
        assert_eq!(MetaKey::CliSessionId.as_str(), "cli_session_id");
        assert_eq!(MetaKey::PreviousResultSha256.as_str(), "previous_result_sha256");
    }
}
