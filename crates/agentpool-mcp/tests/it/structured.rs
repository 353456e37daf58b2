//! Snapshots of the structured content every lifecycle tool returns, over one fake-question
//! session, plus one error envelope: the MCP surface pinned field by field. Volatile values
//! (ids, paths, hashes, timestamps, nonces, pane ids, pids, durations) are redacted by the
//! harness filters; values that depend on timing or path lengths are checked here and then
//! replaced by a placeholder, so the snapshots are stable across runs and machines.

use agentpool_tests::{positive_int, replace};
use insta::assert_json_snapshot;
use serde_json::{Value, json};

use crate::harness::{TestContext, call, ok};

const TASK: &str = "Ask exactly one question, then finish after the answer arrives.";

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_structured_content() {
    let ctx = TestContext::new("structured");
    let _guard = ctx.insta_settings().bind_to_scope();
    let client = ctx.client(&["--toolsets", "default,sessions"]).await;
    let call_ok = |name: &'static str, args: Value| ok(&client, name, args);

    let spawned =
        call_ok("spawn_worker", json!({"provider_id": "fake-question", "repo_path": ctx.repo_path(), "task": TASK}))
            .await;
    let id = spawned["session_id"].as_str().expect("session_id").to_owned();
    assert_json_snapshot!("01_spawn_worker", spawned);

    let q = call_ok("observe_worker", json!({"session_id": id, "wait_for": ["question"], "timeout_seconds": 30})).await;
    assert_eq!(q["event"], "question", "{q}");
    assert_json_snapshot!("02_observe_worker_question", q);

    let mut qx = call_ok("observe_worker", json!({"session_id": id, "detail": "excerpt"})).await;
    // Character counts depend on the temp path's length.
    replace(&mut qx, &["worker_output", "chars"], "[CHARS]", positive_int);
    assert_json_snapshot!("03_observe_worker_excerpt", qx);

    let mut sent = call_ok("send_worker_message", json!({"session_id": id, "message": "Continue read-only."})).await;
    // How many observe events were stored before depends on timing.
    replace(&mut sent, &["event_id"], "[EVENT_ID]", positive_int);
    assert_json_snapshot!("04_send_worker_message", sent);

    let mut done =
        call_ok("observe_worker", json!({"session_id": id, "wait_for": ["completed", "error"], "timeout_seconds": 30}))
            .await;
    assert_eq!(done["state"], "COMPLETED", "{done}");
    // Present only when the observation landed after the worker's exit (it exits right after
    // printing its result).
    if let Some(status) = done["metadata"].as_object_mut().unwrap().shift_remove("exit_status") {
        assert_eq!(status, 0, "{done}");
    }
    assert_json_snapshot!("05_observe_worker_completed", done);

    // The pane's output reaches the transcript through a pipe that may trail the screen by a
    // moment; wait (bounded) until the result's last line is there.
    let mut tail = Value::Null;
    for _ in 0..500 {
        tail = call_ok("read_worker_transcript", json!({"session_id": id, "tail_lines": 5})).await;
        if tail["worker_output"]["text"].as_str().is_some_and(|t| t.contains("AGENTPOOL_RESULT_END")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The file's size depends on the temp path's length.
    replace(&mut tail, &["size_bytes"], "[BYTES]", positive_int);
    assert_json_snapshot!("06_read_worker_transcript_tail", tail);
    // The first 100 bytes end before the repository path is printed.
    let mut page = call_ok("read_worker_transcript", json!({"session_id": id, "offset": 0, "limit": 100})).await;
    replace(&mut page, &["size_bytes"], "[BYTES]", positive_int);
    assert_json_snapshot!("07_read_worker_transcript_page", page);

    let collected = call_ok("collect_worker_artifacts", json!({"session_id": id, "detail": "excerpt"})).await;
    assert_json_snapshot!("08_collect_worker_artifacts", collected);
    let manifest = call_ok("get_artifact_manifest", json!({"session_id": id})).await;
    assert_json_snapshot!("09_get_artifact_manifest", manifest);

    let sessions = call_ok("list_sessions", json!({})).await;
    assert_json_snapshot!("10_list_sessions", sessions);
    let session = call_ok("get_session", json!({"session_id": id})).await;
    assert_json_snapshot!("11_get_session", session);

    let first = call_ok("terminate_worker", json!({"session_id": id})).await;
    assert_json_snapshot!("12_terminate_worker", first);
    let again = call_ok("terminate_worker", json!({"session_id": id})).await;
    assert_eq!(again["already_terminated"], true, "{again}");
    assert_json_snapshot!("13_terminate_worker_again", again);

    let (is_error, err) = call(&client, "observe_worker", json!({"session_id": "ap_000000000000"})).await;
    assert!(is_error, "{err}");
    assert_json_snapshot!("14_error_session_not_found", err);

    client.cancel().await.expect("client closes");
}
