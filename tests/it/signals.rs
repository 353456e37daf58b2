//! The signal channel end to end: `fake-hooks` is a CLI that reports its lifecycle through
//! hooks (and never prints a result block). Its launch plan wires the hooks to the hidden
//! `agentpool __signal` entry, which appends to the session's `signals.jsonl`; `observe` lets
//! those signals decide the event. Real tmux on a private socket, a temporary home.

use std::io::Write;
use std::process::{Command, Stdio};

use agentpool_tests::{TestContext, agentpool_bin, describe};
use serde_json::Value;

use crate::fakes::observe;

fn signal_log(ctx: &TestContext, id: &str) -> String {
    std::fs::read_to_string(ctx.artifact_dir(id).join("signals.jsonl")).unwrap_or_default()
}

#[test]
fn hook_signals_decide_turn_end_questions_and_errors() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-hooks", "List the files in this repository.", &[]);

    // No result block ever appears: only the `stop` hook says the turn ended.
    let idle = observe(&ctx, &id, "idle", "20", "summary");
    assert_eq!(idle["event"], "idle", "{idle}");
    assert_eq!(idle["state"], "IDLE", "{idle}");
    assert_eq!(idle["confidence"], "official", "{idle}");
    assert_eq!(idle["metadata"]["readiness"], "waiting_for_input", "{idle}");
    assert_eq!(idle["metadata"]["signal"]["kind"], "turn_ended", "{idle}");
    assert_eq!(idle["metadata"]["signal"]["source"], "stop", "{idle}");
    // The CLI's own conversation id is recorded (resume needs it).
    assert_eq!(ctx.session(&id)["metadata"]["cli_session_id"], "fake-hooks-conversation-1");
    // The last reply is the idle event's excerpt.
    let events = ctx.events(&id);
    let ev = events.iter().rev().find(|e| e["event_type"] == "observe:idle").expect("observe:idle event");
    assert_eq!(ev["excerpt"], "Done: List the files in this repository.", "{ev}");

    // A new turn: the question hook, with the question the CLI reported.
    ctx.json(&["send", &id, "Please ask me which database to use.", "--json"]);
    let q = observe(&ctx, &id, "question", "20", "excerpt");
    assert_eq!(q["event"], "question", "{q}");
    assert_eq!(q["state"], "AWAITING_USER_INPUT", "{q}");
    assert_eq!(q["metadata"]["signal"]["kind"], "question", "{q}");
    let parsed = q["parsed_question"]["text"].as_str().unwrap_or_default();
    assert!(parsed.contains("Which database should I use"), "{q}");
    assert!(parsed.starts_with("BEGIN_UNTRUSTED_WORKER_OUTPUT_"), "fenced: {q}");

    ctx.json(&["send", &id, "sqlite", "--json"]);
    let idle = observe(&ctx, &id, "idle", "20", "summary");
    assert_eq!(idle["event"], "idle", "{idle}");

    // A final API error, classified.
    ctx.json(&["send", &id, "Now fail with 429.", "--json"]);
    let err = observe(&ctx, &id, "error", "20", "summary");
    assert_eq!(err["event"], "error", "{err}");
    assert_eq!(err["state"], "FAILED", "{err}");
    assert_eq!(err["metadata"]["error_class"], "rate_limit", "{err}");
    assert_eq!(err["metadata"]["readiness"], "failed", "{err}");
    // A rate limit is also a usage warning.
    assert_eq!(err["metadata"]["usage_warnings"], serde_json::json!(["rate_limited"]), "{err}");

    // Every hook call landed in the log, one JSON line each, in order.
    let kinds: Vec<String> = signal_log(&ctx, &id)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["signal"]["kind"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert_eq!(kinds, ["session_started", "turn_ended", "question", "turn_ended", "error"]);
    ctx.json(&["terminate", &id, "--json"]);
}

/// Runs `agentpool __signal` with `args` and `stdin`, outside any pool.
fn signal(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(agentpool_bin())
        .arg("__signal")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run agentpool __signal");
    // A call that takes its payload as an argument, or is refused, exits without reading
    // stdin: the write may then meet a closed pipe, which is fine.
    let _ = child.stdin.take().expect("stdin").write_all(stdin.as_bytes());
    child.wait_with_output().expect("wait")
}

#[test]
fn the_signal_entry_appends_redacted_signals_and_refuses_what_is_not_a_hook_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("signals.jsonl");
    let log_s = log.to_str().expect("utf-8 path");

    // A payload on stdin; a secret in it never reaches the disk.
    let secret = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";
    let out = signal(&["fake-hooks", "stop", log_s], &format!(r#"{{"last_assistant_message": "key {secret}"}}"#));
    assert!(out.status.success(), "{}", describe(&out));
    let text = std::fs::read_to_string(&log).expect("log written");
    assert!(text.contains("turn_ended"), "{text}");
    assert!(!text.contains(secret), "the secret was logged: {text}");
    // A payload as the last argument (the way `notify` programs are called).
    let out = signal(&["fake-hooks", "notification", log_s, r#"{"notification_type": "permission"}"#], "");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&log).expect("log").lines().count(), 2);

    // What the channel does not understand, or a provider without one, logs nothing.
    for args in [
        vec!["fake-hooks", "stop", log_s, "not json"],
        vec!["fake-hooks", "some_other_hook", log_s, "{}"],
        vec!["fake-question", "stop", log_s, "{}"],
        vec!["no-such-provider", "stop", log_s, "{}"],
    ] {
        let out = signal(&args, "");
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
    }
    assert_eq!(std::fs::read_to_string(&log).expect("log").lines().count(), 2);

    // Not a hook call: usage, exit 2, nothing written anywhere.
    let elsewhere = dir.path().join("notes.txt");
    for args in [vec!["fake-hooks", "stop"], vec!["fake-hooks", "stop", elsewhere.to_str().expect("utf-8")]] {
        let out = signal(&args, "{}");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: agentpool __signal"), "{}", describe(&out));
    }
    let missing_dir = dir.path().join("gone").join("signals.jsonl");
    let out = signal(&["fake-hooks", "stop", missing_dir.to_str().expect("utf-8")], "{}");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!elsewhere.exists() && !missing_dir.exists());
}

#[test]
fn resume_continues_the_conversation_the_cli_reported_and_refuses_what_cannot_be_resumed() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-hooks", "Summarise the README.", &[]);
    assert_eq!(observe(&ctx, &id, "idle", "20", "summary")["event"], "idle");

    // A live worker is steered with send, not resumed.
    let live = ctx.error(&["resume", &id, "--json"], "INVALID_REQUEST");
    assert!(live["details"]["example"].as_str().unwrap_or("").contains("agentpool send"), "{live}");

    ctx.json(&["terminate", &id, "--json"]);
    let resumed = ctx.json(&["resume", &id, "--task", "Now list the open questions.", "--json"]);
    assert_eq!(resumed["resumed_from"], id.as_str(), "{resumed}");
    let new_id = resumed["session_id"].as_str().expect("session_id").to_owned();
    assert_ne!(new_id, id);
    let session = &resumed["session"];
    assert_eq!(session["provider_id"], "fake-hooks", "{resumed}");
    assert_eq!(session["repo_path"], ctx.session(&id)["repo_path"], "{resumed}");
    assert_eq!(session["metadata"]["resumed_from"], id.as_str(), "{resumed}");

    // The CLI was started on the old conversation, and says so through its signals.
    let idle = observe(&ctx, &new_id, "idle", "20", "summary");
    assert_eq!(idle["event"], "idle", "{idle}");
    assert_eq!(ctx.session(&new_id)["metadata"]["cli_session_id"], "fake-hooks-conversation-1");
    let screen = String::from_utf8_lossy(&ctx.tmux(&["capture-pane", "-p", "-t", &tmux_target(&ctx, &new_id)]).stdout)
        .into_owned();
    assert!(screen.contains("Resumed conversation fake-hooks-conversation-1."), "{screen}");
    assert!(screen.contains("Done: Now list the open questions."), "{screen}");
    ctx.json(&["terminate", &new_id, "--json"]);

    // A provider without a resume mode: a clear error, nothing spawned.
    let other = ctx.spawn_id("fake-completed", "Say done.", &[]);
    observe(&ctx, &other, "completed", "20", "summary");
    let before = ctx.session_total();
    let err = ctx.error(&["resume", &other, "--json"], "RESUME_UNSUPPORTED");
    assert_eq!(err["details"]["provider_id"], "fake-completed", "{err}");
    assert_eq!(ctx.session_total(), before, "a refused resume creates nothing");
    // Bad input, as everywhere.
    ctx.error(&["resume", "not-an-id", "--json"], "INVALID_SESSION_ID");
}

/// `session_name` of a session's tmux target, for capture-pane.
fn tmux_target(ctx: &TestContext, id: &str) -> String {
    format!("={}:", ctx.session(id)["tmux"]["session_name"].as_str().expect("tmux session name"))
}

#[test]
fn a_hook_call_records_its_event_and_notifies_without_anyone_observing() {
    let ctx = TestContext::new();
    let log = ctx.home().join("notified.jsonl");
    ctx.write_config(&format!(
        "[[notify]]\non = [\"idle\", \"question\"]\ncommand = \"{{ cat; echo; }} >> '{}'\"\n",
        log.display()
    ));
    let id = ctx.spawn_id("fake-hooks", "List the files.", &[]);
    // Nobody observes: the Stop hook's own call records the turn end and delivers it.
    let start = std::time::Instant::now();
    let notified = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let events: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if !events.is_empty() {
            break events;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "no notification arrived");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(notified[0]["session_id"], id.as_str(), "{notified:?}");
    assert_eq!(notified[0]["event"], "idle", "{notified:?}");
    let session = ctx.session(&id);
    assert_eq!(session["state"], "IDLE", "recorded in the store: {session}");
    assert!(ctx.event_types(&id).iter().any(|t| t == "observe:idle"), "{:?}", ctx.event_types(&id));
    // An observe afterwards sees the same turn end and notifies nothing again.
    assert_eq!(observe(&ctx, &id, "idle", "5", "summary")["event"], "idle");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let again = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(again.lines().filter(|l| !l.trim().is_empty()).count(), 1, "{again}");
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn a_worktree_session_resumes_in_its_own_worktree_which_stays_while_the_resumed_one_runs() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-hooks", "Sketch the change.", &["--isolation", "worktree"]);
    assert_eq!(observe(&ctx, &id, "idle", "20", "summary")["event"], "idle");
    let wt = ctx.session(&id)["worktree_path"].as_str().expect("a worktree").to_owned();
    ctx.json(&["terminate", &id, "--json"]);

    let resumed = ctx.json(&["resume", &id, "--json"]);
    let new_id = resumed["session_id"].as_str().expect("session_id").to_owned();
    assert_eq!(observe(&ctx, &new_id, "idle", "20", "summary")["event"], "idle");
    let new = ctx.session(&new_id);
    assert_eq!(new["worktree_path"], wt.as_str(), "the same worktree: {new}");
    assert_eq!(new["metadata"]["worktree_reused"], wt.as_str(), "{new}");
    assert_eq!(new["metadata"]["worktree_branch"], ctx.session(&id)["metadata"]["worktree_branch"], "{new}");

    // The ended session's worktree is the running one's too: not removable yet.
    let err = ctx.error(&["worktrees", "cleanup", "--session-id", &id, "--force", "--json"], "WORKTREE_ACTIVE");
    assert_eq!(err["details"]["used_by"], new_id.as_str(), "{err}");
    assert!(std::path::Path::new(&wt).is_dir());
    ctx.json(&["terminate", &new_id, "--json"]);
    let done = ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--force", "--json"]);
    assert_eq!(done["removed"], true, "{done}");
}

#[test]
fn an_answer_waits_for_the_question_a_hook_announced_before_it_was_drawn() {
    let ctx = TestContext::new();
    ctx.write_config("[policy]\nallow_raw_keys = true\n");
    let id = ctx.spawn_id("fake-hooks", "List the files.", &[]);
    assert_eq!(observe(&ctx, &id, "idle", "20", "summary")["event"], "idle");

    // The question hook fires first; the question is drawn 0.8 s later, and what was typed
    // before that is dropped (as a TUI opening a dialog drops it).
    ctx.json(&["send", &id, "Please ask me late which database to use.", "--json"]);
    let q = observe(&ctx, &id, "question", "20", "summary");
    assert_eq!(q["event"], "question", "{q}");
    assert_eq!(q["metadata"]["signal"]["kind"], "question", "decided by the hook: {q}");

    // Answered at once: `send` waits until the question is on screen, so the answer arrives.
    let sent = ctx.json(&["send", &id, "sqlite", "--json"]);
    assert_eq!(sent["ok"], true, "{sent}");
    let events = ctx.events(&id);
    let ev = events.iter().rev().find(|e| e["event_type"] == "send_message").expect("send_message event");
    assert_eq!(ev["metadata"]["dialog_drawn"], true, "{ev}");
    let idle = observe(&ctx, &id, "idle", "10", "summary");
    assert_eq!(idle["event"], "idle", "the answer was not lost: {idle}");
    let events = ctx.events(&id);
    let ev = events.iter().rev().find(|e| e["event_type"] == "observe:idle").expect("observe:idle event");
    assert_eq!(ev["excerpt"], "Done: sqlite", "{ev}");

    // Keys wait the same way; with nothing announced by a signal there is nothing to wait for.
    ctx.json(&["send", &id, "Please ask me late again.", "--json"]);
    assert_eq!(observe(&ctx, &id, "question", "20", "summary")["event"], "question");
    ctx.json(&["keys", &id, "p", "g", "Enter", "--json"]);
    let events = ctx.events(&id);
    let ev = events.iter().rev().find(|e| e["event_type"] == "send_keys").expect("send_keys event");
    assert_eq!(ev["metadata"]["dialog_drawn"], true, "{ev}");
    let idle = observe(&ctx, &id, "idle", "10", "summary");
    assert_eq!(idle["event"], "idle", "the keys were not lost: {idle}");
    let events = ctx.events(&id);
    let ev = events.iter().rev().find(|e| e["event_type"] == "observe:idle").expect("observe:idle event");
    assert_eq!(ev["excerpt"], "Done: pg", "{ev}");
    ctx.json(&["keys", &id, "Escape", "--json"]);
    let events = ctx.events(&id);
    let ev = events.iter().rev().find(|e| e["event_type"] == "send_keys").expect("send_keys event");
    assert!(ev["metadata"].get("dialog_drawn").is_none(), "an idle worker is not waited on: {ev}");
    ctx.json(&["terminate", &id, "--json"]);
}
