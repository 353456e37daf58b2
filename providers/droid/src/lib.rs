//! The `droid-cli` provider: Factory's Droid CLI (`droid`).
//!
//! Launch: `droid [--reasoning-effort E] [--settings <file>]`. Interactive droid has no model
//! flag, so the model is pinned through a settings file private to AgentPool:
//! `$AGENTPOOL_HOME/runtime-settings/droid-<model>.json` holding
//! `{"sessionDefaultSettings": {"model": "<model>"}}`, written when the plan is built. The
//! user's own `~/.factory/settings.json` is never touched. Read-only isolation is a prompt rule.

use std::sync::{Arc, LazyLock};

use agentpool_sdk::error::{Error, Result};
use agentpool_sdk::launch;
use agentpool_sdk::probe;
use agentpool_sdk::provider::{
    Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo, ScreenRules, StartupSpec,
};
use async_trait::async_trait;
use serde_json::json;

/// The provider id.
pub const ID: &str = "droid-cli";

/// Factory Droid CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct Droid;

/// Writes (atomically) the settings file that pins `model`, and returns its path.
pub fn write_model_settings(home: &std::path::Path, model: &str) -> Result<std::path::PathBuf> {
    let dir = home.join("runtime-settings");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format_args!("could not create `{}`", dir.display()), &e))?;
    let path = dir.join(format!("droid-{}.json", launch::file_safe(model)));
    let body =
        serde_json::to_string_pretty(&json!({"sessionDefaultSettings": {"model": model}})).unwrap_or_default() + "\n";
    agentpool_sdk::util::write_atomic(&path, body.as_bytes())?;
    Ok(path)
}

#[async_trait]
impl Provider for Droid {
    fn info(&self) -> &ProviderInfo {
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| {
            ProviderInfo::new(ID, "Droid CLI", "Factory")
                .startup(StartupSpec { ready_markers: Vec::new(), quiet_ms: 800 })
        });
        &INFO
    }

    async fn discover(&self, ctx: &ProbeContext) -> Detected {
        probe::detect_cli(ctx, &["droid"]).await
    }

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {
        let mut argv = launch::base_command(ctx)?;
        argv.extend(launch::effort_args(ctx));
        if let Some(model) = ctx.model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            let path = write_model_settings(&ctx.home, model)?;
            argv.push("--settings".into());
            argv.push(path.display().to_string());
        }
        Ok(LaunchPlan { argv, env: Vec::new() })
    }

    fn screen_rules(&self) -> ScreenRules {
        ScreenRules {
            login_patterns: vec![
                r"(?i)(log|sign) in to factory".into(),
                r"(?i)not (logged|signed) in to factory".into(),
            ],
            login_command: Some("droid, then /login".into()),
            approval_patterns: Vec::new(),
            question_patterns: Vec::new(),
            busy_patterns: vec![r"(?i)\besc to (stop|interrupt)\b".into()],
            volatile_patterns: Vec::new(),
            error_patterns: Vec::new(),
        }
    }
}

agentpool_sdk::register_provider!(ID, 15, || Arc::new(Droid));

/// Referenced by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_plans() {
        let home = tempfile::tempdir().unwrap();
        insta::assert_json_snapshot!(launch::plan_matrix(&Droid, "/usr/local/bin/droid", home.path()));
        let written = std::fs::read_to_string(home.path().join("runtime-settings/droid-glm-5.1.json")).unwrap();
        assert_eq!(written, "{\n  \"sessionDefaultSettings\": {\n    \"model\": \"glm-5.1\"\n  }\n}\n");
    }

    #[test]
    fn model_names_cannot_escape_the_settings_dir() {
        let home = tempfile::tempdir().unwrap();
        let p = write_model_settings(home.path(), "../../etc/passwd").unwrap();
        assert_eq!(p.parent(), Some(home.path().join("runtime-settings").as_path()));
    }

    #[test]
    fn login_screen() {
        let rules = agentpool_sdk::detect::ExtraRules::compile(&Droid.screen_rules());
        assert!(rules.login_required("Welcome to Droid\n\nPlease log in to Factory to continue.\nOpening browser..."));
        assert!(!rules.login_required("> Try \"fix the failing test\"\n  Auto (Off)"));
    }
}
