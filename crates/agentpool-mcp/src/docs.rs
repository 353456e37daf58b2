//! `docs/mcp-tools.md`, generated from the tool routers. A test compares the committed file
//! with this output; `UPDATE_DOCS=1 cargo test -p agentpool-mcp` rewrites it.

use std::fmt::Write;

use serde_json::Value;

use crate::catalog::{self, SelectionInput, TOOLSETS};
use crate::server::AgentPoolServer;

fn prop_type(p: &Value) -> String {
    if let Some(e) = p.get("enum").and_then(Value::as_array) {
        return e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" \\| ");
    }
    match p.get("type") {
        Some(Value::String(t)) if t == "array" => {
            let inner = p.get("items").map(prop_type).unwrap_or_else(|| "any".to_owned());
            format!("[{inner}]")
        }
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => {
            let inner: Vec<String> = ts
                .iter()
                .filter_map(Value::as_str)
                .map(|t| {
                    if t == "array" {
                        p.get("items").map(prop_type).map_or("[any]".to_owned(), |i| format!("[{i}]"))
                    } else {
                        t.to_owned()
                    }
                })
                .collect();
            inner.join(" \\| ")
        }
        _ => match p.get("anyOf").and_then(Value::as_array) {
            Some(alts) => alts.iter().map(prop_type).collect::<Vec<_>>().join(" \\| "),
            None => "any".to_owned(),
        },
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown reference of every tool this build implements.
pub fn render() -> String {
    let input = SelectionInput {
        toolsets_flag: Some(TOOLSETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(",")),
        ..Default::default()
    };
    let available = AgentPoolServer::available_tool_names();
    let mut out = String::new();
    out.push_str("# MCP tools\n\n");
    out.push_str(
        "<!-- Generated from the tool routers by `UPDATE_DOCS=1 cargo test -p agentpool-mcp`; do not edit. -->\n\n",
    );
    out.push_str(
        "`agentpool mcp [--toolsets a,b] [--tools x,y] [--lockdown]` serves these tools over stdio. \
         Toolsets come from `--toolsets`, else `AGENTPOOL_MCP_TOOLSETS`, else `default`; `--tools` \
         (else `AGENTPOOL_MCP_TOOLS`) adds single tools. Unknown names stop the server at start-up \
         with the valid list (exit 2). `--lockdown` (or a truthy `AGENTPOOL_MCP_LOCKDOWN`) returns no \
         worker text at all. Resources and prompts are served with the `default` toolset.\n\n",
    );
    out.push_str(
        "Every success carries `structuredContent` matching the tool's `outputSchema` (and the same JSON as \
         text). Every output schema is generated from the result type the engine returns \
         (`agentpool_core::api`, and `agentpool_stats::StatsReport`), so a schema cannot drift from its \
         payload; it names the result's own fields with their types (a nested result is named, `{}`, and \
         documented on its Rust type), to keep the default `tools/list` under 12 000 bytes. Every failure is an `isError` result whose text is the JSON envelope \
         `{\"error\": {code, message, details}}`, without `structuredContent`: hosts built on the TypeScript \
         SDK check structured content against the success schema even on errors, and would hide the \
         envelope behind a validation error.\n\n",
    );
    // The "not yet available" column appears only while some catalogued tool is unimplemented.
    let complete = TOOLSETS.iter().flat_map(|(_, m)| m.iter()).all(|t| available.iter().any(|a| a == t));
    out.push_str(if complete {
        "| toolset | tools |\n|---|---|\n"
    } else {
        "| toolset | tools in this build | not yet available |\n|---|---|---|\n"
    });
    for (set, members) in TOOLSETS {
        let (have, missing): (Vec<&str>, Vec<&str>) = members.iter().partition(|t| available.iter().any(|a| a == *t));
        let fmt = |v: &[&str]| {
            if v.is_empty() {
                "—".to_owned()
            } else {
                v.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
            }
        };
        if complete {
            let _ = writeln!(out, "| `{set}` | {} |", fmt(&have));
        } else {
            let _ = writeln!(out, "| `{set}` | {} | {} |", fmt(&have), fmt(&missing));
        }
    }
    out.push('\n');
    let selection = crate::select(&input).unwrap_or_else(|_| crate::Selection {
        toolsets: Vec::new(),
        tools: available.clone(),
        lockdown: false,
        guides: true,
        unavailable: Vec::new(),
    });
    for (alias, tool) in catalog::ALIASES {
        let _ = writeln!(
            out,
            "`{alias}` is an alias of `{tool}`, kept for existing configurations: it is callable wherever \
             `{tool}` is, and `tools/list` shows it only when `{tool}` is not selected.\n"
        );
    }
    for tool in AgentPoolServer::tool_definitions(&selection) {
        let name = tool.name.as_ref();
        let _ = writeln!(out, "## `{name}`\n");
        let ann = tool.annotations.as_ref();
        let flag = |b: Option<bool>| if b == Some(true) { "yes" } else { "no" };
        let set = catalog::toolset_of(name).unwrap_or("?");
        if ann.and_then(|a| a.read_only_hint) == Some(true) {
            let _ = writeln!(out, "Toolset `{set}`. Read-only.\n");
        } else {
            let _ = writeln!(
                out,
                "Toolset `{set}`. Changes state. Destructive: {}. Idempotent: {}.\n",
                flag(ann.and_then(|a| a.destructive_hint)),
                flag(ann.and_then(|a| a.idempotent_hint)),
            );
        }
        let _ = writeln!(out, "{}\n", tool.description.as_deref().unwrap_or(""));
        let schema = Value::Object((*tool.input_schema).clone());
        let required: Vec<&str> =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        if let Some(props) = schema.get("properties").and_then(Value::as_object).filter(|p| !p.is_empty()) {
            out.push_str("| parameter | type | default | notes |\n|---|---|---|---|\n");
            for (pname, p) in props {
                let default = if required.contains(&pname.as_str()) {
                    "required".to_owned()
                } else {
                    p.get("default").map_or("null".to_owned(), |d| format!("`{d}`"))
                };
                let notes = p.get("description").and_then(Value::as_str).unwrap_or("");
                let _ = writeln!(out, "| `{pname}` | {} | {} | {} |", prop_type(p), cell(&default), cell(notes));
            }
            out.push('\n');
        }
        if let Some(os) = &tool.output_schema {
            let keys = |schema: &Value| -> String {
                let names: Vec<String> = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().map(|k| format!("`{k}`")).collect())
                    .unwrap_or_default();
                names.join(", ")
            };
            let root = Value::Object((**os).clone());
            // A result of one of several shapes lists each.
            let text = match root.get("anyOf").and_then(Value::as_array) {
                Some(shapes) => shapes.iter().map(keys).collect::<Vec<_>>().join("; or "),
                None => keys(&root),
            };
            let _ = writeln!(out, "Returns: {text}.\n");
        }
    }
    out.push_str("## Resources and prompts\n\n");
    let mut entry = |name: &str, description: Option<&str>, mime: Option<&str>| {
        let _ = writeln!(out, "- `{name}` — {} ({})", description.unwrap_or(""), mime.unwrap_or(""));
    };
    for r in crate::guides::resources() {
        entry(&r.uri, r.description.as_deref(), r.mime_type.as_deref());
    }
    for t in crate::guides::templates() {
        entry(&t.uri_template, t.description.as_deref(), t.mime_type.as_deref());
    }
    for p in crate::guides::prompts() {
        let args: Vec<String> = p.arguments.iter().flatten().map(|a| a.name.clone()).collect();
        let _ =
            writeln!(out, "- prompt `{}({})` — {}", p.name, args.join(", "), p.description.as_deref().unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn mcp_tools_doc_is_current() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/mcp-tools.md");
        let want = super::render();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(have == want, "docs/mcp-tools.md is stale; run `UPDATE_DOCS=1 cargo test -p agentpool-mcp`");
    }
}
