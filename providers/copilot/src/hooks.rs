//! Copilot CLI's hooks as AgentPool's signal channel.
//!
//! At launch the provider writes a plugin into the session's artifact directory
//! (`copilot-plugin/`, next to `signals.jsonl`: `.plugin/plugin.json` and `hooks/hooks.json`) and
//! passes it with `--plugin-dir`; the user's own `~/.copilot` is never touched. Each hook runs
//! `agentpool __signal copilot-cli <source> <log>` with Copilot's JSON payload on stdin:
//!
//! | hook | source | signal |
//! |---|---|---|
//! | `sessionStart` | `session_start` | `session_started` with Copilot's `sessionId` (what `--resume` takes) |
//! | `preToolUse`, `postToolUse`, `postToolUseFailure` | `pre_tool_use`, … | `tool_use` (`toolName`): working, so an approval or question answered is over; for the `ask_user` tool, `preToolUse` is a `question` (its message) |
//! | `permissionRequest` | `permission_request` | `approval` (tool and command) |
//! | `agentStop` | `agent_stop` | `turn_ended` with the last assistant message of the transcript it names |
//! | `errorOccurred` of a model call | [`ATTEMPT_ERROR_SOURCE`] | `error`, classed from the API's error: it fires for every failed attempt, retries included, so it decides only once the screen shows the turn failed |
//! | `sessionEnd` | `session_end` | `session_ended` |
//!
//! Copilot fires no hook when a turn is interrupted (core logs that signal itself when it sends
//! the interrupt key), and none after its last retry failed: the final `✗` line on screen says
//! the turn is over. Its `notification` hook repeats what `permissionRequest` and the `ask_user`
//! `preToolUse` said, so it is not wired.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use agentpool_sdk::error::{Error, ErrorCode, Result};
use agentpool_sdk::provider::LaunchContext;
use agentpool_sdk::signal::{ATTEMPT_ERROR_SOURCE, ErrorClass, Signal, SignalChannel};
use serde_json::{Map, Value, json};

use crate::ID;

/// The plugin's directory in the session's artifact directory.
pub const PLUGIN_DIR: &str = "copilot-plugin";

/// Copilot CLI's hook events and the `source` each reports as.
pub const HOOKS: [(&str, &str); 8] = [
    ("sessionStart", "session_start"),
    ("preToolUse", "pre_tool_use"),
    ("postToolUse", "post_tool_use"),
    ("postToolUseFailure", "post_tool_use_failure"),
    ("permissionRequest", "permission_request"),
    ("agentStop", "agent_stop"),
    ("errorOccurred", ATTEMPT_ERROR_SOURCE),
    ("sessionEnd", "session_end"),
];

/// The tool Copilot asks the user a question with.
const QUESTION_TOOL: &str = "ask_user";

/// The most of a transcript's end that is read for the last reply.
const TRANSCRIPT_TAIL: u64 = 4 << 20;

/// Quotes one word for `bash` (Copilot runs a hook's `bash` string through it).
fn sh_quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b)) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The `hooks/hooks.json` document that wires every hook to this session's signal log.
pub fn hooks_file(ctx: &LaunchContext) -> Value {
    let mut hooks = Map::new();
    for (event, source) in HOOKS {
        let command = ctx.signal_command(ID, source).iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ");
        hooks.insert(event.to_owned(), json!([{"type": "command", "bash": command, "timeoutSec": 10}]));
    }
    json!({ "version": 1, "hooks": hooks })
}

/// Writes the plugin next to the session's signal log and returns its directory.
pub fn write_plugin(ctx: &LaunchContext) -> Result<PathBuf> {
    let artifacts = ctx
        .signal_log
        .parent()
        .ok_or_else(|| Error::new(ErrorCode::IoFailed, "the session's signal log has no directory"))?;
    let dir = artifacts.join(PLUGIN_DIR);
    let manifest = json!({
        "name": "agentpool-signals",
        "description": "Reports this session's turns, approvals, questions and errors to AgentPool.",
        "version": "1.0.0",
        "author": {"name": "AgentPool"}
    });
    for (path, doc) in [(dir.join(".plugin/plugin.json"), manifest), (dir.join("hooks/hooks.json"), hooks_file(ctx))] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format_args!("could not create `{}`", parent.display()), &e))?;
        }
        let body = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        agentpool_sdk::util::write_atomic(&path, body.as_bytes())?;
    }
    Ok(dir)
}

/// The class of a failed model call, from the API's error body Copilot passes on (its
/// `error.message` holds the provider's JSON error, or a plain message).
pub fn error_class(message: &str) -> ErrorClass {
    let inner: Option<Value> = serde_json::from_str(message).ok();
    let field = |k: &str| inner.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str).unwrap_or("").to_lowercase();
    let (code, kind) = (field("code"), field("type"));
    let lower = message.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| code.contains(n) || kind.contains(n) || lower.contains(n));
    if has(&["invalid_api_key", "authentication", "unauthorized", "permission_denied", "http 401", "http 403"]) {
        ErrorClass::Auth
    } else if has(&["rate_limit", "insufficient_quota", "too many requests", "http 429"]) {
        ErrorClass::RateLimit
    } else if has(&["server_error", "overloaded", "internal server error", "service unavailable", "http 5"]) {
        ErrorClass::Server
    } else if has(&["econnrefused", "enotfound", "fetch failed", "connection error", "timed out"]) {
        ErrorClass::Network
    } else {
        ErrorClass::Other
    }
}

/// One line saying what a tool call wants to do (`bash: touch x`).
fn tool_summary(v: &Value) -> Option<String> {
    let tool = v.get("toolName").and_then(Value::as_str)?;
    let input = v.get("toolInput").or_else(|| v.get("toolArgs"));
    let detail = ["command", "path", "url", "pattern", "description"]
        .iter()
        .find_map(|k| input.and_then(|i| i.get(*k)).and_then(Value::as_str));
    Some(match detail {
        Some(d) => format!("{tool}: {d}"),
        None => tool.to_owned(),
    })
}

/// How long [`last_reply`] waits for Copilot to write the turn's end to its transcript.
const TRANSCRIPT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The final reply of the turn an `agentStop` hook (fired at `stop_ts`) ends: the content of
/// the last non-empty `assistant.message` before that hook's own `hook.start` line in Copilot's
/// transcript (`~/.copilot/session-state/<id>/events.jsonl`, its last few megabytes). Copilot
/// writes its transcript behind: when the hook runs, the reply may not be there yet, so the
/// transcript is read again until the hook's line shows up (for at most [`TRANSCRIPT_WAIT`]).
/// Only a file named `events.jsonl` is read.
pub fn last_reply(transcript: &Path, stop_ts: Option<i64>) -> Option<String> {
    if transcript.file_name().and_then(|n| n.to_str()) != Some("events.jsonl") {
        return None;
    }
    let start = std::time::Instant::now();
    loop {
        let (reply, complete) = scan(transcript, stop_ts)?;
        if complete || start.elapsed() >= TRANSCRIPT_WAIT {
            return reply;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// One read of the transcript: the last reply, and whether the `agentStop` hook's line (for
/// `stop_ts`) was there.
fn scan(transcript: &Path, stop_ts: Option<i64>) -> Option<(Option<String>, bool)> {
    let mut file = std::fs::File::open(transcript).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TRANSCRIPT_TAIL))).ok()?;
    let mut bytes = Vec::new();
    file.take(TRANSCRIPT_TAIL).read_to_end(&mut bytes).ok()?;
    let mut reply = None;
    for line in String::from_utf8_lossy(&bytes).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        match v.get("type").and_then(Value::as_str) {
            Some("user.message") => reply = None,
            Some("assistant.message") => {
                if let Some(c) = v.pointer("/data/content").and_then(Value::as_str).filter(|c| !c.trim().is_empty()) {
                    reply = Some(c.to_owned());
                }
            }
            Some("hook.start")
                if v.pointer("/data/hookType").and_then(Value::as_str) == Some("agentStop")
                    && (stop_ts.is_none() || v.pointer("/data/input/timestamp").and_then(Value::as_i64) == stop_ts) =>
            {
                return Some((reply, true));
            }
            _ => {}
        }
    }
    Some((reply, false))
}

/// How AgentPool reads Copilot CLI's hook payloads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Channel;

impl SignalChannel for Channel {
    fn parse(&self, source: &str, payload: &str) -> Vec<Signal> {
        let Ok(v) = serde_json::from_str::<Value>(payload) else { return Vec::new() };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let tool = v.get("toolName").and_then(Value::as_str);
        let signal = match source {
            "session_start" => Signal::SessionStarted { cli_session_id: text("sessionId") },
            "pre_tool_use" if tool == Some(QUESTION_TOOL) => {
                let question = v.pointer("/toolArgs/message").and_then(Value::as_str);
                Signal::Question { text: question.map(str::to_owned) }
            }
            "pre_tool_use" | "post_tool_use" | "post_tool_use_failure" => {
                Signal::ToolUse { tool: tool.map(str::to_owned) }
            }
            "permission_request" => Signal::Approval { text: tool_summary(&v) },
            "agent_stop" => {
                let stop_ts = v.get("timestamp").and_then(Value::as_i64);
                let reply = text("transcriptPath").and_then(|p| last_reply(Path::new(&p), stop_ts));
                Signal::TurnEnded { last_reply: reply }
            }
            ATTEMPT_ERROR_SOURCE if v.get("errorContext").and_then(Value::as_str) == Some("model_call") => {
                let message = v.pointer("/error/message").and_then(Value::as_str).unwrap_or("model call failed");
                Signal::Error { class: error_class(message), message: message.to_owned() }
            }
            "session_end" => Signal::SessionEnded,
            _ => return Vec::new(),
        };
        vec![signal]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Payloads recorded from Copilot CLI 1.0.102 against the conformance stand-in (ids and
    /// paths are ours).
    const SESSION_START: &str = r#"{"sessionId":"9c79cda0-257a-457c-a8d1-19bcc36646d9","timestamp":1796621702526,"cwd":"/tmp/conf/repo","source":"new","initialPrompt":"Say hello. scenario-plain"}"#;
    const PERMISSION: &str = r#"{"hookName":"permissionRequest","sessionId":"44af832b-0140-4889-8d4c-471aa4d860f2","timestamp":1796621860716,"cwd":"/tmp/conf/repo","toolName":"bash","toolInput":{"command":"touch conformance-approval.txt"},"permissionSuggestions":[]}"#;
    const ASK: &str = r#"{"sessionId":"44af832b-0140-4889-8d4c-471aa4d860f2","timestamp":1796621872024,"cwd":"/tmp/conf/repo","toolName":"ask_user","toolArgs":{"message":"Which color should the button be?","requestedSchema":{"properties":{"color":{"type":"string","title":"Color","enum":["Red","Blue"]}},"required":["color"]}}}"#;
    const ERROR_401: &str = r#"{"sessionId":"44af832b-0140-4889-8d4c-471aa4d860f2","timestamp":1796621888793,"cwd":"/tmp/conf/repo","errorContext":"model_call","recoverable":true,"error":{"message":"{\"message\":\"Incorrect API key provided (stand-in)\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}","name":"Error","stack":"Error: …"}}"#;

    #[test]
    fn session_tools_approvals_and_questions() {
        assert_eq!(
            Channel.parse("session_start", SESSION_START),
            vec![Signal::SessionStarted { cli_session_id: Some("9c79cda0-257a-457c-a8d1-19bcc36646d9".into()) }]
        );
        assert_eq!(
            Channel.parse("permission_request", PERMISSION),
            vec![Signal::Approval { text: Some("bash: touch conformance-approval.txt".into()) }]
        );
        assert_eq!(
            Channel.parse("pre_tool_use", ASK),
            vec![Signal::Question { text: Some("Which color should the button be?".into()) }]
        );
        assert_eq!(Channel.parse("post_tool_use", ASK), vec![Signal::ToolUse { tool: Some("ask_user".into()) }]);
        assert_eq!(Channel.parse("pre_tool_use", PERMISSION), vec![Signal::ToolUse { tool: Some("bash".into()) }]);
    }

    #[test]
    fn model_call_errors_are_classed_attempts() {
        let signals = Channel.parse(ATTEMPT_ERROR_SOURCE, ERROR_401);
        assert!(
            matches!(&signals[..], [Signal::Error { class: ErrorClass::Auth, message }] if message.contains("Incorrect API key"))
        );
        let rate = r#"{"message":"Rate limit reached (stand-in)","type":"requests","param":null,"code":"rate_limit_exceeded"}"#;
        assert_eq!(error_class(rate), ErrorClass::RateLimit);
        let server = r#"{"message":"The server had an error (stand-in)","type":"server_error","param":null,"code":"server_error"}"#;
        assert_eq!(error_class(server), ErrorClass::Server);
        assert_eq!(error_class("fetch failed"), ErrorClass::Network);
        assert_eq!(error_class("something odd"), ErrorClass::Other);
        // Errors outside a model call (a tool, a hook) are not the turn's failure.
        let tool = r#"{"errorContext":"tool_execution","recoverable":true,"error":{"message":"boom"}}"#;
        assert_eq!(Channel.parse(ATTEMPT_ERROR_SOURCE, tool), Vec::new());
    }

    #[test]
    fn a_turn_end_carries_the_transcripts_last_reply() {
        let dir = tempfile::tempdir().unwrap();
        let transcript = dir.path().join("events.jsonl");
        let lines = [
            r#"{"type":"assistant.message","data":{"content":"An earlier turn's reply."}}"#,
            r#"{"type":"user.message","data":{"content":"Say hello. scenario-plain"}}"#,
            r#"{"type":"assistant.message","data":{"content":"Hello from the stand-in.\n\nAGENTPOOL_RESULT_START\nSummary: hi\nAGENTPOOL_RESULT_END"}}"#,
            r#"{"type":"assistant.message","data":{"content":""}}"#,
            r#"{"type":"assistant.turn_end","data":{"turnId":"0"}}"#,
            "not json",
            r#"{"type":"hook.start","data":{"hookType":"agentStop","input":{"timestamp":1796621703963}}}"#,
        ];
        std::fs::write(&transcript, lines.join("\n")).unwrap();
        let payload = json!({"sessionId": "s", "transcriptPath": transcript, "stopReason": "end_turn", "timestamp": 1796621703963_i64}).to_string();
        let [Signal::TurnEnded { last_reply: Some(reply) }] = &Channel.parse("agent_stop", &payload)[..] else {
            panic!("no turn end")
        };
        assert!(reply.starts_with("Hello from the stand-in.") && reply.contains("AGENTPOOL_RESULT_END"));
        // A turn whose reply Copilot has not written yet: waited for, then nothing.
        std::fs::write(&transcript, lines[..2].join("\n")).unwrap();
        let t = std::time::Instant::now();
        assert_eq!(last_reply(&transcript, Some(1)), None);
        assert!(t.elapsed() >= TRANSCRIPT_WAIT);
        // Any other file is not read.
        let other = dir.path().join("secrets.txt");
        std::fs::write(&other, lines[2]).unwrap();
        assert_eq!(last_reply(&other, None), None);
        let payload = json!({"transcriptPath": other}).to_string();
        assert_eq!(Channel.parse("agent_stop", &payload), vec![Signal::TurnEnded { last_reply: None }]);
    }

    #[test]
    fn anything_else_yields_nothing() {
        assert_eq!(Channel.parse("session_start", "not json"), Vec::new());
        assert_eq!(Channel.parse("notification", SESSION_START), Vec::new());
        assert_eq!(Channel.parse("session_end", "{}"), vec![Signal::SessionEnded]);
    }

    #[test]
    fn the_plugin_wires_every_hook() {
        assert_eq!(sh_quote("/a dir/it's"), r"'/a dir/it'\''s'");
        let home = tempfile::tempdir().unwrap();
        let ctx = LaunchContext {
            session_id: "ap_1".into(),
            binary_path: Some("/usr/local/bin/copilot".into()),
            self_exe: "/usr/local/bin/agentpool".into(),
            config: Default::default(),
            model: None,
            reasoning_effort: None,
            service_tier: None,
            isolation: agentpool_sdk::model::Isolation::ReadOnly,
            role: agentpool_sdk::model::Role::Explorer,
            workdir: "/work/repo".into(),
            prompt_mode: agentpool_sdk::model::PromptMode::SendAfterLaunch,
            home: home.path().to_path_buf(),
            signal_log: home.path().join("artifacts/ap_1/signals.jsonl"),
            resume_session: None,
        };
        let dir = write_plugin(&ctx).unwrap();
        let hooks: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("hooks/hooks.json")).unwrap()).unwrap();
        assert_eq!(hooks["version"], 1);
        assert_eq!(hooks["hooks"].as_object().unwrap().len(), HOOKS.len());
        let stop = hooks["hooks"]["agentStop"][0]["bash"].as_str().unwrap();
        assert!(stop.starts_with("/usr/local/bin/agentpool __signal copilot-cli agent_stop "), "{stop}");
        assert!(stop.ends_with("artifacts/ap_1/signals.jsonl"), "{stop}");
        assert!(dir.join(".plugin/plugin.json").is_file());
    }
}
