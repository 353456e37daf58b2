//! The tmux [`Runtime`]: the only code in AgentPool that runs `tmux`.
//!
//! Workers live on a dedicated tmux server (socket `agentpool` by default, or
//! `AGENTPOOL_TMUX_SOCKET`) started with a config file AgentPool owns, so the user's
//! `~/.tmux.conf` cannot change base indexes, hooks or exit behaviour, and the user's own
//! `tmux ls` never shows workers. Panes are targeted by id (`%N`) and sessions by exact name
//! (`=name`). Each pane's raw output streams to a log with `pipe-pane`; `remain-on-exit` keeps
//! an exited worker's final screen and exit status.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use agentpool_core::config::Settings;
use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::model::{RuntimeKind, RuntimeRef};
use agentpool_core::process::{self, RunOptions, TIMEOUT_EXIT};
use agentpool_core::provider::which;
use agentpool_core::runtime::{LiveControl, Liveness, Runtime, Snapshot, SpawnSpec};
use agentpool_core::util;
use async_trait::async_trait;

/// The config our tmux server starts with. Every line is here for a reason: predictable
/// indexes for targets, kept screens for exited workers, no status line in captures, enough
/// history for observe, and names that never change under us.
const TMUX_CONF: &str = "\
# Written by AgentPool for its dedicated tmux server. Edits are overwritten.
set -g exit-empty on
set -g exit-unattached off
set -g destroy-unattached off
set -g base-index 0
setw -g pane-base-index 0
setw -g remain-on-exit on
set -g status off
set -g history-limit 20000
set -g allow-rename off
setw -g automatic-rename off
set -g escape-time 10
set -g set-titles off
";

const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Separates the status line from the screen in one combined tmux call.
const STATUS_MARK: &str = "AGENTPOOL-STATUS";

/// The tmux runtime.
#[derive(Debug, Clone)]
pub struct TmuxRuntime {
    binary: Option<PathBuf>,
    socket: String,
    config_file: PathBuf,
    width: u16,
    height: u16,
}

impl TmuxRuntime {
    /// A runtime for the configured socket; tmux is looked up on `PATH` (or taken from
    /// `runtime.tmux.binary`).
    pub fn new(settings: &Settings) -> Self {
        let t = &settings.config.runtime.tmux;
        let binary = match &t.binary {
            Some(b) => which(b),
            None => which("tmux"),
        };
        Self {
            binary,
            socket: settings.tmux_socket.clone(),
            config_file: settings.paths.home.join("tmux.conf"),
            width: t.width,
            height: t.height,
        }
    }

    /// The socket name.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    fn tmux(&self) -> Result<String> {
        self.binary.as_ref().map(|b| b.display().to_string()).ok_or_else(|| {
            Error::new(ErrorCode::TmuxNotFound, "tmux is required to run workers but was not found on `PATH`")
                .with("hint", "install tmux (e.g. `apt-get install tmux` or `brew install tmux`)")
        })
    }

    async fn run(&self, args: &[String], stdin: Option<&[u8]>, timeout: Duration) -> Result<process::Output> {
        // `-u`: UTF-8 output whatever the locale says; under `LANG=C` tmux would otherwise
        // print tabs in formats and every non-ASCII glyph of a captured screen as `_`.
        let mut argv = vec![
            self.tmux()?,
            "-u".to_owned(),
            "-L".to_owned(),
            self.socket.clone(),
            "-f".to_owned(),
            self.config_file.display().to_string(),
        ];
        argv.extend_from_slice(args);
        Ok(process::run(&argv, RunOptions { stdin, timeout: Some(timeout), ..Default::default() }).await)
    }

    fn ensure_config(&self) -> Result<()> {
        if std::fs::read_to_string(&self.config_file).ok().as_deref() != Some(TMUX_CONF) {
            util::write_atomic(&self.config_file, TMUX_CONF.as_bytes())?;
        }
        Ok(())
    }

    fn pane_target(r: &RuntimeRef) -> String {
        r.pane_id.clone().unwrap_or_else(|| format!("={}:{}.{}", r.session_name, r.window, r.pane))
    }
}

/// tmux splits its argv into commands at any argument ending in `;`; escape that so worker
/// arguments reach the worker unchanged.
fn escape_arg(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_owned(),
    }
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

/// Removes trailing spaces from each line and blank lines from the end: captures of a
/// 50-row pane are mostly padding.
fn tidy_screen(raw: &str) -> String {
    let mut lines: Vec<&str> = raw.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn gone(r: &RuntimeRef, stderr: &str) -> Error {
    Error::new(ErrorCode::TmuxSessionNotFound, format!("tmux session `{}` is gone", r.session_name))
        .with("tmux_session", &r.session_name)
        .with("stderr", stderr.trim())
}

#[async_trait]
impl Runtime for TmuxRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Tmux
    }

    fn binary_path(&self) -> Option<String> {
        self.binary.as_ref().map(|b| b.display().to_string())
    }

    async fn spawn(&self, spec: &SpawnSpec) -> Result<RuntimeRef> {
        self.tmux()?;
        self.ensure_config()?;
        if let Some(dir) = spec.output_log.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format_args!("could not create `{}`", dir.display()), &e))?;
        }
        // `=name:` is the session's (only) window and pane, matched exactly.
        let target = format!("={}:", spec.name);
        let mut args = strings(&["new-session", "-d", "-P", "-F", "#{pane_id}", "-s", &spec.name]);
        args.extend(["-x".into(), self.width.to_string(), "-y".into(), self.height.to_string()]);
        args.extend(["-c".into(), spec.cwd.display().to_string()]);
        for (k, v) in &spec.env {
            args.extend(["-e".into(), format!("{k}={v}")]);
        }
        args.extend(spec.argv.iter().map(|a| escape_arg(a)));
        // Chained in one client call so the pipe is attached before tmux reads any output.
        let log = shell_words::quote(&spec.output_log.display().to_string()).into_owned();
        let pipe = if spec.output_filter.is_empty() {
            format!("exec cat >> {log}")
        } else {
            let filter: Vec<String> = spec.output_filter.iter().map(|a| shell_words::quote(a).into_owned()).collect();
            format!("exec {} {log}", filter.join(" "))
        };
        args.extend(strings(&[";", "set-option", "-w", "-t", &target, "remain-on-exit", "on"]));
        args.extend(strings(&[";", "pipe-pane", "-o", "-t", &target, &pipe]));
        let out = self.run(&args, None, COMMAND_TIMEOUT).await?;
        let pane_id = out.stdout.lines().next().unwrap_or("").trim().to_owned();
        if !out.success() || !pane_id.starts_with('%') {
            if pane_id.starts_with('%') {
                // The session started but a later step failed: do not leave it behind.
                let _ = self
                    .run(&strings(&["kill-session", "-t", &format!("={}", spec.name)]), None, COMMAND_TIMEOUT)
                    .await;
            }
            return Err(Error::new(ErrorCode::SpawnFailed, format!("tmux could not start session `{}`", spec.name))
                .with("stderr", out.stderr.trim())
                .with("stdout", out.stdout.trim())
                .with("command", &spec.argv));
        }
        Ok(RuntimeRef {
            session_name: spec.name.clone(),
            window: "0".into(),
            pane: "0".into(),
            pane_id: Some(pane_id),
            socket: Some(self.socket.clone()),
            output_log: Some(spec.output_log.display().to_string()),
        })
    }

    async fn snapshot(&self, r: &RuntimeRef, history_lines: usize, timeout: Duration) -> Result<Snapshot> {
        let target = Self::pane_target(r);
        let fmt = format!("{STATUS_MARK} #{{session_name}} #{{pane_dead}} #{{pid}} #{{pane_dead_status}}");
        let mut args =
            strings(&["display-message", "-p", "-t", &target, &fmt, ";", "capture-pane", "-p", "-J", "-t", &target]);
        if history_lines > 0 {
            args.extend(["-S".into(), format!("-{history_lines}")]);
        }
        // tmux marks a pane dead as soon as its pty closes, but fills in the exit status only
        // after reaping the process, so a worker that just exited can read as dead with no
        // status (tmux PR #4841). Worse, tmux 3.3 sometimes misses the SIGCHLD altogether and
        // leaves the worker a zombie until some other child exits. So: nudge the server with
        // a SIGCHLD of our own (it then reaps and records the status; harmless otherwise) and
        // ask again briefly, rather than report an exit without its status.
        let settle = tokio::time::Instant::now() + timeout.min(Duration::from_secs(1));
        loop {
            let out = self.run(&args, None, timeout.max(Duration::from_millis(100))).await?;
            if out.status == TIMEOUT_EXIT {
                return Err(Error::new(ErrorCode::RuntimeCaptureTimeout, "capturing the tmux pane timed out")
                    .with("timeout_seconds", timeout.as_secs_f64()));
            }
            let (status, screen) = out.stdout.split_once('\n').unwrap_or((out.stdout.as_str(), ""));
            let mut parts = status.split_whitespace();
            // A recycled pane id (after a tmux server restart) belongs to someone else.
            if !out.success() || parts.next() != Some(STATUS_MARK) || parts.next() != Some(r.session_name.as_str()) {
                return Err(gone(r, &out.stderr));
            }
            let dead = parts.next() == Some("1");
            let server_pid = parts.next().and_then(|p| p.parse::<i32>().ok());
            let exit_status = if dead { parts.next().and_then(|s| s.parse().ok()) } else { None };
            if dead && exit_status.is_none() && tokio::time::Instant::now() < settle {
                if let Some(pid) = server_pid.filter(|p| *p > 1) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGCHLD);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            return Ok(Snapshot { screen: tidy_screen(screen), dead, exit_status });
        }
    }

    async fn paste(&self, r: &RuntimeRef, text: &str) -> Result<()> {
        let buffer = format!("agentpool-{}", util::random_hex(12));
        let target = Self::pane_target(r);
        // `-d` deletes the buffer after pasting so prompts never linger in tmux memory; `-p`
        // uses bracketed paste when the program asked for it, so TUIs take multi-line text as
        // one message.
        let args = strings(&[
            "load-buffer",
            "-b",
            &buffer,
            "-",
            ";",
            "paste-buffer",
            "-d",
            "-p",
            "-b",
            &buffer,
            "-t",
            &target,
        ]);
        let out = self.run(&args, Some(text.as_bytes()), COMMAND_TIMEOUT).await?;
        if !out.success() {
            let _ = self.run(&strings(&["delete-buffer", "-b", &buffer]), None, COMMAND_TIMEOUT).await;
            return Err(Error::new(
                ErrorCode::TmuxSendFailed,
                format!("could not paste into tmux pane of `{}`", r.session_name),
            )
            .with("stderr", out.stderr.trim()));
        }
        Ok(())
    }

    async fn send_keys(&self, r: &RuntimeRef, keys: &[String]) -> Result<()> {
        let target = Self::pane_target(r);
        let mut args = strings(&["send-keys", "-t", &target]);
        args.extend(keys.iter().cloned());
        let out = self.run(&args, None, COMMAND_TIMEOUT).await?;
        if !out.success() {
            return Err(gone(r, &out.stderr).with("keys", keys));
        }
        Ok(())
    }

    async fn list(&self) -> Result<HashMap<String, Liveness>> {
        let fmt = "#{session_name}\t#{pane_dead}\t#{pane_dead_status}";
        let out = self.run(&strings(&["list-panes", "-a", "-F", fmt]), None, COMMAND_TIMEOUT).await?;
        let mut map = HashMap::new();
        if !out.success() {
            // No server on our socket means no sessions.
            return Ok(map);
        }
        for line in out.stdout.lines() {
            let mut f = line.split('\t');
            let (Some(name), Some(dead)) = (f.next(), f.next()) else { continue };
            let status = f.next().and_then(|s| s.trim().parse().ok());
            let l = if dead == "1" { Liveness::Dead { exit_status: status } } else { Liveness::Alive };
            // A session has one pane; keep the first if a user split it.
            map.entry(name.to_owned()).or_insert(l);
        }
        Ok(map)
    }

    async fn terminate(&self, r: &RuntimeRef) -> Result<()> {
        let target = Self::pane_target(r);
        let pid = self
            .run(
                &strings(&["display-message", "-p", "-t", &target, "#{session_name} #{pane_dead} #{pane_pid}"]),
                None,
                COMMAND_TIMEOUT,
            )
            .await?;
        let mut parts = pid.stdout.split_whitespace();
        let ours = parts.next() == Some(r.session_name.as_str());
        let alive_pid = (parts.next() == Some("0")).then(|| parts.next().and_then(|p| p.parse::<i32>().ok())).flatten();
        let _ =
            self.run(&strings(&["kill-session", "-t", &format!("={}", r.session_name)]), None, COMMAND_TIMEOUT).await;
        if ours && let Some(pid) = alive_pid {
            // kill-session sends SIGHUP; children that ignore it still get SIGTERM as a group.
            let _ = nix_killpg(pid);
        }
        Ok(())
    }

    fn attach_command(&self, r: &RuntimeRef) -> String {
        let socket = r.socket.as_deref().unwrap_or(&self.socket);
        format!(
            "tmux -L {} attach -t {}",
            shell_words::quote(socket),
            shell_words::quote(&format!("={}", r.session_name))
        )
    }

    fn live_control(&self, allow_raw_keys: bool) -> LiveControl {
        LiveControl {
            can_capture_screen: true,
            can_send_message: true,
            can_send_keys: allow_raw_keys,
            can_interrupt: true,
            can_attach: true,
            attach_kind: "interactive",
        }
    }
}

fn nix_killpg(pid: i32) -> nix::Result<()> {
    // The pane process leads its own process group (tmux starts it with setsid).
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_command_separators() {
        assert_eq!(escape_arg("a;"), "a\\;");
        assert_eq!(escape_arg("a;b"), "a;b");
        assert_eq!(escape_arg("plain"), "plain");
    }

    #[test]
    fn tidies_padding() {
        assert_eq!(tidy_screen("a  \nb\n\n\n   \n"), "a\nb\n");
        assert_eq!(tidy_screen("\n\n"), "");
    }
}
