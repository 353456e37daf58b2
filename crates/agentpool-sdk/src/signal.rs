//! The signal channel: how a provider hears its CLI's own machine-readable lifecycle reports
//! (hooks, notify programs, a local event stream) instead of reading them off the screen.
//!
//! The flow, for a CLI with hooks:
//! 1. In [`Provider::launch`](crate::provider::Provider::launch) the provider wires the CLI's
//!    hooks to [`LaunchContext::signal_command`](crate::provider::LaunchContext::signal_command):
//!    an argv that runs the hidden `agentpool __signal` entry for this session, with a `source`
//!    naming the hook.
//! 2. When the CLI fires the hook, `agentpool __signal` hands the payload (the hook's stdin, or
//!    its last argument) to the provider's [`SignalChannel::parse`] and appends each
//!    [`Signal`] as one JSON line to the session's signal log (`signals.jsonl` in its artifact
//!    directory). It writes nothing else, opens no socket and always exits 0, so a hook never
//!    slows or breaks the CLI.
//! 3. `observe` reads the signals logged since the current turn began and lets them decide the
//!    event before the screen does; screen rules stay the fallback, and the only source for
//!    providers without a channel.

use serde::{Deserialize, Serialize};

/// The `source` of an [`Signal::Error`] a CLI reports for every failed attempt, retries
/// included (Copilot CLI's `errorOccurred` hook): alone it decides nothing; once the screen
/// shows that the turn failed, it gives that failure its class.
pub const ATTEMPT_ERROR_SOURCE: &str = "attempt_error";

/// One structured lifecycle signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// The CLI started (or resumed) a conversation; its own id is what resume needs later.
    SessionStarted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cli_session_id: Option<String>,
    },
    /// A turn ended and the CLI waits for input. `last_reply` is the model's final message,
    /// when the CLI reports it.
    TurnEnded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_reply: Option<String>,
    },
    /// The CLI asks the user a question.
    Question {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The CLI waits for a permission decision (a tool call, a command, an edit).
    Approval {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The turn failed for good (retries, if any, are over).
    Error { class: ErrorClass, message: String },
    /// The user (or AgentPool) interrupted the turn.
    Interrupted,
    /// The CLI is using a tool (it is working, not waiting).
    ToolUse {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool: Option<String>,
    },
    /// The CLI's conversation ended (the process is about to exit).
    SessionEnded,
}

impl Signal {
    /// The wire name of the kind (`turn_ended`, `question`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SessionStarted { .. } => "session_started",
            Self::TurnEnded { .. } => "turn_ended",
            Self::Question { .. } => "question",
            Self::Approval { .. } => "approval",
            Self::Error { .. } => "error",
            Self::Interrupted => "interrupted",
            Self::ToolUse { .. } => "tool_use",
            Self::SessionEnded => "session_ended",
        }
    }
}

impl Signal {
    /// The same signal with `f` applied to every text it carries (redaction before it is
    /// logged).
    pub fn map_text(self, f: impl Fn(String) -> String) -> Self {
        let opt = |t: Option<String>| t.map(&f);
        match self {
            Self::SessionStarted { cli_session_id } => Self::SessionStarted { cli_session_id: opt(cli_session_id) },
            Self::TurnEnded { last_reply } => Self::TurnEnded { last_reply: opt(last_reply) },
            Self::Question { text } => Self::Question { text: opt(text) },
            Self::Approval { text } => Self::Approval { text: opt(text) },
            Self::Error { class, message } => Self::Error { class, message: f(message) },
            Self::ToolUse { tool } => Self::ToolUse { tool: opt(tool) },
            other @ (Self::Interrupted | Self::SessionEnded) => other,
        }
    }
}

/// What kind of failure an [`Signal::Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Credentials missing, expired or refused (HTTP 401/403).
    Auth,
    /// A rate or quota limit (HTTP 429).
    RateLimit,
    /// The model service failed (HTTP 5xx).
    Server,
    /// The service could not be reached.
    Network,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// The class of an HTTP status: 401/403 auth, 429 rate limit, 5xx server, else other.
    pub fn of_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Auth,
            429 => Self::RateLimit,
            500..=599 => Self::Server,
            _ => Self::Other,
        }
    }
}

/// A provider's reader of its CLI's structured reports.
pub trait SignalChannel: Send + Sync {
    /// Translates one raw report into signals. `source` is what the launch plan named the hook
    /// (`stop`, `notification`, `notify`, …); `payload` is the hook's stdin or last argument,
    /// usually JSON. A report it does not recognise yields no signal (never an error: the
    /// screen still speaks for the worker).
    fn parse(&self, source: &str, payload: &str) -> Vec<Signal>;
}

/// One line of a session's signal log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedSignal {
    /// When `agentpool __signal` received it (RFC 3339, UTC).
    pub ts: String,
    /// The hook's name as the launch plan gave it.
    pub source: String,
    /// What it means.
    pub signal: Signal,
}

/// The file name of a session's signal log, in its artifact directory.
pub const LOG_NAME: &str = "signals.jsonl";

/// The most a reader takes from a signal log in one go; a CLI that floods its hooks cannot
/// make `observe` read without bound.
pub const READ_LIMIT: u64 = 1 << 20;

/// The signals logged from byte `offset` on, and the offset after the last whole line read.
/// A missing log is empty; a line that does not parse is skipped; a trailing partial line is
/// left for the next read.
pub fn read_since(log: &std::path::Path, offset: u64) -> (Vec<LoggedSignal>, u64) {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(log) else { return (Vec::new(), offset) };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A log shorter than the offset was replaced: read it from the start.
    let start = if offset > len { 0 } else { offset };
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.take(READ_LIMIT).read_to_end(&mut buf).is_err() {
        return (Vec::new(), offset);
    }
    let whole = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let signals = buf[..whole]
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<LoggedSignal>(line).ok())
        .collect();
    (signals, start + whole as u64)
}

/// Appends signals to a log as JSON lines, in one write.
pub fn append(log: &std::path::Path, signals: &[LoggedSignal]) -> std::io::Result<()> {
    use std::io::Write;
    let mut text = String::new();
    for s in signals {
        text.push_str(&serde_json::to_string(s).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;

    use super::*;

    #[test]
    fn signals_serialise_with_their_kind() {
        let s = Signal::TurnEnded { last_reply: Some("done".into()) };
        let line = serde_json::to_string(&s).unwrap();
        assert_eq!(line, r#"{"kind":"turn_ended","last_reply":"done"}"#);
        assert_eq!(serde_json::from_str::<Signal>(&line).unwrap(), s);
        let e = Signal::Error { class: ErrorClass::of_status(429), message: "slow down".into() };
        assert_eq!(serde_json::to_value(&e).unwrap()["class"], "rate_limit");
        assert_eq!(e.kind(), "error");
        assert_eq!(serde_json::from_str::<Signal>(r#"{"kind":"interrupted"}"#).unwrap(), Signal::Interrupted);
        assert_eq!(serde_json::from_str::<Signal>(r#"{"kind":"question"}"#).unwrap(), Signal::Question { text: None });
    }

    #[test]
    fn the_log_is_read_by_whole_lines_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_NAME);
        assert_eq!(read_since(&log, 0), (Vec::new(), 0));
        let one =
            LoggedSignal { ts: "t1".into(), source: "stop".into(), signal: Signal::TurnEnded { last_reply: None } };
        let two =
            LoggedSignal { ts: "t2".into(), source: "notification".into(), signal: Signal::Question { text: None } };
        append(&log, std::slice::from_ref(&one)).unwrap();
        let (got, off) = read_since(&log, 0);
        assert_eq!(got, vec![one.clone()]);
        // A half-written line waits; garbage is skipped.
        std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"not json\n{\"ts\":").unwrap();
        let (got, off2) = read_since(&log, off);
        assert!(got.is_empty());
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(off2 as usize, text.rfind('\n').unwrap() + 1);
        std::fs::write(&log, "").unwrap();
        append(&log, &[one.clone(), two.clone()]).unwrap();
        // An offset past the end (the log was replaced) reads from the start.
        assert_eq!(read_since(&log, 10_000).0, vec![one, two]);
    }

    #[test]
    fn map_text_reaches_every_text() {
        let up = |s: String| s.to_uppercase();
        assert_eq!(
            Signal::Error { class: ErrorClass::Auth, message: "bad key".into() }.map_text(up),
            Signal::Error { class: ErrorClass::Auth, message: "BAD KEY".into() }
        );
        assert_eq!(
            Signal::TurnEnded { last_reply: Some("x".into()) }.map_text(up),
            Signal::TurnEnded { last_reply: Some("X".into()) }
        );
        assert_eq!(Signal::Interrupted.map_text(up), Signal::Interrupted);
    }

    #[test]
    fn status_classes() {
        assert_eq!(ErrorClass::of_status(401), ErrorClass::Auth);
        assert_eq!(ErrorClass::of_status(403), ErrorClass::Auth);
        assert_eq!(ErrorClass::of_status(429), ErrorClass::RateLimit);
        assert_eq!(ErrorClass::of_status(503), ErrorClass::Server);
        assert_eq!(ErrorClass::of_status(400), ErrorClass::Other);
    }
}
