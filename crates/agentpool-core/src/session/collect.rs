//! Artifacts: manifest, transcript pages, collect (result, summary, git facts).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, json};

use crate::agent_io;
use crate::api::{CollectView, Collected, Gated, Manifest, ManifestEntry, TranscriptPage};
use crate::detect;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{ArtifactRecord, Detail, ManifestFile, SessionState};
use crate::pool::{Pool, blocking, session_state_of};
use crate::redact::redact;
use crate::store::{self};
use crate::tail;
use crate::util;
use crate::workspace::artifacts::{self, ArtifactDir, NO_RESULT};
use crate::workspace::git;

/// Writes `summary.md` and `result.md` from the first of: the given screen, the latest
/// screen, the transcript tail, that holds a result. Returns the result text.
pub(crate) fn materialize_result(ad: &ArtifactDir, screen: Option<&str>) -> Result<Option<String>> {
    let mut candidates: Vec<String> = Vec::new();
    if let Some(s) = screen {
        candidates.push(s.to_owned());
    }
    // Both read from the end, a bounded window: the transcript can be any size.
    let screen_file = ad.file("screen");
    if screen_file.exists() {
        candidates.push(util::read_tail(&screen_file, tail::SCREEN_MAX_BYTES));
    }
    let transcript = ad.file("transcript");
    if transcript.exists() {
        candidates.push(util::read_tail(&transcript, 64 * 1024));
    }
    // Text AgentPool typed (the task, messages) is on the screen and in the transcript too; a
    // result block quoted there is not the worker's.
    let echo = crate::workspace::artifacts::load_echo(ad);
    for c in candidates {
        if let Some(result) = detect::extract_result(&c, &echo) {
            util::write_atomic(&ad.file("summary"), result.as_bytes())?;
            util::write_atomic(&ad.file("result"), result.as_bytes())?;
            return Ok(Some(result));
        }
    }
    Ok(None)
}

/// Manifest rows, those with worker text gated in lockdown.
pub fn gate_manifest(files: Vec<ManifestFile>, lockdown: bool) -> Vec<ManifestEntry> {
    files
        .into_iter()
        .map(|file| {
            let gate = lockdown && artifacts::WORKER_TEXT_KINDS.contains(&file.kind.as_str());
            Gated::new(file, gate)
        })
        .collect()
}

/// A collect result as front ends show it: the summary becomes fenced worker output. With
/// `gate_rows`, rows of worker text are marked gated (what MCP shows in lockdown).
pub fn collect_payload(result: Collected, detail: Detail, lockdown: bool, gate_rows: bool) -> CollectView {
    let text = if result.summary == NO_RESULT { "" } else { result.summary.as_str() };
    CollectView {
        worker_output: agent_io::worker_output(text, detail, lockdown),
        session_id: result.session_id,
        state: result.state,
        artifact_dir: result.artifact_dir,
        artifacts: result
            .artifacts
            .into_iter()
            .map(|a| {
                let gate = gate_rows && artifacts::WORKER_TEXT_KINDS.contains(&a.kind.as_str());
                Gated::new(a, gate)
            })
            .collect(),
        git: result.git,
        warnings: result.warnings,
    }
}

/// `text` without control characters (escape sequences are dropped whole first), keeping
/// newlines: safe to put on a terminal.
pub fn safe_text(text: &str) -> String {
    let (stripped, _) = crate::workspace::artifacts::strip_terminal(text.as_bytes());
    stripped.chars().map(|c| if c == '\t' { ' ' } else { c }).filter(|c| *c == '\n' || !c.is_control()).collect()
}

impl Pool {
    /// The artifact manifest (result files materialised first).
    pub async fn manifest(&self, session_id: &str, materialize: bool) -> Result<Manifest> {
        let session = self.load(session_id).await?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let files = blocking(move || {
            if materialize {
                materialize_result(&ad, None)?;
            }
            Ok(ad.manifest())
        })
        .await?;
        Ok(Manifest { session_id: session.id, artifact_dir: session.artifact_dir, files: gate_manifest(files, false) })
    }

    /// A page (byte offset) or tail (lines) of the transcript.
    pub async fn transcript(
        &self,
        session_id: &str,
        offset: i64,
        limit: i64,
        tail_lines: Option<i64>,
    ) -> Result<TranscriptPage> {
        let range = |msg: &str| Error::new(ErrorCode::InvalidTranscriptRange, msg);
        if offset < 0 {
            return Err(range("offset must be zero or greater").with("offset", offset));
        }
        if !(1..=200_000).contains(&limit) {
            return Err(range("limit must be between 1 and 200000 bytes").with("limit", limit));
        }
        if let Some(t) = tail_lines {
            if !(1..=10_000).contains(&t) {
                return Err(range("tail_lines must be between 1 and 10000").with("tail_lines", t));
            }
            if offset != 0 {
                return Err(range("use either offset paging or tail_lines, not both")
                    .with("offset", offset)
                    .with("tail_lines", t));
            }
        }
        let session = self.load(session_id).await?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let path = ad.file("transcript");
        let sid = session.id.clone();
        blocking(move || {
            let _ = ad.sync_transcript();
            let path_str = path.display().to_string();
            let page = |mode: &str| TranscriptPage {
                session_id: sid.clone(),
                path: path_str.clone(),
                exists: true,
                mode: mode.to_owned(),
                offset: None,
                limit: None,
                tail_lines: None,
                next_offset: None,
                has_more: false,
                size_bytes: 0,
                truncated: false,
                text: String::new(),
                included: None,
                fenced: None,
                reason: None,
            };
            let Ok((mut f, size)) = tail::open(&path) else {
                return Ok(TranscriptPage { exists: false, offset: Some(0), next_offset: Some(0), ..page("missing") });
            };
            let read_err = |e: std::io::Error| Error::io(format_args!("could not read `{path_str}`"), &e);
            if let Some(t) = tail_lines {
                // From the end, at most `TAIL_MAX_BYTES`: a long line is cut, never loaded whole.
                let lines = usize::try_from(t).unwrap_or(1);
                let tail = tail::tail_lines(&mut f, size, lines, tail::TAIL_MAX_BYTES).map_err(read_err)?;
                return Ok(TranscriptPage {
                    tail_lines: Some(t),
                    has_more: tail.has_more,
                    size_bytes: size,
                    truncated: tail.truncated,
                    text: tail.text,
                    ..page("tail")
                });
            }
            let start = (offset as u64).min(size);
            let bytes = tail::read_range(&mut f, start, limit as u64).map_err(read_err)?;
            let end = start + bytes.len() as u64;
            Ok(TranscriptPage {
                offset: Some(start),
                limit: Some(limit),
                next_offset: Some(end),
                has_more: end < size,
                size_bytes: size,
                text: String::from_utf8_lossy(&bytes).into_owned(),
                ..page("page")
            })
        })
        .await
    }

    /// Collects artifacts: final screen, transcript, git status, diff (untracked files
    /// included), result and summary.
    pub async fn collect(
        &self,
        session_id: &str,
        include_diff: bool,
        include_transcript: bool,
        mark_completed: bool,
    ) -> Result<Collected> {
        let session = self.load(session_id).await?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let mut warnings = Vec::new();
        let mut fresh_screen = None;
        if let Some(r) = session.runtime_ref() {
            let lines = self.settings.config.runtime.tmux.capture_lines;
            match self.runtime.snapshot(&r, lines, Duration::from_secs(2)).await {
                Ok(snap) => fresh_screen = Some(redact(&snap.screen).into_owned()),
                Err(e)
                    if matches!(
                        e.code,
                        ErrorCode::TmuxSessionNotFound
                            | ErrorCode::RuntimeSessionNotFound
                            | ErrorCode::RuntimeCaptureTimeout
                    ) =>
                {
                    // The runtime is gone: keep the last good screen rather than blanking it.
                    if session.is_live() {
                        warnings.push(e.envelope()["error"].clone());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let workdir = PathBuf::from(session.workdir());
        let (status_text, facts) = git::status(&workdir).await;
        let diff = if include_diff { Some(redact(&git::diff(&workdir).await).into_owned()) } else { None };
        let mut state = session.state;
        if mark_completed && !matches!(state, SessionState::Cancelled | SessionState::Failed) {
            state = SessionState::Completed;
        }
        let mut session_json = serde_json::to_value(&session).unwrap_or_default();
        session_json["state"] = json!(state);
        session_json["git"] = serde_json::to_value(&facts).unwrap_or_default();
        let ad2 = ad.clone();
        let (summary, records) = blocking(move || {
            if let Some(screen) = &fresh_screen {
                // No AgentPool notes in a screen: a worker line that looks like one is escaped.
                util::write_atomic(&ad2.file("screen"), artifacts::escape_note_like("", screen).as_bytes())?;
            }
            let _ = ad2.sync_transcript();
            util::write_atomic(&ad2.file("git_status"), redact(&status_text).as_bytes())?;
            if let Some(d) = &diff {
                util::write_atomic(&ad2.file("diff"), d.as_bytes())?;
            }
            let summary = materialize_result(&ad2, fresh_screen.as_deref())?.unwrap_or_else(|| {
                let _ = util::write_atomic(&ad2.file("summary"), NO_RESULT.as_bytes());
                let _ = util::write_atomic(&ad2.file("result"), NO_RESULT.as_bytes());
                NO_RESULT.to_owned()
            });
            util::write_atomic(
                &ad2.file("metadata"),
                artifacts::pretty_sorted(&crate::redact::redact_value(&session_json)).as_bytes(),
            )?;
            let records: Vec<ArtifactRecord> = ad2
                .manifest()
                .into_iter()
                .filter(|f| f.exists)
                .map(|f| ArtifactRecord { kind: f.kind, path: f.path, sha256: f.sha256, metadata: Map::new() })
                .collect();
            Ok((summary, records))
        })
        .await?;
        let id = session.id.clone();
        let rows = records.clone();
        self.store
            .call(move |c| {
                for a in &rows {
                    store::save_artifact(c, &id, &a.kind, &a.path, a.sha256.as_deref())?;
                }
                if state != session_state_of(c, &id)? {
                    store::set_state(c, &id, state, true)?;
                }
                Ok(())
            })
            .await?;
        let mut m = Map::new();
        m.insert("include_diff".into(), json!(include_diff));
        self.event(&session, "collect", Some(state), None, None, m).await?;
        let artifacts: Vec<ArtifactRecord> =
            records.into_iter().filter(|a| include_transcript || a.kind != "transcript").collect();
        Ok(Collected {
            session_id: session.id,
            state,
            artifact_dir: session.artifact_dir,
            artifacts,
            summary,
            git: facts,
            warnings: (!warnings.is_empty()).then_some(warnings),
        })
    }
}
