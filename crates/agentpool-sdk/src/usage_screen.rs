//! Screen usage probes: a provider's own slash command (`/usage`) typed into a temporary
//! worker session on the [`Runtime`], its screen read back and parsed by the provider.
//!
//! The provider hands over argv, keys and a parser; this module owns the session: a fresh
//! throw-away working directory, a unique session name, and termination on every path —
//! success, parse timeout, early exit, error, and cancellation (a dropped probe terminates
//! its session from a spawned task). Callers check `UsageContext::allow_interactive` first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::model::{CapacitySnapshot, RuntimeRef};
use crate::runtime::{Runtime, SpawnSpec};
use crate::usage::{self, UsageContext};
use crate::util;

/// Lines of scrollback each capture includes.
const HISTORY_LINES: usize = 260;
/// Pause between captures while waiting for the panel.
const POLL: Duration = Duration::from_millis(750);
/// Longest single capture.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers a startup dialog on a screen with keys, or `None` when there is none to answer.
pub type DialogAnswerer<'a> = dyn Fn(&str) -> Option<Vec<String>> + Send + Sync + 'a;
/// Parses a screen into a snapshot, or `None` while usage is not visible yet.
pub type ScreenParser<'a> = dyn Fn(&str) -> Option<CapacitySnapshot> + Send + Sync + 'a;

/// One screen probe.
pub struct ScreenProbe<'a> {
    /// Command and arguments of the temporary session.
    pub argv: Vec<String>,
    /// Extra environment for it.
    pub env: Vec<(String, String)>,
    /// Text pasted and submitted with `Enter` (e.g. `/usage`).
    pub slash: &'a str,
    /// Wait after starting, before anything is typed.
    pub startup_delay: Duration,
    /// Key groups sent before the slash command, 0.5 s apart.
    pub pre_keys: Vec<Vec<String>>,
    /// Answers a startup dialog on the current screen with keys (checked before typing).
    pub dialog: Option<&'a DialogAnswerer<'a>>,
    /// Key groups sent once the parser found usage; the screen is read again afterwards.
    pub extra_keys: Vec<Vec<String>>,
    /// Keep polling until this text appears (a parsed result without it is only a fallback).
    pub prefer_text: Option<&'a str>,
    /// How long to wait for parseable usage after typing.
    pub timeout: Duration,
    /// `raw.source` of the result.
    pub source: &'a str,
}

/// Runs `probe` and parses screens with `parse` (text in, snapshot or nothing yet out).
/// Never fails: errors and timeouts are `unknown` snapshots with a warning.
pub async fn run(ctx: &UsageContext, probe: &ScreenProbe<'_>, parse: &ScreenParser<'_>) -> CapacitySnapshot {
    let Some(runtime) = ctx.runtime.clone() else {
        return usage::unknown(
            &ctx.provider_id,
            probe.source,
            "no runtime is available for an interactive usage probe",
        );
    };
    let dir = std::env::temp_dir().join(format!("agentpool-usage-{}", util::random_hex(8)));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return usage::unknown(&ctx.provider_id, probe.source, format!("Interactive usage probe failed: {e}"));
    }
    let name =
        format!("agentpool-usage-{}-{}-{}", ctx.provider_id.replace('-', ""), std::process::id(), util::random_hex(4));
    let spec = SpawnSpec {
        name,
        argv: probe.argv.clone(),
        cwd: dir.clone(),
        env: probe.env.clone(),
        output_log: dir.join("output.log"),
        output_filter: Vec::new(),
    };
    // The guard terminates the session and removes the directory even when this future is
    // dropped (the usage budget ran out).
    let mut guard = SessionGuard { runtime: runtime.clone(), session: None, dir: Some(dir) };
    let mut snap = match runtime.spawn(&spec).await {
        Ok(r) => {
            guard.session = Some(r.clone());
            drive(runtime.as_ref(), &r, probe, parse, &ctx.provider_id).await
        }
        Err(e) => {
            usage::unknown(&ctx.provider_id, probe.source, format!("Interactive usage probe failed: {}", e.message))
        }
    };
    guard.finish().await;
    snap.provider_id.clone_from(&ctx.provider_id);
    snap.raw.insert("source".into(), json!(probe.source));
    snap
}

async fn drive(
    rt: &dyn Runtime,
    r: &RuntimeRef,
    probe: &ScreenProbe<'_>,
    parse: &ScreenParser<'_>,
    provider_id: &str,
) -> CapacitySnapshot {
    let failed = |e: crate::error::Error| {
        usage::unknown(provider_id, probe.source, format!("Interactive usage probe failed: {}", e.message))
    };
    tokio::time::sleep(probe.startup_delay).await;
    if let Some(answer) = probe.dialog {
        // At most a couple of dialogs (trust, then maybe another) before the prompt.
        for _ in 0..2 {
            let screen = match rt.snapshot(r, 0, CAPTURE_TIMEOUT).await {
                Ok(s) => s.screen,
                Err(e) => return failed(e),
            };
            let Some(keys) = answer(&screen) else { break };
            if let Err(e) = rt.send_keys(r, &keys).await {
                return failed(e);
            }
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
    }
    for keys in &probe.pre_keys {
        if let Err(e) = rt.send_keys(r, keys).await {
            return failed(e);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if let Err(e) = rt.paste(r, probe.slash).await {
        return failed(e);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    if let Err(e) = rt.send_keys(r, &["Enter".to_owned()]).await {
        return failed(e);
    }
    let deadline = tokio::time::Instant::now() + probe.timeout;
    let mut fallback: Option<CapacitySnapshot> = None;
    loop {
        let shot = match rt.snapshot(r, HISTORY_LINES, CAPTURE_TIMEOUT).await {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        if let Some(found) = parse(&shot.screen) {
            let preferred = probe.prefer_text.is_none_or(|t| shot.screen.contains(t));
            if preferred {
                return with_extra_keys(rt, r, probe, parse, shot.screen, found).await;
            }
            fallback = Some(found);
        }
        if shot.dead {
            break;
        }
        if tokio::time::Instant::now() + POLL > deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    match fallback {
        Some(mut s) => {
            s.warnings.push(format!("Returned fallback before seeing `{}`.", probe.prefer_text.unwrap_or_default()));
            s
        }
        None => usage::unknown(
            provider_id,
            probe.source,
            format!("{} did not yield parseable usage within {}s.", probe.slash, probe.timeout.as_secs()),
        ),
    }
}

/// Sends the extra keys and re-parses; the richer result (more windows) wins.
async fn with_extra_keys(
    rt: &dyn Runtime,
    r: &RuntimeRef,
    probe: &ScreenProbe<'_>,
    parse: &ScreenParser<'_>,
    first_screen: String,
    found: CapacitySnapshot,
) -> CapacitySnapshot {
    if probe.extra_keys.is_empty() {
        return found;
    }
    let mut text = first_screen;
    for keys in &probe.extra_keys {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if rt.send_keys(r, keys).await.is_err() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        match rt.snapshot(r, HISTORY_LINES, CAPTURE_TIMEOUT).await {
            Ok(s) => {
                text.push('\n');
                text.push_str(&s.screen);
            }
            Err(_) => return found,
        }
    }
    match parse(&text) {
        Some(more) if more.windows.len() >= found.windows.len() => more,
        _ => found,
    }
}

/// Terminates the temporary session and removes its directory, on every path.
struct SessionGuard {
    runtime: Arc<dyn Runtime>,
    session: Option<RuntimeRef>,
    dir: Option<PathBuf>,
}

impl SessionGuard {
    async fn finish(&mut self) {
        if let Some(r) = self.session.take() {
            let _ = self.runtime.terminate(&r).await;
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let (session, dir) = (self.session.take(), self.dir.take());
        if session.is_none() && dir.is_none() {
            return;
        }
        let runtime = self.runtime.clone();
        let cleanup = async move {
            if let Some(r) = session {
                let _ = runtime.terminate(&r).await;
            }
            if let Some(d) = dir {
                let _ = std::fs::remove_dir_all(d);
            }
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(cleanup);
        }
    }
}
