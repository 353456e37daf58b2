//! Tests of CodexBar, ccusage (fake commands written here) and the combined merge.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn fake(dir: &Path, name: &str, body: &str) -> Vec<String> {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    vec![p.display().to_string()]
}

const CODEXBAR_OUT: &str = r#"[codex notify] session refreshed
[1]
[
  {"provider": "claude", "usage": {"primary": {"usedPercent": 5}}},
  {"provider": "codex", "source": "cli", "version": "0.9.1",
   "usage": {"primary": {"usedPercent": 62, "windowMinutes": 300, "resetsAt": "2026-05-08T20:00:00Z"},
             "secondary": {"remainingPercent": 24, "windowMinutes": 10080},
             "tertiary": {"windowMinutes": 1440},
             "loginMethod": "plus", "credits": {"remaining": 4.25}}}
]"#;

#[test]
fn last_document_wins_over_noise() {
    let doc = last_json_document(CODEXBAR_OUT).unwrap();
    assert!(doc.is_array() && doc.as_array().unwrap().len() == 2, "the stray [1] and inner lines lose");
    assert_eq!(last_json_document("{\"a\":1}\n{\"b\":2}\n").unwrap(), json!({"b": 2}));
    assert_eq!(last_json_document("no json here"), None);
}

#[tokio::test]
async fn codexbar_reads_the_safe_source_only() {
    let dir = tempfile::tempdir().unwrap();
    let args = dir.path().join("args");
    let cmd =
        fake(dir.path(), "codexbar", &format!("echo \"$@\" > {}\ncat <<'JSON'\n{CODEXBAR_OUT}\nJSON", args.display()));
    let s = codexbar_with(Some(cmd.clone()), "codex-cli").await;
    assert_eq!(
        std::fs::read_to_string(&args).unwrap().trim(),
        "usage --provider codex --source cli --format json --json-only --no-color"
    );
    assert_eq!(s.status, UsageStatus::Available);
    assert_eq!(s.confidence, Confidence::LocalCli);
    let names: Vec<_> = s.windows.iter().map(|w| (w.name.as_str(), w.kind.as_str(), w.remaining_percent)).collect();
    assert_eq!(names, [("5h", "5h", Some(38.0)), ("weekly", "weekly", Some(24.0))]);
    assert_eq!(s.windows[0].reset_at.as_deref(), Some("2026-05-08T20:00:00.000000Z"));
    assert_eq!(s.credits_remaining, Some(4.25));
    assert_eq!(s.raw["login_method"], "plus");
    assert_eq!(s.raw["source"], "codexbar");
    assert_eq!(s.raw["codexbar_source"], "cli");
    // Unmapped providers never run the command; a missing command is unavailable.
    assert_eq!(codexbar_with(Some(cmd), "devin-cli").await.status, UsageStatus::Unknown);
    assert_eq!(codexbar_with(None, "codex-cli").await.status, UsageStatus::Unavailable);
}

#[tokio::test]
async fn codexbar_errors_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        fake(dir.path(), "cb-err", r#"echo '[{"provider":"cursor","error":{"message":"not signed in"}}]'; exit 1"#);
    let s = codexbar_with(Some(err), "cursor-cli").await;
    assert_eq!(s.status, UsageStatus::Unknown);
    assert!(s.warnings[0].contains("not signed in"), "{:?}", s.warnings);
    let nonzero = fake(
        dir.path(),
        "cb-nz",
        r#"echo '{"provider":"cursor","source":"web","usage":{"primary":{"usedPercent":0},"secondary":{"usedPercent":25}}}'; exit 3"#,
    );
    let s = codexbar_with(Some(nonzero), "cursor-cli").await;
    assert_eq!(s.status, UsageStatus::Available);
    assert_eq!(s.windows.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["primary", "secondary"]);
    assert_eq!(s.windows[1].remaining_percent, Some(75.0));
    assert_eq!(s.raw["codexbar_entry_source"], "web");
    assert!(s.warnings.iter().any(|w| w.contains("status 3")));
}

const CCUSAGE_OUT: &str = r#"{"blocks": [
  {"id": "b1", "isActive": false, "isGap": false, "totalTokens": 5},
  {"id": "b2", "startTime": "2026-05-08T10:00:00.000Z", "endTime": "2026-05-08T15:00:00.000Z",
   "isActive": true, "isGap": false, "entries": 12, "costUSD": 3.5, "totalTokens": 120000,
   "models": ["claude-sonnet"],
   "tokenCounts": {"inputTokens": 1000, "outputTokens": 2000, "cacheCreationInputTokens": 30, "cacheReadInputTokens": 40},
   "tokenLimitStatus": {"percentUsed": 42.5}},
  {"id": "gap", "isActive": true, "isGap": true}
]}"#;

#[tokio::test]
async fn ccusage_is_telemetry_with_normalised_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = fake(
        dir.path(),
        "ccusage",
        &format!(
            "test \"$1 $2 $3 $4 $5\" = 'blocks --json --offline --active --no-color' || exit 9\ncat <<'JSON'\n{CCUSAGE_OUT}\nJSON"
        ),
    );
    let s = ccusage_with(Some(cmd.clone()), "claude-code").await;
    assert_eq!((s.status, s.confidence), (UsageStatus::Unknown, Confidence::Observed));
    assert!(s.warnings[0].contains("not authoritative quota"));
    let w = &s.windows[0];
    assert_eq!(
        (w.name.as_str(), w.kind.as_str(), w.used_percent, w.remaining_percent),
        ("active_block", "5h", Some(42.5), None)
    );
    assert_eq!(w.reset_at.as_deref(), Some("2026-05-08T15:00:00.000000Z"));
    assert_eq!(s.raw["block_id"], "b2");
    assert_eq!(
        s.raw["token_counts"],
        json!({"input": 1000.0, "output": 2000.0, "cache_creation": 30.0, "cache_read": 40.0})
    );
    assert_eq!(s.raw["burn_rate"], json!({}));
    assert_eq!(ccusage_with(Some(cmd), "codex-cli").await.raw["source"], "ccusage");
    assert_eq!(ccusage_with(None, "claude-code").await.status, UsageStatus::Unavailable);
}

fn with_windows(source: &str, status: UsageStatus, windows: Vec<UsageWindow>) -> CapacitySnapshot {
    let mut s = usage::snapshot("codex-cli", status, Confidence::Official, source);
    s.windows = windows;
    s
}

#[test]
fn merge_rules() {
    let native = with_windows(
        "codex_app_server",
        UsageStatus::Available,
        vec![usage::window_used("5h", "5h", 99.0, Confidence::Official)],
    );
    let bar = with_windows(
        "codexbar",
        UsageStatus::Available,
        vec![
            usage::window_used("5h", "5h", 99.0, Confidence::LocalCli),
            usage::window_used("weekly", "weekly", 20.0, Confidence::LocalCli),
        ],
    );
    let m = merge(native.clone(), bar.clone(), None);
    assert_eq!(m.raw["source"], "combined");
    assert_eq!(m.raw["primary_source"], "codex_app_server");
    assert_eq!(m.windows.iter().map(|w| w.kind.as_str()).collect::<Vec<_>>(), ["5h", "weekly"]);
    assert_eq!(m.status, UsageStatus::NearLimit, "recomputed over the union");
    let missing = codexbar_with_none();
    let m = merge(native.clone(), missing.clone(), None);
    assert_eq!(m.raw["source"], "codex_app_server");
    assert_eq!(m.raw["alternate_sources"][0]["status"], "unavailable");
    assert!(m.warnings.iter().any(|w| w.starts_with("CodexBar: ")));
    let failed = usage::unknown("codex-cli", "codex_app_server", "signed out");
    let m = merge(failed, bar.clone(), None);
    assert_eq!((m.raw["primary_source"].clone(), m.status), (json!("codexbar"), UsageStatus::Available));
    assert!(m.warnings.iter().any(|w| w == "Native probe: signed out"));
    let mut k = usage::snapshot("codex-cli", UsageStatus::Unknown, Confidence::Observed, "ccusage_local_logs");
    k.warnings.push("telemetry".into());
    let m = merge(native, missing, Some(k));
    assert_eq!(m.raw["alternate_sources"].as_array().unwrap().len(), 2);
    assert_eq!(m.raw["ccusage"]["source"], "ccusage_local_logs");
    assert_eq!(m.status, UsageStatus::Available, "ccusage never changes status");
}

fn codexbar_with_none() -> CapacitySnapshot {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(codexbar_with(None, "codex-cli"))
}
