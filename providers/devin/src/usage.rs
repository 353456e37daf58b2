//! Devin usage: the plan-status API with the Devin CLI's own credential, else (only when
//! interactive probes are allowed) the CLI's `/usage` screen in a temporary session.
//!
//! The credential is read from `~/.local/share/devin/credentials.toml` into memory for the
//! one request; it is never written, logged or printed, and any error text that echoes it is
//! redacted. Only the name of its source (`devin_cli_credentials`) is recorded. The request
//! and reply are protobuf over Connect (`application/proto`), decoded with hand-written
//! `prost` messages. `AGENTPOOL_DEVIN_API_URL` overrides the API base URL (tests point it at
//! a loopback server).

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentpool_sdk::model::{CapacitySnapshot, Confidence, UsageStatus, UsageWindow};
use agentpool_sdk::usage::{self, UsageContext};
use agentpool_sdk::usage_screen::{self, ScreenProbe};
use agentpool_sdk::util;
use prost::Message;
use serde_json::json;
use time::OffsetDateTime;

/// `raw.source` of the API probe.
pub const SOURCE: &str = "devin_plan_status_api";
/// `raw.source` of the screen fallback.
pub const SCREEN_SOURCE: &str = "devin_pty_usage";
/// Overrides the API base URL (else the credential file's `api_server_url`, else the default).
pub const API_URL_ENV: &str = "AGENTPOOL_DEVIN_API_URL";
const DEFAULT_API_URL: &str = "https://server.codeium.com";
const PLAN_STATUS_PATH: &str = "/exa.seat_management_pb.SeatManagementService/GetPlanStatus";
/// Longest request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The request: the token and "include top-up status".
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetPlanStatusRequest {
    #[prost(string, tag = "1")]
    pub auth_token: String,
    #[prost(bool, tag = "2")]
    pub include_top_up_status: bool,
}

/// The reply.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetPlanStatusResponse {
    #[prost(message, optional, tag = "1")]
    pub plan_status: Option<PlanStatus>,
}

/// A protobuf timestamp (seconds only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
}

/// The plan's name and tier.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PlanInfo {
    #[prost(int64, tag = "1")]
    pub teams_tier: i64,
    #[prost(string, tag = "2")]
    pub plan_name: String,
}

/// Plan status. Percent and balance fields are proto3 scalars, so a zero is omitted on the
/// wire: presence is kept (`optional`) to tell "0 %" from "not reported".
#[derive(Clone, PartialEq, prost::Message)]
pub struct PlanStatus {
    #[prost(message, optional, tag = "1")]
    pub plan_info: Option<PlanInfo>,
    #[prost(message, optional, tag = "2")]
    pub plan_start: Option<Timestamp>,
    #[prost(message, optional, tag = "3")]
    pub plan_end: Option<Timestamp>,
    #[prost(int64, optional, tag = "14")]
    pub daily_remaining_percent: Option<i64>,
    #[prost(int64, optional, tag = "15")]
    pub weekly_remaining_percent: Option<i64>,
    #[prost(int64, optional, tag = "16")]
    pub overage_balance_micros: Option<i64>,
    #[prost(int64, optional, tag = "17")]
    pub daily_reset_at_unix: Option<i64>,
    #[prost(int64, optional, tag = "18")]
    pub weekly_reset_at_unix: Option<i64>,
}

/// The credential, held in memory only.
pub struct Credential {
    token: String,
    api_server_url: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("api_server_url", &self.api_server_url).finish_non_exhaustive()
    }
}

/// The Devin CLI's credential file under `home`.
pub fn credentials_path(home: &Path) -> PathBuf {
    home.join(".local/share/devin/credentials.toml")
}

/// Reads the credential (`windsurf_api_key`, optional `api_server_url`).
pub fn read_credential(home: &Path) -> Result<Credential, String> {
    let path = credentials_path(home);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("Devin CLI credentials were not found. Run `devin auth login` first.".into());
        }
        Err(e) => return Err(format!("Devin CLI credentials could not be read: {}", e.kind())),
    };
    // The parse error could quote the file (and so the token): only its kind is reported.
    let table: toml::Table = text.parse().map_err(|_| "Devin CLI credentials are not valid TOML.".to_owned())?;
    let token = table.get("windsurf_api_key").and_then(toml::Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let Some(token) = token else { return Err("Devin CLI credentials do not contain windsurf_api_key.".into()) };
    let api_server_url = table
        .get("api_server_url")
        .and_then(toml::Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    Ok(Credential { token: token.to_owned(), api_server_url })
}

/// The probe: the API, then the screen fallback when allowed.
pub async fn probe(ctx: &UsageContext) -> CapacitySnapshot {
    let Some(binary) = ctx.binary_path.clone() else {
        let mut s = usage::snapshot(&ctx.provider_id, UsageStatus::Unavailable, Confidence::Unknown, SOURCE);
        s.warnings.push("Devin CLI is not installed.".into());
        return s;
    };
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let reason = match read_credential(&home) {
        Ok(cred) => {
            let base = std::env::var(API_URL_ENV)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| cred.api_server_url.clone())
                .unwrap_or_else(|| DEFAULT_API_URL.into());
            match api_probe(&ctx.provider_id, &base, &cred, HTTP_TIMEOUT).await {
                Ok(s) => return s,
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    if !ctx.allow_interactive {
        let mut s = usage::unknown(
            &ctx.provider_id,
            "interactive_probe_disabled",
            format!("Devin plan-status API probe failed and the interactive /usage fallback is disabled: {reason}"),
        );
        s.raw.insert("credential_source".into(), json!("devin_cli_credentials"));
        return s;
    }
    let mut s = screen_probe(ctx, &binary).await;
    s.warnings.push(format!("Devin plan-status API probe failed; fell back to CLI /usage: {reason}"));
    s
}

/// The API probe. `Err` carries a reason (never the token) for the fallback; a refused
/// credential is an `unauthenticated` snapshot, not an error.
pub async fn api_probe(
    provider_id: &str,
    base: &str,
    cred: &Credential,
    timeout: Duration,
) -> Result<CapacitySnapshot, String> {
    let redact = |s: String| s.replace(&cred.token, "<redacted>");
    let body = GetPlanStatusRequest { auth_token: cred.token.clone(), include_top_up_status: true }.encode_to_vec();
    let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| redact(e.to_string()))?;
    let url = format!("{}{PLAN_STATUS_PATH}", base.trim_end_matches('/'));
    let resp = client
        .post(&url)
        .header("Content-Type", "application/proto")
        .header("Connect-Protocol-Version", "1")
        .header("Origin", "https://windsurf.com")
        .header("Referer", "https://windsurf.com/profile")
        .header("User-Agent", concat!("agentpool-devin-probe/", env!("CARGO_PKG_VERSION")))
        .header("x-auth-token", &cred.token)
        .header("x-devin-session-token", &cred.token)
        .body(body)
        .send()
        .await
        .map_err(|e| if e.is_timeout() { "timed out".to_owned() } else { redact(without_url(&e)) })?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| redact(without_url(&e)))?;
    match status {
        200..=299 => {}
        401 | 403 => {
            let mut s = usage::snapshot(provider_id, UsageStatus::Unauthenticated, Confidence::Official, SOURCE);
            s.warnings.push(format!("Devin refused the Devin CLI credential (HTTP {status}); run `devin auth login`"));
            s.raw.insert("credential_source".into(), json!("devin_cli_credentials"));
            return Ok(s);
        }
        _ => {
            let text: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            return Err(redact(format!("HTTP {status}: {text}")));
        }
    }
    let reply =
        GetPlanStatusResponse::decode(bytes.as_ref()).map_err(|e| format!("the reply is not a plan status: {e}"))?;
    let plan = reply.plan_status.ok_or_else(|| "the reply did not include plan_status.".to_owned())?;
    map_plan(provider_id, &plan)
}

/// Maps a plan status: `daily` and `weekly` windows, overage credits, plan facts in `raw`.
/// A window whose reset time is reported but whose percent is not is at 0 % (proto3 omits
/// zeros), so a used-up quota never looks healthier than it is.
pub fn map_plan(provider_id: &str, plan: &PlanStatus) -> Result<CapacitySnapshot, String> {
    let mut windows: Vec<UsageWindow> = Vec::new();
    for (name, pct, reset) in [
        ("daily", plan.daily_remaining_percent, plan.daily_reset_at_unix),
        ("weekly", plan.weekly_remaining_percent, plan.weekly_reset_at_unix),
    ] {
        let Some(p) = pct.or(reset.map(|_| 0)) else { continue };
        let mut w = usage::window_remaining(name, name, p as f64, Confidence::Official);
        w.reset_at = reset.and_then(usage::epoch_to_ts);
        windows.push(w);
    }
    let credits = plan.overage_balance_micros.map(|m| m as f64 / 1_000_000.0);
    if windows.is_empty() && credits.is_none() {
        return Err("the plan status has neither quota percentages nor an overage balance".into());
    }
    let mut s = usage::snapshot(provider_id, usage::status_from_windows(&windows), Confidence::Official, SOURCE);
    if windows.is_empty() {
        s.status = UsageStatus::Unknown;
    }
    s.reset_at = windows.iter().filter_map(|w| w.reset_at.clone()).min();
    s.windows = windows;
    s.credits_remaining = credits;
    if let Some(info) = &plan.plan_info {
        if !info.plan_name.trim().is_empty() {
            s.raw.insert("plan_name".into(), json!(info.plan_name.trim()));
        }
        s.raw.insert("teams_tier".into(), json!(info.teams_tier));
    }
    for (key, t) in [("plan_start", &plan.plan_start), ("plan_end", &plan.plan_end)] {
        if let Some(ts) = t.as_ref().and_then(|t| usage::epoch_to_ts(t.seconds)) {
            s.raw.insert(key.into(), json!(ts));
        }
    }
    s.raw.insert("has_overage_balance".into(), json!(credits.is_some_and(|c| c > 0.0)));
    s.raw.insert("credential_source".into(), json!("devin_cli_credentials"));
    Ok(s)
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    s
}

async fn screen_probe(ctx: &UsageContext, binary: &Path) -> CapacitySnapshot {
    let spec = ScreenProbe {
        argv: vec![binary.display().to_string()],
        env: Vec::new(),
        slash: "/usage",
        startup_delay: Duration::from_secs(1),
        // Dismisses a folder-trust prompt in the throw-away directory.
        pre_keys: vec![vec!["Enter".into()]],
        dialog: None,
        extra_keys: Vec::new(),
        prefer_text: Some("Quota used:"),
        timeout: Duration::from_secs(18),
        source: SCREEN_SOURCE,
    };
    let now = OffsetDateTime::now_utc();
    usage_screen::run(ctx, &spec, &|screen| parse_screen(&ctx.provider_id, screen, now)).await
}

/// Parses the CLI's `/usage` text: the weekly quota, the extra-usage balance and the reset.
pub fn parse_screen(provider_id: &str, screen: &str, now: OffsetDateTime) -> Option<CapacitySnapshot> {
    let re = |p: &str| regex::Regex::new(p).ok();
    let (used, remaining) = if let Some(c) =
        re(r"(?i)Quota used:\s+(\d+(?:\.\d+)?)%\s+\(remaining:\s+(\d+(?:\.\d+)?)%\)")?.captures(screen)
    {
        (c[1].parse::<f64>().ok(), c[2].parse::<f64>().ok()?)
    } else {
        let c = re(r"(?i)\b(\d+(?:\.\d+)?)%\s+remaining\s+\(resets\s+in\s+[^)]+\)")?.captures(screen)?;
        (None, c[1].parse::<f64>().ok()?)
    };
    let mut w = usage::window_remaining("weekly", "weekly", remaining, Confidence::LocalCli);
    if let Some(u) = used {
        w.used_percent = Some(usage::clamp_percent(u));
    }
    w.reset_at = re(r"Quota resets\s+([A-Z][a-z]+)\s+(\d{1,2}),\s+(\d{1,2}):(\d{2})\s+([AP]M)\s+\(UTC([+-]\d{1,2})\)")?
        .captures(screen)
        .and_then(|c| reset_time(&c[1], &c[2], &c[3], &c[4], &c[5], &c[6], now));
    let windows = vec![w];
    let mut s = usage::snapshot(provider_id, usage::status_from_windows(&windows), Confidence::LocalCli, SCREEN_SOURCE);
    s.reset_at = windows[0].reset_at.clone();
    s.windows = windows;
    s.credits_remaining =
        re(r"(?i)Extra usage balance:\s+\$(\d+(?:\.\d+)?)")?.captures(screen).and_then(|c| c[1].parse().ok());
    s.warnings.push("Devin CLI /usage shows only the weekly quota.".into());
    Some(s)
}

/// `May 10, 1:00 AM (UTC-7)` without a year: the next such moment not in the past (a day
/// of slack). Full or three-letter month names.
fn reset_time(
    month: &str,
    day: &str,
    hour: &str,
    minute: &str,
    ampm: &str,
    offset: &str,
    now: OffsetDateTime,
) -> Option<String> {
    let idx = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        .iter()
        .position(|m| month.len() >= 3 && month.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(m)))?;
    let month = time::Month::try_from(idx as u8 + 1).ok()?;
    let day: u8 = day.parse().ok()?;
    let mut hour: u8 = hour.parse().ok()?;
    let minute: u8 = minute.parse().ok()?;
    hour %= 12;
    if ampm == "PM" {
        hour += 12;
    }
    let offset = time::UtcOffset::from_hms(offset.parse().ok()?, 0, 0).ok()?;
    let at = |year: i32| {
        time::Date::from_calendar_date(year, month, day)
            .ok()
            .and_then(|d| d.with_hms(hour, minute, 0).ok())
            .map(|dt| dt.assume_offset(offset))
    };
    let t = at(now.year()).filter(|t| *t >= now - time::Duration::days(1)).or_else(|| at(now.year() + 1))?;
    Some(util::format_ts(t))
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
