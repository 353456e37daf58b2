//! `cargo xtask snapshot [--accept|--check]`: reviews the insta snapshots and the generated
//! references (`docs/cli.md` from clap, `docs/mcp-tools.md` from the MCP tool routers, the
//! table of secret shapes in `docs/security.md` from `agentpool_core::redact::SHAPES`).
//!
//! The generated documents are owned by tests in their crates (`agentpool-cli`'s `cli_docs`,
//! `agentpool-mcp`'s `docs`, `agentpool-core`'s `redact`): they compare the committed file
//! with a fresh rendering and rewrite it under `UPDATE_DOCS=1`. So this task only has to run
//! the right tests with the right settings:
//! - `--check`: `INSTA_UPDATE=no`, no `UPDATE_DOCS`; any mismatch or leftover pending
//!   snapshot fails (what CI runs);
//! - `--accept`: `INSTA_UPDATE=always` and `UPDATE_DOCS=1`, so every snapshot and document is
//!   rewritten; review the result with `git diff`;
//! - no flag: `INSTA_UPDATE=new` writes `.snap.new` files next to changed snapshots, then
//!   `cargo insta review` runs when it is installed, else the pending files are listed.
//!
//! Which tests to run is derived from where `.snap` files live, so a new crate with snapshots
//! is covered without editing this file. The end-to-end package runs only its `snapshots`
//! module; the other packages run whole (their tests are fast).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to do with differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Review,
    Accept,
    Check,
}

/// Parses `[--accept|--check]`.
pub fn parse(args: &[String]) -> Result<Mode, String> {
    match args {
        [] => Ok(Mode::Review),
        [a] if a == "--accept" => Ok(Mode::Accept),
        [a] if a == "--check" => Ok(Mode::Check),
        _ => Err(format!("snapshot takes at most one of --accept or --check, got `{}`", args.join(" "))),
    }
}

/// Packages that generate committed documents, with the test filter that owns them.
const DOC_TESTS: &[(&str, &[&str])] =
    &[("agentpool-cli", &["--lib", "cli_docs"]), ("agentpool-core", &["--lib", "redact"]), ("agentpool-mcp", &[])];
/// The end-to-end package: only its snapshot module is run here.
const E2E_PACKAGE: (&str, &[&str]) = ("agentpool-tests", &["--test", "it", "snapshots"]);

pub fn run(root: &Path, mode: Mode) -> Result<(), String> {
    if mode == Mode::Check {
        let stale = pending_files(root);
        if !stale.is_empty() {
            return Err(format!("pending snapshots left in the tree (accept or delete them):\n  {}", list(&stale)));
        }
    }
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    for (pkg, extra) in DOC_TESTS {
        runs.push((pkg.to_string(), extra.iter().map(|s| s.to_string()).collect()));
    }
    for pkg in snapshot_packages(root)? {
        if runs.iter().any(|(p, _)| *p == pkg) {
            // A doc package that also owns snapshots runs whole.
            runs.retain(|(p, _)| *p != pkg);
            runs.push((pkg, Vec::new()));
        } else if pkg == E2E_PACKAGE.0 {
            runs.push((pkg, E2E_PACKAGE.1.iter().map(|s| s.to_string()).collect()));
        } else {
            runs.push((pkg, vec!["--lib".into()]));
        }
    }
    let insta_update = match mode {
        Mode::Review => "new",
        Mode::Accept => "always",
        Mode::Check => "no",
    };
    let mut failures = Vec::new();
    for (pkg, extra) in &runs {
        eprintln!("snapshot: cargo test -p {pkg} {}", extra.join(" "));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root).args(["test", "--locked", "-q", "-p", pkg]);
        // Test-binary filters go after `--`; target selectors (`--lib`, `--test it`) before.
        let (selectors, filters) = split_filters(extra);
        cmd.args(selectors);
        if !filters.is_empty() {
            cmd.arg("--").args(filters);
        }
        cmd.env("INSTA_UPDATE", insta_update).env_remove("INSTA_FORCE_PASS").env_remove("UPDATE_DOCS");
        if mode == Mode::Accept {
            cmd.env("UPDATE_DOCS", "1");
        }
        let status = cmd.status().map_err(|e| format!("could not run cargo: {e}"))?;
        if !status.success() {
            failures.push(pkg.clone());
        }
    }
    let pending = pending_files(root);
    match mode {
        Mode::Check => {
            if !failures.is_empty() || !pending.is_empty() {
                return Err(format!(
                    "snapshots or generated docs drifted in: {}{}\nhint: run `cargo xtask snapshot` to review or `cargo xtask snapshot --accept`",
                    if failures.is_empty() { "-".to_owned() } else { failures.join(", ") },
                    if pending.is_empty() { String::new() } else { format!("\npending:\n  {}", list(&pending)) },
                ));
            }
            println!("snapshot: ok (snapshots and generated docs match)");
        }
        Mode::Accept => {
            if !failures.is_empty() {
                return Err(format!("tests failed for reasons other than snapshots in: {}", failures.join(", ")));
            }
            println!("snapshot: accepted; review with `git diff`");
        }
        Mode::Review => {
            if pending.is_empty() && failures.is_empty() {
                println!("snapshot: nothing to review");
            } else if has_cargo_insta() {
                let status = Command::new("cargo").current_dir(root).args(["insta", "review"]).status();
                if !status.is_ok_and(|s| s.success()) {
                    return Err("`cargo insta review` failed".into());
                }
            } else {
                println!(
                    "snapshot: pending snapshots (install cargo-insta to review them interactively, or run `cargo xtask snapshot --accept`):\n  {}",
                    list(&pending)
                );
                if !failures.is_empty() {
                    println!("failing packages: {}", failures.join(", "));
                }
            }
        }
    }
    Ok(())
}

fn split_filters(extra: &[String]) -> (Vec<String>, Vec<String>) {
    let mut selectors = Vec::new();
    let mut filters = Vec::new();
    let mut i = 0;
    while i < extra.len() {
        match extra[i].as_str() {
            "--lib" => selectors.push(extra[i].clone()),
            "--test" => {
                selectors.push(extra[i].clone());
                if let Some(name) = extra.get(i + 1) {
                    selectors.push(name.clone());
                    i += 1;
                }
            }
            _ => filters.push(extra[i].clone()),
        }
        i += 1;
    }
    (selectors, filters)
}

fn has_cargo_insta() -> bool {
    Command::new("cargo").args(["insta", "--version"]).output().is_ok_and(|o| o.status.success())
}

fn list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n  ")
}

/// Source files under `root` (skipping `target/`, `.git/` and hidden directories).
fn walk(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn pending_files(root: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(root, &mut all);
    let mut pending: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".snap.new") || n.ends_with(".pending-snap")
        })
        .map(|p| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p))
        .collect();
    pending.sort();
    pending
}

/// Packages that own at least one `.snap` file (the nearest `Cargo.toml` above it).
fn snapshot_packages(root: &Path) -> Result<BTreeSet<String>, String> {
    let mut all = Vec::new();
    walk(root, &mut all);
    let mut pkgs = BTreeSet::new();
    for snap in all.iter().filter(|p| p.extension().is_some_and(|e| e == "snap")) {
        let mut dir = snap.parent();
        while let Some(d) = dir {
            let manifest = d.join("Cargo.toml");
            if manifest.is_file() {
                let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
                if let Some(name) = package_name(&text) {
                    pkgs.insert(name);
                }
                break;
            }
            dir = d.parent();
        }
    }
    Ok(pkgs)
}

/// `name = "…"` of the `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_modes_and_manifests() {
        assert_eq!(parse(&[]).unwrap(), Mode::Review);
        assert_eq!(parse(&["--check".into()]).unwrap(), Mode::Check);
        assert_eq!(parse(&["--accept".into()]).unwrap(), Mode::Accept);
        assert!(parse(&["--accept".into(), "--check".into()]).is_err());
        assert_eq!(
            package_name("[package]\nname = \"agentpool-x\"\n[dependencies]\nname = \"no\"\n").as_deref(),
            Some("agentpool-x")
        );
        assert_eq!(package_name("[workspace]\nname = \"no\"\n"), None);
        let (sel, filt) = split_filters(&["--test".into(), "it".into(), "snapshots".into()]);
        assert_eq!(sel, ["--test", "it"]);
        assert_eq!(filt, ["snapshots"]);
    }

    #[test]
    fn finds_pending_and_owning_packages() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("crates/demo");
        std::fs::create_dir_all(pkg.join("src/snapshots")).unwrap();
        std::fs::write(pkg.join("Cargo.toml"), "[package]\nname = \"demo\"\n").unwrap();
        std::fs::write(pkg.join("src/snapshots/a.snap"), "x").unwrap();
        std::fs::write(pkg.join("src/snapshots/a.snap.new"), "y").unwrap();
        assert_eq!(snapshot_packages(dir.path()).unwrap().into_iter().collect::<Vec<_>>(), ["demo"]);
        assert_eq!(pending_files(dir.path()), [PathBuf::from("crates/demo/src/snapshots/a.snap.new")]);
    }
}
