//! Settling a freshly launched worker: wait for its screen to be ready, answer startup
//! dialogs, and deliver the first prompt (verified).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::detect;
use crate::error::Result;
use crate::model::{AgentSession, Isolation, RuntimeRef, SessionState};
use crate::pool::{Pool, wait_for_growth};
use crate::provider::Provider;
use crate::redact::redact;
use crate::workspace::artifacts::ArtifactDir;

/// Why the first paste was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// The provider's sign-in screen.
    LoginRequired,
    /// A dialog or approval prompt AgentPool does not answer.
    StartupPrompt,
}

impl Pool {
    /// Waits (bounded) until the worker's screen is ready for the first paste: a provider
    /// ready marker appeared, or the screen is non-empty and stopped changing. Meanwhile it
    /// answers the startup dialogs the provider knows (one `startup_dialog` event each, never
    /// twice on the same screen). Returns what, if anything, still blocks the first paste.
    pub(crate) async fn settle(
        &self,
        r: &RuntimeRef,
        provider: &dyn Provider,
        ad: &ArtifactDir,
        session: &AgentSession,
    ) -> Option<Blocked> {
        /// More answers than this means a dialog that does not go away; stop answering.
        const MAX_DIALOG_ANSWERS: usize = 8;
        let spec = provider.startup();
        let rules = detect::ExtraRules::of(provider);
        let profile = self.profile(provider);
        let dialog_ctx = crate::provider::DialogContext {
            // The request's word (the smoke's `--no-accept-startup-trust`) over the config's.
            accept_trust: session
                .metadata
                .get("accept_startup_trust")
                .or_else(|| profile.config.metadata.get("accept_startup_trust"))
                .and_then(Value::as_bool)
                .unwrap_or(true),
            isolation: session
                .metadata
                .get("isolation")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or(Isolation::ReadOnly),
            workdir: PathBuf::from(session.workdir()),
            provider_metadata: profile.config.metadata.clone(),
        };
        let limit = Duration::from_millis(self.settings.config.runtime.tmux.settle_timeout_ms);
        let start = tokio::time::Instant::now();
        let quiet = Duration::from_millis(spec.quiet_ms.max(50));
        let mut last = String::new();
        let mut last_change = start;
        let mut answered_screen: Option<String> = None;
        // The dialog last confirmed (its keys chose an option, not only moved the highlight):
        // it is not answered again while the screen is still changing — a redraw of it before
        // the CLI acted on the key would otherwise take a second `Enter`, which then lands on the
        // next dialog (Claude Code 2.1.197: on the API-key dialog, whose highlight is "No").
        let mut confirmed: Option<String> = None;
        let mut answers = 0;
        let log = ad.raw_log();
        let mut log_len = 0;
        // The same reading of a capture observe makes: redacted, with the echo of what AgentPool
        // typed (in `arg` mode the CLI may show the prompt) taken out.
        let echo = crate::workspace::artifacts::load_echo(ad);
        let blocked_by = |screen: &str| {
            let det = detect::detect_with(screen, None, &echo, &rules);
            matches!(det.event, crate::model::ObserveEvent::ApprovalPrompt | crate::model::ObserveEvent::OveragePrompt)
                .then_some(Blocked::StartupPrompt)
        };
        while start.elapsed() < limit {
            if let Ok(snap) = self.runtime.snapshot(r, 0, Duration::from_secs(2)).await {
                if snap.dead {
                    return None;
                }
                let screen = redact(snap.screen.trim_end()).into_owned();
                if crate::machine::login_required(&screen, &echo, &rules) {
                    return Some(Blocked::LoginRequired);
                }
                if answers < MAX_DIALOG_ANSWERS
                    && answered_screen.as_deref() != Some(screen.as_str())
                    && let Some(answer) = provider.startup_dialog(&screen, &dialog_ctx)
                    && confirmed.as_deref() != Some(answer.dialog.as_str())
                {
                    answers += 1;
                    answered_screen = Some(screen.clone());
                    confirmed = (answer.action != "moved_selection").then(|| answer.dialog.clone());
                    let sent = self.runtime.send_keys(r, &answer.keys).await.is_ok();
                    let mut m = Map::new();
                    m.insert("dialog".into(), json!(answer.dialog));
                    m.insert("action".into(), json!(answer.action));
                    m.insert("keys".into(), json!(answer.keys));
                    m.insert("sent".into(), json!(sent));
                    let _ = self.event(session, "startup_dialog", Some(SessionState::Ready), None, None, m).await;
                    last.clear();
                    last_change = tokio::time::Instant::now();
                } else if spec.ready_markers.iter().any(|m| screen.contains(m)) {
                    return blocked_by(&screen);
                }
                if screen != last {
                    last = screen;
                    last_change = tokio::time::Instant::now();
                } else if !last.is_empty() && last_change.elapsed() >= quiet {
                    // The dialog just answered is still there, unchanged: the keys came before
                    // the CLI read its input (codex 0.171's trust screen drops an early Enter).
                    // Answer it again on the next capture, within the answer budget.
                    let still_confirmed = confirmed.is_some()
                        && provider
                            .startup_dialog(&last, &dialog_ctx)
                            .is_some_and(|a| confirmed.as_deref() == Some(a.dialog.as_str()));
                    if (answered_screen.as_deref() == Some(last.as_str()) || still_confirmed)
                        && answers < MAX_DIALOG_ANSWERS
                    {
                        answered_screen = None;
                        confirmed = None;
                    } else {
                        return blocked_by(&last);
                    }
                }
            }
            let until = (tokio::time::Instant::now() + Duration::from_millis(100)).min(start + limit);
            log_len = wait_for_growth(&log, log_len, until).await;
        }
        blocked_by(&last)
    }

    /// Types a message into the worker and submits it, per provider rules. Returns the
    /// submit keys used (`None` when the default paste + `Enter` path was taken).
    pub(crate) async fn deliver(
        &self,
        r: &RuntimeRef,
        provider: &dyn Provider,
        message: &str,
        submit: bool,
    ) -> Result<Option<Vec<String>>> {
        if submit && message.is_empty() {
            self.runtime.send_keys(r, &["Enter".to_owned()]).await?;
            return Ok(Some(vec!["Enter".to_owned()]));
        }
        let trimmed = message.trim();
        let menu_choice =
            !trimmed.is_empty() && trimmed.chars().count() <= 3 && trimmed.chars().all(char::is_alphanumeric);
        let keys = if submit && !menu_choice { self.profile(provider).submit_keys.clone() } else { None };
        match &keys {
            Some(k) => {
                self.runtime.paste(r, message).await?;
                // TUIs treat a key that arrives in the same read as the paste as part of it.
                tokio::time::sleep(Duration::from_millis(100)).await;
                self.runtime.send_keys(r, k).await?;
            }
            // Paste and Enter in one runtime step (one tmux call), as before one after the other.
            None if submit && !message.ends_with('\n') => {
                self.runtime.paste_then_keys(r, message, &["Enter".to_owned()]).await?;
            }
            None => self.runtime.paste(r, message).await?,
        }
        Ok(keys)
    }
}
