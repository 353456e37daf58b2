//! Faults the session engine must survive (findings: reliability C1, C2, K1, K2; real CLIs
//! F1): a worker that exits before its first paste, sessions looked up on another socket,
//! terminates racing observers, and spawns killed at random moments.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use agentpool_tests::{TestContext, describe};
use serde_json::Value;

/// A custom provider that prints a line and exits with `code`, after reading `lines` lines.
fn quitter(ctx: &TestContext, id: &str, lines: usize, code: i32) -> String {
    let script = ctx.home().join(format!("{id}.sh"));
    let reads = "IFS= read -r line || true\n".repeat(lines);
    std::fs::write(&script, format!("{reads}echo '{id} is quitting'\nexit {code}\n")).unwrap();
    format!("[[custom_providers]]\nid = \"{id}\"\ncommand = [\"/bin/sh\", \"{}\"]\n", script.display())
}

fn tmux_session_of(ctx: &TestContext, id: &str) -> String {
    ctx.session(id)["tmux"]["session_name"].as_str().unwrap_or_default().to_owned()
}

fn alive_on_socket(ctx: &TestContext, name: &str) -> bool {
    ctx.tmux_sessions().iter().any(|s| s == name)
}

#[test]
fn a_worker_that_exits_before_its_prompt_is_reported_and_spares_the_socket() {
    let ctx = TestContext::new();
    ctx.write_config(&format!("{}{}", quitter(&ctx, "quitter", 0, 3), quitter(&ctx, "late-quitter", 1, 4)));
    let keep: Vec<String> = (0..2).map(|i| ctx.spawn_id("fake-idle", &format!("idle {i}"), &[])).collect();
    let names: Vec<String> = keep.iter().map(|id| tmux_session_of(&ctx, id)).collect();

    // Pasting the task into the exited pane used to crash tmux 3.3's server, and every worker
    // on the socket with it.
    let repo = ctx.repo_str();
    let err =
        ctx.error(&["spawn", "--provider", "quitter", "--repo", &repo, "--task", "hi", "--json"], "WORKER_EXITED");
    assert_eq!(err["details"]["exit_status"], 3, "{err}");
    assert!(err["details"]["final_screen"].as_str().unwrap().contains("quitter is quitting"), "{err}");
    for (id, name) in keep.iter().zip(&names) {
        assert!(alive_on_socket(&ctx, name), "{id} survived: {:?}", ctx.tmux_sessions());
        assert_eq!(ctx.session(id)["state"], "RUNNING", "{id}");
    }

    // A worker that reads its task and exits: a later message is refused with its exit.
    let id = ctx.spawn_id("late-quitter", "read me", &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        let out = ctx.cmd(&["send", &id, "are you there", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if v["error"]["code"] == "WORKER_EXITED" || Instant::now() > deadline {
            break v["error"].clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(err["code"], "WORKER_EXITED", "{err}");
    assert_eq!(err["details"]["exit_status"], 4, "{err}");
    assert!(err["details"]["final_screen"].as_str().unwrap().contains("late-quitter is quitting"), "{err}");
    for name in &names {
        assert!(alive_on_socket(&ctx, name), "{name} survived: {:?}", ctx.tmux_sessions());
    }
    let err = ctx.error(&["interrupt", &id, "--json"], "WORKER_EXITED");
    assert_eq!(err["details"]["exit_status"], 4, "{err}");
}

#[test]
fn sessions_are_found_on_the_socket_they_recorded() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "idle", &[]);
    let name = tmux_session_of(&ctx, &id);
    let elsewhere = |args: &[&str]| -> Value {
        let out = ctx.command(args).env("AGENTPOOL_TMUX_SOCKET", format!("{}-other", ctx.socket())).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // A caller on another socket neither calls the worker gone nor misses it.
    let listed = elsewhere(&["sessions", "--json"]);
    assert_eq!(listed["sessions"][0]["state"], "RUNNING", "{listed}");
    let seen = elsewhere(&["observe", &id, "--json"]);
    assert_eq!(seen["state"], "RUNNING", "{seen}");
    assert!(alive_on_socket(&ctx, &name));
    let ended = elsewhere(&["terminate", &id, "--json"]);
    assert_eq!((ended["state"].as_str(), ended["already_terminated"].as_bool()), (Some("CANCELLED"), Some(false)));
    assert!(!alive_on_socket(&ctx, &name), "terminated on its own socket: {:?}", ctx.tmux_sessions());
    assert!(ctx.event_types(&id).iter().all(|t| t != "reconcile_dead_tmux"), "{:?}", ctx.event_types(&id));
}

fn start(ctx: &TestContext, args: &[&str]) -> Child {
    ctx.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start agentpool")
}

#[test]
fn terminate_racing_observers_ends_the_session_once_and_for_good() {
    let ctx = TestContext::new();
    for trial in 0..3 {
        let id = ctx.spawn_id("fake-idle", &format!("idle {trial}"), &[]);
        let observers: Vec<Child> = (0..6)
            .map(|_| start(&ctx, &["observe", &id, "--wait-for", "completed", "--timeout", "3", "--json"]))
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        let terminators: Vec<Child> = (0..3).map(|_| start(&ctx, &["terminate", &id, "--json"])).collect();
        let mut first = 0;
        for t in terminators {
            let out = t.wait_with_output().unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", describe(&out)));
            assert_eq!(v["state"], "CANCELLED", "trial {trial}: {v}");
            if v["already_terminated"] == false {
                first += 1;
            }
        }
        for o in observers {
            let _ = o.wait_with_output();
        }
        ctx.json(&["sessions", "--json"]); // reconcile
        assert_eq!(first, 1, "trial {trial}: exactly one terminate ended the worker");
        assert_eq!(ctx.session(&id)["state"], "CANCELLED", "trial {trial}");
        let events = ctx.events(&id);
        let at = events.iter().position(|e| e["event_type"] == "terminate").unwrap();
        let after: Vec<String> = events[at + 1..]
            .iter()
            .map(|e| format!("{}:{}", e["event_type"].as_str().unwrap_or(""), e["state"].as_str().unwrap_or("")))
            .collect();
        assert!(after.is_empty(), "trial {trial}: nothing changes a terminated session: {after:?}");
        assert_eq!(events.iter().filter(|e| e["event_type"] == "terminate").count(), 1);
    }
}

#[test]
fn spawns_killed_at_any_moment_leave_no_orphan_and_no_live_worker_called_dead() {
    let ctx = TestContext::new();
    ctx.write_config("[policy]\nmax_parallel_sessions = 200\n");
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = seed | 1;
    let repo = ctx.repo_str();
    for i in 0..16 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(rng % 160);
        let mut child = ctx
            .command(&["spawn", "--provider", "fake-question", "--repo", &repo, "--task", &format!("q {i}"), "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
    }
    // Let any spawn that finished settle, then reconcile twice (the second must change nothing).
    std::thread::sleep(Duration::from_millis(300));
    ctx.json(&["sessions", "--all", "--json"]);
    let listed = ctx.json(&["sessions", "--all", "--json"]);
    let alive = ctx.tmux_sessions();
    let mut live_names = Vec::new();
    for s in listed["sessions"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let state = s["state"].as_str().unwrap();
        let name = s["tmux"]["session_name"].as_str().unwrap_or_default().to_owned();
        let running = !name.is_empty() && alive.contains(&name);
        match state {
            "FAILED" | "CANCELLED" | "COMPLETED" => {
                let pane_alive = running && {
                    let out = ctx.tmux(&["display-message", "-p", "-t", &format!("={name}:"), "#{pane_dead}"]);
                    String::from_utf8_lossy(&out.stdout).trim() == "0"
                };
                assert!(
                    !pane_alive,
                    "seed {seed}: {id} is {state} but its worker {name} still runs: {:?}",
                    ctx.event_types(id)
                );
            }
            _ => {
                assert!(running, "seed {seed}: {id} is {state} but has no worker");
                assert_ne!(s["metadata"]["launch_pending"], true, "seed {seed}: {id} never finished launching: {s}");
                live_names.push(name);
            }
        }
    }
    for name in alive {
        let out = ctx.tmux(&["display-message", "-p", "-t", &format!("={name}:"), "#{pane_dead}"]);
        let pane_alive = String::from_utf8_lossy(&out.stdout).trim() == "0";
        assert!(!pane_alive || live_names.contains(&name), "seed {seed}: worker {name} belongs to no live session");
    }
    // Whatever is live can be ended.
    for name in &live_names {
        let id = listed["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["tmux"]["session_name"] == name.as_str())
            .and_then(|s| s["id"].as_str())
            .unwrap()
            .to_owned();
        ctx.json(&["terminate", &id, "--json"]);
    }
    for name in ctx.tmux_sessions() {
        let out = ctx.tmux(&["display-message", "-p", "-t", &format!("={name}:"), "#{pane_dead}"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1", "seed {seed}: {name} still runs");
    }
}

#[test]
fn each_worker_runs_with_the_environment_of_the_call_that_spawned_it() {
    let ctx = TestContext::new();
    let script = ctx.home().join("env.sh");
    std::fs::write(
        &script,
        "echo \"HOME=$HOME FROM_SHELL=${FROM_SHELL:-unset} FROM_CONFIG=${FROM_CONFIG:-unset} FROM_FLAG=${FROM_FLAG:-unset} POOL=${AGENTPOOL_HOME:-unset} SID=${AGENTPOOL_SESSION_ID:-unset}\"\nwhile IFS= read -r line; do :; done\n",
    )
    .unwrap();
    ctx.write_config(&format!(
        "[[custom_providers]]\nid = \"env-echo\"\ncommand = [\"/bin/sh\", \"{}\"]\n\n[providers.env-echo]\nenv = {{ FROM_CONFIG = \"cfg\" }}\n",
        script.display()
    ));
    let repo = ctx.repo_str();
    let spawn = |home: &str, shell_var: Option<&str>, extra: &[&str]| -> String {
        let mut args = vec!["spawn", "--provider", "env-echo", "--repo", &repo, "--task", "print env", "--json"];
        args.extend(extra);
        let mut c = ctx.command(&args);
        c.env("HOME", home);
        match shell_var {
            Some(v) => c.env("FROM_SHELL", v),
            None => c.env_remove("FROM_SHELL"),
        };
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["session_id"].as_str().unwrap().to_owned()
    };
    let h1 = ctx.home().join("h1").display().to_string();
    let h2 = ctx.home().join("h2").display().to_string();
    // The first call starts the tmux server; the second must not run with its environment.
    let a = spawn(&h1, Some("one"), &[]);
    let b = spawn(
        &h2,
        None,
        &["--env", "FROM_FLAG=flag", "--env", "FROM_CONFIG=flag-wins", "--env", "UNPRINTED=zq-value-9"],
    );
    let line = |id: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = ctx.json(&["observe", id, "--detail", "full", "--json"]).to_string();
            if let Some(at) = screen.find("HOME=") {
                let rest = &screen[at..];
                return rest[..rest.find("SID=").map_or(rest.len(), |i| i + 19)].to_owned();
            }
            assert!(Instant::now() < deadline, "{id} printed nothing: {screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let (la, lb) = (line(&a), line(&b));
    assert!(
        la.starts_with(&format!("HOME={h1} FROM_SHELL=one FROM_CONFIG=cfg FROM_FLAG=unset POOL=unset SID=ap_")),
        "{la}"
    );
    assert!(
        lb.starts_with(&format!("HOME={h2} FROM_SHELL=unset FROM_CONFIG=flag-wins FROM_FLAG=flag POOL=unset SID=ap_")),
        "{lb}"
    );
    // Names are recorded, values never.
    let meta = &ctx.session(&b)["metadata"];
    assert_eq!(meta["env_keys"], serde_json::json!(["FROM_CONFIG", "FROM_FLAG", "UNPRINTED"]), "{meta}");
    let db = std::fs::read(ctx.home().join("agentpool.sqlite")).unwrap();
    assert!(!db.windows(b"zq-value-9".len()).any(|w| w == b"zq-value-9"), "an env value reached the database");
    // Bad names are refused before anything starts.
    assert_eq!(
        ctx.cmd(&["spawn", "--provider", "env-echo", "--task", "x", "--env", "AGENTPOOL_HOME=/x", "--json"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        ctx.cmd(&["spawn", "--provider", "env-echo", "--task", "x", "--env", "NOEQUALS", "--json"]).status.code(),
        Some(2)
    );
}
