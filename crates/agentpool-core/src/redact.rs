//! Secret scrubbing for worker output: everything AgentPool stores or returns from a worker's
//! screen (transcripts, excerpts, diffs) passes through [`redact`] first.
//!
//! [`SHAPES`] is the one list of what counts as a secret: the rules are compiled from it,
//! `docs/security.md` lists it (a test keeps the two equal), and the property tests draw
//! secrets of every shape from it. Each rule finds the secret part of its matches; the parts
//! are replaced with `[REDACTED]`, keeping the label in front of them (`api_key=`,
//! `Authorization: Bearer `, `AKIA`) so a reader can still tell what was there. Applying the
//! rules to already-redacted text changes nothing.
//!
//! Secrets are found in the text as a terminal shows it: escape sequences, control characters
//! and invisible format characters (zero-width space, soft hyphen) are not allowed to hide one.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;
use std::time::Duration;

use regex::{Captures, Regex};

use crate::terminal::strip_terminal;

const MASK: &str = "[REDACTED]";

/// Which part of a rule's match is the secret (the rest, a label, is kept).
#[derive(Clone, Copy, Debug)]
enum Secret {
    /// The whole match.
    Whole,
    /// Everything after capture group `n` (`Authorization: Basic `, `AKIA`).
    After(usize),
    /// Capture group `n` (URL credentials between the scheme and the `@`).
    Group(usize),
    /// Group `n`, when it looks like a credential rather than a word (after `Bearer`).
    Credential(usize),
    /// Group `n`, unless it is an ordinary word of a sentence (`no GitHub token: set …`),
    /// see [`PROSE_WORDS`].
    UnlessProse(usize),
}

/// One kind of secret the redactor recognises.
#[derive(Debug)]
pub struct Shape {
    /// Stable short name (docs, tests).
    pub name: &'static str,
    /// What is matched and what is kept, for `docs/security.md`.
    pub description: &'static str,
    /// A made-up line holding one…
    pub example: &'static str,
    /// …and what [`redact`] makes of it (checked by a test).
    pub redacted: &'static str,
    /// A literal (case-insensitive regex alternative) every match contains: text without any
    /// shape's trigger is returned untouched without running the rules.
    trigger: &'static str,
    pattern: &'static str,
    secret: Secret,
}

// Boundaries. `\b` is not used: in Unicode mode a CJK or accented letter right before a token
// counts as part of the same word (`密钥ghp_…` was not redacted), and at the end it made a
// token followed by such a letter not match at all. Tokens with a distinctive prefix (`ghp_`,
// `AIza`, `xoxb-`) are anchored on the prefix alone; short prefixes that occur inside words
// (`sk-` in `task-…`, `eyJ`, `AKIA`) use the ASCII word boundary `(?-u:\b)`, so only an ASCII
// letter, digit or `_` glued to them stops a match, and CJK, emoji or punctuation never do.

/// Every secret shape. The first one's rule (URL credentials) runs alone, before the others:
/// the `name: value` rule would otherwise take the user name in
/// `https://x-access-token:…@host` for a label, and the host for its value. All the other
/// rules look at the same text, and the union of what they find is masked, so one secret
/// shape inside another (`-sk-…` inside a JWT or a Google key) cannot leave a piece of the
/// outer one behind.
pub const SHAPES: &[Shape] = &[
    Shape {
        name: "url-credentials",
        description: "the userinfo of a URL of any scheme (`https`, `postgres`, `git+ssh`, …): `user:password@`, or a lone 20+ character user name (a token); scheme and host are kept. A user name alone (`ssh://git@host`) is kept",
        example: "clone https://alice:s3cretPw@git.example.com/repo.git",
        redacted: "clone https://[REDACTED]@git.example.com/repo.git",
        trigger: "://",
        pattern: r"([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/?#@:]*:[^\s/?#]*|[^\s/?#@:]{20,})@",
        secret: Secret::Group(2),
    },
    Shape {
        name: "authorization-header",
        description: "`Authorization:` header: the scheme is kept, the credential after it masked",
        example: "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        redacted: "Authorization: Basic [REDACTED]",
        trigger: "authorization",
        pattern: r"(?i)(authorization:\s*[A-Za-z][A-Za-z0-9._+-]*\s+)[^\s]+",
        secret: Secret::After(1),
    },
    Shape {
        name: "bearer-token",
        description: "a bare `Bearer <token>` (curl traces, logs); an English word after `Bearer` is kept: a credential is 20+ characters or has a digit or punctuation",
        example: "curl -H 'X-Auth: Bearer abc.def.ghi'",
        redacted: "curl -H 'X-Auth: Bearer [REDACTED]'",
        trigger: "bearer",
        pattern: r"(?i)(?-u:\b)(bearer[ \t]+)([A-Za-z0-9._~+/\-]{8,}=*)",
        secret: Secret::Credential(2),
    },
    Shape {
        name: "name-equals-value",
        description: "`name=value` where the name ends in token, key, secret or password (optionally after api, access, refresh, secret, private, session or auth) and starts a word or an `_`/`-` segment: `DB_PASSWORD=`, `--client-secret=`, but not `monkey=`",
        example: "export DB_PASSWORD=hunter2",
        redacted: "export DB_PASSWORD=[REDACTED]",
        trigger: "token|key|secret|password",
        pattern: r"(?i)(^|[^A-Za-z0-9])((?:api|access|refresh|secret|private|session|auth)?_?(?:token|key|secret|password)=)[^\s]+",
        secret: Secret::After(2),
    },
    Shape {
        name: "name-colon-value",
        description: "`name: value` with the same names; the value is kept when it is an ordinary word of a sentence (`no GitHub token: set …`, `API key: your key here`)",
        example: "x-api-key: 9f8e7d6c5b4a",
        redacted: "x-api-key: [REDACTED]",
        trigger: "token|key|secret|password",
        pattern: r"(?i)(^|[^A-Za-z0-9])((?:api|access|refresh|secret|private|session|auth)?[-_ ]?(?:token|key|secret|password):\s*)([^\s]+)",
        secret: Secret::UnlessProse(3),
    },
    Shape {
        name: "sk-key",
        description: "OpenAI/Anthropic style `sk-…` keys (16+ characters after `sk-`), removed whole",
        example: "OPENAI key sk-proj-Q9x2Lm4Pz8Rt6Vw1Yb3N",
        redacted: "OPENAI key sk-[REDACTED]",
        trigger: "sk-",
        pattern: r"(?i)(?-u:\b)(sk-)[A-Za-z0-9_\-]{16,}",
        secret: Secret::After(1),
    },
    Shape {
        name: "aws-access-key-id",
        description: "AWS access key ids (`AKIA`/`ASIA` and 16 more); the prefix, which tells long-term from temporary keys, is kept",
        example: "aws AKIAIOSFODNN7EXAMPLE",
        redacted: "aws AKIA[REDACTED]",
        trigger: "AKIA|ASIA",
        pattern: r"(?-u:\b)(AKIA|ASIA)[A-Z0-9]{16}(?-u:\b)",
        secret: Secret::After(1),
    },
    Shape {
        name: "github-token",
        description: "GitHub tokens, classic (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and fine-grained (`github_pat_`)",
        example: "GH_TOKEN is ghp_EXAMPLEexample0123456789abcdefABCD",
        redacted: "GH_TOKEN is [REDACTED]",
        trigger: "gh[opusr]_|github_pat_",
        pattern: r"(?:gh[opusr]_|github_pat_)[A-Za-z0-9_]{20,}",
        secret: Secret::Whole,
    },
    Shape {
        name: "google-api-key",
        description: "Google API keys (`AIza…`)",
        example: "key AIzaSyEXAMPLEexample0123456789abcdefg",
        redacted: "key [REDACTED]",
        trigger: "AIza",
        pattern: r"AIza[0-9A-Za-z_\-]{30,}",
        secret: Secret::Whole,
    },
    Shape {
        name: "slack-token",
        description: "Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`)",
        example: "SLACK xoxb-123456789012-EXAMPLEexample",
        redacted: "SLACK [REDACTED]",
        trigger: "xox[baprs]-",
        pattern: r"xox[baprs]-[A-Za-z0-9-]{20,}",
        secret: Secret::Whole,
    },
    Shape {
        name: "jwt",
        description: "JSON Web Tokens: three base64url parts, the header starting `eyJ` (`{\"`)",
        example: "id_token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl",
        redacted: "id_token [REDACTED]",
        trigger: "eyJ",
        pattern: r"(?-u:\b)eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
        secret: Secret::Whole,
    },
    Shape {
        name: "pem-private-key",
        description: "PEM private keys, header to footer; a key cut off by the end of the text is masked to the end, since its body would otherwise leak",
        example: "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        redacted: "[REDACTED]",
        trigger: "private key",
        pattern: r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
        secret: Secret::Whole,
    },
];

/// Words that follow a `token:`/`key:`/`password:` label in a sentence rather than being its
/// value (`no GitHub token: set AGENTPOOL_COPILOT_TOKEN`). Kept short and made of words
/// nobody uses as a password; compared case-insensitively, trailing punctuation ignored.
const PROSE_WORDS: &str = "\
    a above add all an and any are available below check configured create detected each \
    empty enter expired export false for found from given has have here if in invalid is it \
    its missing must needed no none not nothing null of on optional or paste please present \
    provided required run see set should the their this to true try unavailable undefined \
    unset use used using was when will with you your";

/// Whether the value after a `name:` label is a word of a sentence, not a credential.
fn is_prose_word(value: &str) -> bool {
    let word = value.trim_end_matches(['.', ',', ';', ':', '!', '?']);
    PROSE_WORDS.split_ascii_whitespace().any(|w| w.eq_ignore_ascii_case(word))
}

struct Rule {
    regex: Regex,
    secret: Secret,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    SHAPES
        .iter()
        .map(|s| Rule {
            regex: Regex::new(s.pattern).expect("built-in redaction pattern must compile"),
            secret: s.secret,
        })
        .collect()
});

/// Cheap first pass: every rule needs one of its shape's triggers, so text without any of
/// them is returned untouched without running the individual rules.
static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<&str> = SHAPES.iter().map(|s| s.trigger).collect();
    Regex::new(&format!("(?i){}", alternatives.join("|"))).expect("built-in redaction trigger must compile")
});

/// Characters a terminal does not show as text: control characters (ESC starts every escape
/// sequence) other than tab and line breaks, and invisible format characters (zero-width
/// space and joiners, soft hyphen, byte-order mark, bidi controls).
static HIDDEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{Cc}\p{Cf}&&[^\t\n\r]]").expect("built-in pattern must compile"));

/// Whether `text` may hold a [`HIDDEN`] character: every control character but tab and line
/// breaks is an ASCII control byte or not ASCII, and every format character is not ASCII. A
/// byte scan, so printable ASCII text never compiles the pattern's Unicode classes (a few
/// hundred microseconds, in every short-lived process).
fn may_hide(text: &str) -> bool {
    text.bytes().any(|b| !(b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\n' | b'\r')))
}

/// `text` without its [`HIDDEN`] characters.
fn without_hidden(text: &str) -> Cow<'_, str> {
    if may_hide(text) { HIDDEN.replace_all(text, "") } else { Cow::Borrowed(text) }
}

/// The triggers of every shape spelled out as lowercase literals (`gh[opusr]_|github_pat_`
/// gives `gho_`, `ghp_`, … and `github_pat_`): ASCII text is checked against them without
/// compiling [`TRIGGER`], whose case-insensitive Unicode alternation takes a few hundred
/// microseconds to build in every short-lived process.
static TRIGGER_WORDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut words = Vec::new();
    for alternative in SHAPES.iter().flat_map(|s| s.trigger.split('|')) {
        let mut spelled = vec![String::new()];
        let mut rest = alternative;
        while let Some(c) = rest.chars().next() {
            let (choices, len) = match (c, rest.find(']')) {
                ('[', Some(end)) => (rest[1..end].chars().collect::<Vec<_>>(), end + 1),
                _ => (vec![c], c.len_utf8()),
            };
            spelled = spelled
                .iter()
                .flat_map(|head| choices.iter().map(move |ch| format!("{head}{}", ch.to_ascii_lowercase())))
                .collect();
            rest = &rest[len..];
        }
        words.extend(spelled);
    }
    words.sort();
    words.dedup();
    words
});

/// Whether `text` holds any shape's trigger. For ASCII text a case-insensitive match of the
/// (ASCII) triggers is exactly an ASCII-case-insensitive substring, so the literals decide.
fn triggered(text: &str) -> bool {
    if !text.is_ascii() {
        return TRIGGER.is_match(text);
    }
    let lower = text.to_ascii_lowercase();
    TRIGGER_WORDS.iter().any(|w| lower.contains(w.as_str()))
}

/// Whether a token after `Bearer` is a credential and not an English word (`Bearer tokens are
/// …`): real tokens are long or contain digits or punctuation.
fn looks_like_credential(token: &str) -> bool {
    token.len() >= 20 || token.chars().any(|c| !c.is_ascii_alphabetic())
}

impl Rule {
    /// Adds the byte ranges of `text` this rule takes for secrets.
    fn find(&self, text: &str, spans: &mut Vec<Range<usize>>) {
        for caps in self.regex.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            let group = |n: usize| caps.get(n);
            let span = match self.secret {
                Secret::Whole => Some(whole.range()),
                Secret::After(n) => group(n).map(|g| g.end()..whole.end()),
                Secret::Group(n) => group(n).map(|g| g.range()),
                Secret::Credential(n) => group(n).filter(|g| looks_like_credential(g.as_str())).map(|g| g.range()),
                Secret::UnlessProse(n) => group(n).filter(|g| !is_prose_word(g.as_str())).map(|g| g.range()),
            };
            spans.extend(span.filter(|r| !r.is_empty()));
        }
    }
}

/// Replaces each run of overlapping or touching spans with one mask.
fn mask<'t>(text: &'t str, mut spans: Vec<Range<usize>>) -> Cow<'t, str> {
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut current: Option<Range<usize>> = None;
    for span in spans {
        match &mut current {
            Some(c) if span.start <= c.end => c.end = c.end.max(span.end),
            _ => {
                if let Some(c) = current.replace(span) {
                    out.push_str(&text[done..c.start]);
                    out.push_str(MASK);
                    done = c.end;
                }
            }
        }
    }
    if let Some(c) = current {
        out.push_str(&text[done..c.start]);
        out.push_str(MASK);
        done = c.end;
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

/// The rules over `text` as it is.
fn apply_rules(text: &str) -> Cow<'_, str> {
    if !triggered(text) {
        return Cow::Borrowed(text);
    }
    let (first, rest) = RULES.split_at(1);
    let mut spans = Vec::new();
    first[0].find(text, &mut spans);
    let after_first = mask(text, spans);
    let mut spans = Vec::new();
    for rule in rest {
        rule.find(&after_first, &mut spans);
    }
    let masked = match mask(&after_first, spans) {
        Cow::Owned(o) => Some(o),
        Cow::Borrowed(_) => None,
    };
    let out = masked.map_or(after_first, Cow::Owned);
    // A rule can match text that is already masked (`token=[REDACTED]`) and mask it again;
    // report that as "nothing to redact".
    if out == text { Cow::Borrowed(text) } else { out }
}

/// `text` as a terminal shows it, the way the transcript is made: escape sequences (an
/// unfinished one at the end runs to the end), control characters and invisible format
/// characters removed, line breaks as `\n`.
pub(crate) fn visible_text(text: &str) -> String {
    let (mut out, consumed) = strip_terminal(text.as_bytes());
    // `strip_terminal` keeps back what a next read may complete: a final CR or an unfinished
    // escape sequence. A string has no next read.
    if text.as_bytes().get(consumed) == Some(&b'\r') {
        out.push('\n');
    }
    match without_hidden(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(o) => o,
    }
}

/// The text an escape sequence carries (OSC: a window title, an OSC 8 link target; DCS, SOS,
/// PM, APC), up to its terminator (BEL, or ESC as in ST) or the end of the text.
static PAYLOAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\x1b[\]PX^_])([^\x07\x1b]*)").expect("built-in pattern must compile"));

/// Masks every secret the rules recognise. Returns the input borrowed when nothing changed.
///
/// Text with escape sequences or other hidden characters is judged by what a terminal shows
/// of it ([`visible_text`]): when that holds a secret (`ghp_AB\x1b[0mCD…`, a zero-width space
/// inside a key), the visible text is returned, redacted — the escape sequences go, and no
/// piece of the secret survives between them. Otherwise the text keeps its escape sequences,
/// and only secrets inside their payloads (an OSC 8 link to `https://user:pw@host`) are
/// masked in place.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !may_hide(text) || !HIDDEN.is_match(text) {
        return apply_rules(text);
    }
    if let Cow::Owned(clean) = apply_rules(&visible_text(text)) {
        return Cow::Owned(clean);
    }
    let out = PAYLOAD.replace_all(text, |caps: &Captures<'_>| {
        let part = |n| caps.get(n).map_or("", |m| m.as_str());
        format!("{}{}", part(1), apply_rules(part(2)))
    });
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
        r"(?i)(?:authorization:[ \t]*(?:[A-Za-z][A-Za-z0-9._+-]*[ \t]+)?|(?-u:\b)bearer[ \t]+|(?:token|key|secret|password)[ \t]*[:=][ \t]*|-----BEGIN[A-Z ]*)?(?-u:[^\s])*\z",
    )
    .expect("built-in redaction pattern must compile")
});
static PEM_BEGIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-----BEGIN [A-Z ]*PRIVATE KEY-----").expect("built-in pattern must compile"));
static PEM_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-----END [A-Z ]*PRIVATE KEY-----").expect("built-in pattern must compile"));

/// The streaming half of the pane filter: bytes in, redacted text out, with no I/O and no
/// clock of its own (the caller says how long input has been quiet), so every case is testable.
///
/// Escape sequences and control characters are removed as the bytes come in (the way the
/// transcript is made, by [`strip_terminal`]), and everything after that works on the text a
/// terminal shows: a secret with colour or cursor codes inside it is matched whole, and no
/// escape sequence's payload (a window title, an OSC 8 link) reaches the log. The log is plain
/// text, readable with `cat`. Complete lines go out at once. A partial line goes out after a short quiet, except its
/// open tail (see `OPEN_TAIL`), which waits for more output, a newline, the end of input or
/// [`TAIL_HOLD`]. A PEM private key is masked from its header to its footer even when its
/// lines arrive in separate reads.
#[derive(Debug, Default)]
pub struct PipeRedactor {
    /// Raw bytes not turned into text yet: an unfinished escape sequence, a final CR (a CR LF
    /// pair is one line break), half a UTF-8 character.
    raw: Vec<u8>,
    /// Text (valid UTF-8, escape sequences removed) not written yet.
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
        self.take_text(bytes);
        let cut = match self.pending.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if self.pending.len() > MAX_PENDING => match self.safe_cut() {
                0 => self.pending.len(),
                n => n,
            },
            None => 0,
        };
        self.emit(cut)
    }

    /// Turns raw bytes into text: escape sequences and control characters removed, lone CRs
    /// as line breaks.
    fn take_text(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
        loop {
            let (text, consumed) = strip_terminal(&self.raw);
            // What `strip_terminal` keeps that a terminal does not show either (a zero-width
            // space inside a token): the log holds the visible text, like `visible_text`.
            self.pending.extend_from_slice(without_hidden(&text).as_bytes());
            self.raw.drain(..consumed);
            if self.raw.len() <= MAX_PENDING {
                break;
            }
            // Only an escape sequence can be left this long (an OSC that never ends): stop
            // waiting for its end, drop its ESC and read on as text.
            self.raw.remove(0);
        }
    }

    /// Input has been quiet for `quiet_for`: returns what can be written now.
    pub fn quiet(&mut self, quiet_for: Duration) -> Vec<u8> {
        if quiet_for >= TAIL_HOLD {
            // Raw bytes left over wait on: they are half of an escape sequence or character.
            return self.emit(self.pending.len());
        }
        if quiet_for < PARTIAL_LINE_WAIT {
            return Vec::new();
        }
        let cut = self.safe_cut();
        self.emit(cut)
    }

    /// End of input: everything left, redacted.
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.raw);
        match rest.first() {
            None => {}
            Some(b'\r') => self.pending.push(b'\n'),
            // An escape sequence that never ended shows nothing.
            Some(0x1b) => {}
            Some(_) => self.pending.extend_from_slice(String::from_utf8_lossy(&rest).as_bytes()),
        }
        self.emit(self.pending.len())
    }

    /// Where the part of the pending text that is safe to write ends: before the open tail.
    fn safe_cut(&self) -> usize {
        OPEN_TAIL.find(&self.pending).map_or(self.pending.len(), |m| m.start())
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
/// prints reaches the disk. The log gets the text without escape sequences. Returns a
/// process exit code.
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

/// Whether [`redact`] would change the text.
pub fn contains_secret(text: &str) -> bool {
    matches!(redact(text), Cow::Owned(_))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
            "db=postgres://[REDACTED]@example.com/db",
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
            // URL credentials
            ("mysql://root:toor@db:3306/app".into(), "mysql://[REDACTED]@db:3306/app".into()),
            ("mongodb+srv://u:p4ss@cluster/x".into(), "mongodb+srv://[REDACTED]@cluster/x".into()),
            ("REDIS://default:pw@cache".into(), "REDIS://[REDACTED]@cache".into()),
            ("postgres://user@host/db".into(), "postgres://user@host/db".into()),
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
    fn escape_sequences_cut_between_reads_wait_for_their_end() {
        let mut r = PipeRedactor::new();
        let mut out = r.push(b"ghp_AnsiCut\x1b[3");
        out.extend(r.quiet(quiet_ms(30)));
        out.extend(r.push(b"1mT0kenAbcdefghijklmn done\r"));
        out.extend(r.quiet(TAIL_HOLD));
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "[REDACTED] done");
        out.extend(r.push(b"\nnext"));
        out.extend(r.finish());
        assert_eq!(String::from_utf8(out).unwrap(), "[REDACTED] done\nnext");
        // At the end of input an unfinished sequence shows nothing and a final CR ends a line.
        let mut r = PipeRedactor::new();
        let mut out = r.push(b"a\x1b]0;half a title");
        out.extend(r.finish());
        assert_eq!(out, b"a");
        let mut r = PipeRedactor::new();
        let mut out = r.push(b"b\r");
        out.extend(r.finish());
        assert_eq!(out, b"b\n");
        // An OSC that never ends is read as text after a while, not held forever.
        let mut r = PipeRedactor::new();
        let flood = format!("\x1b]0;{}", "word ".repeat(MAX_PENDING / 5 + 10));
        let out = r.push(flood.as_bytes());
        assert!(out.len() >= MAX_PENDING, "{}", out.len());
        assert!(!out.contains(&0x1b));
    }

    #[test]
    fn rules_compile() {
        assert!(!TRIGGER.as_str().is_empty());
        assert_eq!(RULES.len(), SHAPES.len());
    }

    #[test]
    fn trigger_words_spell_out_the_triggers() {
        let words = &*TRIGGER_WORDS;
        for w in ["://", "gho_", "ghr_", "github_pat_", "xoxs-", "akia", "private key", "eyj"] {
            assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
        }
        assert!(words.iter().all(|w| TRIGGER.is_match(w) && !w.contains(['[', ']', '|'])), "{words:?}");
        // ASCII text: the literals say what the pattern says.
        const PIECES: &[&str] = &[
            "to",
            "KEN",
            "Key",
            "sec",
            "RET",
            "pass",
            "word",
            "sk",
            "-",
            "AKIA",
            "asi",
            "A",
            "gh",
            "p",
            "_",
            "GitHub",
            "_pat_",
            "aiza",
            "XOX",
            "b",
            "eyJ",
            "private",
            " ",
            "KEY",
            ":",
            "//",
            "bearer",
            "Authorization",
            "x",
            "\n",
        ];
        let text = proptest::collection::vec(proptest::sample::select(PIECES), 0..12).prop_map(|p| p.concat());
        crate::test_support::check_property(text, |text| {
            prop_assert_eq!(triggered(&text), TRIGGER.is_match(&text), "{:?}", text);
            Ok(())
        });
    }

    #[test]
    fn the_hidden_gate_passes_every_hidden_character() {
        let every: String = (0..=0x10FFFF_u32).filter_map(char::from_u32).collect();
        for m in HIDDEN.find_iter(&every) {
            assert!(may_hide(m.as_str()), "{:?}", m.as_str());
        }
        assert!(!may_hide("plain text\twith tabs\r\nand lines ~!@#"));
        assert!(may_hide("\u{1b}[0m") && may_hide("zero\u{200B}width") && may_hide("é"));
    }

    #[test]
    fn every_shape_redacts_its_example_as_documented() {
        let mut names = std::collections::BTreeSet::new();
        for shape in SHAPES {
            assert!(names.insert(shape.name), "duplicate shape name {}", shape.name);
            assert_ne!(shape.example, shape.redacted, "{}", shape.name);
            check(shape.example, shape.redacted);
            assert!(Regex::new(&format!("(?i){}", shape.trigger)).unwrap().is_match(shape.example), "{}", shape.name);
        }
    }

    // --- Regressions (issue 15) ---------------------------------------------------------

    /// S1: URL credentials of any scheme, not only a few database schemes.
    #[test]
    fn url_credentials_of_any_scheme_are_redacted() {
        for (input, expected) in [
            (
                "clone https://alice:UrlPassw0rdLeak@git.example.com/repo.git",
                "clone https://[REDACTED]@git.example.com/repo.git",
            ),
            ("see https://carol:TaskUrlPwLeak@h.example.com/x", "see https://[REDACTED]@h.example.com/x"),
            ("postgres://bob:pw@db:5432/app", "postgres://[REDACTED]@db:5432/app"),
            ("git+ssh://deploy:hunter2@git.example.com:22/r", "git+ssh://[REDACTED]@git.example.com:22/r"),
            ("HTTP_PROXY=http://u:p%40ss@proxy:3128", "HTTP_PROXY=http://[REDACTED]@proxy:3128"),
            // a password with an unencoded `@`: everything up to the last `@` goes
            ("amqp://guest:p@ss@rabbit/", "amqp://[REDACTED]@rabbit/"),
            // a token used as the user name
            ("https://Zq8Wm3Xr7Tn2Yp6Vk1Ls9Hd4@github.com/o/r.git", "https://[REDACTED]@github.com/o/r.git"),
            ("(ftp://anon:guest@files.example.org)", "(ftp://[REDACTED]@files.example.org)"),
            // a label-like user name does not take the host with it
            (
                "https://x-access-token:ghs_Zq8Wm3Xr7Tn2Yp6Vk1Ls9Hd4@github.com/o/r.git",
                "https://[REDACTED]@github.com/o/r.git",
            ),
            // what is not a credential stays
            ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
            ("git+ssh://git@github.com:o/r", "git+ssh://git@github.com:o/r"),
            ("https://example.com:8443/path?mail=a@b.c", "https://example.com:8443/path?mail=a@b.c"),
            ("mail me at alice@example.com", "mail me at alice@example.com"),
        ] {
            check(input, expected);
        }
    }

    /// S2: a token right after a CJK, Cyrillic or accented letter, an emoji or punctuation,
    /// and right before one.
    #[test]
    fn tokens_are_found_at_any_unicode_boundary() {
        let ghp = "ghp_W1deUn1c0deNe1ghb0urAbcdefghijklmn";
        check(&format!("wide: 密钥{ghp}🔑"), "wide: 密钥[REDACTED]🔑");
        check(&format!("{ghp}密钥"), "[REDACTED]密钥");
        let sk = "sk-proj-Q9x2Lm4Pz8Rt6Vw1Yb3N";
        for before in ["密钥", "ключ", "clé", "🔑", "—", "「", "\u{3000}", ":", "x"] {
            let expected = if before == "x" {
                format!("{before}{sk}") // `xsk-…` is a word, not a key
            } else {
                format!("{before}sk-[REDACTED]")
            };
            check(&format!("{before}{sk}"), &expected);
        }
        check("密钥AKIAIOSFODNN7EXAMPLE键", "密钥AKIA[REDACTED]键");
        check("🔑AIzaSyEXAMPLEexample0123456789abcdefg🔑", "🔑[REDACTED]🔑");
        check("令牌xoxb-123456789012-EXAMPLEexample令牌", "令牌[REDACTED]令牌");
        check("凭据eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl。", "凭据[REDACTED]。");
        check("配置token=abc123", "配置token=[REDACTED]");
        check("密码password: hunter2", "密码password: [REDACTED]");
        check("認証Bearer Zq8Wm3Xr7Tn2Yp6Vk1Ls9Hd4", "認証Bearer [REDACTED]");
        check("github_pat_11ABCDEFG_abcdefghijklmnopqrstuvwxyz", "[REDACTED]");
        // Glued to ASCII letters, short prefixes stay words.
        for word in ["task-management-overview-document", "monkeyJumpedOverTheFence.something.elseHere", "AKIAXYZ"] {
            check(word, word);
        }
    }

    /// S3: escape sequences, control and invisible characters inside a secret do not hide it,
    /// in stored strings and in the raw log.
    #[test]
    fn escape_sequences_inside_a_secret_do_not_hide_it() {
        let cases = [
            ("g\x1b[31mh\x1b[0mp_AnsiSpl1tT0k3nAbcdefghijkl\n", "[REDACTED]\n"),
            ("AKIA\x1b[1mANSIBOLDKEY12345\x1b[0m\n", "AKIA[REDACTED]\n"),
            ("ghp_Curs0rM0ve\x1b[5D\x1b[5CT0kenAbcdefghijklmnop\n", "[REDACTED]\n"),
            ("sk-proj-\u{200b}Q9x2Lm4Pz8Rt6Vw1Yb3N now\n", "sk-[REDACTED] now\n"),
            ("pass\x1b[0mword=hun\x08ter2\n", "password=[REDACTED]\n"),
            ("https://alice:\x1b]0;t\x07s3cret@h/\n", "https://[REDACTED]@h/\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "redact {input:?}");
            assert_eq!(redact(expected), expected);
            let mut r = PipeRedactor::new();
            let mut out = r.push(input.as_bytes());
            out.extend(r.finish());
            assert_eq!(String::from_utf8(out).unwrap(), expected, "pipe {input:?}");
        }
        // Without a secret, escape sequences are kept; a secret inside one is masked in place.
        let colour = "\x1b[1mBuild\x1b[0m: ok 👨\u{200d}👩\u{200d}👧";
        assert!(matches!(redact(colour), Cow::Borrowed(_)));
        check(
            "\x1b]8;;https://u:pw@h.example/x\x1b\\link\x1b]8;;\x1b\\",
            "\x1b]8;;https://[REDACTED]@h.example/x\x1b\\link\x1b]8;;\x1b\\",
        );
        // The raw log is text: escape sequences, their payloads and control characters go.
        let mut r = PipeRedactor::new();
        let mut out = r.push(b"\x1b]0;window title\x07\x1b[1mbold\x1b[0m done\r\nnext\rover\n");
        out.extend(r.finish());
        assert_eq!(String::from_utf8(out).unwrap(), "bold done\nnext\nover\n");
    }

    /// F14: a sentence that names a token keeps its words.
    #[test]
    fn ordinary_words_after_a_label_are_kept() {
        for text in [
            "no GitHub token: set AGENTPOOL_COPILOT_TOKEN, GITHUB_TOKEN or GH_TOKEN, or run `gh auth login`",
            "API key: your key here",
            "Token: none.",
            "password: required",
            "secret: not found",
            "The access token: expired",
        ] {
            check(text, text);
        }
        check("my secret: swordfish", "my secret: [REDACTED]");
        check("token: Set2024!", "token: [REDACTED]");
    }

    // --- Generated docs -----------------------------------------------------------------

    const DOC_BEGIN: &str = "<!-- BEGIN GENERATED: shapes (`UPDATE_DOCS=1 cargo test -p agentpool-core --lib redact` rewrites this table) -->";
    const DOC_END: &str = "<!-- END GENERATED: shapes -->";

    /// The table of shapes in `docs/security.md`.
    fn render_shapes() -> String {
        let code = |s: &str| format!("`{}`", s.replace('\n', "↵").replace('|', "\\|"));
        let mut out = format!("{DOC_BEGIN}\n\n| shape | example | stored as | what |\n|---|---|---|---|\n");
        for s in SHAPES {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                s.name,
                code(s.example),
                code(s.redacted),
                s.description.replace('|', "\\|")
            ));
        }
        out.push('\n');
        out.push_str(DOC_END);
        out
    }

    #[test]
    fn docs_security_md_lists_every_shape() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md");
        let have = std::fs::read_to_string(&path).unwrap();
        let (Some(start), Some(end)) = (have.find(DOC_BEGIN), have.find(DOC_END)) else {
            panic!("docs/security.md has no generated shapes section ({DOC_BEGIN} … {DOC_END})");
        };
        let want = format!("{}{}{}", &have[..start], render_shapes(), &have[end + DOC_END.len()..]);
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        assert!(
            have == want,
            "docs/security.md lists other shapes than `SHAPES`; run `UPDATE_DOCS=1 cargo test -p agentpool-core --lib redact` (or `cargo xtask snapshot --accept`)"
        );
    }

    // --- Properties ---------------------------------------------------------------------

    mod properties {
        use proptest::prelude::*;
        use proptest::sample::Index;
        use proptest::test_runner::TestCaseError;

        use crate::test_support::check_property;

        use super::super::*;

        /// A secret as printed, and the parts of it that must not survive.
        #[derive(Debug, Clone)]
        struct Secret {
            text: String,
            sensitive: Vec<String>,
        }

        fn secret(text: String, sensitive: impl IntoIterator<Item = String>) -> Secret {
            Secret { text, sensitive: sensitive.into_iter().collect() }
        }

        fn one_of(items: &'static [&'static str]) -> BoxedStrategy<&'static str> {
            proptest::sample::select(items).boxed()
        }

        /// A string of `len` characters from `alphabet`, drawn from one seed: far cheaper to
        /// generate than a regex strategy (which keeps a shrinkable tree per character), and
        /// it still shrinks, towards the shortest string of the alphabet's first character.
        fn chars(
            alphabet: &'static str,
            len: std::ops::RangeInclusive<usize>,
        ) -> impl Strategy<Value = String> + Clone {
            let alphabet: Vec<char> = alphabet.chars().collect();
            (any::<u64>(), len).prop_map(move |(seed, n)| {
                let mut state = seed;
                (0..n)
                    .map(|_| {
                        // splitmix64
                        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                        let mut z = state;
                        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                        z ^= z >> 31;
                        alphabet[usize::try_from(z % alphabet.len() as u64).unwrap()]
                    })
                    .collect()
            })
        }

        /// ASCII letters and digits, as a literal for `concat!`.
        macro_rules! alnum {
            () => {
                "AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz0123456789"
            };
        }
        const ALNUM: &str = alnum!();
        const UPPER_DIGITS: &str = "A0B1C2D3E4F5G6H7I8J9KLMNOPQRSTUVWXYZ";
        const DIGITS: &str = "0123456789";
        /// base64url, as in JWTs and most API keys.
        const URL_SAFE: &str = "AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz0123456789_-";

        /// A string from `alphabet` that ends in a character of `last` (a digit, so the value
        /// is not an English word; or an alphanumeric, so it does not end in punctuation).
        fn ending(
            alphabet: &'static str,
            len: std::ops::RangeInclusive<usize>,
            last: &'static str,
        ) -> impl Strategy<Value = String> + Clone {
            (chars(alphabet, len), chars(last, 1..=1)).prop_map(|(a, b)| a + &b)
        }

        /// Secrets of one shape. Every entry of [`SHAPES`] has one (a test checks).
        fn secrets_of(shape: &str) -> Option<BoxedStrategy<Secret>> {
            Some(match shape {
                "authorization-header" => (
                    one_of(&["Authorization: ", "authorization:", "AUTHORIZATION:  "]),
                    one_of(&["Basic", "Digest", "token", "Negotiate", "Bearer"]),
                    ending(concat!(alnum!(), "+/=._-"), 11..=40, DIGITS),
                )
                    .prop_map(|(label, scheme, cred)| secret(format!("{label}{scheme} {cred}"), [cred]))
                    .boxed(),
                "bearer-token" => {
                    (one_of(&["Bearer ", "bearer  ", "BEARER\t"]), ending(concat!(alnum!(), "._~+/-"), 11..=40, DIGITS))
                        .prop_map(|(label, cred)| secret(format!("{label}{cred}"), [cred]))
                        .boxed()
                }
                "url-credentials" => (
                    prop_oneof![
                        one_of(&[
                            "https",
                            "http",
                            "postgres",
                            "mysql",
                            "mongodb+srv",
                            "redis",
                            "git+ssh",
                            "ftp",
                            "amqp"
                        ])
                        .prop_map(str::to_owned),
                        (chars("abcxyz", 1..=1), chars("abcxyz019+.-", 0..=9)).prop_map(|(a, b)| a + &b),
                    ],
                    chars(concat!(alnum!(), "._%-"), 1..=12),
                    ending(concat!(alnum!(), "._~%!$&'()*+,;=:@-"), 7..=24, ALNUM),
                    (
                        chars("abcdefghijklmnopqrstuvwxyz0123456789", 1..=1),
                        chars("abcdefghijklmnopqrstuvwxyz0123456789.-", 0..=20),
                    )
                        .prop_map(|(a, b)| a + &b),
                    one_of(&["", ":5432", ":22", "/", "/repo.git", ":8443/x?y=1"]),
                )
                    .prop_map(|(scheme, user, pass, host, tail)| {
                        secret(format!("{scheme}://{user}:{pass}@{host}{tail}"), [format!("{user}:{pass}"), pass])
                    })
                    .boxed(),
                "name-equals-value" => (
                    one_of(&[
                        "token",
                        "api_key",
                        "API_KEY",
                        "DB_PASSWORD",
                        "--client-secret",
                        "refresh_token",
                        "AUTH_TOKEN",
                        "password",
                        "secret",
                        "privatekey",
                        "apikey",
                        "session-token",
                    ]),
                    ending(concat!(alnum!(), "!#$%&*+,./:;<>?@^_~-"), 5..=30, DIGITS),
                )
                    .prop_map(|(name, value)| secret(format!("{name}={value}"), [value]))
                    .boxed(),
                "name-colon-value" => (
                    one_of(&[
                        "Password",
                        "api key",
                        "x-api-key",
                        "my secret",
                        "session_token",
                        "access-token",
                        "Token",
                    ]),
                    one_of(&[":", ": ", ":  ", ":\t"]),
                    prop_oneof![
                        (
                            chars("AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz!#$%&*+.@^_~-", 0..=10),
                            chars(DIGITS, 1..=1),
                            chars(URL_SAFE, 3..=20)
                        )
                            .prop_map(|(a, b, c)| a + &b + &c),
                        chars("abcdefghijklmnopqrstuvwxyz", 8..=14)
                            .prop_filter("an ordinary word stays", |w| !is_prose_word(w)),
                    ],
                )
                    .prop_map(|(name, colon, value)| secret(format!("{name}{colon}{value}"), [value]))
                    .boxed(),
                "sk-key" => (one_of(&["sk-", "sk-proj-", "sk-ant-api03-", "SK-"]), ending(URL_SAFE, 19..=48, ALNUM))
                    .prop_map(|(prefix, body)| secret(format!("{prefix}{body}"), [body]))
                    .boxed(),
                "aws-access-key-id" => (one_of(&["AKIA", "ASIA"]), chars(UPPER_DIGITS, 16..=16))
                    .prop_map(|(prefix, body)| secret(format!("{prefix}{body}"), [body]))
                    .boxed(),
                "github-token" => (
                    one_of(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
                    ending(concat!(alnum!(), "_"), 19..=60, ALNUM),
                )
                    .prop_map(|(prefix, body)| secret(format!("{prefix}{body}"), [body]))
                    .boxed(),
                "google-api-key" => {
                    chars(URL_SAFE, 35..=35).prop_map(|body| secret(format!("AIza{body}"), [body])).boxed()
                }
                "slack-token" => (
                    one_of(&["b", "a", "p", "r", "s"]),
                    chars(DIGITS, 10..=13),
                    chars(DIGITS, 10..=13),
                    chars(ALNUM, 24..=24),
                )
                    .prop_map(|(kind, a, b, c)| {
                        let body = format!("{a}-{b}-{c}");
                        secret(format!("xox{kind}-{body}"), [body])
                    })
                    .boxed(),
                "jwt" => (chars(URL_SAFE, 10..=30), chars(URL_SAFE, 10..=60), chars(URL_SAFE, 10..=50))
                    .prop_map(|(h, p, s)| secret(format!("eyJ{h}.{p}.{s}"), [format!("{h}.{p}"), p, s]))
                    .boxed(),
                "pem-private-key" => (
                    one_of(&["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "]),
                    proptest::collection::vec(ending(concat!(alnum!(), "+/"), 15..=63, ALNUM), 1..4),
                )
                    .prop_map(|(kind, lines)| {
                        let text = format!(
                            "-----BEGIN {kind}PRIVATE KEY-----\n{}\n-----END {kind}PRIVATE KEY-----",
                            lines.join("\n")
                        );
                        secret(text, lines)
                    })
                    .boxed(),
                _ => return None,
            })
        }

        fn any_secret() -> BoxedStrategy<Secret> {
            let all: Vec<BoxedStrategy<Secret>> =
                SHAPES.iter().map(|s| secrets_of(s.name).expect("every shape has a generator")).collect();
            proptest::strategy::Union::new(all).boxed()
        }

        /// What a terminal hides: escape sequences (colour, cursor moves, titles, links),
        /// control characters and invisible format characters.
        const HIDDEN_CODES: &[&str] = &[
            "\x1b[0m",
            "\x1b[31m",
            "\x1b[1;32m",
            "\x1b[38;5;208m",
            "\x1b[5D",
            "\x1b[5C",
            "\x1b[2K",
            "\x1b[?25l",
            "\x1b]0;title\x07",
            "\x1b]8;;https://example.com/\x1b\\",
            "\x1b(B",
            "\x1b7",
            "\x08",
            "\x07",
            "\u{200b}",
            "\u{ad}",
            "\u{feff}",
            "\u{200d}",
        ];

        /// Ordinary text: English (including the words the rules look for), CJK, Cyrillic,
        /// emoji, URLs and addresses without credentials, and words that contain a token prefix.
        const WORDS: &[&str] = &[
            "the",
            "build",
            "passed",
            "Working",
            "on",
            "it",
            "tokens",
            "used",
            "monkey",
            "turkey",
            "café",
            "Press any key to continue",
            "task-management-overview-document",
            "disk-usage-report-2024-final",
            "risk-assessment-final-v2",
            "AKIA",
            "sk-short",
            "ghp_short",
            "eyJ",
            "https://example.com/path?q=1",
            "ssh://git@github.com/o/r.git",
            "alice@example.com",
            "密钥",
            "日本語のテキスト",
            "한국어",
            "Привет",
            "🔑",
            "👍🏽",
            "👨\u{200d}👩\u{200d}👧",
            "e.g.",
            "no GitHub token: set AGENTPOOL_COPILOT_TOKEN, GITHUB_TOKEN or GH_TOKEN",
            "API key: your key here",
            "Bearer tokens are sent in headers",
            "Summary: all tests pass",
        ];
        /// Separators between words of ordinary text.
        const GAPS: &[&str] =
            &[" ", "  ", "\n", ", ", ". ", "; ", "(", ")", "\"", "'", "—", "、", "。", "\t", "\u{3000}"];
        /// What can stand right before or after a secret: something visible that is not an
        /// ASCII letter, digit or `_` (which would make a longer word of it; an invisible
        /// character glues the two as well).
        const EDGES: &[&str] = &[
            " ",
            "\n",
            "密钥",
            "한",
            "д",
            "é",
            "🔑",
            "👨\u{200d}👩\u{200d}👧",
            ":",
            "\"",
            "'",
            "(",
            "[",
            ",",
            "—",
            "、",
            "\u{3000}",
            "\t",
        ];

        fn prose() -> impl Strategy<Value = String> {
            proptest::collection::vec((one_of(WORDS), one_of(GAPS)), 0..8)
                .prop_map(|parts| parts.into_iter().map(|(w, g)| format!("{w}{g}")).collect::<String>())
        }

        /// Inserts each code at a char boundary of `s` chosen by its index (never inside
        /// another code).
        fn insert_codes(s: &str, codes: &[(Index, &str)]) -> String {
            let bounds: Vec<usize> = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect();
            let mut at: Vec<(usize, &str)> =
                codes.iter().map(|(i, code)| (bounds[i.index(bounds.len())], *code)).collect();
            at.sort_by_key(|(pos, _)| *pos);
            let mut out = String::with_capacity(s.len() + 64);
            let mut from = 0;
            for (pos, code) in at {
                out.push_str(&s[from..pos]);
                out.push_str(code);
                from = pos;
            }
            out.push_str(&s[from..]);
            out
        }

        /// A secret in ordinary text, with hidden codes inside and around it.
        #[derive(Debug, Clone)]
        struct Case {
            text: String,
            sensitive: Vec<String>,
        }

        fn cases() -> impl Strategy<Value = Case> {
            let codes = || proptest::collection::vec((any::<Index>(), one_of(HIDDEN_CODES)), 0..4);
            (
                prose(),
                prop::option::of(one_of(EDGES)),
                any_secret(),
                codes(),
                proptest::collection::vec(one_of(HIDDEN_CODES), 0..2),
                proptest::collection::vec(one_of(HIDDEN_CODES), 0..2),
                prop::option::of(one_of(EDGES)),
                prose(),
            )
                .prop_map(|(before, left, secret, inside, pre, post, right, after)| {
                    // Text before the secret always ends at an edge, so it cannot glue on.
                    let left = left.unwrap_or(if before.is_empty() { "" } else { " " });
                    let right = right.unwrap_or(if after.is_empty() { "" } else { " " });
                    let text = format!(
                        "{before}{left}{}{}{}{right}{after}",
                        pre.concat(),
                        insert_codes(&secret.text, &inside),
                        post.concat()
                    );
                    Case { text, sensitive: secret.sensitive }
                })
        }

        fn assert_gone(out: &str, case: &Case) -> Result<(), TestCaseError> {
            let visible = visible_text(out);
            for part in &case.sensitive {
                prop_assert!(!out.contains(part.as_str()), "{part:?} survived in {out:?}");
                prop_assert!(!visible.contains(part.as_str()), "{part:?} survived in the visible {visible:?}");
            }
            Ok(())
        }

        #[test]
        fn every_shape_has_a_generator() {
            for shape in SHAPES {
                assert!(secrets_of(shape.name).is_some(), "no generator for shape `{}`", shape.name);
            }
        }

        /// What every stored string goes through (database, events, transcript, prompt,
        /// metadata, JSON output).
        #[test]
        fn no_secret_survives_redact() {
            check_property(cases(), |case| {
                let out = redact(&case.text);
                assert_gone(&out, &case)?;
                prop_assert_eq!(redact(&out), out.clone(), "not idempotent");
                Ok(())
            });
        }

        /// The raw log: the same text printed in pieces cut anywhere (inside an escape
        /// sequence or a character too), with pauses shorter than the hold between them.
        #[test]
        fn no_secret_survives_the_raw_log() {
            // Milliseconds of quiet after a piece: none, before and after the partial-line
            // wait, up to just under the hold.
            let pauses = proptest::sample::select(&[0u64, 10, 25, 30, 500, 1999][..]);
            let cuts = proptest::collection::vec((any::<Index>(), pauses), 0..6);
            check_property((cases(), cuts), |(case, cuts)| {
                let bytes = case.text.as_bytes();
                let mut at: Vec<(usize, u64)> = cuts.iter().map(|(i, ms)| (i.index(bytes.len() + 1), *ms)).collect();
                at.sort_unstable();
                let mut r = PipeRedactor::new();
                let mut log = Vec::new();
                let mut from = 0;
                for (to, ms) in at {
                    log.extend(r.push(&bytes[from..to]));
                    log.extend(r.quiet(Duration::from_millis(ms)));
                    from = to;
                }
                log.extend(r.push(&bytes[from..]));
                log.extend(r.finish());
                let log = String::from_utf8(log).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(!log.contains('\x1b'), "an escape sequence reached the log: {log:?}");
                assert_gone(&log, &case)
            });
        }

        /// Ordinary text, hidden codes and all, comes back unchanged (and borrowed).
        #[test]
        fn ordinary_text_is_left_alone() {
            let text = (prose(), proptest::collection::vec((any::<Index>(), one_of(HIDDEN_CODES)), 0..3))
                .prop_map(|(p, codes)| insert_codes(&p, &codes));
            check_property(text, |text| {
                prop_assert!(matches!(redact(&text), Cow::Borrowed(_)), "changed: {text:?} -> {:?}", redact(&text));
                Ok(())
            });
        }
    }
}
