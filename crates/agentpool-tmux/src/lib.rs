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

use agentpool_sdk::env;
use agentpool_sdk::error::{Error, ErrorCode, Result};
use agentpool_sdk::model::{RuntimeKind, RuntimeRef};
use agentpool_sdk::probe::which;
use agentpool_sdk::process::{self, RunOptions, TIMEOUT_EXIT};
use agentpool_sdk::runtime::{LiveControl, Liveness, Runtime, Snapshot, SpawnSpec};
use agentpool_sdk::util;
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

/// What a [`TmuxRuntime`] needs to know: the engine's settings, as the front end reads them.
#[derive(Debug, Clone)]
pub struct TmuxOptions {
    /// `runtime.tmux.binary`: a name or path; `None` looks `tmux` up on `PATH`.
    pub binary: Option<String>,
    /// The socket name (`tmux -L`).
    pub socket: String,
    /// Where AgentPool's own tmux config is written and read from.
    pub config_file: PathBuf,
    /// Window size of new sessions.
    pub width: u16,
    pub height: u16,
}

impl TmuxRuntime {
    /// A runtime for the configured socket; tmux is looked up on `PATH` (or taken from
    /// `runtime.tmux.binary`).
    pub fn new(opts: TmuxOptions) -> Self {
        let binary = match &opts.binary {
            Some(b) => which(b),
            None => which("tmux"),
        };
        Self { binary, socket: opts.socket, config_file: opts.config_file, width: opts.width, height: opts.height }
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
        self.run_on(&self.socket, args, stdin, timeout).await
    }

    /// `tmux` with the options every call takes, aimed at `socket`.
    fn argv_on(&self, socket: &str) -> Result<Vec<String>> {
        // `-u`: UTF-8 output whatever the locale says; under `LANG=C` tmux would otherwise
        // print tabs in formats and every non-ASCII glyph of a captured screen as `_`.
        Ok(vec![
            self.tmux()?,
            "-u".to_owned(),
            "-L".to_owned(),
            socket.to_owned(),
            "-f".to_owned(),
            self.config_file.display().to_string(),
        ])
    }

    /// Runs a tmux command on `socket`: a session's own socket for everything aimed at it.
    async fn run_on(
        &self,
        socket: &str,
        args: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<process::Output> {
        let mut argv = self.argv_on(socket)?;
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

    /// The socket a session lives on: the one it recorded, else this runtime's.
    fn socket_of<'a>(&'a self, r: &'a RuntimeRef) -> &'a str {
        r.socket.as_deref().filter(|s| !s.is_empty()).unwrap_or(&self.socket)
    }

    /// Runs a command aimed at session `r`, on the socket it lives on.
    async fn run_for(
        &self,
        r: &RuntimeRef,
        args: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<process::Output> {
        self.run_on(self.socket_of(r), args, stdin, timeout).await
    }

    /// Pastes `text` into the pane, then sends `keys` (plain key names, see [`is_plain_key`])
    /// in the same client call.
    async fn paste_and(&self, r: &RuntimeRef, text: &str, keys: &[String]) -> Result<()> {
        let buffer = format!("agentpool-{}", util::random_hex(12));
        let target = Self::pane_target(r);
        // `-d` deletes the buffer after pasting so prompts never linger in tmux memory; `-p`
        // uses bracketed paste when the program asked for it, so TUIs take multi-line text as
        // one message. Pasting into a pane whose process exited crashes tmux 3.3's server —
        // and with it every worker on the socket — so the server checks the pane first, in
        // the same call (buffer, pane and key names are plain tokens, safe inside the
        // branches). Keys after the paste are sent by the same check: none reach a dead pane.
        let mut then = format!("paste-buffer -d -p -b {buffer} -t {target}");
        if !keys.is_empty() {
            then.push_str(&format!(" ; send-keys -t {target} {}", keys.join(" ")));
        }
        let args = strings(&[
            "load-buffer",
            "-b",
            &buffer,
            "-",
            ";",
            "if-shell",
            "-F",
            "-t",
            &target,
            "#{pane_dead}",
            &format!("delete-buffer -b {buffer} ; display-message -p {PANE_DEAD}"),
            &then,
        ]);
        let out = self.run_for(r, &args, Some(text.as_bytes()), COMMAND_TIMEOUT).await?;
        if out.stdout.contains(PANE_DEAD) {
            return Err(if keys.is_empty() { exited(r) } else { exited(r).with("keys", keys) });
        }
        if !out.success() {
            let _ = self.run_for(r, &strings(&["delete-buffer", "-b", &buffer]), None, COMMAND_TIMEOUT).await;
            let err = Error::new(
                ErrorCode::TmuxSendFailed,
                format!("could not paste into tmux pane of `{}`", r.session_name),
            )
            .with("stderr", out.stderr.trim());
            return Err(if keys.is_empty() { err } else { err.with("keys", keys) });
        }
        Ok(())
    }

    /// Kills session `r` and, if its pane process still ran, that process group; returns
    /// whether the session was there to kill.
    ///
    /// The pane's owner, state and pid are read and the session killed in one client call.
    /// tmux skips the rest of a command list after a failing command, so when the pane cannot
    /// be read (gone while its session is not, say) the kill is retried on its own.
    async fn kill(&self, r: &RuntimeRef) -> Result<bool> {
        let target = Self::pane_target(r);
        let session = format!("={}", r.session_name);
        let args = strings(&[
            "display-message",
            "-p",
            "-t",
            &target,
            "#{session_name} #{pane_dead} #{pane_pid}",
            ";",
            "kill-session",
            "-t",
            &session,
        ]);
        let out = self.run_for(r, &args, None, COMMAND_TIMEOUT).await?;
        let mut parts = out.stdout.split_whitespace();
        let read = parts.next();
        let ours = read == Some(r.session_name.as_str());
        let alive_pid = (parts.next() == Some("0")).then(|| parts.next().and_then(|p| p.parse::<i32>().ok())).flatten();
        let killed = if out.success() {
            true
        } else if read.is_none() {
            self.run_for(r, &strings(&["kill-session", "-t", &session]), None, COMMAND_TIMEOUT).await?.success()
        } else {
            // The pane was read, so the kill itself failed: the session was already gone.
            false
        };
        if ours && let Some(pid) = alive_pid {
            // kill-session sends SIGHUP; children that ignore it still get SIGTERM as a group.
            let _ = nix_killpg(pid);
        }
        Ok(killed)
    }
}

/// Whether `key` is a bare tmux key name (letters, digits, `-`, `_`), which needs no quoting
/// inside a command string tmux parses again.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Printed instead of pasting or typing when the target pane's process has exited.
const PANE_DEAD: &str = "AGENTPOOL_PANE_DEAD";

fn exited(r: &RuntimeRef) -> Error {
    Error::new(
        ErrorCode::WorkerExited,
        format!("the worker in `{}` has exited; its final screen is kept for observe and collect", r.session_name),
    )
    .with("tmux_session", &r.session_name)
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
    let mut lines: Vec<&str> = raw.lines().map(trim_right_edge).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// A line without what a TUI draws at the pane's right edge: trailing blanks, and a box's right
/// border (`│`, `┃`) or a scrollbar glyph (`┃`) after blank padding, as many as are nested.
/// Copilot CLI pads its dialogs to the pane's width and, once its timeline overflows, ends every
/// line with a scrollbar at the last column; left in, a line never ends where its text does (a
/// result marker is not at the end of its line) and a dialog's question falls out of the
/// active window that detection reads.
fn trim_right_edge(line: &str) -> &str {
    let mut line = line.trim_end();
    // The scrollbar can follow a box's own right edge directly.
    if let Some(rest) = line.strip_suffix('\u{2503}')
        && rest.ends_with(['\u{2502}', '\u{256E}', '\u{256F}', '\u{2500}'])
    {
        line = rest;
    }
    while let Some(rest) = line.strip_suffix(['\u{2502}', '\u{2503}'])
        && rest.ends_with(char::is_whitespace)
    {
        line = rest.trim_end();
    }
    line
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

    fn socket(&self) -> Option<String> {
        Some(self.socket.clone())
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
        // The worker's whole environment is set here, per session (see `agentpool_sdk::env`):
        // the spawning call's own, then the spec's. The tmux client runs with almost none, so a
        // server it starts keeps nobody's variables as defaults for later sessions.
        for (k, v) in env::overlay(env::inherited(), &spec.env) {
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
        let client_env: Vec<(String, String)> =
            env::CLIENT_KEEP.iter().filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v))).collect();
        let mut argv = self.argv_on(&self.socket)?;
        argv.extend(args);
        // When the last session on a socket ends, its server exits; a client that connects in
        // that moment gets "server exited unexpectedly" and nothing was created. Start a new
        // server then, a few times at most.
        let mut attempts = 0;
        let out = loop {
            let opts =
                RunOptions { timeout: Some(COMMAND_TIMEOUT), clear_env: true, env: &client_env, ..Default::default() };
            let out = process::run(&argv, opts).await;
            attempts += 1;
            let lost_server = !out.success()
                && !out.stdout.trim_start().starts_with('%')
                && (out.stderr.contains("server exited unexpectedly") || out.stderr.contains("lost server"));
            if !lost_server || attempts >= 4 {
                break out;
            }
            tokio::time::sleep(Duration::from_millis(25 * attempts)).await;
        };
        let pane_id = out.stdout.lines().next().unwrap_or("").trim().to_owned();
        if !out.success() || !pane_id.starts_with('%') {
            if pane_id.starts_with('%') {
                // The session started but a later step failed: do not leave it behind.
                let _ = self
                    .run(&strings(&["kill-session", "-t", &format!("={}", spec.name)]), None, COMMAND_TIMEOUT)
                    .await;
            }
            let mut err = Error::new(ErrorCode::SpawnFailed, format!("tmux could not start session `{}`", spec.name));
            if out.stderr.contains("command too long") {
                err = err.with(
                    "hint",
                    "the worker's command and environment exceed tmux's 16 KB limit for one command: unset \
                     large variables you do not need (LS_COLORS, …) or use --initial-prompt-mode send",
                );
            }
            return Err(err
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
            let out = self.run_for(r, &args, None, timeout.max(Duration::from_millis(100))).await?;
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
        self.paste_and(r, text, &[]).await
    }

    async fn paste_then_keys(&self, r: &RuntimeRef, text: &str, keys: &[String]) -> Result<()> {
        // The keys go inside an `if-shell` branch, which tmux parses again: only plain key
        // names (`Enter`, `C-m`, `Escape`) are batched; anything else takes two calls.
        if !keys.iter().all(|k| is_plain_key(k)) {
            self.paste(r, text).await?;
            return self.send_keys(r, keys).await;
        }
        self.paste_and(r, text, keys).await
    }

    async fn send_keys(&self, r: &RuntimeRef, keys: &[String]) -> Result<()> {
        let target = Self::pane_target(r);
        // Keys sent to an exited pane go nowhere (tmux takes them without complaint), so the
        // pane's state is read in the same call and an exit reported.
        let mut args =
            strings(&["display-message", "-p", "-t", &target, "#{pane_dead}", ";", "send-keys", "-t", &target]);
        args.extend(keys.iter().cloned());
        let out = self.run_for(r, &args, None, COMMAND_TIMEOUT).await?;
        if !out.success() {
            return Err(gone(r, &out.stderr).with("keys", keys));
        }
        if out.stdout.lines().next().map(str::trim) == Some("1") {
            return Err(exited(r).with("keys", keys));
        }
        Ok(())
    }

    async fn list(&self, socket: Option<&str>) -> Result<HashMap<String, Liveness>> {
        let fmt = "#{session_name}\t#{pane_dead}\t#{pane_dead_status}";
        let socket = socket.filter(|s| !s.is_empty()).unwrap_or(&self.socket);
        let out = self.run_on(socket, &strings(&["list-panes", "-a", "-F", fmt]), None, COMMAND_TIMEOUT).await?;
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
        self.kill(r).await.map(|_| ())
    }

    async fn terminate_if_present(&self, r: &RuntimeRef) -> Result<bool> {
        // A runtime without tmux has no sessions, as `list` would say.
        if self.tmux().is_err() {
            return Ok(false);
        }
        self.kill(r).await
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

    /// Ends a test's own tmux server (by its socket) and removes the socket file that a server
    /// that was killed, or exited with its last session, can leave behind.
    async fn stop_server(rt: &TmuxRuntime) {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let _ = rt.run(&strings(&["kill-server"]), None, COMMAND_TIMEOUT).await;
        // tmux keeps `-L` sockets in `<TMUX_TMPDIR or /tmp>/tmux-<uid>/`; this test binary is
        // the user's own file, so its owner is that uid.
        let Some(uid) = std::env::current_exe().and_then(std::fs::metadata).ok().map(|m| m.uid()) else { return };
        let dir = std::env::var_os("TMUX_TMPDIR").filter(|d| !d.is_empty()).unwrap_or_else(|| "/tmp".into());
        let path = std::path::Path::new(&dir).join(format!("tmux-{uid}")).join(&rt.socket);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = std::fs::remove_file(&path);
        }
    }

    #[test]
    fn escapes_command_separators() {
        assert_eq!(escape_arg("a;"), "a\\;");
        assert_eq!(escape_arg("a;b"), "a;b");
        assert_eq!(escape_arg("plain"), "plain");
    }

    /// When the last session ends, the server exits; a spawn connecting in that moment got
    /// "server exited unexpectedly" (about one in eight back to back here).
    #[tokio::test]
    async fn a_spawn_while_the_last_session_ends_starts_a_new_server() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = TmuxRuntime {
            binary: which("tmux"),
            socket: format!("ap-race-{}", util::random_hex(8)),
            config_file: dir.path().join("tmux.conf"),
            width: 80,
            height: 24,
        };
        assert!(rt.binary.is_some(), "tmux is needed for this test");
        let mut failure = None;
        for i in 0..60 {
            // A session that ends by itself a moment later: the server then exits on its own time.
            let gone = format!("gone-{i}");
            let args = strings(&["new-session", "-d", "-s", &gone, "sleep 0.02", ";", "set-option", "-w", "-t"]);
            let mut args = args;
            args.extend(strings(&[&format!("={gone}:"), "remain-on-exit", "off"]));
            let _ = rt.run(&args, None, COMMAND_TIMEOUT).await;
            tokio::time::sleep(Duration::from_millis(15 + (i % 4) * 5)).await;
            let spec = SpawnSpec {
                name: format!("race-{i}"),
                argv: strings(&["sleep", "30"]),
                cwd: dir.path().to_path_buf(),
                env: Vec::new(),
                output_log: dir.path().join(format!("{i}.log")),
                output_filter: Vec::new(),
            };
            match rt.spawn(&spec).await {
                Ok(r) => {
                    let _ = rt.terminate(&r).await;
                }
                Err(e) => {
                    failure = Some(format!("spawn {i}: {e} {:?}", e.details));
                    break;
                }
            }
        }
        // Only this test's own server, by its socket.
        stop_server(&rt).await;
        assert!(failure.is_none(), "{failure:?}");
    }

    #[test]
    fn only_bare_key_names_are_batched() {
        for key in ["Enter", "C-m", "Escape", "F1", "BSpace", "KP_Enter"] {
            assert!(is_plain_key(key), "{key}");
        }
        for key in ["", "a b", "x;", "'q'", "#{pane_id}", "C-\\"] {
            assert!(!is_plain_key(key), "{key}");
        }
    }

    /// Paste + Enter and find + kill each take one client call; their outcomes are those of
    /// the separate calls: text and key arrive, a dead pane gets neither (and the server with
    /// its other workers lives on), and only the first terminate finds the session.
    #[tokio::test]
    async fn batched_paste_and_kill_keep_their_checks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = TmuxRuntime {
            binary: which("tmux"),
            socket: format!("ap-batch-{}", util::random_hex(8)),
            config_file: dir.path().join("tmux.conf"),
            width: 80,
            height: 24,
        };
        assert!(rt.binary.is_some(), "tmux is needed for this test");
        let spec = |name: &str, argv: &[&str]| SpawnSpec {
            name: name.to_owned(),
            argv: strings(argv),
            cwd: dir.path().to_path_buf(),
            env: Vec::new(),
            output_log: dir.path().join(format!("{name}.log")),
            output_filter: Vec::new(),
        };
        let outcome = async {
            // `read` echoes nothing itself: the line shows up only once Enter submitted it.
            let live =
                rt.spawn(&spec("live", &["sh", "-c", "read -r line; echo \"got:$line\"; exec sleep 30"])).await?;
            let dead = rt.spawn(&spec("dead", &["true"])).await?;
            rt.paste_then_keys(&live, "hello", &["Enter".to_owned()]).await?;
            let mut screen = String::new();
            for _ in 0..200 {
                screen = rt.snapshot(&live, 0, COMMAND_TIMEOUT).await?.screen;
                if screen.contains("got:hello") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(screen.contains("got:hello"), "{screen}");
            for _ in 0..200 {
                if rt.snapshot(&dead, 0, COMMAND_TIMEOUT).await?.dead {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let err = rt.paste_then_keys(&dead, "x", &["Enter".to_owned()]).await.expect_err("dead pane");
            assert_eq!(err.code, ErrorCode::WorkerExited);
            assert!(!rt.snapshot(&live, 0, COMMAND_TIMEOUT).await?.dead, "the other worker survives");
            assert!(rt.terminate_if_present(&dead).await?, "an exited worker's session is still there");
            assert!(rt.terminate_if_present(&live).await?);
            assert!(!rt.terminate_if_present(&live).await?, "the second terminate finds nothing");
            rt.terminate(&live).await
        }
        .await;
        // Only this test's own server, by its socket.
        stop_server(&rt).await;
        outcome.expect("tmux steps");
    }

    #[test]
    fn tidies_padding() {
        assert_eq!(tidy_screen("a  \nb\n\n\n   \n"), "a\nb\n");
        assert_eq!(tidy_screen("\n\n"), "");
        // Copilot CLI's scrollbar and box borders at the right edge go; the text stays.
        let bar = format!("   AGENTPOOL_RESULT_END{}\u{2503}\n", " ".repeat(170));
        assert_eq!(tidy_screen(&bar), "   AGENTPOOL_RESULT_END\n");
        let boxed = format!(
            "\u{2502} \u{2502} /tmp/repo{}\u{2502} \u{2502}\n\u{2502} Do you want to run this command?{}\u{2502}\n",
            " ".repeat(150),
            " ".repeat(150)
        );
        assert_eq!(tidy_screen(&boxed), "\u{2502} \u{2502} /tmp/repo\n\u{2502} Do you want to run this command?\n");
        assert_eq!(tidy_screen("\u{2570}\u{2500}\u{256F}\u{2503}\n"), "\u{2570}\u{2500}\u{256F}\n");
        // A border glyph that is part of the text (no padding before it) is kept.
        assert_eq!(tidy_screen("a\u{2502}b\u{2502}\n"), "a\u{2502}b\u{2502}\n");
    }
}
