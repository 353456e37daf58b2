//! The stand-in's OpenAI Chat Completions dialect (`POST /v1/chat/completions`, also
//! `/chat/completions`), which CLIs speak to an OpenAI-compatible provider (opencode through
//! `@ai-sdk/openai-compatible`, among others).
//!
//! A streamed reply (`"stream": true`) is SSE: `data:` lines of `chat.completion.chunk` objects
//! (the role, then the content in pieces or one tool call, then a chunk with the
//! `finish_reason`, then — when `stream_options.include_usage` asks — a chunk with the usage),
//! ended by `data: [DONE]`. Otherwise the answer is one `chat.completion` object. Errors are the
//! status with the OpenAI error body (`{"error": {"message", "type", "param", "code"}}`,
//! `retry-after: 1` on 429 and 5xx).
//!
//! The scenario keyword is read from the `messages` of role `user`, newest first (content a
//! string or a list of `text` parts). `approval` answers with a `tool_calls` call to the shell
//! tool the request offers (`bash`, as opencode names it, or another of [`SHELL_TOOLS`]) running
//! `touch conformance-approval.txt`; `ask` calls the question tool the request offers
//! (`question`, opencode's, taking `{"questions": [{question, header, options, multiple}]}`),
//! else asks in plain text. A request whose last message is a `tool` result gets the final
//! reply with a result block, and so does the user's answer after a plain-text `ask`. Requests
//! that offer no tools (titles, summaries) are side requests and always get a short plain reply.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::{APPROVAL_FILE, Reply, SLOW_SECONDS, chunks, result_block, scenario_in, send_json};

/// The model id reported when the request names none.
pub const MODEL: &str = "gpt-standin-1";

/// The `ask` scenario's question when the request offers no question tool.
pub const ASK_TEXT: &str = "I need one detail first.\n\nWhich color should the button be, red or blue?";

/// Shell tools, by the names CLIs give them, in order of preference.
pub const SHELL_TOOLS: [&str; 5] = ["bash", "shell", "shell_command", "exec_command", "run_in_terminal"];

/// Question tools, by the names CLIs give them.
pub const QUESTION_TOOLS: [&str; 3] = ["question", "ask_user", "AskUserQuestion"];

/// The names of the function tools a request offers (`{"type":"function","function":{"name"}}`).
fn tool_names(body: &Value) -> Vec<&str> {
    body.get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.pointer("/function/name").or_else(|| t.get("name")).and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The first of `wanted` the request offers.
fn offered(body: &Value, wanted: &[&str]) -> Option<String> {
    let names = tool_names(body);
    wanted.iter().find(|w| names.contains(w)).map(|s| (*s).to_owned())
}

/// The texts of a message (content a string or a list of parts).
fn texts(message: &Value) -> Vec<String> {
    match message.get("content") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str).or_else(|| p.as_str()).map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn role(message: &Value) -> &str {
    message.get("role").and_then(Value::as_str).unwrap_or("")
}

/// The arguments of the question tool call.
fn question_arguments(tool: &str) -> Value {
    let question = json!({
        "question": "Which color should the button be?",
        "header": "Color",
        "options": [
            {"label": "Red", "description": "A red button"},
            {"label": "Blue", "description": "A blue button"}
        ]
    });
    let mut q = question;
    // Claude's tool spells the flag `multiSelect`; opencode's `multiple`.
    q[if tool == "AskUserQuestion" { "multiSelect" } else { "multiple" }] = json!(false);
    json!({ "questions": [q] })
}

/// Decides the reply to a chat completions body, and names the scenario for the log.
pub fn decide(body: &Value) -> (String, Reply) {
    if tool_names(body).is_empty() {
        return ("side".into(), Reply::Text { text: "Stand-in side reply.".into(), result: false });
    }
    let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let named = messages
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, m)| role(m) == "user")
        .find_map(|(i, m)| texts(m).iter().rev().find_map(|t| scenario_in(t)).map(|s| (i, s)));
    let (at, scenario) = named.unwrap_or_else(|| (0, "plain".into()));
    let after_tool = messages.last().is_some_and(|m| role(m) == "tool");
    // A plain-text `ask` is asked once: a reply already given after the keyword means this is
    // the answer.
    let answered = scenario == "ask" && messages[at.min(messages.len())..].iter().any(|m| role(m) == "assistant");
    let reply = if after_tool || answered {
        Reply::Text { text: format!("The tool call of scenario {scenario} is over."), result: true }
    } else {
        match scenario.as_str() {
            "noresult" => {
                Reply::Text { text: "Hello from the stand-in; no result block this time.".into(), result: false }
            }
            "approval" => match offered(body, &SHELL_TOOLS) {
                Some(tool) => Reply::Tool {
                    name: tool,
                    input: json!({
                        "command": format!("touch {APPROVAL_FILE}"),
                        "description": "Create the conformance marker file"
                    }),
                },
                None => Reply::Text { text: "No shell tool was offered.".into(), result: false },
            },
            "ask" => match offered(body, &QUESTION_TOOLS) {
                Some(tool) => {
                    let input = question_arguments(&tool);
                    Reply::Tool { name: tool, input }
                }
                None => Reply::Text { text: ASK_TEXT.into(), result: false },
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

/// The OpenAI error body for a status (`retry-after: 1` on 429 and 5xx).
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

/// How one reply is put on the wire.
pub struct Answer<'a> {
    pub id: u64,
    /// The model the request named.
    pub model: &'a str,
    /// Whether the request asked for a final usage chunk (`stream_options.include_usage`).
    pub usage: bool,
}

impl<'a> Answer<'a> {
    /// The wire settings `body` asks for.
    pub fn of(id: u64, body: &'a Value) -> Self {
        Self {
            id,
            model: body.get("model").and_then(Value::as_str).unwrap_or(MODEL),
            usage: body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false),
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": format!("chatcmpl-standin-{}", self.id),
            "object": "chat.completion.chunk",
            "created": 1_780_000_000,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        })
    }

    fn head(&self, out: &mut TcpStream) -> std::io::Result<()> {
        out.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nx-request-id: req_standin\r\nconnection: close\r\n\r\n",
        )?;
        data(out, &self.chunk(json!({"role": "assistant", "content": ""}), None))
    }

    fn tail(&self, out: &mut TcpStream, finish: &str) -> std::io::Result<()> {
        data(out, &self.chunk(json!({}), Some(finish)))?;
        if self.usage {
            let mut last = self.chunk(json!({}), None);
            last["choices"] = json!([]);
            last["usage"] = usage();
            data(out, &last)?;
        }
        out.write_all(b"data: [DONE]\n\n")?;
        out.flush()
    }

    /// Streams one text reply.
    pub fn send_text(&self, out: &mut TcpStream, text: &str) -> std::io::Result<()> {
        self.head(out)?;
        for piece in chunks(text, 40) {
            data(out, &self.chunk(json!({"content": piece}), None))?;
        }
        self.tail(out, "stop")
    }

    /// Streams one tool call: its id and name first, then its arguments.
    pub fn send_call(&self, out: &mut TcpStream, name: &str, arguments: &Value) -> std::io::Result<()> {
        self.head(out)?;
        let call_id = format!("call_standin_{}", self.id);
        data(
            out,
            &self.chunk(
                json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                None,
            ),
        )?;
        data(
            out,
            &self.chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": arguments.to_string()}}]}), None),
        )?;
        self.tail(out, "tool_calls")
    }

    /// The `slow` scenario: one tick a second for [`SLOW_SECONDS`], then a result block.
    pub fn send_slow(&self, out: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
        self.head(out)?;
        for tick in 1..=SLOW_SECONDS {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            data(out, &self.chunk(json!({"content": format!("tick {tick} ")}), None))?;
            thread::sleep(Duration::from_secs(1));
        }
        let tail = format!("\n\nSlow reply done.\n\n{}", result_block("slow reply done"));
        data(out, &self.chunk(json!({"content": tail}), None))?;
        self.tail(out, "stop")
    }

    /// A non-streamed reply: the whole `chat.completion` object.
    pub fn send_whole(&self, out: &mut TcpStream, reply: &Reply) -> std::io::Result<bool> {
        let (message, finish) = match reply {
            Reply::Tool { name, input } => (
                json!({"role": "assistant", "content": null, "tool_calls": [{
                    "id": format!("call_standin_{}", self.id), "type": "function",
                    "function": {"name": name, "arguments": input.to_string()}
                }]}),
                "tool_calls",
            ),
            Reply::Text { text, result: true } => {
                (json!({"role": "assistant", "content": format!("{text}\n\n{}", result_block(text))}), "stop")
            }
            Reply::Text { text, .. } => (json!({"role": "assistant", "content": text}), "stop"),
            Reply::Slow => {
                (json!({"role": "assistant", "content": format!("slow\n\n{}", result_block("slow"))}), "stop")
            }
            Reply::Status(_) => (json!({"role": "assistant", "content": ""}), "stop"),
        };
        let whole = json!({
            "id": format!("chatcmpl-standin-{}", self.id),
            "object": "chat.completion",
            "created": 1_780_000_000,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": usage()
        });
        send_json(out, 200, &whole, &[])
    }
}

fn usage() -> Value {
    json!({"prompt_tokens": 12, "completion_tokens": 24, "total_tokens": 36})
}

fn data(out: &mut TcpStream, chunk: &Value) -> std::io::Result<()> {
    out.write_all(format!("data: {chunk}\n\n").as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Read;

    use super::super::StandIn;
    use super::*;

    fn tool(name: &str) -> Value {
        json!({"type": "function", "function": {"name": name, "parameters": {"type": "object"}}})
    }

    fn request(messages: Value, tools: &[&str]) -> Value {
        let tools: Vec<Value> = tools.iter().map(|t| tool(t)).collect();
        json!({"model": "standin/m", "stream": true, "tools": tools, "messages": messages})
    }

    #[test]
    fn the_scenario_comes_from_the_newest_user_message() {
        let body = request(
            json!([
                {"role": "system", "content": "You are opencode. scenario-err500"},
                {"role": "user", "content": "Say hello. scenario-noresult"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": [{"type": "text", "text": "Again. scenario-ERR429"}]}
            ]),
            &["bash", "read"],
        );
        assert_eq!(decide(&body), ("err429".into(), Reply::Status(429)));
        let body = request(json!([{"role": "user", "content": "Make it. scenario-approval"}]), &["read", "bash"]);
        assert_eq!(
            decide(&body).1,
            Reply::Tool {
                name: "bash".into(),
                input: json!({"command": format!("touch {APPROVAL_FILE}"), "description": "Create the conformance marker file"})
            }
        );
        let none = request(json!([{"role": "user", "content": "scenario-approval"}]), &["read"]);
        assert!(matches!(decide(&none).1, Reply::Text { result: false, .. }));
        let bare = request(json!([{"role": "user", "content": "hi"}]), &["bash"]);
        assert_eq!(decide(&bare).0, "plain");
    }

    #[test]
    fn a_tool_result_gets_the_final_reply_and_side_requests_never_fail() {
        let body = request(
            json!([
                {"role": "user", "content": "scenario-approval"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "ok"}
            ]),
            &["bash"],
        );
        assert!(matches!(decide(&body).1, Reply::Text { result: true, .. }));
        let side = json!({"messages": [{"role": "user", "content": "Title this: scenario-err500"}]});
        assert_eq!(decide(&side).0, "side");
        let side = json!({"messages": [{"role": "user", "content": "scenario-err500"}], "tools": []});
        assert_eq!(decide(&side).0, "side");
    }

    #[test]
    fn ask_uses_the_question_tool_when_offered_and_plain_text_once_otherwise() {
        let with_tool = request(json!([{"role": "user", "content": "Pick. scenario-ask"}]), &["bash", "question"]);
        let Reply::Tool { name, input } = decide(&with_tool).1 else { panic!("no tool call") };
        assert_eq!(name, "question");
        assert_eq!(input["questions"][0]["options"][1]["label"], "Blue");
        assert_eq!(input["questions"][0]["multiple"], false);
        let plain = request(json!([{"role": "user", "content": "Pick. scenario-ask"}]), &["bash"]);
        assert_eq!(decide(&plain).1, Reply::Text { text: ASK_TEXT.into(), result: false });
        let answer = request(
            json!([
                {"role": "user", "content": "Pick. scenario-ask"},
                {"role": "assistant", "content": ASK_TEXT},
                {"role": "user", "content": "Blue"}
            ]),
            &["bash"],
        );
        assert!(matches!(decide(&answer).1, Reply::Text { result: true, .. }));
    }

    fn post(standin: &StandIn, path: &str, body: &Value) -> String {
        let body = body.to_string();
        let mut conn = TcpStream::connect(standin.base_url().trim_start_matches("http://")).unwrap();
        write!(
            conn,
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // A JSON answer keeps the connection open: read as far as its length says.
        let mut reader = std::io::BufReader::new(conn);
        let mut text = String::new();
        let mut length = None;
        loop {
            let mut line = String::new();
            if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
                return text;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            let end = line == "\r\n";
            text.push_str(&line);
            if end {
                break;
            }
        }
        match length {
            Some(n) => {
                let mut body = vec![0; n];
                reader.read_exact(&mut body).unwrap();
                text.push_str(&String::from_utf8(body).unwrap());
            }
            None => {
                reader.read_to_string(&mut text).unwrap();
            }
        }
        text
    }

    /// The `data:` chunks of an SSE answer (without `[DONE]`).
    fn chunks_of(text: &str) -> Vec<Value> {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn it_streams_text_and_tool_calls_over_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let standin = StandIn::start(&dir.path().join("log")).unwrap();
        let mut body = request(json!([{"role": "user", "content": "hi scenario-plain"}]), &["bash"]);
        body["stream_options"] = json!({"include_usage": true});
        let text = post(&standin, "/v1/chat/completions", &body);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        let chunks = chunks_of(&text);
        let reply: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert!(reply.contains("\nAGENTPOOL_RESULT_START\nSummary: Hello from the stand-in."), "{reply}");
        assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "standin/m"));
        assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
        assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 36);

        let body = request(json!([{"role": "user", "content": "scenario-approval"}]), &["bash"]);
        let chunks = chunks_of(&post(&standin, "/chat/completions", &body));
        let calls: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"][0]["delta"].get("tool_calls")).collect();
        assert_eq!(calls[0][0]["function"]["name"], "bash");
        let args: Value = serde_json::from_str(calls[1][0]["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args["command"], format!("touch {APPROVAL_FILE}"));
        assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
        assert!(chunks.iter().all(|c| c.get("usage").is_none()), "usage only when asked");

        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert!(log.contains("POST /v1/chat/completions scenario=plain kind=text+result stream=true"), "{log}");
        assert!(log.contains("POST /chat/completions scenario=approval kind=tool:bash stream=true"), "{log}");
    }

    #[test]
    fn it_answers_whole_and_fails_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let standin = StandIn::start(&dir.path().join("log")).unwrap();
        let mut body = request(json!([{"role": "user", "content": "hi scenario-plain"}]), &["bash"]);
        body["stream"] = json!(false);
        let text = post(&standin, "/v1/chat/completions", &body);
        let whole: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(whole["object"], "chat.completion");
        assert!(whole["choices"][0]["message"]["content"].as_str().unwrap().contains("AGENTPOOL_RESULT_END"));

        let body = request(json!([{"role": "user", "content": "scenario-err429"}]), &["bash"]);
        let text = post(&standin, "/v1/chat/completions", &body);
        assert!(text.starts_with("HTTP/1.1 429"), "{text}");
        assert!(text.contains("retry-after: 1\r\n"), "{text}");
        assert!(text.contains("\"code\":\"rate_limit_exceeded\""), "{text}");
        let body = request(json!([{"role": "user", "content": "scenario-err401"}]), &["bash"]);
        let text = post(&standin, "/v1/chat/completions", &body);
        assert!(text.starts_with("HTTP/1.1 401") && text.contains("invalid_api_key"), "{text}");
        let body = request(json!([{"role": "user", "content": "scenario-err500"}]), &["bash"]);
        assert!(post(&standin, "/v1/chat/completions", &body).starts_with("HTTP/1.1 500"));
    }
}
