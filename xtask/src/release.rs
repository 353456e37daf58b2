//! `cargo xtask release [--dry-run]`: checks that every place naming the version agrees, builds
//! the release binary and runs `dist` on it (see `dist.rs`: tarball and `.sha256`, `install.sh`,
//! the Python wheel and the npm packages, all in `target/dist`).
//!
//! Version alignment: `[workspace.package] version`, the version of every workspace package,
//! `server.json` (`version`, each `packages[].version`, and npm and PyPI entries naming the
//! package `dist` builds), `default_version` in `scripts/install.sh`, and a `## [<version>]`
//! section in `CHANGELOG.md`. The wheel and npm packages take the workspace version when built.
//! A real release also needs a clean git tree. `--dry-run` reports a missing changelog section
//! and a dirty tree as warnings (the section is written when the release is cut) and still
//! builds and packs, so the packaging path is exercised on every change. Nothing is tagged,
//! pushed or uploaded: the task prints the commands for that instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Parses `[--dry-run]`.
pub fn parse(args: &[String]) -> Result<bool, String> {
    match args {
        [] => Ok(false),
        [a] if a == "--dry-run" => Ok(true),
        _ => Err(format!("release takes only --dry-run, got `{}`", args.join(" "))),
    }
}

pub fn run(root: &Path, dry_run: bool) -> Result<(), String> {
    let version = workspace_version(root)?;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    errors.extend(check_packages(root, &version)?);
    errors.extend(check_server_json(root, &version));
    errors.extend(check_install_sh(root, &version));
    errors.extend(check_binstall(root));
    if let Some(problem) = check_changelog(root, &version) {
        if dry_run { warnings.push(problem) } else { errors.push(problem) }
    }
    if let Some(problem) = dirty_tree(root) {
        if dry_run { warnings.push(problem) } else { errors.push(problem) }
    }
    for w in &warnings {
        eprintln!("release: warning: {w}");
    }
    if !errors.is_empty() {
        return Err(format!("release checks failed:\n  - {}", errors.join("\n  - ")));
    }
    if warnings.is_empty() {
        eprintln!("release: version {version} is aligned across the workspace, server.json and CHANGELOG.md");
    } else {
        eprintln!("release: version {version}: workspace packages and server.json agree (see the warnings above)");
    }
    let binary = build_release(root)?;
    let dist = root.join("target").join("dist");
    let made = crate::dist::build_all(root, &binary, &dist)?;
    for path in made.all() {
        println!("{}", path.display());
    }
    if dry_run {
        eprintln!("release: dry run done; nothing was tagged or published");
    } else {
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        eprintln!(
            "release: next, for each target: git tag v{version} && git push origin v{version}; attach {}, {} and {} \
             to the GitHub release; npm publish {} (every platform first), then npm publish {}; \
             twine upload {}; then publish server.json to the MCP registry",
            name(&made.tarball),
            name(&made.checksum),
            name(&made.install_sh),
            name(&made.npm_platform),
            name(&made.npm_launcher),
            name(&made.wheel),
        );
    }
    Ok(())
}

pub(crate) fn workspace_version(root: &Path) -> Result<String, String> {
    workspace_package_key(root, "version")
}

pub(crate) fn workspace_license(root: &Path) -> Result<String, String> {
    workspace_package_key(root, "license")
}

/// A string value of `[workspace.package]` in the root `Cargo.toml`.
fn workspace_package_key(root: &Path, key: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let mut in_table = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[workspace.package]";
            continue;
        }
        if in_table
            && let Some(rest) = line.strip_prefix(key)
            && let Some(v) = rest.trim_start().strip_prefix('=')
        {
            return Ok(v.trim().trim_matches('"').to_owned());
        }
    }
    Err(format!("Cargo.toml: no `{key}` in `[workspace.package]`"))
}

fn check_packages(root: &Path, version: &str) -> Result<Vec<String>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`cargo metadata` failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let meta: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    Ok(meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["version"].as_str() != Some(version))
        .map(|p| {
            format!(
                "package `{}` has version {} (workspace: {version})",
                p["name"].as_str().unwrap_or("?"),
                p["version"]
            )
        })
        .collect())
}

fn check_server_json(root: &Path, version: &str) -> Vec<String> {
    let path = root.join("server.json");
    let server: Value = match std::fs::read_to_string(&path).map(|t| serde_json::from_str(&t)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return vec![format!("server.json is not valid JSON: {e}")],
        Err(e) => return vec![format!("server.json: {e}")],
    };
    let mut problems = Vec::new();
    if server["version"].as_str() != Some(version) {
        problems.push(format!("server.json `version` is {} (workspace: {version})", server["version"]));
    }
    let packages = server["packages"].as_array().cloned().unwrap_or_default();
    if packages.is_empty() {
        problems.push("server.json has no `packages` entry".into());
    }
    for (i, p) in packages.iter().enumerate() {
        if p["version"].as_str() != Some(version) {
            problems.push(format!("server.json `packages[{i}].version` is {} (workspace: {version})", p["version"]));
        }
        if let Some(id) = p["identifier"].as_str()
            && id.contains("/releases/download/")
            && !id.contains(&format!("/v{version}/"))
        {
            problems.push(format!("server.json `packages[{i}].identifier` does not point at the v{version} release"));
        }
    }
    // The packages `dist` builds are the ones the registry is told about.
    for (registry, built) in [("npm", crate::dist::NPM_PACKAGE), ("pypi", crate::dist::PACKAGE)] {
        let listed = packages.iter().find(|p| p["registryType"] == registry);
        match listed.and_then(|p| p["identifier"].as_str()) {
            Some(id) if id == built => {}
            Some(other) => {
                problems.push(format!("server.json lists the {registry} package `{other}`, but dist builds `{built}`"))
            }
            None => problems.push(format!("server.json has no `{registry}` package entry")),
        }
    }
    if server["name"].as_str() != Some(crate::dist::MCP_NAME) {
        problems.push(format!(
            "server.json `name` is {}, but the npm and PyPI packages name {}",
            server["name"],
            crate::dist::MCP_NAME
        ));
    }
    problems
}

/// `install.sh` installs the version it was released with unless told otherwise.
fn check_install_sh(root: &Path, version: &str) -> Option<String> {
    let text = std::fs::read_to_string(root.join("scripts").join("install.sh")).unwrap_or_default();
    let wanted = format!("default_version=\"{version}\"");
    (!text.lines().any(|l| l.trim() == wanted))
        .then(|| format!("scripts/install.sh does not set `{wanted}` (workspace: {version})"))
}

/// `cargo binstall` must look for the tarball under the name `dist` gives it.
fn check_binstall(root: &Path) -> Option<String> {
    let manifest = root.join("crates").join("agentpool-cli").join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_default();
    let wanted = "/releases/download/v{ version }/agentpool-{ version }-{ target }.tar.gz";
    (!text.contains(wanted))
        .then(|| format!("crates/agentpool-cli/Cargo.toml: [package.metadata.binstall] pkg-url must end in `{wanted}`"))
}

fn check_changelog(root: &Path, version: &str) -> Option<String> {
    let text = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap_or_default();
    let wanted = format!("## [{version}]");
    if text.lines().any(|l| l.trim_start().starts_with(&wanted)) {
        None
    } else {
        Some(format!("CHANGELOG.md has no `{wanted}` section (move the Unreleased entries under it)"))
    }
}

fn dirty_tree(root: &Path) -> Option<String> {
    let out = Command::new("git").args(["status", "--porcelain"]).current_dir(root).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    (!text.trim().is_empty()).then(|| format!("the git tree has {} uncommitted change(s)", text.lines().count()))
}

pub(crate) fn host_target() -> Result<String, String> {
    let out = Command::new("rustc").arg("-vV").output().map_err(|e| format!("could not run `rustc -vV`: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or_else(|| "`rustc -vV` printed no host line".into())
}

pub(crate) fn build_release(root: &Path) -> Result<PathBuf, String> {
    eprintln!("release: cargo build --release --locked -p agentpool-cli --bin agentpool");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "agentpool-cli",
            "--bin",
            "agentpool",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !out.status.success() {
        return Err("the release build failed".into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "agentpool")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo reported no `agentpool` executable".into())
}

/// Writes the tarball (a top-level `agentpool-<version>-<target>/` directory holding the
/// binary, README and CHANGELOG) and its checksum file.
pub(crate) fn pack(
    dist: &Path,
    binary: &Path,
    version: &str,
    target: &str,
    root: &Path,
) -> Result<(PathBuf, PathBuf), String> {
    let stem = format!("agentpool-{version}-{target}");
    let staging = dist.join(&stem);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from, staging.join(name)).map(|_| ()).map_err(|e| format!("copying {}: {e}", from.display()))
    };
    copy(binary, "agentpool")?;
    copy(&root.join("README.md"), "README.md")?;
    copy(&root.join("CHANGELOG.md"), "CHANGELOG.md")?;
    let tarball_name = format!("{stem}.tar.gz");
    let tarball = dist.join(&tarball_name);
    crate::dist::reproducible_tar(dist, &stem, &tarball)?;
    let bytes = std::fs::read(&tarball).map_err(|e| format!("{}: {e}", tarball.display()))?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let sha_file = dist.join(format!("{tarball_name}.sha256"));
    std::fs::write(&sha_file, format!("{hex}  {tarball_name}\n"))
        .map_err(|e| format!("{}: {e}", sha_file.display()))?;
    std::fs::remove_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    Ok((tarball, sha_file))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn alignment_checks_name_what_is_off() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("server.json"),
            r#"{"version":"0.2.0","packages":[{"version":"0.1.0","identifier":"https://x/releases/download/v0.1.0/a.tar.gz"}]}"#,
        )
        .unwrap();
        let problems = check_server_json(dir.path(), "0.2.0");
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[2].contains("npm") && problems[3].contains("pypi") && problems[4].contains("name"));
        assert!(problems[0].contains("packages[0].version"));
        assert!(problems[1].contains("v0.2.0"));
        std::fs::write(dir.path().join("CHANGELOG.md"), "# Changelog\n\n## [Unreleased]\n").unwrap();
        assert!(check_changelog(dir.path(), "0.2.0").is_some());
        std::fs::write(dir.path().join("CHANGELOG.md"), "## [0.2.0] - 2026-01-01\n").unwrap();
        assert!(check_changelog(dir.path(), "0.2.0").is_none());
        assert!(parse(&["--dry-run".into()]).unwrap());
        assert!(parse(&["--yes".into()]).is_err());
    }

    #[test]
    fn the_workspace_version_is_read() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let v = workspace_version(root).unwrap();
        assert!(v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
    }
}
