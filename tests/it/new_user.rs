//! The new-user path, honestly (issue 12): the README quickstarts run as written, `stats
//! --share` needs no path, `session <id>` works, usage errors say what is missing, the fakes
//! stay out of listings, `setup`, `doctor` and `onboard` claim only what they checked, hints
//! are commands, and the guides install where Claude Code and Codex look for skills.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use agentpool_tests::{TestContext, agentpool_bin, assert_no_panic, describe, parse_json, workspace_root};
use serde_json::Value;

/// The executables the real providers are detected by (cursor-cli: `agent`).
const REAL_CLIS: &[&str] = &["claude", "codex", "agent", "opencode", "copilot", "droid", "devin"];
const FAKES: &[&str] =
    &["fake-question", "fake-approval", "fake-completed", "fake-idle", "fake-limit", "fake-patch", "fake-hooks"];

/// A stand-in CLI that only answers `--version`.
fn stand_in(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\necho \"{name} 9.9.9 (stand-in)\"\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// A `PATH` with `agentpool` (the built binary) and, with `stand_ins`, a stand-in for every
/// real coding-agent CLI in front of the caller's `PATH`.
fn user_path(ctx: &TestContext, stand_ins: bool) -> String {
    let bin = ctx.home().join(if stand_ins { "bin-with-clis" } else { "bin" });
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("agentpool");
    if !link.exists() {
        std::os::unix::fs::symlink(agentpool_bin(), &link).unwrap();
    }
    if stand_ins {
        for name in REAL_CLIS {
            stand_in(&bin, name);
        }
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// The lines of the first ```sh block after `heading` in `markdown`.
fn sh_block(markdown: &str, heading: &str) -> Vec<String> {
    let at = markdown.find(heading).unwrap_or_else(|| panic!("README has no `{heading}`"));
    let rest = &markdown[at..];
    let start = rest.find("```sh\n").unwrap_or_else(|| panic!("no ```sh block after `{heading}`")) + "```sh\n".len();
    let end = rest[start..].find("\n```").unwrap_or_else(|| panic!("unterminated block after `{heading}`"));
    rest[start..start + end].lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn provider_ids(v: &Value, key: &str) -> Vec<String> {
    v[key].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn readme_quickstarts_run_as_written() {
    let ctx = TestContext::new();
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let mut lines = sh_block(&readme, "## Quickstart for humans");
    lines.extend(sh_block(&readme, "## Quickstart for agents"));
    assert!(lines.len() >= 12, "{lines:?}");
    std::fs::write(ctx.repo().join("task.md"), "Find where sessions are stored and report the file.\n").unwrap();
    // Stand-ins for the coding-agent CLIs, so `setup all` has nothing left to fix.
    let path = user_path(&ctx, true);
    let mut session_id: Option<String> = None;
    let mut ran = 0;
    for line in &lines {
        if line.starts_with("cargo install ") {
            continue; // building from source is what produced the binary under test
        }
        assert!(line.starts_with("agentpool ") || line.contains("| agentpool "), "not an agentpool line: {line}");
        let line = match &session_id {
            Some(id) => line.replace("<session-id>", id),
            None => {
                assert!(!line.contains("<session-id>"), "a session id is used before spawn: {line}");
                line.clone()
            }
        };
        let out = ctx.shell(&line).env("PATH", &path).output().unwrap();
        assert_no_panic(&[line.as_str()], &out);
        assert!(out.status.success(), "README line `{line}` exited {:?}:\n{}", out.status.code(), describe(&out));
        if line.contains("agentpool spawn ") {
            let v = parse_json(&[line.as_str()], &out);
            session_id = Some(v["session_id"].as_str().unwrap().to_owned());
        }
        ran += 1;
    }
    assert!(session_id.is_some(), "the agents' block spawns a worker");
    assert!(ran >= 12, "{ran} lines ran");
    let cards: Vec<_> = std::fs::read_dir(ctx.home().join("cards")).unwrap().flatten().collect();
    assert_eq!(cards.len(), 1, "`stats --share` wrote its card");
}

#[test]
fn stats_share_without_a_path_writes_a_new_card_each_time() {
    let ctx = TestContext::new();
    let first = ctx.json(&["stats", "--since", "7d", "--share", "--json"]);
    let second = ctx.json(&["stats", "--share", "--since", "7d", "--json"]);
    let (p1, p2) = (first["share_card"]["path"].as_str().unwrap(), second["share_card"]["path"].as_str().unwrap());
    let cards = ctx.home().join("cards").display().to_string();
    assert!(p1.starts_with(&cards) && p2.starts_with(&cards), "{p1} {p2}");
    assert_ne!(p1, p2, "a card never replaces an earlier one");
    for p in [p1, p2] {
        assert_eq!(&std::fs::read(p).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    }
    let human = ctx.cmd(&["stats", "--since", "7d", "--share"]);
    assert!(human.status.success(), "{}", describe(&human));
    assert!(String::from_utf8_lossy(&human.stdout).starts_with("share card: "), "{}", describe(&human));
    let help = String::from_utf8(ctx.cmd(&["stats", "--help"]).stdout).unwrap();
    assert!(help.contains("agentpool stats --since 7d --share\n"), "the help example is the one tested: {help}");
}

#[test]
fn session_id_alone_is_session_show() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "Keep working on the lexer.", &[]);
    let short = ctx.json(&["session", &id, "--json"]);
    let long = ctx.json(&["session", "show", &id, "--json"]);
    for key in ["id", "provider_id", "repo_path", "created_at"] {
        assert_eq!(short["session"][key], long["session"][key], "{key}");
    }
    let plain = ctx.cmd(&["session", &id, "--plain"]);
    assert!(String::from_utf8_lossy(&plain.stdout).contains(&format!("session.id={id}\n")), "{}", describe(&plain));
    let human = ctx.cmd(&["session", &id]);
    assert!(String::from_utf8_lossy(&human.stdout).starts_with(&format!("id: {id}\n")), "{}", describe(&human));
    // Without an id it is still a usage error.
    let bare = ctx.cmd(&["session"]);
    assert_eq!(bare.status.code(), Some(2), "{}", describe(&bare));
    assert!(bare.stdout.is_empty() && String::from_utf8_lossy(&bare.stderr).starts_with("error: "));
    let json = ctx.cmd(&["session", "--json"]);
    assert_eq!(json.status.code(), Some(2));
    let v = parse_json(&["session", "--json"], &json);
    assert_eq!(v["error"]["code"], "USAGE_ERROR");
    assert!(v["error"]["message"].as_str().unwrap().contains("<SESSION_ID>"), "{v}");
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn json_usage_errors_say_what_is_missing() {
    let ctx = TestContext::new();
    let out = ctx.cmd(&["spawn", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v = parse_json(&["spawn", "--json"], &out);
    assert_eq!(v["error"]["message"], "the following required arguments were not provided: --provider <PROVIDER>");
    assert!(v["error"]["details"]["usage"].as_str().unwrap().contains("Usage: agentpool spawn"), "{v}");
    let typo = parse_json(&["spwan"], &ctx.cmd(&["spwan", "--json"]));
    assert_eq!(typo["error"]["message"], "unrecognized subcommand 'spwan'");
    assert_eq!(typo["error"]["details"]["tips"][0], "a similar subcommand exists: 'spawn'", "{typo}");
}

#[test]
fn fakes_are_listed_only_with_all_or_when_enabled() {
    let ctx = TestContext::new();
    let inv = ctx.json(&["inventory", "--json"]);
    let ids = provider_ids(&inv, "providers");
    assert_eq!(ids.len(), 7, "{ids:?}");
    assert!(ids.iter().all(|id| !id.starts_with("fake-")), "{ids:?}");
    assert!(!String::from_utf8_lossy(&ctx.cmd(&["inventory"]).stdout).contains("fake-"));
    let all = provider_ids(&ctx.json(&["inventory", "--all", "--json"]), "providers");
    assert_eq!(&all[..FAKES.len()], FAKES, "--all lists them, first as before");

    let summary = ctx.json(&["usage-summary", "--json"]);
    assert!(summary["providers"].as_object().unwrap().keys().all(|id| !id.starts_with("fake-")), "{summary}");
    assert_eq!(summary["counts"]["total"], 7);
    assert_eq!(ctx.json(&["usage-summary", "--all", "--json"])["counts"]["total"], 14);
    // Naming a fake is an explicit choice: it works, and is stored.
    let live = ctx.json(&["usage", "--provider", "fake-question", "--json"]);
    assert_eq!(live["snapshots"][0]["provider_id"], "fake-question", "{live}");
    assert_eq!(ctx.json(&["usage", "--cached", "--json"])["snapshots"], serde_json::json!([]));
    assert_eq!(ctx.json(&["usage", "--cached", "--all", "--json"])["snapshots"][0]["provider_id"], "fake-question");

    let targets = |args: &[&str]| -> Vec<String> {
        let v = parse_json(args, &ctx.cmd(args));
        v["results"].as_array().unwrap().iter().map(|r| r["target"].as_str().unwrap().to_owned()).collect()
    };
    assert!(targets(&["setup", "all", "--json"]).iter().all(|t| !t.starts_with("fake-")));
    assert!(targets(&["setup", "all", "--all", "--json"]).contains(&"fake-patch".to_owned()));

    // Doctor counts real providers, installed against enabled.
    let providers =
        |v: &Value| v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "providers").unwrap().clone();
    let doctor = providers(&ctx.json(&["doctor", "--json"]));
    assert_eq!(doctor["enabled"].as_array().unwrap().len(), 7, "{doctor}");
    assert!(doctor["message"].as_str().unwrap().contains(" of 7 "), "{doctor}");

    // A fake the user enabled explicitly is listed like any provider.
    ctx.write_config("[providers.fake-question]\nenabled = true\n");
    let ids = provider_ids(&ctx.json(&["inventory", "--json"]), "providers");
    assert_eq!((ids.len(), ids[0].as_str()), (8, "fake-question"), "{ids:?}");
    assert_eq!(providers(&ctx.json(&["doctor", "--json"]))["enabled"].as_array().unwrap().len(), 8);
}

#[test]
fn setup_all_fails_like_one_target_and_hints_are_commands() {
    let ctx = TestContext::new();
    let mut config = String::new();
    for id in ["claude-code", "cursor-cli", "opencode", "copilot-cli", "droid-cli", "devin-cli"] {
        config.push_str(&format!("[providers.{id}]\nenabled = false\n"));
    }
    ctx.write_config(&format!("{config}[providers.codex-cli]\nbinary_candidates = [\"/nonexistent/codex\"]\n"));
    for args in [&["setup", "all", "--json"][..], &["setup", "codex-cli", "--json"]] {
        let out = ctx.cmd(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        assert_eq!(parse_json(args, &out)["ok"], false);
    }
    // The fix is a command to paste, and a command that proves it worked.
    let text = String::from_utf8(ctx.cmd(&["setup", "codex-cli"]).stdout).unwrap();
    assert!(text.contains("  npm install -g @openai/codex && codex --version\n"), "{text}");
    assert!(!text.contains("docs/") && !text.contains("status="), "{text}");
    assert!(text.contains("not checked: the CLI is not installed"), "{text}");

    // Installed (a stand-in): both succeed, and agree.
    let bin = ctx.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let codex = stand_in(&bin, "codex");
    ctx.write_config(&format!("{config}[providers.codex-cli]\nbinary_candidates = [\"{codex}\"]\n"));
    let one = ctx.json(&["setup", "codex-cli", "--json"]);
    let all = ctx.json(&["setup", "all", "--json"]);
    assert_eq!((one["ok"].as_bool(), all["ok"].as_bool()), (Some(true), Some(true)), "{all}");
    let auth = one["checks"].as_array().unwrap().iter().find(|c| c["name"] == "auth").unwrap();
    assert!(auth["ok"].is_null(), "no safe sign-in probe: not checked, not claimed ok: {auth}");
}

#[test]
fn onboard_marks_only_what_really_happened() {
    let ctx = TestContext::new();
    let done = |n: usize| -> Value { ctx.json(&["onboard", "--json"])["steps"][n]["done"].clone() };
    // tmux is on PATH, but no deep check ran yet.
    assert_eq!(done(0), false);
    ctx.json(&["doctor", "--json"]);
    assert_eq!(done(0), false, "a plain doctor is not `doctor --deep`");
    ctx.json(&["doctor", "--deep", "--json"]);
    assert_eq!(done(0), true);

    ctx.json(&["init", "--json"]);
    assert_eq!((done(1), done(2)), (Value::Bool(true), Value::Bool(false)), "the template is not a preference");
    let prefs = ctx.home().join("preferences.md");
    let mut text = std::fs::read_to_string(&prefs).unwrap();
    text.push_str("- Use codex-cli for reviews.\n");
    std::fs::write(&prefs, text).unwrap();
    assert_eq!(done(2), true);

    assert_eq!(done(3), false, "setup never ran");
    let mut config = String::new();
    for id in ["claude-code", "codex-cli", "cursor-cli", "opencode", "copilot-cli", "droid-cli", "devin-cli"] {
        config.push_str(&format!("[providers.{id}]\nenabled = false\n"));
    }
    ctx.write_config(&config);
    ctx.json(&["setup", "all", "--json"]);
    assert_eq!(done(3), true, "setup all ran and passed");

    assert_eq!(done(5), false);
    let repo = ctx.repo_str();
    assert_eq!(ctx.json(&["smoke", "--provider", "fake-question", "--repo", &repo, "--json"])["ok"], true);
    assert_eq!(done(5), true, "a completed fake-question session counts");

    // Registered with a host: read from the host's own config.
    assert_eq!(done(4), false, "no host registers agentpool");
    assert!(ctx.cmd(&["mcp-config", "--client", "gemini", "--install"]).status.success());
    assert_eq!(done(4), true, "gemini's settings.json now registers it");
    // Unknown is shown as unknown, not as not done.
    assert_eq!(done(6), Value::Null, "no skill installed: cannot tell");
    let human = String::from_utf8(ctx.cmd(&["onboard"]).stdout).unwrap();
    assert!(human.contains("7. [ ?  ] give your agent the guide"), "{human}");
    assert!(human.contains("5. [done] register the MCP server"), "{human}");
    assert!(human.contains("1. [done] check the machine"), "{human}");
    ctx.json(&["skills", "install", "--client", "codex", "--json"]);
    assert_eq!(done(6), true);
}

#[test]
fn skills_install_writes_skill_folders_and_backs_up() {
    let ctx = TestContext::new();
    let root = ctx.home().join(".claude/skills");
    let v = ctx.json(&["skills", "install", "--client", "claude-code", "--json"]);
    assert_eq!((v["client"].as_str(), v["scope"].as_str()), (Some("claude-code"), Some("user")));
    let rows = v["skills"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for r in rows {
        let name = r["name"].as_str().unwrap();
        assert_eq!(r["action"], "written", "{r}");
        let path = root.join(name).join("SKILL.md");
        assert_eq!(r["path"].as_str(), Some(path.to_str().unwrap()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("---\nname: {name}\ndescription: ")), "{text}");
    }
    let again = ctx.json(&["skills", "install", "--client", "claude-code", "--json"]);
    assert!(again["skills"].as_array().unwrap().iter().all(|r| r["action"] == "unchanged"), "{again}");

    // A different file is backed up before it is replaced.
    let mine = root.join("agentpool/SKILL.md");
    std::fs::write(&mine, "---\nname: agentpool\ndescription: my own\n---\n").unwrap();
    let replaced = ctx.json(&["skills", "install", "--client", "claude-code", "--json"]);
    let row = &replaced["skills"][0];
    assert_eq!(row["action"], "replaced", "{replaced}");
    let backup = row["backup_path"].as_str().unwrap();
    assert!(backup.ends_with("agentpool/SKILL.md.bak"), "{backup}");
    assert!(std::fs::read_to_string(backup).unwrap().contains("my own"));

    // Project scope for Codex, under the current directory; a dry run writes nothing.
    let dry = ctx.json(&["skills", "install", "--client", "codex", "--scope", "project", "--dry-run", "--json"]);
    assert!(dry["skills"].as_array().unwrap().iter().all(|r| r["action"] == "would_write"), "{dry}");
    assert!(!ctx.repo().join(".agents").exists());
    let human = ctx.cmd(&["skills", "install", "--client", "codex", "--scope", "project"]);
    assert!(human.status.success(), "{}", describe(&human));
    assert!(String::from_utf8_lossy(&human.stdout).contains("written"), "{}", describe(&human));
    assert!(ctx.repo().join(".agents/skills/agentpool-core/SKILL.md").is_file());

    let bad = ctx.cmd(&["skills", "install", "--client", "notepad"]);
    assert_eq!(bad.status.code(), Some(2), "{}", describe(&bad));
}
