//! The `agentpool` binary: everything lives in the library so other builds can reuse it.

fn main() -> std::process::ExitCode {
    agentpool_cli::main()
}
