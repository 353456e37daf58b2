//! The stand-in series of `cargo xtask bench`: `inventory --json` with seven stand-in provider
//! executables whose `--version` is slow, cold (no version cache) against the slowest single
//! probe, and warm (versions cached by path, size and mtime, so no probe runs).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Cold inventory may take at most this multiple of one version probe (they run in parallel).
pub const COLD_MAX_RATIO: f64 = 1.2;
/// Warm inventory target.
pub const CACHED_MAX_MS: f64 = 20.0;

/// How long each stand-in takes to print its version: slow enough to dominate, like some CLIs.
const PROBE_SECONDS: &str = "0.3";

/// Binary names the seven real providers look for.
const BINARIES: [&str; 7] = ["claude", "codex", "agent", "opencode", "copilot", "droid", "devin"];

/// The three sample sets, in milliseconds.
pub struct Measured {
    pub single_probe: Vec<f64>,
    pub cold: Vec<f64>,
    pub cached: Vec<f64>,
}

pub fn measure(scratch: &Path, exe: &Path, runs: usize) -> Result<Measured, String> {
    eprintln!("bench: inventory with seven stand-in CLIs: {runs} runs");
    let home = scratch.join("home-standins");
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("could not create `{}`: {e}", bin.display()))?;
    for name in BINARIES {
        let path = bin.join(name);
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then sleep {PROBE_SECONDS}; echo \"{name} 1.2.3\"; fi\nexit 0\n"
        );
        std::fs::write(&path, script).map_err(|e| format!("could not write `{}`: {e}", path.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("could not chmod `{}`: {e}", path.display()))?;
    }
    // Only our stand-ins and the system directories: a real CLI installed for the user must not
    // be probed, so HOME (and with it ~/.local/bin) points into the scratch dir too.
    let path_var = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let agentpool = |args: &[&str]| {
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .env("AGENTPOOL_HOME", &home)
            .env("HOME", &home)
            .env("PATH", &path_var)
            .env("AGENTPOOL_TMUX_SOCKET", format!("agentpool-bench-{}-standins", std::process::id()))
            .env_remove("AGENTPOOL_CONFIG")
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let timed = |cmd: &mut Command| -> Result<(f64, Vec<u8>), String> {
        let start = Instant::now();
        let out = cmd.output().map_err(|e| format!("could not run {cmd:?}: {e}"))?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if !out.status.success() {
            return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stdout)));
        }
        Ok((ms, out.stdout))
    };
    let cache = home.join("cache").join("versions.json");

    // The check run: all seven must show up installed with the stand-in's version.
    let _ = std::fs::remove_file(&cache);
    let (_, stdout) = timed(&mut agentpool(&["inventory", "--json"]))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&stdout).map_err(|e| format!("inventory printed no JSON: {e}"))?;
    let installed = doc["providers"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter(|p| p["installed"] == true && p["version"].as_str().is_some_and(|v| v.contains("1.2.3")))
                .count()
        })
        .unwrap_or(0);
    if installed != BINARIES.len() {
        return Err(format!("expected {} stand-ins installed with version 1.2.3, saw {installed}", BINARIES.len()));
    }

    let mut m = Measured { single_probe: Vec::new(), cold: Vec::new(), cached: Vec::new() };
    for _ in 0..runs {
        let (ms, _) = timed(Command::new(bin.join("claude")).arg("--version").stdin(Stdio::null()))?;
        m.single_probe.push(ms);
        let _ = std::fs::remove_file(&cache);
        m.cold.push(timed(&mut agentpool(&["inventory", "--json"]))?.0);
        m.cached.push(timed(&mut agentpool(&["inventory", "--json"]))?.0);
    }
    Ok(m)
}
