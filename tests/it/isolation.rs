//! Isolation, leases, coordinator scope, redaction, untrusted output and recovery (issue 5).

use std::path::{Path, PathBuf};

use agentpool_tests::TestContext;
use serde_json::Value;

fn wait(ctx: &TestContext, id: &str, what: &str) -> Value {
    ctx.json(&["observe", id, "--wait-for", what, "--timeout", "30", "--json"])
}

/// Runs git in `dir` with a fixed identity and no user or system config; panics on failure.
pub(crate) fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=t@e", "-c", "user.name=t", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn worktree_spawn_leaves_the_checkout_alone_and_cleanup_never_loses_work_silently() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-patch", "Write the patch file.", &["--isolation", "worktree", "--role", "implementer"]);
    let s = ctx.session(&id);
    let wt = PathBuf::from(s["worktree_path"].as_str().unwrap());
    assert!(wt.starts_with(ctx.home().join("worktrees")), "worktree lives under AGENTPOOL_HOME: {}", wt.display());
    assert_eq!(wait(&ctx, &id, "completed")["state"], "COMPLETED");

    // The user's checkout is untouched; the worktree holds the change.
    assert_eq!(ctx.git(&["status", "--porcelain"]).trim(), "");
    assert!(!ctx.repo().join("agentpool_fake_patch.txt").exists());
    assert!(wt.join("agentpool_fake_patch.txt").is_file());
    ctx.json(&["collect", &id, "--json"]);
    let diff = std::fs::read_to_string(ctx.artifact_dir(&id).join("diff.patch")).unwrap();
    assert!(diff.contains("agentpool_fake_patch.txt") && diff.contains("+patched by fake agent"), "{diff}");

    let listed = ctx.json(&["worktrees", "list", "--repo", &ctx.repo_str(), "--json"]);
    let rows = listed["worktrees"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["session_id"], id.as_str());
    assert_eq!(rows[0]["active"], false);

    // Without --force: refused, naming what would be lost.
    let err = ctx.error(&["worktrees", "cleanup", "--session-id", &id, "--json"], "WORKTREE_DIRTY");
    assert_eq!(err["details"]["would_lose"]["dirty_files"], serde_json::json!(["agentpool_fake_patch.txt"]));
    // --dry-run changes nothing.
    let plan = ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--dry-run", "--json"]);
    assert_eq!(
        (plan["blocked"].as_bool(), plan["would_remove"].as_bool(), plan["reason"].as_str()),
        (Some(true), Some(false), Some("dirty"))
    );
    assert!(wt.join("agentpool_fake_patch.txt").is_file());
    // --force removes the worktree and its registration; a branch with nothing new goes too.
    let done = ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--force", "--json"]);
    assert_eq!(done["removed"], true, "{done}");
    assert_eq!(done["branch_deleted"], true, "{done}");
    assert!(!wt.exists());
    assert!(!ctx.git(&["worktree", "list", "--porcelain"]).contains(&id));
    assert_eq!(ctx.git(&["branch", "--list", "agentpool/*"]).trim(), "");
    assert!(ctx.event_types(&id).contains(&"worktree_cleanup".to_owned()));
    // Again: nothing left to remove.
    assert_eq!(ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--json"])["reason"], "missing");
}

#[test]
fn committed_work_on_the_branch_survives_a_forced_cleanup() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-patch", "Write the patch file.", &["--isolation", "worktree", "--role", "implementer"]);
    wait(&ctx, &id, "completed");
    let wt = PathBuf::from(ctx.session(&id)["worktree_path"].as_str().unwrap().to_owned());
    git_in(&wt, &["add", "-A"]);
    git_in(&wt, &["commit", "-q", "-m", "worker change"]);

    let err = ctx.error(&["worktrees", "cleanup", "--session-id", &id, "--json"], "WORKTREE_DIRTY");
    assert_eq!(err["details"]["would_lose"]["unmerged_commits"], 1, "{err}");
    let done = ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--yes", "--json"]);
    assert_eq!((done["removed"].as_bool(), done["branch_deleted"].as_bool()), (Some(true), Some(false)), "{done}");
    assert_eq!(done["branch_kept_reason"], "unmerged_commits");
    let branch = done["branch"].as_str().unwrap();
    assert_eq!(git_in(ctx.repo(), &["log", "-1", "--format=%s", branch]).trim(), "worker change");
}

#[test]
fn a_spawn_that_fails_after_creating_its_worktree_rolls_it_back() {
    let ctx = TestContext::new();
    // tmux cannot be found, so launch fails after the worktree was created.
    ctx.write_config("[runtime.tmux]\nbinary = \"/nonexistent/tmux\"\n");
    let repo = ctx.repo_str();
    let err = ctx.error(
        &[
            "spawn",
            "--provider",
            "fake-patch",
            "--repo",
            &repo,
            "--task",
            "Patch.",
            "--isolation",
            "worktree",
            "--role",
            "implementer",
            "--json",
        ],
        "TMUX_NOT_FOUND",
    );
    assert!(err["details"]["session_id"].is_string(), "{err}");
    assert_eq!(ctx.git(&["branch", "--list", "agentpool/*"]).trim(), "");
    assert_eq!(ctx.git(&["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
    let root = ctx.home().join("worktrees");
    let leftovers: Vec<_> = walk(&root).into_iter().filter(|p| p.is_dir()).collect();
    assert!(leftovers.iter().all(|p| p.parent() == Some(root.as_path()) || p == &root), "{leftovers:?}");
}

#[test]
fn racing_write_leases_from_two_sessions_have_one_winner() {
    let ctx = TestContext::new();
    let a = ctx.spawn_id("fake-question", "Wait for my answer.", &[]);
    let b = ctx.spawn_id("fake-question", "Wait for my answer.", &[]);
    let children: Vec<_> = (0..10)
        .map(|i| {
            let sid = if i % 2 == 0 { &a } else { &b };
            ctx.command(&[
                "leases",
                "acquire",
                "--session-id",
                sid,
                "--file",
                "src/app.rs",
                "--mode",
                "write",
                "--json",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    let results: Vec<(Option<i32>, Value)> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
        })
        .collect();
    let winners: Vec<&str> = results
        .iter()
        .filter(|(c, _)| *c == Some(0))
        .map(|(_, v)| v["lease"]["session_id"].as_str().unwrap())
        .collect();
    assert!(!winners.is_empty(), "{results:?}");
    let holder = winners[0];
    assert!(winners.iter().all(|w| *w == holder), "two sessions hold one write lease: {results:?}");
    for (code, v) in &results {
        if *code != Some(0) {
            assert_eq!(v["error"]["code"], "LEASE_CONFLICT", "{v}");
            assert_eq!(v["error"]["details"]["lease"]["session_id"], holder, "the conflict names the holder: {v}");
        }
    }
    let active = ctx.json(&["leases", "list", "--json"]);
    assert_eq!(active["leases"].as_array().unwrap().len(), 1, "{active}");

    // Terminating the holder releases its lease; the other session can take the file.
    let other = if holder == a { &b } else { &a };
    ctx.json(&["terminate", holder, "--json"]);
    assert_eq!(ctx.json(&["leases", "list", "--json"])["leases"].as_array().unwrap().len(), 0);
    let got = ctx.json(&["leases", "acquire", "--session-id", other, "--file", "./src//app.rs", "--json"]);
    assert_eq!(got["lease"]["file_path"], "src/app.rs");
    // Reads share; a write then conflicts.
    ctx.json(&["leases", "release", "--session-id", other, "--json"]);
    let c = ctx.spawn_id("fake-question", "Wait for my answer.", &[]);
    ctx.json(&["leases", "acquire", "--session-id", other, "--file", "README.md", "--mode", "read", "--json"]);
    ctx.json(&["leases", "acquire", "--session-id", &c, "--file", "README.md", "--mode", "read", "--json"]);
    ctx.error(
        &["leases", "acquire", "--session-id", &c, "--file", "README.md", "--mode", "write", "--json"],
        "LEASE_CONFLICT",
    );
    let dry = ctx.json(&["leases", "release", "--session-id", &c, "--dry-run", "--json"]);
    assert_eq!(dry["count"], 1);
    assert_eq!(ctx.json(&["leases", "list", "--session-id", &c, "--json"])["leases"].as_array().unwrap().len(), 1);
    ctx.error(&["leases", "release", "--json"], "INVALID_LEASE_RELEASE");
    ctx.error(
        &["leases", "acquire", "--session-id", &c, "--file", "x", "--mode", "exclusive", "--json"],
        "INVALID_LEASE_MODE",
    );
    for id in [other.as_str(), c.as_str()] {
        ctx.json(&["terminate", id, "--json"]);
    }
}

#[test]
fn junk_lease_paths_and_session_ids_get_clear_errors() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-question", "Wait for my answer.", &[]);
    let big = "a".repeat(100_000);
    let outside = ctx.home().join("x.txt").display().to_string();
    for (path, reason) in [
        ("../outside.txt", "outside_repo"),
        ("/etc/passwd", "outside_repo"),
        (outside.as_str(), "outside_repo"),
        (big.as_str(), "too_long"),
        ("", "empty"),
    ] {
        let err =
            ctx.error(&["leases", "acquire", "--session-id", &id, "--file", path, "--json"], "INVALID_LEASE_PATH");
        assert_eq!(err["details"]["reason"], reason, "{path:.40}: {err:.300}");
        assert!(err.to_string().len() < 2000, "the error does not echo 100 KB back");
    }
    let huge_id = format!("ap_{}", "b".repeat(100_000));
    for bad in ["../../etc/passwd", "ap_../x", huge_id.as_str()] {
        ctx.error(&["leases", "acquire", "--session-id", bad, "--file", "a", "--json"], "INVALID_SESSION_ID");
        ctx.error(&["worktrees", "cleanup", "--session-id", bad, "--json"], "INVALID_SESSION_ID");
        ctx.error(&["leases", "release", "--session-id", bad, "--json"], "INVALID_SESSION_ID");
    }
    ctx.error(&["sessions", "--coordinator-id", "../x", "--json"], "INVALID_COORDINATOR_ID");
    ctx.json(&["terminate", &id, "--json"]);
}

#[test]
fn turn_and_runtime_limits_are_enforced() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-question", "Ask one question.", &["--max-turns", "1"]);
    wait(&ctx, &id, "question");
    ctx.json(&["send", &id, "Inspect migrations first.", "--json"]);
    let err = ctx.error(&["send", &id, "And then auth.", "--json"], "TURN_LIMIT_REACHED");
    assert_eq!((err["details"]["max_turns"].as_i64(), err["details"]["turns_sent"].as_i64()), (Some(1), Some(1)));
    ctx.json(&["terminate", &id, "--json"]);

    let id = ctx.spawn_id("fake-question", "Ask one question.", &["--max-runtime-seconds", "1"]);
    let deadline = ctx.session(&id)["metadata"]["deadline_at"].as_str().unwrap().to_owned();
    // Wait until the recorded deadline has certainly passed (no timing assertion: the check
    // below holds however long this takes).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let err = ctx.error(&["send", &id, "late", "--json"], "SESSION_TIMEOUT");
    assert_eq!(err["details"]["deadline_at"], deadline.as_str());
    assert_eq!(ctx.session(&id)["state"], "CANCELLED");
    assert!(ctx.tmux_sessions().is_empty(), "the timed-out worker was stopped");
}

#[test]
fn coordinators_see_their_own_sessions_and_acting_on_others_is_recorded() {
    let ctx = TestContext::new();
    let mine = ctx.spawn_id("fake-question", "Wait.", &["--coordinator-id", "alpha"]);
    let theirs = ctx.spawn_id("fake-question", "Wait.", &["--coordinator-id", "beta"]);
    let scoped = ctx.json(&["sessions", "--scope", "mine", "--coordinator-id", "alpha", "--json"]);
    let ids: Vec<&str> = scoped["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.as_str()]);
    assert_eq!(scoped["scope"]["current_coordinator_only"], true);
    assert_eq!(ctx.json(&["sessions", "--json"])["pagination"]["total"], 2, "default scope is all");
    ctx.error(&["sessions", "--scope", "everyone", "--json"], "INVALID_REQUEST");

    // alpha terminates beta's worker: allowed, and the event says who did it.
    let mut cmd = ctx.command(&["terminate", &theirs, "--json"]);
    cmd.env("AGENTPOOL_COORDINATOR_ID", "alpha");
    assert!(cmd.output().unwrap().status.success());
    let ev = ctx.events(&theirs).into_iter().find(|e| e["event_type"] == "terminate").unwrap();
    assert_eq!(ev["metadata"]["acting_coordinator_id"], "alpha", "{ev}");
    ctx.json(&["terminate", &mine, "--coordinator-id", "alpha", "--json"]);
    let ev = ctx.events(&mine).into_iter().find(|e| e["event_type"] == "terminate").unwrap();
    assert!(ev["metadata"].get("acting_coordinator_id").is_none(), "the owner acting is not flagged: {ev}");
}

#[test]
fn killing_the_tmux_server_fails_every_worker_with_a_reason_and_keeps_artifacts() {
    let ctx = TestContext::new();
    let ids: Vec<String> = (0..3).map(|_| ctx.spawn_id("fake-question", "Wait for my answer.", &[])).collect();
    for id in &ids {
        wait(&ctx, id, "question");
    }
    assert!(ctx.tmux(&["kill-server"]).status.success());
    let listed = ctx.json(&["sessions", "--json"]);
    for id in &ids {
        let s = listed["sessions"].as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).unwrap();
        assert_eq!(s["state"], "FAILED", "{s}");
        assert!(s["ended_at"].is_string(), "{s}");
        let ev = ctx.events(id).into_iter().find(|e| e["event_type"] == "reconcile_dead_tmux").unwrap();
        assert!(ev["metadata"]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{ev}");
        let dir = ctx.artifact_dir(id);
        for f in ["prompt.md", "metadata.json", "transcript.txt", "events.jsonl"] {
            assert!(dir.join(f).is_file(), "{f} kept for {id}");
        }
        // Nothing still looks alive.
        assert_eq!(ctx.json(&["observe", id, "--json"])["state"], "FAILED");
    }
    assert_eq!(
        ctx.json(&["sessions", "--state", "running,ready,awaiting_user_input", "--json"])["pagination"]["total"],
        0
    );
}

#[test]
fn a_spawn_that_crashed_before_launch_is_reconciled_at_once() {
    let ctx = TestContext::new();
    // Let the database exist, then fake a crash between insert and launch: a STARTING row
    // whose spawning process no longer runs.
    ctx.json(&["sessions", "--json"]);
    let dead_pid = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let now = "2099-01-01T00:00:00.000000Z";
    let sql = format!(
        "INSERT INTO sessions (id, provider_id, harness, role, task, repo_path, runtime, state, artifact_dir, transcript_path, events_path, created_at, updated_at, metadata_json) \
         VALUES ('ap_0123456789ab','fake-question','fake-question','explorer','t','{repo}','tmux','STARTING','{home}/a','{home}/a/t','{home}/a/e','{now}','{now}','{{\"spawn_pid\":{dead_pid}}}');",
        repo = ctx.repo_str(),
        home = ctx.home().display(),
    );
    let out = std::process::Command::new("sqlite3").arg(ctx.home().join("agentpool.sqlite")).arg(sql).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = ctx.session("ap_0123456789ab");
    assert_eq!(s["state"], "FAILED", "{s}");
}

/// Every file under `root`, recursively.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.push(p.clone());
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn secrets_never_reach_any_file_under_agentpool_home() {
    let ctx = TestContext::new();
    let sk = "sk-proj-Q9x2Lm4Pz8Rt6Vw1Yb3NQ9x2Lm4P";
    let ghp = "ghp_R2d2C3poBb8Ll9Kk7Jj6Hh5Gg4Ff3Ee2";
    let akia = "AKIAZXCVBNMASDFGHJKL";
    let bearer = "Zq8Wm3Xr7Tn2Yp6Vk1Ls9Hd4";
    let task = format!("Use key {sk} and token {ghp}, then wait.");
    let id = ctx.spawn_id("fake-question", &task, &["--account", &format!("api_key={sk}")]);
    wait(&ctx, &id, "question");
    ctx.json(&["send", &id, &format!("aws {akia} and Authorization: Bearer {bearer}"), "--json"]);
    wait(&ctx, &id, "completed");
    ctx.json(&["observe", &id, "--detail", "full", "--json"]);
    ctx.json(&["collect", &id, "--detail", "full", "--json"]);
    ctx.json(&["transcript", &id, "--json"]);
    ctx.json(&["terminate", &id, "--json"]);

    // The worker did see the secrets (its screen echoes them), so the files were exposed to
    // them; none may hold them.
    let files: Vec<PathBuf> = walk(ctx.home()).into_iter().filter(|p| p.is_file()).collect();
    assert!(files.iter().any(|p| p.ends_with("agentpool.sqlite")), "{files:?}");
    let transcript = std::fs::read_to_string(ctx.artifact_dir(&id).join("transcript.txt")).unwrap();
    assert!(transcript.contains("[REDACTED]"), "the worker's output was seen and redacted:\n{transcript}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [sk, &sk[8..], ghp, akia, bearer] {
            assert!(!text.contains(secret), "{secret} found in {}", f.display());
        }
    }
}

#[test]
fn lockdown_withholds_worker_text_and_transcript_pages_are_fenced() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-question", "Ask one question.", &[]);
    wait(&ctx, &id, "question");
    let page = ctx.json(&["transcript", &id, "--json"]);
    let text = page["text"].as_str().unwrap();
    assert!(
        text.starts_with("BEGIN_UNTRUSTED_WORKER_OUTPUT_") && text.contains("\nEND_UNTRUSTED_WORKER_OUTPUT_"),
        "{text}"
    );
    assert!(text.contains("Should I inspect migrations"), "{text}");

    let run = |args: &[&str]| -> Value {
        let mut cmd = ctx.command(args);
        cmd.env("AGENTPOOL_LOCKDOWN", "1");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let gated = run(&["transcript", &id, "--json"]);
    assert_eq!((gated["text"].as_str(), gated["reason"].as_str()), (Some(""), Some("lockdown")), "{gated}");
    let obs = run(&["observe", &id, "--detail", "full", "--json"]);
    assert_eq!(obs["worker_output"]["included"], false, "{obs}");
    assert_eq!(obs["worker_output"]["reason"], "lockdown");
    assert!(obs.get("parsed_question").is_none(), "{obs}");
    let human = ctx.command(&["transcript", &id]).env("AGENTPOOL_LOCKDOWN", "true").output().unwrap();
    assert!(!String::from_utf8_lossy(&human.stdout).contains("Should I"), "human output is gated too");
    ctx.json(&["terminate", &id, "--json"]);
}
