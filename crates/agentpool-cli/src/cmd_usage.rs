//! `agentpool usage` (snapshots, live or cached) and `agentpool usage-summary` /
//! `capacity-summary` (per provider: can it take work now, and how sure are we).

use std::time::Duration;

use agentpool_core::error::Result;
use agentpool_core::session::observe::parse_timeout;
use agentpool_core::usage::{self, Backend, UsageRequest};
use clap::Args;

use crate::commands::Context;
use crate::output::{self, Out};

/// Arguments of `usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only this provider (an unknown id is PROVIDER_NOT_FOUND).
    #[arg(long)]
    pub provider: Option<String>,
    /// Where figures come from: native, codexbar, ccusage or combined.
    #[arg(long, default_value = "combined")]
    pub backend: String,
    /// Read the last stored snapshots; run no probe.
    #[arg(long)]
    pub cached: bool,
    /// Also list the built-in fake providers (hidden unless enabled explicitly in config).
    #[arg(long)]
    pub all: bool,
    /// Skip probes that drive a CLI's screen (also `AGENTPOOL_NO_INTERACTIVE_USAGE=1`).
    #[arg(long, visible_alias = "no-interactive-usage")]
    pub no_interactive: bool,
    /// Seconds for the whole call; providers still probing then come back unknown (`partial`).
    #[arg(long, default_value = "60")]
    pub timeout: f64,
}

/// Arguments of `usage-summary`.
#[derive(Debug, Args)]
pub struct UsageSummaryArgs {
    /// Only this provider (an unknown id is PROVIDER_NOT_FOUND).
    #[arg(long)]
    pub provider: Option<String>,
    /// Probe now instead of reading the stored snapshots.
    #[arg(long)]
    pub refresh: bool,
    /// Also list the built-in fake providers (hidden unless enabled explicitly in config).
    #[arg(long)]
    pub all: bool,
    /// Where figures come from on refresh: native, codexbar, ccusage or combined.
    #[arg(long, default_value = "combined")]
    pub backend: String,
    /// Skip probes that drive a CLI's screen (also `AGENTPOOL_NO_INTERACTIVE_USAGE=1`).
    #[arg(long, visible_alias = "no-interactive-usage")]
    pub no_interactive: bool,
    /// Seconds for the whole call; providers still probing then come back unknown (`partial`).
    #[arg(long, default_value = "60")]
    pub timeout: f64,
}

fn request(provider: Option<String>, backend: &str, no_interactive: bool, timeout: f64) -> Result<UsageRequest> {
    Ok(UsageRequest {
        provider_id: provider,
        // Validated on every path, cached reads included.
        backend: Backend::parse(backend)?,
        allow_interactive: usage::interactive_allowed(no_interactive),
        budget: parse_timeout(timeout)?.max(Duration::from_millis(1)),
    })
}

fn or_dash(v: Option<&str>) -> String {
    v.unwrap_or("-").to_owned()
}

/// Runs `usage`.
pub async fn usage(ctx: &Context, a: UsageArgs) -> Result<Out> {
    let req = request(a.provider, &a.backend, a.no_interactive, a.timeout)?;
    let r = ctx.manager.usage_listed(&req, a.cached, a.all).await?;
    let rows = r
        .snapshots()
        .iter()
        .map(|snap| {
            vec![
                snap.provider_id.clone(),
                snap.status.to_string(),
                snap.confidence.to_string(),
                usage::summary_text(snap),
                snap.checked_at.clone(),
            ]
        })
        .collect();
    let mut human = format!("source: {}\n", r.source());
    human.push_str(&output::table(&["PROVIDER", "STATUS", "CONFIDENCE", "SUMMARY", "CHECKED"], rows));
    if r.partial() {
        human.push_str("partial: some providers did not answer within the time budget\n");
    }
    Ok(Out::typed(&r, human))
}

/// Runs `usage-summary` (and its alias `capacity-summary`).
pub async fn usage_summary(ctx: &Context, a: UsageSummaryArgs) -> Result<Out> {
    let req = request(a.provider, &a.backend, a.no_interactive, a.timeout)?;
    let r = ctx.manager.usage_summary_listed(&req, a.refresh, a.all).await?;
    let rows = r
        .providers
        .values()
        .map(|row| {
            let usable = if row.usable { "yes".to_owned() } else { or_dash(row.unusable_reason.as_deref()) };
            let stale = if row.stale { " (stale)" } else { "" };
            vec![
                row.provider_id.clone(),
                row.status.to_string(),
                usable,
                row.confidence.to_string(),
                row.summary.clone(),
                format!("{}{stale}", or_dash(row.checked_at.as_deref())),
            ]
        })
        .collect();
    let mut human = format!("source: {}\n", r.source);
    human.push_str(&output::table(&["PROVIDER", "STATUS", "USABLE", "CONFIDENCE", "SUMMARY", "CHECKED"], rows));
    if let Some(p) = &r.next_available_provider {
        human.push_str(&format!("next available: {p} at {}\n", or_dash(r.next_available_at.as_deref())));
    }
    if r.partial {
        human.push_str("partial: some providers did not answer within the time budget\n");
    }
    human.push_str(&format!("preferences: {}\n", r.preferences.path));
    Ok(Out::typed(&r, human))
}
