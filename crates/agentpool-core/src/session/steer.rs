//! Steering a live worker: send (reopening an ended turn), keys, interrupt, attach, preview.

use std::time::Duration;

use serde_json::{Map, json};

use crate::api::{Attach, Interrupted, KeysSent, SelectedOption, Sent, field_error, invalid_request};
use crate::detect;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentSession, RuntimeRef, SessionState};
use crate::pool::{Pool, blocking, worker_exited};
use crate::redact::redact;
use crate::session::collect::safe_text;
use crate::store;
use crate::util;
use crate::workspace::artifacts::{self, ArtifactDir};

/// The longest `send`/`keys` wait for a dialog a signal announced to be drawn (see
/// `Pool::await_signalled_dialog`).
pub const DIALOG_DRAW_WAIT: Duration = Duration::from_secs(2);

impl Pool {
    /// The options of the menu on the worker's screen (none when it shows no menu).
    async fn menu_options(&self, r: &RuntimeRef) -> Result<Vec<crate::dialog::MenuOption>> {
        let snap = self.runtime.snapshot(r, 0, Duration::from_secs(2)).await?;
        if snap.dead {
            return Err(Error::new(ErrorCode::WorkerExited, "the worker has exited"));
        }
        Ok(crate::dialog::options(&redact(&snap.screen)))
    }

    /// When the screen shows a menu (numbered, or unnumbered above a confirm hint) with a
    /// highlighted option and `answer` names one of its options, moves the highlight there,
    /// checks on screen that it arrived, and confirms with `Enter`; returns the option chosen.
    /// `None`: no menu, or the answer names none of its options (it is then typed as usual).
    /// A menu that highlights nothing, from a provider whose menus take an option's number key
    /// (`menu_digit_keys`, opencode's questions), gets that key instead.
    ///
    /// `options` is the menu as first seen ([`Pool::menu_options`]).
    async fn select_menu_option(
        &self,
        r: &RuntimeRef,
        answer: &str,
        digit_keys: bool,
        options: Vec<crate::dialog::MenuOption>,
    ) -> Result<Option<SelectedOption>> {
        const CONFIRM_TRIES: usize = 20;
        let look = || self.menu_options(r);
        let Some(target) = crate::dialog::chosen(&options, answer) else { return Ok(None) };
        let chosen = SelectedOption { number: target.number, text: target.text.clone() };
        let Some(current) = options.iter().find(|o| o.highlighted) else {
            return match target.number.filter(|n| digit_keys && (1..=9).contains(n)) {
                Some(n) => {
                    self.runtime.send_keys(r, &[n.to_string()]).await?;
                    Ok(Some(chosen))
                }
                None => Ok(None),
            };
        };
        let moves = crate::dialog::arrows(current, target);
        if !moves.is_empty() {
            self.runtime.send_keys(r, &moves).await?;
        }
        for attempt in 0..CONFIRM_TRIES {
            let now = look().await?;
            if now.iter().any(|o| o.highlighted && o.index == target.index && o.text == target.text) {
                self.runtime.send_keys(r, &["Enter".to_owned()]).await?;
                return Ok(Some(chosen));
            }
            if attempt + 1 < CONFIRM_TRIES {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Err(Error::new(
            ErrorCode::MenuSelectionFailed,
            format!(
                "the menu's highlight did not reach option {} ({}); nothing was confirmed",
                target.index + 1,
                target.text
            ),
        )
        .with("selected_option", json!(chosen))
        .with("keys_sent", moves))
    }

    pub(crate) async fn check_cached_usage(&self, provider_id: &str) -> Result<()> {
        // The same "latest snapshot" as the usage summary (placeholders skipped, newest by time).
        self.usage_block(provider_id).await
    }

    /// Sends one message to a worker and submits it.
    pub async fn send(&self, session_id: &str, message: &str) -> Result<Sent> {
        self.send_with(session_id, message, true).await
    }

    /// Sends one message; with `submit = false` it is typed but the submit key is not pressed.
    ///
    /// A session with `max_turns` has its turn taken before anything is typed, in one write
    /// (so concurrent sends can never exceed the limit), and given back if the message is not
    /// delivered.
    pub async fn send_with(&self, session_id: &str, message: &str, submit: bool) -> Result<Sent> {
        let session = self.load(session_id).await?;
        self.enforce_deadline(&session).await?;
        let id = session.id.clone();
        let taken = self.store.call(move |c| store::take_turn(c, &id)).await?;
        if let Err((max, sent)) = taken {
            return Err(Error::new(ErrorCode::TurnLimitReached, "session reached its max_turns")
                .with("session_id", session_id)
                .with("max_turns", max)
                .with("turns_sent", sent));
        }
        let sent = self.deliver_message(&session, message, submit).await;
        if sent.is_err() {
            let id = session.id.clone();
            let _ = self.store.call(move |c| store::give_back_turn(c, &id)).await;
        }
        sent
    }

    async fn deliver_message(&self, session: &AgentSession, message: &str, submit: bool) -> Result<Sent> {
        let r = self.runtime_ref(session)?;
        if session.state == SessionState::Completed {
            self.reopen(session, &r).await?;
        }
        let drawn = self.await_signalled_dialog(session, &r).await;
        let provider = self.registry.get(&session.provider_id)?;
        let ad = ArtifactDir::new(&session.artifact_dir);
        let noted = async {
            // Note the message in the transcript before the worker can answer it, so the
            // transcript reads in order.
            let (dir, m) = (ad.clone(), message.to_owned());
            blocking(move || {
                dir.record_echo(&m)?;
                dir.append_sent(&m)
            })
            .await?;
            // A new turn begins: signals the CLI logged so far belong to earlier turns.
            if let Ok(m) = std::fs::metadata(ad.signal_log()) {
                let id = session.id.clone();
                self.store
                    .call(move |c| store::set_meta(c, &id, crate::model::MetaKey::SignalOffset, &json!(m.len())))
                    .await?;
            }
            Ok::<_, Error>(())
        };
        // An answer to a question or an approval may name an option of the menu on screen: the
        // screen is read while the message is noted (nothing is typed yet).
        let awaiting = matches!(session.state, SessionState::AwaitingUserInput | SessionState::AwaitingApproval);
        let menu = async { if submit && awaiting { Some(self.menu_options(&r).await) } else { None } };
        let (noted, menu) = tokio::join!(noted, menu);
        noted?;
        // An answer that names an option of the menu on screen (its number or its text)
        // selects that option with the menu's own keys, confirmed on screen, instead of being
        // typed into it.
        if let Some(options) = menu {
            let digit_keys = self.profile(provider.as_ref()).flag("menu_digit_keys").unwrap_or(false);
            let chosen = match options {
                Ok(options) => self.select_menu_option(&r, message, digit_keys, options).await,
                Err(e) => Err(e),
            };
            match chosen {
                Ok(Some(chosen)) => {
                    let mut m = Map::new();
                    m.insert("submit".into(), json!(submit));
                    m.insert("selected_option".into(), json!(chosen));
                    if let Some(d) = drawn {
                        m.insert("dialog_drawn".into(), json!(d));
                    }
                    let event_id = self.event(session, "send_message", Some(session.state), None, None, m).await?;
                    return Ok(Sent {
                        ok: true,
                        session_id: session.id.clone(),
                        event_id,
                        selected_option: Some(chosen),
                    });
                }
                Ok(None) => {}
                Err(e) if e.code == ErrorCode::MenuSelectionFailed => return Err(e.with("session_id", &session.id)),
                Err(e) => return Err(self.explain_exit(e, session, &r).await),
            }
        }
        let keys = match self.deliver(&r, provider.as_ref(), message, submit).await {
            Ok(keys) => keys,
            Err(e) => {
                // The note above went in first; say that the message never arrived.
                let _ = blocking(move || ad.append_note("the message above was not delivered: the worker has exited"))
                    .await;
                return Err(self.explain_exit(e, session, &r).await);
            }
        };
        let mut m = Map::new();
        m.insert("submit".into(), json!(submit));
        m.insert("submit_keys".into(), json!(keys));
        if let Some(d) = drawn {
            m.insert("dialog_drawn".into(), json!(d));
        }
        let event_id = self.event(session, "send_message", Some(session.state), None, None, m).await?;
        Ok(Sent { ok: true, session_id: session.id.clone(), event_id, selected_option: None })
    }

    /// Hooks can fire before the CLI draws the dialog they announce (Claude Code's do), and keys
    /// sent before it is drawn are lost. When the worker's question or approval was decided by
    /// a signal, this waits (at most [`DIALOG_DRAW_WAIT`]) until the worker has printed
    /// something since that signal was logged and its screen shows a question or an approval
    /// (an older question still on screen is not the new one). `None`: nothing to wait for (no
    /// signal decided one); else whether the dialog was seen drawn before the wait ran out. The
    /// dialog is looked for below the echo of the latest message AgentPool typed, so a question
    /// of an earlier turn still on screen does not pass for the announced one.
    async fn await_signalled_dialog(&self, session: &AgentSession, r: &RuntimeRef) -> Option<bool> {
        use crate::model::ObserveEvent;
        if !matches!(session.state, SessionState::AwaitingUserInput | SessionState::AwaitingApproval) {
            return None;
        }
        let ad = ArtifactDir::new(&session.artifact_dir);
        let offset = session.meta().signal_offset.unwrap_or(0);
        let (signals, _) = crate::signal::read_since(&ad.signal_log(), offset);
        let (decided, _) = crate::machine::fold(&signals);
        let by_signal = decided.is_some_and(|s| {
            matches!(s.signal, crate::signal::Signal::Question { .. } | crate::signal::Signal::Approval { .. })
        });
        if !by_signal {
            return None;
        }
        let rules = crate::detect::ExtraRules::of(self.registry.get(&session.provider_id).ok()?.as_ref());
        let echo = crate::workspace::artifacts::load_echo(&ad);
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let signalled = modified(&ad.signal_log());
        let start = tokio::time::Instant::now();
        loop {
            let printed_since = matches!((modified(&ad.raw_log()), signalled), (Some(out), Some(sig)) if out > sig);
            if printed_since && let Ok(snap) = self.runtime.snapshot(r, 0, Duration::from_secs(2)).await {
                if snap.dead {
                    return Some(false);
                }
                let screen = redact(snap.screen.trim_end()).into_owned();
                // Only what was drawn below the latest message counts: a question of an earlier
                // turn can still be on screen above it.
                let drawn = crate::detect::below_last_echo(&screen, &echo);
                let det = crate::detect::detect_with(drawn, None, &echo, &rules);
                if matches!(det.event, ObserveEvent::Question | ObserveEvent::ApprovalPrompt) {
                    return Some(true);
                }
            }
            if start.elapsed() >= DIALOG_DRAW_WAIT {
                return Some(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A follow-up message to a worker that completed but still runs starts a new turn: the
    /// session is live again, and the result it already printed no longer counts.
    async fn reopen(&self, session: &AgentSession, r: &RuntimeRef) -> Result<()> {
        let lines = self.settings.config.runtime.tmux.capture_lines;
        let screen = self.runtime.snapshot(r, lines, Duration::from_secs(2)).await?;
        if screen.dead {
            return Err(worker_exited(session, screen.exit_status, &screen.screen));
        }
        let echo = crate::workspace::artifacts::load_echo(&ArtifactDir::new(&session.artifact_dir));
        let previous = detect::extract_result(&redact(&screen.screen), &echo).map(|b| util::sha256_hex(b.as_bytes()));
        let id = session.id.clone();
        self.store
            .call(move |c| {
                store::reopen_completed(c, &id)?;
                store::set_meta(c, &id, crate::model::MetaKey::PreviousResultSha256, &json!(previous))
            })
            .await?;
        let mut m = Map::new();
        m.insert("reason".into(), json!("follow-up message after completion"));
        self.event(session, "reopen", Some(SessionState::Running), None, None, m).await?;
        Ok(())
    }

    /// A `WORKER_EXITED` from the runtime, with the worker's exit status and final screen.
    /// Other errors pass through.
    pub(crate) async fn explain_exit(&self, err: Error, session: &AgentSession, r: &RuntimeRef) -> Error {
        if err.code != ErrorCode::WorkerExited {
            return err;
        }
        match self.runtime.snapshot(r, 0, Duration::from_secs(2)).await {
            Ok(s) => {
                // A worker that exits at once can leave an empty pane behind (tmux shows only
                // its "Pane is dead" line); its transcript still has what it printed.
                let screen = if s.screen.lines().any(|l| !l.trim().is_empty() && !l.starts_with("Pane is dead")) {
                    s.screen
                } else {
                    // The raw log holds only what the worker printed (no AgentPool notes).
                    let raw = ArtifactDir::new(&session.artifact_dir).raw_log();
                    let tail = util::read_tail(&raw, 4096);
                    artifacts::strip_terminal(tail.as_bytes()).0
                };
                worker_exited(session, s.exit_status, &screen)
            }
            Err(_) => err.with("session_id", &session.id),
        }
    }

    /// Sends raw keys, when policy allows it.
    pub async fn keys(&self, session_id: &str, keys: &[String]) -> Result<KeysSent> {
        if !self.settings.config.policy.allow_raw_keys {
            return Err(Error::new(
                ErrorCode::PolicyBlocked,
                "raw key sending is disabled by policy; use `interrupt` for Ctrl-C",
            )
            .with("keys", keys)
            .with("policy", "allow_raw_keys"));
        }
        if keys.is_empty() {
            return Err(invalid_request("give at least one key", vec![field_error("keys", "no keys", "")]));
        }
        for k in keys {
            if k.is_empty()
                || k.chars().count() > 32
                || k.chars().any(char::is_control)
                || (k.starts_with('-') && k.len() > 1)
            {
                return Err(invalid_request(
                    &format!(
                        "`{}` is not a key name (use tmux names such as `Enter`, `Escape`, `C-c`, `Up`)",
                        util::tail_chars(k, 40)
                    ),
                    vec![field_error("keys", "invalid key", k)],
                ));
            }
        }
        let session = self.load(session_id).await?;
        self.enforce_deadline(&session).await?;
        let r = self.runtime_ref(&session)?;
        let drawn = self.await_signalled_dialog(&session, &r).await;
        self.runtime.send_keys(&r, keys).await?;
        let mut m = Map::new();
        m.insert("keys".into(), json!(keys));
        if let Some(d) = drawn {
            m.insert("dialog_drawn".into(), json!(d));
        }
        self.event(&session, "send_keys", Some(session.state), None, None, m).await?;
        Ok(KeysSent { ok: true, session_id: session.id })
    }

    /// Sends the provider's interrupt key (or, with `dry_run`, says it would).
    pub async fn interrupt(&self, session_id: &str, dry_run: bool) -> Result<Interrupted> {
        let session = self.load(session_id).await?;
        if dry_run {
            // Predict the real call: it needs the runtime session to still exist.
            let exists = match session.runtime_ref() {
                Some(r) => self
                    .runtime
                    .list(r.socket.as_deref())
                    .await
                    .map(|m| m.contains_key(&r.session_name))
                    .unwrap_or(false),
                None => false,
            };
            return Ok(Interrupted {
                ok: true,
                session_id: session.id,
                dry_run: Some(true),
                would_interrupt: Some(exists),
                state: session.state,
            });
        }
        let r = self.runtime_ref(&session)?;
        // The CLI's own interrupt key (Claude Code: Escape; a Ctrl-C there can quit it).
        let provider = self.registry.get(&session.provider_id).ok();
        let keys = provider.as_ref().map(|p| p.interrupt_keys()).unwrap_or_default();
        let keys = if keys.is_empty() { vec!["C-c".to_owned()] } else { keys };
        // One key at a time: a TUI reads two keys that arrive together as one sequence
        // (opencode wants Escape pressed twice).
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if let Err(e) = self.runtime.send_keys(&r, std::slice::from_ref(key)).await {
                return Err(self.explain_exit(e, &session, &r).await);
            }
        }
        // CLIs report no hook for an interrupted turn; for a provider that speaks through
        // signals, the interrupt is logged as one, so observe reports `interrupted` (a later
        // tool use or turn end from the CLI still has the last word).
        if provider.as_ref().is_some_and(|p| p.signals().is_some()) {
            let logged = crate::signal::LoggedSignal {
                ts: util::now(),
                source: "agentpool_interrupt".into(),
                signal: crate::signal::Signal::Interrupted,
            };
            let log = ArtifactDir::new(&session.artifact_dir).signal_log();
            let _ =
                blocking(move || crate::signal::append(&log, &[logged]).map_err(|e| Error::io("signal log", &e))).await;
        }
        let mut m = Map::new();
        m.insert("keys".into(), json!(keys));
        self.event(&session, "interrupt", Some(session.state), None, None, m).await?;
        Ok(Interrupted { ok: true, session_id: session.id, dry_run: None, would_interrupt: None, state: session.state })
    }

    /// How a human attaches to the worker.
    pub async fn attach(&self, session_id: &str) -> Result<Attach> {
        let session = self.load(session_id).await?;
        let r = self.runtime_ref(&session)?;
        let live = self.runtime.live_control(self.settings.config.policy.allow_raw_keys);
        Ok(Attach {
            session_id: session.id,
            runtime: session.runtime,
            attach_command: self.runtime.attach_command(&r),
            can_attach: live.can_attach,
            attach_kind: live.attach_kind.to_owned(),
            commands: None,
            pane_target: format!("{}:{}.{}", r.session_name, r.window, r.pane),
            tmux_session: r.session_name,
            pane_id: r.pane_id,
            socket: r.socket,
        })
    }

    /// What a dashboard shows of a worker: its screen as it is now (a capture, or the last
    /// observed screen when the worker is gone), redacted, with every control character except
    /// newlines removed, so nothing the worker printed can drive the viewer's terminal.
    /// Reads only: no state changes, no events, no observe.
    pub async fn preview(&self, session_id: &str) -> Result<String> {
        let session = self.load(session_id).await?;
        let captured = match session.runtime_ref() {
            Some(r) if session.is_live() => {
                self.runtime.snapshot(&r, 0, Duration::from_secs(2)).await.ok().map(|s| s.screen)
            }
            _ => None,
        };
        let text = match captured {
            Some(t) => t,
            None => {
                let path = ArtifactDir::new(&session.artifact_dir).file("screen");
                blocking(move || Ok(std::fs::read(&path).unwrap_or_default()))
                    .await
                    .map(|raw| crate::workspace::artifacts::strip_terminal(&raw).0)?
            }
        };
        Ok(safe_text(&redact(&text)))
    }
}
