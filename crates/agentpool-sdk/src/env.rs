//! The environment a worker runs with.
//!
//! A worker gets the whole environment of the call that spawned it — what the user would have
//! had typing the CLI in their shell: proxies, CA bundles, the SSH agent, API keys — minus
//! AgentPool's own variables (`AGENTPOOL_*`) and what the terminal multiplexer sets per pane
//! (`TMUX`, `TERM`, …). On top come the provider's own launch variables, then
//! `[providers.<id>] env` from config, then the spawn request's `env`, then the session's
//! `AGENTPOOL_SESSION_ID` and `AGENTPOOL_ARTIFACT_DIR`. It is set per session, never inherited
//! from whichever call happened to start the tmux server.

/// Variables the multiplexer sets for each pane itself; a caller's values would be wrong there.
const PER_PANE: &[&str] =
    &["TMUX", "TMUX_PANE", "TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "COLORTERM", "COLUMNS", "LINES"];

/// What a tmux client that may start a server keeps of its environment: enough to find its
/// socket and run, and nobody's secrets as the server's global defaults.
pub const CLIENT_KEEP: &[&str] =
    &["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMUX_TMPDIR", "TMPDIR"];

/// Whether a variable of the spawning call passes to its worker.
pub fn inherits(key: &str) -> bool {
    !key.starts_with("AGENTPOOL_") && !PER_PANE.contains(&key) && !key.is_empty()
}

/// The spawning call's environment as a worker inherits it (variables that are not valid
/// UTF-8 are left out), sorted by name.
pub fn inherited() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| inherits(k))
        .collect();
    vars.sort();
    vars
}

/// Checks a variable a user asked to set (`spawn --env`, `[providers.<id>] env`): a portable
/// name, not one of AgentPool's own, and a value without NUL.
pub fn check_var(key: &str, value: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let portable = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !portable {
        return Err(format!("`{key}` is not a variable name (letters, digits and `_`, not starting with a digit)"));
    }
    if key.starts_with("AGENTPOOL_") {
        return Err(format!("`{key}` is AgentPool's own; a worker cannot be given it"));
    }
    if value.contains('\0') {
        return Err(format!("the value of `{key}` contains a NUL byte"));
    }
    Ok(())
}

/// Parses `KEY=VALUE` (the value may be empty and may contain `=`).
pub fn parse_assignment(raw: &str) -> Result<(String, String), String> {
    let Some((key, value)) = raw.split_once('=') else {
        return Err(format!("`{raw}` is not KEY=VALUE"));
    };
    check_var(key, value)?;
    Ok((key.to_owned(), value.to_owned()))
}

/// `base` with `over` applied: later entries replace earlier ones of the same name.
pub fn overlay(base: Vec<(String, String)>, over: &[(String, String)]) -> Vec<(String, String)> {
    let mut map: std::collections::BTreeMap<String, String> = base.into_iter().collect();
    for (k, v) in over {
        map.insert(k.clone(), v.clone());
    }
    map.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_per_pane_variables_stay_behind() {
        assert!(inherits("HTTPS_PROXY") && inherits("SSH_AUTH_SOCK") && inherits("ANTHROPIC_API_KEY"));
        assert!(!inherits("AGENTPOOL_HOME") && !inherits("AGENTPOOL_TMUX_SOCKET") && !inherits("TMUX"));
        assert!(!inherits("TERM"));
    }

    #[test]
    fn assignments_are_checked() {
        assert_eq!(parse_assignment("A_1=x=y"), Ok(("A_1".into(), "x=y".into())));
        assert_eq!(parse_assignment("EMPTY="), Ok(("EMPTY".into(), String::new())));
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("1X=a").is_err());
        assert!(parse_assignment("A-B=a").is_err());
        assert!(parse_assignment("AGENTPOOL_HOME=/x").is_err());
        assert!(parse_assignment("A=a\0b").is_err());
    }

    #[test]
    fn overlay_replaces_by_name() {
        let base = vec![("A".into(), "1".into()), ("B".into(), "2".into())];
        let out = overlay(base, &[("B".into(), "3".into()), ("C".into(), "4".into())]);
        assert_eq!(out, [("A".into(), "1".into()), ("B".into(), "3".into()), ("C".into(), "4".into())]);
    }
}
