//! `usage` and `usage-summary` end to end over the built binary, with stand-in provider
//! executables and loopback servers this test starts. Each test has its own
//! `AGENTPOOL_HOME`, `HOME` and `PATH`; nothing touches the network or the user's home.

// Test helpers outside `#[test]` functions: a panic is a test failure with a location.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub struct Env {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub user_home: PathBuf,
    pub bin: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("agentpool");
        let user_home = dir.path().join("home");
        let bin = dir.path().join("bin");
        for d in [&home, &user_home, &bin, &user_home.join("tmux")] {
            std::fs::create_dir_all(d).unwrap();
        }
        Self { _dir: dir, home, user_home, bin, extra_env: Vec::new() }
    }

    pub fn write_bin(&self, name: &str, body: &str) -> PathBuf {
        let p = self.bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    pub fn config(&self, toml: &str) {
        std::fs::write(self.home.join("config.toml"), toml).unwrap();
    }

    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_agentpool"));
        c.args(args)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("HOME", &self.user_home)
            .env("AGENTPOOL_HOME", &self.home)
            .env("AGENTPOOL_TMUX_SOCKET", format!("ap-usage-{}", std::process::id()))
            // Any tmux server a test starts keeps its socket inside the temporary home.
            .env("TMUX_TMPDIR", self.user_home.join("tmux"))
            .env("NO_COLOR", "1");
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let (code, stdout, stderr) = self.run(args);
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{args:?} exit {code}: {e}\nstdout: {stdout}\nstderr: {stderr}"))
    }
}

/// A `codex` stand-in: answers `--version`, then plays app-server with `after` as its reply
/// to the rate-limit request.
fn codex(env: &Env, after: &str) -> PathBuf {
    env.write_bin(
        "codex",
        &format!(
            "[ \"$1\" = --version ] && {{ echo 'codex-cli 0.169.0'; exit 0; }}\n\
             read -r init\n\
             printf '%s\\n' '{{\"id\":1,\"result\":{{}}}}'\n\
             read -r initialized\nread -r req\n{after}"
        ),
    )
}

const LOW_WEEKLY: &str = r#"printf '%s\n' '{"id":2,"result":{"rateLimits":{"primary":{"usedPercent":10,"windowDurationMins":300,"resetsAt":4102444800},"secondary":{"usedPercent":95,"windowDurationMins":10080,"resetsAt":4102444800}}}}'"#;

fn only_codex(env: &Env) {
    let mut cfg = String::new();
    for id in [
        "claude-code",
        "cursor-cli",
        "opencode",
        "copilot-cli",
        "droid-cli",
        "devin-cli",
        "fake-approval",
        "fake-completed",
        "fake-idle",
        "fake-limit",
        "fake-patch",
        "fake-hooks",
    ] {
        cfg.push_str(&format!("[providers.{id}]\nenabled = false\n"));
    }
    env.config(&cfg);
}

#[test]
fn summary_lists_every_provider_with_the_row_fields() {
    let env = Env::new();
    let s = env.json(&["usage-summary", "--json"]);
    let rows = s["providers"].as_object().unwrap();
    assert_eq!(rows.len(), 7, "every enabled real provider, even with nothing stored");
    assert!(rows.keys().all(|id| !id.starts_with("fake-")), "the fakes only with --all: {s}");
    let all = env.json(&["usage-summary", "--all", "--json"]);
    assert_eq!(all["providers"].as_object().unwrap().len(), 14, "--all adds the seven fakes");
    for row in rows.values() {
        for key in ["usable", "unusable_reason", "windows", "confidence", "stale", "age_seconds"] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
    }
    assert_eq!(
        (s["source"].as_str(), s["backend"].as_str(), s["partial"].as_bool()),
        (Some("sqlite_cache"), Some("cache"), Some(false))
    );
    let (code, out, _) = env.run(&["usage-summary", "--provider", "nope", "--json"]);
    assert_eq!(code, 1);
    assert!(out.contains("PROVIDER_NOT_FOUND"));
    let (code, out, _) = env.run(&["usage", "--cached", "--backend", "web", "--json"]);
    assert_eq!(code, 1);
    assert!(out.contains("INVALID_USAGE_BACKEND"), "the backend is validated on cached reads too");
    assert_eq!(env.json(&["usage", "--cached", "--json"])["snapshots"], serde_json::json!([]));
}

#[test]
fn codex_refresh_is_stored_cached_and_blocks_spawn_when_limited() {
    let env = Env::new();
    only_codex(&env);
    codex(&env, LOW_WEEKLY);
    let s = env.json(&["usage-summary", "--provider", "codex-cli", "--refresh", "--backend", "native", "--json"]);
    let row = &s["providers"]["codex-cli"];
    assert_eq!(s["source"], "live_probe");
    assert_eq!(row["status"], "near_limit");
    assert_eq!(row["usable"], false);
    assert_eq!(row["unusable_reason"], "weekly_below_10_percent");
    assert_eq!(row["windows"][1]["reset_at"], "2100-01-01T00:00:00.000000Z");
    assert_eq!(s["next_available_provider"], "codex-cli");
    // The cached read returns the stored snapshot without probing (the stand-in is gone).
    std::fs::remove_file(env.bin.join("codex")).unwrap();
    let cached = env.json(&["usage", "--cached", "--json"]);
    assert_eq!(cached["snapshots"][0]["provider_id"], "codex-cli");
    assert_eq!(cached["snapshots"][0]["raw"]["source"], "codex_app_server");

    // A limit reached is refused at spawn with the same latest snapshot.
    codex(&env, r#"printf '%s\n' '{"id":2,"result":{"primary":{"usedPercent":100,"windowDurationMins":300}}}'"#);
    let s = env.json(&["usage-summary", "--refresh", "--backend", "native", "--json"]);
    assert_eq!(s["providers"]["codex-cli"]["unusable_reason"], "limit_reached");
    let repo = env.user_home.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let e = env.json(&[
        "spawn",
        "--provider",
        "codex-cli",
        "--repo",
        repo.to_str().unwrap(),
        "--task",
        "Read the README.",
        "--json",
    ]);
    assert_eq!(e["error"]["code"], "USAGE_POLICY_BLOCKED", "{e}");
    assert_eq!(e["error"]["details"]["unusable_reason"], "limit_reached");
}

#[test]
fn a_hung_probe_is_unknown_partial_and_keeps_the_last_good_snapshot() {
    let env = Env::new();
    only_codex(&env);
    codex(&env, LOW_WEEKLY);
    env.json(&["usage", "--backend", "native", "--json"]);
    // Now the app-server never answers; the call comes back at its budget.
    codex(&env, "sleep 600");
    let s = env.json(&["usage-summary", "--refresh", "--backend", "native", "--timeout", "1", "--json"]);
    let row = &s["providers"]["codex-cli"];
    assert_eq!(s["partial"], true);
    assert_eq!((row["status"].as_str(), row["source"].as_str()), (Some("unknown"), Some("agentpool_usage_timeout")));
    assert_eq!(row["usable"], false);
    // The placeholder was not stored: the cache still has the good snapshot.
    let cached = env.json(&["usage-summary", "--json"]);
    assert_eq!(cached["providers"]["codex-cli"]["status"], "near_limit");
    assert_eq!(cached["partial"], false);
}

/// Serves `bodies` in order, one connection each, echoing nothing back but the body.
fn loopback(replies: Vec<(u16, String)>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (status, body) in replies {
            let Ok((mut stream, _)) = listener.accept() else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

/// Every file below `dir` whose bytes contain `needle` (for secret-leak checks).
pub(crate) fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if std::fs::read(&p).unwrap_or_default().windows(needle.len()).any(|w| w == needle) {
            hits.push(p);
        }
    }
    hits
}

#[test]
fn no_token_reaches_the_database_files_or_output() {
    const SECRET: &str = "ghp_neverStoreThis0123456789abcdef";
    let mut env = Env::new();
    env.write_bin("copilot", "[ \"$1\" = --version ] && echo '1.0.40'; exit 0");
    let ok = r#"{"copilot_plan":"pro","quota_snapshots":{"premium_interactions":{"entitlement":300,"remaining":150}}}"#
        .to_owned();
    let echo = format!(r#"{{"message":"bad token {SECRET}"}}"#);
    let base = loopback(vec![(200, ok), (500, echo.clone()), (401, echo)]);
    env.extra_env = vec![("GITHUB_TOKEN".into(), SECRET.into()), ("AGENTPOOL_COPILOT_API_URL".into(), base)];
    let mut outputs = String::new();
    for expect in ["available", "unknown", "unauthenticated"] {
        let (code, stdout, stderr) = env.run(&["usage", "--provider", "copilot-cli", "--backend", "native", "--json"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let v: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(v["snapshots"][0]["status"], expect, "{v}");
        assert_eq!(v["snapshots"][0]["raw"]["token_source"], "GITHUB_TOKEN");
        outputs.push_str(&stdout);
        outputs.push_str(&stderr);
    }
    let (_, summary, err) = env.run(&["usage-summary", "--json"]);
    outputs.push_str(&summary);
    outputs.push_str(&err);
    assert!(!outputs.contains(SECRET), "a token reached stdout or stderr");
    assert!(env.home.join("agentpool.sqlite").exists());
    assert_eq!(
        files_containing(&env.home, SECRET.as_bytes()),
        Vec::<PathBuf>::new(),
        "a token reached a file under AGENTPOOL_HOME"
    );
    assert_eq!(files_containing(&env.user_home, SECRET.as_bytes()), Vec::<PathBuf>::new());
}
