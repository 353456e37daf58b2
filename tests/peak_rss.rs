//! `agentpool-peak-rss REPORT PROGRAM [ARGS…]`: runs one program (stdin, stdout and stderr
//! passed through), then writes its peak resident set size in KiB to the file `REPORT` and
//! exits with the program's exit code.
//!
//! A process of its own because `getrusage(RUSAGE_CHILDREN)` reports the largest child a
//! process ever waited for: here there is exactly one (together with anything it waited for),
//! so the figure is that run's, whatever else the test binary runs in parallel.

use std::process::{Command, ExitCode};

use nix::sys::resource::{UsageWho, getrusage};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [report, program, rest @ ..] = args.as_slice() else {
        eprintln!("usage: agentpool-peak-rss REPORT PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let status = match Command::new(program).args(rest).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agentpool-peak-rss: could not run `{program}`: {e}");
            return ExitCode::from(2);
        }
    };
    let usage = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("agentpool-peak-rss: getrusage failed: {e}");
            return ExitCode::from(2);
        }
    };
    // Linux reports ru_maxrss in KiB.
    if let Err(e) = std::fs::write(report, usage.max_rss().to_string()) {
        eprintln!("agentpool-peak-rss: could not write `{report}`: {e}");
        return ExitCode::from(2);
    }
    ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1))
}
