//! The memory series of `cargo xtask bench`: peak RSS of the commands that read a worker's
//! transcript, on a transcript of 200 MB (2,000,000 lines of 100 bytes) and on one of a single
//! 50 MiB line without a newline.
//!
//! Per case: a `fake-idle` worker in its own series (temp `AGENTPOOL_HOME`, private socket),
//! then the flood is appended to its raw pane log — where tmux's `pipe-pane` would have put
//! it — so every command goes through the real read paths. The first `observe --detail full`
//! turns the raw log into the transcript (the sync row); then `observe --detail full --json`,
//! `collect --detail full --json` and `transcript --tail-lines 100 --json` are measured, each
//! in a fresh `xtask __peak-rss` helper (see `bench::peak_rss_helper`). RSS hardly moves
//! between runs, so a few samples do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{PEAK_RSS_HELPER, Series, progress, run_checked, run_json};

/// Every reading command must stay under this peak, whatever the transcript size.
pub const MAX_RSS_MIB: f64 = 32.0;
/// Samples per command: RSS is nearly deterministic, so more runs only cost time.
const MAX_SAMPLES: usize = 3;

/// One flood and its figures (MiB).
pub struct Case {
    pub name: &'static str,
    /// The first observe, which syncs the whole raw log into the transcript.
    pub sync: Vec<f64>,
    pub observe: Vec<f64>,
    pub collect: Vec<f64>,
    pub tail: Vec<f64>,
}

/// What a case writes into the raw log.
#[derive(Clone, Copy)]
enum Flood {
    /// 2,000,000 lines of 98 characters and CR LF: 200 MB.
    Lines,
    /// 50 MiB of one character, no newline.
    OneLine,
}

impl Flood {
    fn name(self) -> &'static str {
        match self {
            Flood::Lines => "200mb",
            Flood::OneLine => "50mb_line",
        }
    }

    /// Appends the flood to `log` in 1 MiB writes; returns the transcript bytes it yields.
    fn write(self, log: &Path) -> Result<u64, String> {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(log)
            .map_err(|e| format!("could not open `{}`: {e}", log.display()))?;
        let (block, count, text_per_block) = match self {
            Flood::Lines => {
                let line = [&[b'x'; 98][..], b"\r\n"].concat();
                (line.repeat(10_000), 200, 99 * 10_000)
            }
            Flood::OneLine => (vec![b'y'; 1024 * 1024], 50, 1024 * 1024),
        };
        for _ in 0..count {
            f.write_all(&block).map_err(|e| format!("could not write `{}`: {e}", log.display()))?;
        }
        Ok(count * text_per_block)
    }
}

pub fn measure(scratch: &Path, exe: &Path, repo: &Path, helper: &Path, runs: usize) -> Result<Vec<Case>, String> {
    let samples = runs.min(MAX_SAMPLES);
    [Flood::Lines, Flood::OneLine]
        .into_iter()
        .map(|flood| measure_case(scratch, exe, repo, helper, samples, flood))
        .collect()
}

fn measure_case(
    scratch: &Path,
    exe: &Path,
    repo: &Path,
    helper: &Path,
    samples: usize,
    flood: Flood,
) -> Result<Case, String> {
    progress(&format!(
        "memory, {} transcript: sync + {samples} runs each of observe, collect, transcript",
        flood.name()
    ));
    let series = Series::new(scratch, &format!("memory-{}", flood.name()))?;
    let spawned = run_json(
        series.agentpool(exe).args(["spawn", "--provider", "fake-idle", "--repo"]).arg(repo).args([
            "--task",
            "bench: stay idle",
            "--json",
        ]),
        "agentpool spawn",
    )?;
    let Some(id) = spawned["session_id"].as_str().map(str::to_owned) else {
        return Err(format!("`agentpool spawn` printed no session_id: {spawned}"));
    };
    let dir = spawned["session"]["artifact_dir"].as_str().map(PathBuf::from);
    let measured = dir
        .ok_or_else(|| format!("`agentpool spawn` printed no session.artifact_dir: {spawned}"))
        .and_then(|dir| run_case(&series, exe, helper, &id, &dir, samples, flood));
    let terminated = run_checked(series.agentpool(exe).args(["terminate", &id, "--json"]), "agentpool terminate");
    if let Some(dir) = spawned["session"]["artifact_dir"].as_str() {
        // Half a gigabyte per case: free it now rather than when the scratch dir goes.
        for file in ["raw/pane.log", "transcript.txt"] {
            let _ = std::fs::remove_file(Path::new(dir).join(file));
        }
    }
    let case = measured?;
    terminated?;
    Ok(case)
}

fn run_case(
    series: &Series,
    exe: &Path,
    helper: &Path,
    id: &str,
    dir: &Path,
    samples: usize,
    flood: Flood,
) -> Result<Case, String> {
    let text_bytes = flood.write(&dir.join("raw").join("pane.log"))?;
    let observe: &[&str] = &["observe", id, "--detail", "full", "--json"];
    let collect: &[&str] = &["collect", id, "--detail", "full", "--json"];
    let tail: &[&str] = &["transcript", id, "--tail-lines", "100", "--json"];
    let sync = vec![peak_rss_mib(series, exe, helper, observe)?];
    let transcript = dir.join("transcript.txt");
    let size = std::fs::metadata(&transcript).map(|m| m.len()).unwrap_or(0);
    if size < text_bytes {
        return Err(format!(
            "the first observe left `{}` at {size} bytes, expected at least {text_bytes}",
            transcript.display()
        ));
    }
    let mut case = Case { name: flood.name(), sync, observe: Vec::new(), collect: Vec::new(), tail: Vec::new() };
    for _ in 0..samples {
        case.observe.push(peak_rss_mib(series, exe, helper, observe)?);
        case.collect.push(peak_rss_mib(series, exe, helper, collect)?);
        case.tail.push(peak_rss_mib(series, exe, helper, tail)?);
    }
    Ok(case)
}

/// Runs `agentpool <args>` under the peak-RSS helper; the command must succeed.
fn peak_rss_mib(series: &Series, exe: &Path, helper: &Path, args: &[&str]) -> Result<f64, String> {
    let what = format!("xtask {PEAK_RSS_HELPER} agentpool {}", args.join(" "));
    let mut cmd = Command::new(helper);
    series.apply_env(&mut cmd);
    cmd.arg(PEAK_RSS_HELPER).arg(exe).args(args);
    let report: Value = run_json(&mut cmd, &what)?;
    if report["exit_code"] != 0 || report["stdout_bytes"].as_u64().unwrap_or(0) == 0 {
        return Err(format!("`agentpool {}` failed under the helper: {report}", args.join(" ")));
    }
    let kib = report["max_rss_kib"].as_i64().ok_or_else(|| format!("the helper printed no max_rss_kib: {report}"))?;
    Ok(kib as f64 / 1024.0)
}

impl Case {
    /// The report rows of this case: key, label, samples.
    pub fn rows(&self) -> [(&'static str, &'static str, &[f64]); 4] {
        match self.name {
            "200mb" => [
                ("memory_sync_200mb", "peak RSS: first observe, syncs 200 MB of raw output", &self.sync),
                ("memory_observe_200mb", "peak RSS: observe --detail full, 200 MB transcript", &self.observe),
                ("memory_collect_200mb", "peak RSS: collect --detail full, 200 MB transcript", &self.collect),
                ("memory_tail_200mb", "peak RSS: transcript --tail-lines 100, 200 MB", &self.tail),
            ],
            _ => [
                ("memory_sync_50mb_line", "peak RSS: first observe, syncs one 50 MiB line", &self.sync),
                ("memory_observe_50mb_line", "peak RSS: observe --detail full, one 50 MiB line", &self.observe),
                ("memory_collect_50mb_line", "peak RSS: collect --detail full, one 50 MiB line", &self.collect),
                ("memory_tail_50mb_line", "peak RSS: transcript --tail-lines 100, 50 MiB line", &self.tail),
            ],
        }
    }
}
