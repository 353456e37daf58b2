//! The generic command-based provider behind `[[custom_providers]]`: a CLI described in config
//! (command, model flag, submit keys, prompt mode, screen patterns) instead of in a Rust crate.
//!
//! It lives in core because it is driven by configuration, not linked in: [`Registry::new`]
//! adds one per enabled entry after the link-time registrations. An entry whose id is already
//! registered is refused unless it sets `replace_builtin = true`, in which case it replaces the
//! linked provider (see `docs/configuration.md`).
//!
//! [`Registry::new`]: crate::provider::Registry::new

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Map;

use crate::config::CustomProviderConfig;
use crate::error::Result;
use crate::launch;
use crate::model::{Capability, Confidence, ModelDescriptor, ModelSource, PromptMode};
use crate::probe;
use agentpool_sdk::provider::{Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo, ScreenRules};

/// Listing order of custom providers: after every linked one, in config order.
pub const CUSTOM_ORDER_BASE: u32 = 10_000;

/// A provider defined by a `[[custom_providers]]` entry.
#[derive(Debug, Clone)]
pub struct CustomProvider {
    entry: CustomProviderConfig,
    info: ProviderInfo,
}

impl CustomProvider {
    /// The provider for a (validated) config entry.
    pub fn new(entry: CustomProviderConfig) -> Self {
        let id = entry.id.trim().to_owned();
        let display_name = entry.display_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.clone());
        let vendor = entry.vendor.clone().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "custom".to_owned());
        let entry = CustomProviderConfig { id: id.clone(), ..entry };
        let models = entry
            .models
            .iter()
            .filter(|m| !m.trim().is_empty())
            .map(|m| ModelDescriptor {
                id: m.trim().to_owned(),
                display_name: None,
                source: ModelSource::Config,
                confidence: Confidence::UserConfigured,
                aliases: Vec::new(),
                metadata: Map::new(),
            })
            .collect();
        let mut info = ProviderInfo::new(id, display_name, vendor)
            .capabilities(entry.model_arg.is_some().then_some(Capability::SupportsModelArg))
            .default_prompt_mode(match entry.default_prompt_mode {
                Some(PromptMode::Arg) => PromptMode::Arg,
                _ => PromptMode::SendAfterLaunch,
            })
            .models(models)
            .metadata(entry.provider_config().metadata);
        if let Some(keys) = entry.submit_keys.clone().filter(|k| !k.is_empty()) {
            info = info.submit_keys(keys);
        }
        if let Some(flag) = entry.prompt_arg_flag.clone().filter(|f| !f.trim().is_empty()) {
            info = info.prompt_arg_flag(flag);
        }
        Self { entry, info }
    }

    /// Shared, as the registry holds it.
    pub fn shared(entry: CustomProviderConfig) -> Arc<dyn Provider> {
        Arc::new(Self::new(entry))
    }
}

#[async_trait]
impl Provider for CustomProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    /// `command[0]` (or the first binary candidate found) must be an executable. The version
    /// is probed with `--version` only when the CLI is started by a single-word command: with
    /// `command = ["/bin/sh", "agent.sh"]` the probe would report the interpreter's version.
    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        let single_word = ctx.config.command.as_ref().is_none_or(|c| c.len() == 1);
        if single_word {
            return probe::detect_cli(ctx, &[]).await;
        }
        match probe::resolve_binary(&ctx.config, &[]) {
            Some(path) => Detected {
                installed: true,
                binary_path: Some(path.display().to_string()),
                version: None,
                auth: probe::auth_unknown(),
                warnings: Vec::new(),
            },
            None => probe::detect_cli(ctx, &[]).await,
        }
    }

    /// `command` (or the binary found), then `<model_arg> <model>` only when the entry names
    /// a model flag, then `<reasoning_effort_arg> <effort>` when both are set.
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        if launch::fact(ctx, "model_arg").is_some() {
            argv.extend(launch::model_args(ctx));
        }
        argv.extend(launch::effort_args(ctx));
        Ok(LaunchPlan { argv, env: Vec::new() })
    }

    fn screen_rules(&self) -> ScreenRules {
        let p = &self.entry.patterns;
        ScreenRules {
            login_patterns: p.login.clone(),
            login_command: p.login_command.clone().filter(|c| !c.trim().is_empty()),
            approval_patterns: p.approval.clone(),
            question_patterns: p.question.clone(),
            busy_patterns: p.busy.clone(),
            volatile_patterns: Vec::new(),
            error_patterns: p.error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Settings};
    use crate::detect::{ExtraRules, detect_with};
    use crate::error::ErrorCode;
    use crate::model::{Isolation, ObserveEvent, Role};

    fn config(toml_text: &str) -> crate::error::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, toml_text).unwrap();
        Config::read(&file)
    }

    const ENTRY: &str = r#"
[[custom_providers]]
id = "my-agent"
display_name = "My Agent"
command = ["/opt/my-agent/bin/agent", "--tui"]
model_arg = "-m"
default_model = "small"
models = ["small", "large"]
reasoning_effort_arg = "--think"
submit_keys = ["C-m"]
default_prompt_mode = "arg"
prompt_arg_flag = "--prompt"

[custom_providers.patterns]
login = ['(?i)please sign in']
login_command = "my-agent login"
approval = ['(?i)run this command\?']
question = ['(?m)^QUESTION: ']
error = ['(?i)fatal: ']
busy = ['(?i)thinking']
"#;

    fn ctx(config: crate::config::ProviderConfig, model: Option<&str>, effort: Option<&str>) -> LaunchContext {
        LaunchContext {
            session_id: "ap_000000000001".into(),
            binary_path: Some("/opt/my-agent/bin/agent".into()),
            self_exe: "/usr/local/bin/agentpool".into(),
            config,
            model: model.map(str::to_owned),
            reasoning_effort: effort.map(str::to_owned),
            service_tier: Some("priority".into()),
            isolation: Isolation::ReadOnly,
            role: Role::Explorer,
            workdir: "/work/repo".into(),
            prompt_mode: PromptMode::Arg,
            home: "/tmp/home".into(),
            signal_log: "/tmp/home/artifacts/ap_000000000001/signals.jsonl".into(),
            resume_session: None,
        }
    }

    #[test]
    fn an_entry_becomes_a_provider() {
        let cfg = config(ENTRY).unwrap();
        let entry = cfg.custom_providers[0].clone();
        let p = CustomProvider::new(entry.clone());
        let p: &dyn Provider = &p;
        assert_eq!((p.id(), p.display_name(), p.vendor()), ("my-agent", "My Agent", "custom"));
        assert_eq!(p.extra_capabilities(), vec![Capability::SupportsModelArg]);
        assert_eq!(p.models().iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["small", "large"]);
        assert_eq!(p.default_prompt_mode(), PromptMode::Arg);
        assert_eq!(p.submit_keys(), Some(vec!["C-m".to_owned()]));
        assert_eq!(p.prompt_arg_flag().as_deref(), Some("--prompt"));
        let meta = p.metadata();
        assert_eq!(meta["custom"], true);
        assert_eq!(meta["default_initial_prompt_mode"], "arg");
        let plan = p.launch(&ctx(entry.provider_config(), Some("large"), Some("high"))).unwrap();
        assert_eq!(plan.argv, ["/opt/my-agent/bin/agent", "--tui", "-m", "large", "--think", "high"]);
        let bare = p.launch(&ctx(entry.provider_config(), None, None)).unwrap();
        assert_eq!(bare.argv, ["/opt/my-agent/bin/agent", "--tui"]);
    }

    #[test]
    fn without_a_model_flag_no_model_is_passed() {
        let cfg = config("[[custom_providers]]\nid = \"plain\"\ncommand = [\"/bin/sh\", \"-c\", \"x\"]\n").unwrap();
        let entry = cfg.custom_providers[0].clone();
        let p = CustomProvider::new(entry.clone());
        let p: &dyn Provider = &p;
        assert!(p.extra_capabilities().is_empty());
        assert_eq!(p.default_prompt_mode(), PromptMode::SendAfterLaunch);
        assert_eq!(p.submit_keys(), None);
        assert_eq!((p.display_name(), p.vendor()), ("plain", "custom"));
        let plan = p.launch(&ctx(entry.provider_config(), Some("m1"), None)).unwrap();
        assert_eq!(plan.argv, ["/bin/sh", "-c", "x"]);
    }

    #[test]
    fn patterns_drive_detection() {
        let cfg = config(ENTRY).unwrap();
        let p = CustomProvider::new(cfg.custom_providers[0].clone());
        let rules = ExtraRules::of(&p);
        let echo = crate::detect::EchoFilter::new();
        assert!(rules.login_required("My Agent 1.0\nPlease sign in to continue"));
        assert_eq!(rules.login_command.as_deref(), Some("my-agent login"));
        assert_eq!(
            detect_with("working\nRun this command?\n", None, &echo, &rules).event,
            ObserveEvent::ApprovalPrompt
        );
        assert_eq!(detect_with("working\nQUESTION: which file\n", None, &echo, &rules).event, ObserveEvent::Question);
        let failed = detect_with("working\nfatal: out of tokens\n", None, &echo, &rules);
        assert_eq!(failed.event, ObserveEvent::Error);
        // Without the provider's rules none of these screens means anything.
        let plain = ExtraRules::default();
        assert_eq!(detect_with("working\nfatal: out of tokens\n", None, &echo, &plain).event, ObserveEvent::None);
        assert_eq!(detect_with("working\nQUESTION: which file\n", None, &echo, &plain).event, ObserveEvent::None);
    }

    #[test]
    fn bad_entries_are_invalid_config_naming_the_entry() {
        let cases: &[(&str, &str)] = &[
            ("id = \"auto\"\ncommand = [\"x\"]", "custom_providers[0] (`auto`): `auto` is not a provider id"),
            ("id = \"Bad Id\"\ncommand = [\"x\"]", "custom_providers[0] (`Bad Id`): id must be"),
            ("id = \"e\"\ncommand = []", "custom_providers[0] (`e`): `command` must not be empty"),
            ("id = \"e\"\ncommand = [\" \"]", "`command` must not be empty"),
            ("id = \"e\"", "custom_providers[0] (`e`): set `command` or `binary_candidates`"),
            ("id = \"e\"\ncommand = [\"x\"]\nsubmit_keys = []", "`submit_keys` must be a non-empty list"),
            ("id = \"e\"\ncommand = [\"x\"]\ndefault_prompt_mode = \"stdin\"", "`default_prompt_mode` must be"),
            ("id = \"e\"\ncommand = [\"x\"]\nmodel_arg = \"\"", "`model_arg` must not be empty"),
            (
                "id = \"rx\"\ncommand = [\"x\"]\n[custom_providers.patterns]\nerror = ['ok', '(unclosed']",
                "custom_providers[0] (`rx`): `patterns.error[1]` is not a valid regex `(unclosed`",
            ),
        ];
        for (body, expected) in cases {
            let err = config(&format!("[[custom_providers]]\n{body}\n")).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidConfig, "{body}");
            assert!(err.message.contains(expected), "{body}: {}", err.message);
        }
        let twice = "[[custom_providers]]\nid = \"a\"\ncommand = [\"x\"]\n[[custom_providers]]\nid = \"a\"\ncommand = [\"y\"]\n";
        let err = config(twice).unwrap_err();
        assert!(err.message.contains("custom_providers[1] (`a`): the id is defined twice"), "{}", err.message);
        let unknown = config("[[custom_providers]]\nid = \"a\"\ncommand = [\"x\"]\nmodel_flag = \"-m\"\n").unwrap_err();
        assert!(unknown.message.contains("model_flag"), "{}", unknown.message);
        // Every problem is listed in the details.
        let many = config("[[custom_providers]]\nid = \"auto\"\ncommand = []\n").unwrap_err();
        assert_eq!(many.details["errors"].as_array().map(Vec::len), Some(2), "{:?}", many.details);
    }

    #[test]
    fn settings_read_custom_facts_and_user_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let text = format!("{ENTRY}\n[providers.my-agent.metadata]\ndefault_model = \"large\"\n");
        std::fs::write(&file, text).unwrap();
        let s = Settings::load_from(dir.path().to_path_buf(), file).unwrap();
        let pc = s.provider("my-agent");
        assert_eq!(pc.command.as_deref().map(<[String]>::len), Some(2));
        assert_eq!(pc.metadata["default_model"], "large");
        assert_eq!(pc.metadata["submit_keys"], serde_json::json!(["C-m"]));
        assert_eq!(pc.metadata["custom"], true);
        assert!(s.custom_provider("nope").is_none());
    }
}
