//! Onboarding and reporting commands end to end: `doctor`, `init`, `preferences`, `config`,
//! `skills`, `completions`, `mcp-config`, `setup` and `stats` (with its share card).

use agentpool_tests::{TestContext, describe, parse_json};
use serde_json::Value;

fn failed_checks(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn doctor_deep_privacy_passes_here() {
    let ctx = TestContext::new();
    let v = ctx.json(&["doctor", "--deep", "--privacy", "--json"]);
    assert_eq!(v["ok"], true, "{v}");
    let names: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for n in ["config", "tmux", "git", "sqlite", "artifact_root", "providers", "usage_cache", "tmux_roundtrip"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert_eq!(v["privacy"]["credential_storage"]["agentpool_stores_provider_credentials"], false);
    assert!(ctx.tmux_sessions().is_empty(), "the roundtrip worker must be gone");
}

#[test]
fn doctor_without_tmux_on_path_fails_naming_the_check() {
    let ctx = TestContext::new();
    // A PATH with git but no tmux.
    let bin = ctx.home().join("bin-without-tmux");
    std::fs::create_dir_all(&bin).unwrap();
    let git =
        String::from_utf8(std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout)
            .unwrap();
    std::os::unix::fs::symlink(git.trim(), bin.join("git")).unwrap();
    let out = ctx.command(&["doctor", "--deep", "--json"]).env("PATH", &bin).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = parse_json(&["doctor"], &out);
    assert_eq!(v["ok"], false);
    assert_eq!(failed_checks(&v), ["tmux", "tmux_roundtrip"], "{v}");
    let human = ctx.command(&["doctor"]).env("PATH", &bin).output().unwrap();
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.lines().any(|l| l.starts_with("tmux") && l.contains("FAIL")), "{text}");
}

#[test]
fn init_writes_config_and_preferences_with_backups() {
    let ctx = TestContext::new();
    let dry = ctx.json(&["init", "--dry-run", "--json"]);
    assert_eq!((dry["dry_run"].as_bool(), dry["would_write_config"].as_bool()), (Some(true), Some(true)));
    assert!(!ctx.home().join("config.toml").exists(), "dry run writes nothing");
    let v = ctx.json(&["init", "--json"]);
    assert_eq!((v["changed"].as_bool(), v["preferences"]["changed"].as_bool()), (Some(true), Some(true)), "{v}");
    let config = std::fs::read_to_string(ctx.home().join("config.toml")).unwrap();
    assert!(config.lines().filter(|l| l.starts_with('#')).count() >= 5 && config.len() < 2000, "short and commented");
    assert_eq!(ctx.json(&["config", "validate", "--json"])["ok"], true);
    let again = ctx.json(&["init", "--json"]);
    assert_eq!((again["changed"].as_bool(), again["reason"].as_str()), (Some(false), Some("config already exists")));
    std::fs::write(ctx.home().join("preferences.md"), "# Mine\n- use codex-cli for reviews\n").unwrap();
    let forced = ctx.json(&["init", "--force", "--json"]);
    assert!(forced["backup_path"].as_str().unwrap().ends_with("config.toml.bak"));
    let pbak = forced["preferences"]["backup_path"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(pbak).unwrap(), "# Mine\n- use codex-cli for reviews\n");
    let prefs = ctx.json(&["preferences", "--json"]);
    assert_eq!(
        (prefs["exists"].as_bool(), prefs["resource_uri"].as_str()),
        (Some(true), Some("agentpool://preferences.md"))
    );
    assert!(prefs["text"].as_str().unwrap().contains("AgentPool Preferences"));
}

#[test]
fn config_commands_have_honest_exit_codes() {
    let ctx = TestContext::new();
    ctx.write_config("[policy]\nmax_paralel_sessions = 2\n");
    let out = ctx.cmd(&["config", "validate", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = parse_json(&["config", "validate"], &out);
    assert_eq!((v["ok"].as_bool(), v["errors"][0]["code"].as_str()), (Some(false), Some("INVALID_CONFIG")));
    let missing = ctx.cmd(&["config", "validate", "--path", "/nonexistent/agentpool.toml", "--json"]);
    assert_eq!(missing.status.code(), Some(1));
    // Doctor names the broken config too.
    let d = ctx.cmd(&["doctor", "--json"]);
    assert_eq!(d.status.code(), Some(1));
    assert!(failed_checks(&parse_json(&["doctor"], &d)).contains(&"config".to_owned()));
    let other = ctx.home().join("elsewhere.toml");
    let out = ctx.command(&["config", "path"]).env("AGENTPOOL_CONFIG", &other).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), other.display().to_string());
}

#[test]
fn skills_and_completions_ship_in_the_binary() {
    let ctx = TestContext::new();
    let list = ctx.json(&["skills", "list", "--json"]);
    let names: Vec<&str> = list["skills"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["agentpool", "core", "stats", "onboarding"]);
    let core = ctx.cmd(&["skills", "get", "core", "--full"]);
    let text = String::from_utf8_lossy(&core.stdout);
    assert!(text.contains("# Reference: Quickstart") && text.contains("# Examples"), "{text}");
    let short = ctx.json(&["skills", "get", "core", "--json"]);
    assert!(!short["text"].as_str().unwrap().contains("# Examples"));
    let err = ctx.error(&["skills", "get", "nope", "--json"], "INVALID_REQUEST");
    assert_eq!(err["details"]["example"], "agentpool skills list");
    let path = ctx.cmd(&["skills", "path", "core"]);
    let file = String::from_utf8_lossy(&path.stdout).trim().to_owned();
    assert!(std::fs::read_to_string(&file).unwrap().contains("# Examples"));
    let bash = ctx.cmd(&["completions", "bash"]);
    assert!(bash.status.success() && String::from_utf8_lossy(&bash.stdout).contains("agentpool"));
}

#[test]
fn setup_checks_hosts_and_providers_without_probing() {
    let ctx = TestContext::new();
    // Asked about by name, a host that does not register agentpool needs action, and the fix
    // is a command.
    let out = ctx.cmd(&["setup", "cursor", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let host = parse_json(&["setup"], &out);
    assert_eq!((host["kind"].as_str(), host["registered"].as_bool()), (Some("host"), Some(false)), "{host}");
    assert_eq!(failed_checks(&host), ["mcp_config"], "{host}");
    assert!(host["mcp_config"]["config"]["mcpServers"]["agentpool"].is_object());
    let fix = host["next_commands"][1].as_str().unwrap().to_owned();
    assert_eq!(fix, "agentpool mcp-config --client cursor --absolute-command --install");
    let args: Vec<&str> = fix.split(' ').skip(1).collect();
    assert!(ctx.cmd(&args).status.success());
    let host = ctx.json(&["setup", "cursor", "--json"]);
    assert_eq!((host["ok"].as_bool(), host["registered"].as_bool()), (Some(true), Some(true)), "{host}");
    assert!(host["checks"][1]["message"].as_str().unwrap().contains(".cursor/mcp.json"), "{host}");
    // A provider CLI that is not installed here: a named failing check and exit 1.
    ctx.write_config("[providers.devin-cli]\nbinary_candidates = [\"/nonexistent/devin\"]\n");
    let out = ctx.cmd(&["setup", "devin-cli", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = parse_json(&["setup"], &out);
    assert!(failed_checks(&v).contains(&"provider_installed".to_owned()), "{v}");
    ctx.error(&["setup", "notepad", "--json"], "INVALID_REQUEST");
    // `setup all` fails like `setup devin-cli` does: a row needs action.
    let out = ctx.cmd(&["setup", "all", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let all = parse_json(&["setup", "all"], &out);
    assert!(all["results"].as_array().unwrap().len() >= 5);
    // Hosts: ok only where registered; the others are reported without failing the run.
    let row = |t: &str| all["results"].as_array().unwrap().iter().find(|r| r["target"] == t).cloned().unwrap();
    assert_eq!(row("cursor")["ok"], true);
    for other in ["claude-code", "codex", "vscode", "gemini", "opencode", "windsurf"] {
        assert!(row(other)["ok"].is_null() && row(other)["registered"] == false, "{}", row(other));
    }
    assert_eq!(all["ok"], false, "the uninstalled devin-cli still needs action");
    let text = String::from_utf8(ctx.cmd(&["setup", "all"]).stdout).unwrap();
    assert!(
        text.contains("not registered") && text.contains("agentpool mcp-config --client codex --install"),
        "{text}"
    );
}

#[test]
fn stats_counts_a_real_session_and_renders_the_card() {
    let ctx = TestContext::new();
    let repo = ctx.repo_str();
    let smoke = ctx.json(&["smoke", "--provider", "fake-question", "--repo", &repo, "--json"]);
    assert_eq!(smoke["ok"], true, "{smoke}");
    let card = ctx.home().join("card.png");
    let v = ctx.json(&["stats", "--since", "1d", "--share", card.to_str().unwrap(), "--json"]);
    assert_eq!(v["schema_version"], "stats/v1");
    assert_eq!((v["sessions"]["total"].as_i64(), v["sessions"]["spawned"].as_i64()), (Some(1), Some(1)), "{v}");
    assert_eq!(v["sessions"]["terminated"], 1);
    assert_eq!(v["sessions"]["by_provider"]["fake-question"], 1);
    assert_eq!(v["parallelism"]["peak_concurrent"], 1);
    let png = std::fs::read(&card).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) =
        (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1200, 630));
    assert_eq!(v["share_card"]["bytes"].as_u64(), Some(png.len() as u64));
    // Scope mine: this CLI's default coordinator spawned it; another coordinator sees nothing.
    assert_eq!(ctx.json(&["stats", "--scope", "mine", "--json"])["sessions"]["total"], 1);
    let other = ctx.json(&["stats", "--scope", "mine", "--coordinator-id", "someone-else", "--json"]);
    assert_eq!((other["sessions"]["total"].as_i64(), other["sessions"]["spawned"].as_i64()), (Some(0), Some(0)));
    let plain = ctx.cmd(&["stats", "--plain"]);
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.lines().any(|l| l == "sessions.total=1") && text.lines().any(|l| l == "walls.hit=null"), "{text}");
    let err = ctx.error(&["stats", "--json", "--plain"], "INVALID_OUTPUT");
    assert_eq!(err["details"]["example"], "agentpool stats --since 7d --json");
    ctx.error(&["stats", "--since", "0d", "--json"], "INVALID_WINDOW");
    ctx.error(&["stats", "--from", "2026-01-01", "--json"], "INVALID_WINDOW");
}

/// A database with a damaged page that still opens is not "ok" (reliability F4): doctor runs
/// `PRAGMA quick_check` (`--deep`: `integrity_check`) and exits 1 naming the damage.
#[test]
fn doctor_finds_a_corrupt_database_page() {
    let ctx = TestContext::new();
    let repo = ctx.repo_str();
    assert_eq!(ctx.json(&["smoke", "--provider", "fake-question", "--repo", &repo, "--json"])["ok"], true);
    let sqlite = |v: &Value| v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "sqlite").cloned().unwrap();
    assert_eq!(sqlite(&ctx.json(&["doctor", "--json"]))["ok"], true);
    let db = ctx.home().join("agentpool.sqlite");
    // Recent commits stay in the WAL between commands; move them into the file to damage it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    drop(conn);
    let mut data = std::fs::read(&db).unwrap();
    // Damage the cell pointers of the last b-tree leaf page (table 0x0d or index 0x0a) that has
    // cells (an empty table's leaf has no pointers to check). Page 1, the schema, stays intact,
    // so the database still opens: opening alone would say "ok".
    let page = usize::from(u16::from_be_bytes([data[16], data[17]]));
    let leaf = (1..data.len() / page)
        .rev()
        .map(|n| n * page)
        .find(|&at| matches!(data[at], 0x0d | 0x0a) && u16::from_be_bytes([data[at + 3], data[at + 4]]) > 0)
        .unwrap();
    data[leaf + 8..leaf + 48].fill(0xff);
    std::fs::write(&db, &data).unwrap();
    for args in [&["doctor", "--json"][..], &["doctor", "--deep", "--json"]] {
        let out = ctx.cmd(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        let check = sqlite(&parse_json(args, &out));
        assert_eq!(check["ok"], false, "{check}");
        // SQLite either lists the damage or stops at it ("database disk image is malformed"),
        // depending on where the bytes landed; both are reported with the check that ran.
        let message = check["message"].as_str().unwrap();
        let pragma = if args.contains(&"--deep") { "integrity_check" } else { "quick_check" };
        assert!(
            message.contains(&format!("{pragma} found damage")) || message.contains(&format!("{pragma} failed")),
            "{check}"
        );
    }
}
