//! What is installed: provider descriptors, runtimes and model catalogs (`inventory`, `models`).

use serde_json::Value;

use crate::api::{CatalogValidation, Inventory, ModelRow, Models, RuntimeRow};
use crate::error::Result;
use crate::model::{ProviderDescriptor, RuntimeKind};
use crate::pool::Pool;
use crate::profile::ProviderProfile;
use crate::provider::{self, Provider};

fn describe(
    p: &dyn Provider,
    profile: &ProviderProfile,
    d: provider::Detected,
    with_usage: bool,
) -> ProviderDescriptor {
    ProviderDescriptor {
        id: p.id().to_owned(),
        display_name: p.display_name().to_owned(),
        vendor: p.vendor().to_owned(),
        harness: p.harness().to_owned(),
        installed: d.installed,
        binary_path: d.binary_path,
        version: d.version,
        auth: d.auth,
        models: p.models(),
        runtimes: if d.installed { vec![RuntimeKind::Tmux] } else { Vec::new() },
        capabilities: if d.installed { provider::capabilities_of(p) } else { Vec::new() },
        usage: if with_usage { p.inventory_usage() } else { None },
        accounts: Vec::new(),
        warnings: d.warnings,
        metadata: profile.metadata.clone(),
    }
}

impl Pool {
    /// Inventory of every enabled provider (detection runs concurrently).
    pub async fn describe_providers(&self, with_usage: bool) -> Vec<ProviderDescriptor> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, p) in self.registry.ordered().into_iter().enumerate() {
            let ctx = self.probe_context(p.as_ref());
            let profile = self.profile(p.as_ref());
            tasks.spawn(async move {
                let d = p.discover(&ctx).await;
                (i, describe(p.as_ref(), &profile, d, with_usage))
            });
        }
        let mut rows: Vec<(usize, ProviderDescriptor)> = tasks.join_all().await;
        rows.sort_by_key(|(i, _)| *i);
        rows.into_iter().map(|(_, d)| d).collect()
    }

    /// Runtimes and whether they are available.
    pub fn runtimes(&self) -> Vec<RuntimeRow> {
        vec![RuntimeRow {
            kind: RuntimeKind::Tmux,
            default: self.settings.config.runtime.default == "tmux",
            enabled: true,
            available: self.runtime.binary_path().is_some(),
            path: self.runtime.binary_path(),
            socket: self.settings.tmux_socket.clone(),
        }]
    }

    /// `inventory` / `get_inventory`: reconciles first, so what it reports is current. Without
    /// `all`, the built-in fakes are left out unless configured.
    pub async fn inventory(&self, with_usage: bool, all: bool) -> Result<Inventory> {
        self.reconcile().await?;
        let mut providers = self.describe_providers(with_usage).await;
        providers.retain(|p| all || self.settings.listed_by_default(&p.id));
        Ok(Inventory {
            providers,
            runtimes: self.runtimes(),
            preferences: self.preferences_ref(),
            policy: self.settings.config.policy.clone(),
            checked_at: crate::util::now(),
        })
    }
}

impl Pool {
    /// Model rows per provider (`models [--provider P]`): catalog facts with their defaults
    /// spelled out, whether the provider is installed, and its models. An unknown provider is
    /// `PROVIDER_NOT_FOUND` listing the known ones.
    pub async fn models(&self, provider_id: Option<&str>) -> Result<Models> {
        let wanted = provider_id.map(str::trim).filter(|p| !p.is_empty());
        if let Some(id) = wanted {
            self.registry().get(id)?;
        }
        let described = self.describe_providers(false).await;
        let settings = self.settings();
        let empty = serde_json::Map::new();
        let providers = described
            .into_iter()
            .filter(|d| wanted.is_none_or(|w| w == d.id))
            .map(|d| {
                let profile = self.registry.get(&d.id).map(|p| self.profile(p.as_ref())).ok();
                let m = profile.as_ref().map(|p| &p.config.metadata).unwrap_or(&empty);
                let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
                let list = |k: &str| m.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
                let models = if settings.catalog.has(&d.id) { settings.catalog.models(&d.id) } else { d.models };
                ModelRow {
                    provider_id: d.id,
                    installed: d.installed,
                    default_model: text("default_model"),
                    smoke_model: text("smoke_model").or_else(|| text("default_model")),
                    model_arg: text("model_arg"),
                    model_selection: text("model_selection").unwrap_or_else(|| "model_arg".to_owned()),
                    default_initial_prompt_mode: text("default_initial_prompt_mode")
                        .unwrap_or_else(|| "send_after_launch".to_owned()),
                    reasoning_effort_arg: text("reasoning_effort_arg"),
                    reasoning_effort_config_key: text("reasoning_effort_config_key"),
                    service_tier_config_key: text("service_tier_config_key"),
                    read_only_mode_arg: text("read_only_mode_arg"),
                    submit_keys: list("submit_keys"),
                    catalog_completeness: text("catalog_completeness"),
                    quirks: list("quirks"),
                    models,
                }
            })
            .collect();
        Ok(Models { providers, catalog_sources: settings.catalog.sources.clone(), preferences: self.preferences_ref() })
    }

    /// `models validate [--path P]`: the embedded catalog, or one file, checked entry by entry.
    pub fn validate_catalog(&self, path: Option<&str>) -> CatalogValidation {
        let known = self.registry().ids();
        let (shown, loaded) = match path.map(str::trim).filter(|p| !p.is_empty()) {
            None => (
                crate::catalog::EMBEDDED_NAME.to_owned(),
                serde_json::from_str::<Value>(crate::catalog::EMBEDDED_JSON).map_err(|e| e.to_string()),
            ),
            Some(p) => {
                let expanded = crate::catalog::expand_path(p);
                (expanded.display().to_string(), crate::catalog::read_file(&expanded).map_err(|e| e.message))
            }
        };
        let report = match loaded {
            Ok(v) => crate::catalog::validate(&v, &known),
            Err(e) => crate::catalog::Validation { errors: vec![e], warnings: Vec::new() },
        };
        CatalogValidation {
            ok: report.errors.is_empty(),
            path: shown,
            errors: report.errors,
            warnings: report.warnings,
        }
    }
}
