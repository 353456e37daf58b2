//! One way to run external commands: own process group, no inherited stdin, captured output,
//! a hard timeout after which the whole group is killed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Exit code reported when a command timed out (as `timeout(1)` does).
pub const TIMEOUT_EXIT: i32 = 124;

/// The outcome of a command.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// Options for [`run`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions<'a> {
    pub cwd: Option<&'a Path>,
    pub stdin: Option<&'a [u8]>,
    pub env: &'a [(String, String)],
    /// A terminal-free, colour-free environment for probes that parse output.
    pub dumb_terminal: bool,
    /// Start from an empty environment (then `env` only).
    pub clear_env: bool,
    pub timeout: Option<Duration>,
}

/// Runs a command to completion. A command that cannot start reports exit 127 with the
/// reason in `stderr`; a timeout kills the process group and reports 124.
pub async fn run(argv: &[String], opts: RunOptions<'_>) -> Output {
    let Some((program, args)) = argv.split_first() else {
        return Output { status: 127, stdout: String::new(), stderr: "empty command".into() };
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if opts.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = opts.cwd {
        cmd.current_dir(cwd);
    }
    if opts.clear_env {
        cmd.env_clear();
    }
    for (k, v) in opts.env {
        cmd.env(k, v);
    }
    if opts.dumb_terminal {
        cmd.env("TERM", "dumb").env("NO_COLOR", "1").env("CLICOLOR", "0").env("FORCE_COLOR", "0");
    }
    let mut child = match spawn(&mut cmd).await {
        Ok(c) => c,
        Err(e) => {
            return Output { status: 127, stdout: String::new(), stderr: format!("could not run `{program}`: {e}") };
        }
    };
    let pid = child.id();
    if let (Some(input), Some(mut stdin)) = (opts.stdin, child.stdin.take()) {
        // A child that exits without reading its input is not an error here.
        let _ = stdin.write_all(input).await;
        drop(stdin);
    }
    let wait = child.wait_with_output();
    let result = match opts.timeout {
        Some(t) => tokio::time::timeout(t, wait).await.ok(),
        None => Some(wait.await),
    };
    match result {
        Some(Ok(out)) => Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Some(Err(e)) => Output { status: -1, stdout: String::new(), stderr: e.to_string() },
        None => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            Output { status: TIMEOUT_EXIT, stdout: String::new(), stderr: "timed out".into() }
        }
    }
}

/// Starts `cmd`, retrying briefly while the executable is busy (`ETXTBSY`).
///
/// A binary that was just written (an update in progress, or a script a test created) can
/// still be open for writing in a process another thread forked a moment ago; `execve` then
/// fails until that child execs and drops the descriptor. That window is short, so a few
/// retries turn a spurious "cannot run" into a normal start.
pub(crate) async fn spawn(cmd: &mut Command) -> std::io::Result<tokio::process::Child> {
    const ATTEMPTS: u32 = 8;
    let mut attempt = 1;
    loop {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Convenience: argv from string slices.
pub fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A script still open for writing: `execve` fails with `ETXTBSY` while `file` lives.
    fn busy_script(dir: &Path) -> (String, std::fs::File) {
        let exe = dir.join("busy");
        let mut file = std::fs::File::create(&exe).unwrap();
        file.write_all(b"#!/bin/sh\necho started\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        (exe.display().to_string(), file)
    }

    #[tokio::test]
    async fn a_briefly_busy_executable_still_starts() {
        let dir = tempfile::tempdir().unwrap();
        let (exe, file) = busy_script(dir.path());
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(40)).await;
            drop(file);
        });
        let out = run(&[exe], RunOptions { timeout: Some(Duration::from_secs(10)), ..Default::default() }).await;
        release.await.unwrap();
        assert_eq!((out.status, out.stdout.trim()), (0, "started"), "stderr: {}", out.stderr);
    }

    #[tokio::test]
    async fn an_executable_that_stays_busy_reports_why() {
        let dir = tempfile::tempdir().unwrap();
        let (exe, _file) = busy_script(dir.path());
        let out = run(&[exe], RunOptions::default()).await;
        assert_eq!(out.status, 127);
        assert!(out.stderr.contains("could not run") && out.stderr.to_lowercase().contains("busy"), "{}", out.stderr);
    }
}
