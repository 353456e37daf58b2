//! `agentpool models [--provider P]` and `agentpool models validate [--path P]`: the model
//! catalog as AgentPool sees it (embedded, user catalogs, config overrides), and its checker.

use agentpool_core::error::Result;
use serde_json::Value;

use crate::args::{ModelsAction, ModelsArgs};
use crate::commands::Context;
use crate::output::{self, Out};

/// Runs `models` or `models validate`.
pub async fn models(ctx: &Context, a: ModelsArgs) -> Result<Out> {
    if let Some(ModelsAction::Validate { path }) = a.action {
        let r = ctx.manager.validate_catalog(path.as_deref());
        let mut human = format!("catalog {}: {}\n", if r.ok { "ok" } else { "failed" }, r.path);
        for w in &r.warnings {
            human.push_str(&format!("warning: {w}\n"));
        }
        for e in &r.errors {
            human.push_str(&format!("error: {e}\n"));
        }
        return Ok(Out::typed(&r, human).failed_if(!r.ok));
    }
    let r = ctx.manager.models(a.provider.as_deref()).await?;
    let rows = r["providers"].as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let human = if a.provider.is_some() {
        let mut out = String::new();
        for p in &rows {
            out.push_str(&format!(
                "provider: {}\ndefault: {}\nsmoke: {}\nselection: {}\ncatalog: {}\nquirks: {}\n",
                s(&p["provider_id"]),
                s(&p["default_model"]),
                s(&p["smoke_model"]),
                s(&p["model_selection"]),
                s(&p["catalog_completeness"]),
                p["quirks"].as_array().map(|q| q.iter().map(&s).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
            ));
            let models = p["models"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let r = &m["metadata"]["reasoning"];
                    let reasoning = match r["supported"].as_array() {
                        Some(sup) => format!(
                            "{}; default {}",
                            sup.iter().map(&s).collect::<Vec<_>>().join(", "),
                            s(&r["default"])
                        ),
                        None => "-".to_owned(),
                    };
                    vec![s(&m["id"]), s(&m["display_name"]), s(&m["confidence"]), reasoning]
                })
                .collect();
            out.push_str(&output::table(&["MODEL", "DISPLAY", "CONFIDENCE", "REASONING"], models));
        }
        out
    } else {
        output::table(
            &["PROVIDER", "DEFAULT", "SMOKE", "SELECTION", "MODELS", "CATALOG"],
            rows.iter()
                .map(|p| {
                    vec![
                        s(&p["provider_id"]),
                        s(&p["default_model"]),
                        s(&p["smoke_model"]),
                        s(&p["model_selection"]),
                        p["models"].as_array().map_or(0, Vec::len).to_string(),
                        s(&p["catalog_completeness"]),
                    ]
                })
                .collect(),
        )
    };
    Ok(Out::new(r, human))
}
