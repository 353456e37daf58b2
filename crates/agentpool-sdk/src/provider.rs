//! The `Provider` trait and its link-time registration.
//!
//! Each provider crate submits one [`ProviderRegistration`] per provider id with
//! [`register_provider!`](crate::register_provider). The linker only keeps crates something
//! references, so front ends call `agentpool_providers::link_all()` before the engine builds
//! its registry from [`registrations`].

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use crate::config::ProviderConfig;
use crate::error::Result;
use crate::model::{
    AuthState, AuthStatus, Capability, CapacitySnapshot, Confidence, Isolation, ModelDescriptor, PromptMode, Role,
};

/// Capabilities every provider has.
pub const BASE_CAPABILITIES: [Capability; 4] = [
    Capability::LiveSteering,
    Capability::ReadOnlyAdvisory,
    Capability::CanRunTests,
    Capability::SupportsInteractiveMode,
];

/// What detection found out about a provider on this machine.
#[derive(Debug, Clone)]
pub struct Detected {
    pub installed: bool,
    pub binary_path: Option<String>,
    pub version: Option<String>,
    pub auth: AuthStatus,
    pub warnings: Vec<String>,
}

/// What a provider may use while detecting itself.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// The user's overrides for this provider.
    pub config: ProviderConfig,
    /// The running `agentpool` executable (fakes run from it).
    pub self_exe: PathBuf,
    /// AgentPool's version.
    pub agentpool_version: &'static str,
    /// AgentPool's home (the version cache lives under `cache/`).
    pub home: PathBuf,
}

/// What the lifecycle tells a provider when it builds a launch command.
#[derive(Debug, Clone)]
pub struct LaunchContext {
    pub session_id: String,
    pub binary_path: Option<String>,
    pub self_exe: PathBuf,
    pub config: ProviderConfig,
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    pub service_tier: Option<String>,
    pub isolation: Isolation,
    pub role: Role,
    pub workdir: PathBuf,
    pub prompt_mode: PromptMode,
    /// AgentPool's home (for process-local settings files).
    pub home: PathBuf,
    /// This session's signal log (see [`crate::signal`]); hooks reach it through
    /// [`Self::signal_command`].
    pub signal_log: PathBuf,
}

impl LaunchContext {
    /// The argv a CLI hook runs to report to AgentPool: `agentpool __signal <provider> <source>
    /// <log>`. The hook's payload goes on its stdin or as one more argument; `source` names the
    /// hook for [`SignalChannel::parse`](crate::signal::SignalChannel::parse).
    pub fn signal_command(&self, provider_id: &str, source: &str) -> Vec<String> {
        vec![
            self.self_exe.display().to_string(),
            SIGNAL_ARG.to_owned(),
            provider_id.to_owned(),
            source.to_owned(),
            self.signal_log.display().to_string(),
        ]
    }
}

/// The hidden `agentpool` entry point that receives hook calls.
pub const SIGNAL_ARG: &str = "__signal";

/// The argv and environment that start a worker.
#[derive(Debug, Clone, Default)]
pub struct LaunchPlan {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// How to tell that a worker is ready for its first paste.
#[derive(Debug, Clone, Default)]
pub struct StartupSpec {
    /// Screen substrings that mean "ready now" (checked before the quiet period elapses).
    pub ready_markers: Vec<&'static str>,
    /// Without a marker: the screen must be non-empty and unchanged for this long.
    pub quiet_ms: u64,
}

/// Screen patterns a provider adds to core detection (regular expressions; write `(?i)` for
/// case-insensitive ones). Core applies them to the echo-filtered screen.
#[derive(Debug, Clone, Default)]
pub struct ScreenRules {
    /// The CLI is sitting at its sign-in screen: observe reports event `error` with readiness
    /// `login_required` (never running forever, never completed).
    pub login_patterns: Vec<String>,
    /// The command a human runs to sign in, named in `metadata.hint`.
    pub login_command: Option<String>,
    /// Extra approval prompts (checked in the active prompt region, like the built-in ones).
    pub approval_patterns: Vec<String>,
    /// Extra questions (checked in the active window).
    pub question_patterns: Vec<String>,
    /// Lines that mean "working right now": while one shows, older `?` lines are not questions.
    pub busy_patterns: Vec<String>,
}

/// What a provider may consider when answering a startup dialog.
#[derive(Debug, Clone)]
pub struct DialogContext {
    /// Folder-trust prompts may be answered (the caller chose this directory explicitly).
    pub accept_trust: bool,
    /// The session's isolation.
    pub isolation: Isolation,
    /// Where the worker runs.
    pub workdir: PathBuf,
    /// The provider's `[providers.<id>.metadata]` from config, for dialogs whose answer the
    /// user decides there (e.g. Claude Code's `use_env_api_key`). Empty: nothing configured.
    pub provider_metadata: Map<String, Value>,
}

/// The keys that answer one known startup dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogAnswer {
    /// Which dialog (`update_prompt`, `trust_prompt`, …), recorded in the event.
    pub dialog: String,
    /// What answering does (`skipped`, `trusted_for_this_session`, `moved_selection`, …).
    pub action: String,
    /// tmux key names to send.
    pub keys: Vec<String>,
}

/// A coding-agent CLI AgentPool can drive.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Stable id, e.g. `codex-cli`.
    fn id(&self) -> &str;
    /// Human name.
    fn display_name(&self) -> &str;
    /// Who makes it.
    fn vendor(&self) -> &str;
    /// The harness label recorded on sessions.
    fn harness(&self) -> &str {
        self.id()
    }
    /// Provider-specific capabilities (the base set is added by the registry).
    fn extra_capabilities(&self) -> Vec<Capability> {
        Vec::new()
    }
    /// Models known without probing. By default, this provider's entries in the embedded model
    /// catalog (none when the catalog does not list the id).
    fn models(&self) -> Vec<ModelDescriptor> {
        crate::catalog::Catalog::embedded_ref().models(self.id())
    }
    /// Metadata reported by inventory (catalog facts such as `default_model`).
    fn metadata(&self) -> Map<String, Value> {
        Map::new()
    }
    /// Finds the binary, its version and auth state.
    async fn detect(&self, ctx: &ProbeContext) -> Detected;
    /// How `provider_default` resolves for this provider.
    fn default_prompt_mode(&self) -> PromptMode {
        PromptMode::SendAfterLaunch
    }
    /// Builds the command that starts a worker.
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan>;
    /// The keys that interrupt the worker's current turn (tmux key names): the CLI's own
    /// interrupt key. `C-c` unless the provider says otherwise.
    fn interrupt_keys(&self) -> Vec<String> {
        vec!["C-c".to_owned()]
    }
    /// Keys that submit a pasted message; `None` means paste then `Enter`.
    fn submit_keys(&self) -> Option<Vec<String>> {
        None
    }
    /// When the worker is ready for the first paste.
    fn startup(&self) -> StartupSpec {
        StartupSpec { ready_markers: Vec::new(), quiet_ms: 300 }
    }
    /// The usage snapshot inventory shows without running a probe.
    fn inventory_usage(&self) -> Option<CapacitySnapshot> {
        None
    }
    /// Reads usage headroom live (only on an explicit refresh, never from inventory).
    /// `None`: no safe probe, reported as an unknown row. The default reports a usage fact
    /// that is local configuration (the fakes); real CLIs override it.
    async fn usage(&self, _ctx: &crate::usage::UsageContext) -> Option<CapacitySnapshot> {
        self.inventory_usage().filter(|s| s.confidence == Confidence::LocalConfig)
    }
    /// Provider-specific screen rules (login screen, extra prompts, busy lines).
    fn screen_rules(&self) -> ScreenRules {
        ScreenRules::default()
    }
    /// Screen patterns (regular expressions) meaning the worker failed: event `error`, state
    /// `FAILED`, checked where core's own error check runs. Custom providers take them from
    /// `patterns.error`.
    fn error_patterns(&self) -> Vec<String> {
        Vec::new()
    }
    /// Given the current screen before the first paste, the keys that answer a known, safe
    /// startup dialog (update prompt → skip; trust prompt only when `ctx.accept_trust`).
    /// Implementations read the options from the screen; they never send blind keys.
    fn startup_dialog(&self, _screen: &str, _ctx: &DialogContext) -> Option<DialogAnswer> {
        None
    }
    /// In `arg` prompt mode, the flag that precedes the prompt (`None`: the prompt is the last
    /// bare argument).
    fn prompt_arg_flag(&self) -> Option<String> {
        None
    }
    /// Refuses an initial prompt mode this provider cannot honour (checked before anything
    /// is created).
    fn check_prompt_mode(&self, _mode: PromptMode) -> Result<()> {
        Ok(())
    }
    /// How this provider hears its CLI's structured lifecycle reports (hooks, notify programs,
    /// an event stream), if it does; wire the hooks up in [`Self::launch`] with
    /// [`LaunchContext::signal_command`]. `None`: the screen is the only source.
    fn signals(&self) -> Option<&dyn crate::signal::SignalChannel> {
        None
    }
    /// Runs this provider's built-in worker program in the current process, if it has one.
    /// Returns the exit code.
    fn run_worker(&self) -> Option<i32> {
        None
    }
}

/// A provider submitted at link time.
pub struct ProviderRegistration {
    /// The provider id (checked against `Provider::id`).
    pub id: &'static str,
    /// Sort key for listings: lower comes first.
    pub order: u32,
    /// Builds the provider.
    pub create: fn() -> Arc<dyn Provider>,
}

inventory::collect!(ProviderRegistration);

/// Registers a provider at link time.
///
/// ```ignore
/// agentpool_core::register_provider!("my-cli", 100, || std::sync::Arc::new(MyCli));
/// ```
#[macro_export]
macro_rules! register_provider {
    ($id:expr, $order:expr, $create:expr) => {
        $crate::inventory::submit! {
            $crate::provider::ProviderRegistration { id: $id, order: $order, create: $create }
        }
    };
}

/// Every registration linked into this binary, sorted by order then id.
pub fn registrations() -> Vec<&'static ProviderRegistration> {
    let mut regs: Vec<_> = inventory::iter::<ProviderRegistration>.into_iter().collect();
    regs.sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(b.id)));
    regs
}

/// Capabilities of a provider as reported: the base set, then its own.
pub fn capabilities_of(provider: &dyn Provider) -> Vec<Capability> {
    let mut caps = BASE_CAPABILITIES.to_vec();
    for c in provider.extra_capabilities() {
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    caps
}

/// An auth status with the current time.
pub fn auth_status(status: AuthState, confidence: Confidence, reason: Option<&str>) -> AuthStatus {
    AuthStatus { status, confidence, reason: reason.map(str::to_owned), checked_at: crate::util::now() }
}

/// Finds an executable on `PATH` (absolute `PATH` entries only, so the current directory is
/// never searched), then in the usual user bin directories. Only regular executable files count.
pub fn which(name: &str) -> Option<PathBuf> {
    crate::probe::which(name)
}
