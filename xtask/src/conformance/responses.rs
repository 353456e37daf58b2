//! The stand-in's OpenAI Responses dialect (`POST /v1/responses`), which Codex CLI speaks to a
//! custom model provider with `wire_api = "responses"`.
//!
//! A streamed reply is SSE: `response.created`, then per output item `response.output_item.added`,
//! `response.output_text.delta` (text) and `response.output_item.done`, then
//! `response.completed` with the usage. The `approval` scenario answers with a `function_call`
//! to the shell tool the request offers (`shell_command`, `exec_command` or `shell`, with the
//! arguments each takes) that asks to run outside the sandbox (`sandbox_permissions:
//! "require_escalated"`), so the CLI asks permission before running it. Errors are the status
//! with the API's JSON error body (`{"error": {"message", "type", "code"}}`).
//!
//! `ask` is a plain-text question (Codex has no question tool in its default mode); the user's
//! next message after it gets a reply with a result block.
//!
//! The scenario keyword is read from the request's `input` items (`message` items with the role
//! `user`, newest first); a request whose last item is a `function_call_output` gets the final
//! reply with a result block. Requests that offer no tools are side requests (titles, summaries)
//! and always get a short plain reply.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::{APPROVAL_FILE, Reply, SLOW_SECONDS, chunks, result_block, scenario_in, send_json};

/// The model id reported.
pub const MODEL: &str = "gpt-standin-1";

/// The `ask` scenario's question, a plain-text reply.
pub const ASK_TEXT: &str = "I need one detail first.\n\nWhich color should the button be, red or blue?";

/// The shell tools Codex offers, newest style first.
const SHELL_TOOLS: [&str; 4] = ["shell_command", "exec_command", "shell", "local_shell"];

/// The texts of one `input` item of role `user`.
fn user_texts(item: &Value) -> Vec<String> {
    if item.get("role").and_then(Value::as_str) != Some("user") {
        return Vec::new();
    }
    match item.get("content") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str).map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    }
}

/// The name of a tool as the Responses API lists it (`{"type":"function","name":…}`, or the
/// built-in `{"type":"local_shell"}`).
fn tool_name(tool: &Value) -> Option<&str> {
    tool.get("name").and_then(Value::as_str).or_else(|| tool.get("type").and_then(Value::as_str))
}

/// The shell tool the request offers, if any.
fn shell_tool(body: &Value) -> Option<String> {
    let tools = body.get("tools").and_then(Value::as_array)?;
    SHELL_TOOLS.iter().find(|want| tools.iter().any(|t| tool_name(t) == Some(want))).map(|s| (*s).to_owned())
}

/// The arguments of a call to `tool` that creates the approval file in `workdir`.
fn shell_arguments(tool: &str, workdir: Option<&str>) -> Value {
    let command = format!("touch {APPROVAL_FILE}");
    let mut args = match tool {
        "exec_command" => json!({ "cmd": command }),
        "shell" | "local_shell" => json!({ "command": ["bash", "-lc", command] }),
        _ => json!({ "command": command }),
    };
    if let Some(dir) = workdir {
        args["workdir"] = json!(dir);
    }
    // Outside the sandbox, so the CLI asks before it runs the command (in any sandbox mode).
    args["sandbox_permissions"] = json!("require_escalated");
    args["justification"] = json!("Create the conformance marker file");
    args
}

/// The working directory Codex reports in its `<environment_context>` (`<cwd>…</cwd>`).
fn workdir(body: &Value) -> Option<String> {
    let items = body.get("input").and_then(Value::as_array)?;
    items.iter().flat_map(user_texts).find_map(|t| {
        let start = t.find("<cwd>")? + "<cwd>".len();
        let end = t[start..].find("</cwd>")? + start;
        Some(t[start..end].trim().to_owned())
    })
}

/// Decides the reply to a `/v1/responses` body, and names the scenario for the log.
pub fn decide(body: &Value) -> (String, Reply) {
    let has_tools = body.get("tools").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
    if !has_tools {
        return ("side".into(), Reply::Text { text: "Stand-in side reply.".into(), result: false });
    }
    let items = body.get("input").and_then(Value::as_array).cloned().unwrap_or_default();
    let named = items
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, item)| user_texts(item).iter().rev().find_map(|t| scenario_in(t)).map(|s| (i, s)));
    let (at, scenario) = named.unwrap_or_else(|| (0, "plain".into()));
    let after_tool = items.last().and_then(|i| i.get("type")).and_then(Value::as_str) == Some("function_call_output");
    // `ask` is asked once: a reply already given after the keyword means this is the answer.
    let answered = scenario == "ask"
        && items[at.min(items.len())..].iter().any(|i| i.get("role").and_then(Value::as_str) == Some("assistant"));
    let reply = if after_tool || answered {
        Reply::Text { text: format!("The tool call of scenario {scenario} is over."), result: true }
    } else {
        match scenario.as_str() {
            "noresult" => {
                Reply::Text { text: "Hello from the stand-in; no result block this time.".into(), result: false }
            }
            "approval" => match shell_tool(body) {
                Some(tool) => {
                    let input = shell_arguments(&tool, workdir(body).as_deref());
                    Reply::Tool { name: tool, input }
                }
                None => Reply::Text { text: "No shell tool was offered.".into(), result: false },
            },
            // Codex offers no question tool in its default mode: the question is plain text.
            "ask" => Reply::Text { text: ASK_TEXT.into(), result: false },
            "slow" => Reply::Slow,
            "err401" => Reply::Status(401),
            "err429" => Reply::Status(429),
            "err500" => Reply::Status(500),
            _ => Reply::Text { text: "Hello from the stand-in.".into(), result: true },
        }
    };
    (scenario, reply)
}

/// The Responses API's error body for a status (`retry-after: 1` on 429 and 5xx).
pub fn send_error(out: &mut TcpStream, status: u16) -> std::io::Result<()> {
    let (kind, code, message) = match status {
        401 => ("invalid_request_error", "invalid_api_key", "Incorrect API key provided (stand-in)"),
        429 => ("requests", "rate_limit_exceeded", "Rate limit reached (stand-in)"),
        _ => ("server_error", "server_error", "The server had an error (stand-in)"),
    };
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    let headers: &[(&str, &str)] = if status == 401 { &[] } else { &[("retry-after", "1")] };
    send_json(out, status, &body, headers).map(|_| ())
}

fn event(out: &mut TcpStream, data: &Value) -> std::io::Result<()> {
    let kind = data["type"].as_str().unwrap_or("message");
    out.write_all(format!("event: {kind}\ndata: {data}\n\n").as_bytes())?;
    out.flush()
}

fn response(id: u64, status: &str, output: &[Value]) -> Value {
    json!({
        "id": format!("resp_standin_{id}"),
        "object": "response",
        "created_at": 1_780_000_000,
        "status": status,
        "model": MODEL,
        "output": output,
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 24,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 36
        }
    })
}

fn head(out: &mut TcpStream, id: u64) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nx-request-id: req_standin\r\nconnection: close\r\n\r\n",
    )?;
    event(out, &json!({"type": "response.created", "response": response(id, "in_progress", &[])}))
}

fn message_item(id: u64, text: &str) -> Value {
    json!({
        "type": "message",
        "id": format!("msg_standin_{id}"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]
    })
}

/// Streams one text reply.
pub fn send_text(out: &mut TcpStream, id: u64, text: &str) -> std::io::Result<()> {
    head(out, id)?;
    let mut added = message_item(id, "");
    added["status"] = json!("in_progress");
    added["content"] = json!([]);
    event(out, &json!({"type": "response.output_item.added", "output_index": 0, "item": added}))?;
    for piece in chunks(text, 40) {
        event(
            out,
            &json!({"type": "response.output_text.delta", "item_id": format!("msg_standin_{id}"), "output_index": 0, "content_index": 0, "delta": piece}),
        )?;
    }
    let done = message_item(id, text);
    event(out, &json!({"type": "response.output_item.done", "output_index": 0, "item": done}))?;
    event(out, &json!({"type": "response.completed", "response": response(id, "completed", &[done])}))
}

/// Streams one function call.
pub fn send_call(out: &mut TcpStream, id: u64, name: &str, arguments: &Value) -> std::io::Result<()> {
    head(out, id)?;
    let item = json!({
        "type": "function_call",
        "id": format!("fc_standin_{id}"),
        "call_id": format!("call_standin_{id}"),
        "status": "completed",
        "name": name,
        "arguments": arguments.to_string()
    });
    event(out, &json!({"type": "response.output_item.added", "output_index": 0, "item": item}))?;
    event(out, &json!({"type": "response.output_item.done", "output_index": 0, "item": item}))?;
    event(out, &json!({"type": "response.completed", "response": response(id, "completed", &[item])}))
}

/// The `slow` scenario: one tick a second for [`SLOW_SECONDS`], then a result block.
pub fn send_slow(out: &mut TcpStream, id: u64, stop: &AtomicBool) -> std::io::Result<()> {
    head(out, id)?;
    let item_id = format!("msg_standin_{id}");
    let mut added = message_item(id, "");
    added["status"] = json!("in_progress");
    added["content"] = json!([]);
    event(out, &json!({"type": "response.output_item.added", "output_index": 0, "item": added}))?;
    let mut text = String::new();
    let mut delta = |out: &mut TcpStream, piece: String| {
        text.push_str(&piece);
        event(
            out,
            &json!({"type": "response.output_text.delta", "item_id": item_id, "output_index": 0, "content_index": 0, "delta": piece}),
        )
    };
    for tick in 1..=SLOW_SECONDS {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        delta(out, format!("tick {tick} "))?;
        thread::sleep(Duration::from_secs(1));
    }
    delta(out, format!("\n\nSlow reply done.\n\n{}", result_block("slow reply done")))?;
    let done = message_item(id, &text);
    event(out, &json!({"type": "response.output_item.done", "output_index": 0, "item": done}))?;
    event(out, &json!({"type": "response.completed", "response": response(id, "completed", &[done])}))
}

/// A non-streamed reply (`stream` absent or false): the whole response object.
pub fn send_whole(out: &mut TcpStream, id: u64, reply: &Reply) -> std::io::Result<bool> {
    let output = match reply {
        Reply::Tool { name, input } => vec![json!({
            "type": "function_call", "id": format!("fc_standin_{id}"), "call_id": format!("call_standin_{id}"),
            "status": "completed", "name": name, "arguments": input.to_string()
        })],
        Reply::Text { text, result: true } => vec![message_item(id, &format!("{text}\n\n{}", result_block(text)))],
        Reply::Text { text, .. } => vec![message_item(id, text)],
        Reply::Slow => vec![message_item(id, &format!("slow\n\n{}", result_block("slow")))],
        Reply::Status(_) => Vec::new(),
    };
    send_json(out, 200, &response(id, "completed", &output), &[])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn request(input: Value) -> Value {
        json!({"model": "x", "stream": true, "tools": [{"type": "function", "name": "shell_command"}], "input": input})
    }

    fn user(text: &str) -> Value {
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    }

    #[test]
    fn the_scenario_comes_from_the_newest_user_item() {
        let body = request(json!([
            user("<environment_context><cwd>/tmp/repo</cwd></environment_context>"),
            user("Say hello. scenario-err429")
        ]));
        assert_eq!(decide(&body), ("err429".into(), Reply::Status(429)));
        let body = request(json!([user("<cwd>/tmp/repo</cwd>"), user("Make it. scenario-approval")]));
        let (_, reply) = decide(&body);
        assert_eq!(
            reply,
            Reply::Tool {
                name: "shell_command".into(),
                input: json!({
                    "command": format!("touch {APPROVAL_FILE}"),
                    "workdir": "/tmp/repo",
                    "sandbox_permissions": "require_escalated",
                    "justification": "Create the conformance marker file"
                })
            }
        );
    }

    #[test]
    fn a_call_output_gets_the_final_reply_and_side_requests_never_fail() {
        let body = request(json!([
            user("scenario-approval"),
            {"type": "function_call", "call_id": "c", "name": "shell_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"}
        ]));
        assert!(matches!(decide(&body).1, Reply::Text { result: true, .. }));
        let side = json!({"input": [user("scenario-err500")], "tools": []});
        assert_eq!(decide(&side).0, "side");
    }

    #[test]
    fn ask_is_asked_once() {
        let first = request(json!([user("Pick one. scenario-ask")]));
        assert_eq!(decide(&first).1, Reply::Text { text: ASK_TEXT.into(), result: false });
        let answer = request(json!([
            user("Pick one. scenario-ask"),
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ASK_TEXT}]},
            user("Blue")
        ]));
        assert!(matches!(decide(&answer).1, Reply::Text { result: true, .. }));
    }

    #[test]
    fn each_shell_tool_gets_its_own_arguments() {
        assert_eq!(shell_arguments("exec_command", None)["cmd"], format!("touch {APPROVAL_FILE}"));
        assert_eq!(shell_arguments("shell", None)["command"][0], "bash");
        let body = json!({"tools": [{"type": "function", "name": "exec_command"}]});
        assert_eq!(shell_tool(&body).as_deref(), Some("exec_command"));
        assert_eq!(shell_tool(&json!({"tools": [{"type": "local_shell"}]})).as_deref(), Some("local_shell"));
        assert_eq!(shell_tool(&json!({"tools": "nonsense"})), None);
    }
}
