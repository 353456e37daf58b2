//! The Devin probe against a loopback HTTP server this test starts, a credential file in a
//! temporary home, and the `/usage` text parser on screens written for these tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use time::macros::datetime;

use super::*;

const SECRET: &str = "devin-sk-testsecret-0123456789abcdef";

/// Serves one request with `status` and `body` after `delay`; sends back the request head
/// and body.
fn serve(status: u16, body: Vec<u8>, delay: Duration) -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
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
        let len = head
            .lines()
            .find_map(|l| {
                l.to_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .unwrap_or(0);
        let mut req = vec![0; len];
        let _ = reader.read_exact(&mut req);
        let _ = tx.send((head, req));
        std::thread::sleep(delay);
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/proto\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(&body);
    });
    (base, rx)
}

fn cred() -> Credential {
    Credential { token: SECRET.into(), api_server_url: None }
}

/// A plan status written for this test (a Pro plan on a two-week cycle).
fn plan() -> PlanStatus {
    PlanStatus {
        plan_info: Some(PlanInfo { teams_tier: 7, plan_name: "Pro".into() }),
        plan_start: Some(Timestamp { seconds: 1_780_000_000 }),
        plan_end: Some(Timestamp { seconds: 1_781_209_600 }),
        daily_remaining_percent: Some(64),
        weekly_remaining_percent: Some(12),
        overage_balance_micros: Some(12_345_678),
        daily_reset_at_unix: Some(1_780_099_200),
        weekly_reset_at_unix: Some(1_780_444_800),
    }
}

fn reply(p: Option<PlanStatus>) -> Vec<u8> {
    GetPlanStatusResponse { plan_status: p }.encode_to_vec()
}

#[test]
fn request_encoding_and_plan_decoding() {
    let body = GetPlanStatusRequest { auth_token: "tok".into(), include_top_up_status: true }.encode_to_vec();
    assert_eq!(body, [0x0a, 3, b't', b'o', b'k', 0x10, 0x01]);
    let decoded = GetPlanStatusResponse::decode(reply(Some(plan())).as_slice()).unwrap().plan_status.unwrap();
    assert_eq!(decoded, plan());
    // An unknown field is skipped; truncated input is an error.
    let mut extra = reply(Some(plan()));
    extra.extend([0xa8, 0x06, 0x05]);
    assert!(GetPlanStatusResponse::decode(extra.as_slice()).is_ok());
    let full = reply(Some(plan()));
    assert!(GetPlanStatusResponse::decode(&full[..full.len() - 3]).is_err());
}

#[tokio::test]
async fn success_maps_daily_weekly_and_credits_and_sends_the_headers() {
    let (base, seen) = serve(200, reply(Some(plan())), Duration::ZERO);
    let s = api_probe("devin-cli", &base, &cred(), Duration::from_secs(5)).await.unwrap();
    let (head, body) = seen.recv().unwrap();
    assert!(head.starts_with("POST /exa.seat_management_pb.SeatManagementService/GetPlanStatus "), "{head}");
    let lower = head.to_lowercase();
    assert!(lower.contains("content-type: application/proto") && lower.contains("connect-protocol-version: 1"));
    assert!(lower.contains(&format!("x-auth-token: {SECRET}")));
    assert!(body.ends_with(&[0x10, 0x01]));
    assert_eq!((s.status, s.confidence), (UsageStatus::NearLimit, Confidence::Official));
    let w: Vec<_> = s
        .windows
        .iter()
        .map(|w| (w.name.as_str(), w.kind.as_str(), w.remaining_percent, w.used_percent, w.reset_at.as_deref()))
        .collect();
    assert_eq!(
        w,
        [
            ("daily", "daily", Some(64.0), Some(36.0), Some("2026-05-30T00:00:00.000000Z")),
            ("weekly", "weekly", Some(12.0), Some(88.0), Some("2026-06-03T00:00:00.000000Z")),
        ]
    );
    assert_eq!(s.credits_remaining, Some(12.345678));
    assert_eq!(s.reset_at.as_deref(), Some("2026-05-30T00:00:00.000000Z"));
    assert_eq!((s.raw["plan_name"].as_str(), s.raw["teams_tier"].as_i64()), (Some("Pro"), Some(7)));
    assert_eq!(s.raw["plan_start"], "2026-05-28T20:26:40.000000Z");
    assert_eq!(
        (s.raw["has_overage_balance"].as_bool(), s.raw["credential_source"].as_str()),
        (Some(true), Some("devin_cli_credentials"))
    );
    assert!(!serde_json::to_string(&s).unwrap().contains(SECRET));
}

#[test]
fn an_omitted_zero_percent_is_zero_when_its_window_is_reported() {
    let p = PlanStatus { daily_remaining_percent: None, ..plan() };
    let s = map_plan("devin-cli", &p).unwrap();
    assert_eq!(s.windows[0].remaining_percent, Some(0.0));
    assert_eq!(s.status, UsageStatus::LimitReached);
    let bare =
        PlanStatus { plan_info: Some(PlanInfo { teams_tier: 1, plan_name: "Free".into() }), ..Default::default() };
    assert!(map_plan("devin-cli", &bare).is_err());
}

#[tokio::test]
async fn refused_failing_empty_and_slow_servers() {
    let (base, _s) = serve(401, b"{\"code\":\"unauthenticated\"}".to_vec(), Duration::ZERO);
    let s = api_probe("devin-cli", &base, &cred(), Duration::from_secs(5)).await.unwrap();
    assert_eq!(s.status, UsageStatus::Unauthenticated);

    // An error body that echoes the credential never carries it into the reason.
    let (base, _s) = serve(500, format!("{{\"message\":\"bad key {SECRET}\"}}").into_bytes(), Duration::ZERO);
    let e = api_probe("devin-cli", &base, &cred(), Duration::from_secs(5)).await.unwrap_err();
    assert!(e.starts_with("HTTP 500") && e.contains("<redacted>") && !e.contains(SECRET), "{e}");

    let (base, _s) = serve(200, reply(None), Duration::ZERO);
    let e = api_probe("devin-cli", &base, &cred(), Duration::from_secs(5)).await.unwrap_err();
    assert!(e.contains("plan_status"), "{e}");

    let (base, _s) = serve(200, reply(Some(plan())), Duration::from_secs(3));
    let e = api_probe("devin-cli", &base, &cred(), Duration::from_millis(200)).await.unwrap_err();
    assert_eq!(e, "timed out");
}

#[test]
fn credential_file_in_a_temporary_home() {
    let home = tempfile::tempdir().unwrap();
    let e = read_credential(home.path()).unwrap_err();
    assert!(e.contains("devin auth login"), "{e}");
    let path = credentials_path(home.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        format!("windsurf_api_key = \"  {SECRET} \"\napi_server_url = \"https://devin.example.test/\"\n"),
    )
    .unwrap();
    let c = read_credential(home.path()).unwrap();
    assert_eq!((c.token.as_str(), c.api_server_url.as_deref()), (SECRET, Some("https://devin.example.test/")));
    assert!(!format!("{c:?}").contains(SECRET), "Debug never shows the credential");
    std::fs::write(&path, format!("windsurf_api_key = \"{SECRET}")).unwrap();
    let e = read_credential(home.path()).unwrap_err();
    assert!(!e.contains(SECRET), "{e}");
    std::fs::write(&path, "api_server_url = \"https://x\"\n").unwrap();
    assert!(read_credential(home.path()).unwrap_err().contains("windsurf_api_key"));
}

#[test]
fn usage_screen_text() {
    let now = datetime!(2026-05-01 12:00:00 UTC);
    let screen = "> /usage\n\n  Plan: Pro\n  Quota used: 40% (remaining: 60%)\n  Extra usage balance: $12.25\n  Quota resets Jun 4, 3:30 PM (UTC+2).\n";
    let s = parse_screen("devin-cli", screen, now).unwrap();
    assert_eq!((s.status, s.confidence), (UsageStatus::Available, Confidence::LocalCli));
    let w = &s.windows[0];
    assert_eq!(
        (w.name.as_str(), w.kind.as_str(), w.remaining_percent, w.used_percent),
        ("weekly", "weekly", Some(60.0), Some(40.0))
    );
    assert_eq!(w.reset_at.as_deref(), Some("2026-06-04T13:30:00.000000Z"));
    assert_eq!(s.credits_remaining, Some(12.25));
    let banner = parse_screen("devin-cli", "Devin \u{00B7} 0% remaining (resets in 2 days)", now).unwrap();
    assert_eq!(banner.status, UsageStatus::LimitReached);
    assert!(parse_screen("devin-cli", "> /usage\n  loading\u{2026}", now).is_none());
}
