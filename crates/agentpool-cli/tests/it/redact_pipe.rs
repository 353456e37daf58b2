//! The pane filter (`agentpool __redact-pipe <log>`, what tmux's `pipe-pane` runs) as a
//! process: a secret the worker prints in two writes with a pause between them never reaches
//! the log, and a prompt without a newline still shows.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_secret_printed_in_two_pieces_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pane.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentpool"))
        .arg("__redact-pipe")
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let secret_tail = "Q7r9XkLm2Pz4Wc8Vb1Nd";
    stdin.write_all(b"key sk-proj-").unwrap();
    stdin.flush().unwrap();
    // Pause until the filter has written the partial line (after its 25 ms wait), so the
    // second piece surely arrives as a separate, later write; its hold lasts 2 s.
    let mut early = String::new();
    for _ in 0..100 {
        early = std::fs::read_to_string(&log).unwrap_or_default();
        if !early.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    stdin.write_all(format!("{secret_tail} loaded\nContinue? [y/N] ").as_bytes()).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let written = std::fs::read_to_string(&log).unwrap();
    assert_eq!(early, "key ", "during the pause only the part that cannot be a secret is written");
    assert_eq!(written, "key sk-[REDACTED] loaded\nContinue? [y/N] ");
    assert!(!written.contains(secret_tail));
}
