//! The GitHub Copilot CLI scenarios of `cargo xtask conformance --cli copilot`.
//!
//! Copilot is pointed at the stand-in with its BYOK variables: `COPILOT_PROVIDER_BASE_URL`
//! (`<stand-in>/v1`; Copilot's default wire API, Chat Completions, which the stand-in speaks
//! in `chat.rs`), `COPILOT_MODEL`, a dummy
//! `COPILOT_PROVIDER_API_KEY`, and `COPILOT_OFFLINE=true` / `COPILOT_AUTO_UPDATE=false` so it
//! makes no other network call. Its `HOME` is fresh: the folder-trust dialog is AgentPool's to
//! answer, which the first scenario checks. `XDG_CACHE_HOME` is shared by every world of a run
//! (beside the npm install), so the 235 MB package Copilot unpacks on its first start is
//! unpacked once. Workers are spawned with `--model gpt-standin-1`, the stand-in's model.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::standin::{APPROVAL_FILE, StandIn};
use super::{ANY, describe, event, meta, scratch_repo};
use super::{Outcome, Row, World, wait_until};

/// The release tested when `--version` is not given.
pub const PINNED: &str = "1.0.102";

const PACKAGE: &str = "@github/copilot";

/// The model the workers ask for (the stand-in answers any).
const MODEL: &str = "gpt-standin-1";

/// `GitHub Copilot CLI 1.0.102.` → `1.0.102`.
fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin).arg("--version").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?;
    first.strip_prefix("GitHub Copilot CLI ").map(|v| v.trim().trim_end_matches('.').to_owned())
}

/// The `copilot` binary of `version`: a matching install in the cache or the workspace's
/// `tests/mcp-hosts`, else a fresh `npm install --prefix` into the cache.
pub fn install(root: &Path, base: &Path, version: &str) -> Result<PathBuf, String> {
    super::npm_install(root, base, PACKAGE, "copilot", version, version_of)
}

/// A world for copilot: its own `AGENTPOOL_HOME`, `HOME`, repo and tmux socket.
struct Setup {
    world: World,
    _dir: tempfile::TempDir,
    repo: PathBuf,
}

/// A TOML basic string (JSON's escaping is a subset of it).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn setup(base: &Path, cli: &Path, standin: &StandIn, tag: &str, signed_in: bool) -> Result<Setup, String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("run-copilot-{tag}-"))
        .tempdir_in(base)
        .map_err(|e| format!("could not create a scratch directory: {e}"))?;
    let (home, cli_home, repo) = (dir.path().join("aphome"), dir.path().join("home"), dir.path().join("repo"));
    // One unpacked package for every world of every run (Copilot keeps one per version).
    let cache = base.join("copilot-xdg-cache");
    for d in [&home, &cli_home, &repo, &cache] {
        std::fs::create_dir_all(d).map_err(|e| format!("could not create `{}`: {e}", d.display()))?;
    }
    scratch_repo(&repo)?;
    let config = format!(
        "[policy]\nallow_raw_keys = true\nmax_parallel_sessions = 8\n\n[providers.copilot-cli]\ncommand = [{}]\n",
        toml_str(&cli.display().to_string())
    );
    std::fs::write(home.join("config.toml"), config).map_err(|e| e.to_string())?;
    let socket = format!("ap-conf-{}-copilot-{tag}", super::random_suffix());
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let mut env: Vec<(String, String)> = vec![
        ("AGENTPOOL_HOME".into(), home.display().to_string()),
        ("AGENTPOOL_TMUX_SOCKET".into(), socket.clone()),
        ("HOME".into(), cli_home.display().to_string()),
        ("XDG_CACHE_HOME".into(), cache.display().to_string()),
        ("PATH".into(), path),
        ("TERM".into(), "xterm-256color".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("COPILOT_AUTO_UPDATE".into(), "false".into()),
    ];
    if signed_in {
        env.extend([
            ("COPILOT_PROVIDER_BASE_URL".into(), format!("{}/v1", standin.base_url())),
            ("COPILOT_PROVIDER_API_KEY".into(), "sk-conformance-standin-0000000000".into()),
            ("COPILOT_MODEL".into(), MODEL.into()),
            ("COPILOT_OFFLINE".into(), "true".into()),
        ]);
    }
    let world = World { agentpool: PathBuf::new(), env, socket, home };
    Ok(Setup { world, _dir: dir, repo })
}

/// Runs the scenarios (all, or those in `only`).
pub fn run(base: &Path, cli: &Path, agentpool: &Path, only: &[String]) -> Result<Vec<Row>, String> {
    super::run_worlds(
        "copilot",
        &base.join("standin-copilot.log"),
        agentpool,
        only,
        |standin, tag, signed_in| setup(base, cli, standin, tag, signed_in),
        |s| &mut s.world,
        |s, name| scenario(base, s, name),
    )
}

fn spawn(s: &Setup, task: &str, isolation: &str) -> Result<String, String> {
    s.world.spawn("copilot-cli", &["--model", MODEL], &s.repo, task, isolation)
}

/// Runs one scenario (see [`super::scenario`]).
fn scenario(base: &Path, s: &Setup, name: &str) -> Row {
    super::scenario(base, &s.world, &format!("copilot-{name}"), name, |id, start| {
        run_scenario(base, s, name, id, start)
    })
}

/// Keeps the worker's latest screen as `screens/copilot/<name>.txt`: what the provider's
/// recorded-screen tests are refreshed from.
fn keep(base: &Path, w: &World, id: &str, name: &str) {
    let dir = base.join("screens").join("copilot");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::copy(w.artifacts(id).join("latest_screen.txt"), dir.join(format!("{name}.txt")));
    }
}

fn run_scenario(base: &Path, s: &Setup, name: &str, id_out: &mut Option<String>, start: Instant) -> Outcome {
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
            keep(base, w, &id, "plain-completed");
            let ok = event(&doc) == "completed" && trusted;
            Ok((ok, since(start), format!("{}; trust prompt answered: {trusted}", describe(&doc))))
        }
        "noresult" => {
            let id = spawn_task("Say hello. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let session = w.call(&["session", "show", &id])?["session"]["metadata"]["cli_session_id"].clone();
            let ok = event(&doc) == "idle" && meta(&doc, "signal")["kind"] == "turn_ended" && session.is_string();
            Ok((ok, since(start), format!("{}; session id recorded: {}", describe(&doc), session.is_string())))
        }
        "approval" => {
            let id = spawn_task("Create the marker file. scenario-approval", "worktree")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let detected = since(start);
            if event(&doc) != "approval_prompt" {
                return Ok((false, detected, describe(&doc)));
            }
            let drawn = w.wait_screen(&id, "Do you want to run this command?", Duration::from_secs(5));
            keep(base, w, &id, "approval-dialog");
            let approved_at = Instant::now();
            w.call(&["keys", &id, "Enter"])?;
            let (after, _) = w.observe(&id, "completed,error,idle,question", 60)?;
            let ok = event(&after) == "completed";
            Ok((
                ok,
                detected,
                format!(
                    "{} (signal={}, dialog drawn: {drawn}); after Enter: {} in {:.1}s",
                    event(&doc),
                    meta(&doc, "signal")["kind"].as_str().unwrap_or("-"),
                    describe(&after),
                    approved_at.elapsed().as_secs_f64()
                ),
            ))
        }
        "read_only" => {
            // The approval task under `--mode plan`: plan mode refuses the command.
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
            // The form takes keys only once it is drawn.
            w.wait_screen(&id, "enter accept", Duration::from_secs(5));
            keep(base, w, &id, "ask-question");
            let t = Instant::now();
            let sent = w.call(&["send", &id, "2"])?;
            let chosen = sent["selected_option"]["text"].as_str().unwrap_or("-").to_owned();
            let (after, _) = w.observe(&id, "completed,error,idle", 30)?;
            // The stand-in repeats the answer it received in its final reply.
            let landed = wait_until(Duration::from_secs(5), || {
                w.call(&["observe", &id, "--detail", "full"])
                    .ok()
                    .and_then(|d| {
                        d["worker_output"]["text"]
                            .as_str()
                            .map(|t| t.lines().any(|l| l.contains("answer:") && l.contains("Blue")))
                    })
                    .unwrap_or(false)
            });
            Ok((
                event(&after) == "completed" && chosen == "Blue" && landed,
                detected,
                format!(
                    "question {q:?} (signal={}); `send 2` chose {chosen:?} (answer received: {landed}): {} in {:.1}s",
                    meta(&doc, "signal")["kind"].as_str().unwrap_or("-"),
                    describe(&after),
                    t.elapsed().as_secs_f64()
                ),
            ))
        }
        "slow" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            let (early, _) = w.observe(&id, ANY, 15)?;
            keep(base, w, &id, "slow-working");
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
            let elapsed = t.elapsed().as_secs_f64();
            // The screen once Copilot has drawn the cancellation.
            w.wait_screen(&id, "Operation cancelled", Duration::from_secs(5));
            keep(base, w, &id, "interrupted");
            let ok = event(&doc) == "idle" && meta(&doc, "readiness") == "interrupted";
            Ok((ok, Some(elapsed), describe(&doc)))
        }
        "err401" | "err429" | "err500" => {
            let id = spawn_task(&format!("Say hello. scenario-{name}"), "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 90)?;
            keep(base, w, &id, &format!("{name}-failed"));
            let want = match name {
                "err401" => "auth",
                "err429" => "rate_limit",
                _ => "server",
            };
            let ok = event(&doc) == "error" && meta(&doc, "error_class") == want;
            Ok((ok, since(start), describe(&doc)))
        }
        "terminate" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            w.observe(&id, "completed,error", 4)?;
            super::terminate_check(w, &id)
        }
        "signed_out" => {
            let id = spawn_task("Say hello. scenario-plain", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, 60)?;
            keep(base, w, &id, "signed-out");
            let ok = event(&doc) == "error"
                && (meta(&doc, "readiness") == "login_required" || meta(&doc, "error_class") == "auth");
            Ok((ok, since(start), describe(&doc)))
        }
        "resume" => {
            // One turn, ended; then `agentpool resume` continues that session (`--resume=<id>`).
            let first = spawn_task("Remember the word walnut. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&first, ANY, 60)?;
            if event(&doc) != "idle" {
                return Ok((false, None, format!("first turn: {}", describe(&doc))));
            }
            let session = w.call(&["session", "show", &first])?["session"]["metadata"]["cli_session_id"].clone();
            w.call(&["terminate", &first])?;
            let t = Instant::now();
            let resumed = w.call(&["resume", &first, "--task", "Which word? scenario-noresult"])?;
            let id = resumed["session_id"].as_str().unwrap_or_default().to_owned();
            *id_out = Some(id.clone());
            let (doc, _) = w.observe(&id, ANY, 60)?;
            let now = w.call(&["session", "show", &id])?["session"]["metadata"]["cli_session_id"].clone();
            // Copilot redraws the resumed session: the first turn's reply is on screen above the
            // new prompt (its own prompt, 30 lines up, may have scrolled off the 50-row pane).
            let history = wait_until(Duration::from_secs(5), || {
                w.call(&["observe", &id, "--detail", "full"])
                    .ok()
                    .and_then(|d| {
                        let text = d["worker_output"]["text"].as_str()?.to_owned();
                        let asked = text.find("Which word? scenario-noresult")?;
                        Some(text[..asked].contains("no result block this time") || text[..asked].contains("walnut"))
                    })
                    .unwrap_or(false)
            });
            let ok = session.is_string()
                && resumed["resumed_from"] == first.as_str()
                && event(&doc) == "idle"
                && now == session
                && history;
            Ok((
                ok,
                Some(t.elapsed().as_secs_f64()),
                format!("session {session} -> {now}; {}; first turn on screen: {history}", describe(&doc)),
            ))
        }
        other => Err(format!("no such scenario `{other}`")),
    }
}
