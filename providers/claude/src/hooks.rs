//! Claude Code's hooks as AgentPool's signal channel.
//!
//! At launch the provider writes a settings file into the session's artifact directory
//! (`claude-settings.json`, next to `signals.jsonl`) and passes it with `--settings`; the user's
//! own `~/.claude/settings.json` is never touched. Each hook runs `agentpool __signal
//! claude-code <source> <log>` with Claude Code's JSON payload on stdin:
//!
//! | hook | source | signal |
//! |---|---|---|
//! | `SessionStart` | `session_start` | `session_started` with Claude's `session_id` |
//! | `PreToolUse`, `PostToolUse` | `pre_tool_use`, `post_tool_use` | `tool_use` (`tool_name`): working, so an approval or question answered is over |
//! | `PermissionRequest` | `permission_request` | `approval` (tool and command); for the `AskUserQuestion` tool, `question` (its first question) |
//! | `Notification` | `notification` | `question` for `agent_needs_input` / `elicitation_dialog` (a dialog in the middle of a turn); nothing for `permission_prompt` (the `PermissionRequest` hook already spoke, and it fires for questions too) or `idle_prompt` |
//! | `Stop` | `stop` | `turn_ended` with `last_assistant_message` |
//! | `StopFailure` | `stop_failure` | `error`, classed from `error` (`authentication_failed` → auth, `rate_limit` → rate_limit, `server_error`/`overloaded` → server, …) |
//! | `SessionEnd` | `session_end` | `session_ended` |
//!
//! Claude Code fires no hook when a turn is interrupted; core logs that signal itself when it
//! sends the interrupt key.

use agentpool_sdk::error::{Error, Result};
use agentpool_sdk::provider::LaunchContext;
use agentpool_sdk::signal::{ErrorClass, Signal, SignalChannel};
use serde_json::{Map, Value, json};

use crate::ID;

/// The settings file's name in the session's artifact directory.
pub const SETTINGS_FILE: &str = "claude-settings.json";

/// Claude Code's hook events and the `source` each reports as.
pub const HOOKS: [(&str, &str); 8] = [
    ("SessionStart", "session_start"),
    ("PreToolUse", "pre_tool_use"),
    ("PostToolUse", "post_tool_use"),
    ("PermissionRequest", "permission_request"),
    ("Notification", "notification"),
    ("Stop", "stop"),
    ("StopFailure", "stop_failure"),
    ("SessionEnd", "session_end"),
];

/// The tool Claude Code asks the user a question with.
const QUESTION_TOOL: &str = "AskUserQuestion";

/// Quotes one word for `sh` (Claude Code runs hook commands through a shell).
fn sh_quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b)) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The settings document that wires every hook to this session's signal log.
pub fn settings(ctx: &LaunchContext) -> Value {
    let mut hooks = Map::new();
    for (event, source) in HOOKS {
        let command = ctx.signal_command(ID, source).iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ");
        hooks.insert(event.to_owned(), json!([{"hooks": [{"type": "command", "command": command, "timeout": 10}]}]));
    }
    json!({ "hooks": hooks })
}

/// Writes [`settings`] next to the session's signal log and returns its path.
pub fn write_settings(ctx: &LaunchContext) -> Result<std::path::PathBuf> {
    let dir = ctx.signal_log.parent().ok_or_else(|| {
        Error::new(agentpool_sdk::error::ErrorCode::IoFailed, "the session's signal log has no directory")
    })?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format_args!("could not create `{}`", dir.display()), &e))?;
    let path = dir.join(SETTINGS_FILE);
    let body = serde_json::to_string_pretty(&settings(ctx)).unwrap_or_default() + "\n";
    agentpool_sdk::util::write_atomic(&path, body.as_bytes())?;
    Ok(path)
}

/// The class of a `StopFailure` hook's `error` value.
pub fn error_class(error: &str, message: &str) -> ErrorClass {
    match error {
        "authentication_failed"
        | "oauth_org_not_allowed"
        | "account_on_hold"
        | "verification_required"
        | "cloud_credential_error" => ErrorClass::Auth,
        "rate_limit" | "billing_error" => ErrorClass::RateLimit,
        "server_error" | "overloaded" => ErrorClass::Server,
        _ => {
            let lower = message.to_lowercase();
            if ["connection error", "unable to connect", "econnrefused", "enotfound", "fetch failed", "timed out"]
                .iter()
                .any(|n| lower.contains(n))
            {
                ErrorClass::Network
            } else {
                ErrorClass::Other
            }
        }
    }
}

/// One line saying what a tool call wants to do (`Bash: touch x`).
fn tool_summary(v: &Value) -> Option<String> {
    let tool = v.get("tool_name").and_then(Value::as_str)?;
    let input = v.get("tool_input");
    let detail = ["command", "file_path", "url", "pattern", "description"]
        .iter()
        .find_map(|k| input.and_then(|i| i.get(*k)).and_then(Value::as_str));
    Some(match detail {
        Some(d) => format!("{tool}: {d}"),
        None => tool.to_owned(),
    })
}

/// How AgentPool reads Claude Code's hook payloads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Channel;

impl SignalChannel for Channel {
    fn parse(&self, source: &str, payload: &str) -> Vec<Signal> {
        let Ok(v) = serde_json::from_str::<Value>(payload) else { return Vec::new() };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let signal = match source {
            "session_start" => Signal::SessionStarted { cli_session_id: text("session_id") },
            // After a tool ran (an approval granted, a question answered) the CLI works again.
            "pre_tool_use" | "post_tool_use" => Signal::ToolUse { tool: text("tool_name") },
            "permission_request" if v.get("tool_name").and_then(Value::as_str) == Some(QUESTION_TOOL) => {
                let question = v.pointer("/tool_input/questions/0/question").and_then(Value::as_str);
                Signal::Question { text: question.map(str::to_owned) }
            }
            "permission_request" => Signal::Approval { text: tool_summary(&v) },
            "notification" => match v.get("notification_type").and_then(Value::as_str) {
                Some("agent_needs_input" | "elicitation_dialog") => Signal::Question { text: text("message") },
                _ => return Vec::new(),
            },
            "stop" => Signal::TurnEnded { last_reply: text("last_assistant_message") },
            "stop_failure" => {
                let error = v.get("error").and_then(Value::as_str).unwrap_or("unknown");
                let message = text("last_assistant_message").unwrap_or_else(|| error.to_owned());
                Signal::Error { class: error_class(error, &message), message }
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

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("/usr/bin/agentpool"), "/usr/bin/agentpool");
        assert_eq!(sh_quote("/a dir/it's"), r"'/a dir/it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn error_classes() {
        assert_eq!(error_class("authentication_failed", ""), ErrorClass::Auth);
        assert_eq!(error_class("rate_limit", ""), ErrorClass::RateLimit);
        assert_eq!(error_class("server_error", ""), ErrorClass::Server);
        assert_eq!(error_class("overloaded", ""), ErrorClass::Server);
        assert_eq!(error_class("unknown", "API Error: Connection error."), ErrorClass::Network);
        assert_eq!(error_class("invalid_request", "bad"), ErrorClass::Other);
    }
}
