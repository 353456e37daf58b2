//! Pure lifecycle decisions: no I/O, no clock, no store. `observe` hands in what it read (the
//! screen detection, the signals logged since the turn began) and gets back what to report.
//!
//! Structured signals outrank the screen: a CLI that says "the turn ended" or "I am asking"
//! through its hooks is believed over a screen heuristic, and is the only way a turn that ends
//! without a result block is seen at all. The screen still decides everything a signal does not
//! speak to (a result block completes the session; login screens; exits).

use serde_json::{Value, json};

use crate::detect::{self, Detection, EchoFilter, ExtraRules};
use crate::model::{Confidence, ObserveEvent, SessionState};
use crate::signal::{ErrorClass, LoggedSignal, Signal};

/// Whether a capture shows the provider's sign-in screen. Settle (before the first paste) and
/// observe ask the same question of the same input: the redacted screen with the echo of what
/// AgentPool typed taken out, so a task that mentions logging in is never a login screen.
pub fn login_required(clean: &str, echo: &EchoFilter, rules: &ExtraRules) -> bool {
    rules.login_required(&detect::filtered_screen(clean, echo))
}

/// Whether the signal that decided is a sign-in failure (`error` of class `auth`) from a
/// provider that has a sign-in command to name: then it is reported like the sign-in screen.
pub fn signals_login(signal_meta: &serde_json::Map<String, Value>, rules: &ExtraRules) -> bool {
    signal_meta.get("error_class").and_then(Value::as_str) == Some("auth") && rules.login_command.is_some()
}

/// The usage warnings of an observation: the screen's (`limit_warning`, `overage_warning`),
/// plus `rate_limited` when the turn failed on a rate or quota limit the CLI reported.
pub fn usage_warnings(
    clean: &str,
    echo: &EchoFilter,
    signal_meta: &serde_json::Map<String, Value>,
) -> Vec<&'static str> {
    let mut out = detect::usage_warnings(clean, echo);
    if signal_meta.get("error_class").and_then(Value::as_str) == Some("rate_limit") {
        out.push("rate_limited");
    }
    out
}

/// What the signals of the current turn say, once folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalVerdict {
    /// The signal that decided (the last one that speaks to the turn).
    pub decided_by: LoggedSignal,
    /// The CLI's own session id, when a signal of this turn reported one.
    pub cli_session_id: Option<String>,
}

/// Folds a turn's signals: the last signal that speaks to the turn wins, and a tool use after
/// a question, an approval or a turn end means the CLI is working again (no verdict).
pub fn fold(signals: &[LoggedSignal]) -> (Option<LoggedSignal>, Option<String>) {
    let mut decided: Option<LoggedSignal> = None;
    let mut cli_session_id = None;
    for s in signals {
        match &s.signal {
            Signal::SessionStarted { cli_session_id: Some(id) } => cli_session_id = Some(id.clone()),
            Signal::SessionStarted { cli_session_id: None } | Signal::SessionEnded => {}
            Signal::ToolUse { .. } => decided = None,
            Signal::TurnEnded { .. }
            | Signal::Question { .. }
            | Signal::Approval { .. }
            | Signal::Error { .. }
            | Signal::Interrupted => decided = Some(s.clone()),
        }
    }
    (decided, cli_session_id)
}

/// The detection to report, given the screen's and the deciding signal. Returns the detection
/// and the metadata that says which signal decided (empty when the screen decided).
pub fn apply_signal(screen: Detection, decided: Option<&LoggedSignal>) -> (Detection, serde_json::Map<String, Value>) {
    let mut meta = serde_json::Map::new();
    let Some(s) = decided else { return (screen, meta) };
    let official = |state, event| Detection { state, event, confidence: Confidence::Official, parsed_question: None };
    let det = match &s.signal {
        // A result block on screen is the stronger statement: the session is complete.
        Signal::TurnEnded { .. } if screen.event == ObserveEvent::Completed => return (screen, meta),
        // The CLI reports a final reply that holds a result block before its screen shows it
        // (Claude Code's Stop hook runs before the last message is drawn): the screen is about
        // to complete the session, so the turn end is not reported as `idle` meanwhile.
        Signal::TurnEnded { last_reply: Some(reply) }
            if crate::detect::extract_result(reply, &crate::detect::EchoFilter::new()).is_some() =>
        {
            return (screen, meta);
        }
        Signal::TurnEnded { .. } => official(SessionState::Idle, ObserveEvent::Idle),
        // One failed attempt of several: only the screen knows when the retries are over.
        Signal::Error { .. }
            if s.source == crate::signal::ATTEMPT_ERROR_SOURCE && screen.event != ObserveEvent::Error =>
        {
            return (screen, meta);
        }
        Signal::Interrupted => {
            meta.insert("interrupted".into(), json!(true));
            official(SessionState::Idle, ObserveEvent::Idle)
        }
        // The screen's parse of the question, else the question as the CLI reported it.
        Signal::Question { text } => Detection {
            parsed_question: screen.parsed_question.clone().or_else(|| text.clone()),
            ..official(SessionState::AwaitingUserInput, ObserveEvent::Question)
        },
        Signal::Approval { .. } => official(SessionState::AwaitingApproval, ObserveEvent::ApprovalPrompt),
        Signal::Error { class, .. } => {
            meta.insert("error_class".into(), json!(class_name(*class)));
            official(SessionState::Failed, ObserveEvent::Error)
        }
        // `fold` never decides on these.
        Signal::SessionStarted { .. } | Signal::SessionEnded | Signal::ToolUse { .. } => return (screen, meta),
    };
    meta.insert("signal".into(), json!({"kind": s.signal.kind(), "source": s.source, "ts": s.ts}));
    (det, meta)
}

/// The class and message of a screen-detected error, from the provider's error rules (see
/// [`ExtraRules::error_class`]), when the detection is an error and no signal classed it.
pub fn screen_error_class(
    det: &Detection,
    signal_meta: &serde_json::Map<String, Value>,
    clean: &str,
    echo: &EchoFilter,
    rules: &ExtraRules,
) -> Option<(String, String)> {
    if det.event != ObserveEvent::Error || signal_meta.contains_key("error_class") {
        return None;
    }
    let (class, message) = rules.error_class(&detect::filtered_screen(clean, echo))?;
    Some((class_name(class), message))
}

/// The readiness word for a signal-decided detection (`None`: the screen's rules apply).
pub fn signal_readiness(det: &Detection, meta: &serde_json::Map<String, Value>) -> Option<&'static str> {
    if !meta.contains_key("signal") {
        return None;
    }
    Some(match det.event {
        ObserveEvent::Idle if meta.contains_key("interrupted") => "interrupted",
        ObserveEvent::Idle => "waiting_for_input",
        ObserveEvent::Question => "waiting_on_question",
        ObserveEvent::ApprovalPrompt => "waiting_on_approval",
        ObserveEvent::Error => "failed",
        _ => "running",
    })
}

/// The text a signal carries that belongs in the event's excerpt (the CLI's last reply, its
/// question or its error message), already redacted by `agentpool __signal`.
pub fn signal_text(s: &LoggedSignal) -> Option<&str> {
    match &s.signal {
        Signal::TurnEnded { last_reply: t } | Signal::Question { text: t } | Signal::Approval { text: t } => {
            t.as_deref()
        }
        Signal::Error { message, .. } => Some(message),
        _ => None,
    }
}

fn class_name(c: ErrorClass) -> String {
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The `metadata.hint` of a `login_required` observation.
pub fn login_hint(provider: &dyn crate::provider::Provider) -> String {
    match provider.screen_rules().login_command {
        Some(cmd) => format!(
            "the worker is at its sign-in screen: sign in with `{cmd}` (or attach and sign in there), then send the task again"
        ),
        None => "the worker is at its sign-in screen: attach and sign in, then send the task again".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn logged(signal: Signal) -> LoggedSignal {
        LoggedSignal { ts: "2026-12-07T00:00:00Z".into(), source: "hook".into(), signal }
    }

    fn running() -> Detection {
        Detection {
            state: SessionState::Running,
            event: ObserveEvent::None,
            confidence: Confidence::Unknown,
            parsed_question: None,
        }
    }

    #[test]
    fn the_echo_of_a_task_about_logging_in_is_not_a_login_screen() {
        let rules = ExtraRules::compile(&crate::provider::ScreenRules {
            login_patterns: vec![r"(?i)please log in".into()],
            ..Default::default()
        });
        let mut echo = EchoFilter::new();
        let task = "Find out why users see please log in twice after the redirect.";
        echo.add_text(task);
        let screen = format!("> {task}\nWorking...\n");
        assert!(!login_required(&screen, &echo, &rules), "the echoed task is not the CLI's screen");
        assert!(rules.login_required(&screen), "(the raw screen would have said yes)");
        assert!(login_required("Welcome!\nPlease log in to continue.\n", &echo, &rules));
    }

    #[test]
    fn an_auth_failure_reads_as_sign_in_and_a_rate_limit_as_a_usage_warning() {
        let with_login = ExtraRules::compile(&crate::provider::ScreenRules {
            login_command: Some("x login".into()),
            ..Default::default()
        });
        let error = |class| apply_signal(running(), Some(&logged(Signal::Error { class, message: String::new() }))).1;
        assert!(signals_login(&error(ErrorClass::Auth), &with_login));
        assert!(!signals_login(&error(ErrorClass::Auth), &ExtraRules::default()), "nothing to name");
        assert!(!signals_login(&error(ErrorClass::Server), &with_login));
        let echo = EchoFilter::new();
        assert_eq!(usage_warnings("working", &echo, &error(ErrorClass::RateLimit)), ["rate_limited"]);
        assert!(usage_warnings("working", &echo, &error(ErrorClass::Server)).is_empty());
    }

    #[test]
    fn a_classed_error_screen_gives_the_class_unless_a_signal_did() {
        let rules = ExtraRules::compile(&crate::provider::ScreenRules {
            error_patterns: vec![r"(?m)^! status (?P<status>\d{3})".into()],
            ..Default::default()
        });
        let echo = EchoFilter::new();
        let screen = "> say hello\n! status 429 too many\n> ";
        let failed = Detection { state: SessionState::Failed, event: ObserveEvent::Error, ..running() };
        assert_eq!(
            screen_error_class(&failed, &Default::default(), screen, &echo, &rules),
            Some(("rate_limit".to_owned(), "! status 429 too many".to_owned()))
        );
        assert_eq!(screen_error_class(&running(), &Default::default(), screen, &echo, &rules), None, "not an error");
        let by_signal =
            apply_signal(running(), Some(&logged(Signal::Error { class: ErrorClass::Auth, message: String::new() }))).1;
        assert_eq!(screen_error_class(&failed, &by_signal, screen, &echo, &rules), None, "the signal's class stands");
        // A task that quotes the error line is echo, not the CLI's failure.
        let mut echoed = EchoFilter::new();
        echoed.add_text("Explain why the log says ! status 500 every night.");
        let quoted = "> Explain why the log says\n! status 500 every night.\n";
        assert_eq!(screen_error_class(&failed, &Default::default(), quoted, &echoed, &rules).map(|c| c.0), None);
    }

    #[test]
    fn the_last_signal_that_speaks_to_the_turn_decides() {
        let signals = [
            logged(Signal::SessionStarted { cli_session_id: Some("abc".into()) }),
            logged(Signal::Question { text: None }),
            logged(Signal::ToolUse { tool: Some("Bash".into()) }),
        ];
        assert_eq!(fold(&signals), (None, Some("abc".to_owned())));
        let mut more = signals.to_vec();
        more.push(logged(Signal::TurnEnded { last_reply: Some("done".into()) }));
        more.push(logged(Signal::SessionEnded));
        let (decided, _) = fold(&more);
        assert_eq!(decided.unwrap().signal.kind(), "turn_ended");
        assert_eq!(fold(&[]), (None, None));
    }

    #[test]
    fn each_signal_maps_to_one_event_and_state() {
        let cases = [
            (Signal::TurnEnded { last_reply: None }, ObserveEvent::Idle, SessionState::Idle, "waiting_for_input"),
            (Signal::Interrupted, ObserveEvent::Idle, SessionState::Idle, "interrupted"),
            (
                Signal::Question { text: None },
                ObserveEvent::Question,
                SessionState::AwaitingUserInput,
                "waiting_on_question",
            ),
            (
                Signal::Approval { text: None },
                ObserveEvent::ApprovalPrompt,
                SessionState::AwaitingApproval,
                "waiting_on_approval",
            ),
            (
                Signal::Error { class: ErrorClass::RateLimit, message: "429".into() },
                ObserveEvent::Error,
                SessionState::Failed,
                "failed",
            ),
        ];
        for (signal, event, state, readiness) in cases {
            let s = logged(signal);
            let (det, meta) = apply_signal(running(), Some(&s));
            assert_eq!((det.event, det.state, det.confidence), (event, state, Confidence::Official), "{s:?}");
            assert_eq!(meta["signal"]["kind"], s.signal.kind());
            assert_eq!(signal_readiness(&det, &meta), Some(readiness));
        }
        let (_, meta) =
            apply_signal(running(), Some(&logged(Signal::Error { class: ErrorClass::Auth, message: String::new() })));
        assert_eq!(meta["error_class"], "auth");
    }

    #[test]
    fn the_screen_decides_without_a_signal_and_a_result_block_beats_turn_end() {
        let (det, meta) = apply_signal(running(), None);
        assert_eq!(det, running());
        assert!(meta.is_empty());
        assert_eq!(signal_readiness(&det, &meta), None);
        let completed = Detection {
            state: SessionState::Completed,
            event: ObserveEvent::Completed,
            confidence: Confidence::Observed,
            parsed_question: None,
        };
        let (det, meta) = apply_signal(completed.clone(), Some(&logged(Signal::TurnEnded { last_reply: None })));
        assert_eq!(det, completed);
        assert!(meta.is_empty());
        // A reported final reply with a result block waits for the screen to show it.
        let block = "Done.\n\nAGENTPOOL_RESULT_START\nSummary: it works\nAGENTPOOL_RESULT_END";
        let (det, meta) = apply_signal(running(), Some(&logged(Signal::TurnEnded { last_reply: Some(block.into()) })));
        assert_eq!(det, running());
        assert!(meta.is_empty());
    }

    #[test]
    fn an_attempt_error_waits_for_the_screen_and_then_gives_the_class() {
        let attempt = LoggedSignal {
            source: crate::signal::ATTEMPT_ERROR_SOURCE.into(),
            ..logged(Signal::Error { class: ErrorClass::RateLimit, message: "429".into() })
        };
        // Retries may follow: the screen still decides.
        let (det, meta) = apply_signal(running(), Some(&attempt));
        assert_eq!((det, meta.is_empty()), (running(), true));
        // The screen shows the turn failed: the error is official and carries its class.
        let failed = Detection {
            state: SessionState::Failed,
            event: ObserveEvent::Error,
            confidence: Confidence::Observed,
            parsed_question: None,
        };
        let (det, meta) = apply_signal(failed, Some(&attempt));
        assert_eq!((det.event, det.confidence), (ObserveEvent::Error, Confidence::Official));
        assert_eq!(meta["error_class"], "rate_limit");
    }

    #[test]
    fn a_question_keeps_the_question_the_screen_parsed() {
        let screen = Detection { parsed_question: Some("Which one?".into()), ..running() };
        let (det, _) = apply_signal(screen, Some(&logged(Signal::Question { text: Some("Reported?".into()) })));
        assert_eq!(det.parsed_question.as_deref(), Some("Which one?"));
        let (det, _) = apply_signal(running(), Some(&logged(Signal::Question { text: Some("Reported?".into()) })));
        assert_eq!(det.parsed_question.as_deref(), Some("Reported?"));
    }
}
