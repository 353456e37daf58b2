//! `cargo xtask conformance`: real coding-agent CLIs, installed at pinned versions, driven
//! through the `agentpool` binary against a loopback model stand-in (see [`standin`]).
//!
//! For each CLI (Claude Code, Codex CLI) it installs the pinned release from npm into
//! `target/conformance/npm/<cli>-<version>/` (an install already there, or the workspace's
//! `tests/mcp-hosts` one, is reused when its `--version` matches), builds `agentpool`, starts
//! the stand-in on loopback, and runs every scenario in a private world: a temporary
//! `AGENTPOOL_HOME`, a temporary `HOME` for the CLI, a scratch git repository and private tmux
//! sockets (`ap-conf-<pid>-…`), which it kills at the end. It prints a matrix of scenario,
//! verdict and seconds to detection, saves the screens and events of failed scenarios under
//! `target/conformance/failures/`, and exits non-zero when any scenario failed.

mod claude;
mod codex;
mod copilot;
mod opencode;
pub mod standin;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Parsed command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub cli: String,
    pub version: Option<String>,
    pub only: Vec<String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Self { cli: "claude".into(), version: None, only: Vec::new() };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            match a.as_str() {
                "--cli" => o.cli = value("--cli")?,
                "--version" => o.version = Some(value("--version")?),
                "--only" => o.only = value("--only")?.split(',').map(|s| s.trim().to_owned()).collect(),
                other => return Err(format!("unknown conformance option `{other}`")),
            }
        }
        if !["claude", "codex", "copilot", "opencode"].contains(&o.cli.as_str()) {
            return Err(format!("unknown CLI `{}` (conformance covers: claude, codex, copilot, opencode)", o.cli));
        }
        if let Some(v) = &o.version
            && !v.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        {
            return Err(format!("`{v}` is not a version"));
        }
        Ok(o)
    }
}

/// One row of the matrix.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub pass: bool,
    /// Seconds from the action to the answer that reported the event.
    pub seconds: Option<f64>,
    pub detail: String,
}

/// Every scenario, in the order they run (each CLI's runner implements all of them).
pub const SCENARIOS: [&str; 13] = [
    "plain",
    "noresult",
    "approval",
    "read_only",
    "ask",
    "slow",
    "interrupt",
    "err401",
    "err429",
    "err500",
    "terminate",
    "resume",
    "signed_out",
];

/// The `bin` of npm package `package` at `version`: a matching install in the cache or the
/// workspace's `tests/mcp-hosts`, else a fresh `npm install --prefix` into the cache.
/// `version_of` reads the version a binary reports.
pub fn npm_install(
    root: &Path,
    base: &Path,
    package: &str,
    bin: &str,
    version: &str,
    version_of: fn(&Path) -> Option<String>,
) -> Result<PathBuf, String> {
    let prefix = base.join("npm").join(format!("{bin}-{version}"));
    let cached = prefix.join("node_modules/.bin").join(bin);
    for candidate in [cached.clone(), root.join("tests/mcp-hosts/node_modules/.bin").join(bin)] {
        if candidate.exists() && version_of(&candidate).as_deref() == Some(version) {
            eprintln!("conformance: using {bin} {version} at {}", candidate.display());
            return Ok(candidate);
        }
    }
    eprintln!("conformance: installing {package}@{version} into {}", prefix.display());
    std::fs::create_dir_all(&prefix).map_err(|e| format!("could not create `{}`: {e}", prefix.display()))?;
    let status = Command::new("npm")
        .args(["install", "--prefix"])
        .arg(&prefix)
        .args(["--no-audit", "--no-fund", "--loglevel=error", &format!("{package}@{version}")])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("could not run npm (is Node.js installed?): {e}"))?;
    if !status.success() {
        return Err(format!("`npm install {package}@{version}` failed"));
    }
    match version_of(&cached) {
        Some(v) if v == version => Ok(cached),
        other => Err(format!("installed {bin} reports version {other:?}, not {version}")),
    }
}

/// Starts the stand-in (its log at `log`), builds the signed-in world once and a signed-out one
/// for `signed_out`, each running `agentpool`, and runs the scenarios (all, or those in `only`).
pub fn run_worlds<S>(
    cli: &str,
    log: &Path,
    agentpool: &Path,
    only: &[String],
    setup: impl Fn(&standin::StandIn, &str, bool) -> Result<S, String>,
    world: impl Fn(&mut S) -> &mut World,
    scenario: impl Fn(&S, &str) -> Row,
) -> Result<Vec<Row>, String> {
    let standin = standin::StandIn::start(log)?;
    eprintln!("conformance: stand-in at {}", standin.base_url());
    let with_agentpool = |tag: &str, signed_in: bool| -> Result<S, String> {
        let mut s = setup(&standin, tag, signed_in)?;
        world(&mut s).agentpool = agentpool.to_path_buf();
        Ok(s)
    };
    let main = with_agentpool("main", true)?;
    run_scenarios(cli, only, |name| {
        Ok(if name == "signed_out" { scenario(&with_agentpool("out", false)?, name) } else { scenario(&main, name) })
    })
}

/// Runs the scenarios (all, or those in `only`) through `one`, each with [`with_one_retry`],
/// logging every verdict under `cli`'s name.
pub fn run_scenarios(
    cli: &str,
    only: &[String],
    mut one: impl FnMut(&'static str) -> Result<Row, String>,
) -> Result<Vec<Row>, String> {
    for o in only {
        if !SCENARIOS.contains(&o.as_str()) {
            return Err(format!("unknown scenario `{o}` (known: {})", SCENARIOS.join(", ")));
        }
    }
    let mut rows = Vec::new();
    for name in SCENARIOS {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        eprintln!("conformance: {cli} {name} …");
        let row = with_one_retry(cli, name, || one(name))?;
        eprintln!("conformance: {cli} {name}: {} {}", if row.pass { "pass" } else { "FAIL" }, row.detail);
        rows.push(row);
    }
    Ok(rows)
}

/// What a scenario returns: passed, seconds to detection, detail.
pub type Outcome = Result<(bool, Option<f64>, String), String>;

/// Runs one scenario body; never panics, a failure is a row. The session the body spawned
/// (`id`) is terminated afterwards, and on a failure its screens are saved under `label`.
pub fn scenario(
    base: &Path,
    world: &World,
    label: &str,
    name: &str,
    body: impl FnOnce(&mut Option<String>, Instant) -> Outcome,
) -> Row {
    let start = Instant::now();
    let mut id: Option<String> = None;
    let (pass, seconds, detail) = match body(&mut id, start) {
        Ok(outcome) => outcome,
        Err(e) => (false, None, e),
    };
    if !pass {
        save_failure(base, world, label, id.as_deref(), &detail);
    }
    if let Some(id) = &id {
        let _ = world.call(&["terminate", id]);
    }
    Row { scenario: name.to_owned(), pass, seconds, detail }
}

/// Runs a scenario, and once more when it fails: real CLIs on a loaded machine sometimes drop a
/// key sent the instant a dialog appears. A pass on the second try is a pass that says so in
/// its detail (the first try's detail included); two failures are a failure.
pub fn with_one_retry(cli: &str, name: &str, mut run: impl FnMut() -> Result<Row, String>) -> Result<Row, String> {
    let first = run()?;
    if first.pass {
        return Ok(first);
    }
    eprintln!("conformance: {cli} {name}: failed once ({}); trying again", first.detail);
    let second = run()?;
    Ok(Row {
        detail: if second.pass {
            format!("{} (passed on the second try; first try: {})", second.detail, first.detail)
        } else {
            format!("{} (failed twice; first try: {})", second.detail, first.detail)
        },
        ..second
    })
}

/// Runs the suite.
pub fn run(root: &Path, opts: &Options) -> Result<(), String> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let base = target.join("conformance");
    std::fs::create_dir_all(&base).map_err(|e| format!("could not create `{}`: {e}", base.display()))?;
    let rows = if opts.cli == "copilot" {
        let version = opts.version.clone().unwrap_or_else(|| copilot::PINNED.to_owned());
        let cli = copilot::install(root, &base, &version)?;
        let agentpool = build_agentpool(root, &target)?;
        let rows = copilot::run(&base, &cli, &agentpool, &opts.only)?;
        print_matrix(&format!("copilot {version}"), &rows);
        rows
    } else if opts.cli == "opencode" {
        let version = opts.version.clone().unwrap_or_else(|| opencode::PINNED.to_owned());
        let cli = opencode::install(root, &base, &version)?;
        let agentpool = build_agentpool(root, &target)?;
        let rows = opencode::run(&base, &cli, &agentpool, &opts.only)?;
        print_matrix(&format!("opencode {version}"), &rows);
        rows
    } else if opts.cli == "codex" {
        let version = opts.version.clone().unwrap_or_else(|| codex::PINNED.to_owned());
        let cli = codex::install(root, &base, &version)?;
        let agentpool = build_agentpool(root, &target)?;
        let rows = codex::run(&base, &cli, &agentpool, &opts.only)?;
        print_matrix(&format!("codex {version}"), &rows);
        rows
    } else {
        let version = opts.version.clone().unwrap_or_else(|| claude::PINNED.to_owned());
        let cli = claude::install(root, &base, &version)?;
        let agentpool = build_agentpool(root, &target)?;
        let rows = claude::run(&base, &cli, &agentpool, &version, &opts.only)?;
        print_matrix(&format!("claude {version}"), &rows);
        rows
    };
    let failed = rows.iter().filter(|r| !r.pass).count();
    if failed > 0 {
        return Err(format!(
            "{failed} of {} scenarios failed; screens in {}",
            rows.len(),
            base.join("failures").display()
        ));
    }
    Ok(())
}

fn build_agentpool(root: &Path, target: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "agentpool-cli"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err("`cargo build -p agentpool-cli` failed".into());
    }
    let exe = target.join("debug").join("agentpool");
    exe.is_file().then_some(exe.clone()).ok_or_else(|| format!("no agentpool binary at `{}`", exe.display()))
}

fn print_matrix(title: &str, rows: &[Row]) {
    println!("\nconformance: {title}");
    println!("| scenario | verdict | seconds | detail |");
    println!("|---|---|---|---|");
    for r in rows {
        let secs = r.seconds.map_or("-".to_owned(), |s| format!("{s:.1}"));
        let verdict = if r.pass { "pass" } else { "FAIL" };
        println!("| {} | {verdict} | {secs} | {} |", r.scenario, r.detail.replace('|', "/"));
    }
}

/// A private world: the `agentpool` binary, its environment and a tmux socket killed on drop.
pub struct World {
    pub agentpool: PathBuf,
    pub env: Vec<(String, String)>,
    pub socket: String,
    pub home: PathBuf,
}

impl World {
    /// `agentpool spawn --provider P [extra…] --repo R --task T --isolation I --role …` (explorer
    /// for read_only, implementer otherwise); the new session's id.
    pub fn spawn(
        &self,
        provider: &str,
        extra: &[&str],
        repo: &Path,
        task: &str,
        isolation: &str,
    ) -> Result<String, String> {
        let repo = repo.display().to_string();
        let role = if isolation == "read_only" { "explorer" } else { "implementer" };
        let mut args = vec!["spawn", "--provider", provider];
        args.extend_from_slice(extra);
        args.extend(["--repo", &repo, "--task", task, "--isolation", isolation, "--role", role]);
        let doc = self.call(&args)?;
        doc["session_id"]
            .as_str()
            .or_else(|| doc["session"]["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("spawn printed no session id: {doc}"))
    }

    /// Runs `agentpool <args> --json`; the parsed output, or the error text.
    pub fn call(&self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = Command::new(&self.agentpool);
        cmd.args(args).arg("--json").env_clear().envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
        let out = cmd.output().map_err(|e| format!("could not run agentpool: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let doc: Value = serde_json::from_str(text.trim()).unwrap_or(Value::Null);
        if out.status.success() {
            Ok(doc)
        } else {
            Err(format!(
                "agentpool {} failed: {}{}",
                args.first().unwrap_or(&""),
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// `observe <id> --wait-for <what> --timeout <secs>`, timed.
    pub fn observe(&self, id: &str, what: &str, secs: u64) -> Result<(Value, f64), String> {
        let start = Instant::now();
        let doc =
            self.call(&["observe", id, "--wait-for", what, "--timeout", &secs.to_string(), "--detail", "excerpt"])?;
        Ok((doc, start.elapsed().as_secs_f64()))
    }

    /// Waits until the worker's screen shows `needle` (a hook can fire before its dialog is
    /// drawn, and a key sent then is lost).
    pub fn wait_screen(&self, id: &str, needle: &str, limit: Duration) -> bool {
        wait_until(limit, || {
            self.call(&["observe", id, "--detail", "full"])
                .ok()
                .and_then(|d| d["worker_output"]["text"].as_str().map(|t| t.contains(needle)))
                .unwrap_or(false)
        })
    }

    /// The artifact directory of a session (from its artifact manifest).
    pub fn artifacts(&self, id: &str) -> PathBuf {
        self.call(&["observe", id, "--detail", "full"])
            .ok()
            .and_then(|doc| doc["artifact_manifest"]["artifact_dir"].as_str().map(PathBuf::from))
            .unwrap_or_else(|| self.home.join("artifacts").join(id))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Only the server this run created, by its socket name.
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // And its socket file, so runs leave nothing behind.
        use std::os::unix::fs::FileTypeExt;
        let tmpdir = std::env::var_os("TMUX_TMPDIR").filter(|v| !v.is_empty()).unwrap_or_else(|| "/tmp".into());
        let path = Path::new(&tmpdir).join(format!("tmux-{}", nix::unistd::getuid())).join(&self.socket);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Copies a failed scenario's screen, events and signals to `failures/<scenario>/`.
pub fn save_failure(base: &Path, world: &World, scenario: &str, id: Option<&str>, note: &str) {
    let dir = base.join("failures").join(scenario);
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let _ = std::fs::write(dir.join("note.txt"), format!("{note}\n"));
    let Some(id) = id else { return };
    if let Ok(doc) = world.call(&["observe", id, "--detail", "full"]) {
        let _ = std::fs::write(dir.join("observe.json"), serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    let ad = world.artifacts(id);
    for name in ["latest_screen.txt", "events.jsonl", "signals.jsonl", "raw/pane.log", "claude-settings.json"] {
        let _ = std::fs::copy(ad.join(name), dir.join(name.replace('/', "-")));
    }
}

/// A short random suffix for socket names.
pub fn random_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{}-{:x}", std::process::id(), nanos)
}

/// Waits until `f` holds or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

/// `cargo xtask standin [--log FILE]`: runs the stand-in in the foreground and prints its URL
/// (for poking at a CLI by hand). Runs until killed.
pub fn serve(args: &[String]) -> Result<(), String> {
    let log = match args {
        [] => std::env::temp_dir().join(format!("agentpool-standin-{}.log", std::process::id())),
        [flag, path] if flag == "--log" => path.into(),
        _ => return Err("usage: cargo xtask standin [--log FILE]".into()),
    };
    let standin = standin::StandIn::start(&log)?;
    println!("{}", standin.base_url());
    eprintln!("stand-in: logging requests to {}", log.display());
    loop {
        std::thread::park();
    }
}

// ---- Checks every CLI's scenarios share ----------------------------------------------------

/// The events a scenario waits for when any outcome will do.
pub const ANY: &str = "completed,error,question,approval,idle";

pub fn scratch_repo(repo: &Path) -> Result<(), String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(repo)
            .env("GIT_AUTHOR_NAME", "conformance")
            .env("GIT_AUTHOR_EMAIL", "conformance@example.invalid")
            .env("GIT_COMMITTER_NAME", "conformance")
            .env("GIT_COMMITTER_EMAIL", "conformance@example.invalid")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    std::fs::write(repo.join("README.md"), "# conformance scratch repo\n").map_err(|e| e.to_string())?;
    if !(git(&["init", "-q"]) && git(&["add", "."]) && git(&["commit", "-q", "-m", "init"])) {
        return Err("could not create the scratch git repository".into());
    }
    Ok(())
}

/// What one observe answer said.
pub fn event(doc: &Value) -> &str {
    doc["event"].as_str().unwrap_or("?")
}

pub fn meta<'a>(doc: &'a Value, key: &str) -> &'a Value {
    &doc["metadata"][key]
}

pub fn describe(doc: &Value) -> String {
    let mut s = format!("event={} state={}", event(doc), doc["state"].as_str().unwrap_or("?"));
    for k in ["readiness", "error_class"] {
        if let Some(v) = meta(doc, k).as_str() {
            s.push_str(&format!(" {k}={v}"));
        }
    }
    if let Some(kind) = meta(doc, "signal")["kind"].as_str() {
        s.push_str(&format!(" signal={kind}"));
    }
    s
}

/// The pids of a process and all its descendants (from /proc).
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
            // `pid (comm) state ppid …`: the comm may hold spaces, so read after the last `)`.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

pub fn pane_pids(socket: &str) -> Vec<u32> {
    let out = Command::new("tmux").args(["-L", socket, "list-panes", "-a", "-F", "#{pane_pid}"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The `terminate` scenario once its slow turn is under way: every process of the pane's tree
/// is gone within 10 s of `agentpool terminate`; the seconds count from the terminate.
pub fn terminate_check(w: &World, id: &str) -> Outcome {
    let mut tree = Vec::new();
    for p in pane_pids(&w.socket) {
        tree.extend(process_tree(p));
    }
    let t = Instant::now();
    let doc = w.call(&["terminate", id])?;
    let gone = wait_until(Duration::from_secs(10), || tree.iter().all(|p| !alive(*p)));
    let left: Vec<u32> = tree.iter().copied().filter(|p| alive(*p)).collect();
    let ok = gone && !tree.is_empty();
    Ok((
        ok,
        Some(t.elapsed().as_secs_f64()),
        format!(
            "state={}; {} processes in the pane's tree, {} left",
            doc["state"].as_str().unwrap_or("?"),
            tree.len(),
            left.len()
        ),
    ))
}

/// The question an observe answer parsed, without its fence lines, on one line.
pub fn question_text(doc: &Value) -> String {
    let raw = doc["parsed_question"]["text"].as_str().or_else(|| doc["parsed_question"].as_str()).unwrap_or("");
    raw.lines().filter(|l| !l.contains("UNTRUSTED_WORKER_OUTPUT")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = Options::parse(&args(&["--cli", "claude", "--version", "2.1.332", "--only", "plain,err401"])).unwrap();
        assert_eq!((o.version.as_deref(), o.only.len()), (Some("2.1.332"), 2));
        assert!(Options::parse(&args(&["--cli", "nope"])).is_err());
        assert_eq!(Options::parse(&args(&["--cli", "codex"])).unwrap().cli, "codex");
        assert_eq!(Options::parse(&args(&["--cli", "copilot"])).unwrap().cli, "copilot");
        assert_eq!(Options::parse(&args(&["--cli", "opencode"])).unwrap().cli, "opencode");
        assert!(Options::parse(&args(&["--version", "1; rm -rf /"])).is_err());
        assert!(Options::parse(&args(&["--version"])).is_err());
    }
}
