//! `agentpool watch`: a full-screen dashboard of the pool — one row per session with what needs
//! the human, usage headroom from stored snapshots, and the selected worker's screen.
//!
//! The pure parts (rows, filtering, key handling, drawing a frame) are plain functions over
//! [`App`], tested with ratatui's `TestBackend`; the terminal loop in [`watch`] is thin. It
//! only reads stored state: it never observes, reconciles or records anything unless a key
//! asks for an action (send, interrupt, terminate, diff), which then takes the same path as the
//! matching command. It polls SQLite's `data_version` every [`TICK`] and re-reads only when
//! another connection committed; ages re-render once a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::store::{self, BoardRow, SessionFilter};
use agentpool_core::workspace::artifacts::ArtifactDir;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use serde_json::json;
use time::OffsetDateTime;

use crate::args::{InterruptArgs, SendArgs, TerminateArgs, WatchArgs};
use crate::commands::{self, AttachClient, Context};
use crate::output::{self, Out};

/// How often the store's change counter and the keyboard are polled.
pub const TICK: Duration = Duration::from_millis(50);
/// Sessions read per refresh (live first, then the most recently updated).
const MAX_ROWS: i64 = 500;
/// Least time between two captures of the selected worker's screen.
const PREVIEW_EVERY: Duration = Duration::from_millis(250);
/// Lines of a diff shown at most.
const MAX_DIFF_LINES: usize = 5000;

/// One session as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub provider: String,
    pub model: String,
    pub state: String,
    /// Latest event type as recorded (`observe:question`, `send_message`, …).
    pub last_event: String,
    pub last_event_at: String,
    pub repo: String,
    pub worktree: Option<String>,
    pub coordinator: String,
    pub artifact_dir: String,
}

impl SessionRow {
    /// A row from the store's board query.
    pub fn from_board((s, last): BoardRow) -> Self {
        let (last_event, last_event_at) = last.unwrap_or_else(|| (String::new(), s.updated_at.clone()));
        Self {
            coordinator: s.meta().coordinator_id.as_deref().unwrap_or("").to_owned(),
            id: s.id,
            provider: s.provider_id,
            model: s.model.unwrap_or_default(),
            state: s.state.as_str().to_owned(),
            last_event,
            last_event_at,
            repo: s.repo_path,
            worktree: s.worktree_path,
            artifact_dir: s.artifact_dir,
        }
    }

    /// Why this session waits for a human, as a short word: a question, an approval, a
    /// startup dialog or sign-in AgentPool does not answer, or an error.
    pub fn needs_you(&self) -> Option<&'static str> {
        match self.state.as_str() {
            "AWAITING_USER_INPUT" => return Some("ASK"),
            "AWAITING_APPROVAL" => return Some("APPROVE"),
            "BLOCKED" => return Some("BLOCKED"),
            "FAILED" => return Some("ERROR"),
            "COMPLETED" | "CANCELLED" => return None,
            _ => {}
        }
        match self.last_event.as_str() {
            "startup_prompt_pending" => Some("DIALOG"),
            "login_required" => Some("LOGIN"),
            "observe:error" | "spawn_failed" => Some("ERROR"),
            _ => None,
        }
    }

    /// Where the worker runs: its worktree, else the repository.
    pub fn place(&self) -> &str {
        self.worktree.as_deref().filter(|w| !w.is_empty()).unwrap_or(&self.repo)
    }

    fn matches(&self, needle: &str) -> bool {
        needle.is_empty()
            || [
                self.id.as_str(),
                &self.provider,
                &self.model,
                &self.state,
                &self.last_event,
                self.place(),
                &self.coordinator,
                self.needs_you().unwrap_or(""),
            ]
            .iter()
            .any(|f| f.to_lowercase().contains(needle))
    }
}

/// Headroom of one provider, from its latest stored usage snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    pub provider: String,
    pub text: String,
    pub checked_at: String,
}

/// What the bottom line is asking for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing the filter.
    Filter,
    /// Typing a message for this session.
    Send {
        id: String,
        text: String,
    },
    /// Waiting for `y` to terminate this session.
    Confirm {
        id: String,
    },
    /// Reading a collected diff.
    Diff {
        id: String,
        lines: Vec<String>,
        scroll: usize,
    },
}

/// What the loop should do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    Attach(String),
    Send(String, String),
    Interrupt(String),
    Terminate(String),
    Diff(String),
    /// The scope changed: read the rows again.
    Reload,
}

/// The dashboard's whole state.
#[derive(Debug, Clone)]
pub struct App {
    pub rows: Vec<SessionRow>,
    pub usage: Vec<UsageLine>,
    /// The selected session, kept by id across refreshes.
    pub selected: Option<String>,
    pub filter: String,
    /// All coordinators' sessions, or only `me`'s.
    pub all: bool,
    pub me: String,
    pub mode: Mode,
    /// The last action's outcome.
    pub status: String,
    /// The selected worker's screen (redacted, control characters removed).
    pub preview: String,
    pub colour: bool,
}

impl App {
    pub fn new(me: &str, all: bool, colour: bool) -> Self {
        Self {
            rows: Vec::new(),
            usage: Vec::new(),
            selected: None,
            filter: String::new(),
            all,
            me: me.to_owned(),
            mode: Mode::Normal,
            status: String::new(),
            preview: String::new(),
            colour,
        }
    }

    /// The rows shown: in scope and matching the filter (case-insensitive, any column).
    pub fn visible(&self) -> Vec<&SessionRow> {
        let needle = self.filter.trim().to_lowercase();
        self.rows.iter().filter(|r| (self.all || r.coordinator == self.me) && r.matches(&needle)).collect()
    }

    /// Replaces the rows, keeping the selection when its session is still shown.
    pub fn set_rows(&mut self, rows: Vec<SessionRow>) {
        self.rows = rows;
        self.fix_selection();
    }

    fn fix_selection(&mut self) {
        let visible = self.visible();
        let keep = self.selected.as_ref().is_some_and(|id| visible.iter().any(|r| &r.id == id));
        if !keep {
            self.selected = visible.first().map(|r| r.id.clone());
        }
    }

    /// The selected row, if any is shown.
    pub fn current(&self) -> Option<&SessionRow> {
        let id = self.selected.as_ref()?;
        self.rows.iter().find(|r| &r.id == id)
    }

    fn step(&mut self, by: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let at = self.selected.as_ref().and_then(|id| visible.iter().position(|r| &r.id == id)).unwrap_or(0);
        let next = at.saturating_add_signed(by).min(visible.len() - 1);
        self.selected = Some(visible[next].id.clone());
    }

    /// Handles one key press; returns what the loop must do.
    pub fn key(&mut self, key: KeyEvent) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(key),
            Mode::Filter => {
                match key.code {
                    KeyCode::Esc => self.filter.clear(),
                    KeyCode::Enter => {}
                    KeyCode::Backspace => {
                        self.filter.pop();
                        self.mode = Mode::Filter;
                    }
                    KeyCode::Char(c) => {
                        self.filter.push(c);
                        self.mode = Mode::Filter;
                    }
                    _ => self.mode = Mode::Filter,
                }
                self.fix_selection();
                Action::None
            }
            Mode::Send { id, mut text } => match key.code {
                KeyCode::Esc => {
                    self.status = "send cancelled".into();
                    Action::None
                }
                KeyCode::Enter => Action::Send(id, text),
                KeyCode::Backspace => {
                    text.pop();
                    self.mode = Mode::Send { id, text };
                    Action::None
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    self.mode = Mode::Send { id, text };
                    Action::None
                }
                _ => {
                    self.mode = Mode::Send { id, text };
                    Action::None
                }
            },
            Mode::Confirm { id } => {
                if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    Action::Terminate(id)
                } else {
                    self.status = "terminate cancelled".into();
                    Action::None
                }
            }
            Mode::Diff { id, lines, scroll } => {
                let scroll = match key.code {
                    KeyCode::Esc | KeyCode::Char('q' | 'd') => return Action::None,
                    KeyCode::Down | KeyCode::Char('j') => scroll + 1,
                    KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
                    KeyCode::PageDown | KeyCode::Char(' ') => scroll + 10,
                    KeyCode::PageUp => scroll.saturating_sub(10),
                    KeyCode::Home | KeyCode::Char('g') => 0,
                    _ => scroll,
                };
                let scroll = scroll.min(lines.len().saturating_sub(1));
                self.mode = Mode::Diff { id, lines, scroll };
                Action::None
            }
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Action {
        let current = self.current().map(|r| r.id.clone());
        let need = |app: &mut Self| {
            if current.is_none() {
                app.status = "no session selected".into();
            }
            current.clone()
        };
        match key.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Down | KeyCode::Char('j') => {
                self.step(1);
                Action::None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.step(-1);
                Action::None
            }
            KeyCode::Home | KeyCode::Char('g') => {
                self.step(isize::MIN);
                Action::None
            }
            KeyCode::End | KeyCode::Char('G') => {
                self.step(isize::MAX);
                Action::None
            }
            KeyCode::Char('/') => {
                self.mode = Mode::Filter;
                Action::None
            }
            KeyCode::Esc => {
                self.filter.clear();
                self.fix_selection();
                Action::None
            }
            KeyCode::Char('a') => {
                self.all = !self.all;
                self.fix_selection();
                self.status = if self.all {
                    "showing all coordinators".into()
                } else {
                    format!("showing {}'s sessions", self.me)
                };
                Action::Reload
            }
            KeyCode::Enter => need(self).map_or(Action::None, Action::Attach),
            KeyCode::Char('s') => {
                if let Some(id) = need(self) {
                    self.mode = Mode::Send { id, text: String::new() };
                }
                Action::None
            }
            KeyCode::Char('i') => need(self).map_or(Action::None, Action::Interrupt),
            KeyCode::Char('t') => {
                if let Some(id) = need(self) {
                    self.mode = Mode::Confirm { id };
                }
                Action::None
            }
            KeyCode::Char('d') => need(self).map_or(Action::None, Action::Diff),
            _ => Action::None,
        }
    }
}

/// `12s`, `3m`, `5h`, `2d`: how long ago `ts` was.
pub fn short_age(ts: &str, now: OffsetDateTime) -> String {
    let Some(then) = agentpool_core::util::parse_ts(ts) else { return "-".into() };
    let secs = (now - then).whole_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// `text` cut to `width` characters, an ellipsis marking the cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return format!("{text:<width$}");
    }
    if width == 0 {
        return String::new();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

/// A column of the session table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Id,
    Provider,
    Model,
    State,
    Needs,
    Event,
    Age,
    Where,
    Coordinator,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Id => "ID",
            Col::Provider => "PROVIDER",
            Col::Model => "MODEL",
            Col::State => "STATE",
            Col::Needs => "NEEDS",
            Col::Event => "LAST EVENT",
            Col::Age => "AGE",
            Col::Where => "WHERE",
            Col::Coordinator => "COORD",
        }
    }

    fn cell(self, r: &SessionRow, now: OffsetDateTime) -> String {
        match self {
            Col::Id => r.id.clone(),
            Col::Provider => r.provider.clone(),
            Col::Model => r.model.clone(),
            Col::State => r.state.clone(),
            Col::Needs => r.needs_you().unwrap_or("").to_owned(),
            Col::Event => agentpool_core::notify::event_name(&r.last_event).to_owned(),
            Col::Age => short_age(&r.last_event_at, now),
            Col::Where => r.place().to_owned(),
            Col::Coordinator => r.coordinator.clone(),
        }
    }
}

/// Which columns fit in `width` (after the one-character selection mark) and how wide each
/// is, in display order. The essentials (id, state, what needs you, age) come first; the rest
/// join by priority while they fit, and the spare width goes to `WHERE`, else `LAST EVENT`.
pub fn columns(width: u16) -> Vec<(Col, usize)> {
    const ORDER: [Col; 9] = [
        Col::Id,
        Col::Provider,
        Col::Model,
        Col::State,
        Col::Needs,
        Col::Event,
        Col::Age,
        Col::Where,
        Col::Coordinator,
    ];
    // (column, width, priority)
    let wanted = [
        (Col::Id, 15, 0),
        (Col::State, 19, 0),
        (Col::Needs, 7, 0),
        (Col::Age, 4, 1),
        (Col::Provider, 13, 2),
        (Col::Event, 12, 3),
        (Col::Where, 12, 4),
        (Col::Model, 14, 5),
        (Col::Coordinator, 12, 6),
    ];
    let mut left = usize::from(width).saturating_sub(1);
    let mut chosen: Vec<(Col, usize)> = Vec::new();
    for (col, w, _) in wanted {
        // Each column after the first is preceded by one space.
        let cost = w + usize::from(!chosen.is_empty());
        if cost <= left {
            left -= cost;
            chosen.push((col, w));
        }
    }
    if let Some(grow) = chosen.iter_mut().find(|(c, _)| *c == Col::Where) {
        grow.1 += left;
    } else if let Some(grow) = chosen.iter_mut().find(|(c, _)| *c == Col::Event) {
        let more = left.min(10);
        grow.1 += more;
    }
    chosen.sort_by_key(|(c, _)| ORDER.iter().position(|o| o == c));
    chosen
}

fn state_style(state: &str, colour: bool) -> Style {
    use ratatui::style::Color;
    if !colour {
        return Style::default();
    }
    match state {
        "COMPLETED" => Style::default().fg(Color::Green),
        "FAILED" => Style::default().fg(Color::Red),
        "AWAITING_USER_INPUT" | "AWAITING_APPROVAL" | "BLOCKED" => {
            Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        }
        "RUNNING" | "READY" | "STARTING" => Style::default().fg(Color::Cyan),
        "CANCELLED" => Style::default().add_modifier(Modifier::DIM),
        _ => Style::default(),
    }
}

fn needs_style(colour: bool) -> Style {
    if colour {
        Style::default().fg(ratatui::style::Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    }
}

/// Draws the whole dashboard for `now`.
pub fn draw(f: &mut Frame<'_>, app: &App, now: OffsetDateTime) {
    let area = f.area();
    if area.height < 6 || area.width < 20 {
        f.render_widget(Paragraph::new("agentpool watch: the terminal is too small"), area);
        return;
    }
    let visible = app.visible();
    let waiting = visible.iter().filter(|r| r.needs_you().is_some()).count();
    let line = |y: u16| Rect { x: area.x, y: area.y + y, width: area.width, height: 1 };

    // Header.
    let scope = if app.all { "all coordinators".to_owned() } else { format!("coordinator {}", app.me) };
    let mut header = format!("agentpool watch · {} sessions · {waiting} need you · {scope}", visible.len());
    if !app.filter.is_empty() || app.mode == Mode::Filter {
        header.push_str(&format!(" · filter: {}", app.filter));
    }
    let bold = if app.colour { Style::default().add_modifier(Modifier::BOLD) } else { Style::default() };
    f.render_widget(Paragraph::new(Span::styled(fit(&header, usize::from(area.width)), bold)), line(0));

    // Usage headroom.
    let usage = if app.usage.is_empty() {
        "usage: no stored snapshots (run `agentpool usage`)".to_owned()
    } else {
        let parts: Vec<String> = app
            .usage
            .iter()
            .map(|u| format!("{} {} ({})", u.provider, u.text, short_age(&u.checked_at, now)))
            .collect();
        format!("usage: {}", parts.join(" · "))
    };
    f.render_widget(Paragraph::new(fit(&usage, usize::from(area.width))), line(1));

    // Bottom lines: status, then keys or the prompt.
    let (prompt, prompt_style) = match &app.mode {
        Mode::Normal => {
            ("enter:attach s:send i:interrupt t:terminate d:diff /:filter a:scope q:quit".to_owned(), Style::default())
        }
        Mode::Filter => (format!("filter: {}▏ (enter keeps, esc clears)", app.filter), bold),
        Mode::Send { id, text } => (format!("send to {id}: {text}▏ (enter sends, esc cancels)"), bold),
        Mode::Confirm { id } => (format!("terminate {id}? y/n"), needs_style(app.colour).add_modifier(Modifier::BOLD)),
        Mode::Diff { .. } => ("diff: ↑/↓ pgup/pgdn scroll · esc back".to_owned(), Style::default()),
    };
    let status = if app.status.is_empty() { String::new() } else { app.status.clone() };
    f.render_widget(Paragraph::new(fit(&status, usize::from(area.width))), line(area.height - 2));
    f.render_widget(
        Paragraph::new(Span::styled(fit(&prompt, usize::from(area.width)), prompt_style)),
        line(area.height - 1),
    );

    let body = Rect { x: area.x, y: area.y + 2, width: area.width, height: area.height - 4 };
    if let Mode::Diff { id, lines, scroll } = &app.mode {
        draw_diff(f, body, id, lines, *scroll, app.colour);
        return;
    }

    // The table: a header and the rows, up to about half the body.
    let cols = columns(area.width);
    let max_table = (body.height / 2).max(4);
    let table_h = (u16::try_from(visible.len()).unwrap_or(u16::MAX).saturating_add(1)).clamp(2, max_table);
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut head = String::from(" ");
    for (i, (col, w)) in cols.iter().enumerate() {
        if i > 0 {
            head.push(' ');
        }
        head.push_str(&fit(col.title(), *w));
    }
    lines.push(Line::from(Span::styled(head, bold)));
    let room = usize::from(table_h - 1);
    let at = app.selected.as_ref().and_then(|id| visible.iter().position(|r| &r.id == id)).unwrap_or(0);
    // Scroll so the selected row stays on screen.
    let first = at.saturating_sub(room.saturating_sub(1));
    for r in visible.iter().skip(first).take(room) {
        let selected = app.selected.as_deref() == Some(r.id.as_str());
        let mut spans = vec![Span::raw(if selected { ">" } else { " " })];
        for (i, (col, w)) in cols.iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw(" "));
            }
            let text = fit(&col.cell(r, now), *w);
            let style = match col {
                Col::State => state_style(&r.state, app.colour),
                Col::Needs => needs_style(app.colour),
                _ => Style::default(),
            };
            spans.push(Span::styled(text, style));
        }
        let mut line = Line::from(spans);
        if selected && app.colour {
            line = line.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    if visible.is_empty() {
        let why = if app.rows.is_empty() { "no sessions yet" } else { "no session matches" };
        lines.push(Line::from(format!(" {why}")));
    }
    let table = Rect { height: table_h, ..body };
    f.render_widget(Paragraph::new(lines), table);

    // The selected worker's screen.
    let pane = Rect { y: body.y + table_h, height: body.height - table_h, ..body };
    let title = match app.current() {
        Some(r) => {
            let mut parts = vec![r.id.clone(), r.provider.clone()];
            if !r.model.is_empty() {
                parts.push(r.model.clone());
            }
            if !r.coordinator.is_empty() {
                parts.push(format!("coord {}", r.coordinator));
            }
            parts.push(r.place().to_owned());
            format!(" {} ", parts.join(" · "))
        }
        None => " no session selected ".to_owned(),
    };
    let block = Block::default().borders(Borders::TOP).title(fit(&title, usize::from(area.width).saturating_sub(2)));
    let inner = block.inner(pane);
    f.render_widget(block, pane);
    let height = usize::from(inner.height);
    let shown: Vec<&str> = app.preview.trim_end().lines().collect();
    let tail: Vec<Line<'_>> = shown[shown.len().saturating_sub(height)..]
        .iter()
        .map(|l| Line::from(fit(l, usize::from(inner.width)).trim_end().to_owned()))
        .collect();
    f.render_widget(Paragraph::new(tail), inner);
}

fn draw_diff(f: &mut Frame<'_>, area: Rect, id: &str, lines: &[String], scroll: usize, colour: bool) {
    use ratatui::style::Color;
    let block = Block::default().borders(Borders::TOP).title(format!(" diff of {id} "));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let shown: Vec<Line<'_>> = lines
        .iter()
        .skip(scroll)
        .take(usize::from(inner.height))
        .map(|l| {
            let style = match l.as_bytes().first() {
                Some(b'+') if colour && !l.starts_with("+++") => Style::default().fg(Color::Green),
                Some(b'-') if colour && !l.starts_with("---") => Style::default().fg(Color::Red),
                _ => Style::default(),
            };
            Line::from(Span::styled(fit(l, usize::from(inner.width)).trim_end().to_owned(), style))
        })
        .collect();
    f.render_widget(Paragraph::new(shown), inner);
}

/// The diff view's lines: the diffstat, a blank line, then the diff itself (at most
/// [`MAX_DIFF_LINES`] lines), redacted and without control characters.
pub fn diff_lines(diff: &str) -> Vec<String> {
    let stat = output::render_diffstat(&output::diffstat(diff.as_bytes()), false);
    let mut out: Vec<String> = stat.lines().map(str::to_owned).collect();
    if out.len() <= 1 {
        return vec!["no changes".to_owned()];
    }
    out.push(String::new());
    let safe = agentpool_core::session::collect::safe_text(&agentpool_core::redact::redact(diff));
    out.extend(safe.lines().take(MAX_DIFF_LINES).map(str::to_owned));
    out
}

/// The rows and usage lines the dashboard shows, read from the store (reads only).
async fn load(ctx: &Context) -> Result<(Vec<SessionRow>, Vec<UsageLine>)> {
    let rows = ctx
        .manager
        .store()
        .call(|c| store::board(c, &SessionFilter::default(), MAX_ROWS))
        .await?
        .into_iter()
        .map(SessionRow::from_board)
        .collect();
    let usage = agentpool_core::usage::latest(ctx.manager.store(), None)
        .await?
        .into_values()
        .map(|s| UsageLine {
            text: agentpool_core::usage::summary_text(&s),
            provider: s.provider_id,
            checked_at: s.checked_at,
        })
        .collect();
    Ok((rows, usage))
}

/// Puts the terminal back however the dashboard ends (also on panic).
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> Result<Self> {
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| Error::io("could not switch the terminal to raw mode", &e))?;
        let guard = Self;
        crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen, crossterm::cursor::Hide)
            .map_err(|e| Error::io("could not switch to the alternate screen", &e))?;
        Ok(guard)
    }
}

fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::terminal::LeaveAlternateScreen, crossterm::cursor::Show);
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// `agentpool watch`.
pub async fn watch(ctx: &Context, a: WatchArgs, json: bool) -> Result<Out> {
    let scope = agentpool_core::scope::parse_scope(&a.scope)?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::new(ErrorCode::InvalidOutput, "`agentpool watch` needs a terminal on stdin and stdout")
            .with("example", "agentpool sessions --json"));
    }
    if json {
        return Err(Error::new(ErrorCode::InvalidOutput, "`agentpool watch` is interactive and has no JSON output")
            .with("example", "agentpool sessions --json"));
    }
    let mut app =
        App::new(ctx.manager.coordinator_id(), scope == agentpool_core::scope::Scope::All, output::colour_enabled());
    let lockdown = ctx.lockdown();
    let guard = TerminalGuard::enter()?;
    // A panic message must land on the normal screen, not the alternate one.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous_hook(info);
    }));
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut terminal = ratatui::Terminal::new(backend).map_err(|e| Error::io("could not set up the terminal", &e))?;
    let result = run_loop(ctx, &mut app, &mut terminal, lockdown).await;
    drop(terminal);
    drop(guard);
    result.map(|()| Out::new(json!({"ok": true}), String::new()))
}

type Term = ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>;

/// What decides when the selected worker's screen is captured again.
#[derive(Default)]
struct PreviewState {
    id: Option<String>,
    log_len: Option<u64>,
    at: Option<Instant>,
}

async fn run_loop(ctx: &Context, app: &mut App, terminal: &mut Term, lockdown: bool) -> Result<()> {
    let store = ctx.manager.store().clone();
    let mut version: Option<i64> = None;
    let mut reload = true;
    let mut preview = PreviewState::default();
    let mut drawn_second = -1_i64;
    let mut dirty = true;
    loop {
        // Another connection committed: read the rows again. Our own writes (send, terminate)
        // do not move the counter, so actions ask for a reload themselves.
        let now_version = store.call(|c| store::data_version(c)).await?;
        if reload || version != Some(now_version) {
            version = Some(now_version);
            reload = false;
            let (rows, usage) = load(ctx).await?;
            app.set_rows(rows);
            app.usage = usage;
            dirty = true;
        }
        if refresh_preview(ctx, app, &mut preview, lockdown).await {
            dirty = true;
        }
        let now = OffsetDateTime::now_utc();
        if dirty || now.unix_timestamp() != drawn_second {
            terminal.draw(|f| draw(f, app, now)).map_err(|e| Error::io("could not draw", &e))?;
            drawn_second = now.unix_timestamp();
            dirty = false;
        }
        if !event::poll(TICK).map_err(|e| Error::io("could not read the keyboard", &e))? {
            continue;
        }
        // Every key already typed, then one refresh.
        loop {
            match event::read().map_err(|e| Error::io("could not read the keyboard", &e))? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    dirty = true;
                    match app.key(k) {
                        Action::None => {}
                        Action::Quit => return Ok(()),
                        Action::Reload => reload = true,
                        action => {
                            perform(ctx, app, terminal, action).await;
                            reload = true;
                            preview.at = None;
                        }
                    }
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
            if !event::poll(Duration::ZERO).map_err(|e| Error::io("could not read the keyboard", &e))? {
                break;
            }
        }
    }
}

/// Captures the selected worker's screen again when the selection changed or its raw log
/// grew (at most every [`PREVIEW_EVERY`]). Returns whether the preview changed.
async fn refresh_preview(ctx: &Context, app: &mut App, state: &mut PreviewState, lockdown: bool) -> bool {
    let Some(row) = app.current().cloned() else {
        let changed = !app.preview.is_empty();
        app.preview.clear();
        state.id = None;
        return changed;
    };
    if lockdown {
        let text = "worker text withheld: lockdown is on (AGENTPOOL_LOCKDOWN / policy.lockdown)".to_owned();
        let changed = app.preview != text;
        app.preview = text;
        return changed;
    }
    let log_len = std::fs::metadata(ArtifactDir::new(&row.artifact_dir).raw_log()).ok().map(|m| m.len());
    let same_session = state.id.as_deref() == Some(row.id.as_str());
    let due = state.at.is_none_or(|t| t.elapsed() >= PREVIEW_EVERY);
    if same_session && (state.log_len == log_len || !due) {
        return false;
    }
    state.id = Some(row.id.clone());
    state.log_len = log_len;
    state.at = Some(Instant::now());
    let text = ctx.manager.preview(&row.id).await.unwrap_or_else(|e| format!("(no screen: {})", e.message));
    let changed = app.preview != text;
    app.preview = text;
    changed
}

/// Runs an action the way its command does, and reports the outcome on the status line.
async fn perform(ctx: &Context, app: &mut App, terminal: &mut Term, action: Action) {
    let outcome = match action {
        Action::Attach(id) => attach(ctx, terminal, &id).await,
        Action::Send(id, text) => {
            let args = SendArgs { session_id: id.clone(), message: Some(text), stdin: false };
            commands::send(ctx, args).await.map(|_| format!("sent to {id}"))
        }
        Action::Interrupt(id) => {
            let args = InterruptArgs { session_id: id.clone(), dry_run: false };
            commands::interrupt(ctx, args).await.map(|_| format!("interrupted {id}"))
        }
        Action::Terminate(id) => {
            let args = TerminateArgs { session_id: id.clone(), dry_run: false };
            commands::terminate(ctx, args)
                .await
                .map(|r| format!("terminated {id}: {}", r.json["state"].as_str().unwrap_or("")))
        }
        Action::Diff(id) => match diff(ctx, &id).await {
            Ok(lines) => {
                app.mode = Mode::Diff { id: id.clone(), lines, scroll: 0 };
                Ok(format!("collected {id}"))
            }
            Err(e) => Err(e),
        },
        Action::None | Action::Quit | Action::Reload => return,
    };
    app.status = match outcome {
        Ok(s) => s,
        Err(e) => format!("error {}: {}", e.code.as_str(), e.message),
    };
}

/// Collects the session (as `agentpool collect` does) and reads its diff.
async fn diff(ctx: &Context, id: &str) -> Result<Vec<String>> {
    let r = ctx.manager.collect(id, true, true, false).await?;
    let path = r.artifacts.into_iter().find(|a| a.kind == "diff").map(|a| a.path);
    let Some(path) = path else { return Ok(vec!["no diff was collected".to_owned()]) };
    let text = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        let file = std::fs::File::open(&path).map_err(|e| Error::io(format_args!("could not read `{path}`"), &e))?;
        // Bounded: the view shows a few thousand lines at most.
        file.take(4 << 20).read_to_end(&mut buf).map_err(|e| Error::io(format_args!("could not read `{path}`"), &e))?;
        Ok::<_, Error>(String::from_utf8_lossy(&buf).into_owned())
    })
    .await
    .map_err(|e| Error::new(ErrorCode::IoFailed, format!("diff reader failed: {e}")))??;
    Ok(diff_lines(&text))
}

/// Leaves the dashboard for the worker's tmux session and comes back when the user detaches.
async fn attach(ctx: &Context, terminal: &mut Term, id: &str) -> Result<String> {
    let r = ctx.manager.attach(id).await?;
    match commands::attach_client(ctx, id, &r).await? {
        AttachClient::Switch(mut switch) => {
            commands::run_switch(&mut switch, &r)?;
            Ok(format!("switched this tmux client to {id}"))
        }
        AttachClient::Attach(mut client) => {
            restore_terminal();
            let status = client.status();
            let back = TerminalGuard::enter().map(std::mem::forget);
            let _ = terminal.clear();
            back?;
            let status = status.map_err(|e| Error::io("could not run tmux attach-session", &e))?;
            if status.success() {
                Ok(format!("detached from {id}"))
            } else {
                Err(Error::new(ErrorCode::IoFailed, format!("tmux attach-session exited {status}")))
            }
        }
    }
}

#[cfg(test)]
mod tests;
