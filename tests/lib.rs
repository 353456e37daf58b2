//! Harness for the end-to-end tests over the built `agentpool` binary.
//!
//! Every [`TestContext`] owns a temporary `AGENTPOOL_HOME` (also used as `HOME`, so nothing
//! reaches the real home), a private tmux socket name and a temporary git repository. Its
//! `Drop` kills the tmux server on that socket — and only that one. Tests never touch the
//! default tmux server, `~/.agentpool` or the network, and share nothing, so they run in
//! parallel. The environment is set on each child process, never on this process.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tempfile::TempDir;

/// Environment variables that would let the caller's setup leak into a test run.
const SCRUBBED_ENV: &[&str] = &[
    "AGENTPOOL_HOME",
    "AGENTPOOL_CONFIG",
    "AGENTPOOL_TMUX_SOCKET",
    "AGENTPOOL_COORDINATOR_ID",
    "TMUX",
    "TMUX_PANE",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
];

/// The workspace root (the parent of this package's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The `agentpool` binary, built once per test process with the same cargo that runs the
/// tests. Its path is taken from cargo's own build messages, so `CARGO_TARGET_DIR`, a
/// configured `build.target-dir` or a separate build directory are all respected.
pub fn agentpool_bin() -> &'static Path {
    // A failed build is remembered, so every test reports it without building again.
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(build_agentpool) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn build_agentpool() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-q", "-p", "agentpool-cli", "--bin", "agentpool", "--message-format=json-render-diagnostics"])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building agentpool failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exe = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "agentpool")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| {
            // Fallback: the conventional location.
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| workspace_root().join("target"), |t| workspace_root().join(t));
            target.join("debug").join("agentpool")
        });
    if exe.is_file() { Ok(exe) } else { Err(format!("agentpool binary not found at {}", exe.display())) }
}

/// `n` pseudo-random lowercase hex characters (unique per call within a process, and across
/// processes by pid and time).
pub fn random_hex(n: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    while out.len() < n {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n);
    out
}

/// One isolated AgentPool world: home, tmux socket, repository.
pub struct TestContext {
    home: TempDir,
    socket: String,
    repo: TempDir,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    /// A fresh home, socket `ap-test-<random>`, and a git repo with one empty commit.
    pub fn new() -> Self {
        let home = tempfile::Builder::new().prefix("ap-home-").tempdir().expect("temp home");
        let repo = tempfile::Builder::new().prefix("ap-repo-").tempdir().expect("temp repo");
        let ctx = Self { home, socket: format!("ap-test-{}", random_hex(12)), repo };
        ctx.git(&["-c", "init.defaultBranch=main", "init", "-q"]);
        ctx.git(&["config", "user.name", "AgentPool Tests"]);
        ctx.git(&["config", "user.email", "tests@agentpool.invalid"]);
        ctx.git(&["config", "commit.gpgsign", "false"]);
        ctx.git(&["commit", "-q", "--allow-empty", "-m", "initial"]);
        ctx
    }

    /// The temporary `AGENTPOOL_HOME` (also `HOME` of every child process).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The temporary git repository.
    pub fn repo(&self) -> &Path {
        self.repo.path()
    }

    /// The repository path as a string (for `--repo`).
    pub fn repo_str(&self) -> String {
        self.repo.path().display().to_string()
    }

    /// This test's private tmux socket name.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// Runs git in the repository, isolated from the user's git config; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.repo())
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdin(Stdio::null())
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An `agentpool` command with this context's environment; stdin is null.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = self.with_env(Command::new(agentpool_bin()));
        c.args(args);
        c
    }

    /// `agentpool <args>` run through `wrapper` (a program that takes a command line after its
    /// own `wrapper_args`, such as `agentpool-peak-rss`), with this context's environment.
    pub fn wrapped(&self, wrapper: &Path, wrapper_args: &[&str], args: &[&str]) -> Command {
        let mut c = self.with_env(Command::new(wrapper));
        c.args(wrapper_args).arg(agentpool_bin()).args(args);
        c
    }

    /// `sh -c <line>` with this context's environment (in the repository, stdin null), for
    /// command lines as a user types them: pipes, comments, `agentpool` found on `PATH` —
    /// which the caller sets, with the built binary on it.
    pub fn shell(&self, line: &str) -> Command {
        let mut c = self.with_env(Command::new("sh"));
        c.arg("-c").arg(line);
        c
    }

    fn with_env(&self, mut c: Command) -> Command {
        for k in SCRUBBED_ENV {
            c.env_remove(k);
        }
        c.env("AGENTPOOL_HOME", self.home())
            .env("AGENTPOOL_TMUX_SOCKET", &self.socket)
            .env("NO_COLOR", "1")
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .current_dir(self.repo())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `agentpool <args>` to completion.
    pub fn cmd(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run agentpool");
        assert_no_panic(args, &out);
        out
    }

    /// Runs `agentpool <args>` with `input` on stdin.
    pub fn cmd_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self.command(args).stdin(Stdio::piped()).spawn().expect("spawn agentpool");
        {
            let mut stdin = child.stdin.take().expect("stdin");
            // The command may exit before reading everything; that is its business.
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().expect("wait for agentpool");
        assert_no_panic(args, &out);
        out
    }

    /// Runs `agentpool <args>`, asserts exit 0 and parses stdout as one JSON document.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd(args);
        assert!(out.status.success(), "agentpool {args:?} failed ({:?}):\n{}", out.status.code(), describe(&out));
        parse_json(args, &out)
    }

    /// Runs `agentpool <args>` (which must include `--json`), asserts exit 1, and returns the
    /// error envelope's `error` object after checking it has `code == expected`.
    pub fn error(&self, args: &[&str], expected: &str) -> Value {
        let out = self.cmd(args);
        check_error(args, &out, expected)
    }

    /// [`Self::error`] with `input` on stdin.
    pub fn error_stdin(&self, args: &[&str], input: &str, expected: &str) -> Value {
        let out = self.cmd_stdin(args, input);
        check_error(args, &out, expected)
    }

    /// Writes `<home>/config.toml`.
    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.home().join("config.toml"), toml).expect("write config");
    }

    /// Spawns a worker with `--json`, returning the spawn document.
    pub fn spawn(&self, provider: &str, task: &str, extra: &[&str]) -> Value {
        let repo = self.repo_str();
        let mut args = vec!["spawn", "--provider", provider, "--repo", repo.as_str(), "--task", task, "--json"];
        args.extend_from_slice(extra);
        let v = self.json(&args);
        assert!(v["session_id"].as_str().is_some_and(is_session_id), "spawn returned no session id: {v}");
        v
    }

    /// Spawns a worker and returns its session id.
    pub fn spawn_id(&self, provider: &str, task: &str, extra: &[&str]) -> String {
        self.spawn(provider, task, extra)["session_id"].as_str().unwrap().to_owned()
    }

    /// `session show <id> --json` → the `session` object.
    pub fn session(&self, id: &str) -> Value {
        self.json(&["session", "show", id, "--json"])["session"].clone()
    }

    /// The session's artifact directory.
    pub fn artifact_dir(&self, id: &str) -> PathBuf {
        PathBuf::from(self.session(id)["artifact_dir"].as_str().expect("artifact_dir"))
    }

    /// The session's `events.jsonl`, parsed.
    pub fn events(&self, id: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.artifact_dir(id).join("events.jsonl")).expect("read events.jsonl");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("event line is JSON"))
            .collect()
    }

    /// The event types recorded for a session, in order.
    pub fn event_types(&self, id: &str) -> Vec<String> {
        self.events(id).iter().map(|e| e["event_type"].as_str().unwrap_or("").to_owned()).collect()
    }

    /// `sessions --all --json` → `pagination.total`.
    pub fn session_total(&self) -> i64 {
        self.json(&["sessions", "--all", "--json"])["pagination"]["total"].as_i64().expect("pagination.total")
    }

    /// Runs `tmux -L <this socket> <args>` (never the default server).
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg("/dev/null")
            .args(args)
            .env("HOME", self.home())
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// tmux session names alive on this socket (empty when no server runs).
    pub fn tmux_sessions(&self) -> Vec<String> {
        let out = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        if !out.status.success() {
            return Vec::new();
        }
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }

    /// Literal strings replaced in snapshots, longest first.
    fn literal_redactions(&self) -> Vec<(String, &'static str)> {
        literal_redactions(self.home(), self.repo(), &self.socket)
    }

    /// Replaces every volatile part of `text` (see [`Self::insta_settings`]) — useful for
    /// comparing plain text outside snapshots.
    pub fn redact(&self, text: &str) -> String {
        let mut s = text.to_owned();
        for (lit, name) in self.literal_redactions() {
            s = s.replace(&lit, name);
        }
        s
    }

    /// insta settings for this context: snapshots in `tests/it/snapshots`, and filters that
    /// redact everything that changes between runs — temp paths, the binary path, the socket
    /// name, session and coordinator ids, tmux names' hex suffix, pane ids, timestamps,
    /// sha256 and repo hashes, fence nonces, tmux's pane-death date, process ids and durations.
    pub fn insta_settings(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path("snapshots");
        s.set_prepend_module_to_snapshot(false);
        s.set_omit_expression(true);
        add_snapshot_filters(&mut s, self.literal_redactions());
        s
    }
}

/// Adds the snapshot filters every harness uses: `literals` (exact strings such as temp paths,
/// longest first) and then [`SNAPSHOT_FILTERS`]. The MCP crate's tests use this too.
pub fn add_snapshot_filters(settings: &mut insta::Settings, literals: Vec<(String, &'static str)>) {
    for (lit, name) in literals {
        settings.add_filter(&escape_regex(&lit), name);
    }
    for (re, name) in SNAPSHOT_FILTERS {
        settings.add_filter(re, *name);
    }
}

/// Pattern filters, applied in order after the literal ones.
pub const SNAPSHOT_FILTERS: &[(&str, &str)] = &[
    (r"(BEGIN|END)_UNTRUSTED_WORKER_OUTPUT_[0-9a-f]{16}", "${1}_UNTRUSTED_WORKER_OUTPUT_[NONCE]"),
    (r"\b[0-9a-f]{64}\b", "[SHA256]"),
    (r"\bap_[0-9a-f]{12}\b", "[SESSION_ID]"),
    (r"\bcoord_[0-9a-f]{12}\b", "[COORDINATOR_ID]"),
    (r"\b(agentpool(?:-[a-z0-9]+)*?-[a-z]+)-[0-9a-f]{6}\b", "${1}-[HEX6]"),
    (r"\b[0-9a-f]{16}\b", "[REPO_HASH]"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", "[TIMESTAMP]"),
    (r"Pane is dead \((status|signal) (\d+), [^)]*\)", "Pane is dead ($1 $2, [DATE])"),
    (r"%\d+\b", "%[PANE]"),
    (r#""([a-z_]*(?:elapsed|duration)[a-z_]*)": ?[0-9.]+"#, r#""$1": "[DURATION]""#),
    (r#""([a-z_]*pid)": ?\d+"#, r#""$1": "[PID]""#),
];

fn escape_regex(lit: &str) -> String {
    let mut out = String::with_capacity(lit.len() * 2);
    for c in lit.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Drop for TestContext {
    fn drop(&mut self) {
        // Only this test's server; a missing server is fine.
        let _ = self.tmux(&["kill-server"]);
        remove_socket_file(&self.socket, self.home());
    }
}

/// tmux can leave a killed server's socket file behind: removes the one named `socket` (a
/// socket this test created, never another) from `<TMUX_TMPDIR or /tmp>/tmux-<uid>/`, the
/// uid being the owner of `owned`, a path this test created.
pub fn remove_socket_file(socket: &str, owned: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        if let Ok(uid) = std::fs::metadata(owned).map(|m| m.uid()) {
            let tmpdir = std::env::var_os("TMUX_TMPDIR").filter(|v| !v.is_empty()).unwrap_or_else(|| "/tmp".into());
            let path = Path::new(&tmpdir).join(format!("tmux-{uid}")).join(socket);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// The literal strings a test's snapshots replace, longest first: its home and repository
/// (also as canonical paths), the binary under test, and its tmux socket.
pub fn literal_redactions(home: &Path, repo: &Path, socket: &str) -> Vec<(String, &'static str)> {
    let mut pairs = Vec::new();
    for (path, name) in [(home, "[HOME]"), (repo, "[REPO]")] {
        pairs.push((path.display().to_string(), name));
        if let Ok(c) = std::fs::canonicalize(path) {
            pairs.push((c.display().to_string(), name));
        }
    }
    pairs.push((agentpool_bin().display().to_string(), "[AGENTPOOL_BIN]"));
    pairs.push((socket.to_owned(), "[SOCKET]"));
    pairs.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
    pairs.dedup_by(|a, b| a.0 == b.0);
    pairs
}

/// Whether `s` is an AgentPool session id (`ap_` + 12 hex).
pub fn is_session_id(s: &str) -> bool {
    s.len() == 15 && s.starts_with("ap_") && s[3..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// stdout and stderr of a run, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Panics if the process panicked or printed a backtrace hint.
pub fn assert_no_panic(args: &[&str], out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in ["panicked", "RUST_BACKTRACE"] {
        assert!(
            !stderr.contains(needle) && !stdout.contains(needle),
            "agentpool {args:?} panicked:\n{}",
            describe(out)
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(out.status.signal().is_none(), "agentpool {args:?} was killed by a signal:\n{}", describe(out));
    }
}

/// Parses stdout as exactly one JSON document.
pub fn parse_json(args: &[&str], out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "agentpool {args:?} --json printed more than one line:\n{}",
        describe(out)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("agentpool {args:?}: stdout is not JSON ({e}):\n{}", describe(out)))
}

fn check_error(args: &[&str], out: &Output, expected: &str) -> Value {
    assert_eq!(out.status.code(), Some(1), "agentpool {args:?} should exit 1 with {expected}:\n{}", describe(out));
    let v = parse_json(args, out);
    let err = v["error"].clone();
    assert_eq!(err["code"], expected, "agentpool {args:?}: wrong error code:\n{}", describe(out));
    assert!(err["message"].as_str().is_some_and(|m| !m.trim().is_empty()), "error without a message: {v}");
    assert!(err["details"].is_object(), "error without a details object: {v}");
    assert_eq!(v.as_object().map(serde_json::Map::len), Some(1), "the envelope has only `error`: {v}");
    err
}

/// In a snapshot payload, replaces the value at `path` with `placeholder` after checking it
/// with `check` (for values that vary between runs but must still be right).
pub fn replace(v: &mut Value, path: &[&str], placeholder: &str, check: impl Fn(&Value) -> bool) {
    let mut cur = &mut *v;
    for key in path {
        cur = cur.get_mut(*key).unwrap_or_else(|| panic!("missing {path:?}"));
    }
    assert!(check(cur), "unexpected value at {path:?}: {cur}");
    *cur = Value::String(placeholder.to_owned());
}

/// A JSON integer greater than zero.
pub fn positive_int(v: &Value) -> bool {
    v.as_i64().is_some_and(|n| n > 0)
}
