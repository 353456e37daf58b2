//! The `Runtime` trait: where workers run. tmux implements it today; structured-protocol
//! runtimes (app-server, stream-json, ACP) can implement it later, which is why nothing here
//! assumes the screen is the only source of truth beyond `snapshot`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{RuntimeKind, RuntimeRef};

/// Everything needed to start one worker.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// Runtime session name (unique).
    pub name: String,
    /// Command and arguments, exec'd without a shell.
    pub argv: Vec<String>,
    /// Working directory (must exist).
    pub cwd: PathBuf,
    /// Extra environment for the worker process.
    pub env: Vec<(String, String)>,
    /// File the runtime streams the worker's raw output into.
    pub output_log: PathBuf,
    /// A program (argv; the log path is appended) that reads raw output on stdin and appends
    /// it to the log — AgentPool's redacting filter. Empty: raw output is written as is.
    pub output_filter: Vec<String>,
}

/// A worker's screen and process status at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The visible pane plus history, lines joined.
    pub screen: String,
    /// The worker process has exited (its final screen is kept).
    pub dead: bool,
    /// Exit status when dead, if known.
    pub exit_status: Option<i32>,
}

/// Liveness of one runtime session, as listed in bulk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The worker process runs.
    Alive,
    /// The worker exited; the session keeps its last screen.
    Dead { exit_status: Option<i32> },
}

/// Live-control facts a front end reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveControl {
    pub can_capture_screen: bool,
    pub can_send_message: bool,
    pub can_send_keys: bool,
    pub can_interrupt: bool,
    pub can_attach: bool,
    pub attach_kind: &'static str,
}

/// Where workers run.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Which runtime this is.
    fn kind(&self) -> RuntimeKind;
    /// Path of the runtime's binary, when it was found.
    fn binary_path(&self) -> Option<String>;
    /// Starts a worker.
    async fn spawn(&self, spec: &SpawnSpec) -> Result<RuntimeRef>;
    /// The screen (with `history_lines` of scrollback) and process status.
    async fn snapshot(&self, r: &RuntimeRef, history_lines: usize, timeout: Duration) -> Result<Snapshot>;
    /// Types text into the worker without submitting it.
    async fn paste(&self, r: &RuntimeRef, text: &str) -> Result<()>;
    /// Sends named keys (`Enter`, `C-c`, `Escape`, …).
    async fn send_keys(&self, r: &RuntimeRef, keys: &[String]) -> Result<()>;
    /// Types text, then sends named keys right after it: [`Self::paste`] then
    /// [`Self::send_keys`], which a runtime may do in one step (tmux: one client call).
    async fn paste_then_keys(&self, r: &RuntimeRef, text: &str, keys: &[String]) -> Result<()> {
        self.paste(r, text).await?;
        self.send_keys(r, keys).await
    }
    /// Liveness of every session on `socket` (the runtime's own when `None`), keyed by
    /// session name. A missing key means the session is gone. Sessions are looked up on the
    /// socket they recorded (`RuntimeRef::socket`), never on whichever one the caller uses.
    /// The socket (or equivalent) new sessions start on, recorded before each spawn.
    fn socket(&self) -> Option<String> {
        None
    }
    async fn list(&self, socket: Option<&str>) -> Result<HashMap<String, Liveness>>;
    /// Stops the worker and removes its session. Succeeds when it is already gone.
    async fn terminate(&self, r: &RuntimeRef) -> Result<()>;
    /// [`Self::terminate`] if the session exists (as [`Self::list`] on its socket tells);
    /// returns whether it did. A runtime may find and stop it in one step (tmux: one client
    /// call). A listing that fails counts as "not there".
    async fn terminate_if_present(&self, r: &RuntimeRef) -> Result<bool> {
        let present = self.list(r.socket.as_deref()).await.map(|m| m.contains_key(&r.session_name)).unwrap_or(false);
        if present {
            self.terminate(r).await?;
        }
        Ok(present)
    }
    /// The exact shell command a human runs to watch the worker.
    fn attach_command(&self, r: &RuntimeRef) -> String;
    /// Live-control facts.
    fn live_control(&self, allow_raw_keys: bool) -> LiveControl;
}
