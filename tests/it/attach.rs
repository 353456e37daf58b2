//! The human at a terminal. `attach` attaches: in a terminal it hands the terminal to the
//! worker's tmux session (a nested client from another tmux, `switch-client` from a client of
//! the worker's own server); `--print`, `--json` or a non-terminal stdout print the command
//! instead. Human output shows ages and a diffstat, coloured only on a terminal without
//! `NO_COLOR`. Terminals here are panes of private tmux servers this test starts and kills.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use agentpool_tests::{TestContext, agentpool_bin, describe, random_hex, remove_socket_file};

/// A tmux server of this test's own (`ap-view-<random>`), killed when dropped.
pub(crate) struct Viewer {
    socket: String,
}

impl Viewer {
    pub(crate) fn new() -> Self {
        Self { socket: format!("ap-view-{}", random_hex(10)) }
    }

    pub(crate) fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        // The test binary is this user's own file: its owner is the uid tmux files sockets under.
        if let Ok(exe) = std::env::current_exe() {
            remove_socket_file(&self.socket, &exe);
        }
    }
}

pub(crate) fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `check` until it holds or 15 s pass.
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> Option<String>) -> String {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `KEY=value …` for a shell line run in a pane: this context's pool.
pub(crate) fn pool_env(ctx: &TestContext) -> String {
    format!(
        "AGENTPOOL_HOME='{}' AGENTPOOL_TMUX_SOCKET='{}' HOME='{}' NO_COLOR=1",
        ctx.home().display(),
        ctx.socket(),
        ctx.home().display()
    )
}

#[test]
fn attach_prints_without_a_terminal_and_attaches_in_one() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "Wait here until someone looks.", &[]);
    let info = ctx.json(&["attach", &id, "--json"]);
    let name = info["tmux_session"].as_str().unwrap().to_owned();
    let command = info["attach_command"].as_str().unwrap().to_owned();
    assert!(command.contains(ctx.socket()) && command.contains(&name), "{info}");
    // No terminal (stdout is a pipe): the command is printed, as before.
    let out = ctx.cmd(&["attach", &id]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(text(&out), format!("{command}\n"));

    // From a terminal of another tmux server: a nested client of the worker's server.
    let viewer = Viewer::new();
    let line = format!("{} {} attach {id}", pool_env(&ctx), agentpool_bin().display());
    let started = viewer.tmux(&["new-session", "-d", "-s", "view", "-x", "120", "-y", "40", &line]);
    assert!(started.status.success(), "{}", describe(&started));
    let clients = || {
        let out = ctx.tmux(&["list-clients", "-F", "#{client_session}"]);
        Some(text(&out)).filter(|t| t.lines().any(|l| l == name))
    };
    eventually("a client attached to the worker's session", clients);
    // The viewer's pane now shows the worker's screen.
    let pane = info["pane_target"].as_str().unwrap();
    let worker_screen = text(&ctx.tmux(&["capture-pane", "-p", "-t", pane]));
    let marker = worker_screen.lines().map(str::trim).find(|l| l.len() > 8).unwrap_or_default().to_owned();
    assert!(!marker.is_empty(), "the worker printed nothing: {worker_screen:?}");
    eventually("the worker's screen in the viewer", || {
        let shown = text(&viewer.tmux(&["capture-pane", "-p", "-t", "view"]));
        shown.contains(&marker).then_some(shown)
    });
    // Detaching ends the attach; the worker keeps running.
    let detached = ctx.tmux(&["detach-client", "-s", &format!("={name}")]);
    assert!(detached.status.success(), "{}", describe(&detached));
    eventually("the attach to end", || {
        let out = ctx.tmux(&["list-clients", "-F", "#{client_session}"]);
        (!text(&out).lines().any(|l| l == name)).then(String::new)
    });
    assert!(ctx.tmux_sessions().contains(&name));
    let s = ctx.session(&id);
    assert!(["RUNNING", "READY", "IDLE", "AWAITING_USER_INPUT"].contains(&s["state"].as_str().unwrap()), "{s}");

    // From a client of the worker's own server: that client switches to the worker.
    let outer = Viewer::new();
    let client_line = format!("tmux -L {} -f /dev/null new-session -s desk", ctx.socket());
    let started = outer.tmux(&["new-session", "-d", "-s", "outer", "-x", "120", "-y", "40", &client_line]);
    assert!(started.status.success(), "{}", describe(&started));
    eventually("a client on the desk session", || {
        let out = ctx.tmux(&["list-clients", "-F", "#{client_session}"]);
        text(&out).lines().any(|l| l == "desk").then(String::new)
    });
    let typed = format!("{} {} attach {id}", pool_env(&ctx), agentpool_bin().display());
    let sent = ctx.tmux(&["send-keys", "-t", "=desk:", &typed, "Enter"]);
    assert!(sent.status.success(), "{}", describe(&sent));
    eventually("the desk client switched to the worker", || {
        let out = ctx.tmux(&["list-clients", "-F", "#{client_session}"]);
        let t = text(&out);
        (t.lines().any(|l| l == name) && !t.lines().any(|l| l == "desk")).then_some(t)
    });

    // A worker that is gone: a clear error, not tmux's.
    ctx.json(&["terminate", &id, "--json"]);
    let line = format!("{} {} attach {id}; echo rc=$?; sleep 30", pool_env(&ctx), agentpool_bin().display());
    let started = viewer.tmux(&["new-session", "-d", "-s", "gone", "-x", "160", "-y", "20", &line]);
    assert!(started.status.success(), "{}", describe(&started));
    let shown = eventually("the refusal", || {
        let shown = text(&viewer.tmux(&["capture-pane", "-p", "-J", "-t", "gone"]));
        shown.contains("rc=").then_some(shown)
    });
    assert!(shown.contains("rc=1") && shown.contains("nothing to attach to"), "{shown}");
}

#[test]
fn human_output_has_ages_a_diffstat_and_colour_only_on_a_terminal() {
    let ctx = TestContext::new();
    std::fs::write(ctx.repo().join("notes.txt"), "one\ntwo\n").unwrap();
    ctx.git(&["add", "notes.txt"]);
    ctx.git(&["commit", "-q", "-m", "notes"]);
    let id = ctx.spawn_id("fake-idle", "Edit the notes.", &[]);
    std::fs::write(ctx.repo().join("notes.txt"), "one\n2\nthree\n").unwrap();

    let out = ctx.cmd(&["collect", &id, "--detail", "excerpt"]);
    assert!(out.status.success(), "{}", describe(&out));
    let shown = text(&out);
    assert!(shown.contains("--- changed files ---\n notes.txt | 3 ++-\n"), "{shown}");
    assert!(shown.contains(" 1 file changed, 2 insertions(+), 1 deletion(-)\n"), "{shown}");
    let out = ctx.cmd(&["sessions"]);
    let listed = text(&out);
    assert!(listed.contains("s ago") || listed.contains("m ago"), "{listed}");
    assert!(!listed.contains('\x1b') && !shown.contains('\x1b'), "no colour into a pipe");

    // On a terminal the state is coloured, unless NO_COLOR says no.
    let viewer = Viewer::new();
    for (name, no_color) in [("colour", ""), ("plain", "NO_COLOR=1 ")] {
        let line = format!(
            "env -u NO_COLOR {} {no_color}{} sessions; sleep 30",
            pool_env(&ctx).replace(" NO_COLOR=1", ""),
            agentpool_bin().display()
        );
        let started = viewer.tmux(&["new-session", "-d", "-s", name, "-x", "160", "-y", "20", &line]);
        assert!(started.status.success(), "{}", describe(&started));
        let screen = eventually("the session list", || {
            let shown = text(&viewer.tmux(&["capture-pane", "-p", "-e", "-t", name]));
            shown.contains(" of 1 sessions").then_some(shown)
        });
        assert_eq!(
            screen.contains("\x1b[36mRUNNING") || screen.contains("\x1b[36mREADY"),
            no_color.is_empty(),
            "{name}: {screen:?}"
        );
    }
    ctx.json(&["terminate", &id, "--json"]);
}
