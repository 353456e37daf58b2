//! The opencode scenarios of `cargo xtask conformance --cli opencode`.
//!
//! opencode is pointed at the stand-in's Chat Completions dialect through its own global config
//! in the world's fresh `HOME` (`~/.config/opencode/opencode.json`): an
//! `@ai-sdk/openai-compatible` provider `standin` whose `baseURL` is the stand-in, the model
//! `standin/gpt-standin-1`, `permission.bash` and `permission.edit` set to `ask` (so the
//! approval scenario asks), and opencode's own Zen provider disabled (it would reach the
//! network). opencode installs the provider's npm package into the world's `HOME` on first
//! use. The world also sets `OPENCODE_DISABLE_MODELS_FETCH`, `OPENCODE_DISABLE_AUTOUPDATE` and
//! `OPENCODE_DISABLE_LSP_DOWNLOAD`, so nothing but the stand-in and the npm registry is asked.
//! The signed-out world has no provider at all: opencode shows its "Connect a provider" dialog.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::standin::{APPROVAL_FILE, StandIn};
use super::{ANY, describe, event, meta, scratch_repo};
use super::{Outcome, Row, World, wait_until};

/// The release tested when `--version` is not given.
pub const PINNED: &str = "1.18.33";

const PACKAGE: &str = "opencode-ai";

/// The model the workers ask for: the stand-in provider's only model.
const MODEL: &str = "standin/gpt-standin-1";

/// opencode needs many seconds to start on a busy machine; every first wait allows for it.
const FIRST_TURN: u64 = 150;

/// `1.18.33` (opencode prints the bare version).
fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin).arg("--version").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().last().map(str::to_owned)
}

/// The `opencode` binary of `version`: a matching install in the cache or the workspace's
/// `tests/mcp-hosts`, else a fresh `npm install --prefix` into the cache.
pub fn install(root: &Path, base: &Path, version: &str) -> Result<PathBuf, String> {
    super::npm_install(root, base, PACKAGE, "opencode", version, version_of)
}

/// A world for opencode: its own `AGENTPOOL_HOME`, `HOME`, repo and tmux socket.
struct Setup {
    world: World,
    _dir: tempfile::TempDir,
    repo: PathBuf,
}

/// opencode's config for the world: the stand-in as its only provider, or (signed out) none.
fn opencode_config(standin: &StandIn, signed_in: bool) -> serde_json::Value {
    let mut config = json!({
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": false,
        "share": "disabled",
        "disabled_providers": ["opencode"],
        "permission": {"bash": "ask", "edit": "ask"}
    });
    if signed_in {
        config["provider"] = json!({"standin": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Stand-in",
            "options": {"baseURL": format!("{}/v1", standin.base_url()), "apiKey": "sk-conformance-standin-0000"},
            "models": {"gpt-standin-1": {"name": "Stand-in Model"}}
        }});
        config["model"] = json!(MODEL);
    }
    config
}

fn setup(base: &Path, cli: &Path, standin: &StandIn, tag: &str, signed_in: bool) -> Result<Setup, String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("run-opencode-{tag}-"))
        .tempdir_in(base)
        .map_err(|e| format!("could not create a scratch directory: {e}"))?;
    let (home, cli_home, repo) = (dir.path().join("aphome"), dir.path().join("home"), dir.path().join("repo"));
    let config_dir = cli_home.join(".config/opencode");
    for d in [&home, &config_dir, &repo] {
        std::fs::create_dir_all(d).map_err(|e| format!("could not create `{}`: {e}", d.display()))?;
    }
    scratch_repo(&repo)?;
    let config = serde_json::to_string_pretty(&opencode_config(standin, signed_in)).unwrap_or_default();
    std::fs::write(config_dir.join("opencode.json"), config).map_err(|e| e.to_string())?;
    let command = serde_json::to_string(&cli.display().to_string()).unwrap_or_default();
    let agentpool_config = format!(
        "[policy]\nallow_raw_keys = true\nmax_parallel_sessions = 8\n\n[providers.opencode]\ncommand = [{command}]\n"
    );
    std::fs::write(home.join("config.toml"), agentpool_config).map_err(|e| e.to_string())?;
    let socket = format!("ap-conf-{}-opencode-{tag}", super::random_suffix());
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let env: Vec<(String, String)> = vec![
        ("AGENTPOOL_HOME".into(), home.display().to_string()),
        ("AGENTPOOL_TMUX_SOCKET".into(), socket.clone()),
        ("HOME".into(), cli_home.display().to_string()),
        ("PATH".into(), path),
        ("TERM".into(), "xterm-256color".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("OPENCODE_DISABLE_MODELS_FETCH".into(), "1".into()),
        ("OPENCODE_DISABLE_AUTOUPDATE".into(), "1".into()),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD".into(), "1".into()),
    ];
    let world = World { agentpool: PathBuf::new(), env, socket, home };
    Ok(Setup { world, _dir: dir, repo })
}

/// Runs the scenarios (all, or those in `only`).
pub fn run(base: &Path, cli: &Path, agentpool: &Path, only: &[String]) -> Result<Vec<Row>, String> {
    super::run_worlds(
        "opencode",
        &base.join("standin-opencode.log"),
        agentpool,
        only,
        |standin, tag, signed_in| setup(base, cli, standin, tag, signed_in),
        |s| &mut s.world,
        |s, name| scenario(base, s, name),
    )
}

fn spawn(s: &Setup, task: &str, isolation: &str) -> Result<String, String> {
    s.world.spawn("opencode", &["--model", MODEL], &s.repo, task, isolation)
}

/// Runs one scenario (see [`super::scenario`]).
fn scenario(base: &Path, s: &Setup, name: &str) -> Row {
    super::scenario(base, &s.world, &format!("opencode-{name}"), name, |id, start| run_scenario(s, name, id, start))
}

/// The worker's screen, as observe shows it.
fn screen(w: &World, id: &str) -> String {
    w.call(&["observe", id, "--detail", "full"])
        .ok()
        .and_then(|d| d["worker_output"]["text"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Whether the screen shows the question answered with `answer` (opencode prints the question,
/// then the answer on the next non-blank line).
fn answered_with(screen: &str, answer: &str) -> bool {
    let lines: Vec<&str> =
        screen.lines().map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{2503}')).collect();
    lines.iter().enumerate().any(|(i, l)| {
        l.starts_with("Which color should the button be?")
            && lines[i + 1..].iter().find(|n| !n.is_empty()).is_some_and(|n| *n == answer)
    })
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
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
            let detected = since(start);
            let collected = w.call(&["collect", &id]).ok();
            let result = std::fs::read_to_string(w.artifacts(&id).join("result.md")).unwrap_or_default();
            // opencode's sidebar (context, LSP) must not be part of the result.
            let clean = result.contains("Summary: Hello from the stand-in.")
                && !["LSP", "Context", "tokens", "spent"].iter().any(|n| result.contains(n))
                && result.lines().all(|l| !l.trim_end().contains("    "));
            let ok = event(&doc) == "completed" && clean;
            Ok((
                ok,
                detected,
                format!("{}; result.md clean: {clean} (collected: {})", describe(&doc), collected.is_some()),
            ))
        }
        "noresult" => {
            let id = spawn_task("Say hello. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
            let session = w.call(&["session", "show", &id])?["session"]["metadata"]["cli_session_id"].clone();
            let ok = event(&doc) == "idle" && meta(&doc, "signal")["kind"] == "turn_ended" && session.is_string();
            Ok((ok, since(start), format!("{}; session id recorded: {}", describe(&doc), session.is_string())))
        }
        "approval" => {
            let id = spawn_task("Create the marker file. scenario-approval", "worktree")?;
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
            let detected = since(start);
            if event(&doc) != "approval_prompt" {
                return Ok((false, detected, describe(&doc)));
            }
            let drawn = w.wait_screen(&id, "Allow once", Duration::from_secs(10));
            let approved_at = Instant::now();
            w.call(&["keys", &id, "Enter"])?;
            let (after, _) = w.observe(&id, "completed,error,idle,question", 60)?;
            let ok = event(&after) == "completed";
            Ok((
                ok,
                detected,
                format!(
                    "{} (dialog drawn: {drawn}); after Enter (Allow once): {} in {:.1}s",
                    describe(&doc),
                    describe(&after),
                    approved_at.elapsed().as_secs_f64()
                ),
            ))
        }
        "read_only" => {
            // The approval task in read-only isolation: opencode asks, nobody approves.
            let id = spawn_task("Create the marker file. scenario-approval", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
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
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
            let detected = since(start);
            let q = super::question_text(&doc);
            if event(&doc) != "question" || !q.contains("Which color") {
                return Ok((false, detected, format!("{} question={q:?}", describe(&doc))));
            }
            let drawn = w.wait_screen(&id, "Type your own answer", Duration::from_secs(10));
            let t = Instant::now();
            let sent = w.call(&["send", &id, "2"])?;
            let (after, _) = w.observe(&id, "completed,error,idle", 60)?;
            let blue = wait_until(Duration::from_secs(5), || answered_with(&screen(w, &id), "Blue"));
            Ok((
                event(&after) == "completed" && blue,
                detected,
                format!(
                    "question {q:?} (signal={}, drawn: {drawn}); `send 2` chose {}; answered Blue on screen: {blue}; then {} in {:.1}s",
                    meta(&doc, "signal")["kind"].as_str().unwrap_or("-"),
                    sent["selected_option"]["text"].as_str().unwrap_or("nothing"),
                    describe(&after),
                    t.elapsed().as_secs_f64()
                ),
            ))
        }
        "slow" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            // opencode takes 10–40 s to start, so the quiet window opens once the reply streams
            // (25 s of ticks): then nothing may be reported for 15 s.
            if !w.wait_screen(&id, "tick 1", Duration::from_secs(FIRST_TURN)) {
                return Ok((false, since(start), "the slow reply never started".into()));
            }
            let (early, _) = w.observe(&id, ANY, 15)?;
            if event(&early) != "timeout" {
                return Ok((false, since(start), format!("early event while streaming: {}", describe(&early))));
            }
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
            Ok((
                event(&doc) == "completed",
                since(start),
                format!("nothing for 15s while it streamed, then {}", describe(&doc)),
            ))
        }
        "interrupt" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            // The stand-in is streaming once the first ticks are on screen.
            if !w.wait_screen(&id, "tick 2", Duration::from_secs(FIRST_TURN)) {
                return Ok((false, since(start), "the slow reply never started".into()));
            }
            let t = Instant::now();
            w.call(&["interrupt", &id])?;
            let (doc, _) = w.observe(&id, ANY, 20)?;
            let secs = t.elapsed().as_secs_f64();
            // opencode itself reports the abort (its plugin), and is still there, waiting.
            let signals = w.artifacts(&id).join("signals.jsonl");
            let aborted = wait_until(Duration::from_secs(10), || {
                std::fs::read_to_string(&signals)
                    .is_ok_and(|t| t.lines().any(|l| l.contains(r#""source":"event""#) && l.contains("interrupted")))
            });
            let still = w.call(&["observe", &id])?;
            let alive = still["state"] != "FAILED" && still["event"] != "error";
            let ok = event(&doc) == "idle" && meta(&doc, "readiness") == "interrupted" && aborted && alive;
            Ok((
                ok,
                Some(secs),
                format!("{}; opencode reported the abort: {aborted}; worker alive after: {alive}", describe(&doc)),
            ))
        }
        "err401" | "err429" | "err500" => {
            let id = spawn_task(&format!("Say hello. scenario-{name}"), "read_only")?;
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
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
            w.wait_screen(&id, "tick 1", Duration::from_secs(FIRST_TURN));
            super::terminate_check(w, &id)
        }
        "signed_out" => {
            let id = spawn_task("Say hello. scenario-plain", "read_only")?;
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
            // opencode has no sign-in screen; without a provider it opens "Connect a provider".
            let ok = event(&doc) == "error"
                && (meta(&doc, "readiness") == "login_required" || meta(&doc, "error_class") == "auth");
            Ok((ok, since(start), describe(&doc)))
        }
        "resume" => {
            // One turn, ended; then `agentpool resume` continues that session (`opencode -s <id>`).
            let first = spawn_task("Remember the word walnut. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&first, ANY, FIRST_TURN)?;
            if event(&doc) != "idle" {
                return Ok((false, None, format!("first turn: {}", describe(&doc))));
            }
            let session = w.call(&["session", "show", &first])?["session"]["metadata"]["cli_session_id"].clone();
            w.call(&["terminate", &first])?;
            let t = Instant::now();
            let resumed = w.call(&["resume", &first, "--task", "Which word? scenario-noresult"])?;
            let id = resumed["session_id"].as_str().unwrap_or_default().to_owned();
            *id_out = Some(id.clone());
            let (doc, _) = w.observe(&id, ANY, FIRST_TURN)?;
            let now = w.call(&["session", "show", &id])?["session"]["metadata"]["cli_session_id"].clone();
            // The resumed session shows the first turn above the new one (the task's words
            // scroll off: the first reply is what stays on screen).
            let history = wait_until(Duration::from_secs(10), || {
                screen(w, &id).matches("no result block this time").count() >= 2
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_read_under_its_question() {
        let screen =
            "  \u{2503}  # Questions\n  \u{2503}\n  \u{2503}  Which color should the button be?\n  \u{2503}  Blue\n";
        assert!(answered_with(screen, "Blue"));
        assert!(!answered_with(screen, "Red"));
        let menu =
            "  \u{2503}  Which color should the button be?\n  \u{2503}\n  \u{2503}  1. Red\n  \u{2503}  2. Blue\n";
        assert!(!answered_with(menu, "Blue"), "the open menu is no answer");
    }
}
