//! Worktree cleanup never removes what git would not let `git worktree remove` drop without
//! force — untracked, ignored and modified files, unmerged commits, stashes — and lists all of
//! it in the dry run and in the refusal (CLI and MCP alike); only force removes the files.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Stdio};

use agentpool_tests::TestContext;
use serde_json::{Value, json};

use crate::isolation::git_in;

/// A repository that ignores `*.env` and `target/` and tracks `README.md`, and a finished
/// worker in a worktree of it: `(session id, worktree path, branch)`.
fn finished_worktree(ctx: &TestContext) -> (String, PathBuf, String) {
    std::fs::write(ctx.repo().join(".gitignore"), "*.env\ntarget/\n").unwrap();
    std::fs::write(ctx.repo().join("README.md"), "# app\n").unwrap();
    ctx.git(&["add", ".gitignore", "README.md"]);
    ctx.git(&["commit", "-q", "-m", "ignore rules"]);
    let id = ctx.spawn_id("fake-completed", "Finish at once.", &["--isolation", "worktree"]);
    let done = ctx.json(&["observe", &id, "--wait-for", "completed", "--timeout", "30", "--json"]);
    assert_eq!(done["state"], "COMPLETED", "{done}");
    let s = ctx.session(&id);
    let wt = PathBuf::from(s["worktree_path"].as_str().unwrap());
    let branch = s["metadata"]["worktree_branch"].as_str().unwrap().to_owned();
    assert!(wt.is_dir());
    (id, wt, branch)
}

fn dry_run(ctx: &TestContext, id: &str) -> Value {
    ctx.json(&["worktrees", "cleanup", "--session-id", id, "--dry-run", "--json"])
}

fn refuse(ctx: &TestContext, id: &str) -> Value {
    ctx.error(&["worktrees", "cleanup", "--session-id", id, "--json"], "WORKTREE_DIRTY")
}

/// `would_lose.<kind>.<key>` as strings.
fn listed(lose: &Value, kind: &str, key: &str) -> Vec<String> {
    lose[kind][key]
        .as_array()
        .unwrap_or_else(|| panic!("no {kind}.{key}: {lose}"))
        .iter()
        .map(|v| v.to_string())
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| json!(s).to_string()).collect()
}

fn still_there(ctx: &TestContext, wt: &Path, branch: &str) {
    assert!(wt.join(".git").is_file(), "the worktree is still there");
    assert!(ctx.git(&["worktree", "list", "--porcelain"]).contains(&wt.display().to_string()), "still registered");
    assert_eq!(ctx.git(&["branch", "--list", branch]).trim().trim_start_matches(['+', '*', ' ']), branch);
}

#[test]
fn ignored_files_survive_cleanup_without_force_and_are_listed() {
    let ctx = TestContext::new();
    let (id, wt, branch) = finished_worktree(&ctx);
    std::fs::write(wt.join("local.env"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(wt.join("target/debug")).unwrap();
    std::fs::write(wt.join("target/debug/app"), "binary").unwrap();

    let plan = dry_run(&ctx, &id);
    assert_eq!(
        (plan["blocked"].as_bool(), plan["would_remove"].as_bool(), plan["reason"].as_str()),
        (Some(true), Some(false), Some("dirty")),
        "{plan}"
    );
    let lose = &plan["would_lose"];
    assert_eq!(lose["dirty_count"], 2, "{lose}");
    assert_eq!(lose["dirty_files"], json!(["local.env", "target/"]));
    assert_eq!(lose["kinds"], json!(["ignored"]));
    assert_eq!(listed(lose, "ignored", "paths"), strings(&["local.env", "target/"]));
    assert_eq!((lose["ignored"]["count"].as_u64(), lose["ignored"]["truncated"].as_bool()), (Some(2), Some(false)));
    assert_eq!(lose["untracked"]["count"], 0);

    let err = refuse(&ctx, &id);
    assert_eq!(err["details"]["would_lose"], *lose, "the refusal lists what the dry run lists");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("2 ignored files (local.env, target/)") && msg.contains("Nothing was removed"), "{msg}");
    assert_eq!(std::fs::read_to_string(wt.join("local.env")).unwrap(), "SECRET=1\n");
    assert!(wt.join("target/debug/app").is_file());
    still_there(&ctx, &wt, &branch);

    // A person sees the list too.
    let human = ctx.cmd(&["worktrees", "cleanup", "--session-id", &id, "--dry-run"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("ignored files (2):\n  local.env\n  target/\n"), "{text}");
    let human = ctx.cmd(&["worktrees", "cleanup", "--session-id", &id]);
    assert_eq!(human.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&human.stderr).contains("local.env"));
    assert!(wt.join("local.env").is_file());

    // --force removes them, and says what went.
    let done = ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--force", "--json"]);
    assert_eq!((done["removed"].as_bool(), done["branch_deleted"].as_bool()), (Some(true), Some(true)), "{done}");
    assert_eq!(listed(&done["discarded"], "ignored", "paths"), strings(&["local.env", "target/"]));
    assert!(!wt.exists());
    assert_eq!(ctx.git(&["branch", "--list", "agentpool/*"]).trim(), "");
}

#[test]
fn untracked_modified_unmerged_commits_and_stashes_each_block_and_are_listed() {
    let ctx = TestContext::new();
    let (id, wt, branch) = finished_worktree(&ctx);

    // Untracked.
    std::fs::create_dir_all(wt.join("src")).unwrap();
    std::fs::write(wt.join("src/new.rs"), "fn main() {}\n").unwrap();
    let plan = dry_run(&ctx, &id);
    assert_eq!((plan["blocked"].as_bool(), plan["reason"].as_str()), (Some(true), Some("dirty")), "{plan}");
    assert_eq!(plan["would_lose"]["kinds"], json!(["untracked"]));
    assert_eq!(listed(&plan["would_lose"], "untracked", "paths"), strings(&["src/new.rs"]));
    let err = refuse(&ctx, &id);
    assert_eq!(listed(&err["details"]["would_lose"], "untracked", "paths"), strings(&["src/new.rs"]));
    assert!(wt.join("src/new.rs").is_file());
    std::fs::remove_dir_all(wt.join("src")).unwrap();

    // Modified, staged or not.
    std::fs::write(wt.join("README.md"), "# app, edited\n").unwrap();
    std::fs::write(wt.join(".gitignore"), "*.env\n").unwrap();
    git_in(&wt, &["add", ".gitignore"]);
    let plan = dry_run(&ctx, &id);
    assert_eq!(plan["would_lose"]["kinds"], json!(["modified"]), "{plan}");
    assert_eq!(listed(&plan["would_lose"], "modified", "paths"), strings(&[".gitignore", "README.md"]));
    let err = refuse(&ctx, &id);
    assert_eq!(listed(&err["details"]["would_lose"], "modified", "paths"), strings(&[".gitignore", "README.md"]));
    assert_eq!(std::fs::read_to_string(wt.join("README.md")).unwrap(), "# app, edited\n");

    // Unmerged commits: committed work on the branch only.
    git_in(&wt, &["commit", "-q", "-am", "worker change"]);
    let sha = git_in(&wt, &["rev-parse", "HEAD"]).trim().to_owned();
    let plan = dry_run(&ctx, &id);
    assert_eq!((plan["blocked"].as_bool(), plan["reason"].as_str()), (Some(true), Some("unmerged_commits")), "{plan}");
    let lose = &plan["would_lose"];
    assert_eq!((lose["unmerged_commits"].as_u64(), lose["dirty_count"].as_u64()), (Some(1), Some(0)), "{lose}");
    assert_eq!(listed(lose, "commits", "shas"), strings(&[&sha]));
    let err = refuse(&ctx, &id);
    assert_eq!(listed(&err["details"]["would_lose"], "commits", "shas"), strings(&[&sha]));
    assert!(err["message"].as_str().unwrap().contains(&format!("1 commit on no other branch ({}", &sha[..12])));

    // A stash made in the worktree.
    std::fs::write(wt.join("README.md"), "# app, set aside\n").unwrap();
    git_in(&wt, &["stash", "push", "-q", "-m", "set aside"]);
    let stash = git_in(&wt, &["rev-parse", "stash@{0}"]).trim().to_owned();
    let plan = dry_run(&ctx, &id);
    assert_eq!(plan["would_lose"]["kinds"], json!(["unmerged_commits", "stashes"]), "{plan}");
    assert_eq!(plan["would_lose"]["stashes"]["items"], json!([{"ref": "stash@{0}", "sha": stash}]));
    let err = refuse(&ctx, &id);
    assert_eq!(err["details"]["would_lose"]["stashes"]["count"], 1);
    still_there(&ctx, &wt, &branch);

    // --force removes the worktree; the branch with its commit and the stash stay.
    let done = ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--force", "--json"]);
    assert_eq!((done["removed"].as_bool(), done["branch_deleted"].as_bool()), (Some(true), Some(false)), "{done}");
    assert_eq!(done["branch_kept_reason"], "unmerged_commits");
    assert_eq!(done["stashes_kept"]["count"], 1);
    assert!(!wt.exists());
    assert_eq!(git_in(ctx.repo(), &["rev-parse", &branch]).trim(), sha);
    assert_eq!(git_in(ctx.repo(), &["rev-parse", "stash@{0}"]).trim(), stash);
}

#[test]
fn a_clean_worktree_goes_without_force_and_a_stash_in_the_checkout_does_not_block_it() {
    let ctx = TestContext::new();
    let (id, wt, _) = finished_worktree(&ctx);
    // The user's own stash in the main checkout is not the worktree's.
    std::fs::write(ctx.repo().join("README.md"), "# mine\n").unwrap();
    ctx.git(&["stash", "push", "-q", "-m", "user's own"]);
    let plan = dry_run(&ctx, &id);
    assert_eq!(
        (plan["blocked"].as_bool(), plan["would_remove"].as_bool(), plan["would_delete_branch"].as_bool()),
        (Some(false), Some(true), Some(true)),
        "{plan}"
    );
    assert_eq!((plan["would_lose"]["dirty_count"].as_u64(), plan["would_lose"]["kinds"].clone()), (Some(0), json!([])));
    let done = ctx.json(&["worktrees", "cleanup", "--session-id", &id, "--json"]);
    assert_eq!((done["removed"].as_bool(), done["branch_deleted"].as_bool()), (Some(true), Some(true)), "{done}");
    assert!(!wt.exists());
    assert_eq!(ctx.git(&["stash", "list"]).lines().count(), 1);
}

/// A line-delimited JSON-RPC client of `agentpool mcp`.
struct Mcp {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    child: std::process::Child,
    next_id: u64,
}

impl Mcp {
    fn start(ctx: &TestContext, toolsets: &str) -> Self {
        let mut child = ctx
            .command(&["mcp", "--toolsets", toolsets])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start agentpool mcp");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut mcp = Self { stdin, stdout, child, next_id: 1 };
        let init = mcp.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "0"}}),
        );
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        mcp
    }

    fn send(&mut self, msg: &Value) {
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "agentpool mcp closed its output");
            let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if msg["id"] == id {
                return msg;
            }
        }
    }

    /// `(isError, structured content or the error envelope)`.
    fn call(&mut self, tool: &str, args: Value) -> (bool, Value) {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let result = &r["result"];
        assert!(result.is_object(), "{r}");
        if result["isError"] == true {
            let text = result["content"][0]["text"].as_str().unwrap();
            return (true, serde_json::from_str(text).unwrap());
        }
        (false, result["structuredContent"].clone())
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_mcp_tool_lists_the_same_files_and_refuses_the_same_way() {
    let ctx = TestContext::new();
    let (id, wt, _) = finished_worktree(&ctx);
    std::fs::write(wt.join("local.env"), "SECRET=1\n").unwrap();
    std::fs::write(wt.join("notes.txt"), "todo\n").unwrap();
    let cli_plan = dry_run(&ctx, &id);

    let mut mcp = Mcp::start(&ctx, "worktrees");
    let (is_error, plan) = mcp.call("cleanup_worktree", json!({"session_id": id, "dry_run": true}));
    assert!(!is_error, "{plan}");
    assert_eq!((plan["blocked"].as_bool(), plan["would_lose"].clone()), (Some(true), cli_plan["would_lose"].clone()));
    assert_eq!(listed(&plan["would_lose"], "ignored", "paths"), strings(&["local.env"]));
    assert_eq!(listed(&plan["would_lose"], "untracked", "paths"), strings(&["notes.txt"]));

    let (is_error, env) = mcp.call("cleanup_worktree", json!({"session_id": id}));
    assert!(is_error, "{env}");
    let err = &env["error"];
    assert_eq!(err["code"], "WORKTREE_DIRTY", "{env}");
    assert_eq!(err["details"]["would_lose"], cli_plan["would_lose"]);
    assert_eq!(err["details"]["example"], format!("cleanup_worktree(session_id='{id}', dry_run=true)"));
    assert!(wt.join("local.env").is_file() && wt.join("notes.txt").is_file());

    let (is_error, done) = mcp.call("cleanup_worktree", json!({"session_id": id, "force": true}));
    assert!(!is_error, "{done}");
    assert_eq!(done["removed"], true, "{done}");
    assert_eq!(listed(&done["discarded"], "ignored", "paths"), strings(&["local.env"]));
    assert!(!wt.exists());
}
