//! Building blocks for provider launch plans: the base command, the model flag, the reasoning
//! effort flag and catalog facts, read from the [`LaunchContext`] a provider is handed.
//!
//! Provider crates compose these; the rules (which flag, when) live in the provider crate.

use crate::error::{Error, ErrorCode, Result};
use crate::provider::LaunchContext;

/// A string catalog/config fact for this launch (`model_arg`, `read_only_mode_arg`, …).
pub fn fact<'a>(ctx: &'a LaunchContext, key: &str) -> Option<&'a str> {
    ctx.config.metadata.get(key).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty())
}

/// The configured `command` (elements starting with `~/` expanded, nothing else), else the
/// detected binary path.
pub fn base_command(ctx: &LaunchContext) -> Result<Vec<String>> {
    if let Some(cmd) = ctx.config.command.as_ref().filter(|c| !c.is_empty()) {
        return Ok(cmd
            .iter()
            .map(|part| {
                if part.starts_with("~/") {
                    crate::config::expand_tilde(std::path::Path::new(part)).display().to_string()
                } else {
                    part.clone()
                }
            })
            .collect());
    }
    match &ctx.binary_path {
        Some(p) => Ok(vec![p.clone()]),
        None => Err(Error::new(ErrorCode::ProviderNotInstalled, "the provider binary was not found")),
    }
}

/// `[<model_arg or --model>, <model>]` when a model is set.
pub fn model_args(ctx: &LaunchContext) -> Vec<String> {
    match ctx.model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => vec![fact(ctx, "model_arg").unwrap_or("--model").to_owned(), m.to_owned()],
        None => Vec::new(),
    }
}

/// `[<reasoning_effort_arg>, <effort>]` when both an effort and the flag are known.
pub fn effort_args(ctx: &LaunchContext) -> Vec<String> {
    match (effort(ctx), fact(ctx, "reasoning_effort_arg")) {
        (Some(e), Some(flag)) => vec![flag.to_owned(), e.to_owned()],
        _ => Vec::new(),
    }
}

/// The requested reasoning effort, trimmed.
pub fn effort(ctx: &LaunchContext) -> Option<&str> {
    ctx.reasoning_effort.as_deref().map(str::trim).filter(|e| !e.is_empty())
}

/// The requested service tier, trimmed.
pub fn service_tier(ctx: &LaunchContext) -> Option<&str> {
    ctx.service_tier.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// A value made safe for a file name: runs of characters outside `[A-Za-z0-9_.-]` become `_`.
pub fn file_safe(value: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    if out.is_empty() || out.chars().all(|c| c == '.') { "_".to_owned() } else { out }
}

/// Launch plans of one provider for the option matrix every provider crate snapshots:
/// defaults, an explicit model, no model, reasoning effort, service tier, each isolation and
/// each prompt mode. Paths under `home` print as `<home>`; the workdir is `/work/repo` (or
/// `/work/worktree` for worktree isolation). The `arg` cases show where spawn puts the prompt.
pub fn plan_matrix(
    provider: &dyn crate::provider::Provider,
    binary: &str,
    home: &std::path::Path,
) -> serde_json::Value {
    use crate::model::{Isolation, PromptMode, Role};
    use serde_json::json;
    let catalog = crate::catalog::Catalog::embedded_ref();
    let facts = catalog.facts(provider.id());
    let default_model = facts.get("default_model").and_then(|v| v.as_str()).map(str::to_owned);
    let other_model = catalog
        .models(provider.id())
        .into_iter()
        .map(|m| m.id)
        .find(|m| Some(m) != default_model.as_ref())
        .unwrap_or_else(|| "some-model".to_owned());
    let config = crate::config::ProviderConfig { metadata: facts.clone(), ..Default::default() };
    let default_mode = match facts.get("default_initial_prompt_mode").and_then(|v| v.as_str()) {
        Some("arg") => PromptMode::Arg,
        Some("send_after_launch") => PromptMode::SendAfterLaunch,
        _ => provider.default_prompt_mode(),
    };
    let base = LaunchContext {
        session_id: "ap_000000000001".into(),
        binary_path: Some(binary.to_owned()),
        self_exe: "/usr/local/bin/agentpool".into(),
        config,
        model: default_model.clone(),
        reasoning_effort: None,
        service_tier: None,
        isolation: Isolation::ReadOnly,
        role: Role::Explorer,
        workdir: "/work/repo".into(),
        prompt_mode: default_mode,
        home: home.to_path_buf(),
        signal_log: home.join("artifacts/ap_000000000001").join(crate::signal::LOG_NAME),
        resume_session: None,
    };
    let cases: Vec<(&str, LaunchContext)> = vec![
        ("defaults", base.clone()),
        ("model", LaunchContext { model: Some(other_model), ..base.clone() }),
        ("no_model", LaunchContext { model: None, ..base.clone() }),
        ("effort_high", LaunchContext { reasoning_effort: Some("high".into()), ..base.clone() }),
        ("service_tier_priority", LaunchContext { service_tier: Some("priority".into()), ..base.clone() }),
        (
            "isolation_worktree",
            LaunchContext {
                isolation: Isolation::Worktree,
                role: Role::Implementer,
                workdir: "/work/worktree".into(),
                ..base.clone()
            },
        ),
        ("isolation_shared", LaunchContext { isolation: Isolation::Shared, ..base.clone() }),
        ("prompt_arg", LaunchContext { prompt_mode: PromptMode::Arg, ..base.clone() }),
        ("prompt_send_after_launch", LaunchContext { prompt_mode: PromptMode::SendAfterLaunch, ..base.clone() }),
    ];
    let home_str = home.display().to_string();
    let scrub = |s: &str| s.replace(&home_str, "<home>");
    let rows: Vec<serde_json::Value> = cases
        .into_iter()
        .map(|(name, ctx)| {
            let mode = ctx.prompt_mode;
            let checked = provider.check_prompt_mode(mode);
            let plan = checked.and_then(|()| provider.launch(&ctx));
            match plan {
                Ok(mut plan) => {
                    if mode == PromptMode::Arg {
                        plan.argv.extend(provider.prompt_arg_flag());
                        plan.argv.push("<prompt>".into());
                    }
                    json!({
                        "case": name,
                        "prompt_mode": mode,
                        "argv": plan.argv.iter().map(|a| scrub(a)).collect::<Vec<_>>(),
                        "env": plan.env.iter().map(|(k, v)| format!("{k}={}", scrub(v))).collect::<Vec<_>>(),
                    })
                }
                Err(e) => {
                    json!({"case": name, "prompt_mode": mode, "error": {"code": e.code.as_str(), "message": e.message}})
                }
            }
        })
        .collect();
    json!({"provider_id": provider.id(), "cases": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_safe_names() {
        assert_eq!(file_safe("glm-5.1"), "glm-5.1");
        assert_eq!(file_safe("opencode/gpt 5 [1m]"), "opencode_gpt_5_1m_");
        assert_eq!(file_safe("../.."), ".._..");
        assert_eq!(file_safe(".."), "_");
        assert_eq!(file_safe(""), "_");
    }
}
