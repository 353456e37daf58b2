//! `skills [list|get <name> [--full]|path [name]]`: guides for agents, bundled in the binary so
//! they always match the installed version.
//!
//! Each guide is a Markdown file under `crates/agentpool-cli/skills/`. The part above the
//! `<!-- full -->` line is the short form; `--full` adds the rest. `path` writes the guides to
//! `$AGENTPOOL_HOME/skills/<version>/` (only when missing or different) so tools that want a
//! file get one: `cat "$(agentpool skills path core)"`.

use std::path::PathBuf;

use agentpool_core::config::Paths;
use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::{VERSION, util};
use clap::Subcommand;
use serde_json::json;

use crate::output::Out;

/// `(name, summary, text)` of every bundled guide.
pub const SKILLS: &[(&str, &str, &str)] = &[
    ("agentpool", "Start here: what AgentPool is for and the delegation loop", include_str!("../skills/agentpool.md")),
    ("core", "The worker lifecycle: states, events, commands, examples", include_str!("../skills/core.md")),
    ("stats", "Reading `agentpool stats` and its caveats", include_str!("../skills/stats.md")),
    (
        "onboarding",
        "Setting up a machine: doctor, init, setup, mcp-config, smoke",
        include_str!("../skills/onboarding.md"),
    ),
];

const FULL_MARKER: &str = "<!-- full -->";

/// `skills` subcommands (no subcommand lists them).
#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// List the bundled guides.
    #[command(after_help = "Examples:\n  agentpool skills list\n  agentpool skills list --json")]
    List,
    /// Print one guide (short form unless --full).
    #[command(after_help = "Examples:\n  agentpool skills get agentpool\n  agentpool skills get core --full")]
    Get {
        /// Guide name (see `agentpool skills list`).
        name: String,
        /// The whole guide, reference and examples included.
        #[arg(long)]
        full: bool,
    },
    /// Write the guides to disk and print the directory, or one guide's file.
    #[command(after_help = "Examples:\n  agentpool skills path\n  cat \"$(agentpool skills path core)\"")]
    Path {
        /// Guide name; omit for the directory.
        name: Option<String>,
    },
}

fn find(name: &str) -> Result<&'static (&'static str, &'static str, &'static str)> {
    let wanted = name.trim().to_ascii_lowercase();
    SKILLS.iter().find(|(n, _, _)| *n == wanted).ok_or_else(|| {
        Error::new(ErrorCode::InvalidRequest, format!("unknown skill `{}`", name.trim()))
            .with("available", SKILLS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>())
            .with("example", "agentpool skills list")
    })
}

fn short(text: &str) -> &str {
    text.split(FULL_MARKER).next().unwrap_or(text).trim_end()
}

fn full(text: &str) -> String {
    text.replace(&format!("{FULL_MARKER}\n"), "")
}

pub fn run(cmd: Option<&SkillsCommand>) -> Result<Out> {
    match cmd {
        None | Some(SkillsCommand::List) => {
            let rows: Vec<_> = SKILLS.iter().map(|(n, s, _)| json!({"name": n, "summary": s})).collect();
            let mut human = format!("Skills ship with the CLI (agentpool {VERSION}):\n");
            for (n, s, _) in SKILLS {
                human.push_str(&format!("  {n:<11} {s}\n"));
            }
            human.push_str("\nRead one: agentpool skills get agentpool   (add --full for the reference)\n");
            Ok(Out::new(json!({"version": VERSION, "skills": rows}), human))
        }
        Some(SkillsCommand::Get { name, full: want_full }) => {
            let (n, s, text) = find(name)?;
            let body = if *want_full { full(text) } else { format!("{}\n", short(text)) };
            Ok(Out::new(
                json!({"name": n, "summary": s, "version": VERSION, "full": want_full, "text": body}),
                body.clone(),
            ))
        }
        Some(SkillsCommand::Path { name }) => {
            let dir = write_all()?;
            let path = match name {
                Some(n) => dir.join(format!("{}.md", find(n)?.0)),
                None => dir,
            };
            Ok(Out::new(json!({"path": path, "version": VERSION}), format!("{}\n", path.display())))
        }
    }
}

/// Materialises every guide (full form) under `$AGENTPOOL_HOME/skills/<version>/`.
fn write_all() -> Result<PathBuf> {
    let (home, _) = Paths::from_env()?;
    let dir = home.join("skills").join(VERSION);
    for (n, _, text) in SKILLS {
        let path = dir.join(format!("{n}.md"));
        let body = full(text);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(body.as_str()) {
            util::write_atomic(&path, body.as_bytes())?;
        }
    }
    Ok(dir)
}
