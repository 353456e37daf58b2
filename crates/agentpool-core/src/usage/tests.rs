//! Tests of the shared usage helpers, persistence and the summary rules.

use super::*;
use crate::model::UsageWindow;

fn win(name: &str, kind: &str, remaining: Option<f64>, reset: Option<&str>) -> UsageWindow {
    UsageWindow {
        name: name.into(),
        kind: kind.into(),
        status: None,
        remaining_percent: remaining,
        used_percent: remaining.map(|r| 100.0 - r),
        remaining_units: None,
        used_units: None,
        reset_at: reset.map(str::to_owned),
        confidence: Confidence::Official,
        raw_text: None,
    }
}

fn snap(id: &str, status: UsageStatus, confidence: Confidence, windows: Vec<UsageWindow>) -> CapacitySnapshot {
    let mut s = snapshot(id, status, confidence, "test");
    s.windows = windows;
    s
}

#[test]
fn g_formatting_matches_printf() {
    for (x, want) in [
        (100.0, "100"),
        (91.188_888_8, "91.1889"),
        (0.0, "0"),
        (90.498_189, "90.4982"),
        (1_234_567.0, "1.23457e+06"),
        (0.000_012_5, "1.25e-05"),
        (82.07, "82.07"),
        (10.0, "10"),
        (999_999.7, "1e+06"),
    ] {
        assert_eq!(fmt_g(x), want, "{x}");
    }
}

#[test]
fn status_uses_the_real_minimum() {
    assert_eq!(status_from_windows(&[]), UsageStatus::Unknown);
    assert_eq!(status_from_windows(&[win("a", "5h", None, None)]), UsageStatus::Unknown);
    // 0 % left is a reached limit, never treated as "missing".
    assert_eq!(
        status_from_windows(&[win("s", "session", Some(0.0), None), win("w", "weekly", Some(80.0), None)]),
        UsageStatus::LimitReached
    );
    assert_eq!(status_from_windows(&[win("w", "weekly", Some(15.0), None)]), UsageStatus::NearLimit);
    assert_eq!(status_from_windows(&[win("w", "weekly", Some(15.1), None)]), UsageStatus::Available);
}

#[test]
fn durations_share_one_kind_table() {
    assert_eq!(kind_for_minutes(300), Some("5h"));
    assert_eq!(kind_for_minutes(1440), Some("daily"));
    assert_eq!(kind_for_minutes(10080), Some("weekly"));
    assert_eq!(kind_for_minutes(43200), Some("monthly"));
    assert_eq!(kind_for_minutes(60), None);
}

#[test]
fn numbers_and_epochs() {
    assert_eq!(number(&json!("12.50")), Some(12.5));
    assert_eq!(number(&json!(3)), Some(3.0));
    assert_eq!(number(&json!(true)), None);
    assert_eq!(number(&json!("x")), None);
    assert_eq!(epoch_to_ts(0), None);
    assert_eq!(epoch_to_ts(1_800_000_000).as_deref(), Some("2027-01-15T08:00:00.000000Z"));
    assert_eq!(normalize_ts("2026-06-01T00:00:00Z").as_deref(), Some("2026-06-01T00:00:00.000000Z"));
}

#[test]
fn unusable_reasons_in_order() {
    let good = snap("p", UsageStatus::Available, Confidence::Official, vec![win("weekly", "weekly", Some(8.0), None)]);
    let r = |s: &CapacitySnapshot, inst, auth| unusable_reason(s, inst, auth, 10.0);
    assert_eq!(r(&good, Some(false), Some(AuthState::Unauthenticated)).as_deref(), Some("not_installed"));
    assert_eq!(r(&good, Some(true), Some(AuthState::Unauthenticated)).as_deref(), Some("auth_unauthenticated"));
    assert_eq!(r(&good, None, Some(AuthState::Unavailable)).as_deref(), Some("auth_unavailable"));
    let limit = snap("p", UsageStatus::LimitReached, Confidence::Official, vec![]);
    assert_eq!(r(&limit, Some(true), Some(AuthState::Authenticated)).as_deref(), Some("limit_reached"));
    let unk = snap("p", UsageStatus::Unknown, Confidence::Unknown, vec![]);
    assert_eq!(r(&unk, None, None).as_deref(), Some("usage_unknown"));
    let warn = snap("p", UsageStatus::NearLimit, Confidence::ProviderWarning, vec![]);
    assert_eq!(r(&warn, None, None).as_deref(), Some("confidence_provider_warning"));
    assert_eq!(r(&good, Some(true), Some(AuthState::Unknown)).as_deref(), Some("weekly_below_10_percent"));
    let ok = snap(
        "p",
        UsageStatus::NearLimit,
        Confidence::LocalCli,
        vec![win("5h", "5h", Some(12.0), None), win("x", "unknown", None, None)],
    );
    assert_eq!(r(&ok, Some(true), None), None, "near_limit above the policy floor is usable");
    assert_eq!(unusable_reason(&good, None, None, 7.5), None, "strictly below");
}

#[test]
fn summary_texts() {
    let mut s = snap(
        "codex-cli",
        UsageStatus::Available,
        Confidence::Official,
        vec![win("5h", "5h", Some(55.0), None), win("weekly", "weekly", Some(29.0), None)],
    );
    s.credits_remaining = Some(0.0);
    assert_eq!(summary_text(&s), "5h 55% left, weekly 29% left, $0 credits");
    let mut units = win("primary", "unknown", None, None);
    units.remaining_units = Some(40.0);
    let s = snap(
        "p",
        UsageStatus::Available,
        Confidence::Official,
        vec![units, win("chat", "monthly", Some(100.0), None), win("chat", "monthly", Some(100.0), None)],
    );
    assert_eq!(summary_text(&s), "primary 40 units left, monthly 100% left");
    let mut s = unknown("p", "x", "no probe");
    assert_eq!(summary_text(&s), "no probe");
    s.warnings.clear();
    assert_eq!(summary_text(&s), "unknown");
}

#[test]
fn summary_rows_counts_and_next_available() {
    let now = util::parse_ts("2026-05-08T12:00:00Z").unwrap();
    let mut codex = snap(
        "codex-cli",
        UsageStatus::NearLimit,
        Confidence::Official,
        vec![
            win("5h", "5h", Some(50.0), Some("2026-05-08T17:00:00.000000Z")),
            win("weekly", "weekly", Some(8.0), Some("2026-05-08T13:00:00.000000Z")),
        ],
    );
    codex.checked_at = "2026-05-08T10:00:00.000000Z".into();
    let mut fake = snap("fake-question", UsageStatus::Available, Confidence::LocalConfig, vec![]);
    fake.checked_at = "2026-05-08T11:59:00.000000Z".into();
    let mut past = snap(
        "devin-cli",
        UsageStatus::LimitReached,
        Confidence::Official,
        vec![win("daily", "daily", Some(0.0), Some("2026-05-08T11:00:00.000000Z"))],
    );
    past.checked_at = "2026-05-08T11:00:00.000000Z".into();
    let snaps: BTreeMap<_, _> = [codex, fake, past].into_iter().map(|s| (s.provider_id.clone(), s)).collect();
    let mut facts = BTreeMap::new();
    facts.insert("codex-cli".to_owned(), ProviderFacts { installed: Some(true), auth: Some(AuthState::Unknown) });
    let provenance = Provenance {
        preferences: crate::api::PreferencesRef {
            path: "preferences.md".into(),
            resource_uri: "agentpool://preferences.md".into(),
            exists: false,
            using_default_template: true,
            read_hint: String::new(),
            digest: Vec::new(),
            text: None,
        },
        source: crate::api::UsageSource::SqliteCache,
        backend: "cache".into(),
        partial: false,
    };
    let out = summary(&snaps, &facts, &PolicyConfig::default(), now, provenance);
    let codex = &out.providers["codex-cli"];
    assert!(!codex.usable);
    assert_eq!(codex.unusable_reason.as_deref(), Some("weekly_below_10_percent"));
    assert!(codex.stale, "two hours old with the default 1800 s");
    assert_eq!(codex.age_seconds, Some(7200.0));
    assert_eq!(codex.installed, Some(true));
    assert_eq!(codex.windows[1].reset_at.as_deref(), Some("2026-05-08T13:00:00.000000Z"));
    let fake = &out.providers["fake-question"];
    assert_eq!((fake.usable, fake.stale, fake.installed), (true, false, None));
    // The earliest future reset among unusable rows; the past one is ignored.
    assert_eq!(out.next_available_provider.as_deref(), Some("codex-cli"));
    assert_eq!(out.next_available_at.as_deref(), Some("2026-05-08T13:00:00.000000Z"));
    assert_eq!(
        serde_json::to_value(out.counts).unwrap(),
        json!({"total": 3, "usable": 1, "unusable": 2, "available": 1, "near_limit": 1,
        "limit_reached": 1, "unknown": 0, "unavailable": 0, "unauthenticated": 0, "overage_possible": 0})
    );
    // The wire form of a row, byte for byte.
    assert_eq!(
        serde_json::to_string(codex).unwrap(),
        concat!(
            r#"{"provider_id":"codex-cli","status":"near_limit","confidence":"official","installed":true,"#,
            r#""auth_status":"unknown","usable":false,"unusable_reason":"weekly_below_10_percent","stale":true,"#,
            r#""age_seconds":7200.0,"checked_at":"2026-05-08T10:00:00.000000Z","windows":["#,
            r#"{"name":"5h","kind":"5h","remaining_percent":50.0,"used_percent":50.0,"remaining_units":null,"#,
            r#""reset_at":"2026-05-08T17:00:00.000000Z","confidence":"official"},"#,
            r#"{"name":"weekly","kind":"weekly","remaining_percent":8.0,"used_percent":92.0,"remaining_units":null,"#,
            r#""reset_at":"2026-05-08T13:00:00.000000Z","confidence":"official"}],"#,
            r#""credits_remaining":null,"warnings":[],"source":"test","summary":"5h 50% left, weekly 8% left"}"#
        )
    );
}

#[tokio::test]
async fn placeholders_never_replace_the_last_good_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let mut good =
        snap("codex-cli", UsageStatus::Available, Confidence::Official, vec![win("5h", "5h", Some(70.0), None)]);
    good.checked_at = "2026-05-08T10:00:00Z".into();
    assert!(persist(&store, &good).await.unwrap());
    let placeholder = timeout_placeholder("codex-cli", Backend::Native, Duration::from_secs(1));
    assert!(!persist(&store, &placeholder).await.unwrap(), "a placeholder is not stored");
    // An older snapshot written later (another process) does not become "latest".
    let mut older = snap("codex-cli", UsageStatus::LimitReached, Confidence::Official, vec![]);
    older.checked_at = "2026-05-08T09:00:00+00:00".into();
    persist(&store, &older).await.unwrap();
    let l = latest(&store, None).await.unwrap();
    assert_eq!(l["codex-cli"].status, UsageStatus::Available);
    assert_eq!(l["codex-cli"].checked_at, "2026-05-08T10:00:00.000000Z", "stored normalised");
    assert!(latest(&store, Some(vec!["other".into()])).await.unwrap().is_empty());
}

#[test]
fn backends_parse_and_interactive_env() {
    assert_eq!(Backend::parse(" Combined ").unwrap(), Backend::Combined);
    let e = Backend::parse("web").unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidUsageBackend);
    assert_eq!(e.details["backend"], "web");
    assert!(!interactive_allowed(true));
}
