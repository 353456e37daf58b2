//! Many `agentpool` processes at once against one home: no lost sessions, no lost events, the
//! parallel-session limit holds exactly.

use std::collections::HashSet;
use std::process::Child;

use agentpool_tests::{TestContext, assert_no_panic, describe, parse_json};
use serde_json::Value;

/// Starts `n` `agentpool spawn` processes at once, then waits for all of them.
fn spawn_in_parallel(ctx: &TestContext, provider: &str, n: usize) -> Vec<(Option<i32>, Value)> {
    let repo = ctx.repo_str();
    let children: Vec<(Vec<String>, Child)> = (0..n)
        .map(|i| {
            let task = format!("Parallel worker number {i}: keep working.");
            let args: Vec<String> = ["spawn", "--provider", provider, "--repo", &repo, "--task", &task, "--json"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let child = ctx.command(&argv).spawn().expect("start agentpool spawn");
            (args, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(args, child)| {
            let out = child.wait_with_output().expect("wait for agentpool spawn");
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_no_panic(&argv, &out);
            let v = parse_json(&argv, &out);
            (out.status.code(), v)
        })
        .collect()
}

#[test]
fn twenty_parallel_spawns_all_succeed_with_distinct_sessions() {
    let ctx = TestContext::new();
    ctx.write_config("[policy]\nmax_parallel_sessions = 25\n");
    let results = spawn_in_parallel(&ctx, "fake-idle", 20);
    let mut ids = HashSet::new();
    for (code, v) in &results {
        assert_eq!(*code, Some(0), "a parallel spawn failed: {v}");
        let id = v["session_id"].as_str().expect("session_id").to_owned();
        assert!(ids.insert(id), "duplicate session id: {v}");
    }
    assert_eq!(ids.len(), 20);

    let all = ctx.json(&["sessions", "--all", "--json"]);
    assert_eq!(all["pagination"]["total"], 20, "{all}");
    let listed: HashSet<String> =
        all["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, ids);

    // Each session has its own tmux session and its own spawn event.
    let tmux: HashSet<String> = ctx.tmux_sessions().into_iter().collect();
    assert_eq!(tmux.len(), 20, "{tmux:?}");
    for id in &ids {
        let types = ctx.event_types(id);
        assert_eq!(types.iter().filter(|t| *t == "spawn").count(), 1, "{id}: {types:?}");
    }

    // Terminate them all at once too.
    let terminators: Vec<(String, Child)> = ids
        .iter()
        .map(|id| (id.clone(), ctx.command(&["terminate", id, "--json"]).spawn().expect("start terminate")))
        .collect();
    for (id, child) in terminators {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "terminate {id} failed:\n{}", describe(&out));
    }
    for id in &ids {
        assert_eq!(ctx.session(id)["state"], "CANCELLED", "{id}");
    }
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}

#[test]
fn observe_and_send_from_two_processes_on_one_session() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-question", "Pick the first area to inspect.", &[]);
    // Processes A1..A3 wait for completion for the whole conversation. They race each other
    // and B for every state write; none may give up early on another's half-drawn screen.
    let waiters: Vec<Child> = (0..3)
        .map(|_| {
            ctx.command(&["observe", &id, "--wait-for", "completed", "--timeout", "20", "--json"]).spawn().unwrap()
        })
        .collect();
    // Process B sees the question and answers it while A is still waiting.
    let q = ctx.json(&["observe", &id, "--wait-for", "question", "--timeout", "20", "--json"]);
    assert_eq!(q["event"], "question", "{q}");
    let sent = ctx.json(&["send", &id, "Inspect migrations first.", "--json"]);
    assert_eq!(sent["ok"], true, "{sent}");

    for waiter in waiters {
        let out = waiter.wait_with_output().unwrap();
        assert!(out.status.success(), "waiting observe failed:\n{}", describe(&out));
        let a = parse_json(&["observe"], &out);
        assert_eq!(a["state"], "COMPLETED", "{a}");
        assert_eq!(a["event"], "completed", "{a}");
    }

    let types = ctx.event_types(&id);
    assert_eq!(types.iter().filter(|t| *t == "send_message").count(), 1, "{types:?}");
    assert!(types.iter().any(|t| t == "observe:completed"), "{types:?}");
    let s = ctx.session(&id);
    assert_eq!(s["state"], "COMPLETED", "{s}");
    assert_eq!(s["metadata"]["turns_sent"], 1, "{s}");
    // Every event reached the file exactly once and in id order, whoever wrote it: the line is
    // appended while the database insert still holds the write lock.
    let ids: Vec<i64> = ctx.events(&id).iter().map(|e| e["event_id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "events.jsonl out of order or repeated: {ids:?}");
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn parallel_spawns_never_exceed_max_parallel_sessions() {
    let ctx = TestContext::new();
    ctx.write_config("[policy]\nmax_parallel_sessions = 3\n");
    let results = spawn_in_parallel(&ctx, "fake-idle", 10);
    let ok: Vec<&Value> = results.iter().filter(|(c, _)| *c == Some(0)).map(|(_, v)| v).collect();
    let refused: Vec<&Value> = results.iter().filter(|(c, _)| *c != Some(0)).map(|(_, v)| v).collect();
    assert_eq!(ok.len(), 3, "{results:?}");
    assert_eq!(refused.len(), 7, "{results:?}");
    for (code, v) in &results {
        if *code != Some(0) {
            assert_eq!(*code, Some(1), "{v}");
            assert_eq!(v["error"]["code"], "POLICY_BLOCKED", "{v}");
            assert_eq!(v["error"]["details"]["policy"], "max_parallel_sessions", "{v}");
            assert_eq!(v["error"]["details"]["max_parallel_sessions"], 3, "{v}");
        }
    }
    assert_eq!(ctx.session_total(), 3, "refused spawns must not be recorded");
    assert_eq!(ctx.tmux_sessions().len(), 3);
    // Only the accepted sessions have artifact directories.
    let roots: Vec<_> = std::fs::read_dir(ctx.home().join("artifacts")).unwrap().collect();
    assert_eq!(roots.len(), 1);
    let dirs = std::fs::read_dir(roots[0].as_ref().unwrap().path()).unwrap().count();
    assert_eq!(dirs, 3);
    for v in ok {
        ctx.json(&["terminate", v["session_id"].as_str().unwrap(), "--json"]);
    }
}

#[test]
fn parallel_sends_never_exceed_max_turns() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "Wait for follow-ups.", &["--max-turns", "2"]);
    let senders: Vec<Child> =
        (0..6).map(|i| ctx.command(&["send", &id, &format!("Follow-up {i}."), "--json"]).spawn().unwrap()).collect();
    let results: Vec<(Option<i32>, Value)> = senders
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert_no_panic(&["send"], &out);
            (out.status.code(), parse_json(&["send"], &out))
        })
        .collect();
    let ok = results.iter().filter(|(c, _)| *c == Some(0)).count();
    assert_eq!(ok, 2, "exactly max_turns sends land: {results:?}");
    for (code, v) in results.iter().filter(|(c, _)| *c != Some(0)) {
        assert_eq!((*code, &v["error"]["code"]), (Some(1), &Value::from("TURN_LIMIT_REACHED")), "{v}");
        assert_eq!(v["error"]["details"]["max_turns"], 2, "{v}");
    }
    let s = ctx.session(&id);
    assert_eq!(s["metadata"]["turns_sent"], 2, "{s}");
    let types = ctx.event_types(&id);
    assert_eq!(types.iter().filter(|t| *t == "send_message").count(), 2, "{types:?}");
    ctx.json(&["terminate", &id, "--json"]);
}
