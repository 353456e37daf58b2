//! The Copilot probe against a loopback HTTP server this test starts.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use super::*;

const SECRET: &str = "ghu_testsecret0123456789";

/// Serves one request with `status` and `body` after `delay`; sends the request head back.
fn serve(status: u16, body: &'static str, delay: Duration) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let _ = tx.send(head);
        std::thread::sleep(delay);
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    (base, rx)
}

fn token() -> Token {
    Token { value: SECRET.into(), source: "GITHUB_TOKEN".into() }
}

const USER: &str = r#"{"copilot_plan": " business ", "quota_reset_date": "2026-07-01",
  "quota_snapshots": {"premium_interactions": {"entitlement": 300, "remaining": 27, "percent_remaining": 9},
                      "chat": {"entitlement": 0, "remaining": 0, "percent_remaining": 0},
                      "completions": {"unlimited": true}}}"#;

#[tokio::test]
async fn success_maps_monthly_quotas_and_sends_the_headers() {
    let (base, head) = serve(200, USER, Duration::ZERO);
    let s = probe_with("copilot-cli", &base, &token(), Duration::from_secs(5)).await;
    let head = head.recv().unwrap();
    assert!(head.starts_with("GET /copilot_internal/user "), "{head}");
    assert!(head.to_lowercase().contains(&format!("authorization: token {SECRET}")));
    assert!(head.to_lowercase().contains("x-github-api-version: 2025-04-01"));
    assert_eq!((s.status, s.confidence), (UsageStatus::NearLimit, Confidence::Official));
    assert_eq!(s.windows.len(), 1, "an all-zero chat quota is skipped");
    let w = &s.windows[0];
    assert_eq!(
        (w.name.as_str(), w.kind.as_str(), w.remaining_percent, w.remaining_units),
        ("premium_interactions", "monthly", Some(9.0), Some(27.0))
    );
    assert_eq!(w.reset_at.as_deref(), Some("2026-07-01T00:00:00.000000Z"));
    assert_eq!(s.reset_at, w.reset_at);
    assert_eq!(s.raw["plan"], "business");
    assert_eq!(s.raw["token_source"], "GITHUB_TOKEN");
    assert!(!serde_json::to_string(&s).unwrap().contains(SECRET));
}

#[tokio::test]
async fn refused_failing_and_slow_servers() {
    let (base, _h) = serve(401, r#"{"message":"Bad credentials"}"#, Duration::ZERO);
    let s = probe_with("copilot-cli", &base, &token(), Duration::from_secs(5)).await;
    assert_eq!(s.status, UsageStatus::Unauthenticated);

    // An error body that echoes the token never carries it into the snapshot.
    let (base, _h) = serve(500, r#"{"message":"boom for token ghu_testsecret0123456789"}"#, Duration::ZERO);
    let s = probe_with("copilot-cli", &base, &token(), Duration::from_secs(5)).await;
    assert_eq!(s.status, UsageStatus::Unknown);
    assert!(s.warnings[0].contains("HTTP 500") && s.warnings[0].contains("<redacted>"), "{:?}", s.warnings);
    assert!(!serde_json::to_string(&s).unwrap().contains(SECRET));

    let (base, _h) = serve(200, USER, Duration::from_secs(3));
    let s = probe_with("copilot-cli", &base, &token(), Duration::from_millis(200)).await;
    assert_eq!(s.status, UsageStatus::Unknown);
    assert!(s.warnings[0].contains("timed out"), "{:?}", s.warnings);
}

#[test]
fn legacy_counts_and_percent_from_units() {
    let legacy = serde_json::json!({"monthly_quotas": {"chat": 1000, "completions": 300}, "limited_user_quotas": {"chat": 100, "completions": 30}});
    let s = parse_user("copilot-cli", &legacy).unwrap();
    assert_eq!(
        s.windows.iter().map(|w| (w.name.as_str(), w.remaining_percent)).collect::<Vec<_>>(),
        [("premium_interactions", Some(10.0)), ("chat", Some(10.0))]
    );
    let units = serde_json::json!({"quota_snapshots": {"chat": {"entitlement": 200, "remaining": 150}}});
    assert_eq!(parse_user("copilot-cli", &units).unwrap().windows[0].remaining_percent, Some(75.0));
    assert!(parse_user("copilot-cli", &serde_json::json!({})).is_err());
}
