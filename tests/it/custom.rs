//! A `[[custom_providers]]` entry drives a CLI nobody wrote a crate for: here a shell script
//! the test writes, started as `/bin/sh <script>`, with its own submit keys and a question
//! pattern core does not know.

use agentpool_tests::TestContext;

use crate::fakes::observe;

/// Reads the pasted prompt up to the line after `Task:`, asks in its own words (no `?`, so only
/// the configured pattern can see the question), waits for the answer, prints a result block
/// and stays at its prompt.
const AGENT: &str = r#"echo "custom agent started with $# arguments: $*"
task=""
seen=0
while IFS= read -r line; do
  if [ "$seen" = 1 ] && [ -n "$line" ]; then task="$line"; break; fi
  case "$line" in Task:*) seen=1;; esac
done
printf '%s\n' "Working on: $task" | tr 'a-z' 'A-Z'
echo "NEED INPUT: which directory first"
answer=""
while [ -z "$answer" ]; do IFS= read -r answer || exit 2; done
echo "AGENTPOOL_RESULT_START"
echo "Summary: custom agent looked at $answer"
echo "AGENTPOOL_RESULT_END"
while IFS= read -r line; do :; done
"#;

#[test]
fn a_custom_provider_from_config_works_through_one_task() {
    let ctx = TestContext::new();
    let script = ctx.home().join("my-agent.sh");
    std::fs::write(&script, AGENT).unwrap();
    ctx.write_config(&format!(
        r#"
[[custom_providers]]
id = "my-agent"
display_name = "My Agent"
command = ["/bin/sh", "{}"]
model_arg = "--model"
models = ["m1"]
submit_keys = ["C-m"]

[custom_providers.patterns]
question = ['(?m)^NEED INPUT: ']
error = ['(?m)^AGENT CRASHED']
"#,
        script.display()
    ));

    let inv = ctx.json(&["inventory", "--json"]);
    let row = inv["providers"].as_array().unwrap().iter().find(|p| p["id"] == "my-agent").cloned().unwrap();
    assert_eq!(row["installed"], true, "{row}");
    assert_eq!(row["binary_path"], "/bin/sh", "{row}");
    assert_eq!(row["metadata"]["custom"], true, "{row}");
    assert_eq!(inv["providers"].as_array().unwrap().last().unwrap()["id"], "my-agent", "listed after the built-ins");

    let id = ctx.spawn_id("my-agent", "count the modules", &["--model", "m1"]);
    let q = observe(&ctx, &id, "question", "30", "summary");
    assert_eq!(q["event"], "question", "the configured pattern saw the question: {q}");
    assert_eq!(q["state"], "AWAITING_USER_INPUT", "{q}");

    ctx.json(&["send", &id, "src first", "--json"]);
    let send = ctx.events(&id).into_iter().find(|e| e["event_type"] == "send_message").unwrap();
    assert_eq!(send["metadata"]["submit_keys"], serde_json::json!(["C-m"]), "the entry's submit keys: {send}");
    let c = observe(&ctx, &id, "completed", "30", "summary");
    assert_eq!(c["event"], "completed", "{c}");

    let collected = ctx.json(&["collect", &id, "--detail", "full", "--json"]);
    assert!(collected.to_string().contains("custom agent looked at src first"), "{collected}");
    let transcript = std::fs::read_to_string(ctx.artifact_dir(&id).join("transcript.txt")).unwrap();
    assert!(transcript.contains("WORKING ON: COUNT THE MODULES"), "the pasted prompt reached it: {transcript}");
    assert!(transcript.contains("started with 2 arguments: --model m1"), "the model flag from the entry: {transcript}");

    let t = ctx.json(&["terminate", &id, "--json"]);
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(ctx.tmux_sessions(), Vec::<String>::new());
}

#[test]
fn a_custom_provider_with_a_bad_regex_is_invalid_config() {
    let ctx = TestContext::new();
    ctx.write_config(
        "[[custom_providers]]\nid = \"broken\"\ncommand = [\"/bin/sh\"]\n[custom_providers.patterns]\nlogin = ['(']\n",
    );
    let err = ctx.error(&["inventory", "--json"], "INVALID_CONFIG");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("custom_providers[0] (`broken`): `patterns.login[0]`"), "{err}");
}
