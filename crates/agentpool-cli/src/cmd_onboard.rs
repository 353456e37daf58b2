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
use crate::hosts::{self, Host};
use crate::output::{self, Out};

/// The file `init` writes: short, commented, every line optional.
pub const DEFAULT_CONFIG: &str = "\
# AgentPool configuration. Every key is optional; the values shown are the defaults.
# Check it with `agentpool config validate`; `agentpool config show` prints every setting.

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
    /// With `setup all`, also check the built-in fake providers (hidden unless enabled
    /// explicitly in config).
    #[arg(long)]
    pub all: bool,
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
        Some(b) => agentpool_core::probe::which(b),
        None => on_path("tmux"),
    };
    match &tmux_bin {
        // Only a lookup here: running tmux (even `-V`) is agentpool-tmux's job; `--deep`
        // proves it works through the runtime.
        Some(b) => checks.push(check("tmux", true, b.display().to_string(), None)),
        None => {
            let elsewhere = match (&configured, &settings) {
                (None, Some(s)) => crate::commands::tmux_runtime(s).binary_path().map(PathBuf::from),
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
    match agentpool_core::probe::which("git") {
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
        checks.push(sqlite_check(&s.paths.db_path, args.deep));
        checks.push(artifact_check(&s.paths.artifact_root));
        match agentpool_core::provider::Registry::new(s) {
            Ok(r) => checks.push(providers_check(s, &r).await),
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
    if args.deep {
        // What `onboard` reads to tell whether a deep check really ran (and passed).
        record(&home, DOCTOR_DEEP, json!({"ok": ok, "at": util::now(), "version": VERSION}));
    }
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
            output::human_command(c["action"].as_str().unwrap_or(""))
        ));
    }
    if ok {
        human.push_str("next:\n");
        for n in j["next_commands"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            human.push_str(&format!("  {n}\n"));
        }
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

/// Real providers: how many of the enabled ones are installed (detection only; versions come
/// from the cache after the first run). The built-in fakes are not counted unless enabled
/// explicitly in config.
async fn providers_check(settings: &Settings, registry: &agentpool_core::provider::Registry) -> Value {
    let listed: Vec<_> = registry.ordered().into_iter().filter(|p| settings.listed_by_default(p.id())).collect();
    let self_exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("agentpool"));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in listed.iter().cloned().enumerate() {
        let ctx = agentpool_core::provider::ProbeContext {
            config: agentpool_core::profile::ProviderProfile::merge(p.as_ref(), settings).config,
            self_exe: self_exe.clone(),
            agentpool_version: VERSION,
            home: settings.paths.home.clone(),
        };
        tasks.spawn(async move { (i, p.discover(&ctx).await.installed) });
    }
    let mut installed_at = vec![false; listed.len()];
    for (i, yes) in tasks.join_all().await {
        installed_at[i] = yes;
    }
    let enabled: Vec<&str> = listed.iter().map(|p| p.id()).collect();
    let installed: Vec<&str> = enabled.iter().zip(&installed_at).filter(|(_, y)| **y).map(|(id, _)| *id).collect();
    let message = if installed.is_empty() {
        format!(
            "0 of {} enabled provider CLIs installed (`agentpool setup all` says how to install them)",
            enabled.len()
        )
    } else {
        format!("{} of {} installed: {}", installed.len(), enabled.len(), installed.join(", "))
    };
    let mut c = check("providers", true, message, None);
    c["installed"] = json!(installed);
    c["enabled"] = json!(enabled);
    c
}

/// Marker files under `$AGENTPOOL_HOME/state/`: what `onboard` reads to tell which steps
/// really ran.
const DOCTOR_DEEP: &str = "doctor-deep.json";
const SETUP_ALL: &str = "setup-all.json";

fn marker_path(home: &Path, name: &str) -> PathBuf {
    home.join("state").join(name)
}

/// Records a step's outcome. Best effort: a read-only home must not fail the command itself.
fn record(home: &Path, name: &str, value: Value) {
    let _ = util::write_atomic(&marker_path(home, name), format!("{value}\n").as_bytes());
}

fn recorded(home: &Path, name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(marker_path(home, name)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Opens (and migrates) the store, then asks SQLite whether the file is sound:
/// `PRAGMA quick_check`, or the slower `integrity_check` with `--deep`.
fn sqlite_check(db: &Path, deep: bool) -> Value {
    if let Err(e) = agentpool_core::store::Store::open(db) {
        return check(
            "sqlite",
            false,
            format!("{}: {}", db.display(), e.message),
            Some("check permissions of $AGENTPOOL_HOME"),
        );
    }
    let pragma = if deep { "integrity_check" } else { "quick_check" };
    let verdict = agentpool_core::store::integrity_check(db, deep);
    match verdict {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => {
            check("sqlite", true, format!("{} ({pragma}: ok)", db.display()), None)
        }
        Ok(rows) => check(
            "sqlite",
            false,
            format!(
                "{}: {pragma} found damage: {}",
                db.display(),
                rows.join("; ").chars().take(300).collect::<String>()
            ),
            Some("stop AgentPool, copy the database aside, then try `sqlite3 <db> .recover`"),
        ),
        Err(e) => check(
            "sqlite",
            false,
            format!("{}: {pragma} failed: {e}", db.display()),
            Some("stop AgentPool, copy the database aside, then try `sqlite3 <db> .recover`"),
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
        Ok(store) => store.call(|c| agentpool_core::store::count_usage_snapshots(c)).await,
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
    let runtime = crate::commands::tmux_runtime(settings);
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
            // The redactor's own table, so this list cannot drift from what is redacted.
            "patterns": agentpool_core::redact::SHAPES.iter().map(|s| s.name).collect::<Vec<_>>(),
        },
        "never": ["log in to provider CLIs", "store provider credentials", "scrape browser dashboards",
                  "edit MCP host config files on its own (only `mcp-config --install` does, with a backup)",
                  "pick a provider for you", "merge or push"],
    })
}

// ---------------------------------------------------------------------------------------------
// setup
// ---------------------------------------------------------------------------------------------

/// The MCP hosts `setup` reports on: every preset but `generic`.
fn setup_hosts() -> impl Iterator<Item = &'static Host> {
    hosts::HOSTS.iter().filter(|h| h.id != "generic")
}

/// The provider id of the same vendor's CLI, for hosts that are also workers.
fn host_provider(host: &str) -> Option<&'static str> {
    match host {
        "claude-code" => Some("claude-code"),
        "codex" => Some("codex-cli"),
        "copilot-cli" => Some("copilot-cli"),
        "opencode" => Some("opencode"),
        _ => None,
    }
}

const DOES_NOT: &[&str] = &[
    "store provider credentials",
    "log in to provider CLIs",
    "scrape browser dashboards",
    "edit MCP host config files unless you run `mcp-config --install` (which keeps a backup)",
];

/// How to install each built-in provider's CLI, and a command that shows it runs. Commands
/// rather than documentation paths: someone with only the binary can paste them.
const INSTALL: &[(&str, &str, &str)] = &[
    ("claude-code", "npm install -g @anthropic-ai/claude-code", "claude --version"),
    ("codex-cli", "npm install -g @openai/codex", "codex --version"),
    ("cursor-cli", "curl https://cursor.com/install -fsS | bash", "agent --version"),
    ("opencode", "npm install -g opencode-ai", "opencode --version"),
    ("copilot-cli", "npm install -g @github/copilot", "copilot --version"),
    ("droid-cli", "curl -fsSL https://app.factory.ai/cli | sh", "droid --version"),
    ("devin-cli", "curl -fsSL https://cli.devin.ai/install.sh | bash", "devin --version"),
];

/// `(install, check)` commands for a provider id, when AgentPool knows them.
pub fn install_commands(id: &str) -> Option<(&'static str, &'static str)> {
    INSTALL.iter().find(|(p, _, _)| *p == id).map(|(_, install, check)| (*install, *check))
}

/// The auth row in plain words. `unknown` (no safe local probe) and "not installed yet" are
/// not checked (`ok: null`), not claimed fine; only a real `unauthenticated` needs action.
fn auth_check(d: &agentpool_core::model::ProviderDescriptor, login: Option<&str>) -> Value {
    use agentpool_core::model::AuthState;
    let sign_in = match login {
        Some(cmd) => format!("sign in with the provider's own CLI: {cmd} (AgentPool never logs in)"),
        None => "sign in with the provider's own CLI (AgentPool never logs in)".to_owned(),
    };
    match d.auth.status {
        AuthState::Authenticated => check("auth", true, "signed in", None),
        AuthState::Unauthenticated => check("auth", false, "not signed in", Some(&sign_in)),
        _ if !d.installed => json!({"name": "auth", "ok": null, "message": "not checked: the CLI is not installed"}),
        AuthState::Unknown => json!({"name": "auth", "ok": null,
            "message": "not checked: no safe local sign-in probe; a worker at its sign-in screen shows as `login_required` in observe",
            "action": sign_in}),
        AuthState::Unavailable => check(
            "auth",
            false,
            format!("cannot tell: {}", d.auth.reason.as_deref().unwrap_or("the sign-in state is unavailable")),
            Some(&sign_in),
        ),
    }
}

async fn provider_result(ctx: &Context, id: &str) -> Value {
    let descriptors = ctx.manager.describe_providers(false).await;
    let Some(d) = descriptors.into_iter().find(|d| d.id == id) else {
        return json!({"target": id, "provider_id": id, "ok": false,
                      "checks": [check("provider_configured", false, format!("`{id}` is not an enabled provider"), Some("agentpool providers --json"))]});
    };
    let mut checks = vec![check("provider_configured", true, d.display_name.clone(), None)];
    let install = install_commands(id);
    let install_hint = match install {
        Some((install, verify)) => format!("{install} && {verify}"),
        None => format!(
            "install the `{id}` CLI and put it on PATH (or set `[providers.{id}] command = [...]` in config.toml)"
        ),
    };
    checks.push(check(
        "provider_installed",
        d.installed,
        d.binary_path.clone().map_or_else(
            || "not found on PATH".to_owned(),
            |p| format!("{p} ({})", d.version.clone().unwrap_or_default()),
        ),
        Some(&install_hint),
    ));
    let login = ctx.manager.registry().get(id).ok().and_then(|p| p.screen_rules().login_command);
    checks.push(auth_check(&d, login.as_deref()));
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
        "installed": d.installed, "binary": d.binary_path,
        "install": install.map(|(command, check)| json!({"command": command, "check": check})),
        "does_not": DOES_NOT, "checks": checks, "actions": actions,
        "next_commands": [
            format!("agentpool usage-summary --provider {id} --refresh --json"),
            format!("agentpool models --provider {id}"),
            format!("agentpool spawn --provider {id} --repo . --task \"Inspect this repo read-only.\" --isolation read_only"),
        ],
    })
}

async fn cached_usage(ctx: &Context, id: &str) -> Option<(String, String)> {
    let id = id.to_owned();
    ctx.manager.store().call(move |c| agentpool_core::store::latest_usage_status(c, &id)).await.ok().flatten()
}

/// One host's row. Registered means AgentPool's entry is in the host's user or project config
/// (read, never probed). In `setup all` an unregistered host is reported but is no action item
/// (nobody uses every host); asked about by name (`setup cursor`), it needs action.
fn host_result(host: &Host, relative: bool, named: bool) -> Result<Value> {
    let target = host.id;
    let launcher = (!relative).then_some(crate::cmd_mcp_config::Launcher::Path);
    let (server, warning) = crate::cmd_mcp_config::server_command(launcher);
    let command = server.command.clone();
    let mcp = crate::cmd_mcp_config::config_for(target, &server)?;
    let installed =
        if relative { agentpool_core::probe::which("agentpool").is_some() } else { Path::new(&command).exists() };
    let exe = std::env::current_exe().map_or_else(|_| "<path-to-agentpool>".to_owned(), |p| p.display().to_string());
    let put_on_path = format!("mkdir -p ~/.local/bin && ln -sf {exe} ~/.local/bin/agentpool");
    let absolute = if relative { "" } else { " --absolute-command" };
    let install = format!("agentpool mcp-config --client {target}{absolute} --install");
    let (registered, place) = hosts::registered(host).unwrap_or((false, String::new()));
    let registration = if registered {
        check("mcp_config", true, format!("registered in {place}"), None)
    } else {
        let mut c = check(
            "mcp_config",
            false,
            format!("not registered with {}; {install} adds it", host.display),
            Some(&install),
        );
        if !named {
            // Reported, but not an action item of `setup all`.
            c["ok"] = Value::Null;
        }
        c
    };
    let checks = vec![check("agentpool_installed", installed, command.clone(), Some(&put_on_path)), registration];
    let ok = match (installed, registered) {
        (true, true) => json!(true),
        (true, false) if !named => Value::Null,
        _ => json!(false),
    };
    let mut next = Vec::new();
    if !registered {
        next.push(format!("{install} --dry-run"));
        next.push(install.clone());
    }
    next.push("agentpool doctor --deep".to_owned());
    Ok(json!({
        "target": target, "kind": "host", "provider_id": null, "display_name": host.display, "ok": ok,
        "registered": registered, "does_not": DOES_NOT, "mcp_config": mcp,
        "warnings": warning.into_iter().collect::<Vec<_>>(), "checks": checks,
        "manual_steps": [format!("Run `{install}` (or paste `mcp_config.config` where `mcp_config.path` says)."),
                         "Restart or reload the host, then check the agentpool tools are listed."],
        "next_commands": next,
    }))
}

pub async fn setup(ctx: &Context, args: &SetupArgs) -> Result<Out> {
    let target = args.target.trim().to_ascii_lowercase();
    let providers = ctx.manager.registry().ids();
    let settings = ctx.manager.settings();
    let result = if target == "all" {
        let mut results = Vec::new();
        for host in setup_hosts() {
            results.push(host_result(host, args.relative_command, false)?);
        }
        for p in providers.iter().filter(|p| args.all || settings.listed_by_default(p)) {
            results.push(provider_result(ctx, p).await);
        }
        // A host nobody registered (`ok: null`) is reported, not counted as needing action.
        let ok = results.iter().all(|r| r["ok"] != false);
        let needs_action: Vec<&str> =
            results.iter().filter(|r| r["ok"] == false).filter_map(|r| r["target"].as_str()).collect();
        record(
            &settings.paths.home,
            SETUP_ALL,
            json!({"ok": ok, "at": util::now(), "version": VERSION, "needs_action": needs_action}),
        );
        json!({"target": "all", "ok": ok, "results": results, "does_not": DOES_NOT})
    } else if let Some(host) = setup_hosts().find(|h| h.id == target) {
        let mut r = host_result(host, args.relative_command, true)?;
        if let Some(p) = host_provider(host.id)
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
        let mut supported: Vec<String> = setup_hosts().map(|h| h.id.to_owned()).collect();
        supported.push("all".into());
        supported.extend(providers.iter().filter(|p| settings.listed_by_default(p)).cloned());
        return Err(Error::new(ErrorCode::InvalidRequest, format!("unknown setup target `{target}`"))
            .with("supported_targets", supported)
            .with("example", "agentpool setup all"));
    };
    let human = setup_human(&result);
    let ok = result["ok"] == true;
    // Exit 1 whenever something needs action, for one target or for `all`.
    Ok(Out::new(result, human).failed_if(!ok))
}

fn setup_human(r: &Value) -> String {
    if let Some(results) = r["results"].as_array() {
        let named = |x: &Value, ok: Value| -> Vec<String> {
            x["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["ok"] == ok)
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        };
        let rows = results
            .iter()
            .map(|x| {
                let failing = named(x, Value::Bool(false));
                let status = match &x["ok"] {
                    Value::Bool(true) => "ok",
                    Value::Null if x["kind"] == "host" => "not registered",
                    _ => "needs action",
                };
                let details = if status == "not registered" {
                    format!("agentpool mcp-config --client {} --install", x["target"].as_str().unwrap_or(""))
                } else {
                    failing.join(", ")
                };
                vec![
                    x["target"].as_str().unwrap_or("").to_owned(),
                    x["kind"].as_str().unwrap_or("").to_owned(),
                    status.to_owned(),
                    details,
                ]
            })
            .collect();
        let mut s = output::table(&["Target", "Kind", "Status", "Failing checks or next step"], rows);
        let missing: Vec<&str> = results
            .iter()
            .filter(|x| x["kind"] == "provider" && x["installed"] == false)
            .filter_map(|x| x["target"].as_str())
            .collect();
        s.push_str("\nDetails and fixes: agentpool setup <target>\n");
        if !missing.is_empty() {
            s.push_str("Not using one of these CLIs? Disable it in config.toml: [providers.<id>] enabled = false\n");
        }
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
                _ => "not checked",
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
            s.push_str(&format!("  {}\n", output::human_command(a)));
        }
    }
    s.push_str("\nNext:\n");
    for n in r["next_commands"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        s.push_str(&format!("  {}\n", output::human_command(n)));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// onboard
// ---------------------------------------------------------------------------------------------

/// `onboard`: each step is `done: true` only when it really happened (recorded by the command
/// itself, or visible on disk / in the store), `false` when it did not, `null` when AgentPool
/// cannot tell. `detail` says what the verdict rests on.
pub async fn onboard() -> Result<Out> {
    let (home, config_file) = Paths::from_env()?;
    let settings = Settings::load_from(home.clone(), config_file.clone()).ok();
    let prefs = settings.as_ref().map_or_else(|| home.join("preferences.md"), |s| s.paths.preferences.clone());
    let db = settings.as_ref().map_or_else(|| home.join("agentpool.sqlite"), |s| s.paths.db_path.clone());
    let (doctor_done, doctor_detail) = match recorded(&home, DOCTOR_DEEP) {
        None => (json!(false), "no `doctor --deep` run recorded".to_owned()),
        Some(r) if r["ok"] == true => (json!(true), format!("passed at {}", r["at"].as_str().unwrap_or("?"))),
        Some(r) => (json!(false), format!("the last run failed ({})", r["at"].as_str().unwrap_or("?"))),
    };
    let config_done = config_file.exists();
    let (prefs_done, prefs_detail) = match std::fs::read_to_string(&prefs) {
        Err(_) => (false, "no preferences file yet (`agentpool init` writes the template)"),
        Ok(text) if text.trim() == DEFAULT_PREFERENCES.trim() => (false, "still the template `init` wrote: edit it"),
        Ok(_) => (true, "edited"),
    };
    let (setup_done, setup_detail) = match recorded(&home, SETUP_ALL) {
        None => (json!(false), "no `setup all` run recorded".to_owned()),
        Some(r) if r["ok"] == true => (json!(true), format!("everything ready at {}", r["at"].as_str().unwrap_or("?"))),
        Some(r) => {
            let who: Vec<&str> = r["needs_action"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            (json!(false), format!("the last run found these need action: {}", who.join(", ")))
        }
    };
    let (smoke_done, smoke_detail) = match completed_fake_session(&db) {
        Ok(true) => (json!(true), "a fake-question session completed".to_owned()),
        Ok(false) => (json!(false), "no completed fake-question session in the store".to_owned()),
        Err(e) => (Value::Null, format!("could not read the store: {e}")),
    };
    let (guide_done, guide_detail) = match installed_guide() {
        Some(path) => (json!(true), format!("installed at {}", path.display())),
        None => (Value::Null, "no installed skill found; an agent may still have read it another way".to_owned()),
    };
    // Registered with any host counts; none registered is "not done" (an agent with a shell
    // may use the CLI instead, which the step's detail says).
    let registered: Vec<&str> =
        setup_hosts().filter(|h| hosts::registered(h).is_some_and(|(yes, _)| yes)).map(|h| h.display).collect();
    let (mcp_done, mcp_detail) = if registered.is_empty() {
        (json!(false), "no host registers agentpool yet (agents with a shell can use the CLI instead)".to_owned())
    } else {
        (json!(true), format!("registered with {}", registered.join(", ")))
    };
    let steps = vec![
        json!({"step": "check the machine", "done": doctor_done, "command": "agentpool doctor --deep", "detail": doctor_detail}),
        json!({"step": "write a config", "done": config_done, "command": "agentpool init",
               "detail": if config_done { "exists" } else { "no config file yet; defaults apply" }}),
        json!({"step": "state your delegation preferences", "done": prefs_done, "command": format!("$EDITOR {}", prefs.display()), "detail": prefs_detail}),
        json!({"step": "check your coding-agent CLIs", "done": setup_done, "command": "agentpool setup all", "detail": setup_detail}),
        json!({"step": "register the MCP server with your host", "done": mcp_done,
               "command": "agentpool mcp-config --client <claude-code|codex|cursor|vscode|gemini|opencode|…> --absolute-command --install",
               "detail": mcp_detail}),
        json!({"step": "run the fake-provider smoke", "done": smoke_done, "command": "agentpool smoke --provider fake-question --repo .", "detail": smoke_detail}),
        json!({"step": "give your agent the guide", "done": guide_done, "command": "agentpool skills install --client <claude-code|codex>", "detail": guide_detail}),
    ];
    let next: Vec<&str> = steps.iter().filter(|s| s["done"] != true).filter_map(|s| s["command"].as_str()).collect();
    let mut human = format!("AgentPool {VERSION} onboarding\n");
    for (i, s) in steps.iter().enumerate() {
        let mark = match &s["done"] {
            Value::Bool(true) => "done",
            Value::Bool(false) => "todo",
            _ => " ?  ",
        };
        human.push_str(&format!(
            "{}. [{mark}] {}: {}\n",
            i + 1,
            s["step"].as_str().unwrap_or(""),
            s["command"].as_str().unwrap_or("")
        ));
        if s["done"] != true {
            human.push_str(&format!("           {}\n", s["detail"].as_str().unwrap_or("")));
        }
    }
    if steps.iter().any(|s| s["done"].is_null()) {
        human.push_str("\n[ ?  ]: AgentPool cannot tell whether this is done.\n");
    }
    Ok(Out::new(
        json!({"version": VERSION, "home": home, "config_path": config_file, "steps": steps, "next_commands": next}),
        human,
    ))
}

/// Whether the store holds a completed `fake-question` session (what a passing smoke leaves).
/// Opens the database read-only and only when it exists: `onboard` creates nothing.
fn completed_fake_session(db: &Path) -> std::result::Result<bool, String> {
    agentpool_core::store::has_completed_session(db, "fake-question")
}

/// The first `agentpool` skill installed where Claude Code or Codex looks (user scope, then
/// this directory's project scope).
fn installed_guide() -> Option<PathBuf> {
    use crate::cmd_skills::{Client, Scope};
    let cwd = std::env::current_dir().ok();
    let mut roots = Vec::new();
    for scope in [Scope::User, Scope::Project] {
        roots.extend(Client::ALL.iter().filter_map(|c| c.root(scope, cwd.as_deref())));
    }
    roots.into_iter().map(|root| root.join("agentpool").join("SKILL.md")).find(|p| p.is_file())
}

/// Commands that run before (and without) a `Pool`: they must work when the config is
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
