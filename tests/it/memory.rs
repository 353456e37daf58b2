//! Bounded memory (issue 15, V1): the commands that read a worker's transcript — and the sync
//! that writes it from the raw pane log — hold a fixed window of it, never the whole file.
//!
//! Each command runs under the `agentpool-peak-rss` helper, which reads the finished child's
//! peak RSS with `getrusage`: a figure that hardly moves between runs, so a bound on it is a
//! deterministic check (no timing). The debug build needs 26–33 MiB here; reading the whole
//! 28 MiB transcript, as these commands used to, costs that much again on top.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use agentpool_tests::{TestContext, describe, parse_json};
use serde_json::Value;

const PEAK_RSS: &str = env!("CARGO_BIN_EXE_agentpool-peak-rss");
const MIB: usize = 1024 * 1024;
/// Generous for the debug build, well below its footprint plus the transcript.
const MAX_RSS_KIB: u64 = 40 * 1024;
/// What `transcript --tail-lines` returns at most (`agentpool_core::tail::TAIL_MAX_BYTES`).
const TAIL_MAX_BYTES: usize = MIB;

/// Runs `agentpool <args>` (which must succeed) and returns its peak RSS in KiB and its JSON.
fn peak(ctx: &TestContext, args: &[&str]) -> (u64, Value) {
    let report = ctx.home().join("peak-rss.txt");
    let out = ctx.wrapped(Path::new(PEAK_RSS), &[report.to_str().unwrap()], args).output().unwrap();
    assert!(out.status.success(), "agentpool {args:?} failed:\n{}", describe(&out));
    let kib = std::fs::read_to_string(&report).unwrap().trim().parse().unwrap();
    (kib, parse_json(args, &out))
}

/// The text between a fenced `text`'s BEGIN and END lines.
fn unfenced(text: &str) -> &str {
    let body = text.split_once('\n').map_or("", |(_, rest)| rest);
    body.rsplit_once('\n').map_or("", |(inner, _)| inner)
}

#[test]
fn transcript_readers_hold_a_bounded_window() {
    let ctx = TestContext::new();
    let id = ctx.spawn_id("fake-idle", "stay idle", &[]);
    let dir = ctx.artifact_dir(&id);
    let line = [&[b'x'; 98][..], b"\r\n"].concat();
    // 8 MiB of worker output where tmux's pipe puts it: 4 MiB of 100-byte lines, then one
    // 4 MiB line without a newline. (Kept small: the debug build strips and redacts slowly.)
    {
        let mut log = OpenOptions::new().append(true).open(dir.join("raw").join("pane.log")).unwrap();
        log.write_all(&line.repeat(4 * MIB / 100)).unwrap();
        log.write_all(&vec![b'y'; 4 * MIB]).unwrap();
    }
    let observe = ["observe", &id, "--detail", "full", "--json"];
    let collect = ["collect", &id, "--detail", "full", "--json"];
    let tail = ["transcript", &id, "--tail-lines", "100", "--json"];

    // The first observe syncs the raw log into the transcript block by block; the whole-log
    // read it replaces held the output three times over.
    let (kib, _) = peak(&ctx, &observe);
    assert!(kib <= MAX_RSS_KIB, "observe syncing 8 MiB of output peaked at {kib} KiB");
    let transcript = dir.join("transcript.txt");
    let synced = std::fs::metadata(&transcript).unwrap().len();
    assert!(synced >= (4 * MIB / 100 * 99 + 4 * MIB) as u64, "the sync stopped short: {synced} bytes");

    // Then 20 MiB more of transcript, ending in one 16 MiB line.
    {
        let mut t = OpenOptions::new().append(true).open(&transcript).unwrap();
        t.write_all(b"\n").unwrap();
        t.write_all(&line[..99].repeat(4 * MIB / 100)).unwrap();
        t.write_all(&vec![b'y'; 16 * MIB]).unwrap();
    }
    let size = std::fs::metadata(&transcript).unwrap().len();
    for args in [&observe, &collect] {
        let (kib, _) = peak(&ctx, args);
        assert!(kib <= MAX_RSS_KIB, "{args:?} on a {size}-byte transcript peaked at {kib} KiB");
    }

    // The last 100 lines are one 16 MiB line: its last MiB comes back, marked as truncated.
    let (kib, t) = peak(&ctx, &tail);
    assert!(kib <= MAX_RSS_KIB, "transcript --tail-lines 100 peaked at {kib} KiB");
    assert_eq!((&t["mode"], &t["truncated"], &t["has_more"]), (&"tail".into(), &true.into(), &true.into()), "{t:#}");
    assert_eq!(t["size_bytes"].as_u64(), Some(size));
    let text = unfenced(t["text"].as_str().unwrap());
    assert_eq!(text.len(), TAIL_MAX_BYTES);
    assert!(text.bytes().all(|b| b == b'y'), "only the long line's end");

    // A page is exactly what was asked for, however large the file.
    let page = ctx.json(&["transcript", &id, "--offset", "0", "--limit", "64", "--json"]);
    assert_eq!((&page["mode"], &page["truncated"], &page["next_offset"]), (&"page".into(), &false.into(), &64.into()));
    assert_eq!(page["size_bytes"].as_u64(), Some(size));
    ctx.json(&["terminate", &id, "--json"]);
}
