//! Bad input gets a proper error and the server keeps serving: malformed JSON-RPC, unknown
//! tools, wrong parameter types, 1 MB strings, unknown resources and prompts.

use serde_json::{Value, json};

use crate::harness::TestContext;

fn tool_error_code(resp: &Value) -> String {
    assert_eq!(resp["result"]["isError"], true, "{resp}");
    crate::harness::raw_tool_error(resp)["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_errors_and_the_server_keeps_serving() {
    let ctx = TestContext::new("proto");
    let mut raw = ctx.raw(&["--toolsets", "default,sessions"]).await;
    let call = |id: i64, name: &str, args: Value| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});

    // Not JSON at all, and a truncated message: parse errors with a null id.
    for bad in ["{not json", r#"{"jsonrpc":"2.0","id":5,"method":"ping""#] {
        raw.send_line(bad).await;
        let r = raw.response().await;
        assert_eq!(r["error"]["code"], -32700, "{r}");
        assert_eq!(r["id"], Value::Null);
    }
    // JSON, but not a JSON-RPC request.
    let r = raw.request(json!({"id": 6, "hello": "world"})).await;
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert_eq!(r["id"], 6);
    // Unknown method.
    let r = raw.request(json!({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"})).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");

    // Unknown tool: a protocol error (invalid params), naming the tool.
    let r = raw.request(call(10, "send_message", json!({}))).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("send_message"));

    // Wrong types and missing fields: tool errors with the envelope.
    let r = raw
        .request(call(11, "observe_worker", json!({"session_id": "ap_000000000000", "timeout_seconds": "abc"})))
        .await;
    assert_eq!(tool_error_code(&r), "INVALID_REQUEST");
    let r = raw.request(call(12, "spawn_worker", json!({"provider_id": "fake-question"}))).await;
    assert_eq!(tool_error_code(&r), "INVALID_REQUEST");
    let r =
        raw.request(call(13, "observe_worker", json!({"session_id": "ap_000000000000", "detail": "verbose"}))).await;
    assert_eq!(tool_error_code(&r), "INVALID_REQUEST");
    let r = raw.request(call(14, "get_inventory", json!({"include_usage": true, "surprise": 1}))).await;
    assert_eq!(tool_error_code(&r), "INVALID_REQUEST");

    // Domain errors keep their codes and gain an MCP next step.
    let r = raw
        .request(call(
            15,
            "spawn_worker",
            json!({"provider_id": "auto", "repo_path": ".", "task": "Review the parser."}),
        ))
        .await;
    assert_eq!(tool_error_code(&r), "POLICY_BLOCKED");
    assert_eq!(crate::harness::raw_tool_error(&r)["error"]["details"]["example"], "get_inventory(include_usage=true)");
    let r = raw
        .request(call(16, "spawn_worker", json!({"provider_id": "fake-question", "repo_path": ".", "task": "<task>"})))
        .await;
    assert_eq!(tool_error_code(&r), "INVALID_REQUEST");
    assert!(
        crate::harness::raw_tool_error(&r)["error"]["details"]["example"]
            .as_str()
            .unwrap()
            .starts_with("spawn_worker(")
    );
    let r = raw.request(call(17, "get_session", json!({"session_id": "ap_000000000000"}))).await;
    assert_eq!(tool_error_code(&r), "SESSION_NOT_FOUND");
    let r = raw.request(call(18, "list_sessions", json!({"limit": 0}))).await;
    assert_eq!(tool_error_code(&r), "INVALID_SESSION_PAGE");

    // 1 MB strings.
    let big = "x".repeat(1_000_001);
    let r =
        raw.request(call(20, "send_worker_message", json!({"session_id": "ap_000000000000", "message": big}))).await;
    assert_eq!(tool_error_code(&r), "INVALID_REQUEST");
    let r = raw.request(call(21, "observe_worker", json!({"session_id": big}))).await;
    assert_eq!(tool_error_code(&r), "INVALID_SESSION_ID");
    let r = raw
        .request(call(22, "spawn_worker", json!({"provider_id": big, "repo_path": ".", "task": "Review the parser."})))
        .await;
    assert!(r["result"]["isError"] == true, "{}", &r.to_string()[..200]);
    assert!(r.to_string().len() < 10_000, "errors do not echo megabytes back");

    // Resources and prompts: standard codes.
    let r = raw
        .request(json!({"jsonrpc": "2.0", "id": 30, "method": "resources/read", "params": {"uri": "agentpool://nope"}}))
        .await;
    assert_eq!(r["error"]["code"], -32002, "{r}");
    let r = raw
        .request(json!({"jsonrpc": "2.0", "id": 31, "method": "resources/read", "params": {"uri": "agentpool://sessions/ap_000000000000/transcript"}}))
        .await;
    assert_eq!(r["error"]["code"], -32002, "{r}");
    let r = raw.request(json!({"jsonrpc": "2.0", "id": 32, "method": "prompts/get", "params": {"name": "agentpool_delegate_read_only"}})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");

    // Still serving.
    let r = raw.request(json!({"jsonrpc": "2.0", "id": 40, "method": "ping"})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = raw.request(call(41, "get_delegation_preferences", json!({}))).await;
    assert!(r["result"]["structuredContent"]["text"].as_str().unwrap().contains("AgentPool Preferences"));
}
