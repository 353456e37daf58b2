//! `fake-hooks`: a built-in fake of a CLI that reports its lifecycle through hooks, the way
//! Claude Code's `--settings` hooks or Codex's `notify` program do. It never prints a result
//! block, so only its signals tell AgentPool that a turn ended; the end-to-end tests use it to
//! prove the signal channel (launch wiring, `agentpool __signal`, the signal log, `observe`).
//!
//! The worker announces itself and fires `session_start` (with the conversation it resumes, when
//! `AGENTPOOL_FAKE_RESUME` names one), reads the initial prompt, then works
//! turn by turn on each message it reads:
//! - a message containing `ask me` prints a question and fires `notification` with
//!   `{"notification_type": "question", …}`; the answer starts the next turn;
//! - a message containing `ask me late` fires that `notification` first and draws the question
//!   [`DRAW_DELAY`] later, discarding whatever was typed meanwhile, the way Claude Code's hooks
//!   run before it draws the dialog they announce (and a key sent too early is lost);
//! - a message containing `fail with <status>` prints an API error and fires `stop_failure` with
//!   that HTTP status;
//! - anything else prints `Done: <message>` and fires `stop` with
//!   `{"last_assistant_message": "Done: <message>"}`.
//!
//! Hooks run as the launch plan wired them (`AGENTPOOL_FAKE_HOOKS`: a JSON object from hook name
//! to argv), with the JSON payload on stdin, and the worker waits for each, as CLIs do.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::process::{Command, Stdio};

use agentpool_sdk::error::Result;
use agentpool_sdk::provider::LaunchContext;
use agentpool_sdk::signal::{ErrorClass, Signal, SignalChannel};
use serde_json::{Value, json};

/// The provider id.
pub const ID: &str = "fake-hooks";

/// The variable that carries the hook wiring to the worker.
pub const HOOKS_ENV: &str = "AGENTPOOL_FAKE_HOOKS";

/// The variable that names the conversation to resume (its launch plan sets it from
/// `LaunchContext::resume_session`).
pub const RESUME_ENV: &str = "AGENTPOOL_FAKE_RESUME";

/// The conversation id a fresh `fake-hooks` reports.
pub const FIRST_CONVERSATION: &str = "fake-hooks-conversation-1";

/// How long after its question hook an `ask me late` turn draws the question.
pub const DRAW_DELAY: std::time::Duration = std::time::Duration::from_millis(800);

/// The hooks the fake fires.
pub const HOOKS: [&str; 3] = ["session_start", "stop", "notification"];
const STOP_FAILURE: &str = "stop_failure";

/// The environment that wires every hook of the worker to this session's signal log.
pub fn hook_env(ctx: &LaunchContext) -> Result<(String, String)> {
    let wiring: BTreeMap<&str, Vec<String>> =
        HOOKS.iter().chain([&STOP_FAILURE]).map(|h| (*h, ctx.signal_command(ID, h))).collect();
    Ok((HOOKS_ENV.to_owned(), serde_json::to_string(&wiring).unwrap_or_default()))
}

/// How `fake-hooks` reads its own hook payloads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Channel;

impl SignalChannel for Channel {
    fn parse(&self, source: &str, payload: &str) -> Vec<Signal> {
        let Ok(v) = serde_json::from_str::<Value>(payload) else { return Vec::new() };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let signal = match source {
            "session_start" => Signal::SessionStarted { cli_session_id: text("session_id") },
            "stop" => Signal::TurnEnded { last_reply: text("last_assistant_message") },
            "notification" => match v.get("notification_type").and_then(Value::as_str) {
                Some("question") => Signal::Question { text: text("message") },
                Some("permission") => Signal::Approval { text: text("message") },
                _ => return Vec::new(),
            },
            STOP_FAILURE => {
                let status = v.pointer("/error/status").and_then(Value::as_u64).unwrap_or(0);
                Signal::Error {
                    class: ErrorClass::of_status(u16::try_from(status).unwrap_or(0)),
                    message: v.pointer("/error/message").and_then(Value::as_str).unwrap_or("").to_owned(),
                }
            }
            _ => return Vec::new(),
        };
        vec![signal]
    }
}

/// Runs the worker on this process's terminal; returns the exit code.
pub fn run() -> i32 {
    let hooks: BTreeMap<String, Vec<String>> =
        std::env::var(HOOKS_ENV).ok().and_then(|w| serde_json::from_str(&w).ok()).unwrap_or_default();
    let fire = |hook: &str, payload: &Value| {
        let Some((program, args)) = hooks.get(hook).and_then(|argv| argv.split_first()) else { return };
        let child = Command::new(program).args(args).stdin(Stdio::piped()).stdout(Stdio::null()).spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(payload.to_string().as_bytes());
            }
            let _ = child.wait();
        }
    };
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    let resume = std::env::var(RESUME_ENV).ok().filter(|id| !id.trim().is_empty());
    // Before a late question is drawn: wait, then drop what was typed meanwhile (a TUI opening
    // a dialog reads nothing sent before it).
    let draw_late = || {
        std::thread::sleep(DRAW_DELAY);
        let _ = nix::sys::termios::tcflush(std::io::stdin(), nix::sys::termios::FlushArg::TCIFLUSH);
    };
    match run_with(&mut input, &mut out, resume.as_deref(), fire, draw_late) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fake-hooks: I/O failure: {e}");
            1
        }
    }
}

/// The scenario over any input and output; `fire(hook, payload)` runs a hook, `draw_late()`
/// runs between a late question's hook and its drawing.
pub fn run_with(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    resume: Option<&str>,
    fire: impl Fn(&str, &Value),
    draw_late: impl Fn(),
) -> io::Result<()> {
    let say = |out: &mut dyn Write, line: &str| -> io::Result<()> {
        writeln!(out, "{line}")?;
        out.flush()
    };
    say(out, "Fake Hooks Agent ready.")?;
    if let Some(id) = resume {
        say(out, &format!("Resumed conversation {id}."))?;
    }
    fire("session_start", &json!({"session_id": resume.unwrap_or(FIRST_CONVERSATION)}));
    // The initial prompt: everything up to the line `Task:`, then the task line itself.
    let mut message = None;
    let mut lines = input.lines();
    while let Some(line) = lines.next().transpose()? {
        if line.trim() == "Task:" {
            message = lines.next().transpose()?;
            break;
        }
    }
    while let Some(text) = message.take() {
        let text = text.trim().to_owned();
        if !text.is_empty() {
            if text.contains("ask me late") {
                let q = "Which database should I use, sqlite or postgres?";
                fire("notification", &json!({"notification_type": "question", "message": q}));
                draw_late();
                say(out, q)?;
            } else if text.contains("ask me") {
                let q = "Which database should I use, sqlite or postgres?";
                say(out, q)?;
                fire("notification", &json!({"notification_type": "question", "message": q}));
            } else if let Some(status) = text.split("fail with ").nth(1) {
                let digits: String = status.trim().chars().take_while(char::is_ascii_digit).collect();
                let status: u64 = digits.parse().unwrap_or(500);
                say(out, &format!("API Error: {status} from the model service"))?;
                fire(STOP_FAILURE, &json!({"error": {"status": status, "message": format!("HTTP {status}")}}));
            } else {
                say(out, &format!("Working on: {text}"))?;
                let reply = format!("Done: {text}");
                say(out, &reply)?;
                fire("stop", &json!({"last_assistant_message": reply}));
            }
            say(out, "> ")?;
        }
        // The rest of a pasted prompt arrives as more lines; each non-empty one is a turn.
        message = lines.next().transpose()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::RefCell;

    use super::*;

    #[test]
    fn turns_fire_the_hooks_a_hook_capable_cli_would() {
        let fired = RefCell::new(Vec::new());
        let input = "You are a worker.\nTask:\nlist files\nask me\nsqlite\nfail with 429.\n";
        let mut out = Vec::new();
        run_with(
            &mut input.as_bytes(),
            &mut out,
            None,
            |h, p| fired.borrow_mut().push((h.to_owned(), p.clone())),
            || {},
        )
        .unwrap();
        let fired = fired.into_inner();
        let hooks: Vec<&str> = fired.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(hooks, ["session_start", "stop", "notification", "stop", "stop_failure"]);
        let channel = Channel;
        let signals: Vec<Signal> = fired.iter().flat_map(|(h, p)| channel.parse(h, &p.to_string())).collect();
        assert_eq!(signals[0], Signal::SessionStarted { cli_session_id: Some("fake-hooks-conversation-1".into()) });
        assert_eq!(signals[1], Signal::TurnEnded { last_reply: Some("Done: list files".into()) });
        assert_eq!(signals[2].kind(), "question");
        assert_eq!(signals[4], Signal::Error { class: ErrorClass::RateLimit, message: "HTTP 429".into() });
        let screen = String::from_utf8(out).unwrap();
        assert!(screen.starts_with("Fake Hooks Agent ready.\n"), "{screen}");
        assert!(!screen.contains("AGENTPOOL_RESULT_START"), "{screen}");
    }

    #[test]
    fn a_resumed_worker_reports_the_conversation_it_continues() {
        let fired = RefCell::new(Vec::new());
        let mut out = Vec::new();
        run_with(
            &mut "Task:\ncarry on\n".as_bytes(),
            &mut out,
            Some("conv-7"),
            |h, p| fired.borrow_mut().push((h.to_owned(), p.clone())),
            || {},
        )
        .unwrap();
        assert_eq!(fired.borrow()[0].1["session_id"], "conv-7");
        assert!(String::from_utf8(out).unwrap().contains("Resumed conversation conv-7."));
    }

    #[test]
    fn a_late_question_is_announced_before_it_is_drawn() {
        let order = RefCell::new(Vec::new());
        let mut sink = Vec::new();
        run_with(
            &mut "Task:\nplease ask me late\n".as_bytes(),
            &mut sink,
            None,
            |h, _| order.borrow_mut().push(h.to_owned()),
            || order.borrow_mut().push("draw".to_owned()),
        )
        .unwrap();
        assert_eq!(order.into_inner(), ["session_start", "notification", "draw"]);
        let screen = String::from_utf8(sink).unwrap();
        assert!(screen.contains("Which database should I use"), "{screen}");
    }

    #[test]
    fn payloads_it_does_not_know_give_no_signal() {
        assert!(Channel.parse("stop", "not json").is_empty());
        assert!(Channel.parse("unknown_hook", "{}").is_empty());
        assert!(Channel.parse("notification", r#"{"notification_type": "idle"}"#).is_empty());
        assert_eq!(
            Channel.parse("notification", r#"{"notification_type": "permission"}"#),
            vec![Signal::Approval { text: None }]
        );
    }
}
