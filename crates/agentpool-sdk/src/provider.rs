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
    /// Continue this conversation of the CLI's own (its session id, as its signals reported
    /// it) instead of starting a new one. Only set for providers whose
    /// [`Provider::resumes`] is true.
    pub resume_session: Option<String>,
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
    /// Screens that mean the worker failed: event `error`, state `FAILED`, checked where core's
    /// own error check runs. Custom providers take them from `patterns.error`. A pattern may
    /// name the failure's class with a named group: `(?P<status>\d{3})` (an HTTP status) or a
    /// group named `auth`, `rate_limit`, `server`, `network` or `other`; observe then reports
    /// `error_class` and the CLI's message (see [`crate::detect::ExtraRules::error_class`]).
    pub error_patterns: Vec<String>,
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
    /// Parts of the screen that change while nothing happens (a spinner glyph, a byte or
    /// seconds counter): left out when the screen is hashed, so they make no `screen_changed`
    /// event and no write on every poll.
    pub volatile_patterns: Vec<String>,
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

/// What a provider is, without running anything: names, capabilities, how the initial prompt
/// is given and submitted, when the CLI is ready for it, and — for providers the model catalog
/// does not list — models and metadata. Build it with [`ProviderInfo::new`] and the builder
/// methods; new fields arrive with defaults, so this never breaks a provider crate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderInfo {
    /// Stable id, e.g. `codex-cli`.
    pub id: String,
    /// Human name.
    pub display_name: String,
    /// Who makes it.
    pub vendor: String,
    /// The harness label recorded on sessions (default: the id).
    pub harness: String,
    /// Provider-specific capabilities (the registry adds [`BASE_CAPABILITIES`]).
    pub extra_capabilities: Vec<Capability>,
    /// How `provider_default` resolves when the catalog does not say.
    pub default_prompt_mode: PromptMode,
    /// In `arg` prompt mode, the flag before the prompt (`None`: the prompt is the last bare
    /// argument).
    pub prompt_arg_flag: Option<String>,
    /// Why the CLI cannot take the initial prompt as an argument, when it cannot (`arg` mode
    /// is then refused before anything is created).
    pub arg_prompt_refused: Option<String>,
    /// Keys that submit a pasted message; `None` means paste then `Enter`.
    pub submit_keys: Option<Vec<String>>,
    /// The keys that interrupt the worker's current turn (tmux key names): the CLI's own
    /// interrupt key, `C-c` unless set.
    pub interrupt_keys: Vec<String>,
    /// When the worker is ready for the first paste.
    pub startup: StartupSpec,
    /// Models known without probing; `None` means the provider's entries in the model catalog.
    pub models: Option<Vec<ModelDescriptor>>,
    /// Metadata inventory reports besides the catalog's facts.
    pub metadata: Map<String, Value>,
}

impl ProviderInfo {
    /// Facts with every optional one at its default.
    pub fn new(id: impl Into<String>, display_name: impl Into<String>, vendor: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            harness: id.clone(),
            id,
            display_name: display_name.into(),
            vendor: vendor.into(),
            extra_capabilities: Vec::new(),
            default_prompt_mode: PromptMode::SendAfterLaunch,
            prompt_arg_flag: None,
            arg_prompt_refused: None,
            submit_keys: None,
            interrupt_keys: vec!["C-c".to_owned()],
            startup: StartupSpec { ready_markers: Vec::new(), quiet_ms: 300 },
            models: None,
            metadata: Map::new(),
        }
    }

    /// Sets [`Self::harness`].
    pub fn harness(mut self, harness: impl Into<String>) -> Self {
        self.harness = harness.into();
        self
    }

    /// Sets [`Self::extra_capabilities`].
    pub fn capabilities(mut self, caps: impl IntoIterator<Item = Capability>) -> Self {
        self.extra_capabilities = caps.into_iter().collect();
        self
    }

    /// Sets [`Self::default_prompt_mode`].
    pub fn default_prompt_mode(mut self, mode: PromptMode) -> Self {
        self.default_prompt_mode = mode;
        self
    }

    /// Sets [`Self::prompt_arg_flag`].
    pub fn prompt_arg_flag(mut self, flag: impl Into<String>) -> Self {
        self.prompt_arg_flag = Some(flag.into());
        self
    }

    /// Refuses `arg` prompt mode, saying why (see [`Self::arg_prompt_refused`]).
    pub fn refuse_arg_prompt(mut self, why: impl Into<String>) -> Self {
        self.arg_prompt_refused = Some(why.into());
        self
    }

    /// Sets [`Self::submit_keys`].
    pub fn submit_keys(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.submit_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Sets [`Self::interrupt_keys`].
    pub fn interrupt_keys(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.interrupt_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`Self::startup`].
    pub fn startup(mut self, startup: StartupSpec) -> Self {
        self.startup = startup;
        self
    }

    /// Sets [`Self::models`].
    pub fn models(mut self, models: Vec<ModelDescriptor>) -> Self {
        self.models = Some(models);
        self
    }

    /// Sets [`Self::metadata`].
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A coding-agent CLI AgentPool can drive. Three methods are required — what it is
/// ([`info`](Self::info)), whether and where it is installed ([`discover`](Self::discover)),
/// and how to start it ([`launch`](Self::launch)); the rest are optional refinements.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Static facts (see [`ProviderInfo`]).
    fn info(&self) -> &ProviderInfo;
    /// Finds the binary, its version and auth state.
    async fn discover(&self, ctx: &ProbeContext) -> Detected;
    /// Builds the command that starts a worker.
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan>;

    /// Screen patterns for what the CLI's screen shows (login screen, extra prompts, busy
    /// lines, error screens).
    fn screen_rules(&self) -> ScreenRules {
        ScreenRules::default()
    }
    /// Given the current screen before the first paste, the keys that answer a known, safe
    /// startup dialog (update prompt → skip; trust prompt only when `ctx.accept_trust`).
    /// Implementations read the options from the screen; they never send blind keys.
    fn startup_dialog(&self, _screen: &str, _ctx: &DialogContext) -> Option<DialogAnswer> {
        None
    }
    /// The usage snapshot inventory shows without running a probe (fixed local facts).
    fn inventory_usage(&self) -> Option<CapacitySnapshot> {
        None
    }
    /// Reads usage headroom live (only on an explicit refresh, never from inventory).
    /// `None`: no safe probe, reported as an unknown row. The default reports a usage fact
    /// that is local configuration (the fakes); real CLIs override it.
    async fn usage(&self, _ctx: &crate::usage::UsageContext) -> Option<CapacitySnapshot> {
        self.inventory_usage().filter(|s| s.confidence == Confidence::LocalConfig)
    }
    /// How this provider hears its CLI's structured lifecycle reports (hooks, notify programs,
    /// an event stream), if it does; wire the hooks up in [`Self::launch`] with
    /// [`LaunchContext::signal_command`]. `None`: the screen is the only source.
    fn signals(&self) -> Option<&dyn crate::signal::SignalChannel> {
        None
    }
    /// Whether [`Self::launch`] honours [`LaunchContext::resume_session`] (the CLI's own resume
    /// mode). `false`: `agentpool resume` refuses with `RESUME_UNSUPPORTED`.
    fn resumes(&self) -> bool {
        false
    }
}

/// Reading a provider's facts (what the engine asks of every provider).
impl<'a> dyn Provider + 'a {
    /// [`ProviderInfo::id`].
    pub fn id(&self) -> &str {
        &self.info().id
    }
    /// [`ProviderInfo::display_name`].
    pub fn display_name(&self) -> &str {
        &self.info().display_name
    }
    /// [`ProviderInfo::vendor`].
    pub fn vendor(&self) -> &str {
        &self.info().vendor
    }
    /// [`ProviderInfo::harness`].
    pub fn harness(&self) -> &str {
        &self.info().harness
    }
    /// [`ProviderInfo::extra_capabilities`].
    pub fn extra_capabilities(&self) -> Vec<Capability> {
        self.info().extra_capabilities.clone()
    }
    /// [`ProviderInfo::models`], else this provider's entries in the embedded model catalog.
    pub fn models(&self) -> Vec<ModelDescriptor> {
        let info = self.info();
        info.models.clone().unwrap_or_else(|| crate::catalog::Catalog::embedded_ref().models(&info.id))
    }
    /// [`ProviderInfo::metadata`].
    pub fn metadata(&self) -> Map<String, Value> {
        self.info().metadata.clone()
    }
    /// [`ProviderInfo::default_prompt_mode`].
    pub fn default_prompt_mode(&self) -> PromptMode {
        self.info().default_prompt_mode
    }
    /// [`ProviderInfo::submit_keys`].
    pub fn submit_keys(&self) -> Option<Vec<String>> {
        self.info().submit_keys.clone()
    }
    /// [`ProviderInfo::interrupt_keys`].
    pub fn interrupt_keys(&self) -> Vec<String> {
        self.info().interrupt_keys.clone()
    }
    /// [`ProviderInfo::startup`].
    pub fn startup(&self) -> StartupSpec {
        self.info().startup.clone()
    }
    /// [`ProviderInfo::prompt_arg_flag`].
    pub fn prompt_arg_flag(&self) -> Option<String> {
        self.info().prompt_arg_flag.clone()
    }
    /// Refuses an initial prompt mode this provider cannot honour (checked before anything
    /// is created): `arg` when [`ProviderInfo::arg_prompt_refused`] says why.
    pub fn check_prompt_mode(&self, mode: PromptMode) -> Result<()> {
        let info = self.info();
        match (&info.arg_prompt_refused, mode) {
            (Some(why), PromptMode::Arg) => Err(crate::error::Error::new(
                crate::error::ErrorCode::InvalidRequest,
                format!(
                    "{} cannot take the initial prompt as an argument ({why}); use `send_after_launch`",
                    info.id
                ),
            )
            .with(
                "errors",
                serde_json::json!([{"loc": ["initial_prompt_mode"], "msg": format!("unsupported for {}", info.id), "input": "arg"}]),
            )
            .with("provider_id", &info.id)),
            _ => Ok(()),
        }
    }
}

/// A built-in worker program run from the `agentpool` binary itself (`agentpool __worker <id>`),
/// as the fakes are. Submitted with [`register_worker!`](crate::register_worker).
pub struct WorkerRegistration {
    /// The provider id whose launch plan runs it.
    pub id: &'static str,
    /// Runs the worker on this process's terminal; returns the exit code.
    pub run: fn() -> i32,
}

inventory::collect!(WorkerRegistration);

/// Registers a built-in worker program at link time.
///
/// ```ignore
/// agentpool_sdk::register_worker!("my-fake", || my_crate::worker::run());
/// ```
#[macro_export]
macro_rules! register_worker {
    ($id:expr, $run:expr) => {
        $crate::inventory::submit! {
            $crate::provider::WorkerRegistration { id: $id, run: $run }
        }
    };
}

/// The built-in worker registered for `id`, if any.
pub fn worker(id: &str) -> Option<fn() -> i32> {
    inventory::iter::<WorkerRegistration>.into_iter().find(|w| w.id == id).map(|w| w.run)
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
