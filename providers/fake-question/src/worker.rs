//! Built-in fake coding agents that run in a tmux pane in place of a real agent CLI.
//!
//! Every fake announces itself, reads the AgentPool initial prompt from its terminal (up to the
//! line that is exactly `Task:` and the task after it), then plays one scripted scenario and
//! prints a result block. The output is plain text so screen detection sees exactly these lines.
//!
//! Differences from the reference fakes, made on purpose:
//! * The whole task is consumed, not only its first line, so the second line of a multi-line
//!   task is never taken as the steering answer. On a real terminal the prompt is pasted in one
//!   burst, so [`run`] discards every further line arriving within 30 ms of the previous one.
//!   [`run_with`] cannot time its input, so it discards up to and including the first empty
//!   line after the task (or to EOF): test input separates the task from any answer with a
//!   blank line.
//! * After printing the result the fake exits at once; the tmux runtime keeps the dead pane's
//!   last screen and exit status. Only fake-idle lingers.
//! * Input closing before the task arrives exits 2; closing where an answer is expected exits 3.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Which fake behaviour to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    Question,
    Approval,
    Completed,
    Idle,
    Limit,
    Patch,
    /// A CLI that reports through hooks (see [`crate::hooks`]).
    Hooks,
}

impl FakeKind {
    /// Every fake, in provider-catalog order.
    pub const ALL: [FakeKind; 7] = [
        FakeKind::Question,
        FakeKind::Approval,
        FakeKind::Completed,
        FakeKind::Idle,
        FakeKind::Limit,
        FakeKind::Patch,
        FakeKind::Hooks,
    ];

    /// Maps a provider id such as `fake-question` to its fake; `None` for any other id.
    pub fn from_provider_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.provider_id() == id)
    }

    /// The provider id this fake is registered under.
    pub fn provider_id(self) -> &'static str {
        match self {
            FakeKind::Question => "fake-question",
            FakeKind::Approval => "fake-approval",
            FakeKind::Completed => "fake-completed",
            FakeKind::Idle => "fake-idle",
            FakeKind::Limit => "fake-limit",
            FakeKind::Patch => "fake-patch",
            FakeKind::Hooks => crate::hooks::ID,
        }
    }

    /// The word used in the `Fake <Name> Agent ready.` banner.
    fn display_name(self) -> &'static str {
        match self {
            FakeKind::Question => "Question",
            FakeKind::Approval => "Approval",
            FakeKind::Completed => "Completed",
            FakeKind::Idle => "Idle",
            FakeKind::Limit => "Limit",
            FakeKind::Patch => "Patch",
            FakeKind::Hooks => "Hooks",
        }
    }
}

/// Pause before exiting so tmux has read everything we printed.
const EXIT_GRACE: Duration = Duration::from_millis(150);

/// Exit code when the input ends before the initial prompt's task arrived.
const EXIT_NO_PROMPT: i32 = 2;
/// Exit code when the input ends while the fake waits for an answer.
const EXIT_NO_ANSWER: i32 = 3;
/// Exit code of [`run`] when the terminal or the working directory cannot be used.
const EXIT_IO_FAILURE: i32 = 1;

/// Quiet period (ms) that marks the end of a pasted prompt on a real terminal.
const DRAIN_WINDOW_MS: u8 = 30;
/// How long fake-idle keeps its pane alive under [`run`].
const IDLE_LINGER: Duration = Duration::from_secs(30);
/// File written by fake-patch in its working directory.
const PATCH_FILE: &str = "agentpool_fake_patch.txt";
const PATCH_CONTENT: &str = "patched by fake agent\n";
const QUESTION_LINE: &str = "I found two possible paths. Should I inspect migrations or auth middleware first?";

/// Runs the fake on this process's stdin/stdout (a tmux pane); returns the process exit code.
pub fn run(kind: FakeKind) -> i32 {
    if kind == FakeKind::Hooks {
        return crate::hooks::run();
    }
    match run_on_terminal(kind) {
        Ok(code) => {
            // Output written in the instant a process exits can be lost between the terminal
            // and tmux; a short pause lets tmux read the final lines before the pane closes.
            std::thread::sleep(EXIT_GRACE);
            code
        }
        Err(err) => {
            eprintln!("fake agent: I/O failure: {err}");
            EXIT_IO_FAILURE
        }
    }
}

/// Testable core: same behaviour over any reader/writer and working dir.
///
/// The rest of a multi-line task is discarded up to and including the first empty line after
/// the task's first line (or to EOF); `linger` is how long fake-idle sleeps.
pub fn run_with(
    kind: FakeKind,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    cwd: &Path,
    linger: Duration,
) -> io::Result<i32> {
    let mut input = input;
    run_core(kind, &mut input, output, cwd, linger, |reader| drain_to_blank_line(&mut **reader))
}

fn run_on_terminal(kind: FakeKind) -> io::Result<i32> {
    let cwd = std::env::current_dir()?;
    // Read through our own descriptor, not `Stdin`, so that the only read-ahead buffer is the
    // one `drain_paste_burst` can inspect.
    let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut input = BufReader::new(stdin);
    let mut output = io::stdout().lock();
    run_core(kind, &mut input, &mut output, &cwd, IDLE_LINGER, drain_paste_burst)
}

/// The scenario shared by both entry points; `drain` discards the rest of the task once its
/// first line has been read.
fn run_core<R: BufRead>(
    kind: FakeKind,
    input: &mut R,
    output: &mut dyn Write,
    cwd: &Path,
    linger: Duration,
    mut drain: impl FnMut(&mut R) -> io::Result<()>,
) -> io::Result<i32> {
    say(output, &format!("Fake {} Agent ready.", kind.display_name()))?;
    if !read_task(input)? {
        say(output, "Fake agent error: input ended before the task was received.")?;
        return Ok(EXIT_NO_PROMPT);
    }
    drain(input)?;

    match kind {
        FakeKind::Question => {
            say(output, QUESTION_LINE)?;
            let Some(answer) = read_line(input)? else {
                return no_answer(output);
            };
            say(output, &format!("Steering received: {answer}"))?;
            print_result(output, "Question path completed after steering.", "None")?;
        }
        FakeKind::Approval => {
            say(output, "Proceed? [y/N]")?;
            let Some(answer) = read_line(input)? else {
                return no_answer(output);
            };
            say(output, &format!("Approval answer: {answer}"))?;
            print_result(output, "Approval flow completed.", "None")?;
        }
        FakeKind::Completed => print_result(output, "Completed immediately.", "None")?,
        FakeKind::Idle => {
            say(output, "Working...")?;
            std::thread::sleep(linger);
        }
        FakeKind::Limit => {
            say(output, "Approaching 5-hour limit - resets 5pm.")?;
            print_result(output, "Limit warning emitted.", "None")?;
        }
        FakeKind::Patch => {
            std::fs::write(cwd.join(PATCH_FILE), PATCH_CONTENT)?;
            print_result(output, "Patch file written.", PATCH_FILE)?;
        }
        // Its own turn loop, with hooks: `crate::hooks::run_with`.
        FakeKind::Hooks => say(output, "fake-hooks reports through hooks; see `hooks::run_with`.")?,
    }
    Ok(0)
}

/// Consumes the prompt through the first line that is exactly `Task:` (ignoring surrounding
/// whitespace) and the task's first line. Returns false if the input ends before both arrive.
fn read_task(input: &mut impl BufRead) -> io::Result<bool> {
    while let Some(line) = read_line(input)? {
        if line.trim() == "Task:" {
            return Ok(read_line(input)?.is_some());
        }
    }
    Ok(false)
}

/// Reads one line without its line ending; `None` at EOF. Invalid UTF-8 is replaced, not fatal.
fn read_line(input: &mut (impl BufRead + ?Sized)) -> io::Result<Option<String>> {
    let mut bytes = Vec::new();
    if input.read_until(b'\n', &mut bytes)? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&bytes);
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
}

/// Test-mode drain: discards lines up to and including the first empty one, or to EOF.
fn drain_to_blank_line(input: &mut dyn BufRead) -> io::Result<()> {
    while let Some(line) = read_line(input)? {
        if line.trim().is_empty() {
            break;
        }
    }
    Ok(())
}

/// Terminal-mode drain: discards lines while each one follows the previous within
/// [`DRAIN_WINDOW_MS`]. Lines already read ahead into the buffer count as arrived.
fn drain_paste_burst<R: Read + AsFd>(input: &mut BufReader<R>) -> io::Result<()> {
    loop {
        let pending = !input.buffer().is_empty();
        if !pending && !readable_soon(input.get_ref().as_fd())? {
            return Ok(());
        }
        if read_line(input)?.is_none() {
            return Ok(());
        }
    }
}

/// Whether `fd` becomes readable (or hung up) within the drain window.
fn readable_soon(fd: BorrowedFd<'_>) -> io::Result<bool> {
    loop {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(DRAIN_WINDOW_MS)) {
            Ok(ready) => return Ok(ready > 0),
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

fn no_answer(output: &mut dyn Write) -> io::Result<i32> {
    say(output, "Fake agent error: input ended while waiting for an answer.")?;
    Ok(EXIT_NO_ANSWER)
}

/// Writes one line and flushes it so the pane shows it at once.
fn say(output: &mut dyn Write, line: &str) -> io::Result<()> {
    writeln!(output, "{line}")?;
    output.flush()
}

/// Prints the completion block that AgentPool's result extraction looks for.
fn print_result(output: &mut dyn Write, summary: &str, files_changed: &str) -> io::Result<()> {
    let block = format!(
        "AGENTPOOL_RESULT_START\nSummary:\n{summary}\nFindings:\nFake provider completed.\n\
         Files inspected:\nNone\nFiles changed:\n{files_changed}\nCommands run:\nfake-agent\n\
         Tests run:\nNone\nBlockers:\nNone\nConfidence:\nhigh\nAGENTPOOL_RESULT_END"
    );
    block.lines().try_for_each(|line| say(output, line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const PROMPT_HEAD: &str = "You are running as a delegated worker session under AgentPool.\n\
        \nRole: worker\n\nAGENTPOOL_RESULT_START\nSummary:\nAGENTPOOL_RESULT_END\n\n";

    /// A fresh, empty directory under the system temp dir.
    fn scratch_dir() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("agentpool-fakes-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    /// Runs `kind` on `input` in a scratch dir; returns the exit code, the output lines and the
    /// patch file's content if one was written.
    fn drive(kind: FakeKind, input: &str) -> (i32, Vec<String>, Option<String>) {
        let dir = scratch_dir();
        let mut out = Vec::new();
        let code = run_with(kind, &mut input.as_bytes(), &mut out, &dir, Duration::ZERO).expect("fake I/O");
        let patch = std::fs::read_to_string(dir.join(PATCH_FILE)).ok();
        std::fs::remove_dir_all(&dir).expect("remove scratch dir");
        let text = String::from_utf8(out).expect("utf-8 output");
        assert!(!text.contains('\x1b'), "plain text only");
        (code, text.lines().map(str::to_owned).collect(), patch)
    }

    /// `lines` followed by the literal result block for `summary` / `changed`.
    fn with_result(lines: &[&str], summary: &str, changed: &str) -> Vec<String> {
        #[rustfmt::skip]
        let block = [
            "AGENTPOOL_RESULT_START", "Summary:", summary, "Findings:", "Fake provider completed.",
            "Files inspected:", "None", "Files changed:", changed, "Commands run:", "fake-agent",
            "Tests run:", "None", "Blockers:", "None", "Confidence:", "high",
            "AGENTPOOL_RESULT_END",
        ];
        lines.iter().chain(&block).map(|s| s.to_string()).collect()
    }

    /// A prompt whose task ends with the blank sentinel, followed by `answer`.
    fn prompt(task: &str, answer: &str) -> String {
        format!("{PROMPT_HEAD}Task:\n{task}\n\n{answer}")
    }

    #[test]
    fn provider_ids_round_trip() {
        for kind in FakeKind::ALL {
            assert_eq!(FakeKind::from_provider_id(kind.provider_id()), Some(kind));
        }
        assert_eq!(FakeKind::from_provider_id("fake-nope"), None);
    }

    #[test]
    fn question_and_approval_use_the_answer() {
        let (code, lines, _) = drive(FakeKind::Question, &prompt("Fix login", "migrations\n"));
        let head = ["Fake Question Agent ready.", QUESTION_LINE, "Steering received: migrations"];
        assert_eq!(code, 0);
        assert_eq!(lines, with_result(&head, "Question path completed after steering.", "None"));

        let (code, lines, _) = drive(FakeKind::Approval, &prompt("Deploy", "y\n"));
        let head = ["Fake Approval Agent ready.", "Proceed? [y/N]", "Approval answer: y"];
        assert_eq!(code, 0);
        assert_eq!(lines, with_result(&head, "Approval flow completed.", "None"));
    }

    #[test]
    fn multi_line_task_is_not_taken_as_the_answer() {
        let task = "Investigate the login bug.\nCheck both layers.\n  - is it the cache?";
        let (code, lines, _) = drive(FakeKind::Question, &prompt(task, "auth middleware\n"));
        assert_eq!((code, lines[2].as_str()), (0, "Steering received: auth middleware"));
    }

    #[test]
    fn scripts_without_questions() {
        let input = prompt("Do it", "");
        let (code, lines, patch) = drive(FakeKind::Completed, &input);
        let want = with_result(&["Fake Completed Agent ready."], "Completed immediately.", "None");
        assert_eq!((code, lines, patch), (0, want, None));

        let (code, lines, _) = drive(FakeKind::Idle, &input);
        assert_eq!((code, lines), (0, vec!["Fake Idle Agent ready.".into(), "Working...".into()]));

        let (code, lines, _) = drive(FakeKind::Limit, &input);
        let head = ["Fake Limit Agent ready.", "Approaching 5-hour limit - resets 5pm."];
        assert_eq!((code, lines), (0, with_result(&head, "Limit warning emitted.", "None")));

        let (code, lines, patch) = drive(FakeKind::Patch, &input);
        let want = with_result(&["Fake Patch Agent ready."], "Patch file written.", PATCH_FILE);
        assert_eq!((code, lines), (0, want));
        assert_eq!(patch.as_deref(), Some("patched by fake agent\n"));
    }

    #[test]
    fn task_marker_must_be_the_whole_line() {
        // Surrounding whitespace and CRLF are fine; `Task:` followed by text is not the marker.
        let (code, lines, _) = drive(FakeKind::Approval, "  Task:  \r\nx\r\n\r\nno\r\n");
        assert_eq!((code, lines[2].as_str()), (0, "Approval answer: no"));
        let (code, _, _) = drive(FakeKind::Completed, "Task: do it\nmore\n");
        assert_eq!(code, EXIT_NO_PROMPT);
    }

    #[test]
    fn eof_before_the_task_exits_2() {
        for input in ["", "Role: worker\n", "Task:\n"] {
            for kind in FakeKind::ALL {
                let (code, lines, patch) = drive(kind, input);
                assert_eq!((code, lines.len(), patch), (EXIT_NO_PROMPT, 2, None), "{kind:?} {input:?}");
                assert!(lines[1].starts_with("Fake agent error:"));
            }
        }
    }

    #[test]
    fn eof_instead_of_an_answer_exits_3() {
        for kind in [FakeKind::Question, FakeKind::Approval] {
            for input in [prompt("Task body", ""), "Task:\nbody\nmore body\n".to_owned()] {
                let (code, lines, _) = drive(kind, &input);
                assert_eq!((code, lines.len()), (EXIT_NO_ANSWER, 3), "{kind:?} {input:?}");
                assert!(lines[2].starts_with("Fake agent error:"));
            }
        }
    }

    #[test]
    fn terminal_drain_discards_the_burst_but_not_later_input() {
        let (mut writer, reader) = UnixStream::pair().expect("socket pair");
        let mut input = BufReader::new(reader);
        // After the task line is read, "line two" already sits in the BufReader's buffer.
        writer.write_all(b"Task:\nline one\nline two\n").expect("write");
        assert!(read_task(&mut input).expect("read task"));
        writer.write_all(b"line three\n").expect("write");
        drain_paste_burst(&mut input).expect("drain");
        // Input is quiet now, so the drain returned; the next line is the answer.
        writer.write_all(b"migrations\n").expect("write");
        assert_eq!(read_line(&mut input).expect("read").as_deref(), Some("migrations"));
        drop(writer);
        drain_paste_burst(&mut input).expect("drain at EOF");
        assert_eq!(read_line(&mut input).expect("read"), None);
    }
}
