//! The initial prompt every worker receives, and the result-block protocol it describes.

use crate::model::{Isolation, Role};

/// First line of every initial prompt (stable: tests and tools key on it).
pub const PROMPT_HEADER: &str = "You are running as a delegated worker session under AgentPool.";

/// Builds the initial prompt. The empty result template it shows is deliberately not a valid
/// result block (its `Summary:` is followed directly by `Findings:`), so the echoed prompt can
/// never complete a session.
pub fn initial_prompt(role: Role, isolation: Isolation, workdir: &str, session_id: &str, task: &str) -> String {
    let rules = [
        "Do the task below for the primary agent that delegated it.",
        "If you are blocked, ask exactly one short question and wait for the answer.",
        "Ask before any risky action that would need approval.",
        "Change files only when the task explicitly asks for edits.",
        "With read_only isolation, inspect only: do not write, install or commit anything.",
        "Keep track of the files you read, the commands you run and what you find.",
        "When you are done, print this block with every field filled in:",
    ];
    let mut out = String::new();
    out.push_str(PROMPT_HEADER);
    out.push_str("\n\n");
    out.push_str(&format!("Role: {role}\nIsolation: {isolation}\nRepo: {workdir}\nSession: {session_id}\n\n"));
    out.push_str("Instructions:\n");
    for rule in rules {
        out.push_str("- ");
        out.push_str(rule);
        out.push('\n');
    }
    out.push_str("\nAGENTPOOL_RESULT_START\nSummary:\nFindings:\nFiles inspected:\nFiles changed:\nCommands run:\nTests run:\nBlockers:\nConfidence:\nAGENTPOOL_RESULT_END\n\n");
    out.push_str("Task:\n");
    out.push_str(task.trim());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_shape() {
        let p = initial_prompt(Role::Explorer, Isolation::ReadOnly, "/repo", "ap_1", "  Look around.\n");
        assert!(p.starts_with(PROMPT_HEADER));
        assert!(p.ends_with("Task:\nLook around.\n"));
        assert!(p.contains("Role: explorer\nIsolation: read_only\nRepo: /repo\nSession: ap_1\n"));
        assert_eq!(
            crate::detect::extract_result(&p, &crate::detect::EchoFilter::new()),
            None,
            "the template must not count as a result"
        );
    }
}
