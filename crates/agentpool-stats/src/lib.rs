//! Usage statistics for AgentPool (`stats/v1`) and the PNG share card.
//!
//! A crate of its own so the PNG encoder and bitmap font stay out of `agentpool-core` (which
//! every provider crate links), while both front ends (CLI `stats`, MCP `get_stats`) share one
//! implementation. It reads the store through plain SQL and never writes to it.

pub mod card;
pub mod compute;
pub mod report;
pub mod window;

use std::path::{Path, PathBuf};

use agentpool_core::Pool;
use agentpool_core::config::{self, Settings};
use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::scope::Scope;
use agentpool_core::util;
use time::OffsetDateTime;

pub use compute::{Env, Request, SCHEMA, SECTIONS, compute, parse_sections};
pub use report::{
    DataQuality, Parallelism, ProviderMap, Quota, SessionCounts, ShareCard, SharedReport, StatsFilters, StatsReport,
    StatsWindow, TokenCounts, TokenTotals, Tokens, Utilization, WallCounts, Walls,
};
pub use window::{Window, parse as parse_window, parse_range};

/// The facts [`compute`] needs from settings: enabled providers and the usage policy.
pub fn env(settings: &Settings, enabled_providers: Vec<String>, now: OffsetDateTime) -> Env {
    Env {
        providers: enabled_providers,
        usage_stale_after_seconds: settings.config.policy.usage_stale_after_seconds,
        min_remaining_percent: settings.config.policy.min_remaining_percent,
        now,
    }
}

/// One stats query, phrased the same way by both front ends (CLI `stats`, MCP `get_stats`).
#[derive(Debug, Clone)]
pub struct Query {
    pub window: Window,
    /// Only this provider (must be a registered id).
    pub provider: Option<String>,
    /// `Mine`: only sessions spawned by the manager's coordinator.
    pub scope: Scope,
    /// Section names, already checked by [`parse_sections`] (empty: all).
    pub sections: Vec<String>,
}

/// Computes `stats/v1` for `query` against the manager's store, after reconciling stale
/// sessions so the counts reflect reality. `now` must be the instant the window was parsed at.
pub async fn run(manager: &Pool, query: Query, now: OffsetDateTime) -> Result<StatsReport> {
    if let Some(p) = &query.provider {
        manager.registry().get(p)?;
    }
    let coordinator = match query.scope {
        Scope::Mine => Some(manager.coordinator_id().to_owned()),
        Scope::All => None,
    };
    manager.reconcile().await?;
    let request = Request { window: query.window, provider: query.provider, coordinator, sections: query.sections };
    let env = env(manager.settings(), manager.registry().ids(), now);
    manager.store().call(move |c| compute(c, &request, &env)).await
}

/// Writes the share card for `doc` to `path` (`~` expanded, relative to the current
/// directory), or to a new file at [`default_card_path`] when `path` is `None` or empty (a
/// `-2`, `-3`, … suffix keeps two cards made in the same second apart).
pub fn share(manager: &Pool, doc: &StatsReport, path: Option<&Path>, now: OffsetDateTime) -> Result<ShareCard> {
    match path.filter(|p| !p.as_os_str().is_empty()) {
        // A path the user names is written like every `--output`: a regular file in an
        // existing directory, never anything else, and no directories made on the way.
        Some(p) => write_card(doc, &config::absolute(&config::expand_tilde(p)), false),
        None => write_card(doc, &unused(default_card_path(&manager.settings().paths.home, now)), true),
    }
}

/// `path` if nothing is there yet, else the first free `<stem>-N.<ext>`.
fn unused(path: PathBuf) -> PathBuf {
    if path.symlink_metadata().is_err() {
        return path;
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem}-{n}{ext}")))
        .find(|p| p.symlink_metadata().is_err())
        .unwrap_or(path)
}

/// `<home>/cards/stats-<YYYYMMDDTHHMMSSZ>.png`.
pub fn default_card_path(home: &Path, now: OffsetDateTime) -> PathBuf {
    let ts: String = util::format_ts(now).chars().take(19).filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    home.join("cards").join(format!("stats-{ts}Z.png"))
}

/// Renders the card for `doc` and writes it to `path`: with `make_dirs` (AgentPool's own card
/// directory) its parents are created; without, `path` must be a regular file or nothing, in
/// an existing directory ([`util::write_output_file`]).
pub fn write_card(doc: &StatsReport, path: &Path, make_dirs: bool) -> Result<ShareCard> {
    let fail = |reason: String| {
        Error::new(
            ErrorCode::CardRenderFailed,
            format!("could not write the share card `{}`: {reason}", path.display()),
        )
        .with("reason", &reason)
        .with("path", path.display().to_string())
    };
    let png = card::render(doc)?;
    if make_dirs {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        util::write_atomic(path, &png).map_err(|e| fail(e.message))?;
    } else {
        util::write_output_file(path, &png)?;
    }
    Ok(ShareCard {
        path: path.display().to_string(),
        bytes: png.len() as u64,
        width: card::WIDTH,
        height: card::HEIGHT,
        stats_window: doc.window.spec.clone(),
        generated_at: doc.generated_at.clone(),
    })
}

#[cfg(test)]
mod tests;
