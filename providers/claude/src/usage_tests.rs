//! The `/usage` parser on screens written for these tests.

use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-03-02 10:00:00 UTC);

fn names(s: &CapacitySnapshot) -> Vec<(&str, &str, Option<f64>, Option<f64>)> {
    s.windows.iter().map(|w| (w.name.as_str(), w.kind.as_str(), w.remaining_percent, w.used_percent)).collect()
}

#[test]
fn panel_with_session_week_and_extra_usage() {
    let screen = "\u{1b}[1m Settings:  Status   Config   Usage \u{1b}[0m\n\n\
                  Current session\n\
                  \u{2588}\u{2588}\u{2588}\u{2588}\u{2588}           12% used\n\
                  Resets in 2h 30m\n\n\
                  Current week (all models)\n\
                  \u{2588}\u{2588}\u{2588}\u{2588}\u{2588}\u{2588}\u{2588}\u{2588}    58% used\n\
                  Resets Mar 9, 8am (UTC)\n\n\
                  Current week (Sonnet only)\n\
                  \u{2588}                   3% used\n\n\
                  Extra usage\n\
                  $12.40 / $50.00 spent \u{00B7} Resets Apr 1\n\n\
                  Esc to exit";
    let s = parse("claude-code", screen, NOW).unwrap();
    assert_eq!(
        names(&s),
        [
            ("session", "session", Some(88.0), Some(12.0)),
            ("weekly", "weekly", Some(42.0), Some(58.0)),
            ("weekly_sonnet", "weekly", Some(97.0), Some(3.0)),
            ("extra_usage", "on_demand", Some(75.2), Some(24.8)),
        ]
    );
    assert_eq!((s.status, s.confidence), (UsageStatus::Available, Confidence::LocalCli));
    assert_eq!(s.windows[0].reset_at.as_deref(), Some("2026-03-02T12:30:00.000000Z"));
    assert_eq!(s.windows[1].reset_at.as_deref(), Some("2026-03-09T08:00:00.000000Z"));
    assert_eq!(s.windows[2].reset_at, None);
    assert_eq!(s.reset_at, s.windows[0].reset_at, "the soonest reset");
    assert_eq!(s.credits_remaining, Some(37.6));
    assert_eq!((s.windows[3].used_units, s.windows[3].remaining_units), (Some(12.4), Some(37.6)));
    assert!(s.windows[0].raw_text.as_deref().unwrap().ends_with("reset 2h 30m"), "{:?}", s.windows[0].raw_text);
}

#[test]
fn zero_left_is_limit_reached_and_directions_are_read() {
    let full = "Current session\n100% used\nResets in 45m\n\nCurrent week (all models)\n71% used\n";
    let s = parse("claude-code", full, NOW).unwrap();
    assert_eq!(s.status, UsageStatus::LimitReached);
    assert_eq!(s.windows[0].remaining_percent, Some(0.0));
    let left = "Current session\n  9% left\n\nCurrent week (Opus)\n  40% remaining\n";
    let s = parse("claude-code", left, NOW).unwrap();
    assert_eq!(
        names(&s),
        [("session", "session", Some(9.0), Some(91.0)), ("weekly_opus", "weekly", Some(40.0), Some(60.0))]
    );
    assert_eq!(s.status, UsageStatus::NearLimit);
}

#[test]
fn sonnet_week_is_not_taken_for_the_all_models_week() {
    let s = parse("claude-code", "Current week (Sonnet only)\n80% used\n", NOW).unwrap();
    assert_eq!(names(&s), [("weekly_sonnet", "weekly", Some(20.0), Some(80.0))]);
}

#[test]
fn waiting_screens_and_auth_failures() {
    assert!(parse("claude-code", "> /usage\n  Loading usage\u{2026}", NOW).is_none());
    assert!(parse("claude-code", "Current session\n(no data yet)\n", NOW).is_none());
    let s = parse("claude-code", "Error: Failed to load usage data. Token expired, please run /login", NOW).unwrap();
    assert_eq!((s.status, s.confidence), (UsageStatus::Unauthenticated, Confidence::LocalCli));
}

#[test]
fn reset_dates_without_a_year_roll_forward() {
    let s =
        parse("claude-code", "Current session\n1% used\nResets Jan 3, 5pm (UTC)\n", datetime!(2026-12-30 00:00:00 UTC))
            .unwrap();
    assert_eq!(s.windows[0].reset_at.as_deref(), Some("2027-01-03T17:00:00.000000Z"));
    // A named local zone cannot be placed without a zone database: text only.
    let s = parse("claude-code", "Current session\n1% used\nResets 5pm (Europe/Berlin)\n", NOW).unwrap();
    assert_eq!(s.windows[0].reset_at, None);
    assert!(s.windows[0].raw_text.as_deref().unwrap().contains("Europe/Berlin"));
}
