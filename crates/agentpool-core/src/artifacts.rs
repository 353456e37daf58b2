//! The per-session artifact directory: file layout, the append-only transcript derived from
//! the runtime's raw output log, the manifest, and the summary files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::model::{EventRecord, ManifestFile};
use crate::redact::redact;
use crate::util;

/// Manifest kinds and their file names, in manifest order.
pub const KINDS: [(&str, &str); 10] = [
    ("metadata", "metadata.json"),
    ("prompt", "prompt.md"),
    ("transcript", "transcript.txt"),
    ("events", "events.jsonl"),
    ("screen", "latest_screen.txt"),
    ("summary_partial", "summary.partial.md"),
    ("summary", "summary.md"),
    ("result", "result.md"),
    ("git_status", "git-status.txt"),
    ("diff", "diff.patch"),
];

/// Kinds that hold worker-derived text (gated in lockdown).
pub const WORKER_TEXT_KINDS: [&str; 7] =
    ["transcript", "events", "screen", "summary_partial", "summary", "result", "diff"];

/// Literal written as the summary when no result block was found.
pub const NO_RESULT: &str = "No AGENTPOOL result marker found.";

/// Paths inside one session's artifact directory.
#[derive(Debug, Clone)]
pub struct ArtifactDir {
    pub root: PathBuf,
}

impl ArtifactDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// A file by manifest kind.
    pub fn file(&self, kind: &str) -> PathBuf {
        let name = KINDS.iter().find(|(k, _)| *k == kind).map_or(kind, |(_, f)| f);
        self.root.join(name)
    }

    /// The raw output log the runtime streams into.
    pub fn raw_log(&self) -> PathBuf {
        self.root.join("raw").join("pane.log")
    }

    /// Lines AgentPool typed into the worker (used to ignore their echo).
    pub fn echo_file(&self) -> PathBuf {
        self.root.join("raw").join("echo.txt")
    }

    fn offset_file(&self) -> PathBuf {
        self.root.join("raw").join("pane.log.offset")
    }

    fn lock_file(&self) -> PathBuf {
        self.root.join("raw").join(".lock")
    }

    /// Creates the directory tree.
    pub fn create(&self) -> Result<()> {
        let raw = self.root.join("raw");
        std::fs::create_dir_all(&raw).map_err(|e| Error::io(format_args!("could not create `{}`", raw.display()), &e))
    }

    /// Takes the per-session file lock, so transcript appends from several processes
    /// interleave whole blocks and never duplicate raw output.
    fn lock(&self) -> Result<Flock<File>> {
        let path = self.lock_file();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format_args!("could not open `{}`", path.display()), &e))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io(format_args!("could not lock `{}`", path.display()), &e.into()))
    }

    /// Appends new raw output (escape sequences stripped, secrets redacted) to the transcript.
    /// Cheap when nothing changed. Returns the number of raw bytes consumed.
    pub fn sync_transcript(&self) -> Result<u64> {
        let log = self.raw_log();
        let Ok(meta) = std::fs::metadata(&log) else { return Ok(0) };
        let _guard = self.lock()?;
        let offset: u64 =
            std::fs::read_to_string(self.offset_file()).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        if meta.len() <= offset {
            return Ok(0);
        }
        let mut f = File::open(&log).map_err(|e| Error::io(format_args!("could not open `{}`", log.display()), &e))?;
        let mut buf = Vec::with_capacity((meta.len() - offset) as usize);
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.take(meta.len() - offset).read_to_end(&mut buf))
            .map_err(|e| Error::io(format_args!("could not read `{}`", log.display()), &e))?;
        let (text, consumed) = strip_terminal(&buf);
        if !text.is_empty() {
            util::append(&self.file("transcript"), redact(&text).as_bytes())?;
        }
        util::write_atomic(&self.offset_file(), (offset + consumed as u64).to_string().as_bytes())?;
        Ok(consumed as u64)
    }

    /// Appends a note of a message AgentPool sent, after any pending raw output.
    /// Appends an AgentPool note (`[agentpool] …`) to the transcript.
    pub fn append_note(&self, note: &str) -> Result<()> {
        self.sync_transcript()?;
        let _guard = self.lock()?;
        util::append(&self.file("transcript"), format!("\n[agentpool] {note}\n").as_bytes())
    }

    pub fn append_sent(&self, message: &str) -> Result<()> {
        self.sync_transcript()?;
        let _guard = self.lock()?;
        let block = format!("\n[agentpool sent]\n{}\n", redact(message));
        util::append(&self.file("transcript"), block.as_bytes())
    }

    /// Remembers text AgentPool pasted so its echo is never taken for worker output.
    pub fn record_echo(&self, text: &str) -> Result<()> {
        let mut block = redact(text).into_owned();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        util::append(&self.echo_file(), block.as_bytes())
    }

    /// Appends one event line to `events.jsonl` (keys sorted).
    pub fn append_event(&self, event: &EventRecord) -> Result<()> {
        let line = json!({
            "event_id": event.id,
            "event_type": event.event_type,
            "excerpt": event.excerpt,
            "metadata": event.metadata,
            "screen_hash": event.screen_hash,
            "state": event.state,
            "ts": event.ts,
        });
        util::append(&self.file("events"), format!("{line}\n").as_bytes())
    }

    /// The manifest: every kind in order, with existence and hash.
    pub fn manifest(&self) -> Vec<ManifestFile> {
        KINDS
            .iter()
            .map(|(kind, _)| {
                let path = self.file(kind);
                let sha256 = util::sha256_file(&path);
                ManifestFile {
                    kind: (*kind).to_owned(),
                    path: path.display().to_string(),
                    exists: sha256.is_some(),
                    sha256,
                }
            })
            .collect()
    }
}

/// Writes `summary.partial.md` for the latest observation.
pub fn partial_summary(session_id: &str, state: &str, event: &str, readiness: &str, screen: &str) -> String {
    let excerpt = util::tail_chars(screen.trim(), 4000).replace("```", "'''");
    let excerpt = if excerpt.is_empty() { "No visible worker output captured yet.".to_owned() } else { excerpt };
    format!(
        "# AgentPool Partial Summary\n\n- session_id: `{session_id}`\n- state: `{state}`\n- event: `{event}`\n- readiness: `{readiness}`\n- observed_at: `{}`\n\n## Recent Worker Output\n\n```text\n{excerpt}\n```\n",
        util::now()
    )
}

/// Renders a JSON value pretty-printed with sorted keys and a trailing newline.
pub fn pretty_sorted(value: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sort(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    let mut s = serde_json::to_string_pretty(&sort(value)).unwrap_or_default();
    s.push('\n');
    s
}

/// Strips terminal control sequences from raw pane output. Returns the text and how many
/// input bytes it consumed: an escape sequence or UTF-8 character cut off at the end of the
/// buffer is left for the next call.
pub fn strip_terminal(raw: &[u8]) -> (String, usize) {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    let n = raw.len();
    while i < n {
        let b = raw[i];
        match b {
            0x1b => {
                let Some(len) = escape_len(&raw[i..]) else { break };
                i += len;
            }
            b'\r' => {
                if i + 1 >= n {
                    break;
                }
                // CR LF is a newline; a lone CR (cursor to column 0) becomes one too, which
                // keeps redrawn lines apart instead of gluing them together.
                if raw[i + 1] != b'\n' {
                    out.push(b'\n');
                }
                i += 1;
            }
            b'\n' | b'\t' => {
                out.push(b);
                i += 1;
            }
            0x00..=0x1f | 0x7f => i += 1,
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    // Do not split a UTF-8 character at the end of the consumed range.
    let mut end = out.len();
    let valid_up_to = match std::str::from_utf8(&out) {
        Ok(_) => end,
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => end,
    };
    if valid_up_to < end {
        let cut = end - valid_up_to;
        end = valid_up_to;
        i -= cut;
    }
    (String::from_utf8_lossy(&out[..end]).into_owned(), i)
}

/// Length of the escape sequence at the start of `s` (which begins with ESC), or `None`
/// when it is incomplete.
fn escape_len(s: &[u8]) -> Option<usize> {
    let next = *s.get(1)?;
    match next {
        b'[' => {
            // CSI: parameters and intermediates, then one final byte 0x40..=0x7e.
            s.iter().skip(2).position(|b| (0x40..=0x7e).contains(b)).map(|p| p + 3)
        }
        b']' | b'P' | b'X' | b'^' | b'_' => {
            // OSC / DCS / SOS / PM / APC: until BEL or ST (ESC \).
            let mut j = 2;
            while j < s.len() {
                if s[j] == 0x07 {
                    return Some(j + 1);
                }
                if s[j] == 0x1b {
                    return s.get(j + 1).map(|_| j + 2);
                }
                j += 1;
            }
            None
        }
        b'(' | b')' | b'*' | b'+' | b'#' | b'%' => s.get(2).map(|_| 3),
        _ => Some(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes_and_keeps_text() {
        let raw = b"\x1b[1;32mhello\x1b[0m world\r\n\x1b]0;title\x07next\x1b(Bline\r\n";
        let (text, used) = strip_terminal(raw);
        assert_eq!(text, "hello world\nnextline\n");
        assert_eq!(used, raw.len());
    }

    #[test]
    fn leaves_incomplete_tail_for_later() {
        let raw = b"abc\x1b[12";
        let (text, used) = strip_terminal(raw);
        assert_eq!((text.as_str(), used), ("abc", 3));
        let raw = "é".as_bytes();
        let (text, used) = strip_terminal(&raw[..1]);
        assert_eq!((text.as_str(), used), ("", 0));
        let (text, used) = strip_terminal(b"x\r");
        assert_eq!((text.as_str(), used), ("x", 1));
    }

    #[test]
    fn transcript_sync_is_incremental() {
        let dir = tempfile::tempdir().unwrap();
        let ad = ArtifactDir::new(dir.path());
        ad.create().unwrap();
        util::append(&ad.raw_log(), b"one\r\ntwo token=abc\r\n").unwrap();
        ad.sync_transcript().unwrap();
        ad.append_sent("hi").unwrap();
        util::append(&ad.raw_log(), b"three\r\n").unwrap();
        ad.sync_transcript().unwrap();
        ad.sync_transcript().unwrap();
        let t = std::fs::read_to_string(ad.file("transcript")).unwrap();
        assert_eq!(t, "one\ntwo token=[REDACTED]\n\n[agentpool sent]\nhi\nthree\n");
    }

    #[test]
    fn partial_summary_fences() {
        let s = partial_summary("ap_x", "RUNNING", "none", "running", "a ``` b");
        assert!(s.contains("a ''' b"));
        assert!(partial_summary("ap_x", "RUNNING", "none", "running", "  ").contains("No visible worker output"));
    }
}
