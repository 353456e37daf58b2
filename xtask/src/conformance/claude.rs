//! The Claude Code scenarios of `cargo xtask conformance`.
//!
//! Claude Code is pointed at the stand-in with `ANTHROPIC_BASE_URL` and a dummy
//! `ANTHROPIC_API_KEY`, and `CLAUDE_CODE_MAX_RETRIES=1` so a failing request gives up after one
//! retry instead of ten (what is tested is how the final failure is reported, not the backoff).
//! Its `HOME` is fresh and only marks onboarding as done: the folder-trust prompt and the
//! "Do you want to use this API key?" dialog are AgentPool's to answer (config
//! `use_env_api_key = true`), which the first scenario checks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::standin::{APPROVAL_FILE, StandIn};
use super::{Outcome, Row, World, describe, event, meta, scratch_repo};

/// The release tested when `--version` is not given.
pub const PINNED: &str = "2.1.332";

const PACKAGE: &str = "@anthropic-ai/claude-code";

/// Every scenario, in the order they run.
fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin).arg("--version").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().next().map(str::to_owned)
}

/// The `claude` binary of `version`: a matching install in the cache or the workspace's
/// `tests/mcp-hosts`, else a fresh `npm install --prefix` into the cache.
pub fn install(root: &Path, base: &Path, version: &str) -> Result<PathBuf, String> {
    super::npm_install(root, base, PACKAGE, "claude", version, version_of)
}

/// A world for claude: its own `AGENTPOOL_HOME`, `HOME`, repo and tmux socket.
struct Setup {
    world: World,
    repo: PathBuf,
    _dir: tempfile::TempDir,
    /// Where the error scenarios' final screens are kept (`screens/claude-<version>/`).
    screens: PathBuf,
}

fn setup(base: &Path, cli: &Path, standin: &StandIn, tag: &str, signed_in: bool) -> Result<Setup, String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("run-{tag}-"))
        .tempdir_in(base)
        .map_err(|e| format!("could not create a scratch directory: {e}"))?;
    let (home, cli_home, repo) = (dir.path().join("aphome"), dir.path().join("home"), dir.path().join("repo"));
    for d in [&home, &cli_home, &repo] {
        std::fs::create_dir_all(d).map_err(|e| format!("could not create `{}`: {e}", d.display()))?;
    }
    scratch_repo(&repo)?;
    // Onboarding done (theme, tips); trust and the API key are left to AgentPool.
    std::fs::write(cli_home.join(".claude.json"), r#"{"hasCompletedOnboarding": true, "theme": "dark"}"#)
        .map_err(|e| e.to_string())?;
    let cli_str = cli.display().to_string();
    let config = format!(
        "[policy]\nallow_raw_keys = true\nmax_parallel_sessions = 8\n\n[providers.claude-code]\ncommand = [{cli:?}]\n\n[providers.claude-code.metadata]\nuse_env_api_key = true\npermission_mode = \"default\"\n",
        cli = cli_str
    );
    std::fs::write(home.join("config.toml"), config).map_err(|e| e.to_string())?;
    let socket = format!("ap-conf-{}-{tag}", super::random_suffix());
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let mut env: Vec<(String, String)> = vec![
        ("AGENTPOOL_HOME".into(), home.display().to_string()),
        ("AGENTPOOL_TMUX_SOCKET".into(), socket.clone()),
        ("HOME".into(), cli_home.display().to_string()),
        ("PATH".into(), path),
        ("TERM".into(), "xterm-256color".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("ANTHROPIC_BASE_URL".into(), standin.base_url()),
        ("CLAUDE_CODE_MAX_RETRIES".into(), "1".into()),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
        ("DISABLE_TELEMETRY".into(), "1".into()),
        ("DISABLE_ERROR_REPORTING".into(), "1".into()),
    ];
    if signed_in {
        env.push(("ANTHROPIC_API_KEY".into(), "sk-ant-api03-conformance-standin-0000000000".into()));
    }
    let world = World { agentpool: PathBuf::new(), env, socket, home };
    let version = version_of(cli).unwrap_or_else(|| "unknown".into());
    let screens = base.join("screens").join(format!("claude-{version}"));
    Ok(Setup { world, repo, _dir: dir, screens })
}

/// Copies the worker's last screen to `screens/claude-<version>/<scenario>.txt` under the
/// conformance directory: the recorded screens the provider's screen-rule tests are pinned on.
fn keep_screen(s: &Setup, id: &str, scenario: &str) {
    if std::fs::create_dir_all(&s.screens).is_ok() {
        let _ =
            std::fs::copy(s.world.artifacts(id).join("latest_screen.txt"), s.screens.join(format!("{scenario}.txt")));
    }
}

/// A git repository with one commit, for a scenario to work in.
/// Runs the scenarios (all, or those in `only`).
pub fn run(base: &Path, cli: &Path, agentpool: &Path, _version: &str, only: &[String]) -> Result<Vec<Row>, String> {
    super::run_worlds(
        "claude",
        &base.join("standin.log"),
        agentpool,
        only,
        |standin, tag, signed_in| setup(base, cli, standin, tag, signed_in),
        |s| &mut s.world,
        |s, name| scenario(base, s, name),
    )
}

fn spawn(s: &Setup, task: &str, isolation: &str) -> Result<String, String> {
    s.world.spawn("claude-code", &[], &s.repo, task, isolation)
}

/// Runs one scenario (see [`super::scenario`]).
fn scenario(base: &Path, s: &Setup, name: &str) -> Row {
    super::scenario(base, &s.world, name, name, |id, start| run_scenario(s, name, id, start))
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
            let (doc, _) = w.observe(&id, "completed,error,question,approval,idle", 60)?;
            let events = std::fs::read_to_string(w.artifacts(&id).join("events.jsonl")).unwrap_or_default();
            let dialogs: Vec<&str> =
                ["\"trust_prompt\"", "\"api_key_prompt\""].into_iter().filter(|d| events.contains(d)).collect();
            let ok = event(&doc) == "completed" && dialogs.len() == 2;
            Ok((ok, since(start), format!("{}; dialogs answered: {}", describe(&doc), dialogs.join(" "))))
        }
        "noresult" => {
            let id = spawn_task("Say hello. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&id, "idle,completed,error,question,approval", 60)?;
            let ok = event(&doc) == "idle" && meta(&doc, "signal")["kind"] == "turn_ended";
            Ok((ok, since(start), describe(&doc)))
        }
        "approval" => {
            let id = spawn_task("Create the marker file. scenario-approval", "worktree")?;
            let (doc, _) = w.observe(&id, "approval,completed,error,question,idle", 60)?;
            let detected = since(start);
            if event(&doc) != "approval_prompt" {
                return Ok((false, detected, describe(&doc)));
            }
            let drawn = w.wait_screen(&id, "Do you want to proceed?", Duration::from_secs(5));
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
            let id = spawn_task("Create the marker file. scenario-approval", "read_only")?;
            let mut doc = w.observe(&id, "approval,completed,error,question,idle", 60)?.0;
            let detected = since(start);
            let mut notes = vec![describe(&doc)];
            // Claude Code's plan mode may ask about its classifier first; acknowledge it.
            let mut steps = 0;
            while event(&doc) == "question" && steps < 3 {
                steps += 1;
                w.wait_screen(&id, "Enter to", Duration::from_secs(5));
                w.call(&["keys", &id, "Enter"])?;
                doc = w.observe(&id, "approval,completed,error,idle", 60)?.0;
                notes.push(describe(&doc));
            }
            let written = s.repo.join(APPROVAL_FILE).exists();
            let ok = !written && matches!(event(&doc), "completed" | "approval_prompt" | "idle");
            notes.push(format!("{APPROVAL_FILE} {}", if written { "WRITTEN" } else { "not written" }));
            Ok((ok, detected, notes.join(" → ")))
        }
        "ask" => {
            let id = spawn_task("Pick a button color. scenario-ask", "read_only")?;
            let (doc, _) = w.observe(&id, "question,approval,completed,error,idle", 60)?;
            let detected = since(start);
            let raw = doc["parsed_question"]["text"].as_str().or_else(|| doc["parsed_question"].as_str()).unwrap_or("");
            // Without the untrusted-output fence lines.
            let q = raw.lines().filter(|l| !l.contains("UNTRUSTED_WORKER_OUTPUT")).collect::<Vec<_>>().join(" ");
            if event(&doc) != "question" || !q.contains("Which color") {
                return Ok((false, detected, format!("{} question={q:?}", describe(&doc))));
            }
            w.wait_screen(&id, "Enter to select", Duration::from_secs(5));
            let t = Instant::now();
            let sent = w.call(&["send", &id, "2"])?;
            let chosen = sent["selected_option"]["text"].as_str().unwrap_or("-").to_owned();
            let (after, _) = w.observe(&id, "completed,error,idle", 30)?;
            // Claude Code prints the answer it received after the question: the option, not "2".
            let landed = w.wait_screen(&id, "\u{2192} Blue", Duration::from_secs(5));
            let answered = event(&after) == "completed" && chosen == "Blue" && landed;
            Ok((
                answered,
                detected,
                format!(
                    "question {q:?} (signal={}); `send 2` chose {chosen:?} (answer on screen: {landed}): {} in {:.1}s",
                    meta(&doc, "signal")["kind"].as_str().unwrap_or("-"),
                    describe(&after),
                    t.elapsed().as_secs_f64()
                ),
            ))
        }
        "slow" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            let (early, _) = w.observe(&id, "completed,error,question,approval,idle", 15)?;
            if event(&early) != "timeout" {
                return Ok((false, since(start), format!("early event while streaming: {}", describe(&early))));
            }
            let (doc, _) = w.observe(&id, "completed,error,question,approval,idle", 60)?;
            Ok((event(&doc) == "completed", since(start), format!("nothing for 15s, then {}", describe(&doc))))
        }
        "interrupt" => {
            let id = spawn_task("Take your time. scenario-slow", "read_only")?;
            w.observe(&id, "completed,error", 5)?;
            let t = Instant::now();
            w.call(&["interrupt", &id])?;
            let (doc, _) = w.observe(&id, "idle,completed,error,question,approval", 20)?;
            let ok = event(&doc) == "idle" && meta(&doc, "readiness") == "interrupted";
            Ok((ok, Some(t.elapsed().as_secs_f64()), describe(&doc)))
        }
        "err401" | "err429" | "err500" => {
            let id = spawn_task(&format!("Say hello. scenario-{name}"), "read_only")?;
            let (doc, _) = w.observe(&id, "error,completed,question,approval,idle", 90)?;
            keep_screen(s, &id, name);
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
            let (doc, _) = w.observe(&id, "error,completed,question,approval,idle", 60)?;
            // The StopFailure hook can beat the "Please run /login" line to the screen: an
            // `auth` error is as good an answer as `login_required`.
            let ok = event(&doc) == "error"
                && (meta(&doc, "readiness") == "login_required" || meta(&doc, "error_class") == "auth");
            Ok((ok, since(start), describe(&doc)))
        }
        "resume" => {
            // One turn, ended; then `agentpool resume` continues that conversation.
            let first = spawn_task("Remember the word walnut. scenario-noresult", "read_only")?;
            let (doc, _) = w.observe(&first, "idle,completed,error,question,approval", 60)?;
            if event(&doc) != "idle" {
                return Ok((false, None, format!("first turn: {}", describe(&doc))));
            }
            let conversation = w.call(&["session", "show", &first])?["session"]["metadata"]["cli_session_id"].clone();
            w.call(&["terminate", &first])?;
            let t = Instant::now();
            let resumed = w.call(&["resume", &first, "--task", "Which word? scenario-noresult"])?;
            let id = resumed["session_id"].as_str().unwrap_or_default().to_owned();
            *id_out = Some(id.clone());
            let (doc, _) = w.observe(&id, "idle,completed,error,question,approval", 60)?;
            let now = w.call(&["session", "show", &id])?["session"]["metadata"]["cli_session_id"].clone();
            // Claude Code redraws the resumed conversation: the first turn's words are on screen.
            let history = w.wait_screen(&id, "walnut", Duration::from_secs(5));
            let ok = conversation.is_string()
                && resumed["resumed_from"] == first.as_str()
                && event(&doc) == "idle"
                && now == conversation
                && history;
            Ok((
                ok,
                Some(t.elapsed().as_secs_f64()),
                format!("conversation {conversation} -> {now}; {}; first turn on screen: {history}", describe(&doc)),
            ))
        }
        other => Err(format!("no such scenario `{other}`")),
    }
}
