//! The seven real provider ids driven end to end through stand-in executables: shell scripts
//! this test writes into a temporary directory put first on `PATH`. Each answers `--version`
//! and works through one task (question, answer, result block). Every run has its own
//! `AGENTPOOL_HOME`, `HOME` and tmux socket, and kills its tmux server at the end.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// (provider id, executable name).
const PROVIDERS: &[(&str, &str)] = &[
    ("claude-code", "claude"),
    ("codex-cli", "codex"),
    ("cursor-cli", "agent"),
    ("opencode", "opencode"),
    ("copilot-cli", "copilot"),
    ("droid-cli", "droid"),
    ("devin-cli", "devin"),
];

/// A line-oriented stand-in CLI. It prints its argv, takes the task from the prompt argument
/// when there is one (the initial prompt ends with `Task:` and the task), otherwise reads the
/// pasted prompt until the line after `Task:`, asks one question, waits for the answer, prints
/// a result block and stays at its prompt like a TUI would.
fn stand_in(name: &str, with_trust_dialog: bool) -> String {
    // A trust dialog that pre-selects "No": the right answer is `Up`, then `Enter` once the
    // redrawn screen shows "Yes" highlighted. Keys are read one at a time (no line buffering);
    // the dialog is erased in place, as TUIs do, so it does not linger in the scrollback.
    let trust = if with_trust_dialog {
        r#"saved=$(stty -g)
stty -icanon -echo min 1
printf 'Do you trust the files in this folder?\n\n  1. Yes, proceed\n\342\235\257 2. No, exit\n'
k1=$(dd bs=1 count=3 2>/dev/null | od -An -c | tr -d ' \n')
[ "$k1" = '033[A' ] || { echo "unexpected first key: $k1"; exit 4; }
printf '\033[4A\033[JDo you trust the files in this folder?\n\n\342\235\257 1. Yes, proceed\n  2. No, exit\n'
k2=$(dd bs=1 count=1 2>/dev/null | od -An -c | tr -d ' ')
[ "$k2" = '\n' ] || { echo "unexpected second key: $k2"; exit 5; }
stty "$saved"
printf '\033[4A\033[Jtrusted\n'
"#
    } else {
        ""
    };
    format!(
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "{name} 1.2.3"; exit 0; fi
echo "stand-in {name} started with $# arguments"
{trust}task=""
for a in "$@"; do
  case "$a" in *"Task:"*) task=$(printf '%s\n' "$a" | awk 'f{{print; exit}} /^Task:/{{f=1}}');; esac
done
if [ -z "$task" ]; then
  echo "stand-in {name} ready"
  seen=0
  while IFS= read -r line; do
    if [ "$seen" = 1 ] && [ -n "$line" ]; then task="$line"; break; fi
    case "$line" in Task:*) seen=1;; esac
  done
fi
printf '%s\n' "Working on: $task" | tr 'a-z' 'A-Z'
echo "Should I inspect migrations first?"
answer=""
while [ -z "$answer" ]; do IFS= read -r answer || exit 2; done
echo "AGENTPOOL_RESULT_START"
echo "Summary: {name} stand-in finished after the answer"
echo "Findings: none"
echo "AGENTPOOL_RESULT_END"
while IFS= read -r line; do :; done
"#
    )
}

struct Env {
    _root: tempfile::TempDir,
    home: PathBuf,
    user_home: PathBuf,
    bin: PathBuf,
    repo: PathBuf,
    socket: String,
}

impl Env {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let home = root.path().join("agentpool-home");
        let user_home = root.path().join("user-home");
        let bin = root.path().join("bin");
        let repo = root.path().join("repo");
        for d in [&home, &user_home, &bin, &repo, &root.path().join("tmux")] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let socket = format!(
            "ap-prov-{}-{}",
            std::process::id(),
            root.path().file_name().and_then(|n| n.to_str()).unwrap_or("x").replace('.', "")
        );
        let socket: String = socket.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(60).collect();
        Self { _root: root, home, user_home, bin, repo, socket }
    }

    /// This test's tmux socket directory (`TMUX_TMPDIR`), inside its temporary root.
    fn tmux_tmpdir(&self) -> PathBuf {
        self.home.with_file_name("tmux")
    }

    /// `tmux -L <this test's socket>`.
    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env("TMUX_TMPDIR", self.tmux_tmpdir()).args(["-L", &self.socket]);
        c
    }

    fn write_bin(&self, name: &str, body: &str) {
        let p = self.bin.join(name);
        std::fs::write(&p, body).expect("write stand-in");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn command(&self, args: &[&str], cwd: &Path, path: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_agentpool"));
        c.args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.user_home)
            .env("AGENTPOOL_HOME", &self.home)
            .env("AGENTPOOL_TMUX_SOCKET", &self.socket)
            .env("TMUX_TMPDIR", self.tmux_tmpdir())
            .env("TERM", "xterm-256color")
            .env("NO_COLOR", "1");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let path = format!("{}:/usr/bin:/bin:/usr/local/bin", self.bin.display());
        self.command(args, &self.repo, &path).output().expect("run agentpool")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "agentpool {args:?} failed: {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("agentpool {args:?}: not JSON ({e}): {text}"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

fn provider<'a>(inventory: &'a Value, id: &str) -> &'a Value {
    inventory["providers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == id))
        .unwrap_or_else(|| panic!("{id} missing"))
}

#[test]
fn inventory_shows_every_stand_in_with_its_version() {
    let env = Env::new();
    for (_, name) in PROVIDERS {
        env.write_bin(name, &stand_in(name, false));
    }
    let inv = env.json(&["inventory", "--json"]);
    for (id, name) in PROVIDERS {
        let p = provider(&inv, id);
        assert_eq!(p["installed"], true, "{id}: {p}");
        assert_eq!(p["version"], format!("{name} 1.2.3"), "{id}");
        assert_eq!(p["binary_path"], env.bin.join(name).display().to_string(), "{id}");
        assert!(p["capabilities"].as_array().is_some_and(|c| !c.is_empty()), "{id}");
        assert!(p["models"].as_array().is_some_and(|m| !m.is_empty()), "{id} has catalog models");
    }
    // The second inventory answers from the version cache: no stand-in is started.
    let cache = env.home.join("cache/versions.json");
    assert!(cache.is_file(), "probes are cached");
    for (_, name) in PROVIDERS {
        env.write_bin(name, &stand_in(name, false).replace("exit 0; fi", "exit 0; fi\ntouch \"$0.ran\""));
    }
    // Rewriting changed size and mtime, so this inventory probes again…
    env.json(&["inventory", "--json"]);
    for (_, name) in PROVIDERS {
        std::fs::remove_file(env.bin.join(format!("{name}.ran"))).ok();
    }
    // …and this one probes nothing.
    let again = env.json(&["inventory", "--json"]);
    for (id, name) in PROVIDERS {
        assert_eq!(provider(&again, id)["version"], format!("{name} 1.2.3"));
        assert!(!env.bin.join(format!("{name}.ran")).exists(), "{id} was probed although its version was cached");
    }
}

#[test]
fn directories_named_like_providers_in_the_cwd_change_nothing() {
    let env = Env::new();
    let cwd = env.repo.join("work");
    std::fs::create_dir_all(cwd.join("codex")).expect("mkdir");
    std::fs::create_dir_all(cwd.join("opencode")).expect("mkdir");
    // Even an executable file in the cwd is not used, with `.` and an empty entry on PATH.
    std::fs::write(cwd.join("claude"), "#!/bin/sh\necho rogue 6.6.6\n").expect("write");
    std::fs::set_permissions(cwd.join("claude"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = "::.:codex:/usr/bin:/bin";
    let out = env.command(&["inventory", "--json"], &cwd, path).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let inv: Value = serde_json::from_slice(&out.stdout).expect("json");
    for id in ["codex-cli", "opencode", "claude-code"] {
        let p = provider(&inv, id);
        assert_eq!(p["installed"], false, "{id}: {p}");
        assert_eq!(p["binary_path"], Value::Null, "{id}");
    }
    // With a real stand-in on PATH, the PATH one is used, not the cwd entries.
    env.write_bin("codex", &stand_in("codex", false));
    let path = format!(".:codex:{}:/usr/bin:/bin", env.bin.display());
    let out = env.command(&["inventory", "--json"], &cwd, &path).output().expect("run");
    let inv: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(provider(&inv, "codex-cli")["binary_path"], env.bin.join("codex").display().to_string());
    assert_eq!(provider(&inv, "claude-code")["installed"], false);
}

#[test]
fn every_real_provider_works_through_one_task() {
    let env = Env::new();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&env.repo)
            .env("HOME", &env.user_home)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(env.repo.join("README.md"), "stand-in repo\n").expect("write");
    git(&["add", "."]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"]);
    for (_, name) in PROVIDERS {
        env.write_bin(name, &stand_in(name, false));
    }
    let repo = env.repo.display().to_string();
    for (id, name) in PROVIDERS {
        let spawned =
            env.json(&["spawn", "--provider", id, "--repo", &repo, "--task", "find the flaky test", "--json"]);
        let sid = spawned["session_id"].as_str().expect("session id").to_owned();
        let q = env.json(&["observe", &sid, "--wait-for", "question", "--timeout", "30", "--json"]);
        assert_eq!(q["event"], "question", "{id}: {q}");
        assert_eq!(q["state"], "AWAITING_USER_INPUT", "{id}");
        env.json(&["send", &sid, "Inspect migrations first.", "--json"]);
        let c = env.json(&["observe", &sid, "--wait-for", "completed", "--timeout", "30", "--json"]);
        assert_eq!(c["event"], "completed", "{id}: {c}");
        let collected = env.json(&["collect", &sid, "--detail", "full", "--json"]);
        let text = collected["worker_output"].to_string();
        assert!(text.contains(&format!("{name} stand-in finished")), "{id}: {collected}");
        let transcript =
            std::fs::read_to_string(Path::new(collected["artifact_dir"].as_str().expect("dir")).join("transcript.txt"))
                .unwrap_or_default();
        assert!(transcript.contains("WORKING ON: FIND THE FLAKY TEST"), "{id} got its task: {transcript}");
        let t = env.json(&["terminate", &sid, "--json"]);
        assert_eq!(t["ok"], true, "{id}");
        let events =
            std::fs::read_to_string(Path::new(collected["artifact_dir"].as_str().expect("dir")).join("events.jsonl"))
                .unwrap_or_default();
        let spawn_line = events.lines().find(|l| l.contains("\"event_type\":\"spawn\"")).unwrap_or_default().to_owned();
        assert!(
            spawn_line.contains(&env.bin.join(name).display().to_string()),
            "{id} launched the stand-in: {spawn_line}"
        );
    }
    let left = env
        .tmux()
        .arg("list-sessions")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(left.trim().is_empty(), "every worker was terminated: {left}");
}

#[test]
fn trust_dialog_is_answered_by_reading_the_highlight() {
    let env = Env::new();
    env.write_bin("claude", &stand_in("claude", true));
    let repo = env.repo.display().to_string();
    let spawned =
        env.json(&["spawn", "--provider", "claude-code", "--repo", &repo, "--task", "read the readme", "--json"]);
    let sid = spawned["session_id"].as_str().expect("session id").to_owned();
    let q = env.json(&["observe", &sid, "--wait-for", "question", "--timeout", "30", "--json"]);
    assert_eq!(q["event"], "question", "the prompt reached the worker after the dialog: {q}");
    let dir = q["artifact_manifest"]["artifact_dir"].as_str().expect("dir").to_owned();
    let events = std::fs::read_to_string(Path::new(&dir).join("events.jsonl")).unwrap_or_default();
    let answers: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event_type"] == "startup_dialog")
        .map(|e| e["metadata"].clone())
        .collect();
    assert_eq!(answers.len(), 2, "{events}");
    assert_eq!(
        (answers[0]["keys"].clone(), answers[0]["action"].clone()),
        (serde_json::json!(["Up"]), serde_json::json!("moved_selection"))
    );
    assert_eq!(
        (answers[1]["keys"].clone(), answers[1]["action"].clone()),
        (serde_json::json!(["Enter"]), serde_json::json!("trusted_folder"))
    );
    env.json(&["terminate", &sid, "--json"]);
}

#[test]
fn trust_dialog_is_left_alone_without_consent() {
    let env = Env::new();
    env.write_bin("claude", &stand_in("claude", true));
    std::fs::write(env.home.join("config.toml"), "[providers.claude-code.metadata]\naccept_startup_trust = false\n")
        .expect("config");
    let repo = env.repo.display().to_string();
    let spawned =
        env.json(&["spawn", "--provider", "claude-code", "--repo", &repo, "--task", "read the readme", "--json"]);
    let sid = spawned["session_id"].as_str().expect("session id").to_owned();
    let dir = spawned["session"]["artifact_dir"].as_str().expect("dir").to_owned();
    let events = std::fs::read_to_string(Path::new(&dir).join("events.jsonl")).unwrap_or_default();
    assert!(!events.contains("startup_dialog"), "{events}");
    assert!(events.contains("startup_prompt_pending"), "nothing was typed into the dialog: {events}");
    let o = env.json(&["observe", &sid, "--json"]);
    assert_eq!(o["event"], "approval_prompt", "{o}");
    assert_eq!(o["metadata"]["readiness"], "waiting_on_startup_prompt", "{o}");
    env.json(&["terminate", &sid, "--json"]);
}

#[test]
fn a_login_screen_is_login_required_not_running() {
    let env = Env::new();
    env.write_bin(
        "devin",
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'devin 2.0.1'; exit 0; fi\n\
         echo 'Devin CLI'\necho 'You are not logged in to Devin. Run `devin auth login` first.'\n\
         while IFS= read -r line; do :; done\n",
    );
    let repo = env.repo.display().to_string();
    let spawned =
        env.json(&["spawn", "--provider", "devin-cli", "--repo", &repo, "--task", "read the readme", "--json"]);
    let sid = spawned["session_id"].as_str().expect("session id").to_owned();
    // Waiting for completion returns at once: a sign-in screen never clears by itself.
    let o = env.json(&["observe", &sid, "--wait-for", "completed", "--timeout", "60", "--json"]);
    assert_eq!(o["event"], "error", "{o}");
    assert_eq!(o["state"], "FAILED", "{o}");
    assert_eq!(o["metadata"]["readiness"], "login_required", "{o}");
    assert!(o["metadata"]["hint"].as_str().is_some_and(|h| h.contains("devin auth login")), "{o}");
    let dir = spawned["session"]["artifact_dir"].as_str().expect("dir").to_owned();
    let events = std::fs::read_to_string(Path::new(&dir).join("events.jsonl")).unwrap_or_default();
    assert!(
        events.contains("\"event_type\":\"login_required\""),
        "the prompt was not typed into the sign-in screen: {events}"
    );
    assert!(!events.contains("send_initial_prompt"), "{events}");
    // The session is not settled: it still counts as live and can be terminated.
    let t = env.json(&["terminate", &sid, "--json"]);
    assert_eq!(t["state"], "CANCELLED", "{t}");
}

#[test]
fn models_lists_catalog_facts_and_validate_names_bad_entries() {
    let env = Env::new();
    let all = env.json(&["models", "--json"]);
    let codex = all["providers"]
        .as_array()
        .and_then(|p| p.iter().find(|r| r["provider_id"] == "codex-cli"))
        .cloned()
        .expect("codex row");
    assert_eq!(codex["default_model"], "gpt-5.5");
    assert_eq!(codex["submit_keys"], serde_json::json!(["C-m"]));
    assert_eq!(codex["default_initial_prompt_mode"], "arg");
    assert_eq!(codex["installed"], false);
    // A user catalog named in config layers over the embedded one.
    std::fs::write(env.home.join("mine.json"), r#"{"providers": {"codex-cli": {"default_model": "gpt-5.4"}}}"#)
        .expect("write");
    std::fs::write(env.home.join("config.toml"), "model_catalog_paths = [\"mine.json\"]\n").expect("config");
    let one = env.json(&["models", "--provider", "codex-cli", "--json"]);
    assert_eq!(one["providers"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["providers"][0]["default_model"], "gpt-5.4");
    assert_eq!(one["providers"][0]["models"].as_array().map(Vec::len), Some(4));

    let unknown = env.run(&["models", "--provider", "nope", "--json"]);
    assert_eq!(unknown.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&unknown.stdout).expect("envelope");
    assert_eq!(err["error"]["code"], "PROVIDER_NOT_FOUND");

    let bad = env.home.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"providers": {"codex-cli": {"models": [{"id": ""}, {"id": "x", "source": "guess"}]}, "zzz": {}}}"#,
    )
    .expect("write");
    let out = env.run(&["models", "validate", "--path", &bad.display().to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "an invalid catalog exits 1");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["errors"],
        serde_json::json!([
            "providers.codex-cli.models[0].id must be a non-empty string",
            "providers.codex-cli.models[1].source has invalid value: guess"
        ])
    );
    assert_eq!(v["warnings"], serde_json::json!(["unknown provider id: zzz"]));
    let ok = env.json(&["models", "validate", "--json"]);
    assert_eq!((ok["ok"].clone(), ok["path"].clone()), (Value::Bool(true), Value::from("<embedded>")));
}
