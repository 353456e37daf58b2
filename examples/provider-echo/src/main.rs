//! `agentpool-with-echo`: the `agentpool` command line with one extra provider crate linked in.

fn main() -> std::process::ExitCode {
    agentpool_provider_echo::link();
    agentpool_cli::main()
}
