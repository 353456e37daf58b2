//! Errors with stable codes. Every failure a user or agent can see carries one code from
//! [`ErrorCode`], a human message and a JSON `details` object; front ends print it as the
//! `{"error": {"code", "message", "details"}}` envelope.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value, json};

/// Declares the error codes with their exact spellings.
macro_rules! codes {
    ($($variant:ident => $text:literal),+ $(,)?) => {
        /// A stable, documented error code. Scripts match on these strings.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text),+ }
            }
        }
    };
}

codes! {
    PolicyBlocked => "POLICY_BLOCKED",
    UsagePolicyBlocked => "USAGE_POLICY_BLOCKED",
    ProviderNotFound => "PROVIDER_NOT_FOUND",
    ProviderNotInstalled => "PROVIDER_NOT_INSTALLED",
    InvalidRequest => "INVALID_REQUEST",
    InvalidStdin => "INVALID_STDIN",
    InvalidLimit => "INVALID_LIMIT",
    InvalidWaitFor => "INVALID_WAIT_FOR",
    InvalidDetail => "INVALID_DETAIL",
    InvalidTimeout => "INVALID_TIMEOUT",
    InvalidTranscriptRange => "INVALID_TRANSCRIPT_RANGE",
    InvalidSessionPage => "INVALID_SESSION_PAGE",
    InvalidSessionId => "INVALID_SESSION_ID",
    InvalidOutput => "INVALID_OUTPUT",
    InvalidWindow => "INVALID_WINDOW",
    CardRenderFailed => "CARD_RENDER_FAILED",
    InvalidConfig => "INVALID_CONFIG",
    InvalidCatalog => "INVALID_CATALOG",
    RuntimeNotSupported => "RUNTIME_NOT_SUPPORTED",
    RuntimeSessionNotFound => "RUNTIME_SESSION_NOT_FOUND",
    RuntimeCaptureTimeout => "RUNTIME_CAPTURE_TIMEOUT",
    TmuxNotFound => "TMUX_NOT_FOUND",
    TmuxSessionNotFound => "TMUX_SESSION_NOT_FOUND",
    TmuxSendFailed => "TMUX_SEND_FAILED",
    WorkerExited => "WORKER_EXITED",
    SessionNotFound => "SESSION_NOT_FOUND",
    SpawnFailed => "SPAWN_FAILED",
    SessionTimeout => "SESSION_TIMEOUT",
    TurnLimitReached => "TURN_LIMIT_REACHED",
    RepoNotFound => "REPO_NOT_FOUND",
    GitNotRepo => "GIT_NOT_REPO",
    WorktreeFailed => "WORKTREE_FAILED",
    WorktreeActive => "WORKTREE_ACTIVE",
    WorktreeDirty => "WORKTREE_DIRTY",
    WorktreeCleanupFailed => "WORKTREE_CLEANUP_FAILED",
    LeaseConflict => "LEASE_CONFLICT",
    InvalidLeaseMode => "INVALID_LEASE_MODE",
    InvalidLeaseRelease => "INVALID_LEASE_RELEASE",
    InvalidLeasePath => "INVALID_LEASE_PATH",
    InvalidLeaseTtl => "INVALID_LEASE_TTL",
    SessionNotActive => "SESSION_NOT_ACTIVE",
    ResumeUnsupported => "RESUME_UNSUPPORTED",
    MenuSelectionFailed => "MENU_SELECTION_FAILED",
    InvalidCoordinatorId => "INVALID_COORDINATOR_ID",
    StoreFailed => "STORE_FAILED",
    IoFailed => "IO_FAILED",
    UsageError => "USAGE_ERROR",
    InvalidUsageBackend => "INVALID_USAGE_BACKEND",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AgentPool error: a code, a message and structured details.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub details: Map<String, Value>,
}

/// Result alias used across the workspace.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with empty details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: Map::new() }
    }

    /// Adds one detail (builder style).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.details.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// Adds a detail only when it is not already present.
    pub fn with_default(mut self, key: &str, value: impl Serialize) -> Self {
        if !self.details.contains_key(key) {
            self = self.with(key, value);
        }
        self
    }

    /// A detail value, if present.
    pub fn detail(&self, key: &str) -> Option<&Value> {
        self.details.get(key)
    }

    /// The wire envelope `{"error": {...}}`.
    pub fn envelope(&self) -> Value {
        json!({"error": {"code": self.code.as_str(), "message": self.message, "details": self.details}})
    }

    /// An unknown session id.
    pub fn session_not_found(session_id: &str) -> Self {
        Self::new(ErrorCode::SessionNotFound, format!("session `{session_id}` was not found"))
            .with("session_id", session_id)
    }

    /// A failure reading or writing a file.
    pub fn io(context: impl fmt::Display, err: &std::io::Error) -> Self {
        Self::new(ErrorCode::IoFailed, format!("{context}: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let err = Error::new(ErrorCode::InvalidLimit, "max_turns must be positive").with("max_turns", 0);
        assert_eq!(
            err.envelope(),
            json!({"error": {"code": "INVALID_LIMIT", "message": "max_turns must be positive", "details": {"max_turns": 0}}})
        );
    }

    #[test]
    fn codes_are_unique_screaming_snake() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{s}");
        }
    }
}
