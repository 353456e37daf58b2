//! opencode's own event bus as AgentPool's signal channel.
//!
//! opencode has no hook program, but it loads plugins, and a plugin sees every event of its
//! bus — the same events its `/event` SSE stream serves. At launch the provider writes a small
//! plugin (`agentpool-signals.js`) into the session's artifact directory and names it in the
//! worker's `OPENCODE_CONFIG_CONTENT`; the plugin hands the events that speak to a turn to
//! `agentpool __signal opencode event <signal-log>`, one JSON document on stdin each, in order.
//! Nothing listens on the network: the plugin runs inside opencode and reports through a
//! process, as Claude Code's hooks and Codex's notify program do.
//!
//! | document (`type`) | signals |
//! |---|---|
//! | `session.created`, `session.busy` (a turn began) | `session_started` with opencode's session id (what `opencode -s` takes) |
//! | `session.idle` (the turn ended well) | `turn_ended` with the last reply; `question` when that reply ends in one without a result block |
//! | `session.error`, `MessageAbortedError` | `interrupted` |
//! | `session.error`, any other (after opencode's own retries) | `error` with the class of its HTTP status (`ProviderAuthError`: `auth`) |
//! | `permission.asked` | `approval` (`bash: touch x`) |
//! | `question.asked` (opencode's question tool) | `question` with the question and its options |
//! | `permission.replied`, `question.replied`, `question.rejected` | `tool_use` (the turn goes on) |
//! | `providers.none` (at start, opencode has no usable model provider) | `error` of class `auth` |
//! | `session.retry`, anything else, not JSON | none |
//!
//! The plugin leaves out sub-agent sessions (those with a parent), and the `session.idle` opencode
//! sends after an error or an abort (the error is the turn's end).

use std::path::{Path, PathBuf};

use agentpool_sdk::error::{Error, ErrorCode, Result};
use agentpool_sdk::provider::LaunchContext;
use agentpool_sdk::signal::{ErrorClass, Signal, SignalChannel};
use serde_json::{Value, json};

/// The `source` the plugin reports under.
pub const SOURCE: &str = "event";

/// The plugin's file name, in the session's artifact directory.
pub const PLUGIN_FILE: &str = "agentpool-signals.js";

/// The plugin, with a placeholder for the signal command.
const PLUGIN: &str = include_str!("agentpool-signals.js");

/// Where the signal command goes in [`PLUGIN`].
const COMMAND_SLOT: &str = "__AGENTPOOL_SIGNAL_COMMAND__";

/// Where the resumed session goes in [`PLUGIN`].
const RESUME_SLOT: &str = "__AGENTPOOL_RESUME__";

/// The file AgentPool writes the task to in the session's artifact directory.
pub const PROMPT_FILE: &str = "prompt.md";

/// The plugin's source for `command` (the argv of `agentpool __signal opencode event <log>`)
/// and, for `agentpool resume`, the session to continue and the file holding the task.
pub fn plugin_source(command: &[String], resume: Option<(&str, &Path)>) -> String {
    let resume = resume.map_or(Value::Null, |(session, prompt)| json!({"session": session, "prompt_file": prompt}));
    PLUGIN.replacen(COMMAND_SLOT, &serde_json::to_string(command).unwrap_or_else(|_| "[]".into()), 1).replacen(
        RESUME_SLOT,
        &resume.to_string(),
        1,
    )
}

/// Writes the plugin for this session next to its signal log (`resume`: the opencode session
/// to continue); returns its path.
pub fn write_plugin(ctx: &LaunchContext, provider_id: &str, resume: Option<&str>) -> Result<PathBuf> {
    let dir = ctx
        .signal_log
        .parent()
        .ok_or_else(|| Error::new(ErrorCode::IoFailed, "the session's signal log has no directory"))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format_args!("could not create `{}`", dir.display()), &e))?;
    let path = dir.join(PLUGIN_FILE);
    let prompt = dir.join(PROMPT_FILE);
    let source = plugin_source(&ctx.signal_command(provider_id, SOURCE), resume.map(|id| (id, prompt.as_path())));
    agentpool_sdk::util::write_atomic(&path, source.as_bytes())?;
    Ok(path)
}

/// A `file://` URL for an absolute path (bytes outside the unreserved set percent-encoded).
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.as_os_str().as_encoded_bytes() {
        match *b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => url.push(char::from(*b)),
            other => url.push_str(&format!("%{other:02X}")),
        }
    }
    url
}

/// The worker's `OPENCODE_CONFIG_CONTENT`: the plugin, and no self-update mid-task. opencode
/// merges it over the user's own config files.
pub fn config_content(plugin: &Path) -> String {
    json!({"plugin": [file_url(plugin)], "autoupdate": false}).to_string()
}

/// The error of a worker whose opencode has no usable model provider.
pub const NO_PROVIDER: &str = "opencode has no usable model provider (it shows \"Connect a provider\"); connect one with `opencode auth login` or in its config";

/// How the `opencode` provider reads its plugin's reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Channel;

impl SignalChannel for Channel {
    fn parse(&self, source: &str, payload: &str) -> Vec<Signal> {
        if source != SOURCE {
            return Vec::new();
        }
        let Ok(v) = serde_json::from_str::<Value>(payload.trim()) else { return Vec::new() };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let session = || Signal::SessionStarted { cli_session_id: text("sessionID").map(str::to_owned) };
        match text("type").unwrap_or("") {
            "session.created" | "session.busy" => vec![session()],
            "session.idle" => {
                let reply = text("last_reply").map(str::to_owned);
                match reply.as_deref().and_then(question_in) {
                    Some(q) => vec![Signal::Question { text: Some(q) }],
                    None => vec![Signal::TurnEnded { last_reply: reply }],
                }
            }
            "session.error" => {
                let name = text("name").unwrap_or("");
                if name == "MessageAbortedError" {
                    return vec![Signal::Interrupted];
                }
                let message = text("message").unwrap_or(name).to_owned();
                let status = v.get("statusCode").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok());
                vec![Signal::Error { class: error_class(name, status, &message), message }]
            }
            "permission.asked" => {
                let what = text("permission").unwrap_or("permission");
                let patterns: Vec<&str> = v
                    .get("patterns")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let text =
                    if patterns.is_empty() { what.to_owned() } else { format!("{what}: {}", patterns.join(", ")) };
                vec![Signal::Approval { text: Some(text) }]
            }
            "providers.none" => vec![Signal::Error { class: ErrorClass::Auth, message: NO_PROVIDER.into() }],
            "question.asked" => vec![Signal::Question { text: question_text(v.get("questions")) }],
            kind @ ("permission.replied" | "question.replied" | "question.rejected") => {
                vec![Signal::ToolUse { tool: kind.split('.').next().map(str::to_owned) }]
            }
            _ => Vec::new(),
        }
    }
}

/// The class of a `session.error`: its HTTP status when it has one, auth for opencode's
/// `ProviderAuthError`, network for a service it could not reach, else other.
pub fn error_class(name: &str, status: Option<u16>, message: &str) -> ErrorClass {
    if let Some(s) = status {
        return ErrorClass::of_status(s);
    }
    if name == "ProviderAuthError" {
        return ErrorClass::Auth;
    }
    let lower = message.to_lowercase();
    if ["unable to connect", "cannot connect", "econnrefused", "enotfound", "fetch failed", "timed out"]
        .iter()
        .any(|n| lower.contains(n))
    {
        ErrorClass::Network
    } else {
        ErrorClass::Other
    }
}

/// The first question of a `question.asked`, with its options numbered as the screen shows
/// them (`Which color? 1. Red 2. Blue`).
fn question_text(questions: Option<&Value>) -> Option<String> {
    let q = questions?.as_array()?.first()?;
    let mut text = q.get("question").and_then(Value::as_str)?.trim().to_owned();
    let labels = q.get("options").and_then(Value::as_array).into_iter().flatten();
    for (i, label) in labels.filter_map(|o| o.get("label").and_then(Value::as_str)).enumerate() {
        text.push_str(&format!(" {}. {label}", i + 1));
    }
    Some(text)
}

/// The question a final reply ends with: its last non-blank line, when that ends in `?` and
/// the reply holds no result block (a worker that asks in plain text and ends its turn).
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

    // Documents as the plugin sent them from opencode 1.18.33 against the conformance stand-in
    // (ids are opencode's; the reply is the stand-in's).
    const CREATED: &str = r#"{"type":"session.created","sessionID":"ses_db0fa1d0affemQVsNTL2kXYgea"}"#;
    const IDLE: &str = r#"{"type":"session.idle","sessionID":"ses_db0fa1d0affemQVsNTL2kXYgea","last_reply":"The tool call of scenario approval is over.\n\nAGENTPOOL_RESULT_START\nSummary: The tool call of scenario approval is over.\nFindings: none\nAGENTPOOL_RESULT_END"}"#;
    const PERMISSION: &str = r#"{"type":"permission.asked","sessionID":"ses_db0fa1d0affemQVsNTL2kXYgea","permission":"bash","patterns":["touch conformance-approval.txt"]}"#;
    const QUESTION: &str = r#"{"type":"question.asked","sessionID":"ses_db0fa1d0affemQVsNTL2kXYgea","questions":[{"question":"Which color should the button be?","header":"Color","options":[{"label":"Red","description":"A red button"},{"label":"Blue","description":"A blue button"}],"multiple":false}]}"#;
    const ERR401: &str = r#"{"type":"session.error","sessionID":"ses_db0f8c234ffenM6gg2f5AN1hSt","name":"APIError","message":"Incorrect API key provided (stand-in)","statusCode":401}"#;
    const ERR429: &str = r#"{"type":"session.error","sessionID":"ses_db0f8c234ffenM6gg2f5AN1hSt","name":"APIError","message":"Rate limit reached (stand-in)","statusCode":429}"#;
    const ABORTED: &str = r#"{"type":"session.error","sessionID":"ses_db0f8c234ffenM6gg2f5AN1hSt","name":"MessageAbortedError","message":"Aborted"}"#;

    #[test]
    fn a_turn_starts_ends_and_names_the_session() {
        assert_eq!(
            Channel.parse(SOURCE, CREATED),
            vec![Signal::SessionStarted { cli_session_id: Some("ses_db0fa1d0affemQVsNTL2kXYgea".into()) }]
        );
        let busy = r#"{"type":"session.busy","sessionID":"ses_1"}"#;
        assert_eq!(Channel.parse(SOURCE, busy), vec![Signal::SessionStarted { cli_session_id: Some("ses_1".into()) }]);
        let ended = Channel.parse(SOURCE, IDLE);
        let [Signal::TurnEnded { last_reply: Some(reply) }] = ended.as_slice() else { panic!("no turn end") };
        assert!(reply.ends_with("AGENTPOOL_RESULT_END"));
        assert_eq!(
            Channel.parse(SOURCE, r#"{"type":"session.idle","sessionID":"s"}"#),
            vec![Signal::TurnEnded { last_reply: None }]
        );
        let asks = r#"{"type":"session.idle","sessionID":"s","last_reply":"I need one detail.\n\nRed or blue?"}"#;
        assert_eq!(Channel.parse(SOURCE, asks), vec![Signal::Question { text: Some("Red or blue?".into()) }]);
    }

    #[test]
    fn permissions_and_questions_wait_and_their_answers_resume_the_turn() {
        assert_eq!(
            Channel.parse(SOURCE, PERMISSION),
            vec![Signal::Approval { text: Some("bash: touch conformance-approval.txt".into()) }]
        );
        assert_eq!(
            Channel.parse(SOURCE, QUESTION),
            vec![Signal::Question { text: Some("Which color should the button be? 1. Red 2. Blue".into()) }]
        );
        for kind in ["permission.replied", "question.replied", "question.rejected"] {
            let doc = format!(r#"{{"type":"{kind}","sessionID":"s","reply":"once"}}"#);
            assert!(matches!(Channel.parse(SOURCE, &doc).as_slice(), [Signal::ToolUse { .. }]), "{kind}");
        }
    }

    #[test]
    fn errors_carry_their_class_and_an_abort_is_an_interrupt() {
        assert_eq!(
            Channel.parse(SOURCE, ERR401),
            vec![Signal::Error { class: ErrorClass::Auth, message: "Incorrect API key provided (stand-in)".into() }]
        );
        assert!(matches!(Channel.parse(SOURCE, ERR429)[0], Signal::Error { class: ErrorClass::RateLimit, .. }));
        let e500 = ERR429.replace("429", "500");
        assert!(matches!(Channel.parse(SOURCE, &e500)[0], Signal::Error { class: ErrorClass::Server, .. }));
        assert_eq!(Channel.parse(SOURCE, ABORTED), vec![Signal::Interrupted]);
        assert_eq!(
            Channel.parse(SOURCE, r#"{"type":"providers.none"}"#),
            vec![Signal::Error { class: ErrorClass::Auth, message: NO_PROVIDER.into() }]
        );
        assert_eq!(error_class("ProviderAuthError", None, "no key"), ErrorClass::Auth);
        assert_eq!(
            error_class(
                "UnknownError",
                None,
                "Cannot connect to API: Unable to connect. Is the computer able to access the url?"
            ),
            ErrorClass::Network
        );
        assert_eq!(error_class("UnknownError", None, "boom"), ErrorClass::Other);
    }

    #[test]
    fn anything_else_yields_nothing() {
        assert_eq!(Channel.parse(SOURCE, "not json"), Vec::new());
        assert_eq!(Channel.parse(SOURCE, "[1]"), Vec::new());
        assert_eq!(Channel.parse(SOURCE, r#"{"type":"session.retry","attempt":2}"#), Vec::new());
        assert_eq!(Channel.parse("stop", IDLE), Vec::new());
    }

    #[test]
    fn the_plugin_carries_the_signal_command_and_the_config_names_it() {
        let cmd = vec!["/opt/ap dir/agentpool".to_owned(), "__signal".into(), "opencode".into(), "event".into()];
        let js = plugin_source(&cmd, None);
        assert!(js.contains(r#"const COMMAND = ["/opt/ap dir/agentpool","__signal","opencode","event"];"#), "{js}");
        assert!(js.contains("const RESUME = null;"), "{js}");
        assert!(!js.contains(COMMAND_SLOT) && !js.contains(RESUME_SLOT));
        let js = plugin_source(&cmd, Some(("ses_1", Path::new("/tmp/ap/prompt.md"))));
        assert!(js.contains(r#""session":"ses_1""#) && js.contains(r#""prompt_file":"/tmp/ap/prompt.md""#), "{js}");
        let config: Value = serde_json::from_str(&config_content(Path::new("/tmp/a b/agentpool-signals.js"))).unwrap();
        assert_eq!(config["plugin"][0], "file:///tmp/a%20b/agentpool-signals.js");
        assert_eq!(config["autoupdate"], false);
    }
}
