//! `cargo xtask new-provider <name>`: scaffolds a provider crate under `providers/<name>/`
//! that builds, registers itself and passes its own tests, then says which lines link it in.
//!
//! `--standalone <dir>` writes the same crate outside the workspace (with its own
//! `[workspace]` table and a path dependency on `agentpool-sdk`); the test below uses it to
//! prove the scaffold compiles and its tests pass without touching the repository.

use std::fs;
use std::path::{Path, PathBuf};

/// Parsed arguments.
#[derive(Debug)]
pub struct Options {
    pub name: String,
    pub standalone: Option<PathBuf>,
}

/// Parses `<name> [--standalone DIR]`.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut name = None;
    let mut standalone = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--standalone" => standalone = Some(PathBuf::from(it.next().ok_or("--standalone needs a directory")?)),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            other if name.is_none() => name = Some(other.to_owned()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let name = name.ok_or("give the provider name, e.g. `cargo xtask new-provider acme-cli`")?;
    validate_name(&name)?;
    Ok(Options { name, standalone })
}

/// Provider ids are lowercase words joined by `-`, like the built-in ones.
fn validate_name(name: &str) -> Result<(), String> {
    let ok = (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(format!(
            "`{name}` is not a valid provider name: use 2-40 lowercase letters, digits and single `-`, starting with a letter"
        ));
    }
    if name == "auto" || name.starts_with("fake-") {
        return Err(format!("`{name}` is reserved"));
    }
    Ok(())
}

/// Writes the crate and prints what to do next.
pub fn run(root: &Path, opts: &Options) -> Result<(), String> {
    let (dir, manifest) = match &opts.standalone {
        Some(dir) => (dir.clone(), standalone_manifest(&opts.name, &root.join("crates/agentpool-sdk"))),
        None => (root.join("providers").join(&opts.name), workspace_manifest(&opts.name)),
    };
    if dir.join("Cargo.toml").exists() {
        return Err(format!("`{}` already exists; pick another name or remove it first", dir.display()));
    }
    fs::create_dir_all(dir.join("src")).map_err(|e| format!("could not create `{}`: {e}", dir.display()))?;
    let write = |rel: &str, text: String| -> Result<(), String> {
        let path = dir.join(rel);
        fs::write(&path, text).map_err(|e| format!("could not write `{}`: {e}", path.display()))
    };
    write("Cargo.toml", manifest)?;
    write("src/lib.rs", library(&opts.name))?;
    if opts.standalone.is_some() {
        // Same dependency versions as the workspace, so nothing new is resolved or fetched.
        let lock = root.join("Cargo.lock");
        fs::copy(&lock, dir.join("Cargo.lock")).map_err(|e| format!("could not copy `{}`: {e}", lock.display()))?;
        println!("wrote standalone crate {}", dir.display());
        return Ok(());
    }
    let krate = crate_name(&opts.name);
    println!(
        "wrote providers/{name}/ (package {krate})

Link it in:
  1. Cargo.toml: add \"providers/{name}\" to [workspace] members and default-members, and
     {krate} = {{ path = \"providers/{name}\" }} to [workspace.dependencies].
  2. crates/agentpool-providers/Cargo.toml: {krate}.workspace = true
  3. crates/agentpool-providers/src/lib.rs: call {module}::link() in link_all() and add
     \"{name}\" to EXPECTED_IDS (in listing order).
Then: cargo test -p {krate} && cargo test -p agentpool-providers",
        name = opts.name,
        module = krate.replace('-', "_"),
    );
    Ok(())
}

fn crate_name(name: &str) -> String {
    format!("agentpool-provider-{name}")
}

fn display_name(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn workspace_manifest(name: &str) -> String {
    format!(
        "[package]
name = \"{krate}\"
description = \"AgentPool provider: {display}\"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
agentpool-sdk.workspace = true
async-trait.workspace = true

[lints]
workspace = true
",
        krate = crate_name(name),
        display = display_name(name),
    )
}

fn standalone_manifest(name: &str, core: &Path) -> String {
    format!(
        "[package]
name = \"{krate}\"
version = \"0.1.0\"
edition = \"2024\"
publish = false

[dependencies]
agentpool-sdk = {{ path = \"{core}\" }}
async-trait = \"0.1\"

# Not part of any enclosing workspace.
[workspace]
",
        krate = crate_name(name),
        core = core.display(),
    )
}

fn library(name: &str) -> String {
    let display = display_name(name);
    let binary = name.strip_suffix("-cli").unwrap_or(name);
    format!(
        r#"//! The `{name}` provider: how AgentPool finds, launches and reads {display}.
//!
//! Start from here: the facts in `info` (capabilities, submit keys, start-up readiness), the
//! binary names `discover` looks for, the launch arguments, and — when the CLI needs them —
//! screen rules (login, approval, question, busy, error patterns), startup dialogs and a
//! signal channel for its hooks. See docs/adding-a-provider.md.

use std::sync::{{Arc, LazyLock}};

use agentpool_sdk::error::Result;
use agentpool_sdk::launch;
use agentpool_sdk::probe;
use agentpool_sdk::provider::{{Detected, LaunchContext, LaunchPlan, ProbeContext, Provider, ProviderInfo}};
use async_trait::async_trait;

/// The provider id.
pub const ID: &str = "{name}";

/// {display}.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cli;

#[async_trait]
impl Provider for Cli {{
    fn info(&self) -> &ProviderInfo {{
        static INFO: LazyLock<ProviderInfo> = LazyLock::new(|| ProviderInfo::new(ID, "{display}", "{display}"));
        &INFO
    }}

    async fn discover(&self, ctx: &ProbeContext) -> Detected {{
        // Binary names tried in order on PATH and the usual user bin directories.
        probe::detect_cli(ctx, &["{binary}"]).await
    }}

    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchPlan> {{
        Ok(LaunchPlan {{ argv: launch::base_command(ctx)?, env: Vec::new() }})
    }}
}}

agentpool_sdk::register_provider!(ID, 100, || Arc::new(Cli));

/// Called by `agentpool_providers::link_all` so the linker keeps this crate.
pub fn link() {{}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn registers_itself() {{
        link();
        assert!(agentpool_sdk::provider::registrations().iter().any(|r| r.id == ID));
    }}

    #[test]
    fn launches_the_detected_binary() {{
        let home = std::env::temp_dir();
        let matrix = launch::plan_matrix(&Cli, "/usr/local/bin/{binary}", &home);
        assert_eq!(matrix["cases"][0]["argv"][0].as_str(), Some("/usr/local/bin/{binary}"), "{{matrix}}");
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["acme", "acme-cli", "x2"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "-x", "x-", "a--b", "auto", "fake-x", "a_b", "a/b", "../x"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(parse(&["acme".into(), "--bogus".into()]).is_err());
        assert!(parse(&[]).is_err());
    }

    /// The scaffold compiles, registers and passes its own tests. It is built as a standalone
    /// crate (own `[workspace]`, our `Cargo.lock`, our target dir) so the repository is not
    /// touched and nothing is fetched.
    #[test]
    fn scaffold_builds_and_passes_its_tests() {
        let root = crate::workspace_root();
        let dir = tempfile::tempdir().unwrap();
        let crate_dir = dir.path().join("acme-cli");
        let opts = Options { name: "acme-cli".into(), standalone: Some(crate_dir.clone()) };
        run(&root, &opts).unwrap();
        assert!(run(&root, &opts).is_err(), "refuses to overwrite");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
        let out = std::process::Command::new(cargo)
            .args(["test", "--offline", "--quiet"])
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", target.join("xtask-scaffold"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "scaffold tests failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("2 passed"), "{stdout}");
    }
}
