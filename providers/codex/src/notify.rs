//! Codex CLI's `notify` program as AgentPool's signal channel.
//!
//! At launch the provider passes `-c notify=[…]` naming `agentpool __signal codex-cli notify
//! <signal-log>`; codex runs that program at the end of every turn with one JSON document as
//! its last argument:
//!
//! ```json
//! {"type": "agent-turn-complete", "thread-id": "…", "turn-id": "…", "cwd": "…",
//!  "client": "codex-tui", "input-messages": ["…"], "last-assistant-message": "…"}
//! ```
//!
//! | payload | signals |
//! |---|---|
//! | `agent-turn-complete` of the conversation | `session_started` with `thread-id` (what `codex resume` takes), then `turn_ended` with `last-assistant-message` |
//! | the same, when that message ends in a question (its last line ends with `?`, no result block) | `session_started`, then `question` with that line |
//! | `agent-turn-complete` of codex's own title request | none (see [`is_title_request`]) |
//! | any other `type`, or not JSON | none |
//!
//! `notify` only reports turns that ended well: approvals, API errors and interrupts stay
//! screen-based (see the provider's screen rules).

use agentpool_sdk::signal::{Signal, SignalChannel};
use serde_json::Value;

/// The `source` the launch plan gives the notify program.
pub const SOURCE: &str = "notify";

/// The payload type of a finished turn.
const TURN_COMPLETE: &str = "agent-turn-complete";

/// Whether a turn is the side request codex makes on a conversation's first message to name it
/// (a separate thread whose only input asks for a short task title). Its turn ends long before
/// the conversation's own turn does, so it must not be read as the worker going idle.
pub fn is_title_request(inputs: &[&str]) -> bool {
    match inputs {
        [only] => {
            let lower = only.to_lowercase();
            lower.starts_with("generate a") && lower.contains("title") && lower.contains("user prompt:")
        }
        _ => false,
    }
}

/// How the `codex-cli` provider reads its notify payloads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Channel;

impl SignalChannel for Channel {
    fn parse(&self, source: &str, payload: &str) -> Vec<Signal> {
        if source != SOURCE {
            return Vec::new();
        }
        let Ok(v) = serde_json::from_str::<Value>(payload.trim()) else { return Vec::new() };
        if v.get("type").and_then(Value::as_str) != Some(TURN_COMPLETE) {
            return Vec::new();
        }
        let inputs: Vec<&str> = v
            .get("input-messages")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if is_title_request(&inputs) {
            return Vec::new();
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut signals = Vec::new();
        if let Some(thread) = text("thread-id") {
            signals.push(Signal::SessionStarted { cli_session_id: Some(thread) });
        }
        let reply = text("last-assistant-message");
        match reply.as_deref().and_then(question_in) {
            Some(q) => signals.push(Signal::Question { text: Some(q) }),
            None => signals.push(Signal::TurnEnded { last_reply: reply }),
        }
        signals
    }
}

/// The question a final reply ends with: its last non-blank line, when that ends in `?` and
/// the reply holds no result block. Codex has no question tool in its default mode, so a worker
/// that is blocked asks in plain text and ends its turn; that turn is waiting on an answer.
pub fn question_in(reply: &str) -> Option<String> {
    if reply.contains("AGENTPOOL_RESULT_START") {
        return None;
    }
    let last = reply.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    (last.ends_with('?') && last.chars().count() <= 400).then(|| last.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from codex 0.171.0 against the conformance stand-in (ids and paths are ours).
    const TURN: &str = r#"{"type":"agent-turn-complete","thread-id":"01a24e99-8599-7c52-a265-5094978f98a7","turn-id":"01a24e99-8611-7b42-b5b2-09a1d9c8d95b","cwd":"/tmp/conf/repo","client":"codex-tui","input-messages":["Say hello. scenario-plain"],"last-assistant-message":"Hello from the stand-in.\n\nAGENTPOOL_RESULT_START\nSummary: Hello from the stand-in.\nAGENTPOOL_RESULT_END"}"#;

    /// The title request codex 0.171.0 makes beside the first turn, same recording.
    const TITLE: &str = r#"{"type":"agent-turn-complete","thread-id":"01a24e99-866d-7620-9a6e-813f81000b5a","turn-id":"01a24e99-8691-7930-ba08-eef0fd2ccf91","cwd":"/tmp/conf/repo","client":"codex-tui","input-messages":["Generate a concise, single-line task title of at most 36 characters. Do not answer the request.\n\nUser prompt:\nSay hello. scenario-plain"],"last-assistant-message":"Stand-in side reply."}"#;

    #[test]
    fn a_finished_turn_ends_the_turn_and_names_the_thread() {
        let signals = Channel.parse(SOURCE, TURN);
        assert_eq!(
            signals[0],
            Signal::SessionStarted { cli_session_id: Some("01a24e99-8599-7c52-a265-5094978f98a7".into()) }
        );
        let Signal::TurnEnded { last_reply: Some(reply) } = &signals[1] else { panic!("{signals:?}") };
        assert!(reply.starts_with("Hello from the stand-in.") && reply.contains("AGENTPOOL_RESULT_END"));
        assert_eq!(signals.len(), 2);
    }

    #[test]
    fn a_reply_that_ends_in_a_question_waits_on_an_answer() {
        let payload = r#"{"type":"agent-turn-complete","thread-id":"t-1","input-messages":["Pick one. scenario-ask"],"last-assistant-message":"I need one detail first.\n\nWhich color should the button be, red or blue?\n"}"#;
        assert_eq!(
            Channel.parse(SOURCE, payload)[1],
            Signal::Question { text: Some("Which color should the button be, red or blue?".into()) }
        );
        assert_eq!(question_in("Done.\n\nAGENTPOOL_RESULT_START\nBlockers: any?\nAGENTPOOL_RESULT_END"), None);
        assert_eq!(question_in("Is it done? Yes, it is."), None);
        assert_eq!(question_in(""), None);
    }

    #[test]
    fn the_title_request_is_not_the_conversation() {
        assert_eq!(Channel.parse(SOURCE, TITLE), Vec::new());
        // A user prompt that merely talks about titles is a turn like any other.
        assert!(!is_title_request(&["Generate a title for the README"]));
        assert!(!is_title_request(&["a", "b"]));
    }

    #[test]
    fn anything_else_yields_nothing() {
        assert_eq!(Channel.parse(SOURCE, "not json"), Vec::new());
        assert_eq!(Channel.parse(SOURCE, r#"{"type":"approval-requested"}"#), Vec::new());
        assert_eq!(Channel.parse(SOURCE, "[1,2]"), Vec::new());
        assert_eq!(Channel.parse("stop", TURN), Vec::new());
        // Without ids or a message the turn still ended.
        assert_eq!(
            Channel.parse(SOURCE, r#"{"type":"agent-turn-complete","last-assistant-message":""}"#),
            vec![Signal::TurnEnded { last_reply: None }]
        );
    }
}
