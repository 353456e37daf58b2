//! The `signal` series of `cargo xtask bench`: how soon an event a CLI reports through a hook
//! reaches whoever is waiting for it.
//!
//! One `fake-hooks` worker (it reports its lifecycle through hooks and never prints a result
//! block) runs for the whole series. Each run the bench makes the hook call the worker's launch
//! plan wired (`agentpool __signal fake-hooks notification <signal log>`, the payload on stdin,
//! as the worker runs it) with a question, and times it from just before that process starts:
//!
//! - `signal_observe`: to the exit of an `observe --wait-for question` that was started first
//!   and armed (its first look done, at least 300 ms running);
//! - `signal_notify`: with nobody observing, to the moment a `[[notify]]` webhook on loopback
//!   (a listener in this process) has read the request head: the hook call records the event
//!   and delivers its notifications itself.
//!
//! Between runs a `stop` hook call (the turn ended) puts the worker back to `idle`, untimed, so
//! every question is a new event.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    ChildGuard, OBSERVE_ARM_DELAY, STEP_TIMEOUT, Series, WARMUP_RUNS, millis, progress, run_checked, run_json,
};

/// The event must be reported within this (the issue: "within 1 s of the CLI emitting it").
pub const MAX_MS: f64 = 1000.0;

/// The two sample sets, in milliseconds.
pub struct Measured {
    pub observed: Vec<f64>,
    pub notified: Vec<f64>,
}

/// Runs the series: one worker, `WARMUP_RUNS + runs` rounds of both measurements.
pub fn measure(scratch: &Path, exe: &Path, repo: &Path, runs: usize) -> Result<Measured, String> {
    progress(&format!("signal latency (observe, notification): {runs} runs"));
    let series = Series::new(scratch, "signal")?;
    let hook = Webhook::start()?;
    let config = format!("[[notify]]\non = [\"question\"]\nwebhook = \"{}\"\ntimeout_ms = 5000\n", hook.url);
    let path = series.home.join("config.toml");
    std::fs::write(&path, config).map_err(|e| format!("could not write `{}`: {e}", path.display()))?;

    let spawned = run_json(
        series.agentpool(exe).args(["spawn", "--provider", "fake-hooks", "--repo"]).arg(repo).args([
            "--task",
            "bench: report through hooks",
            "--json",
        ]),
        "agentpool spawn",
    )?;
    let Some(id) = spawned["session_id"].as_str().map(str::to_owned) else {
        return Err(format!("`agentpool spawn` printed no session_id: {spawned}"));
    };
    let worker = Worker { series: &series, exe, id };
    let artifact_dir = spawned["session"]["artifact_dir"].as_str().or_else(|| spawned["artifact_dir"].as_str());
    let Some(artifact_dir) = artifact_dir else {
        return Err(format!("`agentpool spawn` printed no session.artifact_dir: {spawned}"));
    };
    let log = Path::new(artifact_dir).join("signals.jsonl");
    // The task's own turn ends with the worker's `stop` hook.
    worker.wait_for("idle")?;

    let mut measured = Measured { observed: Vec::new(), notified: Vec::new() };
    for run in 0..WARMUP_RUNS + runs {
        let observed = worker.observed_question(&log, &hook, run)?;
        let notified = worker.unobserved_question(&log, &hook, run)?;
        if run >= WARMUP_RUNS {
            measured.observed.push(millis(observed));
            measured.notified.push(millis(notified));
        }
    }
    Ok(measured)
}

/// The series' one worker; terminated when dropped.
struct Worker<'a> {
    series: &'a Series,
    exe: &'a Path,
    id: String,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        let _ = run_checked(self.series.agentpool(self.exe).args(["terminate", &self.id, "--json"]), "terminate");
    }
}

impl Worker<'_> {
    /// `observe --wait-for <event>` until it reports that event.
    fn wait_for(&self, event: &str) -> Result<(), String> {
        let doc = run_json(
            self.series.agentpool(self.exe).args([
                "observe",
                &self.id,
                "--wait-for",
                event,
                "--timeout",
                "30",
                "--json",
            ]),
            "agentpool observe",
        )?;
        if doc["event"] != event {
            return Err(format!("`agentpool observe --wait-for {event}` reported {}: {doc}", doc["event"]));
        }
        Ok(())
    }

    /// The hook call as the worker makes it: `agentpool __signal fake-hooks <hook> <log>` with
    /// the payload on stdin. Returns the instant just before the process was started.
    fn hook(&self, log: &Path, hook: &str, payload: &Value) -> Result<Instant, String> {
        let t0 = Instant::now();
        let mut child = self
            .series
            .agentpool(self.exe)
            .args(["__signal", "fake-hooks", hook])
            .arg(log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run `agentpool __signal`: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(payload.to_string().as_bytes()).map_err(|e| format!("could not write the payload: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("could not wait for `agentpool __signal`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`agentpool __signal` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(t0)
    }

    /// Ends the turn (`stop`, untimed) and waits until observe says `idle`, so the next question
    /// is a new event; then throws away any notification still arriving.
    fn reset(&self, log: &Path, hook: &Webhook, run: usize) -> Result<(), String> {
        self.hook(log, "stop", &json!({"last_assistant_message": format!("Done: bench round {run}")}))?;
        self.wait_for("idle")?;
        hook.drain();
        Ok(())
    }

    fn question(run: usize, phase: &str) -> Value {
        json!({"notification_type": "question", "message": format!("Bench question {run} ({phase}): sqlite or postgres?")})
    }

    /// A question with `observe --wait-for question` armed: hook call start → observe's exit.
    fn observed_question(&self, log: &Path, hook: &Webhook, run: usize) -> Result<Duration, String> {
        self.reset(log, hook, run)?;
        let started = Instant::now();
        let child = self
            .series
            .agentpool(self.exe)
            .args(["observe", &self.id, "--wait-for", "question", "--timeout", "30", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run `agentpool observe`: {e}"))?;
        let mut guard = ChildGuard(Some(child));
        std::thread::sleep(OBSERVE_ARM_DELAY.saturating_sub(started.elapsed()));
        if let Some(child) = guard.0.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(format!("`agentpool observe` returned before the question was reported ({status})"));
        }
        let t0 = self.hook(log, "notification", &Self::question(run, "observed"))?;
        let child = guard.0.take().ok_or("internal: observe child already taken")?;
        let out = child.wait_with_output().map_err(|e| format!("could not wait for `agentpool observe`: {e}"))?;
        let elapsed = t0.elapsed();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if doc["event"] != "question" {
            return Err(format!("`agentpool observe` did not report the question: {doc}"));
        }
        Ok(elapsed)
    }

    /// A question with nobody observing: hook call start → the webhook's request has arrived.
    fn unobserved_question(&self, log: &Path, hook: &Webhook, run: usize) -> Result<Duration, String> {
        self.reset(log, hook, run)?;
        let t0 = self.hook(log, "notification", &Self::question(run, "unobserved"))?;
        let (at, body) = hook.next(STEP_TIMEOUT)?;
        let doc: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if doc["event"] != "question" {
            return Err(format!("the notification was not the question: {body}"));
        }
        Ok(at.saturating_duration_since(t0))
    }
}

/// A loopback HTTP listener that answers every request 204 and reports when its head arrived.
struct Webhook {
    url: String,
    rx: mpsc::Receiver<(Instant, String)>,
}

impl Webhook {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("could not listen on loopback: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (tx, rx) = mpsc::channel();
        // The thread ends with the process (it blocks in accept); it serves loopback only.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Ok(clone) = stream.try_clone() else { continue };
                let mut reader = BufReader::new(clone);
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" || line == "\n" => break,
                        Ok(_) => {
                            if let Some((name, value)) = line.split_once(':')
                                && name.eq_ignore_ascii_case("content-length")
                            {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                }
                let at = Instant::now();
                let mut body = vec![0u8; length.min(1 << 20)];
                let _ = reader.read_exact(&mut body);
                let mut stream = stream;
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
                if tx.send((at, String::from_utf8_lossy(&body).into_owned())).is_err() {
                    break;
                }
            }
        });
        Ok(Webhook { url: format!("http://127.0.0.1:{port}/agentpool-bench"), rx })
    }

    /// The next request: when its head had been read, and its body.
    fn next(&self, limit: Duration) -> Result<(Instant, String), String> {
        self.rx.recv_timeout(limit).map_err(|_| format!("no notification reached the webhook within {limit:?}"))
    }

    /// Drops requests already received or arriving within a moment (a notification delivered
    /// by an earlier phase's observer).
    fn drain(&self) {
        while self.rx.recv_timeout(Duration::from_millis(50)).is_ok() {}
    }
}
