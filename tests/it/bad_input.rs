//! Bad input: every refusal is one JSON error envelope with a stable code and exit 1 (or a
//! usage error with exit 2), never a panic, and a refused request writes nothing.

use agentpool_tests::{TestContext, describe, parse_json};
use serde_json::Value;

/// Session-scoped commands, with `{}` standing for the session id.
const SESSION_COMMANDS: &[&[&str]] = &[
    &["observe", "{}"],
    &["observe", "{}", "--wait-for", "completed", "--timeout", "1"],
    &["send", "{}", "Continue."],
    &["collect", "{}"],
    &["terminate", "{}"],
    &["terminate", "{}", "--dry-run"],
    &["interrupt", "{}"],
    &["interrupt", "{}", "--dry-run"],
    &["transcript", "{}"],
    &["transcript", "{}", "--tail-lines", "5"],
    &["artifacts", "{}"],
    &["attach", "{}"],
    &["session", "show", "{}"],
];

fn with_id<'a>(template: &[&'a str], id: &'a str) -> Vec<&'a str> {
    let mut args: Vec<&str> = template.iter().map(|a| if *a == "{}" { id } else { *a }).collect();
    args.push("--json");
    args
}

fn assert_nothing_written(ctx: &TestContext) {
    assert_eq!(ctx.session_total(), 0, "a refused request recorded a session");
    let artifacts = ctx.home().join("artifacts");
    let entries = std::fs::read_dir(&artifacts).map(Iterator::count).unwrap_or(0);
    assert_eq!(entries, 0, "a refused request created artifacts under {}", artifacts.display());
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new(), "a refused request started a tmux session");
}

#[test]
fn unknown_session_id_is_session_not_found_everywhere() {
    let ctx = TestContext::new();
    for template in SESSION_COMMANDS {
        let args = with_id(template, "ap_000000000000");
        let err = ctx.error(&args, "SESSION_NOT_FOUND");
        assert_eq!(err["details"]["session_id"], "ap_000000000000", "{args:?}: {err}");
    }
    assert_nothing_written(&ctx);
}

#[test]
fn path_like_session_id_is_invalid_session_id_everywhere() {
    let ctx = TestContext::new();
    for bad in ["../../etc/passwd", "ap_../../x", "ap_", "AP_000000000000", "ap_00 00"] {
        for template in SESSION_COMMANDS {
            ctx.error(&with_id(template, bad), "INVALID_SESSION_ID");
        }
    }
    assert_nothing_written(&ctx);
    assert!(!ctx.home().join("etc").exists());
}

#[test]
fn refused_spawns_write_nothing() {
    let ctx = TestContext::new();
    let repo = ctx.repo_str();
    let base = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = ["spawn", "--repo", repo.as_str(), "--json"].iter().map(|s| (*s).to_owned()).collect();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (base(&["--provider", "no-such-provider", "--task", "Do it."]), "PROVIDER_NOT_FOUND"),
        (base(&["--provider", "auto", "--task", "Do it."]), "POLICY_BLOCKED"),
        (base(&["--provider", "AUTO", "--task", "Do it."]), "POLICY_BLOCKED"),
        (base(&["--provider", "", "--task", "Do it."]), "POLICY_BLOCKED"),
        (base(&["--provider", "fake-idle", "--task", "   "]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--task", ""]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--task", "<task>"]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--task", "your task here"]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle"]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--role", "boss", "--task", "Do it."]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--isolation", "sandbox", "--task", "Do it."]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--supervision", "none", "--task", "Do it."]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--initial-prompt-mode", "stdin", "--task", "Do it."]), "INVALID_REQUEST"),
        (base(&["--provider", "fake-idle", "--max-turns", "0", "--task", "Do it."]), "INVALID_LIMIT"),
        (base(&["--provider", "fake-idle", "--max-turns", "-2", "--task", "Do it."]), "INVALID_LIMIT"),
        (base(&["--provider", "fake-idle", "--max-runtime-seconds", "0", "--task", "Do it."]), "INVALID_LIMIT"),
        (base(&["--provider", "fake-idle", "--runtime", "docker", "--task", "Do it."]), "RUNTIME_NOT_SUPPORTED"),
    ];
    for (args, code) in &cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        ctx.error(&argv, code);
    }
    // The repo check names the missing path.
    let err = ctx.error(
        &["spawn", "--provider", "fake-idle", "--repo", "/nonexistent/x", "--task", "Do it.", "--json"],
        "REPO_NOT_FOUND",
    );
    assert!(err["details"]["repo_path"].as_str().is_some_and(|p| p.contains("/nonexistent/x")), "{err}");
    let err = ctx
        .error(&["spawn", "--provider", "fake-idle", "--repo", &repo, "--task", "<task>", "--json"], "INVALID_REQUEST");
    assert_eq!(err["details"]["errors"][0]["loc"][0], "task", "{err}");
    // Task from stdin: empty or blank stdin, and both sources at once.
    for input in ["", "  \n\t\n"] {
        ctx.error_stdin(
            &["spawn", "--provider", "fake-idle", "--repo", &repo, "--task-stdin", "--json"],
            input,
            "INVALID_STDIN",
        );
    }
    ctx.error_stdin(
        &["spawn", "--provider", "fake-idle", "--repo", &repo, "--task", "Do it.", "--task-stdin", "--json"],
        "Do it too.",
        "INVALID_REQUEST",
    );
    // An unknown provider error lists the known ones.
    let err = ctx
        .error(&["spawn", "--provider", "nope", "--repo", &repo, "--task", "Do it.", "--json"], "PROVIDER_NOT_FOUND");
    assert!(
        err["details"]["known_providers"].as_array().is_some_and(|k| k.iter().any(|p| p == "fake-question")),
        "{err}"
    );
    assert_nothing_written(&ctx);
}

#[test]
fn invalid_options_on_a_live_session_are_refused_before_anything_happens() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "Keep working on the parser.", &[]);
    let before = ctx.events(&id).len();
    let cases: &[(&[&str], &str)] = &[
        (&["observe", "{}", "--wait-for", "finished"], "INVALID_WAIT_FOR"),
        (&["observe", "{}", "--wait-for", "question,finished", "--timeout", "1"], "INVALID_WAIT_FOR"),
        (&["observe", "{}", "--timeout", "-1"], "INVALID_TIMEOUT"),
        (&["observe", "{}", "--timeout", "1e12"], "INVALID_TIMEOUT"),
        (&["observe", "{}", "--timeout", "NaN"], "INVALID_TIMEOUT"),
        (&["observe", "{}", "--timeout", "inf"], "INVALID_TIMEOUT"),
        (&["observe", "{}", "--detail", "verbose"], "INVALID_DETAIL"),
        (&["collect", "{}", "--detail", "verbose"], "INVALID_DETAIL"),
        (&["transcript", "{}", "--limit", "0"], "INVALID_TRANSCRIPT_RANGE"),
        (&["transcript", "{}", "--limit", "200001"], "INVALID_TRANSCRIPT_RANGE"),
        (&["transcript", "{}", "--offset", "-1"], "INVALID_TRANSCRIPT_RANGE"),
        (&["transcript", "{}", "--tail-lines", "0"], "INVALID_TRANSCRIPT_RANGE"),
        (&["transcript", "{}", "--tail-lines", "3", "--offset", "5"], "INVALID_TRANSCRIPT_RANGE"),
        (&["keys", "{}", "Escape"], "POLICY_BLOCKED"),
        (&["send", "{}"], "INVALID_REQUEST"),
    ];
    for (template, code) in cases {
        let args = with_id(template, &id);
        let err = ctx.error(&args, code);
        if *code == "INVALID_WAIT_FOR" {
            assert_eq!(err["details"]["unknown"], serde_json::json!(["finished"]), "{err}");
            assert!(err["details"]["allowed"].as_array().is_some_and(|a| a.iter().any(|v| v == "question")), "{err}");
        }
        if args[0] == "keys" {
            assert_eq!(err["details"]["policy"], "allow_raw_keys", "{err}");
        }
    }
    for input in ["", "\n \n"] {
        ctx.error_stdin(&["send", &id, "--stdin", "--json"], input, "INVALID_STDIN");
    }
    assert_eq!(ctx.events(&id).len(), before, "a refused command stored an event");
    assert_eq!(ctx.session(&id)["state"], "RUNNING");
    assert!(ctx.session(&id)["metadata"].get("turns_sent").is_none(), "a refused send counted a turn");

    // Session listing pages.
    for args in [
        &["sessions", "--limit", "0", "--json"][..],
        &["sessions", "--limit", "501", "--json"],
        &["sessions", "--offset", "-1", "--json"],
        &["sessions", "--recent", "2", "--all", "--json"],
    ] {
        ctx.error(args, "INVALID_SESSION_PAGE");
    }
    ctx.error(&["sessions", "--state", "sleeping", "--json"], "INVALID_REQUEST");
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn unknown_flags_are_usage_errors_with_exit_2() {
    let ctx = TestContext::new();
    for args in [
        &["spawn", "--bogus"][..],
        &["spawn", "--provider", "fake-idle", "--task", "x", "--bogus"],
        &["observe"],
        &["no-such-command"],
        &["observe", "ap_000000000000", "--timeout", "soon"],
        &["sessions", "--limit", "many"],
    ] {
        // Human mode: clap's error on stderr, nothing on stdout.
        let out = ctx.cmd(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{}", describe(&out));
        assert!(out.stdout.is_empty(), "{args:?}:\n{}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "), "{args:?}:\n{}", describe(&out));

        // JSON mode: the same refusal as a USAGE_ERROR envelope on stdout.
        let mut json_args = args.to_vec();
        json_args.push("--json");
        let out = ctx.cmd(&json_args);
        assert_eq!(out.status.code(), Some(2), "{json_args:?}:\n{}", describe(&out));
        let v = parse_json(&json_args, &out);
        assert_eq!(v["error"]["code"], "USAGE_ERROR", "{v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    assert_nothing_written(&ctx);
}

#[test]
fn human_mode_errors_go_to_stderr_with_code_and_hint() {
    let ctx = TestContext::new();
    let out = ctx.cmd(&["observe", "ap_000000000000"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error[SESSION_NOT_FOUND]: "), "{stderr}");
    // A person gets a command for people: the same next step, without `--json`.
    assert!(stderr.contains("hint: agentpool sessions\n"), "{stderr}");
    let json = ctx.error(&["observe", "ap_000000000000", "--json"], "SESSION_NOT_FOUND");
    assert_eq!(json["details"]["example"], "agentpool sessions --json", "agents keep the JSON form");
}

#[test]
fn raw_keys_when_policy_allows_them() {
    let ctx = TestContext::new();
    ctx.write_config("[policy]\nallow_raw_keys = true\n");
    let id = ctx.spawn_id("fake-idle", "Keep working on the lexer.", &[]);
    // `--json` after the key names is the global flag, not a key.
    let v = ctx.json(&["keys", &id, "Escape", "--json"]);
    assert_eq!(v["ok"], true, "{v}");
    let keys: Vec<Value> = ctx.events(&id).into_iter().filter(|e| e["event_type"] == "send_keys").collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["metadata"]["keys"], serde_json::json!(["Escape"]), "{keys:?}");
    // Option-like key names are refused, whether clap or AgentPool sees them first.
    let out = ctx.cmd(&["keys", &id, "-l", "--json"]);
    assert!(matches!(out.status.code(), Some(1 | 2)), "{}", describe(&out));
    let err = parse_json(&["keys"], &out);
    assert!(matches!(err["error"]["code"].as_str(), Some("USAGE_ERROR" | "INVALID_REQUEST")), "{err}");
    ctx.error(&["keys", &id, "Esc\u{7}ape", "--json"], "INVALID_REQUEST");
    assert_eq!(ctx.events(&id).iter().filter(|e| e["event_type"] == "send_keys").count(), 1);
    ctx.json(&["terminate", &id, "--json"]);
}

/// An empty `AGENTPOOL_*` setting is an error, never a silent fall-back to the default pool,
/// socket or coordinator (reliability F2, F6).
#[test]
fn empty_settings_are_errors_not_defaults() {
    let ctx = TestContext::new();
    let cases: [(&str, &str, &str); 4] = [
        ("AGENTPOOL_HOME", "", "INVALID_CONFIG"),
        ("AGENTPOOL_TMUX_SOCKET", " ", "INVALID_CONFIG"),
        ("AGENTPOOL_CONFIG", "", "INVALID_CONFIG"),
        ("AGENTPOOL_COORDINATOR_ID", "", "INVALID_COORDINATOR_ID"),
    ];
    for (key, value, code) in cases {
        let out = ctx.command(&["sessions", "--json"]).env(key, value).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{key}={value:?}: {}", agentpool_tests::describe(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["error"]["code"], code, "{key}: {v}");
    }
    let err = ctx.error(&["--coordinator-id", "", "sessions", "--json"], "INVALID_COORDINATOR_ID");
    assert!(err["message"].as_str().unwrap().contains("1-64"), "{err}");
    // Nothing was created in the default pool under HOME.
    assert!(!ctx.home().join(".agentpool").exists());
    // The MCP server refuses to start on an empty coordinator id (exit 2 before any protocol).
    let out =
        ctx.command(&["mcp"]).env("AGENTPOOL_COORDINATOR_ID", "").stdin(std::process::Stdio::null()).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", agentpool_tests::describe(&out));
    assert!(out.stdout.is_empty(), "nothing on the protocol stream");
    assert!(String::from_utf8_lossy(&out.stderr).contains("coordinator"), "{}", agentpool_tests::describe(&out));
}

/// Database errors name the database (reliability F3).
#[test]
fn store_errors_name_the_database() {
    let ctx = TestContext::new();
    let db = ctx.home().join("agentpool.sqlite");
    std::fs::write(&db, vec![b'x'; 8192]).unwrap();
    let err = ctx.error(&["sessions", "--json"], "STORE_FAILED");
    assert_eq!(err["details"]["db_path"], db.display().to_string(), "{err}");
    assert!(err["message"].as_str().unwrap().contains(&db.display().to_string()), "{err}");
}

/// `observe --output` writes only regular files, never through a symlink or over a FIFO, and
/// never creates directories (reliability F1).
#[test]
fn observe_output_writes_only_regular_files() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "idle", &[]);
    let dir = ctx.home().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let real = dir.join("real.txt");
    std::fs::write(&real, "keep me").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let missing = dir.join("no/such/dir/x.json");
    for target in [&link, &fifo, &dir, &missing] {
        let t = target.display().to_string();
        let err = ctx.error(&["observe", &id, "--output", &t, "--json"], "INVALID_OUTPUT");
        assert!(err["message"].as_str().unwrap().contains("nothing was written"), "{err}");
    }
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "keep me");
    assert!(!std::fs::symlink_metadata(&fifo).unwrap().file_type().is_file(), "the FIFO stays a FIFO");
    assert!(!dir.join("no").exists(), "no directory was created");
    // A new file and an existing regular file are written.
    let out = dir.join("observe.json");
    for _ in 0..2 {
        let v = ctx.json(&["observe", &id, "--output", &out.display().to_string(), "--json"]);
        assert_eq!(v["output_path"], out.display().to_string());
        let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(written["session_id"], id.as_str());
    }
    ctx.json(&["terminate", &id, "--json"]);
}
