//! Who is acting, and what may leave the process: the coordinator id, session scopes, and
//! lockdown. Both front ends (CLI and MCP) resolve these here so they behave the same.
//!
//! Coordinator rule: every session records the coordinator that spawned it
//! (`metadata.coordinator_id`). Any coordinator may observe, steer or terminate any session —
//! AgentPool is a local tool and the user owns every worker — but when the acting coordinator
//! is not the owner, every event it causes carries `metadata.acting_coordinator_id`, so the
//! owner can see who touched its worker. `sessions --scope mine` lists only the caller's own.

use crate::config::Settings;
use crate::error::{Error, ErrorCode, Result};
use crate::util;

/// Environment variable naming the acting coordinator.
pub const ENV_COORDINATOR_ID: &str = "AGENTPOOL_COORDINATOR_ID";
/// Environment variable that turns lockdown on (`1`, `true`, `yes`, `on`).
pub const ENV_LOCKDOWN: &str = "AGENTPOOL_LOCKDOWN";
/// Coordinator id used when neither the flag nor the environment names one. Stable, so
/// plain CLI use from one shell is one coordinator.
pub const DEFAULT_COORDINATOR_ID: &str = "default";

/// Checks a coordinator id: 1–64 of `A-Z a-z 0-9 . _ -`.
pub fn check_coordinator_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::InvalidCoordinatorId, "coordinator ids are 1-64 letters, digits, `.`, `_` or `-`")
            .with("coordinator_id", util::tail_chars(id, 80)))
    }
}

/// The acting coordinator: the flag, else `$AGENTPOOL_COORDINATOR_ID`, else `default`. An
/// empty flag or variable is an error (`INVALID_COORDINATOR_ID`), never a silent `default`:
/// whoever passed it meant some coordinator, and would otherwise act as everyone's default.
pub fn resolve_coordinator_id(flag: Option<&str>) -> Result<String> {
    let chosen = match flag {
        Some(f) => f.trim().to_owned(),
        None => match std::env::var_os(ENV_COORDINATOR_ID) {
            Some(v) => v.to_string_lossy().trim().to_owned(),
            None => DEFAULT_COORDINATOR_ID.to_owned(),
        },
    };
    check_coordinator_id(&chosen)?;
    Ok(chosen)
}

/// The MCP server's coordinator: `$AGENTPOOL_COORDINATOR_ID`, checked like the CLI's (empty or
/// malformed is an error), else a fresh `coord_…` for this process.
pub fn resolve_server_coordinator_id() -> Result<String> {
    match std::env::var_os(ENV_COORDINATOR_ID) {
        Some(v) => {
            let id = v.to_string_lossy().trim().to_owned();
            check_coordinator_id(&id)?;
            Ok(id)
        }
        None => Ok(util::new_coordinator_id()),
    }
}

/// Who is acting, and what may leave the process: resolved once per front-end process, the
/// same way for the CLI and the MCP server, and held by the `Pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The acting coordinator, recorded on what it spawns and on events it causes.
    pub coordinator_id: String,
    /// Listings and the parallel-session limit cover only this coordinator's sessions.
    pub scoped: bool,
    /// Worker text never leaves the process (see [`lockdown_enabled`]).
    pub lockdown: bool,
}

impl Principal {
    /// The CLI's: `--coordinator-id`, else `$AGENTPOOL_COORDINATOR_ID`, else `default`; not
    /// scoped; lockdown when the policy or `AGENTPOOL_LOCKDOWN` says so.
    pub fn cli(coordinator_flag: Option<&str>, settings: &Settings) -> Result<Self> {
        Ok(Self {
            coordinator_id: resolve_coordinator_id(coordinator_flag)?,
            scoped: false,
            lockdown: lockdown_enabled(settings),
        })
    }

    /// The MCP server's: `$AGENTPOOL_COORDINATOR_ID`, else a fresh `coord_…` per process;
    /// scoped to it; lockdown by the same rule as the CLI, or by the server's own
    /// `--lockdown` / `AGENTPOOL_MCP_LOCKDOWN` (`server_lockdown`), which can only add to it.
    pub fn mcp(server_lockdown: bool, settings: &Settings) -> Result<Self> {
        Ok(Self {
            coordinator_id: resolve_server_coordinator_id()?,
            scoped: true,
            lockdown: server_lockdown || lockdown_enabled(settings),
        })
    }
}

/// Which sessions a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only sessions spawned by the acting coordinator.
    Mine,
    /// Every session.
    All,
}

/// Parses `mine` / `all`.
pub fn parse_scope(raw: &str) -> Result<Scope> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "mine" => Ok(Scope::Mine),
        "all" => Ok(Scope::All),
        _ => Err(Error::new(ErrorCode::InvalidRequest, "scope must be `mine` or `all`")
            .with("scope", util::tail_chars(raw, 40))
            .with("allowed", ["mine", "all"])),
    }
}

/// Whether lockdown is on: `policy.lockdown` in config or a truthy `AGENTPOOL_LOCKDOWN`.
/// In lockdown no worker-derived text is inlined in any output (observe, collect,
/// transcript pages, questions); callers read artifacts themselves if they choose to.
pub fn lockdown_enabled(settings: &Settings) -> bool {
    settings.config.policy.lockdown || std::env::var(ENV_LOCKDOWN).is_ok_and(|v| util::truthy(&v))
}

/// Shapes a transcript page (`Pool::transcript` output) for an agent: `text` is fenced
/// between `BEGIN_/END_UNTRUSTED_WORKER_OUTPUT_<nonce>` lines with a fresh nonce (the page
/// inside is byte-exact but for `ESCAPED_` in front of a fence-like marker, so offsets still
/// add up), or, in lockdown, left out with
/// `included: false, reason: "lockdown"`. Human output prints pages verbatim instead.
pub fn shape_transcript(mut page: crate::api::TranscriptPage, lockdown: bool) -> crate::api::TranscriptPage {
    if lockdown {
        page.text = String::new();
        page.included = Some(false);
        page.reason = Some("lockdown".to_owned());
        return page;
    }
    page.text = crate::agent_io::fence(&page.text).0;
    page.included = Some(true);
    page.fenced = Some(true);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_pages_are_fenced_or_gated() {
        let page: crate::api::TranscriptPage = serde_json::from_value(serde_json::json!({
            "session_id": "ap_x", "path": "t", "exists": true, "mode": "page", "offset": 0, "limit": 8,
            "tail_lines": null, "next_offset": 8, "has_more": false, "size_bytes": 8, "truncated": false,
            "text": "  a\nb  "
        }))
        .unwrap();
        let fenced = shape_transcript(page.clone(), false);
        let text = &fenced.text;
        assert!(text.starts_with("BEGIN_UNTRUSTED_WORKER_OUTPUT_") && text.contains("\n  a\nb  \n"), "{text}");
        assert_eq!((fenced.included, fenced.fenced), (Some(true), Some(true)));
        assert_ne!(shape_transcript(page.clone(), false).text, fenced.text, "fresh nonce per response");
        let gated = shape_transcript(page, true);
        assert_eq!((gated.text.as_str(), gated.reason.as_deref()), ("", Some("lockdown")));
    }

    #[test]
    fn coordinator_ids() {
        assert_eq!(resolve_coordinator_id(Some("planner-1")).unwrap(), "planner-1");
        for bad in ["", "  ", "a b", "../x", "x\0", &"a".repeat(65)] {
            assert_eq!(resolve_coordinator_id(Some(bad)).unwrap_err().code, ErrorCode::InvalidCoordinatorId, "{bad:?}");
        }
        assert_eq!(parse_scope(" Mine ").unwrap(), Scope::Mine);
        assert!(parse_scope("everyone").is_err());
    }
}
