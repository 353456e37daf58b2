//! A long-lived child spoken to in newline-delimited JSON over stdin/stdout (e.g.
//! `codex app-server`): own process group, dumb terminal, stderr drained in the background so
//! a chatty child cannot block, and the whole group killed when the handle is dropped — on
//! every path, including cancellation by a time budget.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Most stderr kept for error messages.
const STDERR_KEEP: usize = 4000;

/// A running line-protocol child.
pub struct LineChild {
    child: Child,
    pgid: Option<i32>,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    /// The background task collecting stderr; it ends at EOF, i.e. once the child is gone.
    stderr_done: Option<tokio::task::JoinHandle<()>>,
    program: String,
}

impl LineChild {
    /// Starts `argv` with piped stdio in its own process group.
    pub async fn spawn(argv: &[String]) -> Result<Self, String> {
        let (program, args) = argv.split_first().ok_or("empty command")?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .env("CLICOLOR", "0")
            .env("FORCE_COLOR", "0");
        let mut child = crate::process::spawn(&mut cmd).await.map_err(|e| format!("could not run `{program}`: {e}"))?;
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout pipe")?).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_done = None;
        if let Some(mut err) = child.stderr.take() {
            let keep = stderr.clone();
            stderr_done = Some(tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = keep.lock()
                        && s.len() < STDERR_KEEP
                    {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            }));
        }
        Ok(Self { child, pgid, stdin, stdout, stderr, stderr_done, program: program.clone() })
    }

    /// Writes one compact JSON line.
    pub async fn send(&mut self, msg: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin is closed")?;
        let mut line = msg.to_string();
        line.push('\n');
        let written = match stdin.write_all(line.as_bytes()).await {
            Ok(()) => stdin.flush().await,
            Err(e) => Err(e),
        };
        let Err(e) = written else { return Ok(()) };
        // Usually the child exited before reading its input: what it printed on stderr says
        // why, a broken pipe does not. Wait (bounded) for it to finish and for stderr to drain.
        let method = msg.get("method").and_then(Value::as_str).unwrap_or("a request").to_owned();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        if let Some(done) = self.stderr_done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
        }
        match self.stderr_text() {
            err if !err.is_empty() => Err(format!("`{}` exited during {method}: {err}", self.program)),
            _ => Err(format!("could not write to `{}`: {e}", self.program)),
        }
    }

    /// Reads lines until a JSON object whose `id` equals `id`, skipping blank and non-JSON
    /// lines and other messages (notifications). Errors on exit or after `timeout`.
    pub async fn read_reply(&mut self, id: i64, method: &str, timeout: Duration) -> Result<Value, String> {
        let wait = async {
            loop {
                match self.stdout.next_line().await {
                    Ok(Some(line)) => {
                        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else { continue };
                        if v.get("id").and_then(Value::as_i64) == Some(id) {
                            return Ok(v);
                        }
                    }
                    Ok(None) | Err(_) => {
                        return Err(format!("`{}` exited during {method}: {}", self.program, self.stderr_text()));
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| Err(format!("`{}` timed out during {method}", self.program)))
    }

    /// What the child wrote on stderr so far (bounded, trimmed).
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| crate::util::tail_chars(s.trim(), 1000).to_owned()).unwrap_or_default()
    }

    /// Kills the process group now.
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for LineChild {
    fn drop(&mut self) {
        self.kill();
    }
}
