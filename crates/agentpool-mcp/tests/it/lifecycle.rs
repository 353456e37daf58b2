//! The whole fake-question lifecycle through MCP tools, plain and in lockdown, and the
//! concurrency contract: ping and other tools answer while an observe waits, and a cancelled
//! observe stops.

use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

use crate::harness::{TestContext, ok};

const TASK: &str = "Ask exactly one question, then finish after the answer arrives.";

fn fenced(v: &Value) -> bool {
    let text = v["text"].as_str().unwrap_or("");
    text.starts_with("BEGIN_UNTRUSTED_WORKER_OUTPUT_") && text.contains("\nEND_UNTRUSTED_WORKER_OUTPUT_")
}

async fn lifecycle(name: &str, lockdown: bool) {
    let ctx = TestContext::new(name);
    let args: &[&str] = if lockdown { &["--lockdown"] } else { &[] };
    let client = ctx.client(args).await;

    let spawned = ok(
        &client,
        "spawn_worker",
        json!({"provider_id": "fake-question", "repo_path": ctx.repo_path(), "task": TASK}),
    )
    .await;
    let id = spawned["session_id"].as_str().expect("session_id").to_owned();
    assert_eq!(spawned["session"]["metadata"]["coordinator_id"].as_str().map(|c| c.starts_with("coord_")), Some(true));

    let q = ok(
        &client,
        "observe_worker",
        json!({"session_id": id, "wait_for": ["question"], "timeout_seconds": 30, "detail": "excerpt"}),
    )
    .await;
    assert_eq!(q["event"], "question", "{q}");
    assert_eq!(q["state"], "AWAITING_USER_INPUT");
    if lockdown {
        assert_eq!(q["worker_output"]["reason"], "lockdown");
        assert_eq!(q["parsed_question_available"], true);
        assert!(q.get("parsed_question").is_none());
        let gated: Vec<&Value> =
            q["artifact_manifest"]["files"].as_array().unwrap().iter().filter(|f| f["gated"] == true).collect();
        assert!(gated.iter().any(|f| f["kind"] == "transcript"));
        assert!(!gated.iter().any(|f| f["kind"] == "metadata"));
    } else {
        assert!(fenced(&q["parsed_question"]), "{q}");
        assert!(fenced(&q["worker_output"]), "{q}");
    }

    let sent = ok(&client, "send_worker_message", json!({"session_id": id, "message": "Continue read-only."})).await;
    assert_eq!(sent["ok"], true);

    let c = ok(
        &client,
        "observe_worker",
        json!({"session_id": id, "wait_for": ["completed", "error"], "timeout_seconds": 30}),
    )
    .await;
    assert_eq!(c["event"], "completed", "{c}");
    assert_eq!(c["state"], "COMPLETED");
    assert_eq!(c["worker_output"]["included"], false);

    let t = ok(&client, "read_worker_transcript", json!({"session_id": id})).await;
    if lockdown {
        assert_eq!(t["blocked"], true);
        assert_eq!(t["reason"], "lockdown");
        assert!(t.get("worker_output").is_none());
    } else {
        assert!(fenced(&t["worker_output"]), "transcript pages are fenced: {t}");
        assert_eq!(t["worker_output"]["text"].as_str().unwrap().matches("\nEND_UNTRUSTED_WORKER_OUTPUT_").count(), 1);
    }

    let resource = client
        .read_resource(ReadResourceRequestParams::new(format!("agentpool://sessions/{id}/transcript")))
        .await
        .expect("transcript resource");
    let ResourceContents::TextResourceContents { text, mime_type, .. } = &resource.contents[0] else {
        panic!("text resource")
    };
    assert_eq!(mime_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_str(text).expect("JSON resource");
    if lockdown {
        assert_eq!(body["blocked"], true);
    } else {
        assert!(fenced(&body["worker_output"]), "{body}");
    }

    let collected = ok(&client, "collect_worker_artifacts", json!({"session_id": id, "detail": "excerpt"})).await;
    assert_eq!(collected["state"], "COMPLETED");
    if lockdown {
        assert_eq!(collected["worker_output"]["reason"], "lockdown");
        let result =
            collected["artifacts"].as_array().unwrap().iter().find(|a| a["kind"] == "result").expect("result artifact");
        assert_eq!(result["gated"], true);
    } else {
        assert!(fenced(&collected["worker_output"]), "{collected}");
    }

    let manifest = ok(&client, "get_artifact_manifest", json!({"session_id": id})).await;
    assert_eq!(manifest["session_id"], id.as_str());

    let first = ok(&client, "terminate_worker", json!({"session_id": id})).await;
    assert_eq!(first["ok"], true);
    let again = ok(&client, "terminate_worker", json!({"session_id": id})).await;
    assert_eq!(again["already_terminated"], true);
    client.cancel().await.expect("client closes");
}

#[tokio::test(flavor = "multi_thread")]
async fn fake_question_lifecycle() {
    lifecycle("life", false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fake_question_lifecycle_in_lockdown() {
    lifecycle("lock", true).await;
}

/// During a long observe (30 s; the worker sits at its question), a ping and other tool calls
/// are answered before the observe is; `notifications/cancelled` then stops the observe (it
/// logs so and never answers, as the protocol asks), and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn ping_and_tools_answer_during_a_long_observe() {
    let ctx = TestContext::new("conc");
    let mut raw = ctx.raw_with_log(&[], Some("agentpool_mcp=debug")).await;
    let call = |id: i64, name: &str, args: Value| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});
    let spawned = raw
        .request(call(
            1,
            "spawn_worker",
            json!({"provider_id": "fake-question", "repo_path": ctx.repo_path(), "task": TASK}),
        ))
        .await;
    let id = spawned["result"]["structuredContent"]["session_id"].as_str().expect("spawned").to_owned();
    let q = raw
        .request(call(2, "observe_worker", json!({"session_id": id, "wait_for": ["question"], "timeout_seconds": 30})))
        .await;
    assert_eq!(q["result"]["structuredContent"]["event"], "question");

    // Wait for something that cannot happen while the question is unanswered.
    raw.send_line(
        &call(50, "observe_worker", json!({"session_id": id, "wait_for": ["completed"], "timeout_seconds": 30}))
            .to_string(),
    )
    .await;
    raw.send_line(&json!({"jsonrpc": "2.0", "id": 51, "method": "ping"}).to_string()).await;
    raw.send_line(&call(52, "get_inventory", json!({"include_usage": false})).to_string()).await;
    raw.send_line(&call(53, "poll_worker", json!({"session_id": id})).to_string()).await;
    let mut answered = Vec::new();
    for _ in 0..3 {
        let r = raw.response().await;
        assert!(r.get("error").is_none() && r["result"]["isError"] != true, "{r}");
        answered.push(r["id"].as_i64().unwrap());
    }
    answered.sort_unstable();
    assert_eq!(answered, [51, 52, 53], "ping and tool calls answer while the observe waits");

    raw.send_line(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 50, "reason": "test"}})
            .to_string(),
    )
    .await;

    // Still serving, and the worker still answers.
    let sent =
        raw.request(call(60, "send_worker_message", json!({"session_id": id, "message": "Continue read-only."}))).await;
    assert_eq!(sent["result"]["structuredContent"]["ok"], true, "{sent}");
    let c = raw
        .request(call(
            61,
            "observe_worker",
            json!({"session_id": id, "wait_for": ["completed"], "timeout_seconds": 30}),
        ))
        .await;
    assert_eq!(c["result"]["structuredContent"]["event"], "completed");
    let t = raw.request(call(62, "terminate_worker", json!({"session_id": id}))).await;
    assert_eq!(t["result"]["structuredContent"]["ok"], true);
    let (rest, log) = raw.finish().await;
    assert!(!rest.iter().any(|m| m["id"] == 50), "the cancelled observe never answers: {rest:?}");
    assert!(log.contains("observe cancelled by the client"), "the observe stopped on cancellation:\n{log}");
}

/// `AGENTPOOL_LOCKDOWN` locks the MCP server down too, as `docs/security.md` says: one rule
/// for every front end.
#[tokio::test(flavor = "multi_thread")]
async fn agentpool_lockdown_in_the_environment_locks_the_server_down() {
    let ctx = TestContext::new("envlock");
    let mut cmd = ctx.command(&[]);
    cmd.env("AGENTPOOL_LOCKDOWN", "1");
    let client = crate::harness::client_for(cmd).await;
    let spawned = ok(
        &client,
        "spawn_worker",
        json!({"provider_id": "fake-question", "repo_path": ctx.repo_path(), "task": TASK}),
    )
    .await;
    let id = spawned["session_id"].as_str().expect("session_id").to_owned();
    let q = ok(
        &client,
        "observe_worker",
        json!({"session_id": id, "wait_for": ["question"], "timeout_seconds": 30, "detail": "excerpt"}),
    )
    .await;
    assert_eq!(q["event"], "question", "{q}");
    assert_eq!(q["worker_output"]["reason"], "lockdown", "{q}");
    assert!(!fenced(&q), "no worker text in lockdown: {q}");
    ok(&client, "terminate_worker", json!({"session_id": id})).await;
    client.cancel().await.expect("close");
}
