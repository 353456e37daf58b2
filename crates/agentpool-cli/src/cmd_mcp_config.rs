//! `mcp-config --client <host>`: the snippet that registers `agentpool mcp` with an MCP host,
//! in that host's own format, plus where it goes and how to check it worked.
//!
//! Nothing is written: AgentPool never edits a host's config files. Text output is exactly the
//! snippet (JSON, or TOML for Codex) so it can be redirected; notes go to stderr. `--install`
//! adds the host's own install helper (CLI commands, or Cursor's install link) to the output.

use agentpool_core::error::{Error, ErrorCode, Result};
use clap::Args;
use serde_json::{Value, json};

use crate::output::Out;

/// Hosts we know the format of.
pub const CLIENTS: &[&str] = &["generic", "cursor", "claude-code", "codex", "copilot-cli", "claude-desktop"];

/// `mcp-config` arguments.
#[derive(Debug, Args)]
pub struct McpConfigArgs {
    /// generic, cursor, claude-code, codex, copilot-cli or claude-desktop.
    #[arg(long, default_value = "generic")]
    pub client: String,
    /// Use the full path of this `agentpool` binary instead of relying on PATH.
    #[arg(long)]
    pub absolute_command: bool,
    /// Include the host's install helper (commands or link); nothing is written.
    #[arg(long)]
    pub install: bool,
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The command hosts should start, and a warning when it will not survive.
pub fn server_command(absolute: bool) -> (String, Option<String>) {
    if !absolute {
        return ("agentpool".to_owned(), None);
    }
    match std::env::current_exe() {
        Ok(p) => {
            let s = p.display().to_string();
            let ephemeral = ["/tmp/", "/target/debug/", "/target/release/", "/.cache/"].iter().any(|m| s.contains(m));
            let warn = ephemeral.then(|| {
                format!("`{s}` looks temporary (a build or cache directory); install with `cargo install --path crates/agentpool-cli` and use that path")
            });
            (s, warn)
        }
        Err(_) => {
            ("agentpool".to_owned(), Some("could not resolve this binary's path; using `agentpool` from PATH".into()))
        }
    }
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

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The payload for one host.
pub fn config_for(client: &str, command: &str) -> Result<Value> {
    let client = client.trim().to_ascii_lowercase();
    let q = shell_quote(command);
    let plain = json!({"mcpServers": {"agentpool": {"command": command, "args": ["mcp"]}}});
    let v = match client.as_str() {
        "generic" => json!({
            "path": "the host's MCP config file",
            "format": "json",
            "config": plain,
            "verify": ["Reload the host and check that the agentpool tools are listed."],
            "install": {"kind": "manual", "steps": ["Merge `config` into the host's MCP server list."]},
        }),
        "claude-desktop" => json!({
            "path": "~/Library/Application Support/Claude/claude_desktop_config.json (macOS) or %APPDATA%\\Claude\\claude_desktop_config.json (Windows)",
            "format": "json",
            "config": plain,
            "verify": ["Restart Claude Desktop, then open Settings > Developer and check `agentpool` is running."],
            "install": {"kind": "manual", "steps": ["Merge `config` into claude_desktop_config.json and restart Claude Desktop."]},
        }),
        "cursor" => {
            let server = json!({"type": "stdio", "command": command, "args": ["mcp"]});
            let link = format!(
                "cursor://anysphere.cursor-deeplink/mcp/install?name=agentpool&config={}",
                base64(json!({"command": command, "args": ["mcp"]}).to_string().as_bytes())
            );
            json!({
                "path": ".cursor/mcp.json (this project) or ~/.cursor/mcp.json (every project)",
                "format": "json",
                "config": {"mcpServers": {"agentpool": server}},
                "verify": ["Open Cursor Settings > MCP and check `agentpool` is enabled; restart Cursor if it is missing."],
                "install": {"kind": "deeplink", "url": link},
            })
        }
        "claude-code" => json!({
            "path": ".mcp.json (project scope) or ~/.claude.json (user scope)",
            "format": "json",
            "config": {"mcpServers": {"agentpool": {"type": "stdio", "command": command, "args": ["mcp"], "env": {}}}},
            "commands": [
                format!("claude mcp add --transport stdio --scope local agentpool -- {q} mcp"),
                format!("claude mcp add --transport stdio --scope project agentpool -- {q} mcp"),
                format!("claude mcp add --transport stdio --scope user agentpool -- {q} mcp"),
            ],
            "verify": ["claude mcp list", "/mcp inside Claude Code"],
            "install": {"kind": "shell", "commands": [format!("claude mcp add --transport stdio --scope user agentpool -- {q} mcp")]},
        }),
        "codex" => json!({
            "path": "~/.codex/config.toml (or .codex/config.toml in a trusted project)",
            "format": "toml",
            "config": format!(
                "[mcp_servers.agentpool]\ncommand = {}\nargs = [\"mcp\"]\nstartup_timeout_sec = 10\ntool_timeout_sec = 300\n",
                toml_str(command)
            ),
            "commands": [format!("codex mcp add agentpool -- {q} mcp")],
            "verify": ["codex mcp list", "/mcp inside Codex"],
            "install": {"kind": "shell", "commands": [format!("codex mcp add agentpool -- {q} mcp")]},
        }),
        "copilot-cli" => json!({
            "path": "~/.copilot/mcp-config.json",
            "format": "json",
            "config": {"mcpServers": {"agentpool": {"type": "local", "command": command, "args": ["mcp"], "tools": ["*"]}}},
            "commands": [format!("copilot mcp add agentpool -- {q} mcp")],
            "verify": ["copilot mcp list", "copilot mcp get agentpool", "/mcp show agentpool inside Copilot CLI"],
            "install": {"kind": "shell", "commands": [format!("copilot mcp add agentpool -- {q} mcp")],
                        "tui": "/mcp add inside Copilot CLI"},
        }),
        other => {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("unknown MCP client `{other}`; use one of: {}", CLIENTS.join(", ")),
            )
            .with("client", other)
            .with("supported_clients", CLIENTS)
            .with("example", "agentpool mcp-config --client cursor --json"));
        }
    };
    let mut out = json!({"client": client, "server": {"command": command, "args": ["mcp"]}});
    if let (Some(o), Some(m)) = (out.as_object_mut(), v.as_object()) {
        for (k, x) in m {
            o.insert(k.clone(), x.clone());
        }
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

pub fn run(a: &McpConfigArgs) -> Result<Out> {
    let (command, warning) = server_command(a.absolute_command);
    let mut payload = config_for(&a.client, &command)?;
    if !a.install
        && let Some(o) = payload.as_object_mut()
    {
        o.remove("install");
    }
    if let Some(w) = &warning {
        payload["warnings"] = json!([w]);
    }
    let text = snippet(&payload);
    // Notes go to stderr so stdout stays a valid file.
    if let Some(w) = &warning {
        eprintln!("warning: {w}");
    }
    eprintln!("# paste into: {}", payload["path"].as_str().unwrap_or(""));
    if a.install {
        match payload["install"]["kind"].as_str() {
            Some("deeplink") => eprintln!("# install link: {}", payload["install"]["url"].as_str().unwrap_or("")),
            Some("shell") => {
                for c in payload["install"]["commands"].as_array().into_iter().flatten() {
                    eprintln!("# or run: {}", c.as_str().unwrap_or(""));
                }
            }
            _ => {}
        }
    }
    Ok(Out::new(payload, text))
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
        let codex = config_for("Codex", "/opt/a b/agentpool").unwrap();
        assert!(codex["config"].as_str().unwrap().contains("command = \"/opt/a b/agentpool\""));
        assert_eq!(codex["commands"][0], "codex mcp add agentpool -- '/opt/a b/agentpool' mcp");
        assert_eq!(config_for("nope", "agentpool").unwrap_err().code, ErrorCode::InvalidRequest);
    }
}
