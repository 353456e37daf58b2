//! One lifecycle per built-in fake provider, driven through the CLI with real tmux.

use agentpool_tests::TestContext;
use serde_json::Value;

/// `observe <id> --wait-for <w> --timeout <t> --detail <d> --json`.
pub fn observe(ctx: &TestContext, id: &str, wait_for: &str, timeout: &str, detail: &str) -> Value {
    ctx.json(&["observe", id, "--wait-for", wait_for, "--timeout", timeout, "--detail", detail, "--json"])
}

/// The fenced worker text of an observe/collect payload (empty when not included).
pub fn worker_text(v: &Value) -> &str {
    v["worker_output"]["text"].as_str().unwrap_or("")
}

/// Event types that would mean a prompt or failure was detected.
pub const ALARM_EVENTS: [&str; 3] = ["observe:question", "observe:approval_prompt", "observe:error"];

#[test]
fn fake_question_asks_then_completes_after_steering() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-question", "Find where the database schema is defined.", &[]);

    let q = observe(&ctx, &id, "question", "20", "summary");
    assert_eq!(q["event"], "question", "{q}");
    assert_eq!(q["state"], "AWAITING_USER_INPUT", "{q}");
    assert_eq!(q["parsed_question_available"], true, "{q}");
    assert_eq!(q["metadata"]["readiness"], "waiting_on_question", "{q}");
    assert_eq!(q["worker_output"]["included"], false, "summary detail carries no worker text: {q}");

    // With more detail the question itself is returned, fenced as untrusted text.
    let qx = ctx.json(&["observe", &id, "--detail", "excerpt", "--json"]);
    assert_eq!(qx["state"], "AWAITING_USER_INPUT", "{qx}");
    let parsed = qx["parsed_question"]["text"].as_str().expect("parsed_question.text");
    assert!(parsed.contains("Should I inspect migrations or auth middleware first?"), "{parsed}");
    assert!(parsed.starts_with("BEGIN_UNTRUSTED_WORKER_OUTPUT_"), "{parsed}");

    let sent = ctx.json(&["send", &id, "Inspect migrations first.", "--json"]);
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(sent["session_id"], id.as_str());

    let done = observe(&ctx, &id, "completed", "20", "full");
    assert_eq!(done["event"], "completed", "{done}");
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert!(worker_text(&done).contains("Steering received: Inspect migrations first."), "{done}");

    let c = ctx.json(&["collect", &id, "--detail", "full", "--json"]);
    assert_eq!(c["state"], "COMPLETED", "{c}");
    assert!(worker_text(&c).contains("Question path completed after steering."), "{c}");
    let dir = ctx.artifact_dir(&id);
    for file in ["summary.md", "result.md"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains("Question path completed after steering."), "{file}: {text}");
    }
    // The transcript notes what AgentPool sent, in order with the worker's output.
    let transcript = std::fs::read_to_string(dir.join("transcript.txt")).unwrap();
    let asked = transcript.find("Should I inspect migrations").expect("question in transcript");
    let answered = transcript.rfind("Steering received").expect("answer in transcript");
    assert!(asked < answered, "{transcript}");

    let t = ctx.json(&["terminate", &id, "--json"]);
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(t["state"], "COMPLETED", "a completed session stays completed: {t}");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}

#[test]
fn fake_approval_waits_for_approval_then_completes_on_y() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-approval", "Delete the stale cache directory.", &[]);

    let a = observe(&ctx, &id, "approval", "20", "excerpt");
    assert_eq!(a["event"], "approval_prompt", "{a}");
    assert_eq!(a["state"], "AWAITING_APPROVAL", "{a}");
    assert_eq!(a["metadata"]["readiness"], "waiting_on_approval", "{a}");
    assert!(worker_text(&a).contains("Proceed? [y/N]"), "{a}");

    let sent = ctx.json(&["send", &id, "y", "--json"]);
    assert_eq!(sent["ok"], true, "{sent}");

    let done = observe(&ctx, &id, "completed", "20", "full");
    assert_eq!(done["event"], "completed", "{done}");
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert!(worker_text(&done).contains("Approval answer: y"), "{done}");

    let c = ctx.json(&["collect", &id, "--detail", "full", "--json"]);
    assert!(worker_text(&c).contains("Approval flow completed."), "{c}");
    ctx.json(&["terminate", &id, "--json"]);
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}

#[test]
fn fake_completed_completes_without_steering() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-completed", "Summarise the README.", &[]);
    let done = observe(&ctx, &id, "completed", "20", "summary");
    assert_eq!(done["event"], "completed", "{done}");
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert_eq!(done["metadata"]["readiness"], "completed", "{done}");
    let c = ctx.json(&["collect", &id, "--detail", "excerpt", "--json"]);
    assert_eq!(c["state"], "COMPLETED", "{c}");
    assert!(worker_text(&c).contains("Completed immediately."), "{c}");
    let types = ctx.event_types(&id);
    for alarm in ALARM_EVENTS {
        assert!(!types.iter().any(|t| t == alarm), "{alarm} stored for a clean run: {types:?}");
    }
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn fake_idle_times_out_running_and_never_fires_an_event() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "Keep working on the refactor.", &[]);
    let v = observe(&ctx, &id, "completed", "2", "summary");
    assert_eq!(v["event"], "timeout", "{v}");
    assert_eq!(v["state"], "RUNNING", "{v}");
    assert_eq!(v["metadata"]["readiness"], "timeout", "{v}");
    assert_eq!(v["metadata"]["waited_for"], serde_json::json!(["completed"]), "{v}");
    assert_eq!(ctx.session(&id)["state"], "RUNNING");

    let events = std::fs::read_to_string(ctx.artifact_dir(&id).join("events.jsonl")).unwrap();
    for alarm in ALARM_EVENTS {
        assert!(!events.contains(&format!("\"event_type\":\"{alarm}\"")), "{alarm} stored:\n{events}");
    }
    let t = ctx.json(&["terminate", &id, "--json"]);
    assert_eq!(t["state"], "CANCELLED", "{t}");
    assert_eq!(t["would_terminate_runtime"], true, "{t}");
    assert_eq!(ctx.session(&id)["state"], "CANCELLED");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}

/// fake-limit prints `Approaching 5-hour limit - resets 5pm.` and its result block right after,
/// then exits. Completion outranks the warning, so the strongest guaranteed statement is that
/// the observe result carries the warning in its worker output and the session completes.
/// (A separate `limit_warning` event is stored only if an observe lands between the two
/// prints, so it is not asserted; when it is the reported event, it must read as one.)
#[test]
fn fake_limit_warning_is_visible_in_the_observe_result() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-limit", "Run the long analysis.", &[]);
    let v = observe(&ctx, &id, "limit_warning,completed", "20", "excerpt");
    assert!(v["event"] == "limit_warning" || v["event"] == "completed", "{v}");
    assert!(worker_text(&v).contains("Approaching 5-hour limit - resets 5pm."), "limit warning not visible: {v}");
    // Visible at the default detail too: completion outranks the warning as the event, so the
    // warning is reported alongside it.
    let warnings = v["metadata"]["usage_warnings"].as_array().unwrap();
    assert!(warnings.contains(&Value::from("limit_warning")), "{v}");
    if v["event"] == "limit_warning" {
        assert_eq!(v["state"], "RUNNING", "{v}");
        assert_eq!(v["metadata"]["readiness"], "running_limit_warning", "{v}");
    }

    let done = observe(&ctx, &id, "completed", "20", "summary");
    assert_eq!(done["state"], "COMPLETED", "{done}");
    let screen = std::fs::read_to_string(ctx.artifact_dir(&id).join("latest_screen.txt")).unwrap();
    assert!(screen.contains("Approaching 5-hour limit - resets 5pm."), "{screen}");
    // A settled session still shows its final screen when asked for worker text.
    let settled = observe(&ctx, &id, "completed", "0", "full");
    assert_eq!(settled["metadata"]["source"], "stored_state", "{settled}");
    assert!(worker_text(&settled).contains("Limit warning emitted."), "{settled}");

    let c = ctx.json(&["collect", &id, "--detail", "full", "--json"]);
    assert_eq!(c["state"], "COMPLETED", "{c}");
    assert!(worker_text(&c).contains("Limit warning emitted."), "{c}");
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn fake_patch_in_shared_checkout_shows_up_in_git_status_and_diff() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-patch", "Write the patch file.", &["--isolation", "shared", "--role", "explorer"]);
    let done = observe(&ctx, &id, "completed", "20", "summary");
    assert_eq!(done["event"], "completed", "{done}");
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert_eq!(
        std::fs::read_to_string(ctx.repo().join("agentpool_fake_patch.txt")).unwrap(),
        "patched by fake agent\n",
        "the fake wrote into the shared checkout"
    );

    let c = ctx.json(&["collect", &id, "--json"]);
    assert_eq!(c["state"], "COMPLETED", "{c}");
    assert_eq!(c["git"]["is_repo"], true, "{c}");
    assert_eq!(c["git"]["dirty"], true, "{c}");
    let changed: Vec<&str> = c["git"]["changed_files"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(changed.contains(&"agentpool_fake_patch.txt"), "{changed:?}");

    let diff_path = c["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "diff")
        .and_then(|a| a["path"].as_str())
        .expect("diff artifact");
    let diff = std::fs::read_to_string(diff_path).unwrap();
    assert!(diff.contains("agentpool_fake_patch.txt"), "{diff}");
    assert!(diff.contains("+patched by fake agent"), "untracked file missing from diff.patch:\n{diff}");
    let status = std::fs::read_to_string(ctx.artifact_dir(&id).join("git-status.txt")).unwrap();
    assert!(status.contains("agentpool_fake_patch.txt"), "{status}");
    ctx.json(&["terminate", &id, "--json"]);
}
