//! Tests of the dashboard's pure parts: rows, filtering, keys, column fitting and a frame.

use super::*;

fn row(id: &str, state: &str, event: &str, coordinator: &str) -> SessionRow {
    SessionRow {
        id: id.to_owned(),
        provider: "fake-question".to_owned(),
        model: "fake-model-1".to_owned(),
        state: state.to_owned(),
        last_event: event.to_owned(),
        last_event_at: "2026-05-01T12:00:00Z".to_owned(),
        repo: "/work/repo".to_owned(),
        worktree: None,
        coordinator: coordinator.to_owned(),
        artifact_dir: "/nonexistent".to_owned(),
    }
}

#[test]
fn needs_you_names_why() {
    assert_eq!(row("ap_1", "AWAITING_USER_INPUT", "observe:question", "default").needs_you(), Some("ASK"));
    assert_eq!(row("ap_1", "AWAITING_APPROVAL", "observe:approval_prompt", "d").needs_you(), Some("APPROVE"));
    assert_eq!(row("ap_1", "READY", "startup_prompt_pending", "d").needs_you(), Some("DIALOG"));
    assert_eq!(row("ap_1", "READY", "login_required", "d").needs_you(), Some("LOGIN"));
    assert_eq!(row("ap_1", "FAILED", "observe:error", "d").needs_you(), Some("ERROR"));
    assert_eq!(row("ap_1", "RUNNING", "send_message", "d").needs_you(), None);
    assert_eq!(row("ap_1", "COMPLETED", "observe:completed", "d").needs_you(), None);
}

#[test]
fn filter_and_scope_select_rows_and_keep_the_selection() {
    let mut app = App::new("default", true, false);
    app.set_rows(vec![
        row("ap_aaaaaaaaaaaa", "RUNNING", "spawn", "default"),
        row("ap_bbbbbbbbbbbb", "AWAITING_USER_INPUT", "observe:question", "coord_123456789012"),
    ]);
    assert_eq!(app.selected.as_deref(), Some("ap_aaaaaaaaaaaa"));
    app.key(KeyEvent::from(KeyCode::Down));
    assert_eq!(app.selected.as_deref(), Some("ap_bbbbbbbbbbbb"));
    // `a`: only mine; the selection moves to a shown row.
    assert_eq!(app.key(KeyEvent::from(KeyCode::Char('a'))), Action::Reload);
    assert_eq!(app.visible().len(), 1);
    assert_eq!(app.selected.as_deref(), Some("ap_aaaaaaaaaaaa"));
    app.key(KeyEvent::from(KeyCode::Char('a')));
    // `/ask`: the needs-you word matches too.
    for k in ['/', 'a', 's', 'k'] {
        app.key(KeyEvent::from(KeyCode::Char(k)));
    }
    app.key(KeyEvent::from(KeyCode::Enter));
    assert_eq!(app.visible().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["ap_bbbbbbbbbbbb"]);
    assert_eq!(app.selected.as_deref(), Some("ap_bbbbbbbbbbbb"));
    app.key(KeyEvent::from(KeyCode::Esc));
    assert_eq!(app.visible().len(), 2);
}

#[test]
fn keys_lead_to_actions_and_terminate_asks_first() {
    let mut app = App::new("default", true, false);
    app.set_rows(vec![row("ap_aaaaaaaaaaaa", "RUNNING", "spawn", "default")]);
    let id = "ap_aaaaaaaaaaaa".to_owned();
    assert_eq!(app.key(KeyEvent::from(KeyCode::Enter)), Action::Attach(id.clone()));
    assert_eq!(app.key(KeyEvent::from(KeyCode::Char('i'))), Action::Interrupt(id.clone()));
    assert_eq!(app.key(KeyEvent::from(KeyCode::Char('d'))), Action::Diff(id.clone()));
    assert_eq!(app.key(KeyEvent::from(KeyCode::Char('t'))), Action::None);
    assert_eq!(app.key(KeyEvent::from(KeyCode::Char('n'))), Action::None);
    assert_eq!(app.mode, Mode::Normal);
    app.key(KeyEvent::from(KeyCode::Char('t')));
    assert_eq!(app.key(KeyEvent::from(KeyCode::Char('y'))), Action::Terminate(id.clone()));
    app.key(KeyEvent::from(KeyCode::Char('s')));
    for c in "go on".chars() {
        app.key(KeyEvent::from(KeyCode::Char(c)));
    }
    assert_eq!(app.key(KeyEvent::from(KeyCode::Enter)), Action::Send(id, "go on".into()));
    assert_eq!(app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Action::Quit);
    assert_eq!(app.key(KeyEvent::from(KeyCode::Char('q'))), Action::Quit);
}

#[test]
fn columns_fit_every_width() {
    for width in [20_u16, 40, 60, 80, 100, 120, 200] {
        let cols = columns(width);
        let used: usize = 1 + cols.iter().map(|(_, w)| w).sum::<usize>() + cols.len().saturating_sub(1);
        assert!(used <= usize::from(width), "{width}: {cols:?}");
    }
    let at80: Vec<Col> = columns(80).into_iter().map(|(c, _)| c).collect();
    assert_eq!(at80, [Col::Id, Col::Provider, Col::State, Col::Needs, Col::Event, Col::Age]);
    assert!(columns(160).iter().any(|(c, _)| *c == Col::Coordinator));
}

#[test]
fn diff_lines_start_with_a_diffstat_and_carry_no_escapes() {
    let diff = "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-old\n+new \x1b[31mred\x1b[0m\x07\n";
    let lines = diff_lines(diff);
    assert_eq!(lines[0], " x.txt | 2 +-");
    assert!(lines.iter().all(|l| !l.chars().any(|c| c.is_control())), "{lines:?}");
    assert!(lines.iter().any(|l| l == "+new red"), "{lines:?}");
    assert_eq!(diff_lines(""), ["no changes"]);
}

/// The frame as text, one line per row, trailing spaces trimmed.
fn render(app: &App, now: OffsetDateTime, width: u16, height: u16) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, app, now)).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn a_frame_at_80_by_24() {
    let now = agentpool_core::util::parse_ts("2026-05-01T12:05:00Z").unwrap();
    let mut app = App::new("default", true, false);
    let mut rows = vec![
        row("ap_0123456789ab", "AWAITING_USER_INPUT", "observe:question", "default"),
        row("ap_1123456789ab", "RUNNING", "send_message", "coord_0123456789ab"),
        row("ap_2123456789ab", "AWAITING_APPROVAL", "observe:approval_prompt", "default"),
        row("ap_3123456789ab", "FAILED", "observe:error", "default"),
        row("ap_4123456789ab", "COMPLETED", "observe:completed", "default"),
    ];
    rows[1].provider = "codex-cli".into();
    rows[1].last_event_at = "2026-05-01T11:00:00Z".into();
    rows[2].worktree = Some("/work/repo/.agentpool/worktrees/ap_2123456789ab".into());
    app.set_rows(rows);
    app.usage = vec![UsageLine {
        provider: "codex-cli".into(),
        text: "5h 55% left, weekly 29% left".into(),
        checked_at: "2026-05-01T12:02:00Z".into(),
    }];
    app.preview = "fake worker ready\n> Pick the first area to inspect.\nWhich area should I inspect first?\n".into();
    let frame = render(&app, now, 80, 24);
    assert!(frame.lines().all(|l| l.chars().count() <= 80));
    let mut settings = insta::Settings::clone_current();
    agentpool_tests::add_snapshot_filters(&mut settings, Vec::new());
    settings.bind(|| insta::assert_snapshot!("watch_80x24", frame));
}

#[test]
fn preview_text_from_a_worker_cannot_reach_the_terminal_raw() {
    let now = agentpool_core::util::parse_ts("2026-05-01T12:05:00Z").unwrap();
    let mut app = App::new("default", true, false);
    app.set_rows(vec![row("ap_0123456789ab", "RUNNING", "spawn", "default")]);
    app.preview = agentpool_core::session::collect::safe_text("hello \x1b]0;owned\x07\x1b[2J world\r\nnext\x1b");
    let frame = render(&app, now, 80, 24);
    assert!(frame.contains("hello  world"), "{frame}");
    assert!(!frame.contains('\x1b') && !frame.contains('\x07'));
}
