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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    // `stats/v1` documents as `agentpool-stats` pins them (its `doc_*` snapshots).
    const ALL_WITH_CARD: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"tokens_partial","providers":["claude-code"],"note":"ccusage exposes only current 5h block"}],"sessions":{"total":4,"by_provider":{"claude-code":2,"codex-cli":2},"by_role":{"explorer":2,"implementer":1,"reviewer":1},"by_state":{"COMPLETED":2,"FAILED":1,"RUNNING":1},"spawned":4,"terminated":1,"interrupted":1,"timed_out":1},"parallelism":{"wall_clock_hours":14.0,"sum_worker_hours":4.5,"ratio":0.32,"peak_concurrent":3,"peak_at":"2026-03-01T10:30:00.000000Z"},"walls":{"definition":"see docs/stats.md#walls","hit":1,"avoided":2,"by_provider":{"claude-code":{"hit":1,"avoided":0},"codex-cli":{"hit":0,"avoided":2}},"confidence":"high"},"quota":{"claude-code":{"current_remaining_percent":40.0,"min_in_window":0.0,"max_in_window":40.0,"samples":2},"codex-cli":{"current_remaining_percent":80.0,"min_in_window":80.0,"max_in_window":80.0,"samples":1}},"utilization":{"window_hours":24.0,"usable_hours":48.0,"subscription_utilization":0.09,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{"claude-code":{"input":1200,"output":300,"cache_read":50,"data_quality":"active_5h_block_only"}},"totals":{"input":1200,"output":300},"providers_without_token_data":["codex-cli","cursor-cli","fake-question"]},"suggested_next":["See which sessions overlapped at the peak: agentpool sessions --json (MCP: list_sessions).","Check how work is spread across providers: agentpool usage-summary --json.","Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."],"share_card":{"path":"/home/u/.agentpool/cards/stats-20260302T000000Z.png","bytes":12605,"width":1200,"height":630,"stats_window":"2026-03-01/2026-03-02","generated_at":"2026-03-02T00:00:00.000000Z"}}"#;
    const EMPTY: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"no_usage_data_in_window","impact":"walls undercount","note":"no usage snapshots recorded; walls need `agentpool usage-summary --refresh` runs around spawns"},{"code":"no_token_data_available","providers":["claude-code"],"impact":"tokens null","note":"no usage snapshot in this window carries token counts (claude-code needs the ccusage backend)"}],"sessions":{"total":0,"by_provider":{},"by_role":{},"by_state":{},"spawned":0,"terminated":0,"interrupted":0,"timed_out":0},"parallelism":{"wall_clock_hours":0.0,"sum_worker_hours":0.0,"ratio":null,"peak_concurrent":0,"peak_at":null},"walls":{"definition":"see docs/stats.md#walls","hit":null,"avoided":null,"by_provider":{},"confidence":"low"},"quota":{},"utilization":{"window_hours":24.0,"usable_hours":0.0,"subscription_utilization":null,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{},"totals":{"input":null,"output":null},"providers_without_token_data":["codex-cli","claude-code","cursor-cli","fake-question"]},"suggested_next":["Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."]}"#;
    const MINE_SECTIONS: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"mine","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"tokens_partial","providers":["claude-code"],"note":"ccusage exposes only current 5h block"}],"coordinator_id":"A","sessions":{"total":2,"by_provider":{"codex-cli":2},"by_role":{"explorer":1,"implementer":1},"by_state":{"COMPLETED":1,"FAILED":1},"spawned":2,"terminated":1,"interrupted":1,"timed_out":1},"walls":{"definition":"see docs/stats.md#walls","hit":0,"avoided":2,"by_provider":{"codex-cli":{"hit":0,"avoided":2}},"confidence":"high"},"tokens":{"by_provider":{"claude-code":{"input":1200,"output":300,"cache_read":50,"data_quality":"active_5h_block_only"}},"totals":{"input":1200,"output":300},"providers_without_token_data":["codex-cli","cursor-cli","fake-question"]}}"#;
    const CURSOR: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":"cursor-cli"},"data_quality":[{"code":"no_usage_data_for_provider","provider_id":"cursor-cli","impact":"quota and walls undercount","note":"no usage snapshot for cursor-cli in this window; run `agentpool usage-summary --provider cursor-cli --refresh`"},{"code":"no_token_capable_providers","impact":"tokens null","note":"no enabled provider reports token counts"}],"sessions":{"total":0,"by_provider":{},"by_role":{},"by_state":{},"spawned":0,"terminated":0,"interrupted":0,"timed_out":0},"parallelism":{"wall_clock_hours":0.0,"sum_worker_hours":0.0,"ratio":null,"peak_concurrent":0,"peak_at":null},"walls":{"definition":"see docs/stats.md#walls","hit":0,"avoided":0,"by_provider":{},"confidence":"high"},"quota":{},"utilization":{"window_hours":24.0,"usable_hours":0.0,"subscription_utilization":null,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{},"totals":{"input":null,"output":null},"providers_without_token_data":["cursor-cli"]},"suggested_next":["Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."]}"#;
    const LOW_CONFIDENCE: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"walls_low_confidence","impact":"walls may be undercounted","note":"4 of 7 spawns had no fresh usage snapshot for some provider"},{"code":"tokens_partial","providers":["codex-cli","claude-code"],"note":"ccusage exposes only current 5h block"}],"sessions":{"total":7,"by_provider":{"claude-code":2,"codex-cli":5},"by_role":{"explorer":5,"implementer":1,"reviewer":1},"by_state":{"COMPLETED":5,"FAILED":1,"RUNNING":1},"spawned":7,"terminated":1,"interrupted":1,"timed_out":1},"parallelism":{"wall_clock_hours":14.0,"sum_worker_hours":5.5,"ratio":0.39,"peak_concurrent":3,"peak_at":"2026-03-01T10:30:00.000000Z"},"walls":{"definition":"see docs/stats.md#walls","hit":1,"avoided":2,"by_provider":{"claude-code":{"hit":1,"avoided":0},"codex-cli":{"hit":0,"avoided":2}},"confidence":"low"},"quota":{"claude-code":{"current_remaining_percent":40.0,"min_in_window":0.0,"max_in_window":40.0,"samples":2},"codex-cli":{"current_remaining_percent":5.0,"min_in_window":5.0,"max_in_window":80.0,"samples":2}},"utilization":{"window_hours":24.0,"usable_hours":48.0,"subscription_utilization":0.11,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{"codex-cli":{"input":7,"output":2,"cache_creation":5,"data_quality":"active_5h_block_only"},"claude-code":{"input":1200,"output":300,"cache_read":50,"data_quality":"active_5h_block_only"}},"totals":{"input":1207,"output":302},"providers_without_token_data":["cursor-cli","fake-question"]},"suggested_next":["See which sessions overlapped at the peak: agentpool sessions --json (MCP: list_sessions).","Check how work is spread across providers: agentpool usage-summary --json.","Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."]}"#;

    fn doc(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn plain_and_human_text_are_pinned() {
        for (name, json) in [
            ("all_with_card", ALL_WITH_CARD),
            ("empty", EMPTY),
            ("mine_sections", MINE_SECTIONS),
            ("cursor", CURSOR),
            ("low_confidence", LOW_CONFIDENCE),
        ] {
            let d = doc(json);
            insta::assert_snapshot!(format!("stats_plain_{name}"), plain(&d));
            insta::assert_snapshot!(format!("stats_human_{name}"), human(&d));
        }
    }
}
