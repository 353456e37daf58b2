//! `mcp-config --client <host>`: the snippet that registers `agentpool mcp` with an MCP host,
//! in that host's own format, plus where it goes and how to check it worked; with `--install`,
//! the entry written into the host's own file (or added with the host's own command).
//!
//! Text output without `--install` is exactly the snippet (JSON, or TOML for Codex) so it can
//! be redirected; notes go to stderr. `--install` backs up every file it changes, changes
//! nothing with `--dry-run` (it prints the diff instead), and never touches a file it cannot
//! parse: it says what to paste where.

use std::path::Path;
use std::process::Command;

use agentpool_core::error::{Error, ErrorCode, Result};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::hosts::{self, Host, Scope, Target};
use crate::output::Out;

/// `mcp-config` arguments.
#[derive(Debug, Args)]
pub struct McpConfigArgs {
    /// cursor, claude-code, codex, copilot-cli, claude-desktop, vscode, windsurf, gemini, opencode
    /// or generic.
    #[arg(long, default_value = "generic")]
    pub client: String,
    /// Use the full path of this `agentpool` binary instead of relying on PATH (the same as
    /// `--launcher path`).
    #[arg(long, conflicts_with = "launcher")]
    pub absolute_command: bool,
    /// How the host starts the server: `path` (this binary's full path), `cargo` (the binary
    /// `cargo install`/`cargo binstall` put in ~/.cargo/bin), `npx` (`npx -y @agentpool/cli@<this
    /// version> mcp`) or `uvx` (`uvx --from agentpool-cli==<this version> agentpool mcp`).
    /// Default: `agentpool` found on the host's PATH.
    #[arg(long, value_enum)]
    pub launcher: Option<Launcher>,
    /// Write the entry into the host's config (a backup is kept), or run the host's own add
    /// command (claude-code user scope, vscode user scope).
    #[arg(long)]
    pub install: bool,
    /// With --install: print what would change and change nothing.
    #[arg(long, requires = "install")]
    pub dry_run: bool,
    /// With --install: `user` (every project) or `project` (the current directory). Default:
    /// project for vscode, user for the others.
    #[arg(long, requires = "install")]
    pub scope: Option<String>,
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// How a host starts the server (`--launcher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Launcher {
    /// This binary, by its full path.
    Path,
    /// The binary `cargo install` / `cargo binstall` put in `$CARGO_HOME/bin`, by full path.
    Cargo,
    /// The npm package, this version, through `npx`.
    Npx,
    /// The PyPI package, this version, through `uvx`.
    Uvx,
}

/// The package name on PyPI, and the CLI crate's name.
pub const PACKAGE: &str = "agentpool-cli";
/// The npm launcher package.
pub const NPM_PACKAGE: &str = "@agentpool/cli";
/// Where the source and the release binaries live.
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// The command hosts should start, and a warning when it will not survive. `None` is
/// `agentpool` from the host's PATH.
pub fn server_command(launcher: Option<Launcher>) -> (hosts::Server, Option<String>) {
    let version = env!("CARGO_PKG_VERSION");
    let runner_missing = |runner: &str, how: &str| {
        agentpool_core::probe::which(runner)
            .is_none()
            .then(|| format!("`{runner}` is not on PATH here; the host needs it to start the server ({how})"))
    };
    match launcher {
        None => (hosts::Server::binary("agentpool"), None),
        Some(Launcher::Npx) => (
            hosts::Server {
                command: "npx".into(),
                args: vec!["-y".into(), format!("{NPM_PACKAGE}@{version}"), "mcp".into()],
            },
            runner_missing("npx", "install Node.js with npm"),
        ),
        Some(Launcher::Uvx) => (
            hosts::Server {
                command: "uvx".into(),
                args: vec!["--from".into(), format!("{PACKAGE}=={version}"), "agentpool".into(), "mcp".into()],
            },
            runner_missing("uvx", "install uv: https://docs.astral.sh/uv/"),
        ),
        Some(Launcher::Cargo) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let bin = std::env::var_os("CARGO_HOME")
                .filter(|h| !h.is_empty())
                .map(|h| cwd.join(h))
                .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".cargo")))
                .map(|home| home.join("bin").join("agentpool"));
            match bin {
                Some(bin) => {
                    let warn = (!bin.is_file()).then(|| {
                        format!(
                            "`{}` does not exist yet; install it with `cargo binstall --git {REPOSITORY} {PACKAGE}` \
                             (a release binary) or `cargo install --locked --git {REPOSITORY} {PACKAGE}`",
                            bin.display()
                        )
                    });
                    (hosts::Server::binary(bin.display().to_string()), warn)
                }
                None => (
                    hosts::Server::binary("agentpool"),
                    Some("neither CARGO_HOME nor HOME is set; using `agentpool` from PATH".into()),
                ),
            }
        }
        Some(Launcher::Path) => match std::env::current_exe() {
            Ok(p) => {
                let s = p.display().to_string();
                let warn = temporary_location(&s).then(|| {
                    format!(
                        "`{s}` looks temporary (a build directory or a package runner's cache); install agentpool \
                         and use that path, or let the host run the package: --launcher npx or --launcher uvx"
                    )
                });
                (hosts::Server::binary(s), warn)
            }
            Err(_) => (
                hosts::Server::binary("agentpool"),
                Some("could not resolve this binary's path; using `agentpool` from PATH".into()),
            ),
        },
    }
}

/// Whether a binary path is one that goes away: a build directory, a temp or cache directory,
/// or the copy `npx`/`uvx` unpacked to run once.
fn temporary_location(path: &str) -> bool {
    ["/tmp/", "/target/debug/", "/target/release/", "/.cache/", "/_npx/", "/node_modules/", "/archive-v0/"]
        .iter()
        .any(|m| path.contains(m))
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The host's own one-line ways to add the entry (shell commands), when it has them.
fn host_commands(host: &Host, server: &hosts::Server, entry: &Value) -> Vec<String> {
    let q = server.shell_line();
    let env_flags = |flag: &str| -> String {
        entry
            .get("env")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| format!(" {flag} {}", shell_quote(&format!("{k}={}", v.as_str().unwrap_or_default()))))
            .collect()
    };
    match host.id {
        "claude-code" => ["user", "project", "local"]
            .iter()
            .map(|scope| format!("claude mcp add-json --scope {scope} agentpool {}", shell_quote(&entry.to_string())))
            .collect(),
        "codex" => vec![format!("codex mcp add{} agentpool -- {q}", env_flags("--env"))],
        "gemini" => vec![format!("gemini mcp add --scope user{} agentpool {q}", env_flags("-e"))],
        "vscode" => {
            let mut named = serde_json::Map::new();
            named.insert("name".into(), json!(hosts::SERVER_NAME));
            if let Value::Object(e) = entry {
                named.extend(e.clone());
            }
            vec![format!("code --add-mcp {}", shell_quote(&Value::Object(named).to_string()))]
        }
        "copilot-cli" if entry.get("env").is_none() => vec![format!("copilot mcp add agentpool -- {q}")],
        _ => Vec::new(),
    }
}

/// The payload for one host: the server, the snippet, where it goes, how to check it, and the
/// host's own install helpers.
pub fn config_for(client: &str, server: &hosts::Server) -> Result<Value> {
    let host = hosts::find(client)?;
    let env = hosts::pool_env();
    let entry = hosts::entry(host, server, &env);
    let text = hosts::snippet(host, &entry);
    let config = match host.format {
        hosts::Format::CodexToml => json!(text),
        hosts::Format::Json { .. } => serde_json::from_str(&text).unwrap_or(Value::Null),
    };
    let commands = host_commands(host, server, &entry);
    let install = match host.id {
        "cursor" => json!({"kind": "deeplink", "url": format!(
            "cursor://anysphere.cursor-deeplink/mcp/install?name=agentpool&config={}",
            base64(json!({"command": server.command, "args": server.args, "env": env}).to_string().as_bytes())
        )}),
        "generic" => json!({"kind": "manual", "steps": ["Merge `config` into the host's MCP server list."]}),
        _ if !commands.is_empty() => json!({"kind": "shell", "commands": [commands[0].clone()]}),
        _ => json!({"kind": "file", "command": format!("agentpool mcp-config --client {} --install", host.id)}),
    };
    let mut out = json!({
        "client": host.id,
        "server": {"command": server.command, "args": server.args, "env": env},
        "path": host.place,
        "format": if host.format == hosts::Format::CodexToml { "toml" } else { "json" },
        "config": config,
        "verify": host.verify,
        "install": install,
    });
    if !commands.is_empty() {
        out["commands"] = json!(commands);
    }
    Ok(out)
}

/// The snippet as the host's file format.
pub fn snippet(payload: &Value) -> String {
    match &payload["config"] {
        Value::String(toml) => toml.clone(),
        other => format!("{}\n", serde_json::to_string_pretty(other).unwrap_or_default()),
    }
}

/// A free backup name beside `path`: `<name>.agentpool-<UTC time>.bak`, never an existing file.
fn backup_name(path: &Path) -> std::path::PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_default();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut n = 0;
    loop {
        let suffix = if n == 0 { String::new() } else { format!("-{n}") };
        let candidate = path.with_file_name(format!("{name}.agentpool-{stamp}{suffix}.bak"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

fn back_up(path: &Path) -> Result<Option<String>> {
    if !path.exists() {
        return Ok(None);
    }
    let backup = backup_name(path);
    std::fs::copy(path, &backup)
        .map_err(|e| Error::io(format_args!("could not back up `{}`; nothing was changed", path.display()), &e))?;
    Ok(Some(backup.display().to_string()))
}

/// Writes the entry into a host's file.
fn install_file(host: &Host, path: &Path, entry: &Value, dry_run: bool) -> Result<Value> {
    let before = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(format_args!("could not read `{}`", path.display()), &e)),
    };
    let old = before.as_deref().unwrap_or("");
    let new = hosts::merged(host, old, entry, path)?;
    let shown = path.display().to_string();
    let diff = similar::TextDiff::from_lines(old, new.as_str())
        .unified_diff()
        .context_radius(3)
        .header(&shown, &format!("{shown} (with agentpool)"))
        .to_string();
    let action = match (&before, old == new) {
        (_, true) => "unchanged",
        (None, false) => "create",
        (Some(_), false) => "update",
    };
    let mut out = json!({"kind": "file", "path": shown, "action": action, "dry_run": dry_run, "diff": diff});
    if dry_run || action == "unchanged" {
        return Ok(out);
    }
    out["backup"] = json!(back_up(path)?);
    agentpool_core::util::write_atomic(path, new.as_bytes())?;
    // What we wrote must read back as a registration.
    let check = std::fs::read_to_string(path).ok().and_then(|t| hosts::existing_entry(host, &t));
    if check.is_none() {
        return Err(Error::new(ErrorCode::IoFailed, format!("`{shown}` does not read back with the agentpool entry")));
    }
    Ok(out)
}

/// Adds the entry with the host's own command.
fn install_command(
    client: &str,
    program: &str,
    args: &[String],
    state_file: Option<&Path>,
    dry_run: bool,
) -> Result<Value> {
    let line =
        std::iter::once(program.to_owned()).chain(args.iter().map(|a| shell_quote(a))).collect::<Vec<_>>().join(" ");
    let mut out = json!({"kind": "command", "command": line, "dry_run": dry_run});
    let Some(exe) = agentpool_core::probe::which(program) else {
        return Err(Error::new(
            ErrorCode::ProviderNotInstalled,
            format!(
                "`{program}` is not on PATH, so it cannot add the server; install it and run this again, use \
                 `--scope project` to write this project's file instead, or paste the snippet that \
                 `agentpool mcp-config --client {client}` prints where it says",
            ),
        )
        .with("command", line)
        .with("example", format!("agentpool mcp-config --client {client} --install --scope project")));
    };
    if dry_run {
        out["action"] = json!("run");
        return Ok(out);
    }
    if let Some(f) = state_file {
        out["backup"] = json!(back_up(f)?);
    }
    let run = |args: &[String]| Command::new(&exe).args(args).stdin(std::process::Stdio::null()).output();
    let mut result = run(args).map_err(|e| Error::io(format_args!("could not run `{program}`"), &e))?;
    let stderr = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)).trim().to_owned()
    };
    if !result.status.success() && stderr(&result).contains("already exists") {
        // Replace our own earlier entry: remove it in the same scope, then add again.
        let scope = args.iter().skip_while(|a| *a != "--scope").nth(1).cloned().unwrap_or_else(|| "user".into());
        let remove = ["mcp", "remove", "--scope", &scope, hosts::SERVER_NAME].map(str::to_owned);
        let _ = run(&remove);
        result = run(args).map_err(|e| Error::io(format_args!("could not run `{program}`"), &e))?;
        out["action"] = json!("replace");
    }
    if !result.status.success() {
        return Err(Error::new(ErrorCode::IoFailed, format!("`{line}` failed: {}", stderr(&result)))
            .with("exit_code", result.status.code()));
    }
    out.as_object_mut().map(|o| o.entry("action").or_insert(json!("add")));
    Ok(out)
}

/// Does the host's own state file already hold exactly `entry`?
fn already_registered(host: &Host, state_file: Option<&Path>, entry: &Value) -> bool {
    state_file
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| hosts::existing_entry(host, &text))
        .is_some_and(|existing| &existing == entry)
}

fn install(host: &Host, scope: Scope, server: &hosts::Server, dry_run: bool) -> Result<Value> {
    let entry = hosts::entry(host, server, &hosts::pool_env());
    let mut done = match hosts::target(host, scope, &entry)? {
        Target::File(path) => install_file(host, &path, &entry, dry_run)?,
        Target::Command { state_file, .. } if already_registered(host, state_file.as_deref(), &entry) => {
            json!({"kind": "command", "path": state_file.map(|f| f.display().to_string()), "action": "unchanged", "dry_run": dry_run})
        }
        Target::Command { program, args, state_file } => {
            install_command(host.id, program, &args, state_file.as_deref(), dry_run)?
        }
        Target::Manual(what) => {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("`--client {}` has no file AgentPool knows how to edit: {what}", host.id),
            )
            .with("client", host.id)
            .with("example", format!("agentpool mcp-config --client {}", host.id)));
        }
    };
    done["scope"] = json!(scope.as_str());
    Ok(done)
}

/// A project file is usually committed: say so when ours holds this machine's paths.
fn project_warning(scope: Scope, entry: &Value, done: &Value) -> Option<String> {
    let personal = entry.get("env").or_else(|| entry.get("environment")).is_some()
        || entry["command"].as_str().is_some_and(|c| Path::new(c).is_absolute())
        || entry["command"][0].as_str().is_some_and(|c| Path::new(c).is_absolute());
    (scope == Scope::Project && personal && done["action"] != "unchanged").then(|| {
        format!(
            "{} is a project file that is often committed, and this entry holds this machine's paths \
             (the command's full path or the pool's environment); keep it out of git, or commit a copy \
             made with `--launcher npx` or `--launcher uvx` (or none) in a shell without AGENTPOOL_* variables",
            done["path"].as_str().unwrap_or("the file")
        )
    })
}

fn install_text(host: &Host, done: &Value) -> String {
    let dry = done["dry_run"] == true;
    let mut t = String::new();
    let action = done["action"].as_str().unwrap_or("");
    if let Some(path) = done["path"].as_str() {
        let verb = match (dry, action) {
            (_, "unchanged") => format!("{path} already registers agentpool; nothing to change"),
            (true, "create") => format!("would create {path}"),
            (true, _) => format!("would update {path}"),
            (false, "create") => format!("created {path}"),
            (false, _) => format!("updated {path}"),
        };
        t.push_str(&verb);
        if let Some(b) = done["backup"].as_str() {
            t.push_str(&format!(" (backup: {b})"));
        }
        t.push('\n');
        if action != "unchanged" {
            t.push_str(done["diff"].as_str().unwrap_or(""));
        }
    } else if let Some(c) = done["command"].as_str() {
        t.push_str(&if dry { format!("would run: {c}\n") } else { format!("ran: {c}\n") });
        if let Some(b) = done["backup"].as_str() {
            t.push_str(&format!("backup: {b}\n"));
        }
    }
    if !dry {
        t.push_str(&format!("check it: {}\n", host.verify.first().copied().unwrap_or("")));
    }
    t
}

pub fn run(a: &McpConfigArgs) -> Result<Out> {
    let host = hosts::find(&a.client)?;
    let launcher = if a.absolute_command { Some(Launcher::Path) } else { a.launcher };
    let (server, warning) = server_command(launcher);
    let mut payload = config_for(host.id, &server)?;
    if let Some(w) = &warning {
        payload["warnings"] = json!([w]);
        eprintln!("warning: {w}");
    }
    if a.install {
        let scope = a.scope.as_deref().map(Scope::parse).transpose()?.unwrap_or(host.default_scope);
        let done = install(host, scope, &server, a.dry_run)?;
        let mut text = install_text(host, &done);
        let entry = hosts::entry(host, &server, &hosts::pool_env());
        if let Some(w) = project_warning(scope, &entry, &done) {
            text.push_str(&format!("note: {w}\n"));
            match payload["warnings"].as_array_mut() {
                Some(list) => list.push(json!(w)),
                None => payload["warnings"] = json!([w]),
            }
        }
        payload["installed"] = done;
        return Ok(Out::new(payload, text));
    }
    // Notes go to stderr so stdout stays a valid file.
    eprintln!("# paste into: {}", payload["path"].as_str().unwrap_or(""));
    let flag = match launcher {
        Some(l) => {
            format!(" --launcher {}", l.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default())
        }
        None => String::new(),
    };
    eprintln!("# or let agentpool add it: agentpool mcp-config --client {}{flag} --install --dry-run", host.id);
    Ok(Out::new(payload.clone(), snippet(&payload)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(shell_quote("/usr/bin/agentpool"), "/usr/bin/agentpool");
        assert_eq!(shell_quote("/My Apps/it's"), "'/My Apps/it'\\''s'");
        let codex = config_for("Codex", &hosts::Server::binary("/opt/a b/agentpool")).unwrap();
        assert!(codex["config"].as_str().unwrap().contains("command = \"/opt/a b/agentpool\""));
        assert!(codex["commands"][0].as_str().unwrap().ends_with("agentpool -- '/opt/a b/agentpool' mcp"));
        assert_eq!(
            config_for("nope", &hosts::Server::binary("agentpool")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn launchers_name_the_package_at_this_version() {
        let v = env!("CARGO_PKG_VERSION");
        let (npx, warn) = server_command(Some(Launcher::Npx));
        assert_eq!(
            (npx.command.as_str(), npx.args.clone()),
            ("npx", vec!["-y".into(), format!("@agentpool/cli@{v}"), "mcp".into()])
        );
        assert_eq!(warn.is_some(), agentpool_core::probe::which("npx").is_none());
        assert!(temporary_location("/srv/me/.npm/_npx/0a1b/node_modules/@agentpool/cli-linux-x64/bin/agentpool"));
        assert!(!temporary_location("/srv/me/.local/bin/agentpool"));
        let (uvx, _) = server_command(Some(Launcher::Uvx));
        assert_eq!(uvx.shell_line(), format!("uvx --from agentpool-cli=={v} agentpool mcp"));
        let (bare, _) = server_command(None);
        assert_eq!(bare, hosts::Server::binary("agentpool"));
        // Every host's file carries the whole command line.
        let codex = config_for("codex", &uvx).unwrap();
        let toml: toml::Table = toml::from_str(codex["config"].as_str().unwrap()).unwrap();
        assert_eq!(toml["mcp_servers"]["agentpool"]["command"].as_str(), Some("uvx"));
        assert_eq!(toml["mcp_servers"]["agentpool"]["args"].as_array().unwrap().len(), 4);
        assert!(
            codex["commands"][0]
                .as_str()
                .unwrap()
                .ends_with(&format!("agentpool -- uvx --from agentpool-cli=={v} agentpool mcp"))
        );
        let opencode = config_for("opencode", &npx).unwrap();
        assert_eq!(
            opencode["config"]["mcp"]["agentpool"]["command"],
            json!(["npx", "-y", format!("@agentpool/cli@{v}"), "mcp"])
        );
        let cursor = config_for("cursor", &npx).unwrap();
        assert_eq!(cursor["config"]["mcpServers"]["agentpool"]["args"][1], format!("@agentpool/cli@{v}"));
    }
}
