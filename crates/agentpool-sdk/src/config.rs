//! What the user's config file says about one provider (`[providers.<id>]`), as providers
//! receive it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Expands a leading `~/` using `$HOME`.
pub fn expand_tilde(path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    path.to_path_buf()
}

/// `[providers.<id>]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "ProviderConfigFile")]
pub struct ProviderConfig {
    pub enabled: bool,
    /// The file says `enabled = true` itself (not just the default). Only this makes a
    /// built-in fake provider show up in listings and candidate filters without `--all`.
    #[serde(skip)]
    pub enabled_explicitly: bool,
    /// Explicit launch command (argv); replaces binary detection.
    pub command: Option<Vec<String>>,
    /// Names or paths tried in order to find the binary.
    pub binary_candidates: Vec<String>,
    /// Free-form provider metadata (`default_model`, `submit_keys`, …).
    pub metadata: Map<String, Value>,
    /// Extra environment for this provider's workers, over the spawning call's own.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            enabled_explicitly: false,
            command: None,
            binary_candidates: Vec::new(),
            metadata: Map::new(),
            env: BTreeMap::new(),
        }
    }
}

/// `[providers.<id>]` as written in the file: `enabled` stays optional so an explicit
/// `enabled = true` can be told from the default.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ProviderConfigFile {
    enabled: Option<bool>,
    command: Option<Vec<String>>,
    binary_candidates: Vec<String>,
    metadata: Map<String, Value>,
    env: BTreeMap<String, String>,
}

impl Default for ProviderConfigFile {
    fn default() -> Self {
        Self { enabled: None, command: None, binary_candidates: Vec::new(), metadata: Map::new(), env: BTreeMap::new() }
    }
}

impl From<ProviderConfigFile> for ProviderConfig {
    fn from(f: ProviderConfigFile) -> Self {
        Self {
            enabled: f.enabled.unwrap_or(true),
            enabled_explicitly: f.enabled == Some(true),
            command: f.command,
            binary_candidates: f.binary_candidates,
            metadata: f.metadata,
            env: f.env,
        }
    }
}
