//! Onboarding: `init` (config and preferences with backups), `preferences`, `doctor` (named
//! checks, honest exit code), `setup <target>` (per host or provider, no interactive probes)
//! and `onboard` (the checklist that ties them together).
//!
//! None of these log in, store credentials or edit a host's config files: they check, write
//! AgentPool's own files when asked, and print what to run next.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentpool_core::config::{Paths, Settings, absolute, expand_tilde};
use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::runtime::{Runtime, SpawnSpec};
use agentpool_core::{VERSION, util};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::commands::Context;
use crate::output::{self, Out};

/// The file `init` writes: short, commented, every line optional.
pub const DEFAULT_CONFIG: &str = "\
# AgentPool configuration. Every key is optional; the values shown are the defaults.
# Docs: docs/configuration.md. Check it with `agentpool config validate`.

[policy]
# Workers that may run at once (across every coordinator).
max_parallel_sessions = 4
# Allow `agentpool keys` to send raw keys to workers.
allow_raw_keys = false
# Editing roles (implementer, tester) must use --isolation worktree.
require_worktree_for_edits = false
# Below this share of a usage window, a provider counts as limited.
min_remaining_percent = 10.0

[runtime.tmux]
# Dedicated tmux socket; AGENTPOOL_TMUX_SOCKET overrides it.
socket = \"agentpool\"
width = 200
height = 50

# Per-provider settings, for example:
# [providers.codex-cli.metadata]
# default_model = \"gpt-5.5\"
#
# [providers.devin-cli]
# enabled = false
";

/// The preferences template written by `init` and `preferences init`: the same file the MCP
/// server serves as `agentpool://preferences.md` when the user has none.
pub const DEFAULT_PREFERENCES: &str = include_str!("../../agentpool-mcp/guides/preferences.md");

const RESOURCE_URI: &str = "agentpool://preferences.md";
const READ_HINT: &str = "read these standing preferences before choosing a provider or delegating";

/// `preferences` arguments.
#[derive(Debug, Args)]
pub struct PreferencesArgs {
    #[command(subcommand)]
    pub action: Option<PreferencesAction>,
    /// Preferences file (default: `$AGENTPOOL_HOME/preferences.md`).
    #[arg(long, global = true)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PreferencesAction {
    /// Print the preferences (the default template when the file does not exist).
    #[command(after_help = "Examples:\n  agentpool preferences show\n  agentpool preferences show --json")]
    Show,
    /// Write the default template (backs up an existing file with --force).
    #[command(after_help = "Examples:\n  agentpool preferences init\n  agentpool preferences init --dry-run --json")]
    Init {
        /// Back up and overwrite an existing file.
        #[arg(long, visible_alias = "yes")]
        force: bool,
        /// Show what would be written without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the file's path.
    #[command(after_help = "Examples:\n  agentpool preferences path\n  $EDITOR \"$(agentpool preferences path)\"")]
    Path,
}

/// `doctor` arguments.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also start a throwaway tmux worker and read its screen back, and read the usage cache.
    #[arg(long)]
    pub deep: bool,
    /// Also report what AgentPool stores, where, and what it never does.
    #[arg(long)]
    pub privacy: bool,
}

/// `setup` arguments.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// cursor, claude-code, codex, copilot-cli, claude-desktop, all, or a provider id.
    pub target: String,
    /// Use `agentpool` from PATH in generated MCP config instead of this binary's full path.
    #[arg(long)]
    pub relative_command: bool,
}

fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// Copies `path` to `<path>.bak`; returns the backup path.
fn back_up(path: &Path) -> Result<PathBuf> {
    let backup = backup_path(path);
    std::fs::copy(path, &backup).map_err(|e| Error::io(format_args!("could not back up `{}`", path.display()), &e))?;
    Ok(backup)
}

fn default_preferences_path() -> Result<PathBuf> {
    Ok(Paths::from_env()?.0.join("preferences.md"))
}

/// The first bullet items of a preferences text (what agents see without reading the file).
pub fn digest(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- ") || l.starts_with("* "))
        .map(|l| l[2..].trim().to_owned())
        .take(8)
        .collect()
}

/// `{path, resource_uri, exists, using_default_template, read_hint, digest, text}`.
pub fn preferences_payload(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).ok();
    let exists = text.is_some();
    let text = text.unwrap_or_else(|| DEFAULT_PREFERENCES.to_owned());
    json!({
        "path": path.display().to_string(),
        "resource_uri": RESOURCE_URI,
        "exists": exists,
        "using_default_template": !exists,
        "read_hint": READ_HINT,
        "digest": digest(&text),
        "text": text,
    })
}

/// Writes the preferences template unless present (or `force`, which backs up first).
fn ensure_preferences(path: &Path, force: bool) -> Result<Value> {
    let exists = path.exists();
    if exists && !force {
        return Ok(json!({"path": path, "changed": false, "backup_path": null, "reason": "preferences already exist"}));
    }
    let backup = if exists { Some(back_up(path)?) } else { None };
    util::write_atomic(path, DEFAULT_PREFERENCES.as_bytes())?;
    Ok(json!({"path": path, "changed": true, "backup_path": backup, "reason": "wrote default preferences"}))
}

pub fn init(args: &crate::args::InitArgs) -> Result<Out> {
    let (home, config_file) = Paths::from_env()?;
    let path = args.path.as_ref().map(|p| absolute(&expand_tilde(p))).unwrap_or(config_file);
    let prefs = home.join("preferences.md");
    let exists = path.exists();
    let would_write = !exists || args.force;
    let next = ["agentpool doctor", "agentpool setup all", "agentpool smoke --provider fake-question --repo ."];
    if args.dry_run {
        let backup = (exists && args.force).then(|| backup_path(&path));
        let p_exists = prefs.exists();
        let j = json!({
            "dry_run": true, "changed": would_write, "config_path": path, "would_write_config": would_write,
            "would_backup_config": backup.is_some(), "backup_path": backup,
            "preferences": {"path": prefs, "exists": p_exists, "would_write": !p_exists || args.force,
                            "would_backup": p_exists && args.force},
            "next_commands": next,
        });
        let mut human = format!(
            "dry run: config would {}: {}\n",
            if would_write { "be written" } else { "stay unchanged" },
            path.display()
        );
        if let Some(b) = j["backup_path"].as_str() {
            human.push_str(&format!("backup would be written: {b}\n"));
        }
        human.push_str(&format!(
            "dry run: preferences would {}: {}\n",
            if !p_exists || args.force { "be written" } else { "stay unchanged" },
            prefs.display()
        ));
        return Ok(Out::new(j, human));
    }
    if exists && !args.force {
        // Refuse to call a broken file fine: parse it, and say so when it is invalid.
        agentpool_core::config::Config::read(&path)?;
    }
    let mut backup = None;
    if would_write {
        if exists {
            backup = Some(back_up(&path)?);
        }
        util::write_atomic(&path, DEFAULT_CONFIG.as_bytes())?;
    }
    let p = ensure_preferences(&prefs, args.force)?;
    let mut human = format!("config {}: {}\n", if would_write { "wrote" } else { "exists" }, path.display());
    if let Some(b) = &backup {
        human.push_str(&format!("backup: {}\n", b.display()));
    }
    human.push_str(&format!(
        "preferences {}: {}\n",
        if p["changed"] == true { "wrote" } else { "exists" },
        prefs.display()
    ));
    if let Some(b) = p["backup_path"].as_str() {
        human.push_str(&format!("backup: {b}\n"));
    }
    human.push_str("next:\n");
    for n in next {
        human.push_str(&format!("  {n}\n"));
    }
    let j = json!({
        "changed": would_write,
        "config_path": path,
        "backup_path": backup,
        "reason": if would_write { Value::Null } else { json!("config already exists") },
        "preferences": p,
        "next_commands": next,
    });
    Ok(Out::new(j, human))
}

pub fn preferences(args: &PreferencesArgs) -> Result<Out> {
    let path = match &args.path {
        Some(p) => absolute(&expand_tilde(p)),
        None => default_preferences_path()?,
    };
    match args.action.as_ref().unwrap_or(&PreferencesAction::Show) {
        PreferencesAction::Show => {
            let j = preferences_payload(&path);
            let text = j["text"].as_str().unwrap_or("").to_owned();
            Ok(Out::new(j, text))
        }
        PreferencesAction::Path => {
            Ok(Out::new(json!({"path": path, "resource_uri": RESOURCE_URI}), format!("{}\n", path.display())))
        }
        PreferencesAction::Init { force, dry_run } => {
            let exists = path.exists();
            if *dry_run {
                let would = !exists || *force;
                let backup = (exists && *force).then(|| backup_path(&path));
                let j = json!({"dry_run": true, "changed": would, "path": path, "exists": exists, "would_write": would,
                               "would_backup": backup.is_some(), "backup_path": backup, "resource_uri": RESOURCE_URI});
                let human = format!(
                    "dry run: preferences would {}: {}\n",
                    if would { "be written" } else { "stay unchanged" },
                    path.display()
                );
                return Ok(Out::new(j, human));
            }
            let r = ensure_preferences(&path, *force)?;
            let mut j = preferences_payload(&path);
            for k in ["changed", "backup_path", "reason"] {
                j[k] = r[k].clone();
            }
            let mut human =
                format!("preferences {}: {}\n", if r["changed"] == true { "wrote" } else { "exists" }, path.display());
            if let Some(b) = r["backup_path"].as_str() {
                human.push_str(&format!("backup: {b}\n"));
            }
            Ok(Out::new(j, human))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// doctor
// ---------------------------------------------------------------------------------------------

fn check(name: &str, ok: bool, message: impl Into<String>, action: Option<&str>) -> Value {
    let mut v = json!({"name": name, "ok": ok, "message": message.into()});
    if !ok && let Some(a) = action {
        v["action"] = json!(a);
    }
    v
}

/// A bare program name looked up on `PATH` only.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| agentpool_core::probe::is_executable(p))
}

fn tool_version(bin: &Path, flag: &str) -> Option<String> {
    let out = std::process::Command::new(bin).arg(flag).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty())
}

pub async fn doctor(args: &DoctorArgs) -> Result<Out> {
    let mut checks = Vec::new();
    let (home, config_file) = Paths::from_env()?;
    let settings = match Settings::load_from(home.clone(), config_file.clone()) {
        Ok(s) => {
            let note = if config_file.exists() { "valid" } else { "no file; defaults apply" };
            checks.push(check("config", true, format!("{} ({note})", config_file.display()), None));
            Some(s)
        }
        Err(e) => {
            checks.push(check(
                "config",
                false,
                e.message,
                Some("agentpool config validate; or agentpool init --force"),
            ));
            None
        }
    };
    // tmux must be on PATH itself, not just in a system directory AgentPool also searches:
    // the `attach` commands AgentPool prints for humans run `tmux` from their PATH.
    let configured = settings.as_ref().and_then(|s| s.config.runtime.tmux.binary.clone());
    let tmux_bin = match &configured {
        Some(b) => agentpool_core::provider::which(b),
        None => on_path("tmux"),
    };
    match &tmux_bin {
        // Only a lookup here: running tmux (even `-V`) is agentpool-tmux's job; `--deep`
        // proves it works through the runtime.
        Some(b) => checks.push(check("tmux", true, b.display().to_string(), None)),
        None => {
            let elsewhere = match (&configured, &settings) {
                (None, Some(s)) => agentpool_tmux::TmuxRuntime::new(s).binary_path().map(PathBuf::from),
                _ => None,
            };
            let message = match (&configured, elsewhere) {
                (Some(b), _) => format!("configured `runtime.tmux.binary` `{b}` is not an executable"),
                (None, Some(p)) => format!("tmux is at {} but not on PATH", p.display()),
                (None, None) => "tmux not found on PATH".to_owned(),
            };
            checks.push(check(
                "tmux",
                false,
                message,
                Some("install tmux (apt-get install tmux, or brew install tmux) and put it on PATH"),
            ));
        }
    }
    match agentpool_core::provider::which("git") {
        Some(b) => checks.push(check(
            "git",
            true,
            format!("{} ({})", b.display(), tool_version(&b, "--version").unwrap_or_default()),
            None,
        )),
        None => checks.push(check(
            "git",
            false,
            "git not found on PATH (needed for diffs and worktrees)",
            Some("install git"),
        )),
    }
    if let Some(s) = &settings {
        checks.push(sqlite_check(&s.paths.db_path));
        checks.push(artifact_check(&s.paths.artifact_root));
        match agentpool_core::provider::Registry::new(s) {
            Ok(r) => checks.push(check(
                "providers",
                true,
                format!("{} enabled: {}", r.ids().len(), r.ids().join(", ")),
                None,
            )),
            Err(e) => checks.push(check("providers", false, e.message, Some("agentpool config validate"))),
        }
        let prefs = &s.paths.preferences;
        checks.push(check(
            "preferences",
            true,
            if prefs.exists() {
                prefs.display().to_string()
            } else {
                format!("{} (absent; agents get the default template)", prefs.display())
            },
            None,
        ));
        if args.deep {
            checks.push(usage_cache_check(&s.paths.db_path).await);
            checks.push(tmux_roundtrip(s, tmux_bin.is_some()).await);
        }
    }
    let ok = checks.iter().all(|c| c["ok"] == true);
    let mut j = json!({"ok": ok, "version": VERSION, "checks": checks});
    if args.privacy {
        j["privacy"] = privacy(settings.as_ref(), &home, &config_file);
    }
    j["next_commands"] = if ok {
        json!(["agentpool setup all", "agentpool smoke --provider fake-question --repo ."])
    } else {
        json!(checks.iter().filter(|c| c["ok"] == false).filter_map(|c| c["action"].as_str()).collect::<Vec<_>>())
    };
    let rows = checks
        .iter()
        .map(|c| {
            vec![
                c["name"].as_str().unwrap_or("").to_owned(),
                if c["ok"] == true { "ok".into() } else { "FAIL".into() },
                c["message"].as_str().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    let mut human = output::table(&["Check", "Status", "Details"], rows);
    for c in checks.iter().filter(|c| c["ok"] == false) {
        human.push_str(&format!(
            "{} failed: {}\n",
            c["name"].as_str().unwrap_or(""),
            c["action"].as_str().unwrap_or("")
        ));
    }
    if let Some(p) = j.get("privacy") {
        human.push_str(&format!(
            "\nprivacy: AgentPool stores no provider credentials, scrapes no browser, edits no host config.\nstores: {}\nin: {}\n",
            p["local_storage"]["stores"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
            p["local_storage"]["home"].as_str().unwrap_or("")
        ));
    }
    human.push_str(if ok { "doctor: all checks passed\n" } else { "doctor: some checks failed\n" });
    Ok(Out::new(j, human).failed_if(!ok))
}

fn sqlite_check(db: &Path) -> Value {
    match agentpool_core::store::Store::open(db) {
        Ok(_) => check("sqlite", true, db.display().to_string(), None),
        Err(e) => check(
            "sqlite",
            false,
            format!("{}: {}", db.display(), e.message),
            Some("check permissions of $AGENTPOOL_HOME"),
        ),
    }
}

fn artifact_check(root: &Path) -> Value {
    let probe = root.join(format!(".agentpool-write-test-{}", util::random_hex(6)));
    let result = std::fs::create_dir_all(root)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    match result {
        Ok(()) => check("artifact_root", true, root.display().to_string(), None),
        Err(e) => check(
            "artifact_root",
            false,
            format!("{}: {e}", root.display()),
            Some("check permissions of the artifact root"),
        ),
    }
}

/// Reads the cached usage snapshots through the store, as `usage-summary` does.
async fn usage_cache_check(db: &Path) -> Value {
    let count = match agentpool_core::store::Store::open(db) {
        Ok(store) => {
            store.call(|c| Ok(c.query_row("SELECT COUNT(*) FROM usage_snapshots", [], |r| r.get::<_, i64>(0))?)).await
        }
        Err(e) => Err(e),
    };
    match count {
        Ok(n) => check("usage_cache", true, format!("{n} cached usage snapshot(s)"), None),
        Err(e) => check("usage_cache", false, e.message, Some("agentpool usage-summary --refresh --json")),
    }
}

/// Starts a throwaway worker on AgentPool's tmux server that prints a marker, reads the screen
/// until the marker shows (at most 5 s), and terminates it — the runtime path workers use.
async fn tmux_roundtrip(settings: &Settings, tmux_found: bool) -> Value {
    if !tmux_found {
        return check("tmux_roundtrip", false, "tmux not found on PATH", Some("install tmux"));
    }
    let runtime = agentpool_tmux::TmuxRuntime::new(settings);
    let marker = format!("AGENTPOOL_DOCTOR_{}", util::random_hex(8));
    let dir = std::env::temp_dir().join(format!("agentpool-doctor-{}", util::random_hex(8)));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return check("tmux_roundtrip", false, format!("could not create a temp dir: {e}"), None);
    }
    let spec = SpawnSpec {
        name: format!("{}-doctor-{}", settings.config.runtime.tmux.session_prefix, util::random_hex(6)),
        argv: vec!["sh".into(), "-c".into(), format!("printf '%s\\n' {marker}; sleep 10")],
        cwd: dir.clone(),
        env: Vec::new(),
        output_log: dir.join("raw.log"),
        output_filter: Vec::new(),
    };
    let started = std::time::Instant::now();
    let result = match runtime.spawn(&spec).await {
        Err(e) => Err(e.message),
        Ok(r) => {
            let mut seen = false;
            while started.elapsed() < Duration::from_secs(5) {
                if let Ok(s) = runtime.snapshot(&r, 50, Duration::from_secs(2)).await
                    && s.screen.contains(&marker)
                {
                    seen = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = runtime.terminate(&r).await;
            if seen { Ok(()) } else { Err("the worker's output never appeared on its screen".to_owned()) }
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(()) => check(
            "tmux_roundtrip",
            true,
            format!(
                "socket `{}`: spawn, capture, terminate in {} ms",
                settings.tmux_socket,
                started.elapsed().as_millis()
            ),
            None,
        ),
        Err(e) => check("tmux_roundtrip", false, e, Some("agentpool doctor --deep --json, then check `tmux -V`")),
    }
}

fn privacy(settings: Option<&Settings>, home: &Path, config_file: &Path) -> Value {
    let (db, artifacts) =
        settings.map_or((Value::Null, Value::Null), |s| (json!(s.paths.db_path), json!(s.paths.artifact_root)));
    json!({
        "credential_storage": {
            "agentpool_stores_provider_credentials": false,
            "browser_scraping_enabled_by_default": false,
            "browser_cookie_sources_enabled_by_default": false,
            "macos_keychain_access_by_agentpool": false,
        },
        "local_storage": {
            "home": home,
            "config_path": config_file,
            "sqlite_db": db,
            "artifact_root": artifacts,
            "stores": ["sessions", "events", "usage snapshots", "artifact manifests", "advisory file leases"],
        },
        "usage_refresh": {
            "inventory_runs_live_usage_probes": false,
            "live_usage_requires_explicit_refresh": settings.is_none_or(|s| s.config.policy.usage_auto_refresh_after_seconds.is_none()),
            "summary_auto_refresh_after_seconds": settings.and_then(|s| s.config.policy.usage_auto_refresh_after_seconds),
        },
        "redaction": {
            "applied_before_persistence": true,
            "patterns": ["authorization headers", "token/key/secret/password assignments", "provider API keys",
                         "GitHub tokens", "Slack tokens", "AWS access key ids", "JWT-shaped strings",
                         "URI passwords", "private key blocks"],
        },
        "never": ["log in to provider CLIs", "store provider credentials", "scrape browser dashboards",
                  "edit MCP host config files", "pick a provider for you", "merge or push"],
    })
}

// ---------------------------------------------------------------------------------------------
// setup
// ---------------------------------------------------------------------------------------------

/// MCP hosts `setup` knows, with the provider id of the same vendor's CLI when there is one.
const HOSTS: &[(&str, &str, Option<&str>)] = &[
    ("cursor", "Cursor", None),
    ("claude-code", "Claude Code", Some("claude-code")),
    ("codex", "Codex CLI", Some("codex-cli")),
    ("copilot-cli", "GitHub Copilot CLI", Some("copilot-cli")),
    ("claude-desktop", "Claude Desktop", None),
];

const DOES_NOT: &[&str] = &[
    "store provider credentials",
    "log in to provider CLIs",
    "scrape browser dashboards",
    "edit MCP host config files",
];

async fn provider_result(ctx: &Context, id: &str) -> Value {
    let descriptors = ctx.manager.describe_providers(false).await;
    let Some(d) = descriptors.into_iter().find(|d| d.id == id) else {
        return json!({"target": id, "provider_id": id, "ok": false,
                      "checks": [check("provider_configured", false, format!("`{id}` is not an enabled provider"), Some("agentpool providers --json"))]});
    };
    let mut checks = vec![check("provider_configured", true, d.display_name.clone(), None)];
    let install_hint = format!("install {} and confirm it runs: see docs/providers.md", d.display_name);
    checks.push(check(
        "provider_installed",
        d.installed,
        d.binary_path.clone().map_or_else(
            || "not found on PATH".to_owned(),
            |p| format!("{p} ({})", d.version.clone().unwrap_or_default()),
        ),
        Some(&install_hint),
    ));
    let auth = serde_json::to_value(&d.auth).unwrap_or(Value::Null);
    let auth_status = auth["status"].as_str().unwrap_or("unknown").to_owned();
    let auth_ok = matches!(auth_status.as_str(), "authenticated" | "unknown");
    checks.push(check(
        "auth",
        auth_ok,
        format!("status={auth_status}"),
        Some("sign in with the provider's own CLI; AgentPool never logs in"),
    ));
    let default_model = d.metadata.get("default_model").and_then(Value::as_str).unwrap_or("unset").to_owned();
    checks.push(check(
        "model_catalog",
        !d.models.is_empty(),
        format!("default={default_model}, models={}", d.models.len()),
        Some("agentpool models validate --json"),
    ));
    let cached = cached_usage(ctx, id).await;
    checks.push(match &cached {
        Some((status, ts)) => {
            check("usage_cache", true, format!("last snapshot {status} at {ts} (cached; nothing was probed)"), None)
        }
        None => json!({"name": "usage_cache", "ok": null, "message": "no cached usage; nothing was probed",
                       "action": format!("agentpool usage-summary --provider {id} --refresh --json")}),
    });
    let ok = checks.iter().all(|c| c["ok"] != false);
    let actions: Vec<&str> = checks.iter().filter(|c| c["ok"] == false).filter_map(|c| c["action"].as_str()).collect();
    json!({
        "target": id, "kind": "provider", "provider_id": id, "display_name": d.display_name, "ok": ok,
        "installed": d.installed, "binary": d.binary_path, "does_not": DOES_NOT, "checks": checks, "actions": actions,
        "next_commands": [
            format!("agentpool usage-summary --provider {id} --refresh --json"),
            format!("agentpool models --provider {id}"),
            format!("agentpool spawn --provider {id} --repo . --task \"Inspect this repo read-only.\" --isolation read_only"),
        ],
    })
}

async fn cached_usage(ctx: &Context, id: &str) -> Option<(String, String)> {
    let id = id.to_owned();
    ctx.manager
        .store()
        .call(move |c| {
            use rusqlite::OptionalExtension;
            Ok(c.query_row(
                "SELECT status, ts FROM usage_snapshots WHERE provider_id = ?1 ORDER BY ts DESC, id DESC LIMIT 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
        .await
        .ok()
        .flatten()
}

fn host_result(target: &str, display: &str, relative: bool) -> Result<Value> {
    let (command, warning) = crate::cmd_mcp_config::server_command(!relative);
    let mcp = crate::cmd_mcp_config::config_for(target, &command)?;
    let installed =
        if relative { agentpool_core::provider::which("agentpool").is_some() } else { Path::new(&command).exists() };
    let checks = vec![
        check("agentpool_installed", installed, command.clone(), Some("cargo install --path crates/agentpool-cli")),
        check("mcp_config", true, format!("paste into {}", mcp["path"].as_str().unwrap_or("")), None),
    ];
    let ok = installed;
    Ok(json!({
        "target": target, "kind": "host", "provider_id": null, "display_name": display, "ok": ok,
        "does_not": DOES_NOT, "mcp_config": mcp, "warnings": warning.into_iter().collect::<Vec<_>>(), "checks": checks,
        "manual_steps": ["Paste `mcp_config.config` where `mcp_config.path` says (or run one of `mcp_config.commands`).",
                         "Restart or reload the host, then check the agentpool tools are listed."],
        "next_commands": [format!("agentpool mcp-config --client {target} --absolute-command --install"), "agentpool doctor --deep".to_owned()],
    }))
}

pub async fn setup(ctx: &Context, args: &SetupArgs) -> Result<Out> {
    let target = args.target.trim().to_ascii_lowercase();
    let providers = ctx.manager.registry().ids();
    let result = if target == "all" {
        let mut results = Vec::new();
        for (t, d, _) in HOSTS {
            results.push(host_result(t, d, args.relative_command)?);
        }
        for p in providers.iter().filter(|p| !p.starts_with("fake-")) {
            results.push(provider_result(ctx, p).await);
        }
        let ok = results.iter().all(|r| r["ok"] == true);
        json!({"target": "all", "ok": ok, "results": results, "does_not": DOES_NOT})
    } else if let Some((t, d, provider)) = HOSTS.iter().find(|(t, _, _)| *t == target) {
        let mut r = host_result(t, d, args.relative_command)?;
        if let Some(p) = provider
            && providers.iter().any(|x| x == p)
        {
            let pr = provider_result(ctx, p).await;
            r["ok"] = json!(r["ok"] == true && pr["ok"] == true);
            r["provider"] = pr;
        }
        r
    } else if providers.contains(&target) {
        provider_result(ctx, &target).await
    } else {
        let mut supported: Vec<String> = HOSTS.iter().map(|(t, _, _)| (*t).to_owned()).collect();
        supported.push("all".into());
        supported.extend(providers.iter().cloned());
        return Err(Error::new(ErrorCode::InvalidRequest, format!("unknown setup target `{target}`"))
            .with("supported_targets", supported)
            .with("example", "agentpool setup all"));
    };
    let human = setup_human(&result);
    let ok = result["ok"] == true;
    // `setup all` is a report: it succeeds even when some rows need action.
    Ok(Out::new(result, human).failed_if(!ok && target != "all"))
}

fn setup_human(r: &Value) -> String {
    if let Some(results) = r["results"].as_array() {
        let rows = results
            .iter()
            .map(|x| {
                let failing: Vec<&str> = x["checks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["ok"] == false)
                    .filter_map(|c| c["name"].as_str())
                    .collect();
                vec![
                    x["target"].as_str().unwrap_or("").to_owned(),
                    x["kind"].as_str().unwrap_or("").to_owned(),
                    if x["ok"] == true { "ok".into() } else { "needs action".into() },
                    failing.join(", "),
                ]
            })
            .collect();
        let mut s = output::table(&["Target", "Kind", "Status", "Failing checks"], rows);
        s.push_str("\nDetails: agentpool setup <target>\n");
        return s;
    }
    let mut s =
        format!("AgentPool setup: {}\n", r["display_name"].as_str().unwrap_or(r["target"].as_str().unwrap_or("")));
    let mut checks: Vec<Value> = r["checks"].as_array().cloned().unwrap_or_default();
    checks.extend(r["provider"]["checks"].as_array().cloned().unwrap_or_default());
    let rows = checks
        .iter()
        .map(|c| {
            let status = match &c["ok"] {
                Value::Bool(true) => "ok",
                Value::Bool(false) => "needs action",
                _ => "skip",
            };
            vec![
                c["name"].as_str().unwrap_or("").to_owned(),
                status.to_owned(),
                c["message"].as_str().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    s.push_str(&output::table(&["Check", "Status", "Details"], rows));
    if let Some(cfg) = r.get("mcp_config") {
        s.push_str(&format!(
            "\nMCP config for {}:\n{}",
            cfg["path"].as_str().unwrap_or(""),
            crate::cmd_mcp_config::snippet(cfg)
        ));
    }
    let actions: Vec<&str> = checks.iter().filter(|c| c["ok"] == false).filter_map(|c| c["action"].as_str()).collect();
    if !actions.is_empty() {
        s.push_str("\nTo fix:\n");
        for a in actions {
            s.push_str(&format!("  {a}\n"));
        }
    }
    s.push_str("\nNext:\n");
    for n in r["next_commands"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        s.push_str(&format!("  {n}\n"));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// onboard
// ---------------------------------------------------------------------------------------------

pub async fn onboard() -> Result<Out> {
    let (home, config_file) = Paths::from_env()?;
    let prefs = home.join("preferences.md");
    let tmux = on_path("tmux").is_some();
    let steps = vec![
        json!({"step": "check the machine", "done": tmux, "command": "agentpool doctor --deep"}),
        json!({"step": "write a config", "done": config_file.exists(), "command": "agentpool init"}),
        json!({"step": "state your delegation preferences", "done": prefs.exists(), "command": format!("$EDITOR {}", prefs.display())}),
        json!({"step": "check your coding-agent CLIs", "done": null, "command": "agentpool setup all"}),
        json!({"step": "register the MCP server with your host", "done": null, "command": "agentpool mcp-config --client <cursor|claude-code|codex|copilot-cli|claude-desktop>"}),
        json!({"step": "run the fake-provider smoke", "done": null, "command": "agentpool smoke --provider fake-question --repo ."}),
        json!({"step": "give your agent the guide", "done": null, "command": "agentpool skills get agentpool"}),
    ];
    let next: Vec<&str> = steps.iter().filter(|s| s["done"] != true).filter_map(|s| s["command"].as_str()).collect();
    let mut human = format!("AgentPool {VERSION} onboarding\n");
    for (i, s) in steps.iter().enumerate() {
        let mark = match &s["done"] {
            Value::Bool(true) => "done",
            Value::Bool(false) => "todo",
            _ => "    ",
        };
        human.push_str(&format!(
            "{}. [{mark}] {}: {}\n",
            i + 1,
            s["step"].as_str().unwrap_or(""),
            s["command"].as_str().unwrap_or("")
        ));
    }
    Ok(Out::new(
        json!({"version": VERSION, "home": home, "config_path": config_file, "steps": steps, "next_commands": next}),
        human,
    ))
}

/// Commands that run before (and without) a `Manager`: they must work when the config is
/// broken or tmux is missing, and must not create the database.
pub async fn early(cmd: &crate::args::Command) -> Option<Result<Out>> {
    use crate::args::Command as C;
    Some(match cmd {
        C::Init(a) => init(a),
        C::Doctor(a) => doctor(a).await,
        C::Onboard => onboard().await,
        C::Preferences(a) => preferences(a),
        C::Config(c) => crate::cmd_config::run(c),
        C::Completions(a) => crate::cmd_config::completions(a),
        C::Skills { action } => crate::cmd_skills::run(action.as_ref()),
        C::McpConfig(a) => crate::cmd_mcp_config::run(a),
        _ => return None,
    })
}
