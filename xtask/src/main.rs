//! `cargo xtask`: maintainer tasks for AgentPool, run from the workspace root.
//!
//! `main` only dispatches: each task lives in its own module and returns a `Result`, which is
//! mapped to an exit code here (0 ok, 1 the task failed, 2 usage error).

mod bench;
mod bench_mcp;
mod bench_standins;
mod bench_stats;
mod conformance;
mod dist;
mod new_provider;
mod release;
mod snapshot;
mod tidy;

use std::process::ExitCode;

const USAGE: &str = "\
Maintainer tasks for AgentPool.

Usage: cargo xtask <task> [options]

Tasks:
  bench [--runs N] [--json] [--only a,b]
                              Time AgentPool against the bare-tmux floor and print a report
                              (medians, min/max, targets). N defaults to 15. --only picks
                              series: inventory, smoke, observe, stats, standins, mcp, memory.
  tidy                        Check the architecture invariants and workspace hygiene.
  snapshot [--accept|--check] Review, accept or check insta snapshots and the generated
                              docs/cli.md, docs/mcp-tools.md and docs/security.md's table
                              of redacted shapes.
  dist [--binary PATH] [--out DIR]
                              Build every package for the host target into target/dist:
                              tarball + .sha256, install.sh, Python wheel, npm launcher and
                              platform packages (from the release binary unless --binary).
  release [--dry-run]         Check version alignment, build the release binary and run dist.
  conformance [--cli claude|codex] [--version V] [--only a,b]
                              Install the pinned CLI from npm, run it against a loopback model
                              stand-in through `agentpool`, print a scenario matrix (see
                              docs/conformance.md).
  standin [--log FILE]        Run the loopback model stand-in in the foreground.
  new-provider <name>         Scaffold providers/<name>/: a provider crate that builds,
                              registers and passes its own tests.
  help                        Print this text.

Run from anywhere inside the workspace; `cargo xtask` is an alias for
`cargo run --quiet --package xtask --`.";

/// What went wrong, mapped to an exit code by [`main`].
#[derive(Debug)]
enum Failure {
    /// Bad command line: print the message and the usage, exit 2.
    Usage(String),
    /// The task itself failed: print the message, exit 1.
    Task(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Task(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<(), Failure> {
    let Some((task, rest)) = args.split_first() else {
        return Err(Failure::Usage("no task given".into()));
    };
    match task.as_str() {
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        "bench" => {
            let options = bench::Options::parse(rest).map_err(Failure::Usage)?;
            bench::run(&options).map_err(Failure::Task)
        }
        "tidy" => tidy::run(&workspace_root()).map_err(Failure::Task),
        "snapshot" => {
            snapshot::run(&workspace_root(), snapshot::parse(rest).map_err(Failure::Usage)?).map_err(Failure::Task)
        }
        "new-provider" => new_provider::run(&workspace_root(), &new_provider::parse(rest).map_err(Failure::Usage)?)
            .map_err(Failure::Task),
        "dist" => {
            dist::run(&workspace_root(), &dist::Options::parse(rest).map_err(Failure::Usage)?).map_err(Failure::Task)
        }
        "release" => {
            release::run(&workspace_root(), release::parse(rest).map_err(Failure::Usage)?).map_err(Failure::Task)
        }
        "conformance" => {
            let options = conformance::Options::parse(rest).map_err(Failure::Usage)?;
            conformance::run(&workspace_root(), &options).map_err(Failure::Task)
        }
        "standin" => conformance::serve(rest).map_err(Failure::Task),
        // Internal helper of `bench`: runs one command and reports its peak memory. Hidden
        // from the usage text because only `bench` calls it (see `bench::peak_rss_helper`).
        bench::PEAK_RSS_HELPER => bench::peak_rss_helper(rest).map_err(Failure::Task),
        other => Err(Failure::Usage(format!("unknown task `{other}`"))),
    }
}

/// The workspace root: xtask's manifest directory is `<root>/xtask`.
fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}
