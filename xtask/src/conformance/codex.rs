//! The Codex CLI scenarios of `cargo xtask conformance --cli codex`.
//!
//! Codex is pointed at the stand-in's Responses dialect through the world's AgentPool config:
//! its `command` carries `-c model_provider="standin"` and `-c model_providers.standin={…}`
//! (`wire_api = "responses"`, `base_url` the stand-in, `env_key` a variable the world sets,
//! one request retry and one stream retry, so a failing request gives up fast) and
//! `-c check_for_update_on_startup=false`. These `-c` overrides also keep codex in embedded mode
//! (no app-server daemon). Its `HOME` and `CODEX_HOME` are fresh: the folder-trust prompt is
//! AgentPool's to answer, which the first scenario checks. Workers are spawned with
//! `--model gpt-standin-1`, the stand-in's model.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::standin::{APPROVAL_FILE, StandIn};
use super::{ANY, describe, event, meta, scratch_repo};
use super::{Outcome, Row, World};

/// The release tested when `--version` is not given.
pub const PINNED: &str = "0.171.0";

const PACKAGE: &str = "@openai/codex";

/// The model the workers ask for (the stand-in answers any).
const MODEL: &str = "gpt-standin-1";

/// The variable that carries the stand-in's (dummy) API key (not `AGENTPOOL_*`: a worker never
/// inherits those).
const KEY_ENV: &str = "CONFORMANCE_STANDIN_OPENAI_KEY";

/// Every scenario, in the order they run.
/// `codex-cli 0.171.0` → `0.171.0`.
fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin).arg("--version").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().last().map(str::to_owned)
}

/// The `codex` binary of `version`: a matching install in the cache or the workspace's
/// `tests/mcp-hosts`, else a fresh `npm install --prefix` into the cache.
pub fn install(root: &Path, base: &Path, version: &str) -> Result<PathBuf, String> {
    super::npm_install(root, base, PACKAGE, "codex", version, version_of)
}

/// Copies the worker's last screen to `screens/codex-<version>/<scenario>.txt` under the
/// conformance directory: the recorded screens the provider's screen-rule tests are pinned on.
fn keep_screen(s: &Setup, id: &str, scenario: &str) {
    let dir = s.screens.clone();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::copy(s.world.artifacts(id).join("latest_screen.txt"), dir.join(format!("{scenario}.txt")));
    }
}

/// Codex's `■` line on the observed screen (its message for a failed turn), or `-`.
fn excerpt_line(doc: &serde_json::Value) -> String {
    let text = doc["worker_output"]["text"].as_str().unwrap_or("");
    text.lines().map(str::trim).rfind(|l| l.starts_with('\u{25A0}')).unwrap_or("-").to_owned()
}

/// A world for codex: its own `AGENTPOOL_HOME`, `HOME`/`CODEX_HOME`, repo and tmux socket.
struct Setup {
    world: World,
    _dir: tempfile::TempDir,
    repo: PathBuf,
    /// Where [`keep_screen`] copies screens.
    screens: PathBuf,
}

/// A TOML basic string (JSON's escaping is a subset of it).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn setup(base: &Path, cli: &Path, standin: &StandIn, tag: &str, signed_in: bool) -> Result<Setup, String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("run-codex-{tag}-"))
        .tempdir_in(base)
        .map_err(|e| format!("could not create a scratch directory: {e}"))?;
    let (home, cli_home, repo) = (dir.path().join("aphome"), dir.path().join("home"), dir.path().join("repo"));
    let codex_home = cli_home.join(".codex");
    for d in [&home, &codex_home, &repo] {
        std::fs::create_dir_all(d).map_err(|e| format!("could not create `{}`: {e}", d.display()))?;
    }
    scratch_repo(&repo)?;
    let provider = format!(
        "model_providers.standin={{name={},base_url={},wire_api=\"responses\",env_key={},request_max_retries=1,stream_max_retries=1}}",
        toml_str("standin"),
        toml_str(&format!("{}/v1", standin.base_url())),
        toml_str(KEY_ENV)
    );
    let command = [
        cli.display().to_string(),
        "-c".into(),
        "model_provider=\"standin\"".into(),
        "-c".into(),
        provider,
        "-c".into(),
        "check_for_update_on_startup=false".into(),
    ];
    let command = command.iter().map(|w| toml_str(w)).collect::<Vec<_>>().join(", ");
    let config = format!(
        "[policy]\nallow_raw_keys = true\nmax_parallel_sessions = 8\n\n[providers.codex-cli]\ncommand = [{command}]\n"
    );
    std::fs::write(home.join("config.toml"), config).map_err(|e| e.to_string())?;
    let socket = format!("ap-conf-{}-codex-{tag}", super::random_suffix());
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let mut env: Vec<(String, String)> = vec![
        ("AGENTPOOL_HOME".into(), home.display().to_string()),
        ("AGENTPOOL_TMUX_SOCKET".into(), socket.clone()),
        ("HOME".into(), cli_home.display().to_string()),
        ("CODEX_HOME".into(), codex_home.display().to_string()),
        ("PATH".into(), path),
        ("TERM".into(), "xterm-256color".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    if signed_in {
        env.push((KEY_ENV.into(), "sk-conformance-standin-0000000000".into()));
    }
    let world = World { agentpool: PathBuf::new(), env, socket, home };
    let version = version_of(cli).unwrap_or_else(|| "unknown".into());
    let screens = base.join("screens").join(format!("codex-{version}"));
    Ok(Setup { world, _dir: dir, repo, screens })
}

/// Runs the scenarios (all, or those in `only`).
pub fn run(base: &Path, cli: &Path, agentpool: &Path, only: &[String]) -> Result<Vec<Row>, String> {
    super::run_worlds(
        "codex",
        &base.join("standin-codex.log"),
        agentpool,
        only,
        |standin, tag, signed_in| setup(base, cli, standin, tag, signed_in),
        |s| &mut s.world,
        |s, name| scenario(base, s, name),
    )
}

fn spawn(s: &Setup, task: &str, isolation: &str) -> Result<String, String> {
    s.world.spawn("codex-cli", &["--model", MODEL], &s.repo, task, isolation)
}

/// Runs one scenario (see [`super::scenario`]).
fn scenario(base: &Path, s: &Setup, name: &str) -> Row {
    super::scenario(base, &s.world, &format!("codex-{name}"), name, |id, start| run_scenario(s, name, id, start))
}

fn run_scenario(s: &Setup, name: &str, id_out: &mut Option<String>, start: Instant) -> Outcome {
    let w = &s.world;
    let since = |t: Instant| Some(t.elapsed().as_secs_f64());
    let mut spawn_task = |task: &str, isolation: &str| -> Result<String, String> {
        let id = spawn(s, task, isolation)?;
        *id_out = Some(id.clone());
        Ok(id)
    };
    match name {
        "plain" => {
            let id = spawn_task("Say hello. scenario-plain", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let events = std::fs::read_to_string(w.artifacts(&id).join("events.jsonl")).unwrap_or_default();
            let trusted = events.contains("\"trust_prompt\"");
            let ok = event(&doc) == "completed" && trusted;
            Ok((ok, since(start), format!("{}; trust prompt answered: {trusted}", describe(&doc))))
        }
        "noresult" => {
            let id = spawn_task("Say hello. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let thread = w.call(&["session", "show", &id])?["session"]["metadata"]["cli_session_id"].clone();
            let ok = event(&doc) == "idle" && meta(&doc, "signal")["kind"] == "turn_ended" && thread.is_string();
            Ok((ok, since(start), format!("{}; thread id recorded: {}", describe(&doc), thread.is_string())))
        }
        "approval" => {
            let id = spawn_task("Create the marker file. scenario-approval", "worktree")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let detected = since(start);
            if event(&doc) != "approval_prompt" {
                return Ok((false, detected, describe(&doc)));
            }
            let drawn = w.wait_screen(&id, "Would you like to run", Duration::from_secs(5));
            let approved_at = Instant::now();
            w.call(&["keys", &id, "Enter"])?;
            let (after, _) = w.observe(&id, "completed,error,idle,question", 60)?;
            let ok = event(&after) == "completed";
            Ok((
                ok,
                detected,
                format!(
                    "{} (dialog drawn: {drawn}); after Enter: {} in {:.1}s",
                    event(&doc),
                    describe(&after),
                    approved_at.elapsed().as_secs_f64()
                ),
            ))
        }
        "read_only" => {
            // The approval task under `--sandbox read-only`: codex asks, nobody approves.
            let id = spawn_task("Create the marker file. scenario-approval", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let detected = since(start);
            let written = s.repo.join(APPROVAL_FILE).exists();
            let ok = !written && matches!(event(&doc), "completed" | "approval_prompt" | "idle");
            Ok((
                ok,
                detected,
                format!("{} → {APPROVAL_FILE} {}", describe(&doc), if written { "WRITTEN" } else { "not written" }),
            ))
        }
        "ask" => {
            let id = spawn_task("Pick a button color. scenario-ask", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let detected = since(start);
            let q = super::question_text(&doc);
            if event(&doc) != "question" || !q.contains("Which color") {
                return Ok((false, detected, format!("{} question={q:?}", describe(&doc))));
            }
            let t = Instant::now();
            w.call(&["send", &id, "Blue, please."])?;
            let (after, _) = w.observe(&id, "completed,error,idle", 30)?;
            Ok((
                event(&after) == "completed",
                detected,
                format!(
                    "question {q:?} (signal={}); answered: {} in {:.1}s",
                    meta(&doc, "signal")["kind"].as_str().unwrap_or("-"),
                    describe(&after),
                    t.elapsed().as_secs_f64()
                ),
            ))
        }
        "slow" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            let (early, _) = w.observe(&id, ANY, 15)?;
            if event(&early) != "timeout" {
                return Ok((false, since(start), format!("early event while streaming: {}", describe(&early))));
            }
            let (doc, _) = w.observe(&id, ANY, 60)?;
            Ok((event(&doc) == "completed", since(start), format!("nothing for 15s, then {}", describe(&doc))))
        }
        "interrupt" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            w.observe(&id, "completed,error", 5)?;
            let t = Instant::now();
            w.call(&["interrupt", &id])?;
            let (doc, _) = w.observe(&id, ANY, 20)?;
            let ok = event(&doc) == "idle" && meta(&doc, "readiness") == "interrupted";
            Ok((ok, Some(t.elapsed().as_secs_f64()), describe(&doc)))
        }
        "err401" | "err429" | "err500" => {
            let id = spawn_task(&format!("Say hello. scenario-{name}"), "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 90)?;
            keep_screen(s, &id, name);
            // Codex reports API failures only on screen (its `■` line); the provider's error
            // rules class them.
            let want = match name {
                "err401" => "auth",
                "err429" => "rate_limit",
                _ => "server",
            };
            let ok = event(&doc) == "error" && meta(&doc, "error_class") == want;
            Ok((ok, since(start), format!("{}; message: {}", describe(&doc), excerpt_line(&doc))))
        }
        "terminate" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            w.observe(&id, "completed,error", 4)?;
            super::terminate_check(w, &id)
        }
        "signed_out" => {
            let id = spawn_task("Say hello. scenario-plain", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            keep_screen(s, &id, name);
            let ok = event(&doc) == "error"
                && (meta(&doc, "readiness") == "login_required" || meta(&doc, "error_class") == "auth");
            Ok((ok, since(start), describe(&doc)))
        }
        "resume" => {
            // One turn, ended; then `agentpool resume` continues that thread (`codex resume <id>`).
            let first = spawn_task("Remember the word walnut. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&first, ANY, 60)?;
            if event(&doc) != "idle" {
                return Ok((false, None, format!("first turn: {}", describe(&doc))));
            }
            let thread = w.call(&["session", "show", &first])?["session"]["metadata"]["cli_session_id"].clone();
            w.call(&["terminate", &first])?;
            let t = Instant::now();
            let resumed = w.call(&["resume", &first, "--task", "Which word? scenario-noresult"])?;
            let id = resumed["session_id"].as_str().unwrap_or_default().to_owned();
            *id_out = Some(id.clone());
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let now = w.call(&["session", "show", &id])?["session"]["metadata"]["cli_session_id"].clone();
            // Codex redraws the resumed thread: the first turn's words are on screen.
            let history = w.wait_screen(&id, "walnut", Duration::from_secs(5));
            let ok = thread.is_string()
                && resumed["resumed_from"] == first.as_str()
                && event(&doc) == "idle"
                && now == thread
                && history;
            Ok((
                ok,
                Some(t.elapsed().as_secs_f64()),
                format!("thread {thread} -> {now}; {}; first turn on screen: {history}", describe(&doc)),
            ))
        }
        other => Err(format!("no such scenario `{other}`")),
    }
}
