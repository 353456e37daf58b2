//! One provider's facts, merged once: what its crate says (`Provider::info`), what the model
//! catalog says about it, and what the user's `[providers.<id>]` (or `[[custom_providers]]`)
//! says, each layer over the one before. Every step of the lifecycle reads a provider's
//! settings here instead of merging the layers itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::config::{ProviderConfig, Settings};
use crate::model::PromptMode;
use crate::provider::Provider;

/// A provider's merged facts (see the module docs).
#[derive(Debug, Clone)]
pub struct ProviderProfile {
    /// The user's settings, with the catalog's facts under their metadata (what
    /// [`Settings::provider`] gives).
    pub config: ProviderConfig,
    /// The crate's metadata with the catalog's and the user's over it.
    pub metadata: Map<String, Value>,
    /// The keys that submit a message: the configured or catalog `submit_keys`, else the
    /// crate's; `None` is the default paste and `Enter`.
    pub submit_keys: Option<Vec<String>>,
    /// How a task reaches a new worker when the request leaves it to the provider.
    pub default_prompt_mode: PromptMode,
}

impl ProviderProfile {
    /// Merges `provider`'s layers under `settings`.
    pub fn merge(provider: &dyn Provider, settings: &Settings) -> Self {
        let config = settings.provider(provider.id());
        let mut metadata = provider.metadata();
        metadata.extend(config.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        let submit_keys = config
            .metadata
            .get("submit_keys")
            .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
            .or_else(|| provider.submit_keys())
            .filter(|k| !k.is_empty());
        let default_prompt_mode = match config.metadata.get("default_initial_prompt_mode").and_then(Value::as_str) {
            Some("arg") => PromptMode::Arg,
            Some("send_after_launch") => PromptMode::SendAfterLaunch,
            _ => provider.default_prompt_mode(),
        };
        Self { config, metadata, submit_keys, default_prompt_mode }
    }

    /// A text fact (`default_model`, …), any layer.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    /// A yes/no fact (`menu_digit_keys`, `accept_startup_trust`, …), any layer.
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.metadata.get(key).and_then(Value::as_bool)
    }
}

/// Profiles merged so far, per provider id: each is merged once per [`crate::Pool`].
#[derive(Default)]
pub(crate) struct Profiles(Mutex<HashMap<String, Arc<ProviderProfile>>>);

impl Profiles {
    pub(crate) fn get(&self, provider: &dyn Provider, settings: &Settings) -> Arc<ProviderProfile> {
        let mut merged = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        merged
            .entry(provider.id().to_owned())
            .or_insert_with(|| Arc::new(ProviderProfile::merge(provider, settings)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::error::Result;
    use crate::provider::{Detected, LaunchContext, LaunchPlan, ProbeContext, ProviderInfo};

    /// A crate for `codex-cli` (so the catalog has facts for it) with facts of its own.
    struct Crate;

    #[async_trait]
    impl Provider for Crate {
        fn info(&self) -> &ProviderInfo {
            static INFO: std::sync::LazyLock<ProviderInfo> = std::sync::LazyLock::new(|| {
                let meta = json!({"default_model": "crate-model", "crate_only": "yes", "menu_digit_keys": false});
                ProviderInfo::new("codex-cli", "Codex", "Test")
                    .submit_keys(["Escape", "Enter"])
                    .default_prompt_mode(PromptMode::Arg)
                    .metadata(meta.as_object().cloned().unwrap_or_default())
            });
            &INFO
        }
        async fn discover(&self, ctx: &ProbeContext) -> Detected {
            agentpool_sdk::probe::detect_cli(ctx, &[]).await
        }
        fn launch(&self, _ctx: &LaunchContext) -> Result<LaunchPlan> {
            Ok(LaunchPlan { argv: vec!["true".into()], env: Vec::new() })
        }
    }

    fn settings(toml: &str) -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, toml).unwrap();
        let s = Settings::load_from(dir.path().to_path_buf(), file).unwrap();
        (dir, s)
    }

    #[test]
    fn the_user_outranks_the_catalog_which_outranks_the_crate() {
        let (_d, s) = settings("");
        let plain = ProviderProfile::merge(&Crate, &s);
        // The catalog names codex's default model over the crate's; the crate's other facts stay.
        let catalog_model = s.provider("codex-cli").metadata["default_model"].clone();
        assert!(catalog_model.is_string());
        assert_eq!(plain.text("default_model"), catalog_model.as_str());
        assert_eq!(plain.text("crate_only"), Some("yes"));
        assert_eq!(plain.flag("menu_digit_keys"), Some(false));
        let catalog_keys: Option<Vec<String>> =
            s.provider("codex-cli").metadata.get("submit_keys").map(|k| serde_json::from_value(k.clone()).unwrap());
        assert_eq!(plain.submit_keys, catalog_keys.or_else(|| Some(vec!["Escape".into(), "Enter".into()])));
        let catalog_mode = s.provider("codex-cli").metadata.get("default_initial_prompt_mode").cloned();
        let expected = match catalog_mode.as_ref().and_then(serde_json::Value::as_str) {
            Some("arg") => PromptMode::Arg,
            Some("send_after_launch") => PromptMode::SendAfterLaunch,
            _ => PromptMode::Arg,
        };
        assert_eq!(plain.default_prompt_mode, expected, "the catalog's mode, else the crate's");

        let (_d, s) = settings(concat!(
            "[providers.codex-cli.metadata]\n",
            "default_model = \"mine\"\nsubmit_keys = [\"Tab\", \"Enter\"]\nmenu_digit_keys = true\n",
            "default_initial_prompt_mode = \"send_after_launch\"\n",
        ));
        let mine = ProviderProfile::merge(&Crate, &s);
        assert_eq!(mine.text("default_model"), Some("mine"));
        assert_eq!(mine.submit_keys, Some(vec!["Tab".to_owned(), "Enter".to_owned()]));
        assert_eq!(mine.flag("menu_digit_keys"), Some(true));
        assert_eq!(mine.default_prompt_mode, PromptMode::SendAfterLaunch);
        // An empty list is no keys: the default paste and Enter.
        let (_d, s) = settings("[providers.codex-cli.metadata]\nsubmit_keys = []\n");
        assert_eq!(ProviderProfile::merge(&Crate, &s).submit_keys, None);
    }

    #[test]
    fn a_profile_is_merged_once_per_pool() {
        let (_d, s) = settings("");
        let profiles = Profiles::default();
        assert!(Arc::ptr_eq(&profiles.get(&Crate, &s), &profiles.get(&Crate, &s)));
    }
}
