//! Secrets a worker prints, or a task and a message carry, never reach a file under
//! `AGENTPOOL_HOME` or a command's JSON output (issue 15: S1 URL credentials, S2 tokens right
//! after CJK text or an emoji, S3 tokens split by escape sequences, which used to reach
//! `raw/pane.log`), and redaction leaves ordinary sentences alone (F14).

use std::path::{Path, PathBuf};

use agentpool_tests::TestContext;

use crate::fakes::observe;

/// Prints the secrets of the findings before reading its task: a URL with credentials (S1), a
/// token glued to CJK text (S2), tokens with colour or cursor codes inside (S3), and the
/// sentence whose "set" used to be redacted (F14). Then it asks a question, and answers with
/// a result block holding more of the same.
const LEAKY: &str = r#"printf 'clone https://alice:UrlPassw0rdLeak@git.example.com/repo.git\n'
printf 'wide: 密钥ghp_W1deUn1c0deNe1ghb0urAbcdefghijklmn🔑\n'
printf 'g\033[31mh\033[0mp_AnsiSpl1tT0k3nAbcdefghijkl\n'
printf 'AKIA\033[1mANSIBOLDKEY12345\033[0m\n'
printf 'ghp_Curs0rM0ve\033[5D\033[5CT0kenAbcdefghijklmnop\n'
printf 'no GitHub token: set AGENTPOOL_COPILOT_TOKEN, GITHUB_TOKEN or GH_TOKEN\n'
seen=0
while IFS= read -r line; do
  if [ "$seen" = 1 ] && [ -n "$line" ]; then break; fi
  case "$line" in Task:*) seen=1;; esac
done
echo "NEED INPUT: which database"
answer=""
while [ -z "$answer" ]; do IFS= read -r answer || exit 2; done
echo "AGENTPOOL_RESULT_START"
echo "Summary: pushed to https://dave:Resu1tUrlPw@git.example.com/r with 凭据ghp_Resu1tCjkT0kenAbcdefghijklmn"
echo "AGENTPOOL_RESULT_END"
while IFS= read -r line; do :; done
"#;

/// The parts of every secret above, the task and the message that must not survive.
const SECRETS: [&str; 12] = [
    "UrlPassw0rdLeak",
    "TaskUrlPwLeak",
    "SendUrlPw0rd",
    "Resu1tUrlPw",
    "W1deUn1c0deNe1ghb0ur",
    "TaskCjkT0ken",
    "Resu1tCjkT0ken",
    "SendEm0j1Q9x2Lm4",
    "AnsiSpl1tT0k3n",
    "ANSIBOLDKEY12345",
    "Curs0rM0ve",
    "T0kenAbcdefghijklmnop",
];

/// Every file under `root`, recursively.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(files(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

/// `text` without escape sequences and control characters (other than line breaks), as a
/// reader stripping them would see it — independent of the product's own stripping.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters, then one final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC and other strings: until BEL or ST.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next().is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{ad}' | '\u{feff}') => {}
            c => out.push(c),
        }
    }
    out
}

/// Panics when any secret is in `text`, as it is or with escape sequences removed.
fn assert_clean(what: &str, text: &str) {
    let shown = visible(text);
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret:?} found in {what}");
        assert!(!shown.contains(secret), "{secret:?} found in {what} once escape sequences are removed");
    }
}

#[test]
fn secrets_in_urls_after_cjk_and_inside_escape_sequences_reach_no_file_and_no_output() {
    let ctx = TestContext::new();
    // Outside the home (which is checked) and the repository (whose diff is collected).
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("leaky.sh");
    std::fs::write(&script, LEAKY).unwrap();
    ctx.write_config(&format!(
        "[[custom_providers]]\nid = \"leaky\"\ncommand = [\"/bin/sh\", \"{}\"]\n\n[custom_providers.patterns]\nquestion = ['(?m)^NEED INPUT: ']\n",
        script.display()
    ));
    let task =
        "Check https://carol:TaskUrlPwLeak@h.example.com/x and 密钥ghp_TaskCjkT0kenAbcdefghijklmnopq then report";
    let mut outputs = vec![ctx.spawn("leaky", task, &["--account", "ops🔑sk-proj-SendEm0j1Q9x2Lm4Pz8Rt6Vw"])];
    let id = outputs[0]["session_id"].as_str().unwrap().to_owned();
    let q = observe(&ctx, &id, "question", "30", "full");
    assert_eq!(q["event"], "question", "{q}");
    outputs.push(q);
    outputs.push(ctx.json(&[
        "send",
        &id,
        "use postgres://erin:SendUrlPw0rd@db/app and 🔑sk-proj-SendEm0j1Q9x2Lm4Pz8Rt6Vw",
        "--json",
    ]));
    let c = observe(&ctx, &id, "completed", "30", "full");
    assert_eq!(c["event"], "completed", "{c}");
    outputs.push(c);
    for args in [
        &["collect", &id, "--detail", "full", "--json"][..],
        &["transcript", &id, "--json"],
        &["sessions", "--json"],
        &["session", "show", &id, "--json"],
    ] {
        outputs.push(ctx.json(args));
    }
    let dir = ctx.artifact_dir(&id);
    outputs.push(ctx.json(&["terminate", &id, "--json"]));

    // The worker's output was seen, redacted, and the sentence kept its words (F14).
    let transcript = std::fs::read_to_string(dir.join("transcript.txt")).unwrap();
    assert!(transcript.contains("clone https://[REDACTED]@git.example.com/repo.git"), "{transcript}");
    assert!(transcript.contains("wide: 密钥[REDACTED]🔑"), "{transcript}");
    assert!(transcript.contains("no GitHub token: set AGENTPOOL_COPILOT_TOKEN, GITHUB_TOKEN"), "{transcript}");
    // The raw log is the visible text: no escape sequence, the split tokens masked whole.
    let log = std::fs::read_to_string(dir.join("raw/pane.log")).unwrap();
    assert!(!log.contains('\x1b'), "escape sequences in the raw log:\n{log:?}");
    assert!(log.contains("AKIA[REDACTED]"), "{log}");
    assert!(log.contains("no GitHub token: set AGENTPOOL_COPILOT_TOKEN"), "{log}");

    for out in &outputs {
        assert_clean("a JSON output", &out.to_string());
    }
    let all = files(ctx.home());
    for name in ["agentpool.sqlite", "events.jsonl", "transcript.txt", "pane.log", "prompt.md", "metadata.json"] {
        assert!(all.iter().any(|p| p.ends_with(name)), "{name} missing from {all:?}");
    }
    for f in &all {
        let bytes = std::fs::read(f).unwrap_or_default();
        assert_clean(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
}
