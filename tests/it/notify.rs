//! `[[notify]]`: a command gets each event once even when two processes observe the same
//! change, a loopback webhook gets the JSON, and a hanging command or a server that never
//! answers holds `observe` no longer than the entry's timeout. Bad entries are refused at load.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agentpool_tests::{TestContext, describe, parse_json};
use serde_json::Value;

/// The JSON documents a `command` entry appended to `path`, one per line.
fn delivered(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_command_gets_each_event_once_even_from_two_observers() {
    let ctx = TestContext::new();
    let log = ctx.home().join("notified.jsonl");
    ctx.write_config(&format!(
        "[[notify]]\non = [\"question\", \"terminate\"]\ncommand = \"{{ cat; echo; }} >> '{}'\"\n",
        log.display()
    ));
    let id = ctx.spawn_id("fake-question", "Pick the first area to inspect.", &[]);
    // Two processes observe the same question at once.
    let observers: Vec<Child> = (0..2)
        .map(|_| ctx.command(&["observe", &id, "--wait-for", "question", "--timeout", "20", "--json"]).spawn().unwrap())
        .collect();
    for o in observers {
        let out = o.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(parse_json(&["observe"], &out)["event"], "question");
    }
    // A third look at the unchanged screen is no new event either.
    ctx.json(&["observe", &id, "--json"]);
    ctx.json(&["terminate", &id, "--json"]);
    // Each CLI process delivered what it claimed before exiting.
    let got = delivered(&log);
    let events: Vec<&str> = got.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["question", "terminate"], "{got:#?}");
    let q = &got[0];
    assert_eq!(q["session_id"], id.as_str());
    assert_eq!(q["provider_id"], "fake-question");
    assert_eq!(q["state"], "AWAITING_USER_INPUT");
    assert_eq!(q["event_type"], "observe:question");
    assert_eq!(q["coordinator_id"], "default");
    assert!(q["excerpt"].as_str().is_some_and(|e| e.contains('?')), "{q}");
    assert!(q["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{q}");
    assert_eq!(got[1]["state"], "CANCELLED");
}

/// A loopback HTTP server that answers one request with 204 and hands over its body.
fn answering_server() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let _ =
            reader.get_mut().write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
    });
    (url, rx)
}

#[test]
fn webhooks_get_the_event_and_nothing_slow_holds_observe_past_its_timeout() {
    let ctx = TestContext::new();
    let (url, bodies) = answering_server();
    // A server that accepts and never answers, and a command that never ends.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/", silent.local_addr().unwrap());
    let pid_file = ctx.home().join("hung.pid");
    ctx.write_config(&format!(
        "[[notify]]\non = [\"question\"]\nwebhook = \"{url}\"\n\n\
         [[notify]]\non = [\"question\"]\nwebhook = \"{silent_url}\"\ntimeout_ms = 2000\n\n\
         [[notify]]\non = [\"question\"]\ncommand = \"echo $$ > '{}'; exec sleep 60\"\ntimeout_ms = 2000\n",
        pid_file.display()
    ));
    let id = ctx.spawn_id("fake-question", "Pick the first area to inspect.", &[]);
    let started = Instant::now();
    let q = ctx.json(&["observe", &id, "--wait-for", "question", "--timeout", "20", "--json"]);
    let took = started.elapsed();
    assert_eq!(q["event"], "question", "{q}");
    // Bounded by the 2 s timeouts (plus the wait for the question), not by the 60 s sleep.
    assert!(took < Duration::from_secs(12), "observe took {took:?}");
    let (head, body) = bodies.recv_timeout(Duration::from_secs(10)).expect("the webhook was called");
    assert!(head.starts_with("POST /hook "), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["event"].as_str(), v["session_id"].as_str()), (Some("question"), Some(id.as_str())), "{v}");
    // The hung command was killed with its process group when its time was up.
    let pid = std::fs::read_to_string(&pid_file).expect("the command ran").trim().to_owned();
    assert!(!running(&pid), "the hung command {pid} is still running");
    drop(silent);
    ctx.json(&["terminate", &id, "--json"]);
}

/// Whether `pid` is a running process: gone or a zombie (killed, and not yet reaped by
/// whichever process inherited it) is not running.
fn running(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[test]
fn bad_notify_entries_are_refused_when_the_config_loads() {
    let ctx = TestContext::new();
    ctx.write_config("[[notify]]\non = [\"questoin\"]\nbell = true\n");
    let err = ctx.error(&["sessions", "--json"], "INVALID_CONFIG");
    assert!(err["message"].as_str().unwrap().contains("unknown event `questoin`"), "{err}");
    ctx.write_config("[[notify]]\non = [\"question\"]\nbell = true\ncommand = \"true\"\n");
    let err = ctx.error(&["sessions", "--json"], "INVALID_CONFIG");
    assert!(err["message"].as_str().unwrap().contains("exactly one of"), "{err}");
    ctx.write_config("[[notify]]\non = [\"question\"]\nwebhook = \"ftp://x\"\n");
    ctx.error(&["sessions", "--json"], "INVALID_CONFIG");
    ctx.write_config("[[notify]]\non = [\"question\"]\nbell = true\nsound = true\n");
    ctx.error(&["sessions", "--json"], "INVALID_CONFIG");
}
