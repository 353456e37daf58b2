//! The generated part of `docs/cli.md`: every command, its usage line, arguments, defaults
//! and examples, walked from the clap definition so the reference cannot drift from the
//! binary. A test compares the committed section with this rendering; `UPDATE_DOCS=1 cargo
//! test -p agentpool-cli --lib cli_docs` (or `cargo xtask snapshot --accept`) rewrites it.

use std::fmt::Write as _;

use clap::CommandFactory;

/// Marks the start of the generated section in `docs/cli.md`.
pub const BEGIN: &str =
    "<!-- BEGIN GENERATED: `cargo xtask snapshot --accept` rewrites from here to the END marker -->";
/// Marks its end.
pub const END: &str = "<!-- END GENERATED -->";

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn render_command(out: &mut String, cmd: &clap::Command, path: &str) {
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ").trim();
    let _ = writeln!(out, "### `{path}`\n");
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        let _ = writeln!(out, "{}\n", about.to_string().trim());
    }
    let _ = writeln!(out, "```text\n{usage}\n```\n");
    let args: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set() && !matches!(a.get_id().as_str(), "help" | "version"))
        .collect();
    if !args.is_empty() {
        let _ = writeln!(out, "| argument | description | default |\n|---|---|---|");
        for a in args {
            let values: Vec<String> =
                a.get_value_names().map(|v| v.iter().map(|n| format!("<{n}>")).collect()).unwrap_or_default();
            let name = match a.get_long() {
                Some(long) if a.get_num_args().is_some_and(|n| n.takes_values()) || !values.is_empty() => {
                    let v = if values.is_empty() {
                        format!("<{}>", a.get_id().as_str().to_uppercase())
                    } else {
                        values.join(" ")
                    };
                    if a.get_num_args().is_some_and(|n| n.min_values() == 0) {
                        format!("--{long} [{v}]")
                    } else {
                        format!("--{long} {v}")
                    }
                }
                Some(long) => format!("--{long}"),
                None => format!(
                    "<{}>",
                    a.get_value_names().and_then(|v| v.first()).map_or(a.get_id().as_str(), |n| n.as_str())
                ),
            };
            let aliases = a
                .get_visible_aliases()
                .map(|v| v.iter().map(|x| format!("--{x}")).collect::<Vec<_>>())
                .unwrap_or_default();
            let name = if aliases.is_empty() {
                format!("`{name}`")
            } else {
                format!("`{name}` (also `{}`)", aliases.join("`, `"))
            };
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let required = if a.is_required_set() && a.get_long().is_some() { " Required." } else { "" };
            let default: Vec<String> =
                a.get_default_values().iter().map(|d| d.to_string_lossy().into_owned()).collect();
            let default = if default.is_empty() || a.get_num_args().is_some_and(|n| !n.takes_values()) {
                String::new()
            } else {
                format!("`{}`", default.join(","))
            };
            let _ = writeln!(out, "| {name} | {}{required} | {default} |", cell(&help));
        }
        out.push('\n');
    }
    if let Some(after) = cmd.get_after_help() {
        let _ = writeln!(out, "```text\n{}\n```\n", after.to_string().trim());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render_command(out, sub, &format!("{path} {}", sub.get_name()));
    }
}

/// The generated section, markers included.
pub fn render() -> String {
    let mut cmd = crate::args::Cli::command();
    cmd.build();
    let mut out = String::new();
    let _ = writeln!(out, "{BEGIN}\n");
    out.push_str("## Command reference\n\n");
    out.push_str("Generated from the clap definitions. Global flags, accepted by every command: `--json` (one compact JSON document on stdout) and `--coordinator-id <ID>` (act as this coordinator; default `$AGENTPOOL_COORDINATOR_ID`, else `default`).\n\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        render_command(&mut out, sub, &format!("agentpool {}", sub.get_name()));
    }
    let _ = writeln!(out, "{END}");
    out
}

/// `doc` with its generated section replaced by `generated` (appended when absent).
pub fn splice(doc: &str, generated: &str) -> String {
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if e > b => {
            let tail = &doc[e + END.len()..];
            format!("{}{}{}", &doc[..b], generated.trim_end(), tail)
        }
        _ => format!("{}\n\n{}", doc.trim_end(), generated),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn docs_cli_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
        let have = std::fs::read_to_string(&path).unwrap();
        let want = splice(&have, &render());
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        assert!(
            have == want,
            "docs/cli.md is stale; run `cargo xtask snapshot --accept` (or UPDATE_DOCS=1 cargo test -p agentpool-cli --lib cli_docs)"
        );
    }

    #[test]
    fn every_visible_command_is_rendered_with_examples() {
        let text = render();
        for name in ["agentpool spawn", "agentpool stats", "agentpool worktrees cleanup", "agentpool mcp"] {
            assert!(text.contains(&format!("### `{name}`")), "{name} missing");
        }
        assert!(!text.contains("__worker"), "hidden commands stay hidden");
        assert!(text.contains("`--share [<PATH>]`"), "optional values are shown as optional");
        assert_eq!(splice("a\n", "G\n"), "a\n\nG\n");
        assert_eq!(
            splice(&format!("a\n{BEGIN}\nold\n{END}\nz\n"), &format!("{BEGIN}\nnew\n{END}\n")),
            format!("a\n{BEGIN}\nnew\n{END}\nz\n")
        );
    }
}
