//! MCP hosts: how each one lists its servers, where it keeps that list, and how AgentPool's
//! entry is written there (`mcp-config --install`) or found there (`setup`).
//!
//! Every host gets the same server: `<command> mcp`, with the environment that keeps it on the
//! caller's pool (`AGENTPOOL_HOME`, `AGENTPOOL_CONFIG`, `AGENTPOOL_TMUX_SOCKET`, `TMUX_TMPDIR`
//! when set). Hosts differ only in the envelope around it.

use std::path::{Path, PathBuf};

use agentpool_core::config::{ENV_CONFIG, ENV_HOME, ENV_TMUX_SOCKET};
use agentpool_core::error::{Error, ErrorCode, Result};
use serde_json::{Map, Value, json};

/// The server's name in every host's list.
pub const SERVER_NAME: &str = "agentpool";

/// Variables that decide which pool a server works on. Hosts start servers with an
/// environment of their own (Codex passes almost none), so the values the user has set now are
/// written into the entry.
pub const POOL_ENV: &[&str] = &[ENV_HOME, ENV_CONFIG, ENV_TMUX_SOCKET, "TMUX_TMPDIR"];

/// Where an entry can live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user's own configuration, for every project.
    User,
    /// The current directory's project configuration.
    Project,
}

impl Scope {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" | "global" => Ok(Self::User),
            "project" | "workspace" => Ok(Self::Project),
            other => {
                Err(Error::new(ErrorCode::InvalidRequest, format!("unknown scope `{other}`; use user or project"))
                    .with("scope", other)
                    .with("example", "agentpool mcp-config --client cursor --install --scope user --dry-run"))
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Project => "project",
        }
    }
}

/// How a host's file holds its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON `{"<key>": {"agentpool": {...}}}`.
    Json { key: &'static str },
    /// Codex's TOML `[mcp_servers.agentpool]`.
    CodexToml,
}

/// One MCP host.
#[derive(Debug)]
pub struct Host {
    pub id: &'static str,
    /// Other spellings accepted for `--client`.
    pub aliases: &'static [&'static str],
    pub display: &'static str,
    pub format: Format,
    /// The scope `--install` uses when none is given.
    pub default_scope: Scope,
    /// Human description of where the snippet goes.
    pub place: &'static str,
    pub verify: &'static [&'static str],
}

/// Every host with a preset (`generic` first, the default), in the order `setup all` reports
/// them.
pub const HOSTS: &[Host] = &[
    Host {
        id: "generic",
        aliases: &[],
        display: "any other host",
        format: Format::Json { key: "mcpServers" },
        default_scope: Scope::User,
        place: "the host's MCP config file",
        verify: &["Reload the host and check that the agentpool tools are listed."],
    },
    Host {
        id: "cursor",
        aliases: &[],
        display: "Cursor",
        format: Format::Json { key: "mcpServers" },
        default_scope: Scope::User,
        place: "~/.cursor/mcp.json (every project) or .cursor/mcp.json (this project)",
        verify: &["Open Cursor Settings > MCP and check that `agentpool` is enabled; restart Cursor if it is missing."],
    },
    Host {
        id: "claude-code",
        aliases: &["claude"],
        display: "Claude Code",
        format: Format::Json { key: "mcpServers" },
        default_scope: Scope::User,
        place: "`claude mcp add-json --scope user` (every project) or .mcp.json (this project)",
        verify: &[
            "claude mcp list",
            "claude mcp get agentpool",
            "/mcp inside Claude Code",
            "project scope: start `claude` in the project once and approve the `agentpool` server",
        ],
    },
    Host {
        id: "codex",
        aliases: &["codex-cli"],
        display: "Codex CLI",
        format: Format::CodexToml,
        default_scope: Scope::User,
        place: "~/.codex/config.toml ($CODEX_HOME/config.toml) or .codex/config.toml in a trusted project",
        verify: &[
            "codex mcp list",
            "codex mcp get agentpool",
            "/mcp inside Codex",
            "project scope: Codex reads .codex/config.toml only in a project it trusts",
        ],
    },
    Host {
        id: "copilot-cli",
        aliases: &["copilot"],
        display: "GitHub Copilot CLI",
        format: Format::Json { key: "mcpServers" },
        default_scope: Scope::User,
        place: "~/.copilot/mcp-config.json",
        verify: &["copilot mcp list", "/mcp show agentpool inside Copilot CLI"],
    },
    Host {
        id: "claude-desktop",
        aliases: &[],
        display: "Claude Desktop",
        format: Format::Json { key: "mcpServers" },
        default_scope: Scope::User,
        place: "claude_desktop_config.json (Claude Desktop: Settings > Developer > Edit Config)",
        verify: &["Restart Claude Desktop, then open Settings > Developer and check that `agentpool` is running."],
    },
    Host {
        id: "vscode",
        aliases: &["vs-code", "code"],
        display: "VS Code",
        format: Format::Json { key: "servers" },
        default_scope: Scope::Project,
        place: ".vscode/mcp.json (this workspace) or the user profile's mcp.json (`code --add-mcp`)",
        verify: &["Run `MCP: List Servers` from the Command Palette and start `agentpool`."],
    },
    Host {
        id: "windsurf",
        aliases: &[],
        display: "Windsurf",
        format: Format::Json { key: "mcpServers" },
        default_scope: Scope::User,
        place: "~/.codeium/windsurf/mcp_config.json",
        verify: &["Open Windsurf Settings > Cascade > MCP servers and refresh; `agentpool` should list its tools."],
    },
    Host {
        id: "gemini",
        aliases: &["gemini-cli"],
        display: "Gemini CLI",
        format: Format::Json { key: "mcpServers" },
        default_scope: Scope::User,
        place: "~/.gemini/settings.json (every project) or .gemini/settings.json (this project)",
        verify: &[
            "gemini mcp list",
            "/mcp inside Gemini CLI",
            "Gemini CLI disables every MCP server in a folder it does not trust: trust the folder when it asks",
        ],
    },
    Host {
        id: "opencode",
        aliases: &[],
        display: "opencode",
        format: Format::Json { key: "mcp" },
        default_scope: Scope::User,
        place: "~/.config/opencode/opencode.json (every project) or opencode.json (this project)",
        verify: &["opencode mcp list"],
    },
];

/// The `--client` names, as help and errors list them.
pub fn client_names() -> Vec<&'static str> {
    HOSTS.iter().map(|h| h.id).collect()
}

/// The host `--client` names (case-insensitive, aliases accepted).
pub fn find(client: &str) -> Result<&'static Host> {
    let c = client.trim().to_ascii_lowercase();
    HOSTS.iter().find(|h| h.id == c || h.aliases.contains(&c.as_str())).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("unknown MCP client `{c}`; use one of: {}", client_names().join(", ")),
        )
        .with("client", c.clone())
        .with("supported_clients", client_names())
        .with("example", "agentpool mcp-config --client claude-code")
    })
}

/// The pool variables set (and not empty) in this process, relative paths made absolute so the
/// host, started elsewhere, finds the same pool.
pub fn pool_env() -> Map<String, Value> {
    let mut env = Map::new();
    for key in POOL_ENV {
        let Some(value) = std::env::var_os(key).filter(|v| !v.is_empty()) else { continue };
        let mut value = PathBuf::from(value);
        if *key != ENV_TMUX_SOCKET
            && value.is_relative()
            && let Ok(cwd) = std::env::current_dir()
        {
            value = cwd.join(value);
        }
        env.insert((*key).to_owned(), json!(value.to_string_lossy()));
    }
    env
}

/// The command a host runs to start the server: `command args…`, the last argument `mcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub command: String,
    pub args: Vec<String>,
}

impl Server {
    /// `<command> mcp`.
    pub fn binary(command: impl Into<String>) -> Self {
        Self { command: command.into(), args: vec!["mcp".into()] }
    }

    /// The whole command line, quoted for a POSIX shell.
    pub fn shell_line(&self) -> String {
        std::iter::once(&self.command)
            .chain(&self.args)
            .map(|a| crate::cmd_mcp_config::shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// AgentPool's entry in `host`'s server list.
pub fn entry(host: &Host, server: &Server, env: &Map<String, Value>) -> Value {
    let mut e = Map::new();
    match host.id {
        "opencode" => {
            e.insert("type".into(), json!("local"));
            let line: Vec<&String> = std::iter::once(&server.command).chain(&server.args).collect();
            e.insert("command".into(), json!(line));
            e.insert("enabled".into(), json!(true));
            if !env.is_empty() {
                e.insert("environment".into(), Value::Object(env.clone()));
            }
            return Value::Object(e);
        }
        "cursor" | "claude-code" | "vscode" => {
            e.insert("type".into(), json!("stdio"));
        }
        "copilot-cli" => {
            e.insert("type".into(), json!("local"));
        }
        _ => {}
    }
    e.insert("command".into(), json!(server.command));
    e.insert("args".into(), json!(server.args));
    if !env.is_empty() {
        e.insert("env".into(), Value::Object(env.clone()));
    }
    if host.id == "copilot-cli" {
        e.insert("tools".into(), json!(["*"]));
    }
    if host.id == "codex" {
        // Room for long observe waits.
        // A package runner (npx, uvx) may download the package on first start.
        let runner = matches!(server.command.as_str(), "npx" | "uvx");
        e.insert("startup_timeout_sec".into(), json!(if runner { 60 } else { 10 }));
        e.insert("tool_timeout_sec".into(), json!(300));
    }
    Value::Object(e)
}

/// The snippet to paste: the whole server list holding only AgentPool's entry.
pub fn snippet(host: &Host, entry: &Value) -> String {
    match host.format {
        Format::Json { key } => {
            let mut doc = json!({ key: { SERVER_NAME: entry } });
            if host.id == "opencode" {
                doc = json!({"$schema": "https://opencode.ai/config.json", key: { SERVER_NAME: entry }});
            }
            format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default())
        }
        Format::CodexToml => {
            let mut doc = toml_edit::DocumentMut::new();
            set_codex_entry(&mut doc, entry);
            doc.to_string()
        }
    }
}

/// Where `--install` puts the entry for `host` in `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file AgentPool edits itself.
    File(PathBuf),
    /// The host's own command adds the entry (`claude mcp add-json`, `code --add-mcp`).
    Command { program: &'static str, args: Vec<String>, state_file: Option<PathBuf> },
    /// Nothing to edit safely: the user pastes the snippet.
    Manual(String),
}

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).ok_or_else(|| {
        Error::new(ErrorCode::InvalidConfig, "`HOME` is not set, so the host's config file cannot be found")
    })
}

fn cwd() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| Error::io("could not read the current directory", &e))
}

fn xdg_config() -> Result<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(home()?.join(".config")),
    }
}

fn claude_desktop_file() -> Result<PathBuf> {
    if cfg!(target_os = "macos") {
        Ok(home()?.join("Library/Application Support/Claude/claude_desktop_config.json"))
    } else if cfg!(windows) {
        let appdata = std::env::var_os("APPDATA").map(PathBuf::from).map_or_else(home, Ok)?;
        Ok(appdata.join("Claude").join("claude_desktop_config.json"))
    } else {
        Ok(xdg_config()?.join("Claude/claude_desktop_config.json"))
    }
}

/// Where `host`'s entry goes in `scope`.
pub fn target(host: &Host, scope: Scope, entry: &Value) -> Result<Target> {
    let unsupported = || {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("{} has no {} scope; use --scope {}", host.display, scope.as_str(), host.default_scope.as_str()),
        )
        .with("client", host.id)
        .with("scope", scope.as_str())
        .with(
            "example",
            format!("agentpool mcp-config --client {} --install --scope {}", host.id, host.default_scope.as_str()),
        )
    };
    Ok(match (host.id, scope) {
        ("cursor", Scope::User) => Target::File(home()?.join(".cursor/mcp.json")),
        ("cursor", Scope::Project) => Target::File(cwd()?.join(".cursor/mcp.json")),
        ("claude-code", Scope::User) => Target::Command {
            program: "claude",
            args: vec![
                "mcp".into(),
                "add-json".into(),
                "--scope".into(),
                "user".into(),
                SERVER_NAME.into(),
                entry.to_string(),
            ],
            state_file: Some(home()?.join(".claude.json")),
        },
        ("claude-code", Scope::Project) => Target::File(cwd()?.join(".mcp.json")),
        ("codex", Scope::User) => {
            let dir = match std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
                Some(d) => PathBuf::from(d),
                None => home()?.join(".codex"),
            };
            Target::File(dir.join("config.toml"))
        }
        ("codex", Scope::Project) => Target::File(cwd()?.join(".codex/config.toml")),
        ("copilot-cli", Scope::User) => Target::File(home()?.join(".copilot/mcp-config.json")),
        ("claude-desktop", Scope::User) => Target::File(claude_desktop_file()?),
        ("vscode", Scope::Project) => Target::File(cwd()?.join(".vscode/mcp.json")),
        ("vscode", Scope::User) => {
            let mut named = Map::new();
            named.insert("name".into(), json!(SERVER_NAME));
            if let Value::Object(e) = entry {
                named.extend(e.clone());
            }
            Target::Command {
                program: "code",
                args: vec!["--add-mcp".into(), Value::Object(named).to_string()],
                state_file: None,
            }
        }
        ("windsurf", Scope::User) => Target::File(home()?.join(".codeium/windsurf/mcp_config.json")),
        ("gemini", Scope::User) => Target::File(home()?.join(".gemini/settings.json")),
        ("gemini", Scope::Project) => Target::File(cwd()?.join(".gemini/settings.json")),
        ("opencode", Scope::User) => Target::File(xdg_config()?.join("opencode/opencode.json")),
        ("opencode", Scope::Project) => Target::File(cwd()?.join("opencode.json")),
        ("generic", _) => Target::Manual("merge the snippet into your host's MCP server list".into()),
        _ => return Err(unsupported()),
    })
}

/// Writes `entry` into a codex `config.toml` document, keeping everything else (comments,
/// order, formatting, keys of ours the user added such as `enabled`).
pub fn set_codex_entry(doc: &mut toml_edit::DocumentMut, entry: &Value) {
    use toml_edit::{Array, InlineTable, Item, Table, value};
    let servers = doc.entry("mcp_servers").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(servers) = servers.as_table_like_mut() else {
        // `mcp_servers` is something else (a string?): replace it with a proper table.
        let mut t = Table::new();
        t.set_implicit(true);
        doc["mcp_servers"] = Item::Table(t);
        return set_codex_entry(doc, entry);
    };
    if !servers.get(SERVER_NAME).is_some_and(|i| i.is_table_like()) {
        servers.insert(SERVER_NAME, Item::Table(Table::new()));
    }
    let Some(ours) = servers.get_mut(SERVER_NAME).and_then(Item::as_table_like_mut) else { return };
    ours.insert("command", value(entry["command"].as_str().unwrap_or(SERVER_NAME)));
    let args = entry["args"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>());
    ours.insert("args", value(Array::from_iter(args.unwrap_or_else(|| vec!["mcp"]))));
    match entry.get("env").and_then(Value::as_object) {
        Some(env) => {
            let mut t = InlineTable::new();
            for (k, v) in env {
                t.insert(k, v.as_str().unwrap_or_default().into());
            }
            ours.insert("env", value(t));
        }
        None => {
            ours.remove("env");
        }
    }
    for key in ["startup_timeout_sec", "tool_timeout_sec"] {
        if let Some(n) = entry.get(key).and_then(Value::as_i64) {
            ours.insert(key, value(n));
        }
    }
}

/// `text` (a host's file, possibly empty) with AgentPool's entry set.
pub fn merged(host: &Host, text: &str, entry: &Value, path: &Path) -> Result<String> {
    let unreadable = |why: String| {
        Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "`{}` is not plain {}: {why}; nothing was changed — add the snippet by hand",
                path.display(),
                match host.format {
                    Format::Json { .. } => "JSON",
                    Format::CodexToml => "TOML",
                }
            ),
        )
        .with("path", path.display().to_string())
    };
    match host.format {
        Format::CodexToml => {
            let mut doc: toml_edit::DocumentMut =
                text.parse().map_err(|e: toml_edit::TomlError| unreadable(e.to_string()))?;
            set_codex_entry(&mut doc, entry);
            let mut out = doc.to_string();
            if !out.ends_with('\n') {
                out.push('\n');
            }
            Ok(out)
        }
        Format::Json { key } => {
            let mut doc: Value = if text.trim().is_empty() {
                if host.id == "opencode" { json!({"$schema": "https://opencode.ai/config.json"}) } else { json!({}) }
            } else {
                serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?
            };
            let Value::Object(root) = &mut doc else { return Err(unreadable("the top level is not an object".into())) };
            let servers = root.entry(key).or_insert_with(|| json!({}));
            let Value::Object(servers) = servers else {
                return Err(unreadable(format!("`{key}` is not an object")));
            };
            servers.insert(SERVER_NAME.to_owned(), entry.clone());
            Ok(format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()))
        }
    }
}

/// AgentPool's entry as `text` holds it, when it does.
pub fn existing_entry(host: &Host, text: &str) -> Option<Value> {
    match host.format {
        Format::CodexToml => {
            let doc: toml::Table = toml::from_str(text).ok()?;
            let entry = doc.get("mcp_servers")?.get(SERVER_NAME)?;
            serde_json::to_value(entry).ok()
        }
        Format::Json { key } => {
            let doc: Value = serde_json::from_str(text).ok()?;
            doc.get(key)?.get(SERVER_NAME).cloned()
        }
    }
}

/// Is AgentPool registered with `host`, and where? `None` when nothing can be read to tell.
pub fn registered(host: &Host) -> Option<(bool, String)> {
    let mut places: Vec<PathBuf> = Vec::new();
    match host.id {
        "generic" => return None,
        // `claude mcp add --scope user` writes the top-level `mcpServers` of ~/.claude.json.
        "claude-code" => places.push(home().ok()?.join(".claude.json")),
        // The user profile's mcp.json has no fixed path across platforms.
        "vscode" => {}
        _ => {
            if let Ok(Target::File(p)) = target(host, Scope::User, &Value::Null) {
                places.push(p);
            }
        }
    }
    if let Ok(Target::File(p)) = target(host, Scope::Project, &Value::Null) {
        places.push(p);
    }
    let mut first = None;
    for p in places {
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        let shown = p.display().to_string();
        if existing_entry(host, &text).is_some() {
            return Some((true, shown));
        }
        first.get_or_insert(shown);
    }
    Some((false, first.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("AGENTPOOL_HOME".into(), json!("/pool"));
        m
    }

    #[test]
    fn every_host_parses_its_own_snippet() {
        for host in HOSTS {
            let e = entry(host, &Server::binary("/opt/a b/agentpool"), &env());
            let text = snippet(host, &e);
            let back = existing_entry(host, &text).unwrap_or_else(|| panic!("{}: {text}", host.id));
            let env_key = if host.id == "opencode" { "environment" } else { "env" };
            assert_eq!(back[env_key]["AGENTPOOL_HOME"], "/pool", "{}", host.id);
        }
    }

    #[test]
    fn codex_merge_keeps_comments_and_other_servers() {
        let host = find("codex").unwrap();
        let before = "# my settings\nmodel = \"o3\" # pinned\n\n[mcp_servers.other]\ncommand = \"x\"\n\n[mcp_servers.agentpool]\ncommand = \"old\"\nenabled = false\n";
        let after =
            merged(host, before, &entry(host, &Server::binary("/bin/agentpool"), &env()), Path::new("c.toml")).unwrap();
        assert!(after.starts_with("# my settings\nmodel = \"o3\" # pinned\n"), "{after}");
        assert!(after.contains("[mcp_servers.other]\ncommand = \"x\""), "{after}");
        let parsed: toml::Table = toml::from_str(&after).unwrap();
        let ours = &parsed["mcp_servers"]["agentpool"];
        assert_eq!(ours["command"].as_str(), Some("/bin/agentpool"));
        assert_eq!(ours["enabled"].as_bool(), Some(false), "the user's own keys stay");
        assert_eq!(ours["env"]["AGENTPOOL_HOME"].as_str(), Some("/pool"));
        // Merging again changes nothing.
        assert_eq!(
            merged(host, &after, &entry(host, &Server::binary("/bin/agentpool"), &env()), Path::new("c.toml")).unwrap(),
            after
        );
        // A fresh file gets a dotted table header, not an empty `[mcp_servers]`.
        let fresh =
            merged(host, "", &entry(host, &Server::binary("agentpool"), &Map::new()), Path::new("c.toml")).unwrap();
        assert!(fresh.starts_with("[mcp_servers.agentpool]\n"), "{fresh}");
    }

    #[test]
    fn json_merge_keeps_other_servers_and_refuses_what_it_cannot_read() {
        let host = find("cursor").unwrap();
        let before = r#"{"mcpServers": {"other": {"command": "x"}}, "keep": 1}"#;
        let after =
            merged(host, before, &entry(host, &Server::binary("agentpool"), &Map::new()), Path::new("m.json")).unwrap();
        let v: Value = serde_json::from_str(&after).unwrap();
        assert_eq!(v["mcpServers"]["other"]["command"], "x");
        assert_eq!(v["keep"], 1);
        assert_eq!(v["mcpServers"]["agentpool"]["args"], json!(["mcp"]));
        let err = merged(
            host,
            "{ // comment\n}",
            &entry(host, &Server::binary("agentpool"), &Map::new()),
            Path::new("m.json"),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConfig);
        assert!(err.message.contains("nothing was changed"), "{}", err.message);
        let vs = find("visual studio").unwrap_err();
        assert_eq!(vs.code, ErrorCode::InvalidRequest);
        assert_eq!(find("vs-code").unwrap().id, "vscode");
    }
}
