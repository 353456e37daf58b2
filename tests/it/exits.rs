//! Workers that exit on their own: the final screen and exit status are kept and decide the
//! outcome, and the stored outcome is what later calls report.

use agentpool_tests::TestContext;

use crate::fakes::{observe, worker_text};

#[test]
fn worker_exiting_after_its_result_stays_completed_with_its_final_screen() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-completed", "Report the crate layout.", &[]);
    let done = observe(&ctx, &id, "completed", "20", "summary");
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert_eq!(done["event"], "completed", "{done}");
    if let Some(status) = done["metadata"].get("exit_status") {
        assert_eq!(status, 0, "{done}");
    }

    // Observing again reports the stored outcome, whatever we wait for.
    for args in
        [vec!["observe", &id, "--json"], vec!["observe", &id, "--wait-for", "question", "--timeout", "5", "--json"]]
    {
        let again = ctx.json(&args);
        assert_eq!(again["state"], "COMPLETED", "{again}");
        assert_eq!(again["event"], "completed", "{again}");
        assert_eq!(again["metadata"]["source"], "stored_state", "{again}");
    }

    let screen = std::fs::read_to_string(ctx.artifact_dir(&id).join("latest_screen.txt")).unwrap();
    assert!(screen.contains("AGENTPOOL_RESULT_START"), "{screen}");
    assert!(screen.contains("Completed immediately."), "{screen}");
    assert!(screen.contains("AGENTPOOL_RESULT_END"), "{screen}");

    let listed = ctx.json(&["sessions", "--json"]);
    let row = listed["sessions"].as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).expect("session listed");
    assert_eq!(row["state"], "COMPLETED", "{row}");
    let ended_at = row["ended_at"].as_str().expect("ended_at set").to_owned();

    // The pane is kept after the exit, so a later collect still sees the final screen.
    let c = ctx.json(&["collect", &id, "--detail", "full", "--json"]);
    assert_eq!(c["state"], "COMPLETED", "{c}");
    assert!(worker_text(&c).contains("Completed immediately."), "{c}");
    assert!(c.get("warnings").is_none(), "{c}");

    // Terminating a finished session changes neither its state nor when it ended.
    let t = ctx.json(&["terminate", &id, "--json"]);
    assert_eq!(t["state"], "COMPLETED", "{t}");
    let s = ctx.session(&id);
    assert_eq!(s["state"], "COMPLETED", "{s}");
    assert_eq!(s["ended_at"], ended_at.as_str(), "terminate rewrote ended_at of a finished session: {s}");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());

    // With the runtime gone, an interrupt fails, and its dry run must say so.
    let dry = ctx.json(&["interrupt", &id, "--dry-run", "--json"]);
    assert_eq!(dry["would_interrupt"], false, "{dry}");
    ctx.error(&["interrupt", &id, "--json"], "TMUX_SESSION_NOT_FOUND");
    assert_eq!(ctx.session(&id)["state"], "COMPLETED");
}

#[test]
fn worker_exiting_non_zero_is_failed_with_its_exit_status_and_screen() {
    let ctx = TestContext::new();
    // The short pause is for the terminal, not for AgentPool: output written in the same
    // instant the process exits can be lost between the pty and tmux (seen with plain tmux on
    // Linux, about 1 in 100 under load), and this test is about what AgentPool keeps.
    ctx.write_config("[providers.fake-completed]\ncommand = [\"sh\", \"-c\", \"echo boom; sleep 0.1; exit 3\"]\n");
    let id = ctx.spawn_id("fake-completed", "Run the failing tool.", &["--initial-prompt-mode", "arg"]);
    let v = observe(&ctx, &id, "failed,completed", "10", "full");
    assert_eq!(v["state"], "FAILED", "{v}");
    assert_eq!(v["event"], "error", "{v}");
    assert_eq!(v["metadata"]["exit_status"], 3, "{v}");
    assert_eq!(v["metadata"]["readiness"], "exited", "{v}");
    assert!(v["metadata"]["reason"].as_str().is_some_and(|r| r.contains('3')), "{v}");
    assert!(worker_text(&v).contains("boom"), "{v}");

    // Stored: later calls agree, and the final screen is kept.
    let again = ctx.json(&["observe", &id, "--json"]);
    assert_eq!(again["state"], "FAILED", "{again}");
    assert_eq!(ctx.session(&id)["state"], "FAILED");
    let screen = std::fs::read_to_string(ctx.artifact_dir(&id).join("latest_screen.txt")).unwrap();
    assert!(screen.contains("boom"), "{screen}");
    let events = ctx.events(&id);
    let failed = events.iter().find(|e| e["event_type"] == "observe:error").expect("observe:error stored");
    assert_eq!(failed["metadata"]["exit_status"], 3, "{failed}");

    // A worker that has exited cannot be steered.
    let err = ctx.error(&["send", &id, "Try again.", "--json"], "WORKER_EXITED");
    assert_eq!(err["details"]["exit_status"], 3, "{err}");
    let final_screen = err["details"]["final_screen"].as_str().unwrap();
    assert!(final_screen.contains("boom") && !final_screen.contains("agentpool"), "the worker's own output: {err}");
    let transcript = std::fs::read_to_string(ctx.artifact_dir(&id).join("transcript.txt")).unwrap();
    assert!(
        transcript.trim_end().ends_with("the message above was not delivered: the worker has exited"),
        "{transcript}"
    );
    // Nor interrupted: nothing would receive the Ctrl-C.
    let err = ctx.error(&["interrupt", &id, "--json"], "WORKER_EXITED");
    assert_eq!(err["details"]["exit_status"], 3, "{err}");
    ctx.json(&["terminate", &id, "--json"]);
    assert_eq!(ctx.session(&id)["state"], "FAILED");
}

#[test]
fn worker_exiting_zero_without_a_result_is_failed() {
    let ctx = TestContext::new();
    // See above for the pause.
    ctx.write_config("[providers.fake-completed]\ncommand = [\"sh\", \"-c\", \"echo all done; sleep 0.1\"]\n");
    let id = ctx.spawn_id("fake-completed", "Run the quiet tool.", &["--initial-prompt-mode", "arg"]);
    let v = observe(&ctx, &id, "failed,completed", "10", "full");
    assert_eq!(v["state"], "FAILED", "{v}");
    assert_eq!(v["metadata"]["exit_status"], 0, "{v}");
    assert!(v["metadata"]["reason"].as_str().is_some_and(|r| r.contains("result")), "{v}");
    assert!(worker_text(&v).contains("all done"), "{v}");
    ctx.json(&["terminate", &id, "--json"]);
}
