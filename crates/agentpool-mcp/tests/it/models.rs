//! The model catalog checker `validate_model_catalog` (usage toolset), called end to end.

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
