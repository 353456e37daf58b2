//! The `watch` series of `cargo xtask bench`: `agentpool watch` over 20 idle workers, in a
//! pane of a private tmux server of its own.
//!
//! - Idle CPU: the dashboard's user+system time (`/proc/<pid>/stat`, fields 14 and 15) over a
//!   few seconds with nothing changing, as a percentage of one core.
//! - Change latency: a session's state is written straight into the store (one autocommitted
//!   `UPDATE`, as any AgentPool process would write it) and the clock runs until the
//!   dashboard's pane shows the new state (capture-pane polled every 2 ms; one capture costs a
//!   few milliseconds, which this figure includes).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{STEP_TIMEOUT, Series, millis, progress, run_json};

/// Idle CPU target, percent of one core.
pub const IDLE_CPU_MAX_PERCENT: f64 = 1.0;
/// A change in the store must be on screen within this.
pub const CHANGE_MAX_MS: f64 = 100.0;

const WORKERS: usize = 20;
/// Length of one idle-CPU sample.
const IDLE_WINDOW: Duration = Duration::from_secs(4);

/// The two sample sets.
pub struct Measured {
    pub idle_cpu_percent: Vec<f64>,
    pub change_ms: Vec<f64>,
}

/// The viewer's tmux server, killed (with its socket file) when dropped.
struct Viewer {
    socket: String,
}

impl Viewer {
    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]).env_remove("TMUX").stdin(Stdio::null());
        cmd
    }

    fn screen(&self) -> String {
        let out = self.tmux().args(["capture-pane", "-p", "-t", "watch"]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    /// Polls the pane until `check` holds.
    fn wait_for(&self, what: &str, poll: Duration, check: impl Fn(&str) -> bool) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if check(&s) {
                return Ok(s);
            }
            if start.elapsed() > STEP_TIMEOUT {
                return Err(format!("watch never showed {what}; the screen was:\n{s}"));
            }
            std::thread::sleep(poll);
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").stdout(Stdio::null()).stderr(Stdio::null()).status();
        let dir = std::env::var_os("TMUX_TMPDIR").filter(|d| !d.is_empty()).unwrap_or_else(|| "/tmp".into());
        let _ =
            std::fs::remove_file(Path::new(&dir).join(format!("tmux-{}", nix::unistd::getuid())).join(&self.socket));
    }
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("no /proc/{pid}/stat: {e}"))?;
    // The command name (field 2) may hold spaces; fields are counted after its `)`.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok(field(14) + field(15))
}

pub fn measure(scratch: &Path, exe: &Path, repo: &Path, runs: usize) -> Result<Measured, String> {
    let series = Series::new(scratch, "watch")?;
    std::fs::write(series.home.join("config.toml"), "[policy]\nmax_parallel_sessions = 25\n")
        .map_err(|e| format!("could not write the config: {e}"))?;
    progress(&format!("watch: spawning {WORKERS} idle workers"));
    let repo_str = repo.display().to_string();
    let mut ids = Vec::new();
    for i in 0..WORKERS {
        let task = format!("bench worker {i}: wait");
        let v = run_json(
            series.agentpool(exe).args([
                "spawn",
                "--provider",
                "fake-idle",
                "--repo",
                &repo_str,
                "--task",
                &task,
                "--json",
            ]),
            "agentpool spawn",
        )?;
        ids.push(v["session_id"].as_str().unwrap_or_default().to_owned());
    }

    let viewer = Viewer { socket: format!("agentpool-bench-{}-watchview", std::process::id()) };
    // `exec`, so the pane's process is the dashboard itself.
    let line = format!(
        "exec env AGENTPOOL_HOME='{}' AGENTPOOL_TMUX_SOCKET='{}' NO_COLOR=1 '{}' watch",
        series.home.display(),
        series.socket,
        exe.display()
    );
    let started = viewer.tmux().args(["new-session", "-d", "-s", "watch", "-x", "100", "-y", "30", &line]).status();
    if !started.is_ok_and(|s| s.success()) {
        return Err("could not start tmux for the watch series".into());
    }
    let pid_out = viewer
        .tmux()
        .args(["display-message", "-p", "-t", "watch", "#{pane_pid}"])
        .output()
        .map_err(|e| format!("could not ask tmux for the pane pid: {e}"))?;
    let pid: u32 =
        String::from_utf8_lossy(&pid_out.stdout).trim().parse().map_err(|_| "tmux reported no pane pid".to_owned())?;
    let header = format!("{WORKERS} sessions");
    let first = viewer.wait_for(&header, Duration::from_millis(20), |s| s.contains(&header))?;
    // The selected (first) row: its state is what the latency runs flip.
    let id = first
        .lines()
        .find(|l| l.starts_with('>'))
        .and_then(|l| l[1..].split_whitespace().next())
        .filter(|id| ids.iter().any(|i| i == id))
        .ok_or_else(|| format!("no selected row on the dashboard:\n{first}"))?
        .to_owned();

    let ticks_per_second =
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|t| *t > 0).unwrap_or(100) as f64;
    let samples = runs.clamp(1, 3);
    progress(&format!("watch: idle CPU, {samples} windows of {}s", IDLE_WINDOW.as_secs()));
    std::thread::sleep(Duration::from_secs(1));
    let mut idle_cpu_percent = Vec::new();
    for _ in 0..samples {
        let (t0, c0) = (Instant::now(), cpu_ticks(pid)?);
        std::thread::sleep(IDLE_WINDOW);
        let (t1, c1) = (Instant::now(), cpu_ticks(pid)?);
        let busy = (c1 - c0) as f64 / ticks_per_second;
        idle_cpu_percent.push(busy / (t1 - t0).as_secs_f64() * 100.0);
    }

    progress(&format!("watch: change -> frame latency, {runs} runs"));
    let db = rusqlite::Connection::open(series.home.join("agentpool.sqlite")).map_err(|e| e.to_string())?;
    db.busy_timeout(Duration::from_secs(15)).map_err(|e| e.to_string())?;
    let mut change_ms = Vec::new();
    for i in 0..super::WARMUP_RUNS + runs {
        // Both states are live, so the row keeps its place.
        let state = if i % 2 == 0 { "AWAITING_USER_INPUT" } else { "RUNNING" };
        db.execute("UPDATE sessions SET state = ?1 WHERE id = ?2", [state, id.as_str()]).map_err(|e| e.to_string())?;
        let start = Instant::now();
        viewer.wait_for(state, Duration::from_millis(2), |s| {
            s.lines().any(|l| l.contains(&id) && l.contains(state) && !l.contains(" · "))
        })?;
        if i >= super::WARMUP_RUNS {
            change_ms.push(millis(start.elapsed()));
        }
        // Let the dashboard go idle again between runs; the odd step moves each change to
        // another point of the dashboard's 50 ms poll, so the runs sample the whole cycle.
        std::thread::sleep(Duration::from_millis(150 + (i as u64 * 17) % 50));
    }
    drop(viewer);
    drop(series);
    Ok(Measured { idle_cpu_percent, change_ms })
}
