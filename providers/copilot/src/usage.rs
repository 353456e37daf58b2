//! Copilot usage from GitHub's Copilot user endpoint (`/copilot_internal/user`): the monthly
//! premium-interaction and chat quotas and their reset date.
//!
//! The token comes from `AGENTPOOL_COPILOT_TOKEN`, `GITHUB_TOKEN`, `GH_TOKEN`, then
//! `gh auth token`; it is held in memory for the one request and never stored, logged or
//! printed — only the name of its source is recorded. `AGENTPOOL_COPILOT_API_URL` overrides
//! the API base URL (tests point it at a loopback server).

use std::time::Duration;

use agentpool_sdk::model::{CapacitySnapshot, Confidence, UsageStatus};
use agentpool_sdk::process::{self, RunOptions};
use agentpool_sdk::usage::{self, number, status_from_windows};
use serde_json::{Value, json};

/// `raw.source` of this probe.
pub const SOURCE: &str = "github_copilot_internal_api";
/// Overrides the API base URL.
pub const API_URL_ENV: &str = "AGENTPOOL_COPILOT_API_URL";
const DEFAULT_API_URL: &str = "https://api.github.com";
/// Longest request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A token and where it came from (the source name is the only part ever recorded).
pub struct Token {
    value: String,
    pub source: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("source", &self.source).finish_non_exhaustive()
    }
}

/// The first non-empty token: the environment, then `gh auth token`.
pub async fn find_token() -> Option<Token> {
    for var in ["AGENTPOOL_COPILOT_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return Some(Token { value: v.trim().to_owned(), source: var.to_owned() });
        }
    }
    let gh = agentpool_sdk::probe::which("gh")?;
    let out = process::run(
        &[gh.display().to_string(), "auth".into(), "token".into()],
        RunOptions { dumb_terminal: true, timeout: Some(Duration::from_secs(5)), ..Default::default() },
    )
    .await;
    let value = out.stdout.trim();
    (out.success() && !value.is_empty()).then(|| Token { value: value.to_owned(), source: "gh auth token".into() })
}

/// Runs the probe with the token found in the environment.
pub async fn probe(provider_id: &str) -> CapacitySnapshot {
    let Some(token) = find_token().await else {
        let mut s = usage::snapshot(provider_id, UsageStatus::Unauthenticated, Confidence::Unknown, SOURCE);
        s.warnings.push(
            "no GitHub token: set AGENTPOOL_COPILOT_TOKEN, GITHUB_TOKEN or GH_TOKEN, or run `gh auth login`".into(),
        );
        return s;
    };
    let base =
        std::env::var(API_URL_ENV).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| DEFAULT_API_URL.into());
    probe_with(provider_id, &base, &token, HTTP_TIMEOUT).await
}

/// [`probe`] against `base` with an explicit token and timeout.
pub async fn probe_with(provider_id: &str, base: &str, token: &Token, timeout: Duration) -> CapacitySnapshot {
    let mut s = match fetch(base, token, timeout).await {
        Ok(body) => parse_user(provider_id, &body).unwrap_or_else(|e| failed(provider_id, &e)),
        Err(Fetch::Unauthorized(code)) => {
            let mut s = usage::snapshot(provider_id, UsageStatus::Unauthenticated, Confidence::Official, SOURCE);
            s.warnings.push(format!("GitHub refused the token from {} (HTTP {code})", token.source));
            s
        }
        Err(Fetch::Failed(e)) => failed(provider_id, &e),
    };
    // Whatever an error body echoed, the token itself never leaves this function.
    for w in &mut s.warnings {
        *w = w.replace(&token.value, "<redacted>");
    }
    s.raw.insert("token_source".into(), json!(token.source));
    s
}

fn failed(provider_id: &str, reason: &str) -> CapacitySnapshot {
    usage::unknown(provider_id, SOURCE, format!("Copilot usage probe failed: {reason}"))
}

enum Fetch {
    Unauthorized(u16),
    Failed(String),
}

async fn fetch(base: &str, token: &Token, timeout: Duration) -> Result<Value, Fetch> {
    let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| Fetch::Failed(e.to_string()))?;
    let url = format!("{}/copilot_internal/user", base.trim_end_matches('/'));
    let resp = client
        .get(&url)
        .header("Authorization", format!("token {}", token.value))
        .header("Accept", "application/json")
        .header("Editor-Version", "vscode/1.96.2")
        .header("Editor-Plugin-Version", "copilot-chat/0.26.7")
        .header("User-Agent", "GitHubCopilotChat/0.26.7")
        .header("X-Github-Api-Version", "2025-04-01")
        .send()
        .await
        .map_err(|e| Fetch::Failed(if e.is_timeout() { "timed out".into() } else { without_url(&e) }))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.map_err(|e| Fetch::Failed(without_url(&e)))?;
    match status {
        200..=299 => serde_json::from_str::<Value>(&body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| Fetch::Failed("the reply is not a JSON object".into())),
        401 | 403 => Err(Fetch::Unauthorized(status)),
        _ => Err(Fetch::Failed(format!("HTTP {status}: {}", body.chars().take(300).collect::<String>()))),
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    s
}

/// Maps the reply: quota snapshots (percent, else remaining/entitlement), else the legacy
/// monthly counts; the reset date goes on every window and on the snapshot.
pub fn parse_user(provider_id: &str, body: &Value) -> Result<CapacitySnapshot, String> {
    let reset = body
        .get("quota_reset_date")
        .and_then(Value::as_str)
        .and_then(|d| usage::normalize_ts(d).or_else(|| usage::normalize_ts(&format!("{}T00:00:00Z", d.trim()))));
    let mut windows = Vec::new();
    for name in ["premium_interactions", "chat"] {
        let Some(q) = body.pointer(&format!("/quota_snapshots/{name}")).filter(|q| q.is_object()) else { continue };
        let entitlement = q.get("entitlement").and_then(number);
        let remaining = q.get("remaining").and_then(number);
        if q.get("unlimited").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let percent = q.get("percent_remaining").and_then(number).or_else(|| match (entitlement, remaining) {
            (Some(e), Some(r)) if e > 0.0 => Some(r / e * 100.0),
            _ => None,
        });
        let Some(p) = percent else { continue };
        if p == 0.0 && entitlement == Some(0.0) && remaining == Some(0.0) {
            continue;
        }
        let mut w = usage::window_remaining(name, "monthly", p, Confidence::Official);
        w.remaining_units = remaining;
        windows.push(w);
    }
    if windows.is_empty()
        && let (Some(total), Some(left)) = (body.get("monthly_quotas"), body.get("limited_user_quotas"))
    {
        for (name, key) in [("premium_interactions", "completions"), ("chat", "chat")] {
            let (Some(t), Some(l)) = (total.get(key).and_then(number), left.get(key).and_then(number)) else {
                continue;
            };
            if t > 0.0 {
                let mut w = usage::window_remaining(name, "monthly", l / t * 100.0, Confidence::Official);
                w.remaining_units = Some(l);
                windows.push(w);
            }
        }
    }
    if windows.is_empty() {
        return Err("the reply has no usable quota snapshots".into());
    }
    for w in &mut windows {
        w.reset_at.clone_from(&reset);
    }
    let mut s = usage::snapshot(provider_id, status_from_windows(&windows), Confidence::Official, SOURCE);
    s.windows = windows;
    s.reset_at = reset;
    let plan = body.get("copilot_plan").and_then(Value::as_str).map(str::trim).filter(|p| !p.is_empty());
    s.raw.insert("plan".into(), json!(plan));
    Ok(s)
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
