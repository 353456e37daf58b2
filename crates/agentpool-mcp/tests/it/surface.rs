//! The advertised surface: tool lists per toolset (snapshots), the size budget, annotations,
//! resources and prompts, server identity, and start-up validation of names.

use serde_json::{Value, json};

use crate::harness::{TestContext, agentpool_bin};

async fn tools_json(ctx: &TestContext, args: &[&str]) -> Value {
    let client = ctx.client(args).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.version.clone()).unwrap_or_default(),
        agentpool_core_version(),
        "serverInfo.version is AgentPool's"
    );
    client.cancel().await.expect("close");
    serde_json::to_value(tools).expect("tools serialise")
}

fn agentpool_core_version() -> String {
    let out = std::process::Command::new(agentpool_bin()).arg("--version").output().expect("--version");
    String::from_utf8_lossy(&out.stdout).split_whitespace().last().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn default_toolset_surface() {
    let ctx = TestContext::new("surf");
    let tools = tools_json(&ctx, &[]).await;
    let bytes = serde_json::to_string(&json!({"tools": tools})).expect("compact").len();
    assert!(bytes < 12_000, "default tools/list is {bytes} bytes; the budget is 12 000");
    let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"send_message"));
    assert!(names.contains(&"list_sessions"), "a restarted host finds its workers: {names:?}");
    assert!(!names.contains(&"get_capacity_summary"), "an alias is not listed beside its tool");
    for t in tools.as_array().unwrap() {
        assert!(t["description"].as_str().is_some_and(|d| !d.is_empty()), "{}", t["name"]);
        assert_eq!(t["outputSchema"]["type"], "object", "{}", t["name"]);
        assert!(t["annotations"]["readOnlyHint"].is_boolean(), "{}", t["name"]);
    }
    let by = |n: &str| tools.as_array().unwrap().iter().find(|t| t["name"] == n).cloned().unwrap();
    assert_eq!(by("get_inventory")["annotations"]["readOnlyHint"], true);
    assert_eq!(by("spawn_worker")["annotations"]["readOnlyHint"], false);
    assert_eq!(by("collect_worker_artifacts")["annotations"]["readOnlyHint"], false, "collect writes artifacts");
    assert_eq!(
        by("spawn_worker")["inputSchema"]["properties"]["isolation"]["enum"],
        json!(["read_only", "worktree", "shared"])
    );
    insta::assert_json_snapshot!("tools_default", tools);

    let client = ctx.client(&[]).await;
    // The alias stays callable, and answers as its tool does.
    let alias = crate::harness::ok(&client, "get_capacity_summary", json!({})).await;
    let tool = crate::harness::ok(&client, "get_usage_summary", json!({})).await;
    assert_eq!(alias.as_object().map(|o| o.keys().collect::<Vec<_>>()), tool.as_object().map(|o| o.keys().collect()));
    let resources: Vec<String> =
        client.list_all_resources().await.expect("resources").into_iter().map(|r| r.uri.clone()).collect();
    assert!(
        resources.contains(&"agentpool://quickstart".to_owned())
            && resources.contains(&"agentpool://preferences.md".to_owned())
    );
    let templates = client.list_all_resource_templates().await.expect("templates");
    assert_eq!(templates.len(), 3);
    let prompts: Vec<String> = client.list_all_prompts().await.expect("prompts").into_iter().map(|p| p.name).collect();
    assert_eq!(prompts, ["agentpool_quickstart", "agentpool_delegate_read_only"]);
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_toolset_surface() {
    let ctx = TestContext::new("sess");
    let tools = tools_json(&ctx, &["--toolsets", "sessions"]).await;
    insta::assert_json_snapshot!("tools_sessions", tools);
    // Guides come with the default toolset only.
    let client = ctx.client(&["--toolsets", "sessions"]).await;
    assert!(client.list_all_resources().await.expect("resources").is_empty());
    assert!(client.list_all_prompts().await.expect("prompts").is_empty());
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn env_selects_toolsets_and_extra_tools() {
    let ctx = TestContext::new("envsel");
    let mut cmd = ctx.command(&[]);
    cmd.env("AGENTPOOL_MCP_TOOLSETS", "sessions").env("AGENTPOOL_MCP_TOOLS", "get_inventory");
    let transport = rmcp::transport::TokioChildProcess::new(cmd).expect("spawn");
    let client = rmcp::ServiceExt::serve((), transport).await.expect("initialize");
    let names: Vec<String> =
        client.list_all_tools().await.expect("tools").into_iter().map(|t| t.name.into_owned()).collect();
    assert_eq!(
        names,
        ["get_inventory", "send_worker_keys", "attach_info", "list_sessions", "get_session", "resume_worker"]
            .map(str::to_owned)
    );
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_names_fail_at_start_up() {
    let ctx = TestContext::new("names");
    for (args, env, needle) in [
        (
            vec!["--toolsets", "default,bogus"],
            None,
            "valid toolsets: default, leases, sessions, stats, usage, worktrees",
        ),
        (vec!["--tools", "send_message"], None, "unknown AgentPool MCP tool(s): send_message"),
        (vec![], Some(("AGENTPOOL_MCP_TOOLSETS", "nope")), "unknown AgentPool MCP toolset(s): nope"),
    ] {
        let mut cmd = ctx.command(&args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.stdin(std::process::Stdio::null()).output().await.expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "nothing on the protocol stream");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_and_worktrees_toolsets() {
    let ctx = TestContext::new("lw");
    let tools = tools_json(&ctx, &["--toolsets", "leases,worktrees"]).await;
    insta::assert_json_snapshot!("tools_leases_worktrees", tools);
    let client = ctx.client(&["--toolsets", "leases,worktrees"]).await;
    let (is_error, leases) = crate::harness::call(&client, "list_file_leases", json!({})).await;
    assert!(!is_error, "{leases}");
    assert_eq!(leases["leases"], json!([]));
    let (is_error, err) = crate::harness::call(&client, "release_file_lease", json!({})).await;
    assert!(is_error);
    assert_eq!(err["error"]["code"], "INVALID_LEASE_RELEASE");
    client.cancel().await.expect("close");
}
