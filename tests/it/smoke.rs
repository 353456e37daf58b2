//! `agentpool smoke`: the whole fake-provider lifecycle in one command, and the guarded
//! read-only smoke of a real provider against a stand-in executable.

use agentpool_tests::TestContext;
use serde_json::json;

#[test]
fn smoke_passes_collects_every_artifact_and_leaves_no_tmux_session() {
    let ctx = TestContext::new();
    let repo = ctx.repo_str();
    let v = ctx.json(&["smoke", "--provider", "fake-question", "--repo", &repo, "--json"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["provider_id"], "fake-question", "{v}");
    assert_eq!(v["question_event"], "question", "{v}");
    assert_eq!(v["question_state"], "AWAITING_USER_INPUT", "{v}");
    assert_eq!(v["send"], true, "{v}");
    assert_eq!(v["completed_event"], "completed", "{v}");
    assert_eq!(v["completed_state"], "COMPLETED", "{v}");
    assert_eq!(v["git_dirty"], false, "{v}");
    let kinds: Vec<&str> =
        v["artifact_kinds"].as_array().expect("artifact_kinds").iter().filter_map(|k| k.as_str()).collect();
    for kind in [
        "metadata",
        "prompt",
        "transcript",
        "events",
        "screen",
        "summary_partial",
        "summary",
        "result",
        "git_status",
        "diff",
    ] {
        assert!(kinds.contains(&kind), "artifact kind `{kind}` missing from {kinds:?}");
    }
    assert_eq!(kinds.len(), 10, "{kinds:?}");

    // The artifacts are real files under this test's home.
    let dir = std::path::PathBuf::from(v["artifact_dir"].as_str().expect("artifact_dir"));
    assert!(dir.starts_with(ctx.home()), "artifacts outside AGENTPOOL_HOME: {}", dir.display());
    let result = std::fs::read_to_string(dir.join("result.md")).expect("result.md");
    assert!(result.contains("Question path completed after steering."), "{result}");

    // The worker was terminated and nothing is left on the socket.
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
    let sid = v["session_id"].as_str().unwrap();
    let types = ctx.event_types(sid);
    assert!(types.iter().any(|t| t == "terminate"), "{types:?}");
    assert_eq!(ctx.session(sid)["state"], "COMPLETED");
}

/// A stand-in `claude` that behaves like a read-only agent: it asks whether to trust the
/// folder (pre-selecting "Yes"), takes the pasted prompt, waits for one steering message and
/// prints the token the message spells out. Like a TUI, it redraws the whole screen (and
/// clears the scrollback) once the dialog is answered. With `dirty`, it also writes a file in
/// its repo.
fn read_only_agent(dirty: bool) -> String {
    let touch = if dirty { "echo oops > smoke-was-here.txt\n" } else { "" };
    format!(
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "claude 9.9.9 (stand-in)"; exit 0; fi
saved=$(stty -g)
stty -echo
printf 'Do you trust the files in this folder?\n\n\342\235\257 1. Yes, proceed\n  2. No, exit\n'
IFS= read -r _ || exit 3
stty "$saved"
printf '\033[H\033[2J\033[3Jtrusted\n'
seen=0
while IFS= read -r line; do
  if [ "$seen" = 1 ] && [ -n "$line" ]; then break; fi
  case "$line" in Task:*) seen=1;; esac
done
echo "Waiting for one steering message"
while IFS= read -r line; do
  case "$line" in *"joined by underscores"*) break;; esac
done
{touch}echo "AGENTPOOL""_SMOKE_DONE"
while IFS= read -r line; do :; done
"#
    )
}

/// Runs `agentpool smoke` with a stand-in `claude` first on `PATH`.
fn real_smoke(ctx: &TestContext, dirty: bool, extra: &[&str]) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    let bin = ctx.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("claude");
    std::fs::write(&exe, read_only_agent(dirty)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let repo = ctx.repo_str();
    let mut args = vec!["smoke", "--provider", "claude-code", "--repo", repo.as_str(), "--timeout", "8", "--json"];
    args.extend_from_slice(extra);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = ctx.command(&args).env("PATH", path).output().unwrap();
    agentpool_tests::assert_no_panic(&args, &out);
    out
}

#[test]
fn real_read_only_smoke_answers_the_trust_prompt_and_verifies_the_token() {
    let ctx = TestContext::new();
    let out = real_smoke(&ctx, false, &["--real-read-only"]);
    let v = agentpool_tests::parse_json(&[], &out);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!((v["isolation"].clone(), v["role"].clone()), (json!("read_only"), json!("reviewer")), "{v}");
    assert_eq!(v["final_event"], "completed", "{v}");
    assert_eq!(v["completion_verified"], true, "{v}");
    assert_eq!(v["git_dirty"], false, "{v}");
    let lc = &v["lifecycle"];
    for step in ["spawn", "send", "collect", "terminate"] {
        assert_eq!(lc[step], true, "lifecycle.{step}: {v}");
    }
    assert_eq!(lc["startup_trust_prompt"], "accepted", "{v}");
    assert_eq!(lc["startup_dialogs"], json!([{"dialog": "trust_prompt", "action": "trusted_folder"}]), "{v}");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new(), "nothing left on the socket");
    // What we sent never contained the token itself.
    let sid = v["session_id"].as_str().unwrap();
    let sent = std::fs::read_to_string(ctx.artifact_dir(sid).join("prompt.md")).unwrap();
    assert!(!sent.contains("AGENTPOOL_SMOKE_DONE"), "{sent}");
    assert_eq!(ctx.session(sid)["state"], "COMPLETED");
}

#[test]
fn real_smoke_fails_when_the_repo_becomes_dirty_and_still_terminates() {
    let ctx = TestContext::new();
    let out = real_smoke(&ctx, true, &["--real-read-only"]);
    let v = agentpool_tests::parse_json(&[], &out);
    assert_eq!(out.status.code(), Some(1), "a failed smoke exits 1: {v}");
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["final_event"], "completed", "the worker did print the token: {v}");
    assert_eq!(v["git_dirty"], true, "{v}");
    assert_eq!(v["git_changes"], json!(["smoke-was-here.txt"]), "{v}");
    assert_eq!(v["lifecycle"]["terminate"], true, "{v}");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}

#[test]
fn real_smoke_without_trust_consent_stops_for_a_human() {
    let ctx = TestContext::new();
    let out = real_smoke(&ctx, false, &["--real-read-only", "--no-accept-startup-trust"]);
    let v = agentpool_tests::parse_json(&[], &out);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["initial_event"], "approval_prompt", "{v}");
    assert!(v["blocked_reason"].as_str().is_some_and(|r| r.contains("human")), "{v}");
    assert!(v.get("send").is_none(), "nothing was typed into the prompt: {v}");
    assert_eq!(v["lifecycle"]["startup_dialogs"], json!([]), "{v}");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}

#[test]
fn real_provider_smoke_needs_real_read_only() {
    let ctx = TestContext::new();
    let out = real_smoke(&ctx, false, &[]);
    assert_eq!(out.status.code(), Some(1));
    let v = agentpool_tests::parse_json(&[], &out);
    assert_eq!(v["error"]["code"], "POLICY_BLOCKED", "{v}");
    assert_eq!(v["error"]["details"]["provider_id"], "claude-code", "{v}");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}
