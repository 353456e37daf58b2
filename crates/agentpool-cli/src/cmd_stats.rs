//! `agentpool stats`: what the pool did in a window (`stats/v1`), as JSON, `key=value` lines
//! or text, optionally with a PNG share card.

use std::fmt::Write as _;
use std::path::PathBuf;

use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::scope::parse_scope;
use clap::Args;
use serde_json::Value;
use time::OffsetDateTime;

use crate::commands::Context;
use crate::output::{self, Out};

const EXAMPLE: &str = "agentpool stats --since 7d --json";

/// `stats` arguments.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Window: `12h`, `7d`, `1w`, `all`, an ISO date, or `FROM/TO` (default `7d`).
    #[arg(long, value_name = "SPEC")]
    pub since: Option<String>,
    /// Window start (ISO date or time); needs --to.
    #[arg(long, value_name = "ISO")]
    pub from: Option<String>,
    /// Window end (ISO date or time, exclusive); needs --from.
    #[arg(long, value_name = "ISO")]
    pub to: Option<String>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// `all` sessions, or `mine`: those spawned by the acting coordinator (--coordinator-id).
    #[arg(long, default_value = "all")]
    pub scope: String,
    /// Sections to include (comma-separated or repeated): sessions, parallelism, walls,
    /// quota, utilization, tokens, suggested_next.
    #[arg(long, value_name = "NAME")]
    pub sections: Vec<String>,
    /// grep-friendly key=value lines.
    #[arg(long)]
    pub plain: bool,
    /// Also render a 1200x630 PNG card, to PATH or (without one) to a new
    /// `$AGENTPOOL_HOME/cards/stats-<time>.png` that never replaces an earlier card.
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    pub share: Option<Option<PathBuf>>,
}

pub async fn stats(ctx: &Context, args: StatsArgs, json: bool) -> Result<Out> {
    if json && args.plain {
        return Err(
            Error::new(ErrorCode::InvalidOutput, "choose either --json or --plain, not both").with("example", EXAMPLE)
        );
    }
    let now = OffsetDateTime::now_utc();
    let window = match (&args.since, &args.from, &args.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(Error::new(ErrorCode::InvalidWindow, "use either --since or --from/--to, not both")
                .with("example", EXAMPLE));
        }
        (None, Some(from), Some(to)) => agentpool_stats::parse_range(from, to, now)?,
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err(
                Error::new(ErrorCode::InvalidWindow, "--from and --to must be given together").with("example", EXAMPLE)
            );
        }
        (Some(spec), None, None) => agentpool_stats::parse_window(spec, now)?,
        (None, None, None) => agentpool_stats::parse_window("7d", now)?,
    };
    let sections = agentpool_stats::parse_sections(&args.sections)?;
    let scope = parse_scope(&args.scope)?;
    let manager = &ctx.manager;
    let query = agentpool_stats::Query { window, provider: args.provider.clone(), scope, sections };
    let mut doc = agentpool_stats::run(manager, query, now).await?;

    let mut card = None;
    if let Some(path) = &args.share {
        let info = agentpool_stats::share(manager, &doc, path.as_deref(), now)?;
        doc["share_card"] = info.clone();
        card = Some(info);
    }
    let text = if args.plain { plain(&doc) } else { human(&doc) };
    let text = match &card {
        Some(c) if !args.plain => {
            format!("share card: {} ({} bytes)\n{text}", c["path"].as_str().unwrap_or(""), c["bytes"])
        }
        _ => text,
    };
    Ok(Out::new(doc, text))
}

fn v(x: &Value) -> String {
    match x {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn na(x: &Value) -> String {
    if x.is_null() { "n/a".into() } else { v(x) }
}

/// `--plain`: one `key=value` line per headline figure; nulls are `null`.
pub fn plain(doc: &Value) -> String {
    let mut out = String::new();
    let mut line = |k: &str, x: &Value| out.push_str(&format!("{k}={}\n", v(x)));
    line("schema_version", &doc["schema_version"]);
    line("scope", &doc["scope"]);
    line("window", &doc["window"]["spec"]);
    line("window.start", &doc["window"]["start"]);
    line("window.end", &doc["window"]["end"]);
    for (section, keys) in [
        ("sessions", &["total", "spawned", "terminated", "interrupted", "timed_out"][..]),
        ("parallelism", &["ratio", "peak_concurrent", "peak_at", "sum_worker_hours", "wall_clock_hours"][..]),
        ("walls", &["avoided", "hit", "confidence"][..]),
        ("utilization", &["subscription_utilization"][..]),
        ("tokens", &[][..]),
    ] {
        if doc.get(section).is_none() {
            continue;
        }
        for k in keys {
            line(&format!("{section}.{k}"), &doc[section][*k]);
        }
        if section == "tokens" {
            line("tokens.totals.input", &doc["tokens"]["totals"]["input"]);
            line("tokens.totals.output", &doc["tokens"]["totals"]["output"]);
        }
    }
    if let Some(q) = doc.get("quota").and_then(Value::as_object) {
        for (p, e) in q {
            line(&format!("quota.{p}.current_remaining_percent"), &e["current_remaining_percent"]);
        }
    }
    for d in doc["data_quality"].as_array().into_iter().flatten() {
        line("data_quality", &d["code"]);
    }
    if let Some(c) = doc.get("share_card") {
        line("share_card.path", &c["path"]);
    }
    out
}

/// Text for people: a header, one line per section, the quota table, caveats, next steps.
pub fn human(doc: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "AgentPool stats: {} (scope {})", v(&doc["window"]["label"]), v(&doc["scope"]));
    if let Some(p) = doc["filters"]["provider_id"].as_str() {
        let _ = writeln!(out, "provider: {p}");
    }
    if let Some(s) = doc.get("sessions") {
        let _ = writeln!(
            out,
            "sessions:     {} total | spawned {} | terminated {} | interrupted {} | timed out {}",
            s["total"], s["spawned"], s["terminated"], s["interrupted"], s["timed_out"]
        );
    }
    if let Some(p) = doc.get("parallelism") {
        let ratio = p["ratio"].as_f64().map_or_else(|| "n/a".into(), |r| format!("{r:.2}"));
        let at = p["peak_at"].as_str().map(|t| format!(" at {t}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "parallelism:  ratio {ratio} | peak {}{at} | worker-hours {} | wall-clock hours {}",
            p["peak_concurrent"], p["sum_worker_hours"], p["wall_clock_hours"]
        );
    }
    if let Some(w) = doc.get("walls") {
        let _ = writeln!(
            out,
            "walls:        avoided {} | hit {} | confidence {}",
            na(&w["avoided"]),
            na(&w["hit"]),
            v(&w["confidence"])
        );
    }
    if let Some(u) = doc.get("utilization") {
        let _ = writeln!(
            out,
            "utilization:  {} (worker-hours / usable subscription hours)",
            na(&u["subscription_utilization"])
        );
    }
    if let Some(t) = doc.get("tokens")
        && let Some(by) = t["by_provider"].as_object()
        && !by.is_empty()
    {
        let who: Vec<&str> = by.keys().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "tokens:       input {} | output {} ({}; current 5h block only)",
            t["totals"]["input"],
            t["totals"]["output"],
            who.join(", ")
        );
    }
    if let Some(q) = doc.get("quota").and_then(Value::as_object)
        && !q.is_empty()
    {
        let _ = writeln!(out, "\nquota (remaining %):");
        let rows = q
            .iter()
            .map(|(p, e)| {
                vec![
                    p.clone(),
                    na(&e["current_remaining_percent"]),
                    na(&e["min_in_window"]),
                    na(&e["max_in_window"]),
                    v(&e["samples"]),
                ]
            })
            .collect();
        for l in output::table(&["Provider", "Current", "Min", "Max", "Samples"], rows).lines() {
            let _ = writeln!(out, "  {l}");
        }
    }
    let dq = doc["data_quality"].as_array().cloned().unwrap_or_default();
    if !dq.is_empty() {
        let _ = writeln!(out, "\ndata quality:");
        for d in dq {
            let what = d.get("note").or_else(|| d.get("impact")).map(v).unwrap_or_default();
            let who = d["provider_id"].as_str().map(|p| format!(" [{p}]")).unwrap_or_default();
            let _ = writeln!(out, "  - {}{who}: {what}", v(&d["code"]));
        }
    }
    if let Some(next) = doc.get("suggested_next").and_then(Value::as_array)
        && !next.is_empty()
    {
        let _ = writeln!(out, "\nnext:");
        for n in next {
            let _ = writeln!(out, "  - {}", v(n));
        }
    }
    out
}
