//! The registry of enabled providers, built from link-time registrations and the config.
//!
//! The `Provider` trait and its registration live in `agentpool-sdk` and are re-exported here
//! at their old paths.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use agentpool_sdk::provider::*;

use crate::config::Settings;
use crate::error::{Error, ErrorCode, Result};

/// The enabled providers for this configuration.
#[derive(Clone)]
pub struct Registry {
    providers: BTreeMap<String, (u32, Arc<dyn Provider>)>,
}

impl Registry {
    /// Builds the registry from link-time registrations, then the `[[custom_providers]]` of
    /// the config, dropping providers disabled in config. Two registrations with one id are a
    /// hard error; so is a custom provider reusing a registered id, unless the entry sets
    /// `replace_builtin = true` (then it replaces the linked provider).
    pub fn new(settings: &Settings) -> Result<Self> {
        let mut providers = BTreeMap::new();
        let mut registered = std::collections::BTreeSet::new();
        for reg in registrations() {
            let provider = (reg.create)();
            if provider.id() != reg.id {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("provider registered as `{}` reports id `{}`", reg.id, provider.id()),
                ));
            }
            if providers.contains_key(reg.id) {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("provider id `{}` is registered twice", reg.id),
                )
                .with("provider_id", reg.id));
            }
            registered.insert(reg.id);
            if settings.provider_switch(reg.id).0 {
                providers.insert(reg.id.to_owned(), (reg.order, provider));
            }
        }
        for (i, entry) in settings.config.custom_providers.iter().enumerate() {
            let id = entry.id.trim();
            let name = format!("custom_providers[{i}] (`{id}`)");
            match (registered.contains(id), entry.replace_builtin) {
                (true, false) => {
                    return Err(Error::new(
                        ErrorCode::InvalidConfig,
                        format!("{name}: `{id}` is already a provider; rename the entry, or set `replace_builtin = true` to replace it"),
                    )
                    .with("provider_id", id));
                }
                (false, true) => {
                    return Err(Error::new(
                        ErrorCode::InvalidConfig,
                        format!("{name}: `replace_builtin = true` but no provider `{id}` is linked into this binary"),
                    )
                    .with("provider_id", id)
                    .with("known_providers", registered.iter().collect::<Vec<_>>()));
                }
                (true, true) => {
                    providers.remove(id);
                }
                (false, false) => {}
            }
            if settings.provider_switch(id).0 {
                let order = crate::custom::CUSTOM_ORDER_BASE
                    + u32::try_from(i).unwrap_or(u32::MAX - crate::custom::CUSTOM_ORDER_BASE);
                providers.insert(id.to_owned(), (order, crate::custom::CustomProvider::shared(entry.clone())));
            }
        }
        Ok(Self { providers })
    }

    /// Looks a provider up; `auto` is refused and unknown ids list the known ones.
    pub fn get(&self, id: &str) -> Result<Arc<dyn Provider>> {
        if id.trim().eq_ignore_ascii_case("auto") {
            return Err(Error::new(
                ErrorCode::PolicyBlocked,
                "AgentPool requires an explicit provider; `auto` routing is disabled",
            )
            .with("provider_id", id)
            .with("policy", "require_explicit_provider"));
        }
        self.providers.get(id).map(|(_, p)| p.clone()).ok_or_else(|| {
            Error::new(ErrorCode::ProviderNotFound, format!("provider `{id}` is not configured"))
                .with("provider_id", id)
                .with("known_providers", self.ids())
        })
    }

    /// Enabled provider ids in listing order.
    pub fn ids(&self) -> Vec<String> {
        self.ordered().into_iter().map(|p| p.id().to_owned()).collect()
    }

    /// Enabled providers in listing order.
    pub fn ordered(&self) -> Vec<Arc<dyn Provider>> {
        let mut all: Vec<_> = self.providers.values().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id().cmp(b.1.id())));
        all.into_iter().map(|(_, p)| p.clone()).collect()
    }
}
