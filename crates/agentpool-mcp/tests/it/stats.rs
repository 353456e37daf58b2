//! The `stats` toolset end to end: `get_stats` scoped to this server's coordinator by default,
//! the sections filter, window errors, and `get_stats_card` writing a new PNG file.

use serde_json::{Value, json};

use crate::harness::{TestContext, call, ok};

async fn spawn_and_end(client: &crate::harness::Client, ctx: &TestContext) -> String {
    let task = "Ask exactly one question, then finish after the answer arrives.";
    let spawned =
        ok(client, "spawn_worker", json!({"provider_id": "fake-question", "repo_path": ctx.repo_path(), "task": task}))
            .await;
    let id = spawned["session_id"].as_str().expect("session_id").to_owned();
    ok(client, "terminate_worker", json!({"session_id": id})).await;
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_toolset_surface_is_two_tools_without_guides() {
    let ctx = TestContext::new("stset");
    let client = ctx.client(&["--toolsets", "stats"]).await;
    let tools = serde_json::to_value(client.list_all_tools().await.expect("tools/list")).expect("json");
    let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["get_stats", "get_stats_card"]);
    assert_eq!(tools[0]["inputSchema"]["properties"]["scope"]["enum"], json!(["mine", "all"]));
    assert_eq!(tools[0]["inputSchema"]["properties"]["scope"]["default"], "mine");
    assert!(client.list_all_resources().await.expect("resources").is_empty());
    assert!(client.list_all_resource_templates().await.expect("templates").is_empty());
    assert!(client.list_all_prompts().await.expect("prompts").is_empty());
    insta::assert_json_snapshot!("tools_stats", tools);
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_stats_counts_this_servers_sessions_unless_scope_all() {
    let ctx = TestContext::new("stscope");
    let ours = ctx.client(&["--toolsets", "default,stats"]).await;
    let theirs = ctx.client(&["--toolsets", "default,stats"]).await;
    spawn_and_end(&ours, &ctx).await;
    spawn_and_end(&ours, &ctx).await;
    spawn_and_end(&theirs, &ctx).await;

    let mine = ok(&ours, "get_stats", json!({})).await;
    assert_eq!(mine["schema_version"], "stats/v1", "{mine}");
    assert_eq!(mine["scope"], "mine");
    assert!(mine["coordinator_id"].as_str().is_some_and(|c| c.starts_with("coord_")), "{mine}");
    assert_eq!(mine["sessions"]["total"], 2, "{mine}");
    assert_eq!(mine["sessions"]["terminated"], 2, "{mine}");
    assert_eq!(mine["window"]["spec"], "7d");

    let all = ok(&ours, "get_stats", json!({"scope": "all", "window": "all"})).await;
    assert_eq!(all["scope"], "all");
    assert!(all.get("coordinator_id").is_none(), "coordinator_id only with scope mine: {all}");
    assert_eq!(all["sessions"]["total"], 3, "{all}");

    let theirs_mine = ok(&theirs, "get_stats", json!({"scope": "mine"})).await;
    assert_eq!(theirs_mine["sessions"]["total"], 1, "{theirs_mine}");
    assert_ne!(theirs_mine["coordinator_id"], mine["coordinator_id"]);

    let only = ok(&ours, "get_stats", json!({"sections": ["sessions"], "provider_id": "fake-question"})).await;
    let keys: Vec<&String> = only.as_object().unwrap().keys().collect();
    for always in ["window", "scope", "data_quality", "sessions"] {
        assert!(only.get(always).is_some(), "{always} kept: {keys:?}");
    }
    for dropped in ["parallelism", "walls", "quota", "utilization", "tokens", "suggested_next"] {
        assert!(only.get(dropped).is_none(), "{dropped} filtered out: {keys:?}");
    }
    ours.cancel().await.expect("close");
    theirs.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_stats_rejects_bad_input_with_envelopes() {
    let ctx = TestContext::new("stbad");
    let client = ctx.client(&["--toolsets", "stats"]).await;
    let expect = |(is_error, v): (bool, Value), code: &str| {
        assert!(is_error, "{v}");
        assert_eq!(v["error"]["code"], code, "{v}");
        v
    };
    let e = expect(call(&client, "get_stats", json!({"window": "fortnight"})).await, "INVALID_WINDOW");
    assert!(e["error"]["details"]["example"].as_str().unwrap().starts_with("get_stats("), "{e}");
    expect(call(&client, "get_stats", json!({"sections": ["bogus"]})).await, "INVALID_REQUEST");
    expect(call(&client, "get_stats", json!({"scope": "everyone"})).await, "INVALID_REQUEST");
    expect(call(&client, "get_stats", json!({"provider_id": "nope"})).await, "PROVIDER_NOT_FOUND");
    expect(call(&client, "get_stats_card", json!({"window": ""})).await, "INVALID_WINDOW");
    // Still serving after the errors.
    ok(&client, "get_stats", json!({"window": "12h"})).await;
    client.cancel().await.expect("close");
}

fn is_png(path: &str, bytes: &Value) -> bool {
    let data = std::fs::read(path).unwrap_or_default();
    data.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.as_u64() == Some(data.len() as u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn get_stats_card_writes_a_new_png_and_never_overwrites() {
    let ctx = TestContext::new("stcard");
    let client = ctx.client(&["--toolsets", "stats"]).await;

    let card = ok(&client, "get_stats_card", json!({})).await;
    let path = card["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with(&ctx.home.path().join("cards").display().to_string()), "{card}");
    assert!(is_png(&path, &card["bytes"]), "{card}");
    assert_eq!((card["width"].as_u64(), card["height"].as_u64()), (Some(1200), Some(630)));
    assert_eq!(card["stats_window"], "7d");

    let chosen = ctx.home.path().join("out/week.png").display().to_string();
    // Its directory must exist: nothing is created on the way.
    let (is_error, missing) = call(&client, "get_stats_card", json!({"output_path": chosen})).await;
    assert!(is_error && missing["error"]["code"] == "INVALID_OUTPUT", "{missing}");
    assert!(!ctx.home.path().join("out").exists());
    std::fs::create_dir(ctx.home.path().join("out")).unwrap();
    let card = ok(&client, "get_stats_card", json!({"output_path": chosen, "window": "all", "scope": "all"})).await;
    assert_eq!(card["path"], chosen.as_str());
    assert!(is_png(&chosen, &card["bytes"]));

    let (is_error, again) = call(&client, "get_stats_card", json!({"output_path": chosen})).await;
    assert!(is_error && again["error"]["code"] == "INVALID_REQUEST", "{again}");
    assert!(again["error"]["message"].as_str().unwrap().contains("already exists"), "{again}");
    let source = ctx.repo.path().join("notes.md");
    std::fs::write(&source, "keep me").unwrap();
    let (is_error, wrong) = call(&client, "get_stats_card", json!({"output_path": source.display().to_string()})).await;
    assert!(is_error && wrong["error"]["message"].as_str().unwrap().contains(".png"), "{wrong}");
    assert_eq!(std::fs::read_to_string(&source).unwrap(), "keep me");
    client.cancel().await.expect("close");
}
