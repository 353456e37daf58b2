//! The model catalog tools, called end to end: `get_provider_models` (default toolset) and
//! `validate_model_catalog` (usage toolset).

use serde_json::json;

use crate::harness::{TestContext, ok};

#[tokio::test(flavor = "multi_thread")]
async fn validate_model_catalog_checks_embedded_and_files() {
    let ctx = TestContext::new("mval");
    let client = ctx.client(&["--toolsets", "usage"]).await;
    let embedded = ok(&client, "validate_model_catalog", json!({})).await;
    assert_eq!(embedded["ok"], true, "{embedded}");
    let bad = ctx.home.path().join("broken.json");
    std::fs::write(&bad, "{ not json").expect("write");
    let broken = ok(&client, "validate_model_catalog", json!({"path": bad.display().to_string()})).await;
    assert_eq!(broken["ok"], false, "{broken}");
    assert!(!broken["errors"].as_array().expect("errors").is_empty(), "{broken}");
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_provider_models_lists_catalog_rows() {
    let ctx = TestContext::new("models");
    let client = ctx.client(&[]).await;
    let all = ok(&client, "get_provider_models", json!({})).await;
    let rows = all["providers"].as_array().expect("providers");
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["provider_id"].as_str()).collect();
    for id in ["codex-cli", "claude-code", "cursor-cli", "fake-question"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let codex = ok(&client, "get_provider_models", json!({"provider_id": "codex-cli"})).await;
    let rows = codex["providers"].as_array().expect("providers");
    assert_eq!(rows.len(), 1, "{codex}");
    assert_eq!(rows[0]["provider_id"], "codex-cli");
    assert!(rows[0]["default_model"].is_string(), "{codex}");
    assert!(!rows[0]["models"].as_array().expect("models").is_empty(), "{codex}");
    let (is_error, err) = crate::harness::call(&client, "get_provider_models", json!({"provider_id": "nope"})).await;
    assert!(is_error, "{err}");
    assert_eq!(err["error"]["code"], "PROVIDER_NOT_FOUND");
    assert_eq!(err["error"]["details"]["example"], "get_inventory(include_usage=true)");
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_toolset_surface_and_filter_candidates() {
    let ctx = TestContext::new("cands");
    let client = ctx.client(&["--toolsets", "usage", "--tools", "get_usage_snapshot"]).await;
    let tools = serde_json::to_value(client.list_all_tools().await.expect("tools/list")).expect("json");
    let usage_only: Vec<&serde_json::Value> =
        tools.as_array().unwrap().iter().filter(|t| t["name"] != "get_usage_snapshot").collect();
    insta::assert_json_snapshot!("tools_usage", usage_only);

    // A fresh stored snapshot for fake-question; none for fake-limit.
    ok(&client, "get_usage_snapshot", json!({"provider_id": "fake-question", "refresh": true})).await;
    let two = json!(["fake-question", "fake-limit"]);
    let r = ok(&client, "filter_candidates", json!({"allowed_providers": two})).await;
    let ids = |key: &str| -> Vec<String> {
        r[key].as_array().unwrap().iter().map(|c| c["provider_id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids("candidates"), ["fake-question", "fake-limit"], "{r}");
    assert!(ids("excluded").contains(&"fake-approval".to_owned()), "{r}");
    let reasons = |key: &str, idx: usize, field: &str| r[key][idx][field].clone();
    assert_eq!(
        reasons("candidates", 0, "included_reasons"),
        json!(["installed", "supports tmux", "usage available"]),
        "{r}"
    );
    assert_eq!(reasons("candidates", 1, "included_reasons")[2], "usage unknown (no stored snapshot)", "{r}");
    assert_eq!(reasons("excluded", 0, "excluded_reasons"), json!(["not in allowed_providers filter"]), "{r}");

    let avoid = ok(
        &client,
        "filter_candidates",
        json!({"allowed_providers": two, "avoid_statuses": ["available"], "include_usage_unknown": false,
               "required_capabilities": ["live_steering"]}),
    )
    .await;
    assert_eq!(avoid["candidates"], json!([]), "{avoid}");
    let why: Vec<serde_json::Value> = avoid["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| two.as_array().unwrap().contains(&e["provider_id"]))
        .map(|e| e["excluded_reasons"].clone())
        .collect();
    assert_eq!(why, [json!(["usage status avoided: available"]), json!(["usage unknown"])], "{avoid}");

    let (is_error, bad) =
        crate::harness::call(&client, "filter_candidates", json!({"required_capabilities": ["teleport"]})).await;
    assert!(is_error && bad["error"]["code"] == "INVALID_REQUEST", "{bad}");
    client.cancel().await.expect("close");
}
