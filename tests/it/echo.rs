//! The worker's terminal echoes the task AgentPool pasted. Question, approval and error
//! wording in the task itself must never fire an event before the worker prints one.

use agentpool_tests::TestContext;

use crate::fakes::{ALARM_EVENTS, observe};

fn assert_no_event_from_echo(task: &str) {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", task, &[]);
    let v = observe(&ctx, &id, "question,approval,error", "2", "full");
    assert_eq!(v["event"], "timeout", "task {task:?} fired an event: {v}");
    assert_eq!(v["state"], "RUNNING", "task {task:?}: {v}");
    assert_eq!(v["parsed_question_available"], false, "task {task:?}: {v}");
    assert!(v.get("parsed_question").is_none(), "task {task:?} was parsed as a question: {v}");
    // The echo really is on the screen: the test would be vacuous otherwise.
    let first_line = task.lines().next().unwrap();
    let text = v["worker_output"]["text"].as_str().unwrap_or("");
    assert!(text.contains(first_line), "task echo not on the screen: {v}");
    assert!(text.contains("Working..."), "the worker started: {v}");

    let types = ctx.event_types(&id);
    for alarm in ALARM_EVENTS {
        assert!(!types.iter().any(|t| t == alarm), "task {task:?} stored {alarm}: {types:?}");
    }
    assert_eq!(ctx.session(&id)["state"], "RUNNING");
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn multi_line_task_with_question_exception_and_proceed_fires_nothing() {
    assert_no_event_from_echo(
        "Should I do X? Decide from the code.\nMake sure to handle the exception in the loader.\nProceed?\nDo you want the tests updated too?",
    );
}

#[test]
fn task_ending_with_a_question_mark_fires_nothing() {
    assert_no_event_from_echo("Can you find out why the nightly build is slow?");
}

#[test]
fn task_quoting_error_and_approval_shapes_fires_nothing() {
    assert_no_event_from_echo(
        "Users report this output:\nValueError: invalid literal for int()\nAllow network access? [y/N]\nExplain where it comes from.",
    );
}
