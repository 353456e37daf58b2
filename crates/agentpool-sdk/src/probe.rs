//! Detection of provider CLIs on this machine: finding the binary, probing its version (with a
//! short timeout, cached by path, size and modification time), and the generic `detect` that
//! real provider crates build on.
//!
//! Binary lookup never looks relative to the current directory: only absolute `PATH` entries
//! and a fixed list of user and system bin directories count, and only regular executable
//! files. So a directory (or a stray script) named `codex` in the working directory changes
//! nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ProviderConfig;
use crate::model::{AuthState, AuthStatus, Confidence};
use crate::process::{self, RunOptions};
use crate::provider::{Detected, ProbeContext, auth_status};

/// Upper bound on one `--version` probe. Some CLIs (node-based ones on a cold disk) take more
/// than a second; the cache means this is paid once per installed binary.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(4);

/// Longest version string kept.
const MAX_VERSION_CHARS: usize = 200;

/// User-level bin directories checked after `PATH`, relative to `$HOME`, then system ones.
const USER_BIN_DIRS: &[&str] =
    &[".local/bin", "bin", ".npm-global/bin", ".bun/bin", ".cargo/bin", ".opencode/bin", ".factory/bin", ".devin/bin"];
const SYSTEM_BIN_DIRS: &[&str] = &["/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin"];

/// The directories searched for a bare command name, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).filter(|d| d.is_absolute()).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let home = PathBuf::from(home);
        dirs.extend(USER_BIN_DIRS.iter().map(|d| home.join(d)));
    }
    dirs.extend(SYSTEM_BIN_DIRS.iter().map(PathBuf::from));
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Finds an executable: a name with a `/` must be an absolute path (after `~` expansion);
/// a bare name is looked up in [`search_dirs`].
pub fn which(name: &str) -> Option<PathBuf> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        let p = crate::config::expand_tilde(Path::new(name));
        return (p.is_absolute() && is_executable(&p)).then_some(p);
    }
    search_dirs().into_iter().map(|d| d.join(name)).find(|p| is_executable(p))
}

/// A regular file (after following symlinks) with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolves a provider's binary: the configured `command[0]`, else the configured
/// `binary_candidates`, else the provider's own candidates — the first one found wins.
pub fn resolve_binary(config: &ProviderConfig, default_candidates: &[&str]) -> Option<PathBuf> {
    if let Some(first) = config.command.as_ref().and_then(|c| c.first()) {
        return which(first);
    }
    if !config.binary_candidates.is_empty() {
        return config.binary_candidates.iter().find_map(|c| which(c));
    }
    default_candidates.iter().find_map(|c| which(c))
}

/// A version from `--version` output: the first non-empty line of stdout (stderr when stdout
/// is empty), trimmed and bounded. Output with no digit, or with control characters, is not a
/// version.
pub fn parse_version(stdout: &str, stderr: &str) -> Option<String> {
    let text = if stdout.trim().is_empty() { stderr } else { stdout };
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let clean = line;
    if !clean.chars().any(|c| c.is_ascii_digit()) || clean.chars().any(char::is_control) {
        return None;
    }
    Some(clean.chars().take(MAX_VERSION_CHARS).collect())
}

/// One cached probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct CacheEntry {
    size: u64,
    mtime_ns: i128,
    version: Option<String>,
    /// `ok`, `unparsed`, `failed` or `timeout`.
    outcome: String,
    probed_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    #[serde(default)]
    entries: BTreeMap<String, CacheEntry>,
}

/// Serialises read-merge-write of the cache file inside this process (detection runs
/// concurrently). Across processes the write is atomic and the worst case is a lost entry,
/// which only costs one more probe.
static CACHE_LOCK: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// Where probe results are cached.
pub fn cache_file(home: &Path) -> PathBuf {
    home.join("cache").join("versions.json")
}

fn fingerprint(binary: &Path) -> Option<(u64, i128)> {
    let meta = std::fs::metadata(binary).ok()?;
    let mtime = meta.modified().ok()?;
    let ns = match mtime.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    Some((meta.len(), ns))
}

fn read_cache(home: &Path) -> CacheFile {
    std::fs::read(cache_file(home)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// What a version lookup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: Option<String>,
    /// Whether the answer came from the cache (no process was started).
    pub cached: bool,
    /// `ok`, `unparsed`, `failed` or `timeout`.
    pub outcome: String,
}

/// `<binary> --version`, answered from `$AGENTPOOL_HOME/cache/versions.json` when the binary's
/// path, size and mtime match a cached probe. Unknown versions are cached too, so a CLI with
/// odd output is not re-probed on every inventory; replacing the binary invalidates the entry.
pub async fn version(home: &Path, binary: &Path) -> VersionInfo {
    let key = binary.display().to_string();
    let Some((size, mtime_ns)) = fingerprint(binary) else {
        return VersionInfo { version: None, cached: false, outcome: "failed".into() };
    };
    if let Some(e) = read_cache(home).entries.get(&key).filter(|e| e.size == size && e.mtime_ns == mtime_ns) {
        return VersionInfo { version: e.version.clone(), cached: true, outcome: e.outcome.clone() };
    }
    let out = process::run(
        &[key.clone(), "--version".to_owned()],
        RunOptions { dumb_terminal: true, timeout: Some(VERSION_TIMEOUT), ..Default::default() },
    )
    .await;
    let (version, outcome) = if out.status == process::TIMEOUT_EXIT && out.stderr == "timed out" {
        (None, "timeout")
    } else if out.success() {
        match parse_version(&out.stdout, &out.stderr) {
            Some(v) => (Some(v), "ok"),
            None => (None, "unparsed"),
        }
    } else {
        (None, "failed")
    };
    let entry = CacheEntry {
        size,
        mtime_ns,
        version: version.clone(),
        outcome: outcome.to_owned(),
        probed_at: crate::util::now(),
    };
    let _guard = CACHE_LOCK.lock().await;
    let mut cache = read_cache(home);
    cache.entries.insert(key, entry);
    if let Ok(bytes) = serde_json::to_vec_pretty(&cache) {
        // A cache that cannot be written only costs a probe next time.
        let _ = std::fs::create_dir_all(home.join("cache"));
        let _ = crate::util::write_atomic(&cache_file(home), &bytes);
    }
    VersionInfo { version, cached: false, outcome: outcome.to_owned() }
}

/// The auth status of a provider without a safe local probe.
pub fn auth_unknown() -> AuthStatus {
    auth_status(
        AuthState::Unknown,
        Confidence::Unknown,
        Some("no safe local auth probe for this provider; a login screen shows up as readiness `login_required`"),
    )
}

/// Generic detection for a CLI provider: resolve the binary, probe (or recall) its version.
pub async fn detect_cli(ctx: &ProbeContext, default_candidates: &[&str]) -> Detected {
    let Some(path) = resolve_binary(&ctx.config, default_candidates) else {
        let tried: Vec<String> = match (&ctx.config.command, ctx.config.binary_candidates.is_empty()) {
            (Some(cmd), _) => cmd.first().cloned().into_iter().collect(),
            (None, false) => ctx.config.binary_candidates.clone(),
            (None, true) => default_candidates.iter().map(|s| (*s).to_owned()).collect(),
        };
        return Detected {
            installed: false,
            binary_path: None,
            version: None,
            auth: auth_status(AuthState::Unavailable, Confidence::Unknown, Some("no binary candidate found")),
            warnings: vec![format!("provider binary is not installed (looked for: {})", tried.join(", "))],
        };
    };
    let info = version(&ctx.home, &path).await;
    let mut warnings = Vec::new();
    if info.version.is_none() {
        warnings.push(format!("could not read a version from `{} --version` ({})", path.display(), info.outcome));
    }
    Detected {
        installed: true,
        binary_path: Some(path.display().to_string()),
        version: info.version,
        auth: auth_unknown(),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn version_parsing() {
        assert_eq!(parse_version("codex-cli 0.169.0\n", "").as_deref(), Some("codex-cli 0.169.0"));
        assert_eq!(parse_version("\n  2.1.197 (Claude Code)\nmore", "").as_deref(), Some("2.1.197 (Claude Code)"));
        assert_eq!(parse_version("", "1.0.102\n").as_deref(), Some("1.0.102"));
        assert_eq!(parse_version("", ""), None);
        assert_eq!(parse_version("   \n", "  "), None);
        assert_eq!(parse_version("usage: foo [options]", ""), None);
        assert_eq!(parse_version("v1\u{7}", ""), None);
        assert_eq!(parse_version(&"9".repeat(500), "").map(|v| v.len()), Some(200));
    }

    #[test]
    fn which_ignores_relative_and_non_executable_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("codex")).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        assert_eq!(which(&dir.path().join("codex").display().to_string()), None, "a directory is not a binary");
        assert_eq!(which(&plain.display().to_string()), None, "no execute bit");
        assert_eq!(which("./codex"), None, "relative paths are never used");
        let exe = script(dir.path(), "tool", "exit 0");
        assert_eq!(which(&exe.display().to_string()), Some(exe));
        assert_eq!(which(""), None);
    }

    #[test]
    fn configured_command_and_candidates_win() {
        let dir = tempfile::tempdir().unwrap();
        let a = script(dir.path(), "a", "exit 0");
        let b = script(dir.path(), "b", "exit 0");
        let mut cfg = ProviderConfig::default();
        assert_eq!(resolve_binary(&cfg, &[&a.display().to_string()]), Some(a.clone()));
        cfg.binary_candidates = vec!["/nonexistent/x".into(), b.display().to_string()];
        assert_eq!(resolve_binary(&cfg, &[&a.display().to_string()]), Some(b.clone()));
        cfg.command = Some(vec![a.display().to_string(), "--flag".into()]);
        assert_eq!(resolve_binary(&cfg, &[]), Some(a));
    }

    #[tokio::test]
    async fn version_probe_is_cached_by_path_size_and_mtime() {
        let home = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        let log = bin.path().join("calls");
        let exe = script(bin.path(), "cli", &format!("echo probed >> {}\necho 'cli 1.2.3'", log.display()));
        let first = version(home.path(), &exe).await;
        assert_eq!(first, VersionInfo { version: Some("cli 1.2.3".into()), cached: false, outcome: "ok".into() });
        let second = version(home.path(), &exe).await;
        assert_eq!(second.version.as_deref(), Some("cli 1.2.3"));
        assert!(second.cached);
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1, "the second lookup ran no probe");
        // A different binary at the same path (new size) is probed again.
        script(bin.path(), "cli", &format!("echo probed >> {}\necho 'cli 1.2.40'", log.display()));
        let third = version(home.path(), &exe).await;
        assert_eq!((third.version.as_deref(), third.cached), (Some("cli 1.2.40"), false));
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
    }

    #[tokio::test]
    async fn odd_or_failing_output_is_an_unknown_version() {
        let home = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        let empty = script(bin.path(), "empty", "exit 0");
        let failing = script(bin.path(), "failing", "echo 'v9' ; exit 3");
        let odd = script(bin.path(), "odd", "echo 'hello there'");
        assert_eq!(version(home.path(), &empty).await.outcome, "unparsed");
        assert_eq!(
            version(home.path(), &failing).await,
            VersionInfo { version: None, cached: false, outcome: "failed".into() }
        );
        let o = version(home.path(), &odd).await;
        assert_eq!((o.version, o.outcome.as_str()), (None, "unparsed"));
        // Unknown answers are cached as well.
        assert!(version(home.path(), &odd).await.cached);
    }
}
