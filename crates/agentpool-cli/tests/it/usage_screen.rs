//! Screen and credential usage probes end to end: Claude Code's `/usage` in a temporary
//! session on a private tmux server (killed at the end), and Devin's plan-status API with a
//! credential file in a temporary home, served by a loopback server this test starts.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::usage::{Env, files_containing};

/// A private tmux server: its socket lives in the test's temporary home (`TMUX_TMPDIR`), and
/// the server is killed when the test ends, pass or fail.
struct TmuxServer {
    socket: String,
    dir: PathBuf,
}

impl TmuxServer {
    fn new(env: &Env, name: &str) -> Self {
        // The same directory `Env` gives every child as TMUX_TMPDIR.
        let dir = env.user_home.join("tmux");
        std::fs::create_dir_all(&dir).unwrap();
        Self { socket: format!("ap-{name}-{}", std::process::id()), dir }
    }

    /// What the `agentpool` child needs to use this server.
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AGENTPOOL_TMUX_SOCKET".into(), self.socket.clone()),
            ("TMUX_TMPDIR".into(), self.dir.display().to_string()),
        ]
    }

    /// Names of the sessions on this server.
    fn sessions(&self) -> String {
        let out = self.tmux().args(["list-sessions", "-F", "#{session_name}"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env("TMUX_TMPDIR", &self.dir).args(["-L", &self.socket]);
        c
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

fn disable_all_but(env: &Env, keep: &str) {
    let mut cfg = String::new();
    for id in [
        "claude-code",
        "codex-cli",
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
        if id != keep {
            cfg.push_str(&format!("[providers.{id}]\nenabled = false\n"));
        }
    }
    env.config(&cfg);
}

#[test]
fn claude_usage_screen_through_a_temporary_session() {
    let mut env = Env::new();
    disable_all_but(&env, "claude-code");
    let server = TmuxServer::new(&env, "claude-usage");
    let tmp = env.user_home.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    env.extra_env = server.env();
    env.extra_env.push(("TMPDIR".into(), tmp.display().to_string()));
    let args_file = env.user_home.join("claude-args");
    // A stand-in that shows a /usage-like panel when it receives `/usage`.
    env.write_bin(
        "claude",
        &format!(
            "[ \"$1\" = --version ] && {{ echo '2.1.0 (Claude Code)'; exit 0; }}\n\
             printf '[%s]' \"$@\" > '{}'\n\
             printf 'Claude Code stand-in\\n> '\n\
             while IFS= read -r line; do\n\
               case \"$line\" in\n\
                 */usage*) printf '\\n Settings  Usage\\n\\n Current session\\n ████   20%% used\\n Resets in 3h 5m\\n\\n Current week (all models)\\n ██████████ 100%% used\\n Resets Mar 9, 8am (UTC)\\n\\n Esc to exit\\n' ;;\n\
               esac\n\
             done",
            args_file.display()
        ),
    );

    // Interactive probes off: nothing is started.
    let off = env.json(&["usage", "--provider", "claude-code", "--backend", "native", "--no-interactive", "--json"]);
    assert_eq!(off["snapshots"][0]["raw"]["source"], "interactive_probe_disabled", "{off}");
    assert!(!args_file.exists(), "the stand-in was started although interactive probes are off");

    let v = env.json(&["usage", "--provider", "claude-code", "--backend", "native", "--json"]);
    let s = &v["snapshots"][0];
    assert_eq!(
        (s["status"].as_str(), s["confidence"].as_str(), s["raw"]["source"].as_str()),
        (Some("limit_reached"), Some("local_cli"), Some("claude_pty_usage")),
        "{v}"
    );
    let windows: Vec<(&str, f64)> = s["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["name"].as_str().unwrap(), w["remaining_percent"].as_f64().unwrap()))
        .collect();
    assert_eq!(windows, [("session", 80.0), ("weekly", 0.0)]);
    assert!(s["windows"][0]["reset_at"].is_string());
    assert_eq!(std::fs::read_to_string(&args_file).unwrap(), "[--allowed-tools][]", "an empty allowed-tools list");

    // The temporary session is gone, and so is its throw-away directory.
    let sessions = server.sessions();
    assert!(!sessions.contains("agentpool-usage-"), "left behind: {sessions}");
    let left: Vec<PathBuf> = std::fs::read_dir(&tmp).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(left, Vec::<PathBuf>::new());

    // The summary reads the stored snapshot: limit reached, not usable.
    let sum = env.json(&["usage-summary", "--json"]);
    assert_eq!(sum["providers"]["claude-code"]["unusable_reason"], "limit_reached", "{sum}");
}

/// Serves `replies` in order, one connection each.
fn loopback(replies: Vec<(u16, Vec<u8>)>) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (status, body) in replies {
            let Ok((mut stream, _)) = listener.accept() else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut req = vec![0; len];
            let _ = reader.read_exact(&mut req);
            let _ =
                write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn devin_credential_never_reaches_output_sqlite_or_artifacts() {
    const SECRET: &str = "devin-sk-neverStoreThis-0123456789abcdef";
    let mut env = Env::new();
    disable_all_but(&env, "devin-cli");
    env.write_bin("devin", "[ \"$1\" = --version ] && echo 'devin 2026.5.1'; exit 0");
    let cred = env.user_home.join(".local/share/devin/credentials.toml");
    std::fs::create_dir_all(cred.parent().unwrap()).unwrap();
    std::fs::write(&cred, format!("windsurf_api_key = \"{SECRET}\"\n")).unwrap();
    // plan_status { daily_remaining_percent: 64, weekly_remaining_percent: 12 }, hand-encoded.
    let plan = vec![0x0a, 0x04, 0x70, 64, 0x78, 12];
    let echo = format!(r#"{{"message":"bad key {SECRET}"}}"#).into_bytes();
    let base = loopback(vec![(200, plan), (500, echo.clone()), (401, echo)]);
    env.extra_env = vec![("AGENTPOOL_DEVIN_API_URL".into(), base)];
    let mut outputs = String::new();
    for expect in ["near_limit", "unknown", "unauthenticated"] {
        let (code, stdout, stderr) =
            env.run(&["usage", "--provider", "devin-cli", "--backend", "native", "--no-interactive", "--json"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let v: Value = serde_json::from_str(stdout.trim()).unwrap();
        let s = &v["snapshots"][0];
        assert_eq!(s["status"], expect, "{v}");
        assert_eq!(s["raw"]["credential_source"], "devin_cli_credentials");
        if expect == "unknown" {
            assert_eq!(s["raw"]["source"], "interactive_probe_disabled");
            assert!(s["warnings"][0].as_str().unwrap().contains("HTTP 500"), "{v}");
        }
        outputs.push_str(&stdout);
        outputs.push_str(&stderr);
    }
    let (_, summary, err) = env.run(&["usage-summary", "--json"]);
    outputs.push_str(&summary);
    outputs.push_str(&err);
    assert!(!outputs.contains(SECRET), "the credential reached stdout or stderr");
    assert!(env.home.join("agentpool.sqlite").exists());
    assert_eq!(
        files_containing(&env.home, SECRET.as_bytes()),
        Vec::<PathBuf>::new(),
        "the credential reached a file under AGENTPOOL_HOME"
    );
    assert_eq!(
        files_containing(&env.user_home, SECRET.as_bytes()),
        vec![cred],
        "only the CLI's own credential file holds it"
    );
}

#[test]
fn devin_falls_back_to_its_usage_screen_when_the_api_fails() {
    let mut env = Env::new();
    disable_all_but(&env, "devin-cli");
    let server = TmuxServer::new(&env, "devin-usage");
    env.write_bin(
        "devin",
        "[ \"$1\" = --version ] && { echo 'devin 2026.5.1'; exit 0; }\n\
         printf 'Devin stand-in\\n> '\n\
         while IFS= read -r line; do\n\
           case \"$line\" in\n\
             */usage*) printf 'Quota used: 70%% (remaining: 30%%)\\nExtra usage balance: $4.50\\nQuota resets June 4, 3:30 PM (UTC+2).\\n' ;;\n\
           esac\n\
         done",
    );
    // No credential file: the API path fails before any request.
    env.extra_env = server.env();
    let v = env.json(&["usage", "--provider", "devin-cli", "--backend", "native", "--json"]);
    let s = &v["snapshots"][0];
    assert_eq!(
        (s["status"].as_str(), s["raw"]["source"].as_str()),
        (Some("available"), Some("devin_pty_usage")),
        "{v}"
    );
    assert_eq!(s["windows"][0]["remaining_percent"], 30.0);
    assert_eq!(s["credits_remaining"], 4.5);
    assert!(s["warnings"].to_string().contains("fell back to CLI /usage"), "{v}");
    assert!(!server.sessions().contains("agentpool-usage-"));
}
