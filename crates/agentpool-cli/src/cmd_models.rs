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
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let human = if a.provider.is_some() {
        let mut out = String::new();
        for p in &r.providers {
            out.push_str(&format!(
                "provider: {}\ndefault: {}\nsmoke: {}\nselection: {}\ncatalog: {}\nquirks: {}\n",
                p.provider_id,
                or_dash(&p.default_model),
                or_dash(&p.smoke_model),
                p.model_selection,
                or_dash(&p.catalog_completeness),
                p.quirks.iter().map(text).collect::<Vec<_>>().join(", "),
            ));
            let models = p
                .models
                .iter()
                .map(|m| {
                    let r = m.metadata.get("reasoning").unwrap_or(&Value::Null);
                    let reasoning = match r["supported"].as_array() {
                        Some(sup) => format!(
                            "{}; default {}",
                            sup.iter().map(text).collect::<Vec<_>>().join(", "),
                            text(&r["default"])
                        ),
                        None => "-".to_owned(),
                    };
                    vec![m.id.clone(), or_dash(&m.display_name), m.confidence.to_string(), reasoning]
                })
                .collect();
            out.push_str(&output::table(&["MODEL", "DISPLAY", "CONFIDENCE", "REASONING"], models));
        }
        out
    } else {
        output::table(
            &["PROVIDER", "DEFAULT", "SMOKE", "SELECTION", "MODELS", "CATALOG"],
            r.providers
                .iter()
                .map(|p| {
                    vec![
                        p.provider_id.clone(),
                        or_dash(&p.default_model),
                        or_dash(&p.smoke_model),
                        p.model_selection.clone(),
                        p.models.len().to_string(),
                        or_dash(&p.catalog_completeness),
                    ]
                })
                .collect(),
        )
    };
    Ok(Out::typed(&r, human))
}
