//! The MCP series of `cargo xtask bench`: `agentpool mcp` over stdio, driven by newline-delimited
//! JSON-RPC from this process.
//!
//! Each run starts a fresh server and measures, in order:
//! - cold start: process spawn until the `initialize` response is read;
//! - `get_inventory` on the now-warm server (after one unmeasured warm-up call): the round trip,
//!   and the handler time the server logs (`tool call done … elapsed_us=N` at debug level), whose
//!   difference is the MCP overhead (framing, dispatch, argument and result serialisation, pipes);
//! - `ping` round trip (the protocol floor, no tool);
//! - idle RSS: `VmRSS` of the server after 250 ms without requests.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bench::Series;

/// Spawn until `initialize` is answered.
pub const COLD_START_MAX_MS: f64 = 50.0;
/// Resident set of an idle server.
pub const IDLE_RSS_MAX_MIB: f64 = 20.0;
/// What MCP adds to a `get_inventory` call on top of the handler.
pub const OVERHEAD_MAX_MS: f64 = 5.0;

/// How long to wait for any single response or log line.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Quiet time before the idle RSS sample.
const IDLE_SETTLE: Duration = Duration::from_millis(250);

/// The sample sets: milliseconds, except `idle_rss_mib`.
#[derive(Default)]
pub struct Measured {
    pub cold_start: Vec<f64>,
    pub inventory_round_trip: Vec<f64>,
    pub overhead: Vec<f64>,
    pub ping: Vec<f64>,
    pub idle_rss_mib: Vec<f64>,
}

pub fn measure(scratch: &Path, exe: &Path, runs: usize) -> Result<Measured, String> {
    eprintln!("bench: agentpool mcp (cold start, get_inventory, ping, idle RSS): {runs} runs");
    let series = Series::new(scratch, "mcp")?;
    let mut measured = Measured::default();
    for i in 0..crate::bench::WARMUP_RUNS + runs {
        let run = one_run(&series, exe)?;
        if i >= crate::bench::WARMUP_RUNS {
            measured.cold_start.push(run.cold_start);
            measured.inventory_round_trip.push(run.inventory_round_trip);
            measured.overhead.push(run.inventory_round_trip - run.inventory_handler);
            measured.ping.push(run.ping);
            measured.idle_rss_mib.push(run.idle_rss_mib);
        }
    }
    Ok(measured)
}

struct Run {
    cold_start: f64,
    inventory_round_trip: f64,
    inventory_handler: f64,
    ping: f64,
    idle_rss_mib: f64,
}

/// A running server; dropping it closes stdin and, if it has not exited, kills it by pid.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    log: Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn send(&mut self, message: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the server's stdin is closed")?;
        writeln!(stdin, "{message}").and_then(|()| stdin.flush()).map_err(|e| format!("write to agentpool mcp: {e}"))
    }

    /// Reads lines until the response with `id` (notifications in between are skipped).
    /// Returns it with the instant its line had been read: parsing happens after the clock
    /// stops, because xtask is a debug build and would otherwise time its own JSON parser.
    fn response(&mut self, id: u64) -> Result<(Value, Instant), String> {
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).map_err(|e| format!("read from agentpool mcp: {e}"))?;
            let read_at = Instant::now();
            if n == 0 {
                return Err(format!("agentpool mcp closed stdout before answering request {id}"));
            }
            let v: Value =
                serde_json::from_str(&line).map_err(|e| format!("agentpool mcp printed non-JSON ({e}): {line}"))?;
            if v["id"] == id {
                if v.get("error").is_some() || v["result"]["isError"] == true {
                    return Err(format!("request {id} failed: {v}"));
                }
                return Ok((v, read_at));
            }
        }
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Result<(Value, f64), String> {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let start = Instant::now();
        self.send(&message)?;
        let (v, read_at) = self.response(id)?;
        Ok((v, (read_at - start).as_secs_f64() * 1000.0))
    }

    /// The handler time of the next `tool call done` log line for `tool`, in milliseconds.
    fn handler_ms(&self, tool: &str) -> Result<f64, String> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line =
                self.log.recv_timeout(left).map_err(|_| format!("agentpool mcp logged no timing for `{tool}`"))?;
            if line.contains("tool call done") && line.contains(&format!("tool={tool}")) {
                let us = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("elapsed_us="))
                    .and_then(|n| n.parse::<f64>().ok())
                    .ok_or_else(|| format!("unreadable timing line: {line}"))?;
                return Ok(us / 1000.0);
            }
        }
    }

    fn rss_mib(&self) -> Result<f64, String> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("could not read `{path}`: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .ok_or_else(|| format!("no VmRSS in `{path}`"))
    }
}

fn one_run(series: &Series, exe: &Path) -> Result<Run, String> {
    let start = Instant::now();
    let mut child = series
        .agentpool(exe)
        .arg("mcp")
        .env("AGENTPOOL_LOG", "agentpool_mcp=debug")
        .env_remove("AGENTPOOL_MCP_TOOLSETS")
        .env_remove("AGENTPOOL_MCP_TOOLS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `agentpool mcp`: {e}"))?;
    let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
        (Some(i), Some(o), Some(e)) => (i, o, e),
        _ => return Err("agentpool mcp started without pipes".into()),
    };
    let (tx, log) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut server = Server { child, stdin: Some(stdin), stdout: BufReader::new(stdout), log };

    let init = json!({"protocolVersion": "2025-06-18", "capabilities": {},
                      "clientInfo": {"name": "agentpool-bench", "version": "1"}});
    server.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}))?;
    let (_, read_at) = server.response(1)?;
    let cold_start = (read_at - start).as_secs_f64() * 1000.0;
    server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;

    let call = json!({"name": "get_inventory", "arguments": {}});
    let (warm, _) = server.request(2, "tools/call", call.clone())?;
    if warm["result"]["structuredContent"]["providers"].as_array().is_none_or(Vec::is_empty) {
        return Err(format!("get_inventory returned no providers: {warm}"));
    }
    server.handler_ms("get_inventory")?;
    let (_, inventory_round_trip) = server.request(3, "tools/call", call)?;
    let inventory_handler = server.handler_ms("get_inventory")?;
    let (_, ping) = server.request(4, "ping", json!({}))?;

    std::thread::sleep(IDLE_SETTLE);
    let idle_rss_mib = server.rss_mib()?;
    Ok(Run { cold_start, inventory_round_trip, inventory_handler, ping, idle_rss_mib })
}
