//! `cargo xtask bench`: times AgentPool's own commands against a bare-tmux floor.
//!
//! Everything runs in this one process, in one go, against a private copy of a fresh release
//! build of `agentpool` (the target dir is shared, so a concurrent build could otherwise swap
//! the binary mid-run): a temp git repo (one empty commit), and per measurement series its own
//! temp `AGENTPOOL_HOME` and private tmux socket (`tmux -L agentpool-bench-<pid>-<series>`),
//! whose server is killed and socket file removed when the series ends. The default tmux
//! server and `~/.agentpool` are never touched.
//!
//! Series, in this order, each with one untimed warm-up run:
//! 1. `inventory --json`: wall time and peak RSS. Each run goes through a fresh helper process
//!    (`xtask __peak-rss`) whose only child is `agentpool`, so `getrusage(RUSAGE_CHILDREN)`
//!    there reports exactly that run's peak (the largest of `agentpool` and anything it waited
//!    for), unpolluted by the cargo build or earlier runs of this process.
//! 2. The bare-tmux floor and `agentpool smoke`, interleaved run by run so machine noise hits
//!    both alike. The floor does the smoke's steps with raw tmux commands and a 2 ms
//!    capture-pane poll: start the fake worker in a new session, wait for its banner, paste a
//!    prompt, wait for its question, paste the answer, wait for the result block, kill the
//!    session. Both pay for starting a tmux server each run (the server exits with its last
//!    session; the floor takes a fresh socket per run so it never meets a server still
//!    exiting), and both include the fake's own 30 ms paste-drain window.
//! 3. Observe latency: a worker that prints a banner, then a question line the instant a FIFO
//!    is written;
//!    `observe --wait-for question` is started first and given time to take its first capture
//!    and settle into waiting. The latency is from just before the FIFO write to the observe
//!    process's exit. Then a second, one-shot `observe` on the already-asked question times a
//!    whole process start to exit, then `send` of one line to the waiting worker and the
//!    `terminate` that ends it, each a whole process start to exit.
//! 4. Signal latency: a `fake-hooks` worker's hook call (`agentpool __signal`), timed to a
//!    waiting `observe` and, with nobody observing, to its `[[notify]]` webhook (`bench::signal`).
//! 5. Stats, stand-in CLIs and the MCP server (`bench_stats`, `bench_standins`, `bench_mcp`).
//! 6. Memory: peak RSS of the transcript readers on a 200 MB transcript and on one 50 MiB line
//!    (`bench::memory`).
//! 7. Watch: the dashboard's idle CPU over 20 workers and how soon a change in the store is on
//!    its screen (`bench::watch`).
//!
//! `--only a,b` runs just the named series (`inventory`, `smoke`, `observe`, `signal`, `stats`,
//! `standins`, `mcp`, `memory`, `watch`).
//!
//! It is a report, not a test: a missed target is marked FAIL but the exit code stays 0.
//! Only a broken setup (no tmux, build failure, a step that never completes) fails the task.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::stat::Mode;
use serde_json::{Value, json};

mod memory;
mod signal;
mod watch;

/// Hidden subcommand name of [`peak_rss_helper`].
pub const PEAK_RSS_HELPER: &str = "__peak-rss";

const DEFAULT_RUNS: usize = 15;
const MAX_RUNS: usize = 1000;
/// Untimed runs per series, so the first timed run does not pay for cold caches.
pub(crate) const WARMUP_RUNS: usize = 1;

/// Poll interval of the floor's capture-pane loop: short, so the floor stays a floor.
const FLOOR_POLL: Duration = Duration::from_millis(2);
/// Upper bound for any single step (a screen appearing, a command finishing).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Minimum time `observe` runs before the trigger, so it is surely in its waiting loop.
const OBSERVE_ARM_DELAY: Duration = Duration::from_millis(300);

const FLOOR_SESSION: &str = "bench-floor";
const FLOOR_BUFFER: &str = "bench-floor-buffer";
const FLOOR_PROMPT: &str = "You are a benchmark worker.\nAsk one question, then finish.\n\nTask:\nsmoke task\n";
const FLOOR_ANSWER: &str = "Continue read-only.\n";
/// What the fake-question worker asks; also what the observe-latency worker prints.
const QUESTION_LINE: &str = "I found two possible paths. Should I inspect migrations or auth middleware first?";
const READY_MARKER: &str = "Agent ready.";
const RESULT_END: &str = "AGENTPOOL_RESULT_END";

const SMOKE_MAX_RATIO: f64 = 2.0;
const OBSERVE_MAX_MS: f64 = 10.0;
const SEND_MAX_MS: f64 = 10.0;
const TERMINATE_MAX_MS: f64 = 10.0;
/// What the observe series sends to its worker (a shell blocked in `sleep`: the line is only
/// echoed by the terminal).
const SEND_MESSAGE: &str = "bench: one follow-up line";
const INVENTORY_MAX_MS: f64 = 20.0;
const INVENTORY_MAX_RSS_MIB: f64 = 15.0;

/// The series `--only` can name, in the order they run.
const SERIES: [&str; 9] = ["inventory", "smoke", "observe", "signal", "stats", "standins", "mcp", "memory", "watch"];

/// Parsed `bench` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Timed runs per series.
    pub runs: usize,
    /// Print one JSON object instead of the table.
    pub json: bool,
    /// The series to run (`--only`); empty means all.
    pub only: Vec<&'static str>,
}

impl Options {
    /// Whether the named series runs.
    fn runs_series(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.contains(&name)
    }
}

impl Options {
    /// Parses the arguments after `bench`; the error is a usage message.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options { runs: DEFAULT_RUNS, json: false, only: Vec::new() };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let only = match arg.as_str() {
                "--only" => Some(iter.next().ok_or("`--only` needs a value")?.as_str()),
                other => other.strip_prefix("--only="),
            };
            if let Some(list) = only {
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let Some(known) = SERIES.iter().find(|s| **s == name) else {
                        return Err(format!("unknown bench series `{name}`; known: {}", SERIES.join(", ")));
                    };
                    if !options.only.contains(known) {
                        options.only.push(known);
                    }
                }
                if options.only.is_empty() {
                    return Err("`--only` needs at least one series name".into());
                }
                continue;
            }
            let runs_value = match arg.as_str() {
                "--json" => {
                    options.json = true;
                    continue;
                }
                "--runs" => iter.next().ok_or("`--runs` needs a value")?.as_str(),
                other => match other.strip_prefix("--runs=") {
                    Some(value) => value,
                    None => return Err(format!("unknown bench option `{other}`")),
                },
            };
            options.runs = match runs_value.parse::<usize>() {
                Ok(n) if (1..=MAX_RUNS).contains(&n) => n,
                _ => return Err(format!("`--runs` must be a whole number from 1 to {MAX_RUNS}, got `{runs_value}`")),
            };
        }
        Ok(options)
    }
}

/// Runs the whole benchmark and prints the report.
pub fn run(options: &Options) -> Result<(), String> {
    let tmux_version = tool_version("tmux", "-V")?;
    tool_version("git", "--version")?;
    progress("building agentpool (release)");
    let exe = build_agentpool()?;

    // Declared before the series so it is dropped after them: servers die, then files go.
    let scratch = Scratch::new()?;
    let repo = init_repo(&scratch.path)?;
    // The target dir is shared: a concurrent `cargo build` may replace the binary mid-run, so
    // every measurement uses a private copy of the one we just built.
    let built = exe;
    let exe = scratch.path.join("agentpool");
    std::fs::copy(&built, &exe)
        .map_err(|e| format!("could not copy `{}` to `{}`: {e}", built.display(), exe.display()))?;

    let runs = options.runs;
    let load_before = load_average();
    let helper = copy_self(&scratch.path)?;
    let mut rows = Vec::new();
    // Measured first (before any tmux server ran), reported after smoke and observe.
    let mut inventory_rows = Vec::new();

    if options.runs_series("inventory") {
        let inventory = Series::new(&scratch.path, "inventory")?;
        let inventory_runs = measure_inventory(&inventory, &exe, &helper, runs)?;
        drop(inventory);
        inventory_rows.push(Row::new(
            "inventory_wall",
            "inventory --json wall time",
            "ms",
            &inventory_runs.iter().map(|r| r.wall_ms).collect::<Vec<_>>(),
            Target::Max(INVENTORY_MAX_MS),
            None,
        ));
        inventory_rows.push(Row::new(
            "inventory_rss",
            "inventory --json peak RSS",
            "MiB",
            &inventory_runs.iter().map(|r| r.max_rss_kib as f64 / 1024.0).collect::<Vec<_>>(),
            Target::Max(INVENTORY_MAX_RSS_MIB),
            None,
        ));
    }

    if options.runs_series("smoke") {
        let smoke = Series::new(&scratch.path, "smoke")?;
        let (floor_runs, smoke_runs) = measure_floor_and_smoke(&scratch.path, &smoke, &exe, &repo, runs)?;
        drop(smoke);
        let floor_stats = Stats::of(&floor_runs);
        rows.push(Row::new("floor", "bare-tmux floor (smoke steps, raw tmux)", "ms", &floor_runs, Target::None, None));
        rows.push(Row::new(
            "smoke",
            "agentpool smoke",
            "ms",
            &smoke_runs,
            Target::RatioToFloor(SMOKE_MAX_RATIO),
            Some(floor_stats.median),
        ));
    }

    if options.runs_series("observe") {
        let observe = Series::new(&scratch.path, "observe")?;
        let timed = measure_observe(&observe, &exe, &repo, &scratch.path, runs)?;
        drop(observe);
        rows.push(Row::new(
            "observe_latency",
            "observe wake latency (print -> exit)",
            "ms",
            &timed.wake,
            Target::Max(OBSERVE_MAX_MS),
            None,
        ));
        rows.push(Row::new(
            "observe_oneshot",
            "observe one-shot (process start -> exit)",
            "ms",
            &timed.oneshot,
            Target::None,
            None,
        ));
        rows.push(Row::new(
            "send",
            "send one line to a waiting worker (process start -> exit)",
            "ms",
            &timed.send,
            Target::Max(SEND_MAX_MS),
            None,
        ));
        rows.push(Row::new(
            "terminate",
            "terminate a live worker (process start -> exit)",
            "ms",
            &timed.terminate,
            Target::Max(TERMINATE_MAX_MS),
            None,
        ));
        rows.push(Row::new(
            "process_floor",
            "  floor: agentpool --version (process start -> exit)",
            "ms",
            &timed.process_floor,
            Target::None,
            None,
        ));
        rows.push(Row::new(
            "tmux_call_floor",
            "  floor: one tmux client call (display-message)",
            "ms",
            &timed.tmux_floor,
            Target::None,
            None,
        ));
    }

    if options.runs_series("signal") {
        let measured = signal::measure(&scratch.path, &exe, &repo, runs)?;
        rows.push(Row::new(
            "signal_observe",
            "hook call -> waiting observe reports it",
            "ms",
            &measured.observed,
            Target::Peak(signal::MAX_MS),
            None,
        ));
        rows.push(Row::new(
            "signal_notify",
            "hook call -> notification, nobody observing",
            "ms",
            &measured.notified,
            Target::Peak(signal::MAX_MS),
            None,
        ));
    }

    rows.append(&mut inventory_rows);

    if options.runs_series("stats") {
        let stats_runs = crate::bench_stats::measure(&scratch.path, &exe, runs)?;
        rows.push(Row::new(
            "stats_100k",
            "stats --since all --json (100k sessions, 1M events)",
            "ms",
            &stats_runs,
            Target::Max(crate::bench_stats::STATS_MAX_MS),
            None,
        ));
    }

    if options.runs_series("standins") {
        let standins = crate::bench_standins::measure(&scratch.path, &exe, runs)?;
        rows.push(Row::new(
            "version_probe",
            "one stand-in `--version` (the floor below)",
            "ms",
            &standins.single_probe,
            Target::None,
            None,
        ));
        rows.push(Row::new(
            "inventory_cold_standins",
            "inventory --json, 7 stand-ins, no version cache",
            "ms",
            &standins.cold,
            Target::RatioToFloor(crate::bench_standins::COLD_MAX_RATIO),
            Some(Stats::of(&standins.single_probe).median),
        ));
        rows.push(Row::new(
            "inventory_cached_standins",
            "inventory --json, 7 stand-ins, versions cached",
            "ms",
            &standins.cached,
            Target::Max(crate::bench_standins::CACHED_MAX_MS),
            None,
        ));
    }

    if options.runs_series("mcp") {
        let mcp = crate::bench_mcp::measure(&scratch.path, &exe, runs)?;
        rows.push(Row::new(
            "mcp_cold_start",
            "agentpool mcp: spawn -> initialize answered",
            "ms",
            &mcp.cold_start,
            Target::Max(crate::bench_mcp::COLD_START_MAX_MS),
            None,
        ));
        rows.push(Row::new(
            "mcp_idle_rss",
            "agentpool mcp idle RSS (after initialize and 2 calls)",
            "MiB",
            &mcp.idle_rss_mib,
            Target::Max(crate::bench_mcp::IDLE_RSS_MAX_MIB),
            None,
        ));
        rows.push(Row::new(
            "mcp_tool_overhead",
            "MCP overhead of get_inventory (round trip - handler)",
            "ms",
            &mcp.overhead,
            Target::Max(crate::bench_mcp::OVERHEAD_MAX_MS),
            None,
        ));
        rows.push(Row::new(
            "mcp_get_inventory",
            "get_inventory round trip, warm server (core work included)",
            "ms",
            &mcp.inventory_round_trip,
            Target::None,
            None,
        ));
        rows.push(Row::new("mcp_ping", "MCP ping round trip", "ms", &mcp.ping, Target::None, None));
    }

    if options.runs_series("memory") {
        for case in memory::measure(&scratch.path, &exe, &repo, &helper, runs)? {
            for (key, label, samples) in case.rows() {
                rows.push(Row::new(key, label, "MiB", samples, Target::Peak(memory::MAX_RSS_MIB), None));
            }
        }
    }

    if options.runs_series("watch") {
        let measured = watch::measure(&scratch.path, &exe, &repo, runs)?;
        rows.push(Row::new(
            "watch_idle_cpu",
            "watch idle CPU, 20 sessions (% of one core)",
            "%",
            &measured.idle_cpu_percent,
            Target::Max(watch::IDLE_CPU_MAX_PERCENT),
            None,
        ));
        rows.push(Row::new(
            "watch_change",
            "watch: state written to the store -> shown on screen",
            "ms",
            &measured.change_ms,
            Target::Max(watch::CHANGE_MAX_MS),
            None,
        ));
    }

    let load = [load_before, load_average()];
    let report = Report { runs, binary: built, tmux_version, load, rows };
    if options.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

/// Progress goes to stderr so `--json` leaves stdout to the report.
fn progress(message: &str) {
    eprintln!("bench: {message}");
}

/// The 1/5/15-minute load averages, if the system exposes them: a busy machine (a parallel
/// build, say) inflates every figure, so the report says how busy it was.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// Checks that `tool` runs and returns its first output line.
fn tool_version(tool: &str, flag: &str) -> Result<String, String> {
    let out = Command::new(tool).arg(flag).output().map_err(|e| {
        format!("could not run `{tool} {flag}`: {e}\nhint: install `{tool}` (on Debian: `apt-get install {tool}`)")
    })?;
    if !out.status.success() {
        return Err(format!("`{tool} {flag}` failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_owned())
}

/// Builds `agentpool` in release mode and returns the path cargo reports for the executable
/// (so a custom `CARGO_TARGET_DIR` or `--target-dir` config is honoured).
fn build_agentpool() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "-p", "agentpool-cli", "--message-format=json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `cargo build`: {e}"))?;
    if !out.status.success() {
        return Err("`cargo build --release -p agentpool-cli` failed (see the compiler output above)".into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "agentpool")
        .filter_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| "`cargo build` reported no `agentpool` executable".to_owned())
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> &'static Path {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir)
}

/// The temp dir together with its canonical path (tmux and git report resolved paths).
struct Scratch {
    /// Removed on drop.
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Scratch {
    fn new() -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("agentpool-bench-")
            .tempdir()
            .map_err(|e| format!("could not create a temp dir: {e}"))?;
        let path =
            dir.path().canonicalize().map_err(|e| format!("could not resolve `{}`: {e}", dir.path().display()))?;
        Ok(Scratch { _dir: dir, path })
    }
}

/// Creates `<scratch>/repo`: a git repository with one empty commit and a local identity.
fn init_repo(scratch: &Path) -> Result<PathBuf, String> {
    let repo = scratch.join("repo");
    let repo_str = repo.display().to_string();
    let steps: [&[&str]; 4] = [
        &["init", "-q", &repo_str],
        &["-C", &repo_str, "config", "user.name", "AgentPool Bench"],
        &["-C", &repo_str, "config", "user.email", "bench@agentpool.invalid"],
        &["-C", &repo_str, "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", "bench: empty commit"],
    ];
    for args in steps {
        run_checked(Command::new("git").args(args), &format!("git {}", args.join(" ")))?;
    }
    Ok(repo)
}

/// One measurement series: its own `AGENTPOOL_HOME` and private tmux socket.
///
/// Dropping it kills the tmux server on that socket (and only that one).
pub(crate) struct Series {
    home: PathBuf,
    socket: String,
}

impl Series {
    pub(crate) fn new(scratch: &Path, name: &str) -> Result<Self, String> {
        let home = scratch.join(format!("home-{name}"));
        std::fs::create_dir_all(&home).map_err(|e| format!("could not create `{}`: {e}", home.display()))?;
        Ok(Series { home, socket: format!("agentpool-bench-{}-{name}", std::process::id()) })
    }

    /// The environment every child of this series gets.
    fn apply_env(&self, cmd: &mut Command) {
        cmd.env("AGENTPOOL_HOME", &self.home)
            .env("AGENTPOOL_TMUX_SOCKET", &self.socket)
            .env("NO_COLOR", "1")
            .env_remove("AGENTPOOL_CONFIG")
            // Inside a tmux session `$TMUX` names the user's server; our children must not care.
            .env_remove("TMUX");
    }

    /// Where `tmux -L <socket>` puts its socket: `$TMUX_TMPDIR` (default `/tmp`), then
    /// `tmux-<uid>/<socket>`.
    fn socket_path(&self) -> PathBuf {
        let dir = std::env::var_os("TMUX_TMPDIR").filter(|d| !d.is_empty()).unwrap_or_else(|| "/tmp".into());
        Path::new(&dir).join(format!("tmux-{}", nix::unistd::getuid())).join(&self.socket)
    }

    pub(crate) fn agentpool(&self, exe: &Path) -> Command {
        let mut cmd = Command::new(exe);
        self.apply_env(&mut cmd);
        cmd
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        self.apply_env(&mut cmd);
        cmd.args(["-L", &self.socket]);
        cmd
    }
}

impl Drop for Series {
    fn drop(&mut self) {
        // Usually no server is left (tmux exits with its last session); errors mean just that.
        let _ = self.tmux().arg("kill-server").stdout(Stdio::null()).stderr(Stdio::null()).status();
        // tmux leaves the socket file behind when its server exits; the name is ours alone
        // (it carries our pid), so remove it rather than litter the socket directory.
        let _ = std::fs::remove_file(self.socket_path());
    }
}

/// Runs `cmd` to completion; a spawn failure or non-zero exit is an error naming `what`.
fn run_checked(cmd: &mut Command, what: &str) -> Result<Output, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("could not run `{what}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{what}` failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ));
    }
    Ok(out)
}

/// Runs an `agentpool … --json` command and parses its stdout.
fn run_json(cmd: &mut Command, what: &str) -> Result<Value, String> {
    let out = run_checked(cmd, what)?;
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`{what}` printed invalid JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Inventory: wall time and peak RSS through a helper process
// ---------------------------------------------------------------------------------------------

/// One inventory run as reported by the helper.
struct RssRun {
    wall_ms: f64,
    max_rss_kib: i64,
}

/// Copies this xtask executable into `dir` for [`peak_rss_helper`] runs.
///
/// `cargo xtask` runs `target/debug/xtask`, which any concurrent `cargo build` may replace,
/// leaving our own path dangling; `/proc/self/exe` still reads the running image.
fn copy_self(dir: &Path) -> Result<PathBuf, String> {
    let proc_exe = Path::new("/proc/self/exe");
    let source = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().map_err(|e| format!("could not locate the xtask executable: {e}"))?
    };
    let target = dir.join("xtask-helper");
    std::fs::copy(&source, &target)
        .map_err(|e| format!("could not copy `{}` to `{}`: {e}", source.display(), target.display()))?;
    Ok(target)
}

fn measure_inventory(series: &Series, exe: &Path, helper: &Path, runs: usize) -> Result<Vec<RssRun>, String> {
    progress(&format!("inventory --json: {runs} runs"));
    // One checked run: the output must be the JSON document, or we would time an error path.
    let doc = run_json(series.agentpool(exe).args(["inventory", "--json"]), "agentpool inventory --json")?;
    if doc.get("providers").is_none() {
        return Err(format!("`agentpool inventory --json` printed no `providers`: {doc}"));
    }
    let mut results = Vec::with_capacity(runs);
    for i in 0..WARMUP_RUNS + runs {
        let mut cmd = Command::new(helper);
        series.apply_env(&mut cmd);
        cmd.arg(PEAK_RSS_HELPER).arg(exe).args(["inventory", "--json"]);
        let report = run_json(&mut cmd, "xtask __peak-rss agentpool inventory --json")?;
        if report["exit_code"] != 0 {
            return Err(format!("`agentpool inventory --json` failed under the helper: {report}"));
        }
        let (Some(wall_ns), Some(max_rss_kib)) = (report["wall_ns"].as_u64(), report["max_rss_kib"].as_i64()) else {
            return Err(format!("the peak-RSS helper printed an unexpected report: {report}"));
        };
        if i >= WARMUP_RUNS {
            results.push(RssRun { wall_ms: wall_ns as f64 / 1e6, max_rss_kib });
        }
    }
    Ok(results)
}

/// `xtask __peak-rss <program> [args…]`: runs the program once with its stdout captured and
/// prints `{"wall_ns", "max_rss_kib", "exit_code", "stdout_bytes"}`.
///
/// It must run in a process of its own: `RUSAGE_CHILDREN` reports the largest child this
/// process ever waited for, so the program has to be the only one.
pub fn peak_rss_helper(args: &[String]) -> Result<(), String> {
    let Some((program, rest)) = args.split_first() else {
        return Err(format!("`{PEAK_RSS_HELPER}` needs a program to run"));
    };
    let start = Instant::now();
    let out = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `{program}`: {e}"))?;
    let wall = start.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("getrusage failed: {e}"))?;
    // Linux reports ru_maxrss in KiB.
    let report = json!({
        "wall_ns": u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX),
        "max_rss_kib": usage.max_rss(),
        "exit_code": out.status.code(),
        "stdout_bytes": out.stdout.len(),
    });
    println!("{report}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Floor and smoke
// ---------------------------------------------------------------------------------------------

fn measure_floor_and_smoke(
    scratch: &Path,
    smoke: &Series,
    exe: &Path,
    repo: &Path,
    runs: usize,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    progress(&format!("bare-tmux floor and smoke, interleaved: {runs} runs each"));
    let mut floor_ms = Vec::with_capacity(runs);
    let mut smoke_ms = Vec::with_capacity(runs);
    for i in 0..WARMUP_RUNS + runs {
        // A fresh socket per floor run: right after `kill-session` the old server may still be
        // exiting, and a client that reaches it gets "server exited unexpectedly".
        let floor = Series::new(scratch, &format!("floor-{i}"))?;
        let f = floor_once(&floor, exe, repo)?;
        drop(floor);
        let s = smoke_once(smoke, exe, repo)?;
        if i >= WARMUP_RUNS {
            floor_ms.push(millis(f));
            smoke_ms.push(millis(s));
        }
    }
    Ok((floor_ms, smoke_ms))
}

/// The smoke's steps with raw tmux commands; returns the wall time from `new-session` to the
/// end of `kill-session`.
fn floor_once(series: &Series, exe: &Path, repo: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    // `remain-on-exit` (set in the same tmux call, before the worker can possibly exit) keeps
    // the final screen readable after the worker exits, as AgentPool's runtime does.
    let out = run_checked(
        series
            .tmux()
            .args(["-f", "/dev/null", "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", FLOOR_SESSION])
            .args(["-x", "200", "-y", "50", "-c"])
            .arg(repo)
            .arg(exe)
            .args(["__worker", "fake-question", ";", "set-option", "-w", "-t", FLOOR_SESSION, "remain-on-exit", "on"]),
        "tmux new-session",
    )?;
    let pane = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let steps = floor_steps(series, &pane);
    let killed = run_checked(series.tmux().args(["kill-session", "-t", FLOOR_SESSION]), "tmux kill-session");
    let elapsed = start.elapsed();
    steps?;
    killed?;
    Ok(elapsed)
}

fn floor_steps(series: &Series, pane: &str) -> Result<(), String> {
    wait_for_screen(series, pane, READY_MARKER)?;
    paste(series, pane, FLOOR_PROMPT)?;
    wait_for_screen(series, pane, QUESTION_LINE)?;
    paste(series, pane, FLOOR_ANSWER)?;
    wait_for_screen(series, pane, RESULT_END)
}

/// Polls `capture-pane` every [`FLOOR_POLL`] until `needle` is on the screen.
fn wait_for_screen(series: &Series, pane: &str, needle: &str) -> Result<(), String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let out = run_checked(series.tmux().args(["capture-pane", "-p", "-t", pane]), "tmux capture-pane")?;
        let screen = String::from_utf8_lossy(&out.stdout);
        if screen.contains(needle) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "floor: `{needle}` did not appear within {STEP_TIMEOUT:?}; screen:\n{}",
                screen.trim_end()
            ));
        }
        std::thread::sleep(FLOOR_POLL);
    }
}

/// `load-buffer` from stdin and `paste-buffer -d` in one tmux call, as AgentPool pastes.
fn paste(series: &Series, pane: &str, text: &str) -> Result<(), String> {
    let mut child = series
        .tmux()
        .args(["load-buffer", "-b", FLOOR_BUFFER, "-", ";", "paste-buffer", "-d", "-b", FLOOR_BUFFER, "-t", pane])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run `tmux load-buffer`: {e}"))?;
    let written = match child.stdin.take() {
        Some(mut stdin) => {
            stdin.write_all(text.as_bytes()).map_err(|e| format!("could not write to `tmux load-buffer`: {e}"))
        }
        None => Err("`tmux load-buffer` has no stdin".to_owned()),
    };
    let out = child.wait_with_output().map_err(|e| format!("could not wait for `tmux load-buffer`: {e}"))?;
    written?;
    if !out.status.success() {
        return Err(format!(
            "`tmux load-buffer; paste-buffer` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn smoke_once(series: &Series, exe: &Path, repo: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    let out = series
        .agentpool(exe)
        .args(["smoke", "--provider", "fake-question", "--repo"])
        .arg(repo)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run `agentpool smoke`: {e}"))?;
    let elapsed = start.elapsed();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() || doc["ok"] != true {
        return Err(format!(
            "`agentpool smoke` did not report \"ok\":true ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(elapsed)
}

// ---------------------------------------------------------------------------------------------
// Observe latency
// ---------------------------------------------------------------------------------------------

/// The observe series' samples, in milliseconds.
#[derive(Default)]
struct ObserveTimes {
    wake: Vec<f64>,
    oneshot: Vec<f64>,
    send: Vec<f64>,
    terminate: Vec<f64>,
    /// `agentpool --version`: what any command pays to start and exit.
    process_floor: Vec<f64>,
    /// One tmux client call on the series' socket: what each runtime step pays at least.
    tmux_floor: Vec<f64>,
}

fn measure_observe(
    series: &Series,
    exe: &Path,
    repo: &Path,
    scratch: &Path,
    runs: usize,
) -> Result<ObserveTimes, String> {
    progress(&format!(
        "observe latency, send, terminate: {runs} runs (each arms observe for at least {OBSERVE_ARM_DELAY:?})"
    ));
    let mut times = ObserveTimes::default();
    for i in 0..WARMUP_RUNS + runs {
        let run = observe_once(series, exe, repo, scratch, i)?;
        if i >= WARMUP_RUNS {
            times.wake.push(millis(run.wake));
            times.oneshot.push(millis(run.oneshot));
            times.send.push(millis(run.send));
            times.terminate.push(millis(run.terminate));
            times.process_floor.push(millis(run.process_floor));
            times.tmux_floor.push(millis(run.tmux_floor));
        }
    }
    Ok(times)
}

/// One observe run's timings.
struct ObserveRun {
    wake: Duration,
    oneshot: Duration,
    send: Duration,
    terminate: Duration,
    process_floor: Duration,
    tmux_floor: Duration,
}

/// The floors under `send` and `terminate`, taken while the worker still runs (the series'
/// tmux server exits with its last session): `agentpool --version`, and one tmux client call.
fn floors(series: &Series, exe: &Path) -> Result<(Duration, Duration), String> {
    let start = Instant::now();
    run_checked(series.agentpool(exe).arg("--version"), "agentpool --version")?;
    let process = start.elapsed();
    let start = Instant::now();
    run_checked(series.tmux().args(["display-message", "-p", "x"]), "tmux display-message")?;
    Ok((process, start.elapsed()))
}

/// Points the `fake-question` provider of this series at a shell worker that prints a banner,
/// blocks on `fifo`, then prints [`QUESTION_LINE`] the moment a line arrives.
///
/// The prompt goes in as an argument (`--initial-prompt-mode arg`), so nothing is pasted and
/// the screen stays quiet until the trigger. Reading a FIFO wakes the shell at once, unlike a
/// sleep loop that would add its own polling delay to the figure. The banner makes the
/// question a later line, as with a real agent: the first output a pane produces also pays
/// one-off start-up costs in the output pipeline, which are not observe's latency.
fn write_observe_config(series: &Series, fifo: &Path) -> Result<(), String> {
    let script = format!("echo 'Bench worker ready.'; read -r _ < \"$1\"; echo '{QUESTION_LINE}'; exec sleep 300");
    let argv =
        ["sh".to_owned(), "-c".to_owned(), script, "bench-observe-worker".to_owned(), fifo.display().to_string()];
    // A JSON string literal is also a valid TOML basic string (same escapes).
    let items: Vec<String> = argv.iter().map(|a| Value::String(a.clone()).to_string()).collect();
    let config = format!("[providers.fake-question]\ncommand = [{}]\n", items.join(", "));
    let path = series.home.join("config.toml");
    std::fs::write(&path, config).map_err(|e| format!("could not write `{}`: {e}", path.display()))
}

/// One observe run: wake latency and one-shot observe, then `send` and `terminate`.
fn observe_once(series: &Series, exe: &Path, repo: &Path, scratch: &Path, run: usize) -> Result<ObserveRun, String> {
    let fifo = scratch.join(format!("observe-trigger-{run}"));
    nix::unistd::mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(|e| format!("could not create FIFO `{}`: {e}", fifo.display()))?;
    write_observe_config(series, &fifo)?;
    let spawned = run_json(
        series.agentpool(exe).args(["spawn", "--provider", "fake-question", "--repo"]).arg(repo).args([
            "--task",
            "bench: wait for the trigger, then ask one question",
            "--initial-prompt-mode",
            "arg",
            "--json",
        ]),
        "agentpool spawn",
    )?;
    let Some(session_id) = spawned["session_id"].as_str() else {
        return Err(format!("`agentpool spawn` printed no session_id: {spawned}"));
    };
    let artifact_dir = spawned["session"]["artifact_dir"].as_str().or_else(|| spawned["artifact_dir"].as_str());
    let Some(artifact_dir) = artifact_dir else {
        // Still stop the worker: the series' server outlives this run.
        let _ = run_checked(series.agentpool(exe).args(["terminate", session_id, "--json"]), "agentpool terminate");
        return Err(format!("`agentpool spawn` printed no session.artifact_dir: {spawned}"));
    };
    let measured = observe_steps(series, exe, session_id, Path::new(artifact_dir), &fifo);
    let sent = if measured.is_ok() { Some(timed_send(series, exe, session_id)) } else { None };
    let floors = floors(series, exe);
    // The worker is stopped whatever happened above: the series' server outlives this run.
    // Clocks stop before the JSON is parsed (xtask is a debug build).
    let start = Instant::now();
    let terminated =
        run_checked(series.agentpool(exe).args(["terminate", session_id, "--json"]), "agentpool terminate");
    let terminate = start.elapsed();
    let _ = std::fs::remove_file(&fifo);
    let (wake, oneshot) = measured?;
    let send = sent.ok_or("internal: send was not run")??;
    let terminated: Value = serde_json::from_slice(&terminated?.stdout).unwrap_or(Value::Null);
    if terminated["already_terminated"] != false || terminated["would_terminate_runtime"] != true {
        return Err(format!("`agentpool terminate` did not report ending a live worker: {terminated}"));
    }
    let (process_floor, tmux_floor) = floors?;
    Ok(ObserveRun { wake, oneshot, send, terminate, process_floor, tmux_floor })
}

/// `send` of one line to the worker, checked for `"ok":true`; returns its wall time.
fn timed_send(series: &Series, exe: &Path, session_id: &str) -> Result<Duration, String> {
    let start = Instant::now();
    let out = run_checked(series.agentpool(exe).args(["send", session_id, SEND_MESSAGE, "--json"]), "agentpool send")?;
    let elapsed = start.elapsed();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if doc["ok"] != true {
        return Err(format!("`agentpool send` did not report \"ok\":true: {doc}"));
    }
    Ok(elapsed)
}

/// Kills the child if the run bails out before waiting for it.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn observe_steps(
    series: &Series,
    exe: &Path,
    session_id: &str,
    artifact_dir: &Path,
    fifo: &Path,
) -> Result<(Duration, Duration), String> {
    let observe_args = ["observe", session_id, "--wait-for", "question", "--timeout", "30", "--json"];
    let started = Instant::now();
    let child = series
        .agentpool(exe)
        .args(observe_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run `agentpool observe`: {e}"))?;
    let mut guard = ChildGuard(Some(child));

    // Armed means: the first capture is done (observe writes the screen artifact on its first
    // pass) and the process has had OBSERVE_ARM_DELAY to settle into its wait loop.
    let screen_file = artifact_dir.join("latest_screen.txt");
    while !screen_file.exists() {
        if started.elapsed() > STEP_TIMEOUT {
            return Err(format!("`agentpool observe` never wrote `{}`", screen_file.display()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(OBSERVE_ARM_DELAY.saturating_sub(started.elapsed()));
    if let Some(child) = guard.0.as_mut()
        && let Ok(Some(status)) = child.try_wait()
    {
        return Err(format!("`agentpool observe` returned before the worker asked anything ({status})"));
    }

    let t0 = trigger(fifo)?;
    let child = guard.0.take().ok_or("internal: observe child already taken")?;
    let out = child.wait_with_output().map_err(|e| format!("could not wait for `agentpool observe`: {e}"))?;
    let wake = t0.elapsed();
    check_question(&out, "agentpool observe")?;

    // The question is on the screen now: a fresh observe returns after one capture.
    let start = Instant::now();
    let out = series
        .agentpool(exe)
        .args(observe_args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run `agentpool observe`: {e}"))?;
    let oneshot = start.elapsed();
    check_question(&out, "agentpool observe (one-shot)")?;
    Ok((wake, oneshot))
}

/// Writes one line into the FIFO the worker is blocked on; returns the instant just before.
///
/// A non-blocking open fails with `ENXIO` while no reader has the FIFO open (the worker shell
/// still starting), so retry briefly instead of hanging.
fn trigger(fifo: &Path) -> Result<Instant, String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let t0 = Instant::now();
        match OpenOptions::new().write(true).custom_flags(OFlag::O_NONBLOCK.bits()).open(fifo) {
            Ok(mut file) => {
                file.write_all(b"go\n").map_err(|e| format!("could not write FIFO `{}`: {e}", fifo.display()))?;
                return Ok(t0);
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("could not open FIFO `{}` for writing: {e}", fifo.display())),
        }
    }
}

fn check_question(out: &Output, what: &str) -> Result<(), String> {
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() || doc["event"] != "question" {
        return Err(format!(
            "`{what}` did not report the question ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
    /// The 95th percentile (nearest rank).
    p95: f64,
}

impl Stats {
    /// Median (mean of the middle two for an even count), min, max and p95; zeros when empty.
    fn of(samples: &[f64]) -> Self {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n == 0 {
            return Stats { median: 0.0, min: 0.0, max: 0.0, p95: 0.0 };
        }
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        // Nearest rank: the smallest sample with at least 95 % of the samples at or below it.
        let rank = (n * 95).div_ceil(100).max(1);
        Stats { median, min: sorted[0], max: sorted[n - 1], p95: sorted[rank - 1] }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// Informational only.
    None,
    /// The median must not exceed this value (in the row's unit).
    Max(f64),
    /// The median divided by the floor's median must not exceed this.
    RatioToFloor(f64),
    /// No sample may exceed this value (a bound, such as peak memory, not a typical figure).
    Peak(f64),
}

struct Row {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    samples: Vec<f64>,
    stats: Stats,
    target: Target,
    ratio: Option<f64>,
}

impl Row {
    fn new(
        key: &'static str,
        label: &'static str,
        unit: &'static str,
        samples: &[f64],
        target: Target,
        floor: Option<f64>,
    ) -> Self {
        let stats = Stats::of(samples);
        let ratio = floor.filter(|f| *f > 0.0).map(|f| stats.median / f);
        Row { key, label, unit, samples: samples.to_vec(), stats, target, ratio }
    }

    fn pass(&self) -> Option<bool> {
        match self.target {
            Target::None => None,
            Target::Max(max) => Some(self.stats.median <= max),
            Target::RatioToFloor(max) => self.ratio.map(|r| r <= max),
            Target::Peak(max) => Some(self.stats.max <= max),
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => "-".into(),
            Target::Max(max) => format!("<= {max} {}", self.unit),
            Target::RatioToFloor(max) => format!("<= {max}x floor"),
            Target::Peak(max) => format!("max <= {max} {}", self.unit),
        }
    }
}

struct Report {
    runs: usize,
    binary: PathBuf,
    tmux_version: String,
    /// Load averages before and after the measurements.
    load: [Option<String>; 2],
    rows: Vec<Row>,
}

const METHOD_NOTES: &[&str] = &[
    "binary: a private copy of the fresh release build (a concurrent build cannot swap it mid-run)",
    "each series: own temp AGENTPOOL_HOME + private tmux socket; 1 untimed warm-up run",
    "floor: on a fresh socket each run, new-session (200x50, remain-on-exit) running `agentpool __worker fake-question`, capture-pane \
     poll every 2 ms for the banner, paste prompt, poll for the question, paste answer, poll for the \
     result block, kill-session; floor and smoke runs interleaved",
    "smoke: `agentpool smoke --provider fake-question --repo <temp repo> --json`, checked for \"ok\":true",
    "observe wake latency: `observe --wait-for question` started first and armed (first capture done, \
     >= 300 ms running); the worker (`--initial-prompt-mode arg`, a shell blocked on a FIFO) prints the \
     question on the FIFO write (after an earlier banner line); time from just before the write to \
     observe's exit",
    "observe one-shot: a new `observe --wait-for question` process with the question already on screen",
    "send / terminate: then `send <id> <one line> --json` to that worker (a shell in `sleep`, no submit keys: \
     paste + Enter) and `terminate <id> --json` of it while it runs, each from process start to exit; \
     between them, the floors under both: `agentpool --version`, and one `tmux display-message` on the series' socket",
    "inventory: each run in a fresh helper process; peak RSS = getrusage(RUSAGE_CHILDREN).ru_maxrss there \
     (the largest of agentpool and any child it waited for)",
    "signal: one fake-hooks worker; each run the bench makes the hook call its launch plan wired \
     (`agentpool __signal fake-hooks notification <signal log>`, payload on stdin) with a question, timed from \
     just before that process starts to the exit of an armed `observe --wait-for question` (signal_observe), \
     then, with nobody observing, to a loopback `[[notify]]` webhook having read the request head \
     (signal_notify); an untimed `stop` hook call returns the worker to idle before each; target: every \
     sample within 1 s",
    "stats: one seeded store of 100k sessions / 1M events / 20k usage snapshots, `stats --since all --json`",
    "stand-ins: seven executables named like the real CLIs on a private PATH, `--version` sleeps 0.3 s",
    "mcp: a fresh `agentpool mcp` per run over stdin/stdout; clocks stop when a response line is read \
     (before parsing); overhead = warm get_inventory round trip - the handler time the server logs; \
     idle RSS = VmRSS after 250 ms without requests",
    "memory: a fake-idle worker per case whose raw pane log gets 200 MB of 100-byte lines or one 50 MiB \
     line; the first `observe --detail full` syncs it into the transcript (sync row), then observe, \
     collect (both `--detail full --json`) and `transcript --tail-lines 100 --json`, up to 3 runs each, \
     peak RSS through the same helper as inventory; every sample must stay under the target",
];

impl Report {
    fn all_targets_met(&self) -> bool {
        self.rows.iter().all(|r| r.pass() != Some(false))
    }

    fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let target = match r.target {
                    Target::None => Value::Null,
                    Target::Max(max) => json!({"max": max, "unit": r.unit}),
                    Target::RatioToFloor(max) => json!({"max_ratio_to_floor": max}),
                    Target::Peak(max) => json!({"max_of_samples": max, "unit": r.unit}),
                };
                json!({
                    "name": r.key,
                    "label": r.label,
                    "unit": r.unit,
                    "median": r.stats.median,
                    "min": r.stats.min,
                    "max": r.stats.max,
                    "p95": r.stats.p95,
                    "target": target,
                    "ratio_to_floor": r.ratio,
                    "pass": r.pass(),
                    "samples": r.samples,
                })
            })
            .collect();
        json!({
            "runs": self.runs,
            "warmup_runs": WARMUP_RUNS,
            "binary": self.binary.display().to_string(),
            "tmux": self.tmux_version,
            "load_average": {"before": self.load[0], "after": self.load[1]},
            "cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
            "measurements": rows,
            "all_targets_met": self.all_targets_met(),
            "method": METHOD_NOTES,
        })
    }

    fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "agentpool bench: {} runs per series (+{WARMUP_RUNS} warm-up), {}",
            self.runs, self.tmux_version
        );
        let _ = writeln!(s, "binary: {}", self.binary.display());
        let load = |l: &Option<String>| l.clone().unwrap_or_else(|| "unknown".into());
        let cpus = std::thread::available_parallelism().map_or_else(|_| "?".into(), |n| n.get().to_string());
        let _ =
            writeln!(s, "load average before: {}, after: {} ({cpus} CPUs)\n", load(&self.load[0]), load(&self.load[1]));
        // The label column fits the longest label, so rows added later stay aligned.
        let width = self.rows.iter().map(|r| r.label.chars().count()).chain(["measurement".len()]).max().unwrap_or(0);
        let _ = writeln!(
            s,
            "{:<width$} {:>12} {:>12} {:>12} {:>12}  {:<16} {:>7}  result",
            "measurement", "median", "p95", "min", "max", "target", "ratio"
        );
        for r in &self.rows {
            let fmt = |v: f64| format!("{v:.2} {}", r.unit);
            let ratio = r.ratio.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}x"));
            let result = match r.pass() {
                None => "info",
                Some(true) => "PASS",
                Some(false) => "FAIL  <<<",
            };
            let _ = writeln!(
                s,
                "{:<width$} {:>12} {:>12} {:>12} {:>12}  {:<16} {:>7}  {}",
                r.label,
                fmt(r.stats.median),
                fmt(r.stats.p95),
                fmt(r.stats.min),
                fmt(r.stats.max),
                r.target_text(),
                ratio,
                result
            );
        }
        let verdict = if self.all_targets_met() { "all targets met" } else { "SOME TARGETS MISSED (see FAIL above)" };
        let _ = writeln!(s, "\n{verdict}\n\nmethod:");
        for note in METHOD_NOTES {
            let _ = writeln!(s, "  - {note}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_options() {
        assert_eq!(Options::parse(&[]), Ok(Options { runs: DEFAULT_RUNS, json: false, only: vec![] }));
        assert_eq!(
            Options::parse(&args(&["--runs", "3", "--json"])),
            Ok(Options { runs: 3, json: true, only: vec![] })
        );
        assert_eq!(Options::parse(&args(&["--runs=7"])), Ok(Options { runs: 7, json: false, only: vec![] }));
        let only = Options::parse(&args(&["--only", "memory,inventory", "--only=memory"])).unwrap();
        assert_eq!(only.only, ["memory", "inventory"]);
        assert!(only.runs_series("memory") && !only.runs_series("smoke"));
        assert!(Options::parse(&[]).unwrap().runs_series("smoke"));
        for bad in [
            &["--runs"][..],
            &["--runs", "0"],
            &["--runs", "x"],
            &["--fast"],
            &["--only"],
            &["--only", "x"],
            &["--only="],
        ] {
            assert!(Options::parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stats_use_the_middle() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]), Stats { median: 2.0, min: 1.0, max: 3.0, p95: 3.0 });
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]), Stats { median: 2.5, min: 1.0, max: 4.0, p95: 4.0 });
        // p95 by nearest rank: of 20 samples the 19th, of 11 the 11th (the largest).
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(Stats::of(&twenty).p95, 19.0);
        let eleven: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(Stats::of(&eleven).p95, 11.0);
        assert_eq!(Stats::of(&[]).p95, 0.0);
    }

    #[test]
    fn targets_decide_pass() {
        let smoke = Row::new("s", "s", "ms", &[90.0], Target::RatioToFloor(3.0), Some(30.0));
        assert_eq!((smoke.ratio, smoke.pass()), (Some(3.0), Some(true)));
        let slow = Row::new("o", "o", "ms", &[21.0], Target::Max(20.0), None);
        assert_eq!(slow.pass(), Some(false));
        assert_eq!(Row::new("f", "f", "ms", &[1.0], Target::None, None).pass(), None);
        // A peak bound holds for every sample, not the median.
        assert_eq!(Row::new("m", "m", "MiB", &[10.0, 10.0, 40.0], Target::Peak(32.0), None).pass(), Some(false));
        assert_eq!(Row::new("m", "m", "MiB", &[10.0, 31.0], Target::Peak(32.0), None).pass(), Some(true));
    }
}
