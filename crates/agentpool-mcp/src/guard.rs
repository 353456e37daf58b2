//! The observe wait guard. MCP hosts time tool calls out (often at 60 s), so a long wait is
//! capped below that and the caller is told, in the payload's metadata, what happened; `0` and
//! `1` second requests are answered from one capture (a fast poll).

use std::time::Duration;

use serde_json::{Map, Value, json};

/// The longest wait one `observe_worker` call performs.
pub const MAX_WAIT_SECS: i64 = 45;

/// The wait to perform for a requested timeout, and the metadata that explains a change.
pub fn observe_wait(requested: i64) -> (Duration, Map<String, Value>) {
    let mut meta = Map::new();
    let (effective, reason) = match requested {
        r if r <= 0 => (0, None),
        1 => (0, Some("fast_poll")),
        r if r > MAX_WAIT_SECS => (MAX_WAIT_SECS, Some("mcp_outer_timeout_guard")),
        r => (r, None),
    };
    if let Some(reason) = reason {
        meta.insert("requested_timeout_seconds".into(), json!(requested));
        meta.insert("effective_timeout_seconds".into(), json!(effective));
        meta.insert("observe_timeout_reason".into(), json!(reason));
    }
    (Duration::from_secs(effective.unsigned_abs()), meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_table() {
        for (requested, secs, reason) in [
            (-5, 0, None),
            (0, 0, None),
            (1, 0, Some("fast_poll")),
            (2, 2, None),
            (45, 45, None),
            (46, 45, Some("mcp_outer_timeout_guard")),
            (300, 45, Some("mcp_outer_timeout_guard")),
        ] {
            let (d, meta) = observe_wait(requested);
            assert_eq!(d, Duration::from_secs(secs), "{requested}");
            assert_eq!(meta.get("observe_timeout_reason").and_then(Value::as_str), reason, "{requested}");
            if reason.is_some() {
                assert_eq!(meta["requested_timeout_seconds"], requested);
                assert_eq!(meta["effective_timeout_seconds"], secs);
            }
        }
    }
}
