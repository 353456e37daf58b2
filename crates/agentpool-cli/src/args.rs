//! Command-line definitions (clap). Only parsing lives here; commands are in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str = "A local control plane for coding-agent CLIs running as tmux workers.

You choose the provider and model; AgentPool spawns the worker, lets you observe, steer,
interrupt and terminate it, and collects its transcript, result and diff.";

const AFTER: &str = "Examples:
  agentpool smoke --provider fake-question --repo . --json
  agentpool inventory --json
  cat task.md | agentpool spawn --provider fake-question --repo . --task-stdin --json
  agentpool observe <session-id> --wait-for question,completed --timeout 60 --json
  agentpool send <session-id> \"Inspect migrations first.\" --json
  agentpool collect <session-id> --json
  agentpool terminate <session-id> --json

Every command accepts --json: compact JSON on stdout, and on failure one
{\"error\": {\"code\", \"message\", \"details\"}} envelope. Exit codes: 0 ok, 1 error, 2 usage.";

/// The `agentpool` command line.
#[derive(Debug, Parser)]
#[command(name = "agentpool", version, about = ABOUT, after_help = AFTER, propagate_version = true)]
pub struct Cli {
    /// Emit JSON (compact, one document on stdout).
    #[arg(long, global = true)]
    pub json: bool,

    /// Act as this coordinator (default: `$AGENTPOOL_COORDINATOR_ID`, else `default`).
    #[arg(long, global = true, value_name = "ID")]
    pub coordinator_id: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a short commented config file.
    #[command(after_help = "Examples:\n  agentpool init\n  agentpool init --dry-run --json")]
    Init(InitArgs),
    /// List configured provider ids.
    #[command(after_help = "Examples:\n  agentpool providers --json")]
    Providers,
    /// List providers with install, auth, model and usage state.
    #[command(after_help = "Examples:\n  agentpool inventory\n  agentpool inventory --all --json")]
    Inventory(InventoryArgs),
    /// Spawn one worker with an explicitly chosen provider.
    #[command(
        after_help = "Examples:\n  cat task.md | agentpool spawn --provider codex-cli --repo . --task-stdin --json\n  agentpool spawn --provider fake-question --task \"Ask one question.\" --json"
    )]
    Spawn(Box<SpawnArgs>),
    /// Observe a worker's state, optionally waiting for an event or state.
    #[command(
        after_help = "Examples:\n  agentpool observe <session-id> --json\n  agentpool observe <session-id> --wait-for question,completed --timeout 60 --detail excerpt --json"
    )]
    Observe(Box<ObserveArgs>),
    /// Send one message to a worker and submit it.
    #[command(
        after_help = "Examples:\n  agentpool send <session-id> \"Continue.\" --json\n  echo \"Use the second option.\" | agentpool send <session-id> --stdin --json"
    )]
    Send(SendArgs),
    /// Send raw keys (only when `policy.allow_raw_keys` is true).
    #[command(after_help = "Examples:\n  agentpool keys <session-id> Escape --json")]
    Keys(KeysArgs),
    /// Interrupt a worker with its CLI's own interrupt key (Ctrl-C, Escape for Claude Code).
    #[command(
        after_help = "Examples:\n  agentpool interrupt <session-id> --json\n  agentpool interrupt <session-id> --dry-run --json"
    )]
    Interrupt(InterruptArgs),
    /// Attach this terminal to a worker's tmux pane (detach with the tmux prefix, then `d`).
    /// Prints the command instead with --print or --json, or when not run in a terminal.
    #[command(after_help = "Examples:\n  agentpool attach <session-id>\n  agentpool attach <session-id> --print")]
    Attach(AttachArgs),
    /// List a worker's artifact files.
    #[command(after_help = "Examples:\n  agentpool artifacts <session-id> --json")]
    Artifacts(SessionArg),
    /// Read a page or the tail of a worker's transcript.
    #[command(
        after_help = "Examples:\n  agentpool transcript <session-id> --tail-lines 80\n  agentpool transcript <session-id> --offset 0 --limit 4000 --json"
    )]
    Transcript(TranscriptArgs),
    /// Collect result, summary, git status and diff.
    #[command(
        after_help = "Examples:\n  agentpool collect <session-id> --json\n  agentpool collect <session-id> --detail excerpt --json"
    )]
    Collect(CollectArgs),
    /// Terminate a worker (idempotent).
    #[command(
        after_help = "Examples:\n  agentpool terminate <session-id> --json\n  agentpool terminate <session-id> --dry-run --json"
    )]
    Terminate(TerminateArgs),
    /// Start a new worker that continues an ended session's conversation (the provider's own
    /// resume mode), in the same repo with the same provider, model and isolation.
    #[command(
        after_help = "Examples:\n  agentpool resume <session-id> --json\n  agentpool resume <session-id> --task \"Now add tests.\" --json"
    )]
    Resume(ResumeArgs),
    /// List sessions, newest first, bounded by default.
    #[command(
        after_help = "Examples:\n  agentpool sessions --json\n  agentpool sessions --state running,awaiting_user_input --limit 10 --json"
    )]
    Sessions(SessionsArgs),
    /// A full-screen dashboard of sessions: states, what needs you, usage headroom and the
    /// selected worker's screen. Keys: Enter attach, s send, i interrupt, t terminate, d diff,
    /// / filter, a mine/all, q quit. Reads stored state only; needs a terminal.
    #[command(after_help = "Examples:\n  agentpool watch\n  agentpool watch --scope mine")]
    Watch(WatchArgs),
    /// Inspect one session: `session <id>` is short for `session show <id>`.
    #[command(after_help = "Examples:\n  agentpool session <session-id>\n  agentpool session show <session-id> --json")]
    Session(SessionArgs),
    /// Run a smoke: the fake lifecycle, or a guarded read-only check of a real provider.
    #[command(
        after_help = "Examples:\n  agentpool smoke --provider fake-question --repo . --json\n  agentpool smoke --provider codex-cli --real-read-only --repo . --timeout 120 --json"
    )]
    Smoke(SmokeArgs),
    /// Show the model catalog per provider, or validate a catalog file.
    #[command(
        after_help = "Examples:\n  agentpool models --json\n  agentpool models --provider codex-cli\n  agentpool models validate --path ~/my-models.json --json"
    )]
    Models(ModelsArgs),
    /// List or clean up AgentPool's git worktrees.
    #[command(subcommand)]
    Worktrees(WorktreesCommand),
    /// Acquire, list or release advisory file leases.
    #[command(subcommand)]
    Leases(LeasesCommand),
    /// Usage snapshots per provider: live probes, or the stored ones with `--cached`.
    #[command(
        after_help = "Examples:\n  agentpool usage --provider codex-cli --backend native --json\n  agentpool usage --cached --json"
    )]
    Usage(crate::cmd_usage::UsageArgs),
    /// Which providers can take work now: usable, why not, windows, resets, staleness.
    #[command(
        visible_alias = "capacity-summary",
        after_help = "Examples:\n  agentpool usage-summary --json\n  agentpool usage-summary --provider codex-cli --refresh --json"
    )]
    UsageSummary(crate::cmd_usage::UsageSummaryArgs),
    /// What the pool did in a window: sessions, parallelism, quota walls, tokens (`stats/v1`).
    #[command(
        after_help = "Examples:\n  agentpool stats\n  agentpool stats --since 30d --provider codex-cli --json\n  agentpool stats --from 2026-03-01 --to 2026-03-08 --plain\n  agentpool stats --since 7d --share"
    )]
    Stats(crate::cmd_stats::StatsArgs),
    /// Check this machine: config, tmux, git, database, artifacts (--deep: a tmux roundtrip).
    #[command(after_help = "Examples:\n  agentpool doctor\n  agentpool doctor --deep --privacy --json")]
    Doctor(crate::cmd_onboard::DoctorArgs),
    /// Check one MCP host or provider CLI (or `all`) and print what to do next.
    #[command(
        after_help = "Examples:\n  agentpool setup all\n  agentpool setup codex-cli --json\n  agentpool setup cursor"
    )]
    Setup(crate::cmd_onboard::SetupArgs),
    /// The onboarding checklist: what is done and the next command.
    #[command(after_help = "Examples:\n  agentpool onboard\n  agentpool onboard --json")]
    Onboard,
    /// Show, initialise or locate the delegation preferences agents read.
    #[command(
        after_help = "Examples:\n  agentpool preferences\n  agentpool preferences init --dry-run --json\n  agentpool preferences path"
    )]
    Preferences(crate::cmd_onboard::PreferencesArgs),
    /// Guides for agents, bundled with this version.
    #[command(
        after_help = "Examples:\n  agentpool skills list\n  agentpool skills get agentpool\n  agentpool skills get core --full\n  agentpool skills path core"
    )]
    Skills {
        #[command(subcommand)]
        action: Option<crate::cmd_skills::SkillsCommand>,
    },
    /// Validate, show or locate the configuration.
    #[command(subcommand)]
    Config(crate::cmd_config::ConfigCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  agentpool completions bash > ~/.local/share/bash-completion/completions/agentpool\n  agentpool completions zsh > ~/.zfunc/_agentpool"
    )]
    Completions(crate::cmd_config::CompletionsArgs),
    /// The snippet that registers `agentpool mcp` with an MCP host, or (--install) the entry
    /// written into the host's config.
    #[command(
        after_help = "Examples:\n  agentpool mcp-config --client cursor\n  agentpool mcp-config --client codex --absolute-command --install --dry-run\n  agentpool mcp-config --client codex --absolute-command --install\n  agentpool mcp-config --client claude-code --install --scope project --json"
    )]
    McpConfig(crate::cmd_mcp_config::McpConfigArgs),
    /// Serve the MCP tools over stdio (for Claude Desktop, Cursor, Codex, Copilot CLI, …).
    #[command(
        after_help = "Examples:\n  agentpool mcp\n  agentpool mcp --toolsets default,sessions\n  agentpool mcp --lockdown"
    )]
    Mcp(crate::cmd_mcp::McpArgs),
    /// Internal: run a built-in worker program inside a tmux pane.
    #[command(name = "__worker", hide = true)]
    Worker { provider_id: String },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Config file to write (default: the resolved config path).
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Back up and overwrite an existing file.
    #[arg(long, visible_alias = "yes")]
    pub force: bool,
    /// Show what would be written without writing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Also list the built-in fake providers (fake-question, …), which are hidden unless
    /// enabled explicitly in config.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// Explicit provider id (see `agentpool providers`).
    #[arg(long)]
    pub provider: String,
    /// The worker's task.
    #[arg(long)]
    pub task: Option<String>,
    /// Read the task from stdin.
    #[arg(long, visible_alias = "stdin")]
    pub task_stdin: bool,
    /// Repository (or directory) the worker runs in.
    #[arg(long, default_value = ".")]
    pub repo: String,
    /// explorer, reviewer, implementer, tester or custom.
    #[arg(long, default_value = "explorer")]
    pub role: String,
    /// Runtime (tmux). Defaults to config.
    #[arg(long)]
    pub runtime: Option<String>,
    /// read_only, shared or worktree.
    #[arg(long, default_value = "read_only")]
    pub isolation: String,
    /// Model id; defaults to the provider's configured default.
    #[arg(long)]
    pub model: Option<String>,
    /// Account label recorded with the session.
    #[arg(long)]
    pub account: Option<String>,
    /// Advisory allowed file (repeatable).
    #[arg(long = "allowed-file")]
    pub allowed_files: Vec<String>,
    /// Cancel the worker on the next operation after this many seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub max_runtime_seconds: Option<i64>,
    /// Maximum number of messages AgentPool will send.
    #[arg(long, allow_negative_numbers = true)]
    pub max_turns: Option<i64>,
    /// interactive, autonomous or human_visible.
    #[arg(long, default_value = "interactive")]
    pub supervision: String,
    /// provider_default, send_after_launch or arg.
    #[arg(long, default_value = "provider_default")]
    pub initial_prompt_mode: String,
    /// Reasoning effort override, e.g. high.
    #[arg(long)]
    pub reasoning_effort: Option<String>,
    /// Service tier override, e.g. priority.
    #[arg(long)]
    pub service_tier: Option<String>,
    /// Extra environment for this worker, KEY=VALUE (repeatable), over this shell's own and
    /// `[providers.<id>] env`; values are never stored.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

fn parse_env(raw: &str) -> Result<(String, String), String> {
    agentpool_core::env::parse_assignment(raw)
}

#[derive(Debug, Args)]
pub struct SessionArg {
    /// Session id (`ap_…`).
    pub session_id: String,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// Print the attach command instead of running it.
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct ObserveArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// Comma-separated events or states to wait for (question, approval, completed, …).
    #[arg(long)]
    pub wait_for: Option<String>,
    /// Seconds to wait; 0 captures once.
    #[arg(long, default_value = "0", allow_negative_numbers = true)]
    pub timeout: f64,
    /// summary, excerpt or full.
    #[arg(long, default_value = "summary")]
    pub detail: String,
    /// History lines to capture.
    #[arg(long)]
    pub max_lines: Option<usize>,
    /// Also write the JSON payload to this file (a regular file in an existing directory; a
    /// symlink, FIFO or device there is refused).
    #[arg(long, visible_alias = "output-file")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// Message to send ("" presses Enter). Omit with --stdin.
    pub message: Option<String>,
    /// Read the message from stdin.
    #[arg(long)]
    pub stdin: bool,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// tmux key names (Enter, Escape, C-c, Up, …).
    #[arg(required = true, num_args = 1..)]
    pub keys: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InterruptArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// Say what would happen without sending the interrupt key.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct TranscriptArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// Byte offset of the page.
    #[arg(long, default_value = "0", allow_negative_numbers = true)]
    pub offset: i64,
    /// Page size in bytes.
    #[arg(long, default_value = "4000", allow_negative_numbers = true)]
    pub limit: i64,
    /// Return the last N lines instead of a page.
    #[arg(long, allow_negative_numbers = true)]
    pub tail_lines: Option<i64>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// summary, excerpt or full.
    #[arg(long, default_value = "summary")]
    pub detail: String,
}

#[derive(Debug, Args)]
pub struct TerminateArgs {
    /// Session id (`ap_…`).
    pub session_id: String,
    /// Say what would happen without stopping anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The ended session to continue (`ap_…`).
    pub session_id: String,
    /// The first message of the resumed conversation (default: "Continue where you left off.").
    #[arg(long)]
    pub task: Option<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// `mine` (this coordinator's sessions) or `all` at start; `a` toggles.
    #[arg(long, default_value = "all")]
    pub scope: String,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Comma-separated states (running, completed, …).
    #[arg(long)]
    pub state: Option<String>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Page size (1-500).
    #[arg(long, default_value = "50", allow_negative_numbers = true)]
    pub limit: i64,
    /// Page offset.
    #[arg(long, default_value = "0", allow_negative_numbers = true)]
    pub offset: i64,
    /// The N most recent sessions.
    #[arg(long, allow_negative_numbers = true)]
    pub recent: Option<i64>,
    /// Every matching session.
    #[arg(long)]
    pub all: bool,
    /// grep-friendly key=value lines.
    #[arg(long)]
    pub plain: bool,
    /// `mine` (this coordinator's sessions) or `all`.
    #[arg(long, default_value = "all")]
    pub scope: String,
}

/// `session <id>` or `session show <id>`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SessionArgs {
    #[command(subcommand)]
    pub command: Option<SessionCommand>,
    /// Session id (`ap_…`); the same as `session show <id>`.
    #[arg(required = true)]
    pub session_id: Option<String>,
    /// grep-friendly key=value lines.
    #[arg(long)]
    pub plain: bool,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Show one session.
    #[command(after_help = "Examples:\n  agentpool session show <session-id> --json")]
    Show {
        /// Session id (`ap_…`).
        session_id: String,
        /// grep-friendly key=value lines.
        #[arg(long)]
        plain: bool,
    },
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Only this provider (an unknown id is PROVIDER_NOT_FOUND).
    #[arg(long)]
    pub provider: Option<String>,
    #[command(subcommand)]
    pub action: Option<ModelsAction>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Check a catalog file entry by entry (default: the embedded catalog); exit 1 when invalid.
    Validate {
        /// Catalog JSON file to check.
        #[arg(long)]
        path: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// Provider to drive: a fake, or a real one with --real-read-only.
    #[arg(long, default_value = "fake-question")]
    pub provider: String,
    /// Repository the worker runs in.
    #[arg(long, default_value = ".")]
    pub repo: String,
    /// Seconds to wait for each step.
    #[arg(long, default_value = "30", allow_negative_numbers = true)]
    pub timeout: f64,
    /// Model for a real provider (default: its smoke model, else its default model).
    #[arg(long)]
    pub model: Option<String>,
    /// Allow a real provider: read-only isolation and the reviewer role are forced, the repo
    /// must stay clean, the worker is always terminated.
    #[arg(long)]
    pub real_read_only: bool,
    /// Leave folder-trust prompts to a human instead of trusting the smoke repo.
    #[arg(long)]
    pub no_accept_startup_trust: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorktreesCommand {
    /// AgentPool's worktrees of a repository.
    #[command(after_help = "Examples:\n  agentpool worktrees list --repo . --json")]
    List {
        /// Repository whose worktrees to list.
        #[arg(long, default_value = ".")]
        repo: String,
    },
    /// Remove a finished session's worktree; refuses to lose work without --force.
    #[command(
        after_help = "Examples:\n  agentpool worktrees cleanup --session-id <session-id> --dry-run --json\n  agentpool worktrees cleanup --session-id <session-id> --force --json"
    )]
    Cleanup {
        /// Session id (`ap_…`).
        #[arg(long)]
        session_id: String,
        /// Remove even when modified, untracked or ignored files, unmerged commits or stashes
        /// are at risk: the files go; the branch is kept when it holds commits found nowhere
        /// else, and stashes are never dropped.
        #[arg(long, visible_alias = "yes")]
        force: bool,
        /// Say what would be removed and list what would be lost, by kind; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LeasesCommand {
    /// List leases (active only unless --all).
    #[command(
        after_help = "Examples:\n  agentpool leases list --json\n  agentpool leases list --session-id <session-id> --all --json"
    )]
    List {
        /// Only this session's leases.
        #[arg(long)]
        session_id: Option<String>,
        /// Only leases in this repository.
        #[arg(long)]
        repo: Option<String>,
        /// Include released and expired leases.
        #[arg(long)]
        all: bool,
    },
    /// Lease one file for a session (reads share, writes exclude).
    #[command(
        after_help = "Examples:\n  agentpool leases acquire --session-id <session-id> --file src/app.rs --json\n  agentpool leases acquire --session-id <session-id> --file README.md --mode read --ttl-seconds 600 --json"
    )]
    Acquire {
        /// Session id (`ap_…`).
        #[arg(long)]
        session_id: String,
        /// File path, relative to the repository or absolute inside it.
        #[arg(long)]
        file: String,
        /// read or write.
        #[arg(long, default_value = "write")]
        mode: String,
        /// Seconds until the lease expires (0 or absent: no expiry).
        #[arg(long, allow_negative_numbers = true)]
        ttl_seconds: Option<i64>,
    },
    /// Release leases by id, or a session's (optionally one file).
    #[command(
        after_help = "Examples:\n  agentpool leases release --session-id <session-id> --file src/app.rs --json\n  agentpool leases release --lease-id 3 --dry-run --json"
    )]
    Release {
        /// Lease id.
        #[arg(long, allow_negative_numbers = true)]
        lease_id: Option<i64>,
        /// Session id (`ap_…`).
        #[arg(long)]
        session_id: Option<String>,
        /// Only this file (needs --session-id).
        #[arg(long)]
        file: Option<String>,
        /// Say what would be released, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}
