//! `mcp-config`: every host's snippet parses in that host's own format and carries the pool's
//! environment; `--install --dry-run` changes nothing; `--install` writes what the same parser
//! accepts, keeps what was there, and leaves a backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use agentpool_tests::{TestContext, describe};
use serde_json::{Value, json};

const CLIENTS: &[&str] = &[
    "generic",
    "cursor",
    "claude-code",
    "codex",
    "copilot-cli",
    "claude-desktop",
    "vscode",
    "windsurf",
    "gemini",
    "opencode",
];

/// Variables that would change where hosts keep files, or what the pool is, removed so each
/// run sees only what the test sets.
const HOST_ENV: &[&str] = &["XDG_CONFIG_HOME", "CODEX_HOME", "APPDATA", "TMUX_TMPDIR"];

fn run(ctx: &TestContext, args: &[&str], env: &[(&str, &str)], unset_pool: bool) -> Output {
    let mut c = ctx.command(args);
    for k in HOST_ENV {
        c.env_remove(k);
    }
    if unset_pool {
        c.env_remove("AGENTPOOL_HOME").env_remove("AGENTPOOL_TMUX_SOCKET");
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run agentpool");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", describe(&out));
    out
}

fn ok_json(ctx: &TestContext, args: &[&str], env: &[(&str, &str)]) -> Value {
    let out = run(ctx, args, env, false);
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", describe(&out)))
}

/// AgentPool's entry as the host would read `text`: (command, args, env).
fn read_entry(client: &str, text: &str) -> (String, Vec<String>, Value) {
    if client == "codex" {
        let doc: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("codex TOML: {e}\n{text}"));
        let s = serde_json::to_value(&doc["mcp_servers"]["agentpool"]).unwrap();
        let args = s["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
        return (s["command"].as_str().unwrap().to_owned(), args, s.get("env").cloned().unwrap_or(Value::Null));
    }
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{client} JSON: {e}\n{text}"));
    match client {
        "opencode" => {
            let s = &doc["mcp"]["agentpool"];
            assert_eq!((s["type"].as_str(), s["enabled"].as_bool()), (Some("local"), Some(true)), "{text}");
            let cmd: Vec<String> =
                s["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
            (cmd[0].clone(), cmd[1..].to_vec(), s.get("environment").cloned().unwrap_or(Value::Null))
        }
        _ => {
            let key = if client == "vscode" { "servers" } else { "mcpServers" };
            let s = &doc[key]["agentpool"];
            let args = s["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
            (s["command"].as_str().unwrap().to_owned(), args, s.get("env").cloned().unwrap_or(Value::Null))
        }
    }
}

#[test]
fn snippets_parse_in_each_hosts_format_and_carry_the_pool() {
    let ctx = TestContext::new();
    let err = ctx.error(&["mcp-config", "--client", "notepad", "--json"], "INVALID_REQUEST");
    assert_eq!(err["details"]["supported_clients"], json!(CLIENTS));
    let config = ctx.home().join("elsewhere.toml");
    let config = config.to_str().unwrap();
    let home = ctx.home().display().to_string();
    for client in CLIENTS {
        let out = run(
            &ctx,
            &["mcp-config", "--client", client, "--absolute-command"],
            &[("AGENTPOOL_CONFIG", config)],
            false,
        );
        assert!(out.status.success(), "{client}: {}", describe(&out));
        let (command, args, env) = read_entry(client, &String::from_utf8(out.stdout).unwrap());
        assert!(Path::new(&command).is_absolute() && command.ends_with("agentpool"), "{client}: {command}");
        assert_eq!(args, ["mcp"], "{client}");
        assert_eq!(
            env,
            json!({"AGENTPOOL_HOME": home, "AGENTPOOL_CONFIG": config, "AGENTPOOL_TMUX_SOCKET": ctx.socket()}),
            "{client}: a host's server works on the same pool as this shell"
        );
        // Without pool variables there is nothing to pass.
        let out = run(&ctx, &["mcp-config", "--client", client], &[], true);
        let (command, _, env) = read_entry(client, &String::from_utf8(out.stdout).unwrap());
        assert_eq!((command.as_str(), env), ("agentpool", Value::Null), "{client}");
        let j = ok_json(&ctx, &["mcp-config", "--client", client, "--json"], &[]);
        assert_eq!(j["server"]["env"]["AGENTPOOL_TMUX_SOCKET"], ctx.socket(), "{client}");
        assert!(j["install"]["kind"].is_string(), "{client}: {j}");
    }
    // A relative AGENTPOOL_HOME is written as the absolute path it means here.
    let out = run(&ctx, &["mcp-config", "--client", "cursor"], &[("AGENTPOOL_HOME", "rel/pool")], false);
    let (_, _, env) = read_entry("cursor", &String::from_utf8(out.stdout).unwrap());
    assert_eq!(env["AGENTPOOL_HOME"], ctx.repo().join("rel/pool").display().to_string());
}

#[test]
fn launchers_write_the_package_command_in_every_hosts_format() {
    let ctx = TestContext::new();
    let v = env!("CARGO_PKG_VERSION");
    let cases: [(&str, &str, Vec<String>); 2] = [
        ("npx", "npx", vec!["-y".into(), format!("@agentpool/cli@{v}"), "mcp".into()]),
        ("uvx", "uvx", vec!["--from".into(), format!("agentpool-cli=={v}"), "agentpool".into(), "mcp".into()]),
    ];
    for client in CLIENTS {
        for (launcher, command, args) in &cases {
            let out = run(&ctx, &["mcp-config", "--client", client, "--launcher", launcher], &[], true);
            assert!(out.status.success(), "{client} {launcher}: {}", describe(&out));
            let (c, a, _) = read_entry(client, &String::from_utf8(out.stdout).unwrap());
            assert_eq!((c.as_str(), &a), (*command, args), "{client} {launcher}");
        }
        // `cargo` names the binary `cargo install` puts in $CARGO_HOME/bin, and says when it is
        // not there yet.
        let cargo_home = ctx.home().join("cargo-home");
        let out = run(
            &ctx,
            &["mcp-config", "--client", client, "--launcher", "cargo"],
            &[("CARGO_HOME", cargo_home.to_str().unwrap())],
            true,
        );
        let (c, a, _) = read_entry(client, &String::from_utf8_lossy(&out.stdout));
        assert_eq!((c, a), (cargo_home.join("bin/agentpool").display().to_string(), vec!["mcp".to_owned()]));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cargo install --locked --git"), "{}", describe(&out));
    }
    // A launcher entry holds no path of this machine: a project file with it draws no warning.
    let out = run(
        &ctx,
        &["mcp-config", "--client", "cursor", "--launcher", "npx", "--install", "--scope", "project", "--json"],
        &[],
        true,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j.get("warnings").is_none(), "{j}");
    let written = std::fs::read_to_string(ctx.repo().join(".cursor/mcp.json")).unwrap();
    assert_eq!(read_entry("cursor", &written).0, "npx");
    // Unknown launchers and the old flag together are usage errors.
    let out = run(&ctx, &["mcp-config", "--launcher", "brew"], &[], true);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = run(&ctx, &["mcp-config", "--launcher", "npx", "--absolute-command"], &[], true);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

/// Every file under `dir`, with its contents.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// (client, extra args, file relative to HOME or the repository, what was there before).
fn install_cases() -> Vec<(&'static str, Vec<&'static str>, PathBuf, Option<&'static str>)> {
    vec![
        (
            "cursor",
            vec![],
            PathBuf::from("home/.cursor/mcp.json"),
            Some(r#"{"mcpServers": {"other": {"command": "x"}}}"#),
        ),
        ("cursor", vec!["--scope", "project"], PathBuf::from("repo/.cursor/mcp.json"), None),
        (
            "codex",
            vec![],
            PathBuf::from("home/.codex/config.toml"),
            Some("# my settings\nmodel = \"o3\" # pinned\n\n[mcp_servers.other]\ncommand = \"x\"\n"),
        ),
        ("claude-code", vec!["--scope", "project"], PathBuf::from("repo/.mcp.json"), None),
        ("copilot-cli", vec![], PathBuf::from("home/.copilot/mcp-config.json"), Some(r#"{"mcpServers": {}}"#)),
        ("claude-desktop", vec![], PathBuf::from("home/.config/Claude/claude_desktop_config.json"), None),
        (
            "vscode",
            vec![],
            PathBuf::from("repo/.vscode/mcp.json"),
            Some(r#"{"servers": {"other": {"command": "x"}}, "inputs": []}"#),
        ),
        ("windsurf", vec![], PathBuf::from("home/.codeium/windsurf/mcp_config.json"), None),
        (
            "gemini",
            vec![],
            PathBuf::from("home/.gemini/settings.json"),
            Some(r#"{"theme": "Default", "mcpServers": {"other": {"command": "x"}}}"#),
        ),
        ("opencode", vec![], PathBuf::from("home/.config/opencode/opencode.json"), None),
    ]
}

#[test]
fn install_dry_run_changes_nothing_and_install_writes_with_a_backup() {
    for (client, extra, rel, before) in install_cases() {
        let ctx = TestContext::new();
        let file = match rel.strip_prefix("home") {
            Ok(r) => ctx.home().join(r),
            Err(_) => ctx.repo().join(rel.strip_prefix("repo").unwrap()),
        };
        if let Some(text) = before {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, text).unwrap();
        }
        let mut args = vec!["mcp-config", "--client", client, "--install", "--json"];
        args.extend(&extra);
        let (home_before, repo_before) = (tree(ctx.home()), tree(ctx.repo()));
        let mut dry = args.clone();
        dry.push("--dry-run");
        let plan = ok_json(&ctx, &dry, &[]);
        assert_eq!((tree(ctx.home()), tree(ctx.repo())), (home_before, repo_before), "{client}: --dry-run wrote");
        let done = &plan["installed"];
        assert_eq!(done["path"], file.display().to_string(), "{client}: {plan}");
        assert_eq!(done["action"], if before.is_some() { "update" } else { "create" }, "{client}");
        assert!(done["diff"].as_str().unwrap().contains("+"), "{client}: the dry run shows the change");

        let done = ok_json(&ctx, &args, &[])["installed"].clone();
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{client}: {e}"));
        let (command, margs, env) = read_entry(client, &text);
        assert_eq!((command.as_str(), margs), ("agentpool", vec!["mcp".to_owned()]), "{client}");
        assert_eq!(env["AGENTPOOL_HOME"], ctx.home().display().to_string(), "{client}");
        match before {
            Some(original) => {
                let backup = done["backup"].as_str().unwrap_or_else(|| panic!("{client}: no backup: {done}"));
                assert_eq!(std::fs::read_to_string(backup).unwrap(), original, "{client}");
                if client == "codex" {
                    assert!(text.starts_with("# my settings\nmodel = \"o3\" # pinned\n"), "comments kept:\n{text}");
                }
                assert!(
                    text.contains("\"other\"") || text.contains("[mcp_servers.other]") || client == "copilot-cli",
                    "{text}"
                );
                if client == "gemini" {
                    assert!(text.contains("\"theme\""), "{text}");
                }
            }
            None => assert!(done["backup"].is_null(), "{client}: {done}"),
        }
        // Installing again changes nothing and backs up nothing.
        let files = tree(ctx.home()).len() + tree(ctx.repo()).len();
        let again = ok_json(&ctx, &args, &[])["installed"].clone();
        assert_eq!(again["action"], "unchanged", "{client}");
        assert_eq!(tree(ctx.home()).len() + tree(ctx.repo()).len(), files, "{client}");
    }
}

#[test]
fn install_refuses_what_it_cannot_parse_and_says_what_to_do() {
    let ctx = TestContext::new();
    let file = ctx.home().join(".cursor/mcp.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{ // a comment\n}").unwrap();
    let err = ctx.error(&["mcp-config", "--client", "cursor", "--install", "--json"], "INVALID_CONFIG");
    assert!(err["message"].as_str().unwrap().contains("nothing was changed"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ // a comment\n}");
    assert_eq!(tree(file.parent().unwrap()).len(), 1, "no backup for an untouched file");
    let err = ctx.error(&["mcp-config", "--client", "generic", "--install", "--json"], "INVALID_REQUEST");
    assert_eq!(err["details"]["example"], "agentpool mcp-config --client generic");
    let err = ctx
        .error(&["mcp-config", "--client", "windsurf", "--install", "--scope", "project", "--json"], "INVALID_REQUEST");
    assert!(err["message"].as_str().unwrap().contains("--scope user"), "{err}");
    // --dry-run and --scope only make sense with --install.
    assert_eq!(ctx.cmd(&["mcp-config", "--client", "cursor", "--dry-run"]).status.code(), Some(2));
}

#[test]
fn claude_code_user_scope_uses_claudes_own_command() {
    let ctx = TestContext::new();
    // Without `claude` on PATH: a clear error, nothing written.
    let out = run(
        &ctx,
        &["mcp-config", "--client", "claude-code", "--install", "--json"],
        &[("PATH", "/usr/bin:/bin")],
        false,
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "PROVIDER_NOT_INSTALLED", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("--scope project"), "{err}");
    assert!(!ctx.home().join(".claude.json").exists());

    // A stand-in `claude` that records its arguments (the real one is exercised by the host
    // conformance run); the first add reports the server exists, as claude does.
    let bin = ctx.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = ctx.home().join("claude-args.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nif [ \"$2\" = add-json ] && [ ! -e '{log}.seen' ]; then : > '{log}.seen'; echo 'MCP server agentpool already exists in user config' >&2; exit 1; fi\nexit 0\n",
        log = log.display()
    );
    std::fs::write(bin.join("claude"), script).unwrap();
    std::fs::set_permissions(bin.join("claude"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(ctx.home().join(".claude.json"), "{\"projects\": {}}").unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let plan = ok_json(
        &ctx,
        &["mcp-config", "--client", "claude-code", "--install", "--dry-run", "--json"],
        &[("PATH", &path)],
    );
    assert!(
        plan["installed"]["command"].as_str().unwrap().starts_with("claude mcp add-json --scope user agentpool '{")
    );
    assert!(!log.exists(), "a dry run runs nothing");
    let done = ok_json(&ctx, &["mcp-config", "--client", "claude-code", "--install", "--json"], &[("PATH", &path)]);
    let calls: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[1], "mcp remove --scope user agentpool");
    let added = calls[2].strip_prefix("mcp add-json --scope user agentpool ").unwrap();
    let entry: Value = serde_json::from_str(added).unwrap();
    assert_eq!(entry["type"], "stdio");
    assert_eq!(entry["env"]["AGENTPOOL_TMUX_SOCKET"], ctx.socket());
    let backup = done["installed"]["backup"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(backup).unwrap(), "{\"projects\": {}}");
    // Once Claude's state holds exactly this entry, there is nothing to run.
    std::fs::write(ctx.home().join(".claude.json"), json!({"mcpServers": {"agentpool": entry}}).to_string()).unwrap();
    let again = ok_json(&ctx, &["mcp-config", "--client", "claude-code", "--install", "--json"], &[("PATH", &path)]);
    assert_eq!(again["installed"]["action"], "unchanged", "{again}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3, "claude was not run again");
}

#[test]
fn project_scope_warns_when_the_entry_holds_this_machines_paths() {
    let ctx = TestContext::new();
    let done =
        ok_json(&ctx, &["mcp-config", "--client", "claude-code", "--install", "--scope", "project", "--json"], &[]);
    let warnings = done["warnings"].to_string();
    assert!(warnings.contains(".mcp.json is a project file"), "{done}");
    // Without pool variables and with `agentpool` from PATH, the file is fit to share.
    let ctx = TestContext::new();
    let out =
        run(&ctx, &["mcp-config", "--client", "claude-code", "--install", "--scope", "project", "--json"], &[], true);
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(done.get("warnings").is_none(), "{done}");
    assert_eq!(
        read_entry("claude-code", &std::fs::read_to_string(ctx.repo().join(".mcp.json")).unwrap()).2,
        Value::Null
    );
}
