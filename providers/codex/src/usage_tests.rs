//! The app-server probe against fake `codex` executables written here.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;

const LIMITS: &str = r#"{"id":2,"result":{"rateLimits":{"primary":{"usedPercent":20,"windowDurationMins":10080,"resetsAt":1790000000},"secondary":{"usedPercent":87.5,"windowDurationMins":300,"resetsAt":1789990000},"credits":{"hasCredits":true,"unlimited":false,"balance":"3.75"}}}}"#;

fn fake_codex(dir: &Path, after_init: &str) -> PathBuf {
    let p = dir.join("codex");
    let script = format!(
        "#!/bin/sh\n\
         echo \"$@\" > '{args}'\n\
         sleep 600 &\n\
         echo $! > '{pid}'\n\
         read -r init\n\
         case \"$init\" in *'\"method\":\"initialize\"'*) ;; *) exit 3;; esac\n\
         printf '%s\\n' '{{\"id\":1,\"result\":{{\"userAgent\":\"codex/0.169.0\"}}}}'\n\
         read -r initialized\n\
         case \"$initialized\" in *'\"method\":\"initialized\"'*) ;; *) exit 4;; esac\n\
         read -r req\n\
         {after_init}\n",
        args = dir.join("args").display(),
        pid = dir.join("pid").display(),
    );
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// The background `sleep` the fake started must be gone (dead or a zombie awaiting reaping).
fn assert_group_killed(dir: &Path) {
    let pid = std::fs::read_to_string(dir.join("pid")).unwrap().trim().to_owned();
    for _ in 0..500 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat) if stat.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')) => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("the probe's process group outlived the probe (pid {pid})");
}

fn quick() -> Timeouts {
    Timeouts { initialize: Duration::from_secs(20), read: Duration::from_millis(300) }
}

#[tokio::test]
async fn success_maps_windows_by_duration_and_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let exe = fake_codex(
        dir.path(),
        &format!("printf '%s\\n' '{{\"method\":\"account/updated\",\"params\":{{}}}}' 'not json' '{LIMITS}'\nwait"),
    );
    let s = probe("codex-cli", &exe, Timeouts::default()).await;
    assert_eq!(std::fs::read_to_string(dir.path().join("args")).unwrap().trim(), "-s read-only app-server");
    assert_eq!(s.status, UsageStatus::NearLimit, "{:?}", s.warnings);
    assert_eq!(s.confidence, Confidence::Official);
    // The primary slot is the weekly window here: names follow durations, not positions.
    let w: Vec<_> = s.windows.iter().map(|w| (w.name.as_str(), w.kind.as_str(), w.remaining_percent)).collect();
    assert_eq!(w, [("weekly", "weekly", Some(80.0)), ("5h", "5h", Some(12.5))]);
    assert_eq!(s.windows[0].reset_at.as_deref(), Some("2026-09-21T14:13:20.000000Z"));
    assert_eq!(s.windows[1].raw_text.as_deref(), Some("secondary:300"));
    assert_eq!(s.credits_remaining, Some(3.75));
    assert_eq!(s.raw["credits"], json!({"hasCredits": true, "unlimited": false, "hasBalance": true}));
    assert_eq!(s.raw["source"], SOURCE);
    assert_group_killed(dir.path());
}

#[tokio::test]
async fn signed_out_is_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let exe = fake_codex(
        dir.path(),
        r#"printf '%s\n' '{"id":2,"error":{"code":-32600,"message":"authentication required to read rate limits"}}'"#,
    );
    let s = probe("codex-cli", &exe, quick()).await;
    assert_eq!((s.status, s.confidence), (UsageStatus::Unauthenticated, Confidence::Official));
    assert!(s.warnings[0].contains("codex login"));
    assert_group_killed(dir.path());
}

#[tokio::test]
async fn no_reply_and_hang_are_unknown_and_killed() {
    let dir = tempfile::tempdir().unwrap();
    // Answers nothing to the rate-limit request and never exits.
    let exe = fake_codex(dir.path(), "wait");
    let s = probe("codex-cli", &exe, quick()).await;
    assert_eq!(s.status, UsageStatus::Unknown);
    assert!(s.warnings[0].contains("timed out during account/rateLimits/read"), "{:?}", s.warnings);
    assert_group_killed(dir.path());

    // Hangs before answering `initialize`; the caller gives up (drops the probe future).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("codex");
    std::fs::write(&p, format!("#!/bin/sh\nsleep 600 &\necho $! > '{}'\nwait\n", dir.path().join("pid").display()))
        .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pid_file = dir.path().join("pid");
    let running = async {
        // Once the fake has recorded its background child, cancelling the probe must end both.
        while std::fs::read_to_string(&pid_file).map_or(true, |p| p.trim().is_empty()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        s = probe("codex-cli", &p, Timeouts::default()) => panic!("a fake that never answers cannot finish: {s:?}"),
        () = running => {}
    }
    assert_group_killed(dir.path());
}

#[tokio::test]
async fn exiting_child_reports_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("codex");
    std::fs::write(&p, "#!/bin/sh\necho 'error: unexpected argument' >&2\nexit 2\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = probe("codex-cli", &p, quick()).await;
    assert_eq!(s.status, UsageStatus::Unknown);
    assert!(s.warnings[0].contains("exited during initialize"), "{:?}", s.warnings);
}

#[test]
fn parsing_rules() {
    let r = json!({"primary": {"usedPercent": 31, "windowDurationMins": 300}, "secondary": {"usedPercent": 68, "windowDurationMins": 1440},
                   "credits": {"unlimited": true, "balance": "9"}});
    let s = parse_rate_limits("codex-cli", &r).unwrap();
    assert_eq!(s.windows.iter().map(|w| w.kind.as_str()).collect::<Vec<_>>(), ["5h", "daily"]);
    assert_eq!(s.credits_remaining, None, "unlimited credits have no balance");
    let odd = json!({"primary": {"usedPercent": 100, "windowDurationMins": 60}});
    let s = parse_rate_limits("codex-cli", &odd).unwrap();
    assert_eq!(
        (s.windows[0].name.as_str(), s.windows[0].kind.as_str(), s.status),
        ("primary", "unknown", UsageStatus::LimitReached)
    );
    assert!(parse_rate_limits("codex-cli", &json!({"rateLimits": {}})).is_err());
    let body = r#"error 429: {"rate_limit":{"details":[{"used_percent":100,"limit_window_seconds":18000,"reset_at":1790000000},{"used_percent":40,"limit_window_seconds":604800}]}}"#;
    let s = from_error("codex-cli", body);
    assert_eq!(s.status, UsageStatus::LimitReached);
    assert_eq!(
        s.windows.iter().map(|w| (w.name.as_str(), w.remaining_percent)).collect::<Vec<_>>(),
        [("5h", Some(0.0)), ("weekly", Some(60.0))]
    );
}
