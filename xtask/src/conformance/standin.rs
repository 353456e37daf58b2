//! The loopback model stand-in of `cargo xtask conformance`: a small HTTP/1.1 server on
//! `127.0.0.1:0` that speaks enough of the Anthropic Messages API for Claude Code, and of the
//! OpenAI Responses API for Codex CLI, to run a turn against it, with the scenario chosen by a
//! keyword in the latest user message.
//!
//! Endpoints:
//! - `POST /v1/messages`: streamed (SSE: `message_start`, `content_block_start/delta/stop`,
//!   `message_delta`, `message_stop`) or plain JSON, as the request asks;
//! - `POST /v1/responses`: the Responses dialect (see `responses.rs`), same scenarios;
//! - `POST /v1/chat/completions` (and `/chat/completions`): the OpenAI Chat Completions
//!   dialect (see `chat.rs`), same scenarios;
//! - `POST /v1/messages/count_tokens`: a rough count;
//! - `GET /v1/models` (and `/v1/models/<id>`): one model;
//! - anything else: 404, logged, so a new startup call shows up in the log.
//!
//! Scenarios (the keyword `scenario-<name>` anywhere in the latest user text, case-insensitive):
//! `plain` (a short reply with a filled-in result block), `noresult` (a reply without one),
//! `approval` (a `Bash` tool call that writes a file, so the CLI asks permission; after the
//! tool result, a reply with a result block), `ask` (the CLI's question tool), `slow` (streams
//! for [`SLOW_SECONDS`] s, then a result block), `err401`, `err429` (with `retry-after`),
//! `err500`. Without a keyword the reply is `plain`. Requests without a `Bash` tool (titles,
//! summaries, classifiers the CLI makes on the side) always get a short plain reply, so only
//! the conversation itself fails in the error scenarios.
//!
//! Every request is appended to the log file as one line (`METHOD path scenario=… kind=…`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

#[path = "chat.rs"]
mod chat;
#[path = "responses.rs"]
mod responses;

/// How long the `slow` scenario streams.
pub const SLOW_SECONDS: u64 = 25;

/// The file the `approval` scenario's command creates in the worker's directory.
pub const APPROVAL_FILE: &str = "conformance-approval.txt";

/// The largest request body read.
const BODY_LIMIT: usize = 16 << 20;

/// The model id reported.
const MODEL: &str = "claude-standin-1";

/// A running stand-in; stops when dropped.
pub struct StandIn {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl StandIn {
    /// Starts the server on a free loopback port; requests are logged to `log`.
    pub fn start(log: &Path) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("stand-in: could not listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("stand-in: no local address: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(log.to_path_buf());
        let ids = Arc::new(AtomicU64::new(1));
        let flag = stop.clone();
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (log, ids, flag) = (log.clone(), ids.clone(), flag.clone());
                thread::spawn(move || {
                    let _ = serve(conn, &log, &ids, &flag);
                });
            }
        });
        Ok(Self { addr, stop, accept: Some(accept) })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// One parsed request.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn serve(conn: TcpStream, log: &Path, ids: &AtomicU64, stop: &AtomicBool) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    // Keep-alive: serve requests until the client closes or a response closes the connection.
    while let Some(req) = read_request(&mut reader)? {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let keep = respond(&req, &mut out, log, ids, stop)?;
        if !keep {
            return Ok(());
        }
    }
    Ok(())
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else { return Ok(None) };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            if body.len() + n > BODY_LIMIT {
                return Ok(None);
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        if length > BODY_LIMIT {
            return Ok(None);
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Request { method, path, body }))
}

/// What one conversation request asks of the stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A text reply; `result` adds a filled-in result block.
    Text { text: String, result: bool },
    /// A tool call.
    Tool { name: String, input: Value },
    /// Text streamed slowly, then a result block.
    Slow,
    /// An HTTP error.
    Status(u16),
}

impl Reply {
    /// How the log names it.
    fn kind(&self) -> String {
        match self {
            Self::Text { result: true, .. } => "text+result".to_owned(),
            Self::Text { .. } => "text".to_owned(),
            Self::Tool { name, .. } => format!("tool:{name}"),
            Self::Slow => "slow".to_owned(),
            Self::Status(s) => format!("status:{s}"),
        }
    }
}

/// The scenario keyword in `text`: the last `scenario-<name>` (lower-cased).
pub fn scenario_in(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    lower.rmatch_indices("scenario-").find_map(|(i, m)| {
        let name: String =
            lower[i + m.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        (!name.is_empty()).then_some(name)
    })
}

/// The texts of a message's content (a string or blocks), and whether it holds a tool result.
fn message_texts(message: &Value) -> (Vec<String>, bool) {
    match message.get("content") {
        Some(Value::String(s)) => (vec![s.clone()], false),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::new();
            let mut tool_result = false;
            for b in blocks {
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => texts.extend(b.get("text").and_then(Value::as_str).map(str::to_owned)),
                    Some("tool_result") => tool_result = true,
                    _ => {}
                }
            }
            (texts, tool_result)
        }
        _ => (Vec::new(), false),
    }
}

/// Decides the reply to a `/v1/messages` body, and names the scenario for the log.
pub fn decide(body: &Value) -> (String, Reply) {
    let has_bash = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| tools.iter().any(|t| t.get("name").and_then(Value::as_str) == Some("Bash")));
    if !has_bash {
        return ("side".into(), Reply::Text { text: "Stand-in side reply.".into(), result: false });
    }
    let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let users: Vec<&Value> =
        messages.iter().filter(|m| m.get("role").and_then(Value::as_str) == Some("user")).collect();
    // The scenario: the newest user message that names one.
    let scenario = users
        .iter()
        .rev()
        .find_map(|m| message_texts(m).0.iter().rev().find_map(|t| scenario_in(t)))
        .unwrap_or_else(|| "plain".into());
    let after_tool = users.last().is_some_and(|m| message_texts(m).1);
    let reply = if after_tool {
        Reply::Text { text: format!("The tool call of scenario {scenario} is over."), result: true }
    } else {
        match scenario.as_str() {
            "noresult" => {
                Reply::Text { text: "Hello from the stand-in; no result block this time.".into(), result: false }
            }
            "approval" => Reply::Tool {
                name: "Bash".into(),
                input: json!({
                    "command": format!("touch {APPROVAL_FILE}"),
                    "description": "Create the conformance marker file"
                }),
            },
            "ask" => Reply::Tool {
                name: "AskUserQuestion".into(),
                input: json!({"questions": [{
                    "question": "Which color should the button be?",
                    "header": "Color",
                    "multiSelect": false,
                    "options": [
                        {"label": "Red", "description": "A red button"},
                        {"label": "Blue", "description": "A blue button"}
                    ]
                }]}),
            },
            "slow" => Reply::Slow,
            "err401" => Reply::Status(401),
            "err429" => Reply::Status(429),
            "err500" => Reply::Status(500),
            _ => Reply::Text { text: "Hello from the stand-in.".into(), result: true },
        }
    };
    (scenario, reply)
}

/// A filled-in result block, as the AgentPool prompt asks for.
pub fn result_block(summary: &str) -> String {
    format!(
        "AGENTPOOL_RESULT_START\nSummary: {summary}\nFindings: none\nFiles inspected: none\nFiles changed: none\nCommands run: none\nTests run: none\nBlockers: none\nConfidence: high\nAGENTPOOL_RESULT_END"
    )
}

fn log_line(log: &Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

/// Answers one request; returns whether the connection stays open.
fn respond(
    req: &Request,
    out: &mut TcpStream,
    log: &Path,
    ids: &AtomicU64,
    stop: &AtomicBool,
) -> std::io::Result<bool> {
    let path = req.path.split('?').next().unwrap_or("");
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match (req.method.as_str(), path) {
        ("POST", "/v1/messages") => {
            let (scenario, reply) = decide(&body);
            let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
            let kind = reply.kind();
            log_line(log, &format!("POST {} scenario={scenario} kind={kind} stream={stream}", req.path));
            let id = ids.fetch_add(1, Ordering::SeqCst);
            match reply {
                Reply::Status(status) => send_error(out, status).map(|()| true),
                Reply::Slow if stream => send_slow(out, id, stop).map(|()| false),
                Reply::Slow => {
                    send_message(out, id, &text_blocks(&format!("slow\n\n{}", result_block("slow"))), "end_turn")
                }
                Reply::Text { text, result } => {
                    let text = if result { format!("{text}\n\n{}", result_block(&text)) } else { text };
                    let blocks = text_blocks(&text);
                    if stream {
                        send_stream(out, id, &blocks, "end_turn").map(|()| false)
                    } else {
                        send_message(out, id, &blocks, "end_turn")
                    }
                }
                Reply::Tool { name, input } => {
                    let blocks = vec![
                        json!({"type": "tool_use", "id": format!("toolu_standin_{id}"), "name": name, "input": input}),
                    ];
                    if stream {
                        send_stream(out, id, &blocks, "tool_use").map(|()| false)
                    } else {
                        send_message(out, id, &blocks, "tool_use")
                    }
                }
            }
        }
        ("POST", "/v1/responses") => {
            let (scenario, reply) = responses::decide(&body);
            let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
            log_line(log, &format!("POST {} scenario={scenario} kind={} stream={stream}", req.path, reply.kind()));
            let id = ids.fetch_add(1, Ordering::SeqCst);
            match reply {
                Reply::Status(status) => responses::send_error(out, status).map(|()| true),
                reply if !stream => responses::send_whole(out, id, &reply),
                Reply::Slow => responses::send_slow(out, id, stop).map(|()| false),
                Reply::Text { text, result } => {
                    let text = if result { format!("{text}\n\n{}", result_block(&text)) } else { text };
                    responses::send_text(out, id, &text).map(|()| false)
                }
                Reply::Tool { name, input } => responses::send_call(out, id, &name, &input).map(|()| false),
            }
        }
        ("POST", "/v1/chat/completions" | "/chat/completions") => {
            let (scenario, reply) = chat::decide(&body);
            let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
            log_line(log, &format!("POST {} scenario={scenario} kind={} stream={stream}", req.path, reply.kind()));
            let answer = chat::Answer::of(ids.fetch_add(1, Ordering::SeqCst), &body);
            match reply {
                Reply::Status(status) => chat::send_error(out, status).map(|()| true),
                reply if !stream => answer.send_whole(out, &reply),
                Reply::Slow => answer.send_slow(out, stop).map(|()| false),
                Reply::Text { text, result } => {
                    let text = if result { format!("{text}\n\n{}", result_block(&text)) } else { text };
                    answer.send_text(out, &text).map(|()| false)
                }
                Reply::Tool { name, input } => answer.send_call(out, &name, &input).map(|()| false),
            }
        }
        ("POST", "/v1/messages/count_tokens") => {
            log_line(log, &format!("POST {}", req.path));
            let n = req.body.len() / 4;
            send_json(out, 200, &json!({"input_tokens": n}), &[])
        }
        ("GET", p) if p == "/v1/models" || p.starts_with("/v1/models/") => {
            log_line(log, &format!("GET {}", req.path));
            // Both shapes in one: Anthropic's (`type`, `display_name`) and OpenAI's (`object`).
            let model = json!({"type": "model", "object": "model", "id": MODEL, "display_name": "Stand-in", "created_at": "2026-01-01T00:00:00Z", "owned_by": "standin"});
            if p == "/v1/models" {
                send_json(
                    out,
                    200,
                    &json!({"object": "list", "data": [model], "has_more": false, "first_id": MODEL, "last_id": MODEL}),
                    &[],
                )
            } else {
                send_json(out, 200, &model, &[])
            }
        }
        (_, "/api/hello") => {
            // The CLI's connectivity check.
            log_line(log, &format!("{} {}", req.method, req.path));
            send_head_ok(out, req.method == "HEAD")
        }
        _ => {
            log_line(log, &format!("UNKNOWN {} {} ({} bytes)", req.method, req.path, req.body.len()));
            send_json(
                out,
                404,
                &json!({"type": "error", "error": {"type": "not_found_error", "message": "not served by the stand-in"}}),
                &[],
            )
        }
    }
}

fn send_head_ok(out: &mut TcpStream, head_only: bool) -> std::io::Result<bool> {
    if head_only {
        out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")?;
        out.flush()?;
        return Ok(true);
    }
    send_json(out, 200, &json!({"message": "hello"}), &[])
}

fn text_blocks(text: &str) -> Vec<Value> {
    vec![json!({"type": "text", "text": text})]
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

fn send_json(out: &mut TcpStream, status: u16, body: &Value, headers: &[(&str, &str)]) -> std::io::Result<bool> {
    let body = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_standin\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())?;
    out.flush()?;
    Ok(true)
}

/// The Messages API's error body for a status (`retry-after` on 429 and 5xx, short so the
/// CLI's retries end within a scenario's time).
fn send_error(out: &mut TcpStream, status: u16) -> std::io::Result<()> {
    let (kind, message) = match status {
        401 => ("authentication_error", "invalid x-api-key (stand-in)"),
        429 => ("rate_limit_error", "Rate limit exceeded (stand-in)"),
        _ => ("api_error", "Internal server error (stand-in)"),
    };
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    let headers: &[(&str, &str)] = if status == 401 { &[] } else { &[("retry-after", "1")] };
    send_json(out, status, &body, headers).map(|_| ())
}

fn message(id: u64, content: &[Value], stop_reason: &str) -> Value {
    json!({
        "id": format!("msg_standin_{id}"),
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 24}
    })
}

fn send_message(out: &mut TcpStream, id: u64, content: &[Value], stop_reason: &str) -> std::io::Result<bool> {
    send_json(out, 200, &message(id, content, stop_reason), &[])
}

fn sse(out: &mut TcpStream, event: &str, data: &Value) -> std::io::Result<()> {
    out.write_all(format!("event: {event}\ndata: {data}\n\n").as_bytes())?;
    out.flush()
}

fn sse_head(out: &mut TcpStream, id: u64) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nrequest-id: req_standin\r\nconnection: close\r\n\r\n",
    )?;
    let mut start = message(id, &[], "end_turn");
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    sse(out, "message_start", &json!({"type": "message_start", "message": start}))
}

fn sse_tail(out: &mut TcpStream, stop_reason: &str) -> std::io::Result<()> {
    sse(
        out,
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 24}}),
    )?;
    sse(out, "message_stop", &json!({"type": "message_stop"}))
}

/// Streams `blocks` (text blocks as text deltas, tool calls as one JSON delta each).
fn send_stream(out: &mut TcpStream, id: u64, blocks: &[Value], stop_reason: &str) -> std::io::Result<()> {
    sse_head(out, id)?;
    for (i, b) in blocks.iter().enumerate() {
        if b["type"] == "text" {
            sse(
                out,
                "content_block_start",
                &json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}),
            )?;
            let text = b["text"].as_str().unwrap_or("");
            for piece in chunks(text, 40) {
                sse(
                    out,
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": piece}}),
                )?;
            }
        } else {
            let mut start = b.clone();
            start["input"] = json!({});
            sse(
                out,
                "content_block_start",
                &json!({"type": "content_block_start", "index": i, "content_block": start}),
            )?;
            sse(
                out,
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": b["input"].to_string()}}),
            )?;
        }
        sse(out, "content_block_stop", &json!({"type": "content_block_stop", "index": i}))?;
    }
    sse_tail(out, stop_reason)
}

/// The `slow` scenario: one tick a second for [`SLOW_SECONDS`], then a result block.
fn send_slow(out: &mut TcpStream, id: u64, stop: &AtomicBool) -> std::io::Result<()> {
    sse_head(out, id)?;
    sse(
        out,
        "content_block_start",
        &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    )?;
    for tick in 1..=SLOW_SECONDS {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        sse(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": format!("tick {tick} ")}}),
        )?;
        thread::sleep(Duration::from_secs(1));
    }
    let tail = format!("\n\nSlow reply done.\n\n{}", result_block("slow reply done"));
    sse(
        out,
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": tail}}),
    )?;
    sse(out, "content_block_stop", &json!({"type": "content_block_stop", "index": 0}))?;
    sse_tail(out, "end_turn")
}

/// `text` in pieces of about `n` characters (on character boundaries).
fn chunks(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn conversation(messages: Value) -> Value {
        json!({"model": "x", "stream": true, "tools": [{"name": "Bash"}], "messages": messages})
    }

    #[test]
    fn the_scenario_is_the_newest_keyword() {
        assert_eq!(scenario_in("Say hello. scenario-ERR429."), Some("err429".into()));
        assert_eq!(scenario_in("scenario-plain then scenario-slow"), Some("slow".into()));
        assert_eq!(scenario_in("no keyword; scenario- alone"), None);
        let body = conversation(json!([
            {"role": "user", "content": "Do it. scenario-noresult"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "Now scenario-approval"}]}
        ]));
        assert_eq!(decide(&body).0, "approval");
        assert!(matches!(decide(&body).1, Reply::Tool { ref name, .. } if name == "Bash"));
    }

    #[test]
    fn a_tool_result_gets_a_final_reply_and_side_requests_never_fail() {
        let body = conversation(json!([
            {"role": "user", "content": "scenario-approval"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
        ]));
        assert!(matches!(decide(&body).1, Reply::Text { result: true, .. }));
        let side = json!({"messages": [{"role": "user", "content": "scenario-err500"}]});
        assert_eq!(decide(&side).0, "side");
        assert_eq!(
            decide(&conversation(json!([{"role": "user", "content": "scenario-err500"}]))).1,
            Reply::Status(500)
        );
    }

    #[test]
    fn it_serves_a_stream_over_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let standin = StandIn::start(&dir.path().join("log")).unwrap();
        let body = conversation(json!([{"role": "user", "content": "hi scenario-plain"}])).to_string();
        let mut conn = TcpStream::connect(standin.base_url().trim_start_matches("http://")).unwrap();
        write!(conn, "POST /v1/messages?beta=true HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}", body.len())
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.contains("event: message_stop"), "{text}");
        // The reply, put together from its text deltas.
        let reply: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| v["delta"]["text"].as_str().map(str::to_owned))
            .collect();
        assert!(reply.contains("\nAGENTPOOL_RESULT_START\nSummary: Hello from the stand-in."), "{reply}");
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert!(log.contains("scenario=plain kind=text+result stream=true"), "{log}");
    }
}
