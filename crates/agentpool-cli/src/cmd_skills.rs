//! `skills [list|get <name> [--full]|path [name]|install --client C]`: guides for agents,
//! bundled in the binary so they always match the installed version.
//!
//! Each guide is a Markdown file under `crates/agentpool-cli/skills/` that starts with
//! `SKILL.md` front matter (`name`, `description`), the format Claude Code and Codex discover.
//! The part of the body above the `<!-- full -->` line is the short form; `--full` adds the
//! rest. `path` writes the guides to `$AGENTPOOL_HOME/skills/<version>/` (only when missing or
//! different) so tools that want a file get one: `cat "$(agentpool skills path core)"`.
//! `install` writes each guide as `<root>/<name>/SKILL.md` where a client looks for skills,
//! backing up any different file it would replace.

use std::path::{Path, PathBuf};

use agentpool_core::config::Paths;
use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::{VERSION, util};
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use crate::output::Out;

/// `(name, summary, text)` of every bundled guide. `name` is what `skills get` takes; the
/// installed skill's name is the one in its front matter.
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

/// A coding-agent client that discovers `SKILL.md` folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Client {
    /// Claude Code: `~/.claude/skills/` (user) or `.claude/skills/` (project).
    ClaudeCode,
    /// Codex CLI: `~/.agents/skills/` (user) or `.agents/skills/` (project).
    Codex,
}

/// Where a skill applies: every project of this user, or the current directory's project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// Your home directory: every project.
    User,
    /// The current directory: this project (commit the folder to share it).
    Project,
}

impl Client {
    pub const ALL: [Client; 2] = [Client::ClaudeCode, Client::Codex];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claude-code",
            Self::Codex => "codex",
        }
    }

    fn display(self) -> &'static str {
        match self {
            Self::ClaudeCode => "Claude Code",
            Self::Codex => "Codex",
        }
    }

    /// The directory under which each skill gets its own `<name>/SKILL.md`: `$HOME` for the
    /// user scope, `cwd` for the project scope (`None` when that base is unknown).
    pub fn root(self, scope: Scope, cwd: Option<&Path>) -> Option<PathBuf> {
        let base = match scope {
            Scope::User => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?),
            Scope::Project => cwd?.to_path_buf(),
        };
        Some(match self {
            Self::ClaudeCode => base.join(".claude").join("skills"),
            Self::Codex => base.join(".agents").join("skills"),
        })
    }
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Project => "project",
        }
    }
}

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
    /// Install the guides as skills Claude Code or Codex discover (`<dir>/<name>/SKILL.md`);
    /// a different existing file is backed up to `SKILL.md.bak` first.
    #[command(
        after_help = "Examples:\n  agentpool skills install --client claude-code\n  agentpool skills install --client codex --scope project --dry-run --json"
    )]
    Install {
        /// Which client's skill folder: claude-code (~/.claude/skills) or codex (~/.agents/skills).
        #[arg(long, value_enum)]
        client: Client,
        /// user (under your home, every project) or project (under the current directory).
        #[arg(long, value_enum, default_value = "user")]
        scope: Scope,
        /// Say what would be written, write nothing.
        #[arg(long)]
        dry_run: bool,
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

/// Splits a guide into its front matter (without the `---` lines) and its body.
fn split_front_matter(text: &str) -> (&str, &str) {
    if let Some(rest) = text.strip_prefix("---\n")
        && let Some(end) = rest.find("\n---\n")
    {
        return (&rest[..end], rest[end + 5..].trim_start_matches('\n'));
    }
    ("", text)
}

/// A front-matter field (`name`, `description`); values are single plain lines.
fn front_matter_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    split_front_matter(text).0.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::trim))
}

fn short(text: &str) -> &str {
    let body = split_front_matter(text).1;
    body.split(FULL_MARKER).next().unwrap_or(body).trim_end()
}

fn full(text: &str) -> String {
    split_front_matter(text).1.replace(&format!("{FULL_MARKER}\n"), "")
}

/// The `SKILL.md` file for a guide: its front matter, then the whole body.
fn skill_file(text: &str) -> String {
    format!("---\n{}\n---\n\n{}", split_front_matter(text).0, full(text))
}

/// The installed skill's name (its folder name), from the front matter.
fn skill_name(entry: &(&'static str, &'static str, &'static str)) -> &'static str {
    front_matter_field(entry.2, "name").unwrap_or(entry.0)
}

pub fn run(cmd: Option<&SkillsCommand>) -> Result<Out> {
    match cmd {
        None | Some(SkillsCommand::List) => {
            let rows: Vec<_> = SKILLS
                .iter()
                .map(|e| {
                    json!({"name": e.0, "summary": e.1, "skill_name": skill_name(e),
                           "description": front_matter_field(e.2, "description")})
                })
                .collect();
            let mut human = format!("Skills ship with the CLI (agentpool {VERSION}):\n");
            for (n, s, _) in SKILLS {
                human.push_str(&format!("  {n:<11} {s}\n"));
            }
            human.push_str("\nRead one: agentpool skills get agentpool   (add --full for the reference)\n");
            human.push_str("Install for your agent: agentpool skills install --client claude-code   (or codex)\n");
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
        Some(SkillsCommand::Install { client, scope, dry_run }) => install(*client, *scope, *dry_run),
    }
}

/// Materialises every guide (front matter and full body) under
/// `$AGENTPOOL_HOME/skills/<version>/`.
fn write_all() -> Result<PathBuf> {
    let (home, _) = Paths::from_env()?;
    let dir = home.join("skills").join(VERSION);
    for (n, _, text) in SKILLS {
        let path = dir.join(format!("{n}.md"));
        let body = skill_file(text);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(body.as_str()) {
            util::write_atomic(&path, body.as_bytes())?;
        }
    }
    Ok(dir)
}

/// `path` with `.bak` appended, or `.bak.2`, `.bak.3`, … when that is taken: a backup never
/// replaces an earlier one.
fn unused_backup(path: &Path) -> PathBuf {
    let base = format!("{}.bak", path.display());
    std::iter::once(PathBuf::from(&base))
        .chain((2..).map(|n| PathBuf::from(format!("{base}.{n}"))))
        .find(|p| p.symlink_metadata().is_err())
        .unwrap_or_else(|| PathBuf::from(base))
}

/// Writes every guide as `<root>/<skill-name>/SKILL.md`: unchanged files stay, different ones
/// are backed up first, missing ones are created.
fn install(client: Client, scope: Scope, dry_run: bool) -> Result<Out> {
    let cwd = std::env::current_dir().ok();
    let root = client.root(scope, cwd.as_deref()).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidRequest,
            match scope {
                Scope::User => "`HOME` is not set, so the user skill folder is unknown",
                Scope::Project => "the current directory is unknown",
            },
        )
        .with("example", format!("agentpool skills install --client {} --scope project", client.as_str()))
    })?;
    let mut rows = Vec::new();
    for entry in SKILLS {
        let name = skill_name(entry);
        let path = root.join(name).join("SKILL.md");
        let body = skill_file(entry.2);
        let existing = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(format_args!("could not read `{}`", path.display()), &e)),
        };
        let (action, backup) = match existing {
            Some(text) if text == body => ("unchanged", None),
            Some(_) => ("replaced", Some(unused_backup(&path))),
            None => ("written", None),
        };
        if !dry_run && action != "unchanged" {
            if let Some(b) = &backup {
                std::fs::copy(&path, b)
                    .map_err(|e| Error::io(format_args!("could not back up `{}`", path.display()), &e))?;
            }
            util::write_atomic(&path, body.as_bytes())?;
        }
        let action = match (dry_run, action) {
            (true, "written") => "would_write",
            (true, "replaced") => "would_replace",
            (_, a) => a,
        };
        rows.push(json!({"name": name, "skill": entry.0, "path": path, "action": action, "backup_path": backup}));
    }
    let reload = match client {
        Client::ClaudeCode => "start a new Claude Code session to load them (skills are read at startup)",
        Client::Codex => "start a new Codex session to load them; `/skills` lists them",
    };
    let mut human = format!(
        "{}{} skills ({} scope) in {}:\n",
        if dry_run { "dry run: " } else { "" },
        client.display(),
        scope.as_str(),
        root.display()
    );
    for r in &rows {
        let action = r["action"].as_str().unwrap_or("").replace('_', " ");
        human.push_str(&format!("  {action:<13} {}", r["path"].as_str().unwrap_or("")));
        if let Some(b) = r["backup_path"].as_str() {
            human.push_str(&format!(" (backup: {b})"));
        }
        human.push('\n');
    }
    human.push_str(&format!("next: {reload}\n"));
    Ok(Out::new(
        json!({"client": client.as_str(), "scope": scope.as_str(), "root": root, "dry_run": dry_run,
               "version": VERSION, "skills": rows, "next": reload}),
        human,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Claude Code and Codex require of `SKILL.md` front matter: a `name` of lowercase
    /// letters, digits and hyphens (at most 64), a `description` of at most 1024 characters,
    /// both plain one-line YAML scalars (no `: ` or ` #`, which would change their meaning).
    #[test]
    fn every_guide_has_valid_front_matter() {
        let mut names = Vec::new();
        for entry in SKILLS {
            let (front, body) = split_front_matter(entry.2);
            assert!(!front.is_empty(), "{} has no front matter", entry.0);
            assert!(body.starts_with("# "), "{}: body starts with its title", entry.0);
            let name = front_matter_field(entry.2, "name").unwrap();
            let description = front_matter_field(entry.2, "description").unwrap();
            assert!(
                !name.is_empty()
                    && name.len() <= 64
                    && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(name.starts_with("agentpool"), "installed names stay clear of other skills: {name}");
            assert!(!description.is_empty() && description.chars().count() <= 1024, "{name}");
            for v in [name, description] {
                assert!(!v.contains(": ") && !v.contains(" #") && !v.starts_with(['`', '"', '\'', '[', '{']), "{v}");
            }
            assert_eq!(front.lines().count(), 2, "{name}: only name and description");
            names.push(name);
        }
        names.dedup();
        assert_eq!(names.len(), SKILLS.len());
    }

    #[test]
    fn skill_file_is_front_matter_then_the_full_body() {
        let (_, _, text) = find("core").unwrap();
        let file = skill_file(text);
        assert!(file.starts_with("---\nname: agentpool-core\ndescription: "), "{file}");
        assert!(file.contains("\n---\n\n# AgentPool skill: core lifecycle"), "{file}");
        assert!(file.contains("# Examples") && !file.contains(FULL_MARKER));
        assert!(!short(text).contains("name: agentpool-core"), "get prints the body only");
        assert!(!full(text).starts_with("---"));
    }

    #[test]
    fn roots_per_client_and_scope() {
        let cwd = Path::new("/work/repo");
        assert_eq!(
            Client::ClaudeCode.root(Scope::Project, Some(cwd)),
            Some(PathBuf::from("/work/repo/.claude/skills"))
        );
        assert_eq!(Client::Codex.root(Scope::Project, Some(cwd)), Some(PathBuf::from("/work/repo/.agents/skills")));
    }
}
