//! Output: JSON documents, human text, error envelopes with recovery hints, and a
//! broken-pipe-tolerant writer.

use std::io::Write;

use agentpool_core::error::{Error, ErrorCode};
use serde_json::Value;

/// What a command produced.
pub struct Out {
    pub json: Value,
    pub human: String,
    /// Exit 1 even though the command ran (e.g. a smoke that did not pass).
    pub failed: bool,
}

impl Out {
    pub fn new(json: Value, human: String) -> Self {
        Self { json, human, failed: false }
    }

    /// A typed result (an `agentpool_core::api` outcome) and its human text.
    pub fn typed<T: serde::Serialize>(result: &T, human: String) -> Self {
        Self::new(serde_json::to_value(result).unwrap_or_default(), human)
    }

    pub fn failed_if(mut self, failed: bool) -> Self {
        self.failed = failed;
        self
    }
}

/// Writes to stdout; a closed pipe (`agentpool … | head`) is not an error.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Compact JSON plus a newline.
pub fn json_line(v: &Value) -> String {
    let mut s = serde_json::to_string(v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// The next command a user can run after an error, when there is a useful one.
pub fn hint(err: &Error) -> Option<String> {
    let provider = err.detail("provider_id").and_then(Value::as_str).unwrap_or("<provider-id>");
    let policy = err.detail("policy").and_then(Value::as_str);
    let h = match err.code {
        ErrorCode::ProviderNotFound => "agentpool providers --json".to_owned(),
        ErrorCode::ProviderNotInstalled => format!("agentpool setup {provider} --json"),
        ErrorCode::PolicyBlocked => match policy {
            Some("max_parallel_sessions") => "agentpool sessions --state running,ready,awaiting_user_input,awaiting_approval --json".to_owned(),
            Some("require_worktree_for_edits" | "allow_shared_repo_edits") => {
                "cat task.md | agentpool spawn --provider <provider-id> --repo . --task-stdin --role implementer --isolation worktree".to_owned()
            }
            Some("allow_raw_keys") => "agentpool interrupt <session-id> --json".to_owned(),
            _ => "agentpool providers --json".to_owned(),
        },
        ErrorCode::UsagePolicyBlocked => format!("agentpool usage-summary --provider {provider} --refresh --json"),
        ErrorCode::InvalidRequest | ErrorCode::InvalidStdin => {
            "cat task.md | agentpool spawn --provider <provider-id> --repo . --task-stdin".to_owned()
        }
        ErrorCode::InvalidDetail => "agentpool observe <session-id> --detail excerpt".to_owned(),
        ErrorCode::InvalidWaitFor => "agentpool observe <session-id> --wait-for question,completed --timeout 60".to_owned(),
        ErrorCode::InvalidSessionPage => "agentpool sessions --limit 50 --offset 0 --json".to_owned(),
        ErrorCode::InvalidTranscriptRange => "agentpool transcript <session-id> --offset 0 --limit 4000 --json".to_owned(),
        ErrorCode::SessionNotFound | ErrorCode::InvalidSessionId | ErrorCode::TmuxSessionNotFound => {
            "agentpool sessions --json".to_owned()
        }
        ErrorCode::TmuxNotFound => "apt-get install tmux  # or: brew install tmux".to_owned(),
        ErrorCode::RepoNotFound => "agentpool spawn --provider <provider-id> --repo <existing-directory> --task-stdin".to_owned(),
        ErrorCode::GitNotRepo => "agentpool spawn --provider <provider-id> --repo <git-repo-path> --task-stdin --isolation read_only".to_owned(),
        _ => return None,
    };
    Some(h)
}

/// Adds `details.example` when the error has none and a hint exists.
pub fn with_hint(err: Error) -> Error {
    match hint(&err) {
        Some(h) => err.with_default("example", h),
        None => err,
    }
}

/// Human rendering of an error (for stderr). The hint is the same next command as in
/// `details.example`, minus `--json`: someone reading stderr wants text back.
pub fn human_error(err: &Error) -> String {
    let mut s = format!("error[{}]: {}\n", err.code, err.message);
    if let Some(h) = err.detail("example").and_then(Value::as_str) {
        s.push_str(&format!("hint: {}\n", human_command(h)));
    }
    s
}

/// `cmd` without its `--json` flag (an agent's example turned into a person's); punctuation
/// right after the flag (`--json,`) stays.
pub fn human_command(cmd: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in cmd.split(' ') {
        match w.strip_prefix("--json") {
            Some("") => {}
            Some(rest) if rest.chars().all(|c| c.is_ascii_punctuation()) => match words.last_mut() {
                Some(prev) => prev.push_str(rest),
                None => words.push(rest.to_owned()),
            },
            _ => words.push(w.to_owned()),
        }
    }
    words.join(" ")
}

/// A simple left-aligned table (cells may carry colour: widths count what shows).
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(visible_len(c));
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s: String = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(visible_len(c));
                format!("{c}{}", " ".repeat(pad))
            })
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(headers.to_vec());
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Characters a terminal shows of `s` (SGR colour codes, which [`paint`] adds, not counted).
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_code = false;
    for c in s.chars() {
        match (in_code, c) {
            (false, '\x1b') => in_code = true,
            (true, 'm') => in_code = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// Whether human output may be coloured: stdout is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>). JSON and `--plain` output are never coloured.
pub fn colour_enabled() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// `text` in an SGR colour (`"32"` green, `"31"` red, …) when `on`.
pub fn paint(text: &str, sgr: &str, on: bool) -> String {
    if on && !sgr.is_empty() { format!("\x1b[{sgr}m{text}\x1b[0m") } else { text.to_owned() }
}

/// A session state, coloured by what it asks of you: green done, red failed, yellow waiting on
/// you, cyan working, dim cancelled.
pub fn paint_state(state: &str, on: bool) -> String {
    let sgr = match state {
        "COMPLETED" => "32",
        "FAILED" => "31",
        "AWAITING_USER_INPUT" | "AWAITING_APPROVAL" | "BLOCKED" => "1;33",
        "RUNNING" | "READY" | "STARTING" => "36",
        "CANCELLED" => "2",
        _ => "",
    };
    paint(state, sgr, on)
}

/// How long ago `ts` (RFC 3339) was, in the largest whole unit: `12s ago`, `3m ago`, `5h ago`,
/// `2d ago`. A time that does not parse is shown as it is.
pub fn relative_age(ts: &str, now: time::OffsetDateTime) -> String {
    let Some(then) = agentpool_core::util::parse_ts(ts) else { return ts.to_owned() };
    let secs = (now - then).whole_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// One file of a diffstat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    pub path: String,
    pub added: u64,
    pub removed: u64,
    pub binary: bool,
}

/// Per-file added/removed line counts of a unified diff (`git diff` output), read line by line
/// so a huge diff costs no memory.
pub fn diffstat(diff: impl std::io::BufRead) -> Vec<FileStat> {
    let mut files: Vec<FileStat> = Vec::new();
    for line in diff.split(b'\n').map_while(std::result::Result::ok) {
        let line = String::from_utf8_lossy(&line);
        if let Some(rest) = line.strip_prefix("diff --git ") {
            // `a/<path> b/<path>`: the b side names the file as it is now.
            let path = rest.rsplit_once(" b/").map_or(rest, |(_, b)| b).to_owned();
            files.push(FileStat { path, added: 0, removed: 0, binary: false });
        } else if let Some(f) = files.last_mut() {
            if line.starts_with("+++ ") || line.starts_with("--- ") {
                continue;
            }
            if line.starts_with("Binary files ") {
                f.binary = true;
            } else if line.starts_with('+') {
                f.added += 1;
            } else if line.starts_with('-') {
                f.removed += 1;
            }
        }
    }
    files
}

/// `git diff --stat`-style lines: ` path | N +++--`, then the totals.
pub fn render_diffstat(files: &[FileStat], colour: bool) -> String {
    const BAR: u64 = 40;
    let width = files.iter().map(|f| f.path.chars().count()).max().unwrap_or(0);
    let most = files.iter().map(|f| f.added + f.removed).max().unwrap_or(0).max(1);
    let mut out = String::new();
    for f in files {
        if f.binary {
            out.push_str(&format!(" {:<width$} | Bin\n", f.path));
            continue;
        }
        let total = f.added + f.removed;
        // Scale bars down only when the largest change would not fit.
        let scale = |n: u64| if most > BAR { (n * BAR).div_ceil(most) } else { n };
        let plus = "+".repeat(usize::try_from(scale(f.added)).unwrap_or(0));
        let minus = "-".repeat(usize::try_from(scale(f.removed)).unwrap_or(0));
        out.push_str(&format!(
            " {:<width$} | {total} {}{}\n",
            f.path,
            paint(&plus, "32", colour && !plus.is_empty()),
            paint(&minus, "31", colour && !minus.is_empty())
        ));
    }
    let (added, removed): (u64, u64) = files.iter().fold((0, 0), |(a, r), f| (a + f.added, r + f.removed));
    let n = files.len();
    out.push_str(&format!(
        " {n} file{} changed, {added} insertion{}(+), {removed} deletion{}(-)\n",
        if n == 1 { "" } else { "s" },
        if added == 1 { "" } else { "s" },
        if removed == 1 { "" } else { "s" },
    ));
    out
}

/// `sessions --plain`: `sessions.<i>.<key>=<value>` lines, then pagination.
pub fn plain_sessions(r: &agentpool_core::api::SessionPage) -> String {
    let mut out = String::new();
    for (i, s) in r.sessions.iter().enumerate() {
        let role = s.role.to_string();
        let fields = [
            ("id", s.id.as_str()),
            ("provider_id", s.provider_id.as_str()),
            ("state", s.state.as_str()),
            ("role", role.as_str()),
            ("repo_path", s.repo_path.as_str()),
            ("created_at", s.created_at.as_str()),
        ];
        for (k, v) in fields {
            out.push_str(&format!("sessions.{i}.{k}={v}\n"));
        }
    }
    let p = &r.pagination;
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let fields = [
        ("limit", opt(p.limit)),
        ("offset", p.offset.to_string()),
        ("count", p.count.to_string()),
        ("total", p.total.to_string()),
        ("has_more", p.has_more.to_string()),
        ("next_offset", opt(p.next_offset)),
    ];
    for (k, v) in fields {
        out.push_str(&format!("pagination.{k}={v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_diffstats_and_colour() {
        let now = agentpool_core::util::parse_ts("2026-12-07T10:00:00Z").unwrap();
        assert_eq!(relative_age("2026-12-07T09:59:48Z", now), "12s ago");
        assert_eq!(relative_age("2026-12-07T09:57:00Z", now), "3m ago");
        assert_eq!(relative_age("2026-12-07T05:00:00Z", now), "5h ago");
        assert_eq!(relative_age("2026-12-05T10:00:00Z", now), "2d ago");
        assert_eq!(relative_age("2026-12-07T10:00:09Z", now), "0s ago", "clock skew is not the future");
        assert_eq!(relative_age("yesterday", now), "yesterday");

        let diff = "diff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1,2 +1,3 @@\n-old\n+new\n+more\n context\ndiff --git a/logo.png b/logo.png\nBinary files a/logo.png and b/logo.png differ\n";
        let stats = diffstat(diff.as_bytes());
        assert_eq!(
            stats,
            vec![
                FileStat { path: "src/a.rs".into(), added: 2, removed: 1, binary: false },
                FileStat { path: "logo.png".into(), added: 0, removed: 0, binary: true },
            ]
        );
        let text = render_diffstat(&stats, false);
        assert_eq!(text, " src/a.rs | 3 ++-\n logo.png | Bin\n 2 files changed, 2 insertions(+), 1 deletion(-)\n");
        let coloured = render_diffstat(&stats, true);
        assert!(coloured.contains("\x1b[32m++\x1b[0m") && coloured.contains("\x1b[31m-\x1b[0m"), "{coloured:?}");
        // A coloured cell is padded by what shows.
        let t = table(&["STATE", "X"], vec![vec![paint_state("FAILED", true), "x".into()]]);
        assert_eq!(t.lines().nth(1).unwrap(), "\x1b[31mFAILED\x1b[0m  x");
        assert_eq!(paint_state("FAILED", false), "FAILED");
    }

    #[test]
    fn human_hints_drop_json() {
        assert_eq!(human_command("agentpool sessions --json"), "agentpool sessions");
        assert_eq!(
            human_command("agentpool sessions --limit 50 --offset 0 --json"),
            "agentpool sessions --limit 50 --offset 0"
        );
        assert_eq!(human_command("agentpool skills list"), "agentpool skills list");
        assert_eq!(
            human_command("agentpool doctor --deep --json, then check `tmux -V`"),
            "agentpool doctor --deep, then check `tmux -V`"
        );
        assert_eq!(human_command("agentpool x --json-schema"), "agentpool x --json-schema");
        let err = with_hint(Error::new(ErrorCode::SessionNotFound, "session `ap_x` not found"));
        assert_eq!(err.detail("example").and_then(Value::as_str), Some("agentpool sessions --json"));
        assert!(human_error(&err).ends_with("hint: agentpool sessions\n"), "{}", human_error(&err));
    }
}
