//! Claude Code's hook payloads, as recorded from Claude Code 2.1.332 running against the
//! conformance stand-in (paths and ids rewritten), and the signals AgentPool makes of them.

#![allow(clippy::unwrap_used)]

use agentpool_provider_claude::Claude;
use agentpool_sdk::provider::Provider;
use agentpool_sdk::signal::{ErrorClass, Signal};

fn parse(source: &str, fixture: &str) -> Vec<Signal> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hooks").join(fixture);
    let payload = std::fs::read_to_string(&path).unwrap();
    Claude.signals().unwrap().parse(source, &payload)
}

#[test]
fn lifecycle_hooks() {
    assert_eq!(
        parse("session_start", "session_start.json"),
        [Signal::SessionStarted { cli_session_id: Some("2bafea9a-f1eb-40fe-aeab-2100cc61c5de".into()) }]
    );
    assert_eq!(parse("pre_tool_use", "pre_tool_use.json"), [Signal::ToolUse { tool: Some("Bash".into()) }]);
    assert_eq!(parse("post_tool_use", "post_tool_use.json"), [Signal::ToolUse { tool: Some("Bash".into()) }]);
    assert_eq!(parse("session_end", "session_end.json"), [Signal::SessionEnded]);
    let stop = parse("stop", "stop.json");
    let [Signal::TurnEnded { last_reply: Some(reply) }] = stop.as_slice() else {
        panic!("stop is a turn end with the last reply")
    };
    assert!(reply.starts_with("Hello from the stand-in.") && reply.ends_with("AGENTPOOL_RESULT_END"), "{reply}");
}

#[test]
fn permission_requests_are_approvals_or_questions() {
    assert_eq!(
        parse("permission_request", "permission_request_bash.json"),
        [Signal::Approval { text: Some("Bash: touch conformance-approval.txt".into()) }]
    );
    assert_eq!(
        parse("permission_request", "permission_request_question.json"),
        [Signal::Question { text: Some("Which color should the button be?".into()) }]
    );
}

#[test]
fn notifications() {
    // The permission notification follows the PermissionRequest hook (for questions too): it
    // adds nothing and must not turn a question into an approval.
    assert!(parse("notification", "notification_permission.json").is_empty());
    assert_eq!(
        parse("notification", "notification_needs_input.json"),
        [Signal::Question { text: Some("Auto mode has a classifier billing notice to acknowledge".into()) }]
    );
}

#[test]
fn stop_failures_carry_their_class() {
    for (fixture, class, start) in [
        ("stop_failure_401.json", ErrorClass::Auth, "Invalid API key"),
        ("stop_failure_429.json", ErrorClass::RateLimit, "API Error: Request rejected (429)"),
        ("stop_failure_500.json", ErrorClass::Server, "API Error: 500"),
    ] {
        let got = parse("stop_failure", fixture);
        let [Signal::Error { class: c, message }] = got.as_slice() else { panic!("{fixture}: {got:?}") };
        assert_eq!(*c, class, "{fixture}");
        assert!(message.starts_with(start), "{fixture}: {message}");
    }
}

#[test]
fn what_it_does_not_know_gives_nothing() {
    let channel = Claude.signals().unwrap();
    assert!(channel.parse("stop", "not json").is_empty());
    assert!(channel.parse("stop", "").is_empty());
    assert!(channel.parse("user_prompt_submit", "{}").is_empty());
    assert!(channel.parse("notification", r#"{"notification_type":"idle_prompt"}"#).is_empty());
    assert_eq!(
        channel.parse("stop_failure", "{}"),
        [Signal::Error { class: ErrorClass::Other, message: "unknown".into() }]
    );
}
