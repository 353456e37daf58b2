//! `agentpool watch` in a real terminal (a pane of a private tmux server this test starts):
//! sessions appear and change state live, Enter attaches and detaching comes back, `t` asks
//! before it terminates, `q` quits; looking never changes a worker's state. Off a terminal it
//! refuses with a JSON error envelope.

use agentpool_tests::{TestContext, agentpool_bin, describe};

use crate::attach::{Viewer, eventually, pool_env, text};

#[test]
fn watch_follows_sessions_live_attaches_and_terminates() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-question", "Pick the first area to inspect.", &[]);
    let viewer = Viewer::new();
    let line = format!("{} {} watch; echo rc=$?; sleep 30", pool_env(&ctx), agentpool_bin().display());
    let started = viewer.tmux(&["new-session", "-d", "-s", "watch", "-x", "80", "-y", "24", &line]);
    assert!(started.status.success(), "{}", describe(&started));
    let screen = || text(&viewer.tmux(&["capture-pane", "-p", "-t", "watch"]));
    let row_of = |shown: &str| shown.lines().find(|l| l.contains(&id)).map(str::to_owned);
    let shown = eventually("the session in the dashboard", || row_of(&screen()));
    assert!(shown.contains("fake-question"), "{shown}");

    // Looking changes nothing: the dashboard never observes.
    std::thread::sleep(std::time::Duration::from_millis(600));
    let types = ctx.event_types(&id);
    assert!(!types.iter().any(|t| t.starts_with("observe:")), "watch observed: {types:?}");

    // A change made elsewhere shows up without a key press.
    let q = ctx.json(&["observe", &id, "--wait-for", "question", "--timeout", "20", "--json"]);
    assert_eq!(q["state"], "AWAITING_USER_INPUT", "{q}");
    let row = eventually("the question in the dashboard", || {
        row_of(&screen()).filter(|r| r.contains("AWAITING_USER_INPUT") && r.contains("ASK"))
    });
    assert!(row.contains("question"), "{row}");
    assert!(screen().contains("1 need you"), "{}", screen());

    // Enter attaches this terminal to the worker; detaching returns to the dashboard.
    let name = ctx.json(&["attach", &id, "--json"])["tmux_session"].as_str().unwrap().to_owned();
    let sent = viewer.tmux(&["send-keys", "-t", "watch", "Enter"]);
    assert!(sent.status.success(), "{}", describe(&sent));
    eventually("a client attached to the worker", || {
        let out = ctx.tmux(&["list-clients", "-F", "#{client_session}"]);
        Some(text(&out)).filter(|t| t.lines().any(|l| l == name))
    });
    let detached = ctx.tmux(&["detach-client", "-s", &format!("={name}")]);
    assert!(detached.status.success(), "{}", describe(&detached));
    eventually("the dashboard again", || Some(screen()).filter(|s| s.contains(&format!("detached from {id}"))));
    assert!(ctx.tmux_sessions().contains(&name), "detaching must leave the worker running");

    // `t` asks first; anything but `y` keeps the worker.
    viewer.tmux(&["send-keys", "-t", "watch", "t"]);
    eventually("the confirmation", || Some(screen()).filter(|s| s.contains(&format!("terminate {id}? y/n"))));
    viewer.tmux(&["send-keys", "-t", "watch", "n"]);
    eventually("the refusal", || Some(screen()).filter(|s| s.contains("terminate cancelled")));
    assert_eq!(ctx.session(&id)["state"], "AWAITING_USER_INPUT");
    viewer.tmux(&["send-keys", "-t", "watch", "t"]);
    eventually("the confirmation", || Some(screen()).filter(|s| s.contains(&format!("terminate {id}? y/n"))));
    viewer.tmux(&["send-keys", "-t", "watch", "y"]);
    eventually("the terminated row", || row_of(&screen()).filter(|r| r.contains("CANCELLED")));
    assert_eq!(ctx.session(&id)["state"], "CANCELLED");
    assert!(!ctx.tmux_sessions().contains(&name));

    // `q` quits cleanly, leaving the normal screen.
    viewer.tmux(&["send-keys", "-t", "watch", "q"]);
    let after = eventually("watch to exit", || Some(screen()).filter(|s| s.contains("rc=")));
    assert!(after.contains("rc=0"), "{after}");
}

#[test]
fn watch_refuses_without_a_terminal() {
    let ctx = TestContext::new();
    let err = ctx.error(&["watch"], "INVALID_OUTPUT");
    assert!(err["message"].as_str().unwrap().contains("needs a terminal"), "{err}");
    let err = ctx.error(&["watch", "--scope", "everyone"], "INVALID_REQUEST");
    assert_eq!(err["details"]["scope"], "everyone", "{err}");
}
