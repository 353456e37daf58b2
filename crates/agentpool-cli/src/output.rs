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

/// A simple left-aligned table.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s: String = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
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

/// `sessions --plain`: `sessions.<i>.<key>=<value>` lines, then pagination.
pub fn plain_sessions(r: &Value) -> String {
    let mut out = String::new();
    for (i, s) in r["sessions"].as_array().into_iter().flatten().enumerate() {
        for k in ["id", "provider_id", "state", "role", "repo_path", "created_at"] {
            out.push_str(&format!("sessions.{i}.{k}={}\n", s[k].as_str().unwrap_or("")));
        }
    }
    if let Some(p) = r["pagination"].as_object() {
        for (k, v) in p {
            let v = if v.is_null() { String::new() } else { v.to_string() };
            out.push_str(&format!("pagination.{k}={v}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
