//! `agentpool stats`: what the pool did in a window (`stats/v1`), as JSON, `key=value` lines
//! or text, optionally with a PNG share card.

use std::fmt::Write as _;
use std::path::PathBuf;

use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::scope::parse_scope;
use agentpool_stats::{ShareCard, SharedReport, StatsReport};
use clap::Args;
use serde::Serialize;
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
    let doc = agentpool_stats::run(manager, query, now).await?;

    let card = match &args.share {
        Some(path) => Some(agentpool_stats::share(manager, &doc, path.as_deref(), now)?),
        None => None,
    };
    let text = match &card {
        _ if args.plain => plain(&doc, card.as_ref()),
        Some(c) => format!("share card: {} ({} bytes)\n{}", c.path, c.bytes, human(&doc)),
        None => human(&doc),
    };
    Ok(match card {
        Some(c) => Out::typed(&SharedReport { report: doc, share_card: c }, text),
        None => Out::typed(&doc, text),
    })
}

/// A field as its JSON scalar reads: strings bare, numbers as JSON writes them (`14.0`), and
/// `null`.
fn v<T: Serialize + ?Sized>(x: &T) -> String {
    match serde_json::to_value(x) {
        Ok(Value::String(s)) => s,
        Ok(Value::Null) | Err(_) => "null".into(),
        Ok(other) => other.to_string(),
    }
}

/// Like [`v`], with `n/a` for a missing value.
fn na<T: Serialize>(x: &Option<T>) -> String {
    x.as_ref().map_or_else(|| "n/a".into(), |x| v(x))
}

/// `--plain`: one `key=value` line per headline figure; nulls are `null`.
pub fn plain(doc: &StatsReport, card: Option<&ShareCard>) -> String {
    let mut out = String::new();
    let mut line = |k: &str, x: String| out.push_str(&format!("{k}={x}\n"));
    line("schema_version", v(&doc.schema_version));
    line("scope", v(&doc.scope));
    line("window", v(&doc.window.spec));
    line("window.start", v(&doc.window.start));
    line("window.end", v(&doc.window.end));
    if let Some(s) = &doc.sessions {
        line("sessions.total", v(&s.total));
        line("sessions.spawned", v(&s.spawned));
        line("sessions.terminated", v(&s.terminated));
        line("sessions.interrupted", v(&s.interrupted));
        line("sessions.timed_out", v(&s.timed_out));
    }
    if let Some(p) = &doc.parallelism {
        line("parallelism.ratio", v(&p.ratio));
        line("parallelism.peak_concurrent", v(&p.peak_concurrent));
        line("parallelism.peak_at", v(&p.peak_at));
        line("parallelism.sum_worker_hours", v(&p.sum_worker_hours));
        line("parallelism.wall_clock_hours", v(&p.wall_clock_hours));
    }
    if let Some(w) = &doc.walls {
        line("walls.avoided", v(&w.avoided));
        line("walls.hit", v(&w.hit));
        line("walls.confidence", v(&w.confidence));
    }
    if let Some(u) = &doc.utilization {
        line("utilization.subscription_utilization", v(&u.subscription_utilization));
    }
    if let Some(t) = &doc.tokens {
        line("tokens.totals.input", v(&t.totals.input));
        line("tokens.totals.output", v(&t.totals.output));
    }
    for (p, e) in doc.quota.iter().flatten() {
        line(&format!("quota.{p}.current_remaining_percent"), v(&e.current_remaining_percent));
    }
    for d in &doc.data_quality {
        line("data_quality", v(&d.code));
    }
    if let Some(c) = card {
        line("share_card.path", v(&c.path));
    }
    out
}

/// Text for people: a header, one line per section, the quota table, caveats, next steps.
pub fn human(doc: &StatsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "AgentPool stats: {} (scope {})", doc.window.label, doc.scope);
    if let Some(p) = &doc.filters.provider_id {
        let _ = writeln!(out, "provider: {p}");
    }
    if let Some(s) = &doc.sessions {
        let _ = writeln!(
            out,
            "sessions:     {} total | spawned {} | terminated {} | interrupted {} | timed out {}",
            s.total, s.spawned, s.terminated, s.interrupted, s.timed_out
        );
    }
    if let Some(p) = &doc.parallelism {
        let ratio = p.ratio.map_or_else(|| "n/a".into(), |r| format!("{r:.2}"));
        let at = p.peak_at.as_ref().map(|t| format!(" at {t}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "parallelism:  ratio {ratio} | peak {}{at} | worker-hours {} | wall-clock hours {}",
            p.peak_concurrent,
            v(&p.sum_worker_hours),
            v(&p.wall_clock_hours)
        );
    }
    if let Some(w) = &doc.walls {
        let _ = writeln!(
            out,
            "walls:        avoided {} | hit {} | confidence {}",
            na(&w.avoided),
            na(&w.hit),
            w.confidence
        );
    }
    if let Some(u) = &doc.utilization {
        let _ = writeln!(
            out,
            "utilization:  {} (worker-hours / usable subscription hours)",
            na(&u.subscription_utilization)
        );
    }
    if let Some(t) = &doc.tokens
        && !t.by_provider.is_empty()
    {
        let who: Vec<&str> = t.by_provider.keys().collect();
        let _ = writeln!(
            out,
            "tokens:       input {} | output {} ({}; current 5h block only)",
            v(&t.totals.input),
            v(&t.totals.output),
            who.join(", ")
        );
    }
    if let Some(q) = &doc.quota
        && !q.is_empty()
    {
        let _ = writeln!(out, "\nquota (remaining %):");
        let rows = q
            .iter()
            .map(|(p, e)| {
                vec![
                    p.clone(),
                    na(&e.current_remaining_percent),
                    na(&e.min_in_window),
                    na(&e.max_in_window),
                    v(&e.samples),
                ]
            })
            .collect();
        for l in output::table(&["Provider", "Current", "Min", "Max", "Samples"], rows).lines() {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !doc.data_quality.is_empty() {
        let _ = writeln!(out, "\ndata quality:");
        for d in &doc.data_quality {
            let who = d.provider_id.as_ref().map(|p| format!(" [{p}]")).unwrap_or_default();
            let _ = writeln!(out, "  - {}{who}: {}", d.code, d.note);
        }
    }
    if let Some(next) = &doc.suggested_next
        && !next.is_empty()
    {
        let _ = writeln!(out, "\nnext:");
        for n in next {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    // `stats/v1` documents as `agentpool-stats` pins them (its `doc_*` snapshots).
    const ALL_WITH_CARD: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"tokens_partial","providers":["claude-code"],"note":"ccusage exposes only current 5h block"}],"sessions":{"total":4,"by_provider":{"claude-code":2,"codex-cli":2},"by_role":{"explorer":2,"implementer":1,"reviewer":1},"by_state":{"COMPLETED":2,"FAILED":1,"RUNNING":1},"spawned":4,"terminated":1,"interrupted":1,"timed_out":1},"parallelism":{"wall_clock_hours":14.0,"sum_worker_hours":4.5,"ratio":0.32,"peak_concurrent":3,"peak_at":"2026-03-01T10:30:00.000000Z"},"walls":{"definition":"see docs/stats.md#walls","hit":1,"avoided":2,"by_provider":{"claude-code":{"hit":1,"avoided":0},"codex-cli":{"hit":0,"avoided":2}},"confidence":"high"},"quota":{"claude-code":{"current_remaining_percent":40.0,"min_in_window":0.0,"max_in_window":40.0,"samples":2},"codex-cli":{"current_remaining_percent":80.0,"min_in_window":80.0,"max_in_window":80.0,"samples":1}},"utilization":{"window_hours":24.0,"usable_hours":48.0,"subscription_utilization":0.09,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{"claude-code":{"input":1200,"output":300,"cache_read":50,"data_quality":"active_5h_block_only"}},"totals":{"input":1200,"output":300},"providers_without_token_data":["codex-cli","cursor-cli","fake-question"]},"suggested_next":["See which sessions overlapped at the peak: agentpool sessions --json (MCP: list_sessions).","Check how work is spread across providers: agentpool usage-summary --json.","Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."],"share_card":{"path":"/srv/agentpool-home/cards/stats-20260302T000000Z.png","bytes":12605,"width":1200,"height":630,"stats_window":"2026-03-01/2026-03-02","generated_at":"2026-03-02T00:00:00.000000Z"}}"#;
    const EMPTY: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"no_usage_data_in_window","impact":"walls undercount","note":"no usage snapshots recorded; walls need `agentpool usage-summary --refresh` runs around spawns"},{"code":"no_token_data_available","providers":["claude-code"],"impact":"tokens null","note":"no usage snapshot in this window carries token counts (claude-code needs the ccusage backend)"}],"sessions":{"total":0,"by_provider":{},"by_role":{},"by_state":{},"spawned":0,"terminated":0,"interrupted":0,"timed_out":0},"parallelism":{"wall_clock_hours":0.0,"sum_worker_hours":0.0,"ratio":null,"peak_concurrent":0,"peak_at":null},"walls":{"definition":"see docs/stats.md#walls","hit":null,"avoided":null,"by_provider":{},"confidence":"low"},"quota":{},"utilization":{"window_hours":24.0,"usable_hours":0.0,"subscription_utilization":null,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{},"totals":{"input":null,"output":null},"providers_without_token_data":["codex-cli","claude-code","cursor-cli","fake-question"]},"suggested_next":["Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."]}"#;
    const MINE_SECTIONS: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"mine","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"tokens_partial","providers":["claude-code"],"note":"ccusage exposes only current 5h block"}],"coordinator_id":"A","sessions":{"total":2,"by_provider":{"codex-cli":2},"by_role":{"explorer":1,"implementer":1},"by_state":{"COMPLETED":1,"FAILED":1},"spawned":2,"terminated":1,"interrupted":1,"timed_out":1},"walls":{"definition":"see docs/stats.md#walls","hit":0,"avoided":2,"by_provider":{"codex-cli":{"hit":0,"avoided":2}},"confidence":"high"},"tokens":{"by_provider":{"claude-code":{"input":1200,"output":300,"cache_read":50,"data_quality":"active_5h_block_only"}},"totals":{"input":1200,"output":300},"providers_without_token_data":["codex-cli","cursor-cli","fake-question"]}}"#;
    const CURSOR: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":"cursor-cli"},"data_quality":[{"code":"no_usage_data_for_provider","provider_id":"cursor-cli","impact":"quota and walls undercount","note":"no usage snapshot for cursor-cli in this window; run `agentpool usage-summary --provider cursor-cli --refresh`"},{"code":"no_token_capable_providers","impact":"tokens null","note":"no enabled provider reports token counts"}],"sessions":{"total":0,"by_provider":{},"by_role":{},"by_state":{},"spawned":0,"terminated":0,"interrupted":0,"timed_out":0},"parallelism":{"wall_clock_hours":0.0,"sum_worker_hours":0.0,"ratio":null,"peak_concurrent":0,"peak_at":null},"walls":{"definition":"see docs/stats.md#walls","hit":0,"avoided":0,"by_provider":{},"confidence":"high"},"quota":{},"utilization":{"window_hours":24.0,"usable_hours":0.0,"subscription_utilization":null,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{},"totals":{"input":null,"output":null},"providers_without_token_data":["cursor-cli"]},"suggested_next":["Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."]}"#;
    const LOW_CONFIDENCE: &str = r#"{"schema_version":"stats/v1","generated_at":"2026-03-02T00:00:00.000000Z","source":"computed","scope":"all","window":{"start":"2026-03-01T00:00:00.000000Z","end":"2026-03-02T00:00:00.000000Z","label":"2026-03-01 to 2026-03-02","spec":"2026-03-01/2026-03-02"},"filters":{"provider_id":null},"data_quality":[{"code":"walls_low_confidence","impact":"walls may be undercounted","note":"4 of 7 spawns had no fresh usage snapshot for some provider"},{"code":"tokens_partial","providers":["codex-cli","claude-code"],"note":"ccusage exposes only current 5h block"}],"sessions":{"total":7,"by_provider":{"claude-code":2,"codex-cli":5},"by_role":{"explorer":5,"implementer":1,"reviewer":1},"by_state":{"COMPLETED":5,"FAILED":1,"RUNNING":1},"spawned":7,"terminated":1,"interrupted":1,"timed_out":1},"parallelism":{"wall_clock_hours":14.0,"sum_worker_hours":5.5,"ratio":0.39,"peak_concurrent":3,"peak_at":"2026-03-01T10:30:00.000000Z"},"walls":{"definition":"see docs/stats.md#walls","hit":1,"avoided":2,"by_provider":{"claude-code":{"hit":1,"avoided":0},"codex-cli":{"hit":0,"avoided":2}},"confidence":"low"},"quota":{"claude-code":{"current_remaining_percent":40.0,"min_in_window":0.0,"max_in_window":40.0,"samples":2},"codex-cli":{"current_remaining_percent":5.0,"min_in_window":5.0,"max_in_window":80.0,"samples":2}},"utilization":{"window_hours":24.0,"usable_hours":48.0,"subscription_utilization":0.11,"method":"sum(worker_hours)/sum(usable_hours_in_window)"},"tokens":{"by_provider":{"codex-cli":{"input":7,"output":2,"cache_creation":5,"data_quality":"active_5h_block_only"},"claude-code":{"input":1200,"output":300,"cache_read":50,"data_quality":"active_5h_block_only"}},"totals":{"input":1207,"output":302},"providers_without_token_data":["cursor-cli","fake-question"]},"suggested_next":["See which sessions overlapped at the peak: agentpool sessions --json (MCP: list_sessions).","Check how work is spread across providers: agentpool usage-summary --json.","Refresh usage before the next round of delegation: agentpool usage-summary --refresh --json."]}"#;

    /// The document and the card, if the JSON has one.
    fn doc(json: &str) -> (StatsReport, Option<ShareCard>) {
        if json.contains("\"share_card\"") {
            let shared: SharedReport = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&shared).unwrap(), json, "read back byte for byte");
            (shared.report, Some(shared.share_card))
        } else {
            let report: StatsReport = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&report).unwrap(), json, "read back byte for byte");
            (report, None)
        }
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
            let (d, card) = doc(json);
            insta::assert_snapshot!(format!("stats_plain_{name}"), plain(&d, card.as_ref()));
            insta::assert_snapshot!(format!("stats_human_{name}"), human(&d));
        }
    }
}
