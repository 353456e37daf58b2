//! `config validate|show|path` and `completions <shell>`: inspecting the configuration with
//! honest exit codes, and shell completion scripts generated from the clap definition.

use std::path::PathBuf;

use agentpool_core::config::{Paths, Settings, absolute, expand_tilde};
use agentpool_core::error::{Error, ErrorCode, Result};
use clap::{Args, CommandFactory, Subcommand};
use serde_json::{Value, json};

use crate::output::Out;

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a config file; exit 1 when it is invalid or an explicit --path does not exist.
    #[command(
        after_help = "Examples:\n  agentpool config validate --json\n  agentpool config validate --path ./team-config.toml"
    )]
    Validate(ConfigPathArg),
    /// The effective configuration (file values over defaults) and resolved paths.
    #[command(
        visible_alias = "print",
        after_help = "Examples:\n  agentpool config show\n  agentpool config show --json"
    )]
    Show(ConfigPathArg),
    /// Where the config file is (`$AGENTPOOL_CONFIG`, else `$AGENTPOOL_HOME/config.toml`).
    #[command(after_help = "Examples:\n  agentpool config path\n  $EDITOR \"$(agentpool config path)\"")]
    Path,
}

#[derive(Debug, Args)]
pub struct ConfigPathArg {
    /// Config file to read instead of the resolved one.
    #[arg(long)]
    pub path: Option<PathBuf>,
}

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

fn resolve(path: Option<&PathBuf>) -> Result<(PathBuf, PathBuf, bool)> {
    let (home, config_file) = Paths::from_env()?;
    Ok(match path {
        Some(p) => (home, absolute(&expand_tilde(p)), true),
        None => (home, config_file, false),
    })
}

pub fn run(cmd: &ConfigCommand) -> Result<Out> {
    match cmd {
        ConfigCommand::Path => {
            let (home, file, _) = resolve(None)?;
            let source = if std::env::var_os(agentpool_core::config::ENV_CONFIG).is_some_and(|v| !v.is_empty()) {
                "AGENTPOOL_CONFIG"
            } else {
                "default"
            };
            let j = json!({"config_path": file, "exists": file.exists(), "source": source, "home": home});
            Ok(Out::new(j, format!("{}\n", file.display())))
        }
        ConfigCommand::Validate(a) => {
            let (home, file, explicit) = resolve(a.path.as_ref())?;
            let exists = file.exists();
            let result = if !exists && explicit {
                Err(Error::new(ErrorCode::InvalidConfig, format!("config file `{}` not found", file.display())))
            } else {
                Settings::load_from(home, file.clone()).map(|_| ())
            };
            let (ok, errors) = match result {
                Ok(()) => (true, Vec::new()),
                Err(e) => (false, vec![json!({"code": e.code.as_str(), "message": e.message, "details": e.details})]),
            };
            let note = if exists { "" } else { " (no file: defaults apply)" };
            let human = match errors.first() {
                None => format!("ok: {}{note}\n", file.display()),
                Some(e) => format!("invalid: {}\n  {}\n", file.display(), e["message"].as_str().unwrap_or("")),
            };
            let j = json!({"ok": ok, "path": file, "exists": exists, "errors": errors});
            Ok(Out::new(j, human).failed_if(!ok))
        }
        ConfigCommand::Show(a) => {
            let (home, file, explicit) = resolve(a.path.as_ref())?;
            if explicit && !file.exists() {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("config file `{}` not found", file.display()),
                )
                .with("path", file.display().to_string()));
            }
            let settings = Settings::load_from(home, file)?;
            let config = serde_json::to_value(&settings.config).unwrap_or(Value::Null);
            let p = &settings.paths;
            let paths = json!({"home": p.home, "config_file": p.config_file, "db_path": p.db_path,
                               "artifact_root": p.artifact_root, "preferences": p.preferences,
                               "tmux_socket": settings.tmux_socket});
            let mut human = String::new();
            flatten("paths", &paths, &mut human);
            flatten("", &config, &mut human);
            Ok(Out::new(json!({"paths": paths, "config": config, "exists": p.config_file.exists()}), human))
        }
    }
}

/// `a.b.c = value` lines, one per leaf.
fn flatten(prefix: &str, v: &Value, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, x, out);
            }
        }
        other => out.push_str(&format!("{prefix} = {other}\n")),
    }
}

pub fn completions(a: &CompletionsArgs) -> Result<Out> {
    let mut cmd = crate::args::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "agentpool", &mut buf);
    let script = String::from_utf8_lossy(&buf).into_owned();
    Ok(Out::new(json!({"shell": a.shell.to_string(), "script": script}), script))
}
