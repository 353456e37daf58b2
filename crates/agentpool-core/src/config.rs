//! Configuration: one resolver for every path AgentPool uses, and the TOML config file.
//!
//! Resolution order for each setting is flag > environment > config file > default. The home
//! directory is `$AGENTPOOL_HOME` or `~/.agentpool`; the config file is `$AGENTPOOL_CONFIG` or
//! `<home>/config.toml`. A missing file means defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use agentpool_sdk::config::{ProviderConfig, expand_tilde};

use crate::error::{Error, ErrorCode, Result};
use crate::model::{Isolation, PromptMode, UsageStatus};
pub use crate::notify::NotifyConfig;

/// Environment variable naming AgentPool's home directory.
pub const ENV_HOME: &str = "AGENTPOOL_HOME";
/// Environment variable naming an alternative config file.
pub const ENV_CONFIG: &str = "AGENTPOOL_CONFIG";
/// Environment variable naming the tmux socket.
pub const ENV_TMUX_SOCKET: &str = "AGENTPOOL_TMUX_SOCKET";

/// Every filesystem location AgentPool reads or writes, resolved once.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `$AGENTPOOL_HOME` or `~/.agentpool`.
    pub home: PathBuf,
    /// The config file (may not exist).
    pub config_file: PathBuf,
    /// SQLite database.
    pub db_path: PathBuf,
    /// Root of per-session artifact directories.
    pub artifact_root: PathBuf,
    /// `preferences.md` read by agents before delegating.
    pub preferences: PathBuf,
}

/// A variable of ours, when it is set: set but empty (or only spaces) is an error, never a
/// silent fall-back to the default pool (`AGENTPOOL_HOME=` would otherwise mean `~/.agentpool`).
pub fn env_setting(key: &str) -> Result<Option<std::ffi::OsString>> {
    match std::env::var_os(key) {
        Some(v) if v.to_string_lossy().trim().is_empty() => Err(Error::new(
            ErrorCode::InvalidConfig,
            format!("`{key}` is set but empty; unset it to use the default, or give it a value"),
        )
        .with("variable", key)),
        other => Ok(other),
    }
}

impl Paths {
    /// Resolves the home directory and config file from the environment.
    pub fn from_env() -> Result<(PathBuf, PathBuf)> {
        let home = match env_setting(ENV_HOME)? {
            Some(h) => expand_tilde(Path::new(&h)),
            None => {
                let user_home = std::env::var_os("HOME").filter(|v| !v.is_empty()).ok_or_else(|| {
                    Error::new(ErrorCode::InvalidConfig, "neither `AGENTPOOL_HOME` nor `HOME` is set")
                })?;
                PathBuf::from(user_home).join(".agentpool")
            }
        };
        let config_file = match env_setting(ENV_CONFIG)? {
            Some(c) => expand_tilde(Path::new(&c)),
            None => home.join("config.toml"),
        };
        Ok((absolute(&home), absolute(&config_file)))
    }
}

/// Makes a path absolute against the current directory without touching the filesystem.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The whole config file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub version: Option<u32>,
    pub storage: StorageConfig,
    pub runtime: RuntimeConfig,
    pub policy: PolicyConfig,
    /// Per-provider overrides keyed by provider id.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Extra model catalog JSON files layered over the embedded one.
    pub model_catalog_paths: Vec<String>,
    /// Command-based providers defined by users (`[[custom_providers]]`).
    pub custom_providers: Vec<CustomProviderConfig>,
    /// Notifications on recorded events (`[[notify]]`), delivered by [`crate::notify`].
    pub notify: Vec<NotifyConfig>,
}

/// `[[custom_providers]]`: a provider for a CLI nobody wrote a Rust crate for. It is driven
/// by the generic command-based provider in [`crate::custom`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomProviderConfig {
    /// Provider id: lowercase letters, digits and `-`; never `auto`.
    pub id: String,
    /// Human name (default: the id).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Who makes it (default: `custom`).
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Replace the linked provider with the same id instead of refusing the entry.
    #[serde(default)]
    pub replace_builtin: bool,
    /// The argv that starts the CLI (`command[0]` is looked up like a binary candidate).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Names or paths tried in order when `command` is not set.
    #[serde(default)]
    pub binary_candidates: Vec<String>,
    /// Flag that carries the model (`--model`); without it the CLI never gets a model.
    #[serde(default)]
    pub model_arg: Option<String>,
    /// Model used when a spawn names none (only passed when `model_arg` is set).
    #[serde(default)]
    pub default_model: Option<String>,
    /// Model ids shown by inventory.
    #[serde(default)]
    pub models: Vec<String>,
    /// Flag appended as `<flag> <effort>` when a reasoning effort is requested.
    #[serde(default)]
    pub reasoning_effort_arg: Option<String>,
    /// tmux keys that submit a pasted message (default: paste, then `Enter`).
    #[serde(default)]
    pub submit_keys: Option<Vec<String>>,
    /// What `provider_default` means: `send_after_launch` (default) or `arg`.
    #[serde(default)]
    pub default_prompt_mode: Option<PromptMode>,
    /// In `arg` mode, the flag before the prompt (default: the prompt is the last argument).
    #[serde(default)]
    pub prompt_arg_flag: Option<String>,
    /// Screen patterns (regular expressions) for this CLI.
    #[serde(default)]
    pub patterns: CustomPatterns,
}

fn enabled_by_default() -> bool {
    true
}

/// `[custom_providers.patterns]`: regular expressions (`(?i)` for case-insensitive) applied
/// to the worker's screen, checked when the config is loaded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CustomPatterns {
    /// The CLI shows its sign-in screen: readiness `login_required`.
    pub login: Vec<String>,
    /// The command a human runs to sign in (named in the hint).
    pub login_command: Option<String>,
    /// The CLI asks for approval (event `approval_prompt`).
    pub approval: Vec<String>,
    /// The CLI asks a question (event `question`).
    pub question: Vec<String>,
    /// The CLI failed (event `error`, state `FAILED`).
    pub error: Vec<String>,
    /// The CLI is busy: older `?` lines are not questions while one shows.
    pub busy: Vec<String>,
}

impl CustomPatterns {
    /// `(field, patterns)` pairs, for validation and messages.
    pub fn fields(&self) -> [(&'static str, &[String]); 5] {
        [
            ("login", &self.login),
            ("approval", &self.approval),
            ("question", &self.question),
            ("error", &self.error),
            ("busy", &self.busy),
        ]
    }
}

impl CustomProviderConfig {
    /// The provider settings this entry stands for: its command and candidates, and its facts
    /// as metadata (`custom: true`, `model_arg`, `submit_keys`, …) so the lifecycle reads them
    /// like catalog facts.
    pub fn provider_config(&self) -> ProviderConfig {
        let mut metadata = Map::new();
        metadata.insert("custom".into(), Value::Bool(true));
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                metadata.insert(key.to_owned(), v);
            }
        };
        put("model_arg", self.model_arg.clone().map(Value::from));
        put("default_model", self.default_model.clone().map(Value::from));
        put("reasoning_effort_arg", self.reasoning_effort_arg.clone().map(Value::from));
        put("submit_keys", self.submit_keys.clone().map(Value::from));
        put("default_initial_prompt_mode", self.default_prompt_mode.map(|m| Value::from(m.as_str())));
        ProviderConfig {
            enabled: self.enabled,
            // A custom provider exists only because the user wrote it down.
            enabled_explicitly: self.enabled,
            command: self.command.clone(),
            binary_candidates: self.binary_candidates.clone(),
            metadata,
            env: BTreeMap::new(),
        }
    }

    /// Every problem with this entry, each naming it (`custom_providers[<i>] (`<id>`)`).
    fn problems(&self, index: usize) -> Vec<String> {
        let name = format!("custom_providers[{index}] (`{}`)", self.id);
        let mut out = Vec::new();
        let id = self.id.trim();
        if id.eq_ignore_ascii_case("auto") {
            out.push(format!("{name}: `auto` is not a provider id"));
        } else if !is_valid_provider_id(id) {
            out.push(format!(
                "{name}: id must be 1-64 lowercase letters, digits or `-`, starting with a letter or digit"
            ));
        }
        match &self.command {
            Some(cmd) if cmd.first().is_none_or(|c| c.trim().is_empty()) => {
                out.push(format!("{name}: `command` must not be empty"));
            }
            None if self.binary_candidates.iter().all(|c| c.trim().is_empty()) => {
                out.push(format!("{name}: set `command` or `binary_candidates` (nothing to run)"));
            }
            _ => {}
        }
        for (key, value) in [
            ("model_arg", &self.model_arg),
            ("reasoning_effort_arg", &self.reasoning_effort_arg),
            ("prompt_arg_flag", &self.prompt_arg_flag),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                out.push(format!("{name}: `{key}` must not be empty"));
            }
        }
        if self.submit_keys.as_ref().is_some_and(|k| k.is_empty() || k.iter().any(|k| k.trim().is_empty())) {
            out.push(format!("{name}: `submit_keys` must be a non-empty list of tmux key names"));
        }
        if let Some(mode) = self.default_prompt_mode
            && !matches!(mode, PromptMode::SendAfterLaunch | PromptMode::Arg)
        {
            out.push(format!("{name}: `default_prompt_mode` must be `send_after_launch` or `arg`, not `{mode}`"));
        }
        for (field, patterns) in self.patterns.fields() {
            for (i, p) in patterns.iter().enumerate() {
                if let Err(e) = regex::Regex::new(p) {
                    let reason = e.to_string().lines().last().unwrap_or_default().trim().to_owned();
                    out.push(format!("{name}: `patterns.{field}[{i}]` is not a valid regex `{p}`: {reason}"));
                }
            }
        }
        out
    }
}

/// A provider id: 1-64 lowercase ASCII letters, digits or `-`, not starting with `-`.
pub fn is_valid_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `[storage]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub db_path: Option<String>,
    pub artifact_root: Option<String>,
}

/// `[runtime]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    pub default: String,
    pub tmux: TmuxConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self { default: "tmux".to_owned(), tmux: TmuxConfig::default() }
    }
}

/// `[runtime.tmux]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TmuxConfig {
    /// Prefix of tmux session names.
    pub session_prefix: String,
    /// History lines captured in addition to the visible pane.
    pub capture_lines: usize,
    /// Socket name (`tmux -L`); `AGENTPOOL_TMUX_SOCKET` overrides it.
    pub socket: String,
    /// Pane width in columns.
    pub width: u16,
    /// Pane height in rows.
    pub height: u16,
    /// Upper bound on waiting for a worker's screen to settle before the first paste.
    pub settle_timeout_ms: u64,
    /// Explicit tmux binary; default is `tmux` from `PATH`.
    pub binary: Option<String>,
}

impl Default for TmuxConfig {
    fn default() -> Self {
        Self {
            session_prefix: "agentpool".to_owned(),
            capture_lines: 300,
            socket: "agentpool".to_owned(),
            width: 200,
            height: 50,
            settle_timeout_ms: 10_000,
            binary: None,
        }
    }
}

/// `[policy]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub require_explicit_provider: bool,
    pub allow_auto_routing: bool,
    pub max_parallel_sessions: u32,
    pub allow_raw_keys: bool,
    pub require_worktree_for_edits: bool,
    pub allow_shared_repo_edits: bool,
    pub min_remaining_percent: f64,
    pub usage_stale_after_seconds: i64,
    pub usage_auto_refresh_after_seconds: Option<i64>,
    pub allowed_providers: Vec<String>,
    pub denied_providers: Vec<String>,
    pub block_on_usage_statuses: Vec<UsageStatus>,
    /// Isolation given to editing roles (implementer, tester) that did not ask for one other
    /// than `read_only`; `None` keeps the request as it is.
    pub default_isolation_for_mutating_roles: Option<Isolation>,
    /// Never inline worker text in outputs (`AGENTPOOL_LOCKDOWN` also turns this on).
    pub lockdown: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            require_explicit_provider: true,
            allow_auto_routing: false,
            max_parallel_sessions: 4,
            allow_raw_keys: false,
            require_worktree_for_edits: false,
            allow_shared_repo_edits: false,
            min_remaining_percent: 10.0,
            usage_stale_after_seconds: 1800,
            usage_auto_refresh_after_seconds: None,
            allowed_providers: Vec::new(),
            denied_providers: Vec::new(),
            block_on_usage_statuses: vec![UsageStatus::LimitReached, UsageStatus::OveragePossible],
            default_isolation_for_mutating_roles: None,
            lockdown: false,
        }
    }
}

/// Whether `id` is one of the built-in fake providers (`fake-question`, …): workers for tests
/// and the smoke, not coding agents.
pub fn is_builtin_fake(id: &str) -> bool {
    id.starts_with("fake-")
}

/// Config plus the paths it resolves to.
#[derive(Debug, Clone)]
pub struct Settings {
    pub paths: Paths,
    pub config: Config,
    /// Effective tmux socket name (env over config).
    pub tmux_socket: String,
    /// The model catalog: embedded, then `model_catalog_paths` layered on top.
    pub catalog: crate::catalog::Catalog,
}

impl Settings {
    /// Loads settings from the environment and the config file.
    pub fn load() -> Result<Self> {
        let (home, config_file) = Paths::from_env()?;
        Self::load_from(home, config_file)
    }

    /// Loads settings for an explicit home and config file.
    pub fn load_from(home: PathBuf, config_file: PathBuf) -> Result<Self> {
        let config = Config::read(&config_file)?;
        let resolve = |configured: &Option<String>, default: PathBuf| match configured {
            Some(p) if !p.trim().is_empty() => absolute(&expand_tilde(Path::new(p))),
            _ => default,
        };
        let paths = Paths {
            db_path: resolve(&config.storage.db_path, home.join("agentpool.sqlite")),
            artifact_root: resolve(&config.storage.artifact_root, home.join("artifacts")),
            preferences: home.join("preferences.md"),
            config_file,
            home,
        };
        let tmux_socket = match env_setting(ENV_TMUX_SOCKET)? {
            Some(s) => s.to_string_lossy().into_owned(),
            None => config.runtime.tmux.socket.clone(),
        };
        if !is_valid_socket_name(&tmux_socket) {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!("tmux socket name `{tmux_socket}` must be 1-64 letters, digits, `-`, `_` or `.`"),
            )
            .with("socket", &tmux_socket));
        }
        let catalog = crate::catalog::Catalog::load(&config.catalog_paths(&paths.config_file))?;
        Ok(Self { paths, config, tmux_socket, catalog })
    }

    /// Provider settings for an id: the catalog's facts for it, overridden by
    /// `[providers.<id>.metadata]` (defaults when neither says anything). For a
    /// `[[custom_providers]]` id the entry takes the catalog's place; `[providers.<id>]` still
    /// overrides its command, candidates and metadata.
    pub fn provider(&self, id: &str) -> ProviderConfig {
        if let Some(custom) = self.custom_provider(id) {
            let mut base = custom.provider_config();
            if let Some(user) = self.config.providers.get(id) {
                base.enabled &= user.enabled;
                if user.command.is_some() {
                    base.command = user.command.clone();
                }
                if !user.binary_candidates.is_empty() {
                    base.binary_candidates = user.binary_candidates.clone();
                }
                base.metadata.extend(user.metadata.clone());
                base.env.extend(user.env.clone());
            }
            return base;
        }
        let mut p = self.config.providers.get(id).cloned().unwrap_or_default();
        let mut metadata = self.catalog.facts(id);
        metadata.extend(std::mem::take(&mut p.metadata));
        p.metadata = metadata;
        p
    }

    /// Whether a provider is enabled (`enabled`, and `enabled_explicitly`): what
    /// [`Settings::provider`] says, without merging the catalog's facts.
    pub fn provider_switch(&self, id: &str) -> (bool, bool) {
        let user = self.config.providers.get(id);
        match self.custom_provider(id) {
            Some(custom) => (custom.enabled && user.is_none_or(|u| u.enabled), custom.enabled),
            None => user.map_or((true, false), |u| (u.enabled, u.enabled_explicitly)),
        }
    }

    /// Whether listings (`inventory`, `usage`, `usage-summary`, `setup all`, `doctor`) and
    /// candidate filters show this provider by default: every provider except the built-in
    /// fakes, which show only when `[providers.<id>] enabled = true` asks for them (or the
    /// caller passes `--all` / names them).
    pub fn listed_by_default(&self, id: &str) -> bool {
        !is_builtin_fake(id) || self.custom_provider(id).is_some() || self.provider_switch(id).1
    }

    /// The `[[custom_providers]]` entry with this id, if any.
    pub fn custom_provider(&self, id: &str) -> Option<&CustomProviderConfig> {
        self.config.custom_providers.iter().find(|c| c.id.trim() == id)
    }
}

fn is_valid_socket_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Config {
    /// `model_catalog_paths` with `~` and `$VARS` expanded; relative paths are relative to the
    /// directory of the config file that names them.
    pub fn catalog_paths(&self, config_file: &Path) -> Vec<PathBuf> {
        let base = config_file.parent().map(Path::to_path_buf).unwrap_or_default();
        self.model_catalog_paths
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let expanded = crate::catalog::expand_path(p.trim());
                if expanded.is_absolute() { expanded } else { base.join(expanded) }
            })
            .collect()
    }

    /// Reads a config file; a missing file means defaults.
    pub fn read(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("could not read config `{}`: {e}", path.display()),
                )
                .with("path", path.display().to_string()));
            }
        };
        let config: Config = toml::from_str(&text).map_err(|e| {
            Error::new(ErrorCode::InvalidConfig, format!("invalid config `{}`: {}", path.display(), e.message()))
                .with("path", path.display().to_string())
                .with("span", e.span().map(|s| vec![s.start, s.end]))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects settings AgentPool refuses to run with.
    pub fn validate(&self) -> Result<()> {
        if self.policy.allow_auto_routing {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "`policy.allow_auto_routing` must stay false: AgentPool never picks a provider",
            ));
        }
        if self.providers.contains_key("auto") {
            return Err(Error::new(ErrorCode::InvalidConfig, "`auto` is not a provider id"));
        }
        if self.policy.max_parallel_sessions == 0 {
            return Err(Error::new(ErrorCode::InvalidConfig, "`policy.max_parallel_sessions` must be at least 1"));
        }
        // Values tmux would refuse at every spawn are refused here, once, with the key named.
        let t = &self.runtime.tmux;
        if !(20..=1000).contains(&t.width) || !(5..=500).contains(&t.height) {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "`runtime.tmux.width` must be 20-1000 and `runtime.tmux.height` 5-500 (got {}x{})",
                    t.width, t.height
                ),
            ));
        }
        let prefix_ok = !t.session_prefix.is_empty()
            && t.session_prefix.len() <= 32
            && t.session_prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !prefix_ok {
            // tmux reads `:` and `.` in a target as window and pane separators.
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "`runtime.tmux.session_prefix` must be 1-32 letters, digits, `-` or `_` (got `{}`)",
                    crate::util::tail_chars(&t.session_prefix, 40)
                ),
            ));
        }
        if t.capture_lines > 100_000 {
            return Err(Error::new(ErrorCode::InvalidConfig, "`runtime.tmux.capture_lines` must be at most 100000"));
        }
        for (id, p) in &self.providers {
            if p.command.as_ref().is_some_and(|c| c.is_empty()) {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("`providers.{id}.command` must not be empty"),
                ));
            }
            for (key, value) in &p.env {
                crate::env::check_var(key, value).map_err(|why| {
                    Error::new(ErrorCode::InvalidConfig, format!("`providers.{id}.env.{key}`: {why}"))
                })?;
            }
        }
        self.validate_custom_providers()?;
        self.validate_notify()
    }

    /// Checks every `[[notify]]` entry and reports all problems at once.
    fn validate_notify(&self) -> Result<()> {
        let problems: Vec<String> = self.notify.iter().enumerate().flat_map(|(i, n)| n.problems(i)).collect();
        match problems.first() {
            None => Ok(()),
            Some(first) => Err(Error::new(
                ErrorCode::InvalidConfig,
                if problems.len() == 1 {
                    first.clone()
                } else {
                    format!("{first} (and {} more problems)", problems.len() - 1)
                },
            )
            .with("errors", problems)),
        }
    }

    /// Checks every `[[custom_providers]]` entry (ids, commands, flags, submit keys, prompt
    /// mode, regexes) and reports all problems at once, each naming its entry.
    fn validate_custom_providers(&self) -> Result<()> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.custom_providers.iter().enumerate() {
            problems.extend(c.problems(i));
            if !seen.insert(c.id.trim()) {
                problems.push(format!("custom_providers[{i}] (`{}`): the id is defined twice", c.id));
            }
        }
        match problems.first() {
            None => Ok(()),
            Some(first) => {
                let message = if problems.len() == 1 {
                    format!("invalid custom provider: {first}")
                } else {
                    format!("invalid custom providers: {first} (and {} more)", problems.len() - 1)
                };
                Err(Error::new(ErrorCode::InvalidConfig, message).with("errors", problems))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load_from(dir.path().to_path_buf(), dir.path().join("config.toml")).unwrap();
        assert_eq!(s.config.policy.max_parallel_sessions, 4);
        assert_eq!(s.paths.db_path, dir.path().join("agentpool.sqlite"));
        assert_eq!(s.config.runtime.tmux.width, 200);
    }

    #[test]
    fn toml_tables_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "[policy]\nmax_parallel_sessions = 2\nallow_raw_keys = true\n\n[providers.codex-cli]\nmetadata = { default_model = \"gpt-5.5\" }\n",
        )
        .unwrap();
        let s = Settings::load_from(dir.path().to_path_buf(), file.clone()).unwrap();
        assert_eq!(s.config.policy.max_parallel_sessions, 2);
        assert!(s.config.policy.allow_raw_keys);
        assert_eq!(s.provider("codex-cli").metadata["default_model"], "gpt-5.5");

        std::fs::write(&file, "[policy]\nmax_paralel_sessions = 2\n").unwrap();
        let err = Settings::load_from(dir.path().to_path_buf(), file.clone()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConfig);
        assert!(err.message.contains("max_paralel_sessions"), "{}", err.message);

        std::fs::write(&file, "[policy]\nallow_auto_routing = true\n").unwrap();
        assert_eq!(Settings::load_from(dir.path().to_path_buf(), file).unwrap_err().code, ErrorCode::InvalidConfig);
    }

    #[test]
    fn tmux_values_that_cannot_work_are_refused() {
        let bad = |toml: &str| {
            let c: Config = toml::from_str(toml).unwrap();
            c.validate().unwrap_err().message
        };
        assert!(bad("[runtime.tmux]\nwidth = 0\n").contains("runtime.tmux.width"));
        assert!(bad("[runtime.tmux]\nheight = 2\n").contains("runtime.tmux.height"));
        assert!(bad("[runtime.tmux]\nsession_prefix = \"a:b\"\n").contains("session_prefix"));
        assert!(bad("[runtime.tmux]\nsession_prefix = \"\"\n").contains("session_prefix"));
        let ok: Config =
            toml::from_str("[runtime.tmux]\nwidth = 120\nheight = 40\nsession_prefix = \"ap_2\"\n").unwrap();
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn fakes_are_listed_only_when_enabled_explicitly() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let load = |toml: &str| {
            std::fs::write(&file, toml).unwrap();
            Settings::load_from(dir.path().to_path_buf(), file.clone()).unwrap()
        };
        let s = load("");
        assert!(s.listed_by_default("codex-cli"));
        assert!(!s.listed_by_default("fake-question"), "fakes are hidden by default");
        assert!(s.provider("fake-question").enabled, "…but still enabled for an explicit spawn");
        // A table without `enabled` (only metadata) is not an explicit request.
        let s = load("[providers.fake-question.metadata]\ndefault_model = \"fake\"\n");
        assert!(!s.listed_by_default("fake-question"));
        let s = load("[providers.fake-question]\nenabled = true\n[providers.fake-idle]\nenabled = false\n");
        assert!(s.listed_by_default("fake-question"));
        assert!(!s.listed_by_default("fake-idle") && !s.provider("fake-idle").enabled);
        // The switch alone says what the merged settings say, custom providers included.
        let switches = |s: &Settings| {
            for id in ["codex-cli", "fake-question", "fake-idle", "mine", "theirs", "nobody"] {
                let p = s.provider(id);
                assert_eq!(s.provider_switch(id), (p.enabled, p.enabled_explicitly), "{id}");
            }
        };
        switches(&s);
        switches(&load(concat!(
            "[providers.codex-cli]\nenabled = false\n[providers.mine]\nenabled = false\n",
            "[[custom_providers]]\nid = \"mine\"\ncommand = [\"x\"]\n",
            "[[custom_providers]]\nid = \"theirs\"\ncommand = [\"x\"]\nenabled = false\n",
        )));
        // The flag never reaches `config show`.
        let shown = serde_json::to_value(&s.config).unwrap();
        assert_eq!(
            shown["providers"]["fake-question"],
            serde_json::json!({"enabled": true, "command": null, "binary_candidates": [], "metadata": {}})
        );
    }
}
