//! `agentpool smoke`: the whole fake-provider lifecycle in one command.

use agentpool_tests::TestContext;

#[test]
fn smoke_passes_collects_every_artifact_and_leaves_no_tmux_session() {
    let ctx = TestContext::new();
    let repo = ctx.repo_str();
    let v = ctx.json(&["smoke", "--provider", "fake-question", "--repo", &repo, "--json"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["provider_id"], "fake-question", "{v}");
    assert_eq!(v["question_event"], "question", "{v}");
    assert_eq!(v["question_state"], "AWAITING_USER_INPUT", "{v}");
    assert_eq!(v["send"], true, "{v}");
    assert_eq!(v["completed_event"], "completed", "{v}");
    assert_eq!(v["completed_state"], "COMPLETED", "{v}");
    assert_eq!(v["git_dirty"], false, "{v}");
    let kinds: Vec<&str> =
        v["artifact_kinds"].as_array().expect("artifact_kinds").iter().filter_map(|k| k.as_str()).collect();
    for kind in [
        "metadata",
        "prompt",
        "transcript",
        "events",
        "screen",
        "summary_partial",
        "summary",
        "result",
        "git_status",
        "diff",
    ] {
        assert!(kinds.contains(&kind), "artifact kind `{kind}` missing from {kinds:?}");
    }
    assert_eq!(kinds.len(), 10, "{kinds:?}");

    // The artifacts are real files under this test's home.
    let dir = std::path::PathBuf::from(v["artifact_dir"].as_str().expect("artifact_dir"));
    assert!(dir.starts_with(ctx.home()), "artifacts outside AGENTPOOL_HOME: {}", dir.display());
    let result = std::fs::read_to_string(dir.join("result.md")).expect("result.md");
    assert!(result.contains("Question path completed after steering."), "{result}");

    // The worker was terminated and nothing is left on the socket.
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
    let sid = v["session_id"].as_str().unwrap();
    let types = ctx.event_types(sid);
    assert!(types.iter().any(|t| t == "terminate"), "{types:?}");
    assert_eq!(ctx.session(sid)["state"], "COMPLETED");
}
