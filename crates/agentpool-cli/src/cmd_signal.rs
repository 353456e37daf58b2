//! `agentpool __signal <provider-id> <source> <signal-log> [payload]`: the hidden entry point a
//! worker CLI's hooks run (wired by the provider's launch plan through
//! `LaunchContext::signal_command`). It hands the payload — the last argument, else stdin — to
//! the provider's signal channel and appends what that makes of it, redacted, to the session's
//! signal log. It opens no database and no socket, and a payload it does not understand logs
//! nothing; only a call that is not a hook call at all (missing arguments, a path that is not a
//! signal log) exits 2.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use agentpool_core::redact::redact;
use agentpool_core::signal::{self, LoggedSignal};
use agentpool_core::util;

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
    if !signals.is_empty()
        && let Err(e) = signal::append(log, &signals)
    {
        // The hook must never fail the CLI; the screen still speaks for the worker.
        eprintln!("agentpool __signal: could not append to {}: {e}", log.display());
    }
    ExitCode::SUCCESS
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
