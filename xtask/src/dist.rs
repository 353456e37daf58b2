//! `cargo xtask dist [--binary PATH] [--out DIR]`: every package AgentPool ships, built from one
//! `agentpool` binary for the host target, into `target/dist/` (or `--out`):
//!
//! - `agentpool-<version>-<target>.tar.gz` and its `.sha256` (`sha256sum -c` accepts it);
//! - `install.sh`, which verifies such a tarball against its checksum and installs the binary;
//! - a Python wheel, `agentpool_cli-<version>-py3-none-<platform>.whl`, holding the binary as the
//!   script `agentpool` (and a two-line `agentpool-cli` shell shim that runs it), so `pip install`,
//!   `pipx install` and `uv tool install` give an `agentpool` command, and both
//!   `uvx --from agentpool-cli agentpool mcp` and `uvx agentpool-cli mcp` start the server;
//! - a source distribution, `agentpool_cli-<version>.tar.gz`, that only fails, saying where to
//!   get AgentPool: on a platform with no wheel, pip then stops with that message instead of
//!   quietly installing the last release of the old Python tool;
//! - two npm packages in the shape codex and copilot use: the launcher `@agentpool/cli`
//!   (`agentpool-cli-<version>.tgz`), whose `agentpool` bin runs the binary from the platform
//!   package named in its `optionalDependencies`, and that platform package,
//!   `@agentpool/cli-<os>-<cpu>` (`agentpool-cli-<os>-<cpu>-<version>.tgz`).
//!
//! Without `--binary` the release binary is built first (`--locked`, the release profile). The
//! package versions all come from the workspace version; `release` checks the other places
//! that name it. Nothing is published.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use sha2::{Digest, Sha256};

/// The package name on PyPI: the Python tool AgentPool replaces was published under it, so
/// `pip install agentpool-cli` in existing scripts upgrades to this one.
pub const PACKAGE: &str = "agentpool-cli";
/// The npm launcher package. A scope keeps the per-platform names (`@agentpool/cli-linux-x64`)
/// out of anyone else's reach, as codex (`@openai/codex`) does.
pub const NPM_PACKAGE: &str = "@agentpool/cli";
/// The MCP registry name (`server.json`); npm and PyPI packages name it so the registry can
/// check that they belong to this server.
pub const MCP_NAME: &str = "io.github.agentpool/agentpool";

/// `dist` options.
#[derive(Debug, Default)]
pub struct Options {
    /// Package this binary instead of building the release binary.
    pub binary: Option<PathBuf>,
    /// Write here instead of `target/dist`.
    pub out: Option<PathBuf>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Self::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            match a.as_str() {
                "--binary" => o.binary = Some(PathBuf::from(value("--binary")?)),
                "--out" => o.out = Some(PathBuf::from(value("--out")?)),
                other => return Err(format!("dist takes --binary PATH and --out DIR, got `{other}`")),
            }
        }
        Ok(o)
    }
}

/// The files one `dist` run wrote.
#[derive(Debug)]
pub struct Artifacts {
    pub tarball: PathBuf,
    pub checksum: PathBuf,
    pub install_sh: PathBuf,
    pub wheel: PathBuf,
    pub sdist: PathBuf,
    pub npm_launcher: PathBuf,
    pub npm_platform: PathBuf,
}

impl Artifacts {
    pub fn all(&self) -> [&Path; 7] {
        [
            &self.tarball,
            &self.checksum,
            &self.install_sh,
            &self.wheel,
            &self.sdist,
            &self.npm_launcher,
            &self.npm_platform,
        ]
    }
}

pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let binary = match &options.binary {
        Some(b) if b.is_file() => b.clone(),
        Some(b) => return Err(format!("--binary {}: no such file", b.display())),
        None => crate::release::build_release(root)?,
    };
    let dist = options.out.clone().unwrap_or_else(|| root.join("target").join("dist"));
    let made = build_all(root, &binary, &dist)?;
    for path in made.all() {
        println!("{}", path.display());
    }
    Ok(())
}

/// Writes every package for `binary` into `dist`.
pub fn build_all(root: &Path, binary: &Path, dist: &Path) -> Result<Artifacts, String> {
    let version = crate::release::workspace_version(root)?;
    let target = crate::release::host_target()?;
    std::fs::create_dir_all(dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    let (tarball, checksum) = crate::release::pack(dist, binary, &version, &target, root)?;
    let install_sh = dist.join("install.sh");
    copy_executable(&root.join("scripts").join("install.sh"), &install_sh)?;
    let bytes = std::fs::read(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    let wheel = write_wheel(dist, &bytes, &version, &wheel_platform(&target, &bytes)?, root)?;
    let sdist = write_sdist(dist, &version)?;
    let (npm_launcher, npm_platform) = write_npm(dist, binary, &version, npm_platform(&target)?, root)?;
    Ok(Artifacts { tarball, checksum, install_sh, wheel, sdist, npm_launcher, npm_platform })
}

fn copy_executable(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to).map_err(|e| format!("copying {}: {e}", from.display()))?;
    set_mode(to, 0o755)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Python wheel

/// The wheel platform tag for `target`. For glibc targets it is `manylinux_2_<N>_<arch>`, where
/// `2.N` is the newest glibc symbol version the binary asks for: the binary runs on that glibc
/// or newer, so the tag claims nothing it cannot keep.
pub fn wheel_platform(target: &str, binary: &[u8]) -> Result<String, String> {
    let arch = target.split('-').next().unwrap_or_default();
    if target.ends_with("-linux-gnu") {
        let minor = newest_glibc_minor(binary)
            .ok_or("the binary names no GLIBC_2.x symbol version; is it a glibc-linked ELF file?")?;
        return Ok(format!("manylinux_2_{minor}_{arch}"));
    }
    if target.ends_with("-linux-musl") {
        return Ok(format!("musllinux_1_2_{arch}"));
    }
    match target {
        "x86_64-apple-darwin" => Ok("macosx_10_12_x86_64".into()),
        "aarch64-apple-darwin" => Ok("macosx_11_0_arm64".into()),
        other => Err(format!("no Python wheel platform tag is known for target `{other}`")),
    }
}

/// The largest `N` in the `GLIBC_2.N` version strings of an ELF file.
fn newest_glibc_minor(binary: &[u8]) -> Option<u32> {
    const NEEDLE: &[u8] = b"GLIBC_2.";
    let mut best = None;
    let mut i = 0;
    while let Some(pos) = binary[i..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let start = i + pos + NEEDLE.len();
        let digits: String =
            binary[start..].iter().take_while(|b| b.is_ascii_digit()).take(3).map(|&b| char::from(b)).collect();
        if let Ok(n) = digits.parse::<u32>() {
            best = best.max(Some(n));
        }
        i = start;
    }
    best
}

/// `sha256=<urlsafe base64, no padding>`, as wheel `RECORD` files write digests.
fn record_digest(data: &[u8]) -> String {
    use base64::Engine as _;
    format!("sha256={}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data)))
}

fn write_wheel(dist: &Path, binary: &[u8], version: &str, platform: &str, root: &Path) -> Result<PathBuf, String> {
    let dist_name = PACKAGE.replace('-', "_");
    let info = format!("{dist_name}-{version}.dist-info");
    let data = format!("{dist_name}-{version}.data");
    let readme = std::fs::read_to_string(root.join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let metadata = format!(
        "Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\nSummary: Run coding-agent CLIs as tmux \
         workers, with an MCP server and usage headroom per subscription\nHome-page: {REPO}\nLicense: {license}\n\
         Project-URL: Source, {REPO}\nRequires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n\
         <!-- mcp-name: {MCP_NAME} -->\n\n{readme}",
        license = crate::release::workspace_license(root)?,
    );
    let wheel = format!(
        "Wheel-Version: 1.0\nGenerator: agentpool xtask dist\nRoot-Is-Purelib: false\nTag: py3-none-{platform}\n"
    );
    let files: Vec<(String, Vec<u8>, u32)> = vec![
        (format!("{data}/scripts/agentpool"), binary.to_vec(), 0o755),
        (format!("{data}/scripts/{PACKAGE}"), CLI_SHIM.as_bytes().to_vec(), 0o755),
        (format!("{info}/METADATA"), metadata.into_bytes(), 0o644),
        (format!("{info}/WHEEL"), wheel.into_bytes(), 0o644),
    ];
    let mut record: String =
        files.iter().map(|(name, bytes, _)| format!("{name},{},{}\n", record_digest(bytes), bytes.len())).collect();
    record.push_str(&format!("{info}/RECORD,,\n"));
    let path = dist.join(format!("{dist_name}-{version}-py3-none-{platform}.whl"));
    let mut zip = ZipWriter::new(Vec::new());
    for (name, bytes, mode) in &files {
        zip.add(name, bytes, *mode)?;
    }
    zip.add(&format!("{info}/RECORD"), record.as_bytes(), 0o644)?;
    std::fs::write(&path, zip.finish()?).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

const REPO: &str = "https://github.com/agentpool/agentpool";

/// The sdist's in-tree build backend: every hook stops with where to get AgentPool instead.
const SDIST_BACKEND: &str = r#"# Build backend of the agentpool-cli source distribution.
#
# agentpool-cli ships a prebuilt binary per platform (wheels). This source distribution exists so
# that on a platform with no wheel, pip stops here with a clear message instead of installing an
# older release; every build hook fails on purpose.

import platform

MESSAGE = (
    "agentpool-cli has no prebuilt binary for this platform ({system} {machine}). "
    "Releases are built for Linux (glibc) and macOS on x86-64 and arm64. "
    "Build from source instead: https://github.com/agentpool/agentpool/blob/main/docs/install.md"
)


def _refuse(*_args, **_kwargs):
    raise RuntimeError(MESSAGE.format(system=platform.system(), machine=platform.machine()))


get_requires_for_build_wheel = _refuse
get_requires_for_build_sdist = _refuse
prepare_metadata_for_build_wheel = _refuse
build_wheel = _refuse
build_sdist = _refuse
"#;

fn write_sdist(dist: &Path, version: &str) -> Result<PathBuf, String> {
    let name = format!("{}-{version}", PACKAGE.replace('-', "_"));
    let staging = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let dir = staging.path().join(&name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pkg_info = format!(
        "Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\nSummary: AgentPool has no prebuilt binary for \
         this platform; see {REPO}/blob/main/docs/install.md\n"
    );
    let pyproject = format!(
        "# Installing from source is not supported: every build hook explains where to get AgentPool.\n\
         [build-system]\nrequires = []\nbuild-backend = \"agentpool_unsupported\"\nbackend-path = [\".\"]\n\n\
         [project]\nname = \"{PACKAGE}\"\nversion = \"{version}\"\n"
    );
    for (file, text) in [
        ("PKG-INFO", pkg_info.as_str()),
        ("pyproject.toml", pyproject.as_str()),
        ("agentpool_unsupported.py", SDIST_BACKEND),
    ] {
        std::fs::write(dir.join(file), text).map_err(|e| format!("{file}: {e}"))?;
    }
    let out = dist.join(format!("{name}.tar.gz"));
    reproducible_tar(staging.path(), &name, &out)?;
    Ok(out)
}

/// `agentpool-cli`, beside `agentpool` in the wheel: `uvx agentpool-cli mcp` (the form MCP
/// registry clients build from a PyPI package name) finds a command of the package's own name.
/// It runs the real binary installed next to it, following a symlink (pipx, uv tool) first.
const CLI_SHIM: &str = r#"#!/bin/sh
# Runs the agentpool binary installed beside this script.
self=$(readlink -f "$0" 2>/dev/null || printf '%s' "$0")
exec "$(dirname "$self")/agentpool" "$@"
"#;

/// A minimal, deterministic zip writer (deflate, Unix modes, no timestamps beyond 1980-01-01):
/// what a wheel needs and nothing more.
struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl ZipWriter {
    fn new(out: Vec<u8>) -> Self {
        Self { out, central: Vec::new(), entries: 0 }
    }

    fn add(&mut self, name: &str, data: &[u8], mode: u32) -> Result<(), String> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).map_err(|e| format!("deflate: {e}"))?;
        let packed = enc.finish().map_err(|e| format!("deflate: {e}"))?;
        let crc = crc32fast::hash(data);
        let too_big = |n: usize| u32::try_from(n).map_err(|_| format!("{name}: too large for a zip without zip64"));
        let (packed_len, len) = (too_big(packed.len())?, too_big(data.len())?);
        let offset = too_big(self.out.len())?;
        let name_len = u16::try_from(name.len()).map_err(|_| format!("{name}: name too long"))?;
        // 1980-01-01 00:00 in MS-DOS format: reproducible archives.
        let (time, date) = (0u16, (1u16 << 5) | 1);
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
            buf.extend_from_slice(&0u16.to_le_bytes()); // flags
            buf.extend_from_slice(&8u16.to_le_bytes()); // deflate
            buf.extend_from_slice(&time.to_le_bytes());
            buf.extend_from_slice(&date.to_le_bytes());
            buf.extend_from_slice(&crc.to_le_bytes());
            buf.extend_from_slice(&packed_len.to_le_bytes());
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&name_len.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        self.out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(&packed);

        self.central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        self.central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by: Unix, 2.0
        common(&mut self.central);
        self.central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        self.central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        self.central.extend_from_slice(&((0o100_000 | mode) << 16).to_le_bytes()); // regular file + mode
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.entries = self.entries.checked_add(1).ok_or("too many zip entries")?;
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>, String> {
        let offset = u32::try_from(self.out.len()).map_err(|_| "archive too large for a zip without zip64")?;
        let size = u32::try_from(self.central.len()).map_err(|_| "central directory too large")?;
        self.out.append(&mut self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes()); // this disk
        self.out.extend_from_slice(&0u16.to_le_bytes()); // disk with the directory
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&size.to_le_bytes());
        self.out.extend_from_slice(&offset.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes()); // comment length
        Ok(self.out)
    }
}

// ---------------------------------------------------------------------------------------------
// npm

/// npm's names for the platforms AgentPool builds on: `(rust target, os, cpu)`. The platform
/// package for each is `@agentpool/cli-<os>-<cpu>`.
pub const NPM_PLATFORMS: &[(&str, &str, &str)] = &[
    ("x86_64-unknown-linux-gnu", "linux", "x64"),
    ("aarch64-unknown-linux-gnu", "linux", "arm64"),
    ("x86_64-apple-darwin", "darwin", "x64"),
    ("aarch64-apple-darwin", "darwin", "arm64"),
];

fn npm_platform(target: &str) -> Result<(&'static str, &'static str), String> {
    NPM_PLATFORMS
        .iter()
        .find(|(t, _, _)| *t == target)
        .map(|&(_, os, cpu)| (os, cpu))
        .ok_or_else(|| format!("no npm platform package is defined for target `{target}`"))
}

/// The launcher: finds the platform package's binary and runs it with this process's
/// arguments, standard streams, signals and exit status.
const NPM_LAUNCHER_JS: &str = r#"#!/usr/bin/env node
// Runs the agentpool binary shipped in the platform package for this machine, with this
// process's arguments, standard streams, signals and exit status.
"use strict";
const { spawn } = require("child_process");
const os = require("os");
const path = require("path");

const INSTALL_DOCS = "https://github.com/agentpool/agentpool/blob/main/docs/install.md";
const platform = `${process.platform}-${process.arch}`;
const pkg = `@agentpool/cli-${platform}`;
const supported = require("./../package.json").optionalDependencies || {};
let binary;
try {
  binary = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin", "agentpool");
} catch (_) {
  const why = pkg in supported
    ? `the npm package ${pkg} is not installed; reinstall without --omit=optional (or --no-optional)`
    : `AgentPool publishes no binary for ${platform}; build it from source`;
  process.stderr.write(`agentpool: ${why}. See ${INSTALL_DOCS}\n`);
  process.exit(1);
}

const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });
// Every signal is passed on, not just the first: the binary decides what a second Ctrl-C means.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on("error", (err) => {
  process.stderr.write(`agentpool: could not start ${binary}: ${err.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (code !== null) process.exit(code);
  // Die of the same signal, so the caller sees what the binary saw. Node ignores some signals
  // (SIGPIPE) or uses them (SIGUSR1), so fall back to the shell's 128 + n convention.
  const number = os.constants.signals[signal] || 0;
  process.removeAllListeners(signal);
  try {
    process.kill(process.pid, signal);
  } catch (_) {}
  setTimeout(() => process.exit(128 + number), 100);
});
"#;

fn write_npm(
    dist: &Path,
    binary: &Path,
    version: &str,
    (os, cpu): (&str, &str),
    root: &Path,
) -> Result<(PathBuf, PathBuf), String> {
    let license = crate::release::workspace_license(root)?;
    let staging = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let optional: serde_json::Map<String, serde_json::Value> =
        NPM_PLATFORMS.iter().map(|(_, o, c)| (format!("{NPM_PACKAGE}-{o}-{c}"), json!(version))).collect();
    let launcher = json!({
        "name": NPM_PACKAGE,
        "version": version,
        "description": "AgentPool: run coding-agent CLIs as tmux workers, with an MCP server (`agentpool mcp`)",
        "license": license,
        "repository": {"type": "git", "url": format!("git+{REPO}.git")},
        "homepage": REPO,
        "mcpName": MCP_NAME,
        "bin": {"agentpool": "bin/agentpool.js"},
        "files": ["bin/agentpool.js", "README.md"],
        "engines": {"node": ">=16"},
        "optionalDependencies": optional,
    });
    let launcher_dir = staging.path().join("launcher").join("package");
    write_package(&launcher_dir, &launcher, root)?;
    std::fs::write(launcher_dir.join("bin").join("agentpool.js"), NPM_LAUNCHER_JS)
        .map_err(|e| format!("agentpool.js: {e}"))?;
    set_mode(&launcher_dir.join("bin").join("agentpool.js"), 0o755)?;

    let platform_name = format!("{NPM_PACKAGE}-{os}-{cpu}");
    let mut platform = json!({
        "name": platform_name,
        "version": version,
        "description": format!("The agentpool binary for {os}-{cpu} (installed by the {NPM_PACKAGE} package)"),
        "license": license,
        "repository": {"type": "git", "url": format!("git+{REPO}.git")},
        "os": [os],
        "cpu": [cpu],
        "files": ["bin/agentpool", "README.md"],
    });
    if os == "linux" {
        // The binary links glibc; npm skips this package on musl systems.
        platform["libc"] = json!(["glibc"]);
    }
    let platform_dir = staging.path().join("platform").join("package");
    write_package(&platform_dir, &platform, root)?;
    copy_executable(binary, &platform_dir.join("bin").join("agentpool"))?;

    // File names as `npm pack` gives them: the scope's `@` dropped and its `/` as `-`.
    let file = |name: &str| format!("{}-{version}.tgz", name.trim_start_matches('@').replace('/', "-"));
    let launcher_tgz = tar_package(&launcher_dir, &dist.join(file(NPM_PACKAGE)))?;
    let platform_tgz = tar_package(&platform_dir, &dist.join(file(&platform_name)))?;
    Ok((launcher_tgz, platform_tgz))
}

fn write_package(dir: &Path, manifest: &serde_json::Value, root: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("bin")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = format!("{}\n", serde_json::to_string_pretty(manifest).map_err(|e| e.to_string())?);
    std::fs::write(dir.join("package.json"), text).map_err(|e| format!("package.json: {e}"))?;
    std::fs::copy(root.join("README.md"), dir.join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    Ok(())
}

/// Packs `<dir>` (named `package`, as npm tarballs are) into `out`.
fn tar_package(dir: &Path, out: &Path) -> Result<PathBuf, String> {
    let parent = dir.parent().ok_or("package directory has no parent")?;
    reproducible_tar(parent, "package", out)?;
    Ok(out.to_path_buf())
}

/// `tar -czf out member` run in `dir`, with owners, order and times fixed where the tar
/// supports it (GNU tar), so the same input gives the same archive.
pub(crate) fn reproducible_tar(dir: &Path, member: &str, out: &Path) -> Result<(), String> {
    let status = Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "--sort=name", "--mtime=1985-10-26 08:15Z", "-czf"])
        .arg(out)
        .arg(member)
        .current_dir(dir)
        .status()
        .ok()
        .filter(std::process::ExitStatus::success)
        .map_or_else(|| Command::new("tar").arg("-czf").arg(out).arg(member).current_dir(dir).status(), Ok)
        .map_err(|e| format!("could not run tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar failed for {}", out.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn glibc_tag_is_the_newest_symbol_version() {
        let fake = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.17\0GLIBC_PRIVATE\0";
        assert_eq!(newest_glibc_minor(fake), Some(34));
        assert_eq!(wheel_platform("x86_64-unknown-linux-gnu", fake).unwrap(), "manylinux_2_34_x86_64");
        assert!(wheel_platform("x86_64-unknown-linux-gnu", b"no versions").is_err());
        assert_eq!(wheel_platform("aarch64-apple-darwin", b"").unwrap(), "macosx_11_0_arm64");
        assert!(wheel_platform("riscv64gc-unknown-none-elf", b"").is_err());
    }

    #[test]
    fn record_digests_are_urlsafe_unpadded_sha256() {
        // sha256("") = e3b0c442…; its URL-safe base64 without padding:
        assert_eq!(record_digest(b""), "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }

    #[test]
    fn options_parse() {
        let o = Options::parse(&["--binary".into(), "a".into(), "--out".into(), "b".into()]).unwrap();
        assert_eq!(o.binary.as_deref(), Some(Path::new("a")));
        assert_eq!(o.out.as_deref(), Some(Path::new("b")));
        assert!(Options::parse(&["--binary".into()]).is_err());
        assert!(Options::parse(&["--nope".into()]).is_err());
    }
}
