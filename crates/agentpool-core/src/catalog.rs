//! The model catalog as front ends list and validate it. The catalog itself (embedded file,
//! layering, validation) lives in `agentpool-sdk` and is re-exported here.

use serde_json::{Value, json};

pub use agentpool_sdk::catalog::*;

use crate::error::Result;

impl crate::manager::Manager {
    /// Model rows per provider (`models [--provider P]`): catalog facts with their defaults
    /// spelled out, whether the provider is installed, and its models. An unknown provider is
    /// `PROVIDER_NOT_FOUND` listing the known ones.
    pub async fn models(&self, provider_id: Option<&str>) -> Result<Value> {
        let wanted = provider_id.map(str::trim).filter(|p| !p.is_empty());
        if let Some(id) = wanted {
            self.registry().get(id)?;
        }
        let described = self.describe_providers(false).await;
        let rows: Vec<Value> = described
            .into_iter()
            .filter(|d| wanted.is_none_or(|w| w == d.id))
            .map(|d| {
                let config = self.settings().provider(&d.id);
                let m = &config.metadata;
                let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
                let list = |k: &str| m.get(k).cloned().filter(Value::is_array).unwrap_or_else(|| json!([]));
                let models = if self.settings().catalog.has(&d.id) { self.settings().catalog.models(&d.id) } else { d.models.clone() };
                json!({
                    "provider_id": d.id,
                    "installed": d.installed,
                    "default_model": text("default_model"),
                    "smoke_model": text("smoke_model").or_else(|| text("default_model")),
                    "model_arg": text("model_arg"),
                    "model_selection": text("model_selection").unwrap_or_else(|| "model_arg".to_owned()),
                    "default_initial_prompt_mode": text("default_initial_prompt_mode").unwrap_or_else(|| "send_after_launch".to_owned()),
                    "reasoning_effort_arg": text("reasoning_effort_arg"),
                    "reasoning_effort_config_key": text("reasoning_effort_config_key"),
                    "service_tier_config_key": text("service_tier_config_key"),
                    "read_only_mode_arg": text("read_only_mode_arg"),
                    "submit_keys": list("submit_keys"),
                    "catalog_completeness": text("catalog_completeness"),
                    "quirks": list("quirks"),
                    "models": models,
                })
            })
            .collect();
        Ok(
            json!({"providers": rows, "catalog_sources": self.settings().catalog.sources, "preferences": self.preferences_ref()}),
        )
    }

    /// `models validate [--path P]`: the embedded catalog, or one file, checked entry by entry.
    pub fn validate_catalog(&self, path: Option<&str>) -> Value {
        let known = self.registry().ids();
        let (shown, loaded) = match path.map(str::trim).filter(|p| !p.is_empty()) {
            None => (EMBEDDED_NAME.to_owned(), serde_json::from_str::<Value>(EMBEDDED_JSON).map_err(|e| e.to_string())),
            Some(p) => {
                let expanded = expand_path(p);
                (expanded.display().to_string(), read_file(&expanded).map_err(|e| e.message))
            }
        };
        let report = match loaded {
            Ok(v) => validate(&v, &known),
            Err(e) => Validation { errors: vec![e], warnings: Vec::new() },
        };
        json!({"ok": report.errors.is_empty(), "path": shown, "errors": report.errors, "warnings": report.warnings})
    }
}
