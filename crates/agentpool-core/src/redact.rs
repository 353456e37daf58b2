//! Secret scrubbing for worker output: everything AgentPool stores or returns from a worker's
//! screen (transcripts, excerpts, diffs) passes through [`redact`] first.
//!
//! Rules run in a fixed order and each replaces the secret part with `[REDACTED]`, keeping the
//! label in front of it (`api_key=`, `Authorization: Bearer `, `AKIA`) so a reader can still
//! tell what was there. Applying the rules to already-redacted text changes nothing.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use regex::{Captures, Regex};

const MASK: &str = "[REDACTED]";

/// How a rule rewrites one match.
#[derive(Clone, Copy)]
enum Rewrite {
    /// Replace the whole match.
    Whole,
    /// Keep capture group 1, mask the rest.
    KeepFirst,
    /// Keep groups 1 and 2 (a separator and a label), mask the rest.
    KeepFirstTwo,
    /// Keep group 1, mask group 2, keep group 3 (e.g. the `@` after a DSN password).
    KeepAround,
    /// Replace with a fixed text.
    Fixed(&'static str),
    /// Like `KeepFirst`, but only when group 2 looks like a credential rather than a word.
    KeepFirstIfCredential,
}

struct Rule {
    regex: Regex,
    rewrite: Rewrite,
}

fn rule(pattern: &str, rewrite: Rewrite) -> Rule {
    Rule { regex: Regex::new(pattern).expect("built-in redaction pattern must compile"), rewrite }
}

/// Cheap first pass: every rule needs one of these literals, so text without any of them is
/// returned untouched without running the individual rules.
static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)authorization|bearer|token|key|secret|password|://|sk-|akia|asia|gh[opusr]_|github_pat_|aiza|xox[baprs]-|eyj|private key",
    )
    .expect("built-in redaction trigger must compile")
});

/// Name prefixes of credential-like settings (`api_key`, `refresh_token`, `auth-secret`, …).
const NAME_PREFIX: &str = "(?:api|access|refresh|secret|private|session|auth)";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // 1. `Authorization: <scheme> <credential>`: keep header and scheme.
        rule(r"(?i)(authorization:\s*[A-Za-z][A-Za-z0-9._+-]*\s+)[^\s]+", Rewrite::KeepFirst),
        // A bare `Bearer <token>` (curl traces, logs) outside an Authorization header.
        rule(r"(?i)\b(bearer[ \t]+)([A-Za-z0-9._~+/\-]{8,}=*)", Rewrite::KeepFirstIfCredential),
        // 2. `name=value`. The name must start a word or an `_`/`-` separated segment, so
        //    `DB_PASSWORD=` and `AUTH_TOKEN=` match while `monkey=` does not.
        rule(
            &format!(r"(?i)(^|[^\p{{L}}\p{{N}}])({NAME_PREFIX}?_?(?:token|key|secret|password)=)[^\s]+"),
            Rewrite::KeepFirstTwo,
        ),
        // 3. `name: value`, with the same segment anchoring.
        rule(
            &format!(r"(?i)(^|[^\p{{L}}\p{{N}}])({NAME_PREFIX}?[-_ ]?(?:token|key|secret|password):\s*)[^\s]+"),
            Rewrite::KeepFirstTwo,
        ),
        // 4. Password inside a database URL.
        rule(
            r"(?i)((?:postgres|postgresql|mysql|mongodb(?:\+srv)?|rediss?)://[^:\s]+:)([^@\s]+)(@)",
            Rewrite::KeepAround,
        ),
        // 5. OpenAI/Anthropic style keys: nothing of the key survives.
        rule(r"(?i)\bsk-[A-Za-z0-9_\-]{16,}", Rewrite::Fixed("sk-[REDACTED]")),
        // 6. AWS access key ids: the prefix tells long-term from temporary keys, keep it.
        rule(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", Rewrite::KeepFirst),
        // 7. GitHub tokens, classic and fine-grained.
        rule(r"\bgh[opusr]_[A-Za-z0-9_]{20,}\b", Rewrite::Whole),
        rule(r"\bgithub_pat_[A-Za-z0-9_]{20,}\b", Rewrite::Whole),
        // 8. Google API keys.
        rule(r"\bAIza[0-9A-Za-z_\-]{30,}\b", Rewrite::Whole),
        // 9. Slack tokens.
        rule(r"\bxox[baprs]-[A-Za-z0-9-]{20,}\b", Rewrite::Whole),
        // 10. JWTs (three base64url parts, header starting `{"`).
        rule(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\b", Rewrite::Whole),
        // 11. PEM private keys. A key cut off by the end of the capture is masked to the end,
        //     since its body would otherwise leak.
        rule(r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)", Rewrite::Whole),
    ]
});

/// Whether a token after `Bearer` is a credential and not an English word (`Bearer tokens are
/// …`): real tokens are long or contain digits or punctuation.
fn looks_like_credential(token: &str) -> bool {
    token.len() >= 20 || token.chars().any(|c| !c.is_ascii_alphabetic())
}

fn group<'t>(caps: &Captures<'t>, i: usize) -> &'t str {
    caps.get(i).map_or("", |m| m.as_str())
}

impl Rule {
    fn apply<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let rewrite = self.rewrite;
        self.regex.replace_all(text, |caps: &Captures<'_>| match rewrite {
            Rewrite::Whole => MASK.to_owned(),
            Rewrite::KeepFirst => format!("{}{MASK}", group(caps, 1)),
            Rewrite::KeepFirstTwo => format!("{}{}{MASK}", group(caps, 1), group(caps, 2)),
            Rewrite::KeepAround => format!("{}{MASK}{}", group(caps, 1), group(caps, 3)),
            Rewrite::Fixed(text) => text.to_owned(),
            Rewrite::KeepFirstIfCredential => {
                if looks_like_credential(group(caps, 2)) {
                    format!("{}{MASK}", group(caps, 1))
                } else {
                    group(caps, 0).to_owned()
                }
            }
        })
    }
}

/// Masks every secret the rules recognise. Returns the input borrowed when nothing changed.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !TRIGGER.is_match(text) {
        return Cow::Borrowed(text);
    }
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for rule in RULES.iter() {
        if let Cow::Owned(changed) = rule.apply(&out) {
            out = Cow::Owned(changed);
        }
    }
    // A rule can match text that is already masked (`token=[REDACTED]`) and rebuild it
    // unchanged; report that as "nothing to redact".
    if out == text { Cow::Borrowed(text) } else { out }
}

/// Redacts every string inside a JSON value (keys are kept: they are names, not secrets).
pub fn redact_value(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(redact(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(redact_value).collect()),
        Value::Object(m) => Value::Object(redact_map(m)),
        other => other.clone(),
    }
}

/// [`redact_value`] for a JSON object.
pub fn redact_map(map: &serde_json::Map<String, serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    map.iter().map(|(k, v)| (k.clone(), redact_value(v))).collect()
}

/// How long a partial line (a prompt without a newline) waits for its end before the part of
/// it that cannot be a secret in progress is written out, so observers see prompts promptly.
const PARTIAL_LINE_WAIT: Duration = Duration::from_millis(25);
/// How long the tail of a partial line that may still grow into a secret is held back at
/// most. A secret printed in pieces further apart than this can leak its pieces.
pub const TAIL_HOLD: Duration = Duration::from_secs(2);
/// A partial line longer than this is written out without waiting.
const MAX_PENDING: usize = 64 * 1024;

/// The end of a partial line that may still become (part of) a secret once more output
/// arrives: the last whitespace-free run, widened to a label in front of it whose value comes
/// after a space (`Authorization: Basic `, `password: `, `Bearer `, a PEM header).
static OPEN_TAIL: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(
        r"(?i)(?:authorization:[ \t]*(?:[A-Za-z][A-Za-z0-9._+-]*[ \t]+)?|\bbearer[ \t]+|(?:token|key|secret|password)[ \t]*[:=][ \t]*|-----BEGIN[A-Z ]*)?(?-u:[^\s])*\z",
    )
    .expect("built-in redaction pattern must compile")
});
static PEM_BEGIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-----BEGIN [A-Z ]*PRIVATE KEY-----").expect("built-in pattern must compile"));
static PEM_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-----END [A-Z ]*PRIVATE KEY-----").expect("built-in pattern must compile"));

/// The streaming half of the pane filter: bytes in, redacted bytes out, with no I/O and no
/// clock of its own (the caller says how long input has been quiet), so every case is testable.
///
/// Complete lines go out at once. A partial line goes out after a short quiet, except its
/// open tail (see `OPEN_TAIL`), which waits for more output, a newline, the end of input or
/// [`TAIL_HOLD`]. A PEM private key is masked from its header to its footer even when its
/// lines arrive in separate reads.
#[derive(Debug, Default)]
pub struct PipeRedactor {
    pending: Vec<u8>,
    in_private_key: bool,
    /// Bytes dropped since the last private-key header; see [`MAX_KEY_BYTES`].
    key_bytes: usize,
}

/// Longest private-key body dropped while waiting for its footer. Real keys are far smaller
/// (a 16384-bit RSA key is about 13 KB), so text past this is output, not a key, and is
/// written again (still redacted) rather than lost for the rest of the session.
const MAX_KEY_BYTES: usize = 32 * 1024;

impl PipeRedactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether bytes are waiting for more input.
    pub fn is_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How long to wait for more input before calling [`Self::quiet`], given how long input has
    /// been quiet already; `None` when nothing is pending.
    pub fn wait(&self, quiet_for: Duration) -> Option<Duration> {
        if self.pending.is_empty() {
            None
        } else if quiet_for < PARTIAL_LINE_WAIT {
            Some(PARTIAL_LINE_WAIT - quiet_for)
        } else {
            Some(TAIL_HOLD.saturating_sub(quiet_for))
        }
    }

    /// Takes bytes just read; returns what can be written now.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        let cut = match self.pending.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if self.pending.len() > MAX_PENDING => match self.safe_cut() {
                0 => self.pending.len() - incomplete_utf8_tail(&self.pending),
                n => n,
            },
            None => 0,
        };
        self.emit(cut)
    }

    /// Input has been quiet for `quiet_for`: returns what can be written now.
    pub fn quiet(&mut self, quiet_for: Duration) -> Vec<u8> {
        if quiet_for >= TAIL_HOLD {
            return self.finish();
        }
        if quiet_for < PARTIAL_LINE_WAIT {
            return Vec::new();
        }
        let cut = self.safe_cut();
        self.emit(cut)
    }

    /// End of input: everything left, redacted.
    pub fn finish(&mut self) -> Vec<u8> {
        self.emit(self.pending.len())
    }

    /// Where the part of the pending bytes that is safe to write ends: before the open tail
    /// and before a UTF-8 character cut in half.
    fn safe_cut(&self) -> usize {
        let complete = self.pending.len() - incomplete_utf8_tail(&self.pending);
        let open = OPEN_TAIL.find(&self.pending[..complete]).map_or(complete, |m| m.start());
        open.min(complete)
    }

    /// Redacts and returns the first `n` pending bytes.
    fn emit(&mut self, n: usize) -> Vec<u8> {
        if n == 0 {
            return Vec::new();
        }
        let chunk: Vec<u8> = self.pending.drain(..n).collect();
        let text = String::from_utf8_lossy(&chunk);
        let mut text: &str = &text;
        if self.in_private_key {
            // The header was masked (to the end of its chunk) already; drop the key's body.
            match PEM_END.find(text) {
                Some(end) => {
                    text = &text[end.end()..];
                    self.in_private_key = false;
                }
                None if self.key_bytes + text.len() <= MAX_KEY_BYTES => {
                    self.key_bytes += text.len();
                    return Vec::new();
                }
                // No footer in sight: whatever this is, it is too long to be the key.
                None => self.in_private_key = false,
            }
        }
        let last_begin = PEM_BEGIN.find_iter(text).last().map(|m| m.start());
        let last_end = PEM_END.find_iter(text).last().map(|m| m.start());
        self.in_private_key = match (last_begin, last_end) {
            (Some(b), Some(e)) => b > e,
            (Some(_), None) => true,
            _ => false,
        };
        self.key_bytes = 0;
        redact(text).into_owned().into_bytes()
    }
}

/// The filter between a worker's pane and its raw log (`pipe-pane` runs it): reads raw
/// output on stdin and appends it to `log` through a [`PipeRedactor`], so no secret a worker
/// prints reaches the disk. Escape sequences pass through. Returns a process exit code.
pub fn redact_pipe(log: &std::path::Path) -> i32 {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::time::Instant;

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    let Ok(mut out) = std::fs::OpenOptions::new().create(true).append(true).open(log) else { return 1 };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut redactor = PipeRedactor::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_input = Instant::now();
    let write = |bytes: Vec<u8>, out: &mut std::fs::File| bytes.is_empty() || out.write_all(&bytes).is_ok();
    loop {
        // Block while nothing is pending; otherwise wait (rounded up to whole milliseconds)
        // until the redactor has something to decide.
        let timeout = match redactor.wait(last_input.elapsed()) {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::from(u16::try_from(d.as_millis() + 1).unwrap_or(u16::MAX)),
        };
        let ready = {
            let fd = std::io::stdin();
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => true,
            }
        };
        if !ready {
            if !write(redactor.quiet(last_input.elapsed()), &mut out) {
                return 1;
            }
            continue;
        }
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        last_input = Instant::now();
        if !write(redactor.push(&buf[..n]), &mut out) {
            return 1;
        }
    }
    if write(redactor.finish(), &mut out) { 0 } else { 1 }
}

/// How many bytes at the end of `b` start a UTF-8 character that is not complete yet.
fn incomplete_utf8_tail(b: &[u8]) -> usize {
    match std::str::from_utf8(b) {
        Err(e) if e.error_len().is_none() => b.len() - e.valid_up_to(),
        _ => 0,
    }
}

/// Whether [`redact`] would change the text.
pub fn contains_secret(text: &str) -> bool {
    matches!(redact(text), Cow::Owned(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let out = redact(input);
        assert_eq!(out, expected, "input {input:?}");
        assert_eq!(matches!(out, Cow::Owned(_)), input != expected, "ownership for {input:?}");
        assert_eq!(contains_secret(input), input != expected, "contains_secret for {input:?}");
        assert_eq!(redact(&out), out, "not idempotent for {input:?}");
    }

    #[test]
    fn contract_sample_loses_every_secret() {
        let github = format!("ghp_{}", "a".repeat(26));
        let aws_digits = "1234567890123456";
        let google = format!("AIza{}", "0".repeat(30));
        let slack = format!("xoxb-{}-{}", "1".repeat(12), "b".repeat(26));
        let jwt = format!("eyJ{}.{}.{}", "h".repeat(12), "p".repeat(12), "s".repeat(12));
        let pem_body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
        let text = format!(
            "Authorization: Bearer abc.def.ghi\n\
             Authorization: token github-token-value\n\
             Authorization: Basic base64-value\n\
             github={github}\n\
             aws=AKIA{aws_digits}\n\
             google={google}\n\
             slack={slack}\n\
             db=postgres://user:password@example.com/db\n\
             jwt={jwt}\n\
             -----BEGIN PRIVATE KEY-----\n{pem_body}\n-----END PRIVATE KEY-----\n\
             done\n"
        );
        let out = redact(&text);
        assert!(out.contains(MASK));
        for secret in [
            "abc.def.ghi",
            "github-token-value",
            "base64-value",
            github.as_str(),
            aws_digits,
            google.as_str(),
            slack.as_str(),
            "password@",
            jwt.as_str(),
            &jwt[..15],
            pem_body,
            "BEGIN PRIVATE KEY",
        ] {
            assert!(!out.contains(secret), "{secret:?} survived:\n{out}");
        }
        // labels stay readable
        for kept in [
            "Authorization: Bearer [REDACTED]",
            "Authorization: token [REDACTED]",
            "Authorization: Basic [REDACTED]",
            "aws=AKIA[REDACTED]",
            "db=postgres://user:[REDACTED]@example.com/db",
            "done",
        ] {
            assert!(out.contains(kept), "{kept:?} missing:\n{out}");
        }
        assert_eq!(redact(&out), out);
    }

    #[test]
    fn each_rule() {
        let long = "Q9x2Lm4Pz8Rt6Vw1Yb3N";
        let cases: Vec<(String, String)> = vec![
            // 1. Authorization header
            ("authorization:Bearer xyz".into(), "authorization:Bearer [REDACTED]".into()),
            ("AUTHORIZATION: Digest a=b,c=d end".into(), "AUTHORIZATION: Digest [REDACTED] end".into()),
            // bare Bearer
            ("curl -H 'X: Bearer abc.def.ghi'".into(), "curl -H 'X: Bearer [REDACTED]'".into()),
            (format!("Bearer {long}"), "Bearer [REDACTED]".into()),
            ("bearer tok3n-value-9".into(), "bearer [REDACTED]".into()),
            ("Bearer tokens are sent in headers.".into(), "Bearer tokens are sent in headers.".into()),
            ("Bearer authentication".into(), "Bearer authentication".into()),
            // 2. name=value
            ("api_key=abc".into(), "api_key=[REDACTED]".into()),
            ("token=abc".into(), "token=[REDACTED]".into()),
            ("AUTH_TOKEN=abc".into(), "AUTH_TOKEN=[REDACTED]".into()),
            ("export DB_PASSWORD=hunter2 next".into(), "export DB_PASSWORD=[REDACTED] next".into()),
            ("--client-secret=s3cr3t".into(), "--client-secret=[REDACTED]".into()),
            ("https://h/cb?refresh_token=abc&x=1".into(), "https://h/cb?refresh_token=[REDACTED]".into()),
            ("apikey=abc privatekey=def".into(), "apikey=[REDACTED] privatekey=[REDACTED]".into()),
            ("monkey=banana".into(), "monkey=banana".into()),
            ("turkey=roast hotkey=F5 passwords=many".into(), "turkey=roast hotkey=F5 passwords=many".into()),
            // 3. name: value
            ("Password: hunter2".into(), "Password: [REDACTED]".into()),
            ("x-api-key: abc123".into(), "x-api-key: [REDACTED]".into()),
            ("my secret: swordfish".into(), "my secret: [REDACTED]".into()),
            ("session_token:abc".into(), "session_token:[REDACTED]".into()),
            ("monkey: banana".into(), "monkey: banana".into()),
            ("Tokens: 1234 used".into(), "Tokens: 1234 used".into()),
            // 4. database URLs
            ("mysql://root:toor@db:3306/app".into(), "mysql://root:[REDACTED]@db:3306/app".into()),
            ("mongodb+srv://u:p4ss@cluster/x".into(), "mongodb+srv://u:[REDACTED]@cluster/x".into()),
            ("REDIS://default:pw@cache".into(), "REDIS://default:[REDACTED]@cache".into()),
            ("postgres://user@host/db".into(), "postgres://user@host/db".into()),
            ("https://user:pw@example.com".into(), "https://user:pw@example.com".into()),
            // 5. sk- keys, replaced whole
            (format!("use sk-proj-{long} now"), "use sk-[REDACTED] now".into()),
            (format!("\"sk-ant-api03-{long}\""), "\"sk-[REDACTED]\"".into()),
            ("sk-short".into(), "sk-short".into()),
            (format!("task-{long}"), format!("task-{long}")),
            // 6. AWS
            ("id AKIAABCDEFGHIJKLMNOP x".into(), "id AKIA[REDACTED] x".into()),
            ("ASIA0123456789ABCDEF".into(), "ASIA[REDACTED]".into()),
            ("AKIA0123456789ABCDEFG".into(), "AKIA0123456789ABCDEFG".into()),
            // 7. GitHub
            (format!("gho_{long}"), MASK.into()),
            (format!("x ghu_{long} ghs_{long} ghr_{long}"), "x [REDACTED] [REDACTED] [REDACTED]".into()),
            (format!("github_pat_11ABC_{long}"), MASK.into()),
            ("ghp_short".into(), "ghp_short".into()),
            // 8. Google
            (format!("AIza{long}{long}"), MASK.into()),
            // 9. Slack
            (format!("xoxp-{long}"), MASK.into()),
            // 10. JWT
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl".into(), MASK.into()),
            ("eyJshort.x.y".into(), "eyJshort.x.y".into()),
            // 11. PEM, including a key cut off at the end of the capture
            (
                "a\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\nb".into(),
                "a\n[REDACTED]\nb".into(),
            ),
            ("a\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\nBBBB".into(), "a\n[REDACTED]".into()),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".into(),
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".into(),
            ),
            // clean text
            ("".into(), "".into()),
            ("Press any key to continue".into(), "Press any key to continue".into()),
            ("Summary: all tests pass\nFindings: none".into(), "Summary: all tests pass\nFindings: none".into()),
        ];
        for (input, expected) in &cases {
            check(input, expected);
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        for text in ["", "Working...", "Should I inspect migrations first?", "cargo test -- --nocapture"] {
            assert!(matches!(redact(text), Cow::Borrowed(_)), "{text:?}");
            assert!(!contains_secret(text));
        }
        // already masked text needs nothing more
        for text in ["token=[REDACTED]", "Authorization: Bearer [REDACTED]", "sk-[REDACTED]", "AKIA[REDACTED]"] {
            assert!(matches!(redact(text), Cow::Borrowed(_)), "{text:?}");
            assert!(!contains_secret(text), "{text:?}");
        }
    }

    #[test]
    fn redaction_is_idempotent() {
        let samples = [
            "Authorization: Bearer sk-abcdefghijklmnopqrstuvwx and token=abc api_key: def",
            "postgres://a:b@c password=x Password: y ghp_abcdefghijklmnopqrstuvwxyz",
            "-----BEGIN EC PRIVATE KEY-----\nkey=abc\n-----END EC PRIVATE KEY-----",
            "Bearer abc.def.ghi AKIAABCDEFGHIJKLMNOP xoxb-123456789012-abcdefghijklmnop",
            "monkey=banana secret=1 secret: 2 auth-token: 3",
        ];
        for sample in samples {
            let once = redact(sample).into_owned();
            assert_ne!(once, sample);
            assert_eq!(redact(&once), once, "{sample:?}");
        }
    }

    fn quiet_ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// Feeds `pieces` to a pipe redactor with a quiet pause after each, then ends the input;
    /// returns everything written and what was written during the pauses.
    fn stream(pieces: &[&str], pause: Duration) -> (String, Vec<String>) {
        let mut r = PipeRedactor::new();
        let mut all = Vec::new();
        let mut during = Vec::new();
        for piece in pieces {
            all.extend(r.push(piece.as_bytes()));
            let q = r.quiet(pause);
            during.push(String::from_utf8(q.clone()).unwrap());
            all.extend(q);
        }
        all.extend(r.finish());
        (String::from_utf8(all).unwrap(), during)
    }

    #[test]
    fn a_secret_split_by_a_pause_is_still_redacted() {
        let key = format!("sk-{}", "a1b2".repeat(8));
        let (head, tail) = key.split_at(9);
        for pieces in [
            vec!["using ", head, tail, " now\n"],
            vec!["Authorization: Basic ", "dXNlcjpwYXNzd29yZA==\n"],
            vec!["Authorization: ", "Bearer ", "abcdefgh12345678\n"],
            vec!["password: ", "hunter2hunter2\n"],
            vec!["export API_KEY", "=s3cr3t-value\n"],
            vec!["curl -H 'Bearer ", "abcdefgh12345678'\n"],
        ] {
            let (out, _) = stream(&pieces, quiet_ms(100));
            let whole: String = pieces.concat();
            assert_eq!(out, redact(&whole), "pieces {pieces:?}");
            assert!(out.contains(MASK), "{out:?}");
        }
    }

    #[test]
    fn a_partial_line_shows_all_but_its_open_tail() {
        let (_, during) = stream(&["Continue? [y/N] "], quiet_ms(30));
        assert_eq!(during, ["Continue? [y/N] "], "a prompt ending in a space goes out at once");
        let (_, during) = stream(&["Working on it sk-abc"], quiet_ms(30));
        assert_eq!(during, ["Working on it "]);
        let (_, during) = stream(&["Note: the password: "], quiet_ms(30));
        assert_eq!(during, ["Note: the "]);
        let (_, during) = stream(&["Proceed?"], quiet_ms(10));
        assert_eq!(during, [""], "nothing before the short wait");
    }

    #[test]
    fn the_open_tail_goes_out_after_the_hold() {
        let mut r = PipeRedactor::new();
        assert_eq!(r.push(b"Proceed?"), b"");
        assert_eq!(r.wait(Duration::ZERO), Some(PARTIAL_LINE_WAIT));
        assert_eq!(r.quiet(quiet_ms(30)), b"");
        assert_eq!(r.wait(quiet_ms(30)), Some(TAIL_HOLD - quiet_ms(30)));
        assert_eq!(r.quiet(TAIL_HOLD), b"Proceed?");
        assert!(!r.is_pending());
        assert_eq!(r.wait(TAIL_HOLD), None);
    }

    #[test]
    fn a_private_key_split_across_reads_is_masked_to_its_footer() {
        let mut r = PipeRedactor::new();
        let mut out = r.push(b"before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n");
        out.extend(r.push(b"c2VjcmV0Ym9keQ==\n"));
        out.extend(r.push(b"-----END RSA PRIVATE KEY-----\nafter\n"));
        out.extend(r.finish());
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "before\n[REDACTED]\nafter\n");
        // The header split at a space is held back too.
        let (out, _) =
            stream(&["-----BEGIN RSA ", "PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"], quiet_ms(30));
        assert_eq!(out, "[REDACTED]\n");
        // A header whose footer never comes hides a key-sized body, not the rest of the session.
        let mut r = PipeRedactor::new();
        let mut out = r.push(b"-----BEGIN PRIVATE KEY-----\nMIIE\n");
        out.extend(r.push("body line\n".repeat(MAX_KEY_BYTES / 10 - 1).as_bytes()));
        assert_eq!(String::from_utf8_lossy(&out), "[REDACTED]");
        out.extend(r.push(b"body line\nbody line\nlater output token=abc\n"));
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("[REDACTED]body line\n"), "{}", &out[..40]);
        assert!(out.ends_with("later output token=[REDACTED]\n"), "{out}");
        assert!(out.len() < MAX_KEY_BYTES, "the key-sized part was dropped");
    }

    #[test]
    fn long_output_without_newlines_still_flows() {
        let mut r = PipeRedactor::new();
        let word = "word ".repeat(MAX_PENDING / 5 + 10);
        let out = r.push(word.as_bytes());
        assert!(out.len() >= MAX_PENDING, "written without waiting");
        let run = "x".repeat(MAX_PENDING + 1);
        let mut r = PipeRedactor::new();
        assert_eq!(r.push(run.as_bytes()).len(), run.len(), "one huge token is not held forever");
        let mut r = PipeRedactor::new();
        assert_eq!(r.push("é ".as_bytes()), b"");
        assert_eq!(r.push(&[0xc3]), b"");
        assert_eq!(r.quiet(quiet_ms(30)), "é ".as_bytes(), "half a character waits");
        assert_eq!(r.push(&[0xa9, b'\n']), "é\n".as_bytes());
    }

    #[test]
    fn rules_compile() {
        assert!(!TRIGGER.as_str().is_empty());
        assert_eq!(RULES.len(), 13);
    }
}
