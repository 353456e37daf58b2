//! The `agentpool` command line as a library, so third-party builds can add provider crates
//! and call [`main`] from their own binary.
//!
//! Layering: `args` defines the command line (clap only), `commands` implements each command
//! against the core `Pool`, `output` renders JSON, human text and error envelopes.

pub mod args;
pub mod cli_docs;
pub mod cmd_config;
pub mod cmd_leases;
pub mod cmd_mcp;
pub mod cmd_mcp_config;
pub mod cmd_models;
pub mod cmd_onboard;
pub mod cmd_signal;
pub mod cmd_skills;
pub mod cmd_stats;
pub mod cmd_usage;
pub mod cmd_worktrees;
pub mod commands;
pub mod hosts;
pub mod output;
pub mod watch;

use std::process::ExitCode;

use agentpool_core::error::{Error, ErrorCode};
use clap::Parser;
use clap::error::ErrorKind;

use crate::args::{Cli, Command, SessionArgs, SessionCommand};
use crate::output::Out;

/// Entry point: parses `std::env::args`, runs the command, maps the outcome to an exit code
/// (0 ok, 1 error, 2 usage).
pub fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // Built-in workers start on every fake spawn; skip everything else on that path.
    if argv.get(1).map(String::as_str) == Some("__worker") {
        return commands::worker(argv.get(2).map_or("", String::as_str));
    }
    // A worker CLI's hook reporting a lifecycle signal.
    if argv.get(1).map(String::as_str) == Some(agentpool_core::provider::SIGNAL_ARG) {
        return cmd_signal::main(&argv[2..]);
    }
    // The redacting filter between a worker's pane and its raw log (tmux `pipe-pane`).
    if argv.get(1).map(String::as_str) == Some("__redact-pipe") {
        let Some(log) = argv.get(2) else { return ExitCode::from(2) };
        return ExitCode::from(
            u8::try_from(agentpool_core::redact::redact_pipe(std::path::Path::new(log))).unwrap_or(1),
        );
    }
    let json_mode = argv.iter().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, json_mode),
    };
    if let Command::Mcp(a) = &cli.command {
        return cmd_mcp::main(a);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            return report(
                Error::new(ErrorCode::IoFailed, format!("could not start the async runtime: {e}")),
                json_mode,
            );
        }
    };
    // `watch` owns the terminal: a log line would tear its screen. Off a terminal it refuses
    // with a JSON envelope, since whatever reads its stdout is a program.
    let watching = matches!(cli.command, Command::Watch(_));
    let json_mode = cli.json || (watching && !std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if !watching {
        cmd_mcp::init_logging();
    }
    let code = match runtime.block_on(run(cli)) {
        Ok(out) => {
            let text = if json_mode { output::json_line(&out.json) } else { out.human };
            if output::write_stdout(&text).is_err() || out.failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Err(err) => report(err, json_mode),
    };
    // Notifications this command claimed are delivered before it exits, each bounded by its
    // entry's timeout (see `agentpool_core::notify`); the output is already written.
    runtime.block_on(agentpool_core::notify::drain());
    code
}

fn usage_error(e: &clap::Error, json_mode: bool) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = output::write_stdout(&e.render().to_string());
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    if json_mode {
        let rendered = e.render().to_string();
        let (message, tips) = usage_message(&rendered);
        let mut err = Error::new(ErrorCode::UsageError, message).with("usage", rendered.trim_end());
        if !tips.is_empty() {
            err = err.with("tips", tips);
        }
        let _ = output::write_stdout(&output::json_line(&err.envelope()));
    } else {
        let _ = e.print();
    }
    ExitCode::from(2)
}

/// The message of a rendered clap error on one line — its first paragraph, without the
/// `error: ` prefix, continuation lines joined (`…not provided: --provider <PROVIDER>`) — and
/// its `tip:` lines. The `Usage:` block and the `--help` pointer stay in `details.usage`.
fn usage_message(rendered: &str) -> (String, Vec<String>) {
    let mut paragraphs = rendered.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
    let first = paragraphs.next().unwrap_or("");
    let mut lines = first.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines.next().unwrap_or("").trim_start_matches("error:").trim().to_owned();
    let rest: Vec<&str> = lines.collect();
    let message = match (rest.is_empty(), head.ends_with(':')) {
        (true, _) => head,
        (false, true) => format!("{head} {}", rest.join(", ")),
        (false, false) => format!("{head} {}", rest.join(" ")),
    };
    let tips = paragraphs
        .flat_map(str::lines)
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("tip:"))
        .map(|t| t.trim().to_owned())
        .collect();
    (message, tips)
}

fn report(err: Error, json_mode: bool) -> ExitCode {
    let err = output::with_hint(err);
    if json_mode {
        let _ = output::write_stdout(&output::json_line(&err.envelope()));
    } else {
        eprint!("{}", output::human_error(&err));
    }
    ExitCode::from(1)
}

async fn run(cli: Cli) -> agentpool_core::Result<Out> {
    use commands as c;
    if let Some(out) = cmd_onboard::early(&cli.command).await {
        return out;
    }
    if let Command::Worker { provider_id } = &cli.command {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!("`__worker {provider_id}` must be the first argument"),
        ));
    }
    let ctx = c::Context::load_as(cli.coordinator_id.as_deref())?;
    match cli.command {
        Command::Providers => c::providers(&ctx).await,
        Command::Inventory(a) => c::inventory(&ctx, a.all).await,
        Command::Spawn(a) => c::spawn(&ctx, *a).await,
        Command::Observe(a) => c::observe(&ctx, *a).await,
        Command::Send(a) => c::send(&ctx, a).await,
        Command::Keys(a) => c::keys(&ctx, a).await,
        Command::Interrupt(a) => c::interrupt(&ctx, a).await,
        Command::Attach(a) => c::attach(&ctx, a, cli.json).await,
        Command::Artifacts(a) => c::artifacts(&ctx, a).await,
        Command::Transcript(a) => c::transcript(&ctx, a).await,
        Command::Collect(a) => c::collect(&ctx, a).await,
        Command::Terminate(a) => c::terminate(&ctx, a).await,
        Command::Resume(a) => c::resume(&ctx, a).await,
        Command::Sessions(a) => c::sessions(&ctx, a, cli.json).await,
        Command::Watch(a) => watch::watch(&ctx, a, cli.json).await,
        Command::Session(SessionArgs { command: Some(SessionCommand::Show { session_id, plain }), .. })
        | Command::Session(SessionArgs { command: None, session_id: Some(session_id), plain }) => {
            c::session_show(&ctx, &session_id, plain, cli.json).await
        }
        // clap requires an id when no subcommand is given.
        Command::Session(SessionArgs { command: None, session_id: None, .. }) => {
            Err(Error::new(ErrorCode::InvalidRequest, "missing session id")
                .with("example", "agentpool session <session-id>"))
        }
        Command::Smoke(a) => c::smoke(&ctx, a).await,
        Command::Models(a) => cmd_models::models(&ctx, a).await,
        Command::Stats(a) => cmd_stats::stats(&ctx, a, cli.json).await,
        Command::Setup(a) => cmd_onboard::setup(&ctx, &a).await,
        Command::Worktrees(a) => cmd_worktrees::run(&ctx, a).await,
        Command::Leases(a) => cmd_leases::run(&ctx, a).await,
        Command::Usage(a) => cmd_usage::usage(&ctx, a).await,
        Command::UsageSummary(a) => cmd_usage::usage_summary(&ctx, a).await,
        Command::Init(_) | Command::Worker { .. } | Command::Mcp(_) => unreachable_command(),
        Command::Doctor(_)
        | Command::Onboard
        | Command::Preferences(_)
        | Command::Skills { .. }
        | Command::Config(_)
        | Command::Completions(_)
        | Command::McpConfig(_) => unreachable_command(),
    }
}

fn unreachable_command() -> agentpool_core::Result<Out> {
    Err(Error::new(ErrorCode::InvalidRequest, "command was handled earlier"))
}

#[cfg(test)]
mod tests {
    use super::usage_message;

    #[test]
    fn usage_messages_keep_the_whole_first_paragraph() {
        let missing = "error: the following required arguments were not provided:\n  --provider <PROVIDER>\n\nUsage: agentpool spawn --provider <PROVIDER> --json\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_message(missing),
            ("the following required arguments were not provided: --provider <PROVIDER>".to_owned(), vec![])
        );
        let two = "error: the following required arguments were not provided:\n  --a <A>\n  --b <B>\n\nUsage: x\n";
        assert_eq!(usage_message(two).0, "the following required arguments were not provided: --a <A>, --b <B>");
        let typo = "error: unrecognized subcommand 'spwan'\n\n  tip: a similar subcommand exists: 'spawn'\n\nUsage: agentpool [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_message(typo),
            ("unrecognized subcommand 'spwan'".to_owned(), vec!["a similar subcommand exists: 'spawn'".to_owned()])
        );
        let bad = "error: invalid value 'soon' for '--timeout <TIMEOUT>': invalid float literal\n\nFor more information, try '--help'.\n";
        assert_eq!(usage_message(bad).0, "invalid value 'soon' for '--timeout <TIMEOUT>': invalid float literal");
    }
}
