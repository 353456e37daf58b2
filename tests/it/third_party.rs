//! A third-party provider crate (`examples/provider-echo`) linked into its own build of the
//! CLI library: the extra provider shows up in `inventory` next to every built-in one.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use agentpool_tests::{TestContext, workspace_root};
use serde_json::Value;

/// Builds `agentpool-with-echo` with the cargo running the tests; returns its path.
fn build_example() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "-q",
            "-p",
            "agentpool-provider-echo",
            "--bin",
            "agentpool-with-echo",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "building the example failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "agentpool-with-echo")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the executable")
}

fn ids(inventory: &Value) -> Vec<String> {
    inventory["providers"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn an_extra_provider_crate_joins_the_built_ins_in_its_own_binary() {
    let ctx = TestContext::new();
    let exe = build_example();
    let builtin = ids(&ctx.json(&["inventory", "--json"]));
    assert!(!builtin.contains(&"echo-example".to_owned()), "the stock binary does not link the example");

    // The same isolated environment the harness gives the stock binary.
    let stock = ctx.command(&["inventory", "--json"]);
    let mut cmd = Command::new(&exe);
    cmd.args(["inventory", "--json"]).current_dir(ctx.repo()).stdin(Stdio::null());
    for (k, v) in stock.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().expect("run agentpool-with-echo");
    agentpool_tests::assert_no_panic(&["inventory", "--json"], &out);
    assert!(out.status.success(), "{}", agentpool_tests::describe(&out));
    let inv = agentpool_tests::parse_json(&["inventory", "--json"], &out);
    let mut expected = builtin.clone();
    expected.push("echo-example".to_owned());
    let mut got = ids(&inv);
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "every built-in plus the extra provider");
    let echo = inv["providers"].as_array().unwrap().iter().find(|p| p["id"] == "echo-example").unwrap();
    assert_eq!(echo["display_name"], "Echo (example)", "{echo}");
    assert_eq!(echo["installed"], true, "`cat` is found: {echo}");
}
