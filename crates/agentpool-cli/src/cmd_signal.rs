//! `agentpool __signal <provider-id> <source> <signal-log> [payload]`: the hidden entry point a
//! worker CLI's hooks run (wired by the provider's launch plan through
//! `LaunchContext::signal_command`). It hands the payload — the last argument, else stdin — to
//! the provider's signal channel and appends what that makes of it, redacted, to the session's
//! signal log. A signal that decides something (a turn end, a question, an approval, an error,
//! an interrupt) is then recorded at once — one look at the worker, as `observe --timeout 0`
//! takes, in the pool the spawn named in the session's `pool.json` — so events and their
//! `[[notify]]` deliveries never wait for somebody to observe. It opens no socket, and a payload
//! it does not understand logs nothing; it exits 0 whatever happens after the arguments were
//! accepted, and 2 only for a call that is not a hook call at all (missing arguments, a path
//! that is not a signal log).

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use agentpool_core::config::Settings;
use agentpool_core::pool::{Pool, PoolOptions};
use agentpool_core::provider::Registry;
use agentpool_core::redact::redact;
use agentpool_core::scope::{Principal, lockdown_enabled};
use agentpool_core::session::observe::ObserveOptions;
use agentpool_core::signal::{self, LoggedSignal, Signal};
use agentpool_core::util;
use serde_json::Value;

/// Most of a payload read from stdin.
const PAYLOAD_LIMIT: u64 = 4 << 20;

const USAGE: &str = "usage: agentpool __signal <provider-id> <source> <signal-log> [payload]";

/// Runs the entry point on `args` (everything after `__signal`).
pub fn main(args: &[String]) -> ExitCode {
    let [provider_id, source, log, rest @ ..] = args else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let log = Path::new(log);
    if log.file_name().and_then(|n| n.to_str()) != Some(signal::LOG_NAME) || !log.parent().is_some_and(Path::is_dir) {
        eprintln!("agentpool __signal: `{}` is not a session's signal log\n{USAGE}", log.display());
        return ExitCode::from(2);
    }
    let payload = match rest.first() {
        Some(p) => p.clone(),
        None => read_stdin(),
    };
    let signals = parse(provider_id, source, &payload);
    if signals.is_empty() {
        return ExitCode::SUCCESS;
    }
    if let Err(e) = signal::append(log, &signals) {
        // The hook must never fail the CLI; the screen still speaks for the worker.
        eprintln!("agentpool __signal: could not append to {}: {e}", log.display());
        return ExitCode::SUCCESS;
    }
    if signals.iter().any(|s| decides(&s.signal)) {
        record(log);
    }
    ExitCode::SUCCESS
}

/// Whether a signal changes what observe reports (a tool use or a session start alone does not).
fn decides(s: &Signal) -> bool {
    matches!(
        s,
        Signal::TurnEnded { .. }
            | Signal::Question { .. }
            | Signal::Approval { .. }
            | Signal::Error { .. }
            | Signal::Interrupted
    )
}

/// One look at the worker in the pool named by `pool.json` beside the log, acting for the
/// coordinator that owns the session, and the notifications that look claims. Any failure
/// (no pointer, an unreadable config, a store that is busy for too long) leaves the signal in
/// the log for the next observe.
fn record(log: &Path) {
    let Some(dir) = log.parent() else { return };
    let Some(session_id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { return };
    let read =
        |name: &str| std::fs::read_to_string(dir.join(name)).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let Some(pool) = read("pool.json") else { return };
    let (Some(home), Some(config)) = (pool["home"].as_str(), pool["config_file"].as_str()) else { return };
    let owner = read("metadata.json")
        .and_then(|m| m["metadata"]["coordinator_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| agentpool_core::scope::DEFAULT_COORDINATOR_ID.to_owned());
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    rt.block_on(async {
        agentpool_providers::link_all();
        let Ok(settings) = Settings::load_from(PathBuf::from(home), PathBuf::from(config)) else { return };
        let Ok(registry) = Registry::new(&settings) else { return };
        let runtime = Arc::new(crate::commands::tmux_runtime(&settings));
        let principal = Principal { coordinator_id: owner, scoped: false, lockdown: lockdown_enabled(&settings) };
        let self_exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("agentpool"));
        let Ok(manager) = Pool::new(settings, registry, runtime, PoolOptions { principal, self_exe }) else {
            return;
        };
        let opts = ObserveOptions { timeout: Duration::ZERO, ..ObserveOptions::default() };
        let _ = manager.observe(&session_id, opts).await;
        agentpool_core::notify::drain().await;
    });
}

/// What the provider's channel makes of one payload, stamped and redacted.
fn parse(provider_id: &str, source: &str, payload: &str) -> Vec<LoggedSignal> {
    agentpool_providers::link_all();
    let Some(reg) = agentpool_core::provider::registrations().into_iter().find(|r| r.id == provider_id) else {
        return Vec::new();
    };
    let provider = (reg.create)();
    let Some(channel) = provider.signals() else { return Vec::new() };
    let ts = util::now();
    channel
        .parse(source, payload)
        .into_iter()
        .map(|s| LoggedSignal {
            ts: ts.clone(),
            source: source.to_owned(),
            signal: s.map_text(|t| redact(&t).into_owned()),
        })
        .collect()
}

/// The hook's stdin, bounded; nothing when stdin is a terminal (a person typed the command).
fn read_stdin() -> String {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = stdin.lock().take(PAYLOAD_LIMIT).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
