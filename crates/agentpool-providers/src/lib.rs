//! Links every built-in provider crate into the binary.
//!
//! Registrations are collected by `inventory` at link time, but the linker drops crates that
//! nothing references; [`link_all`] references each provider crate so its registrations stay.
//! Every front end and test harness calls it before building a registry.

/// The provider ids this crate links, in listing order.
pub const EXPECTED_IDS: &[&str] = &[
    "fake-question",
    "fake-approval",
    "fake-completed",
    "fake-idle",
    "fake-limit",
    "fake-patch",
    "claude-code",
    "codex-cli",
    "cursor-cli",
    "opencode",
    "copilot-cli",
    "droid-cli",
    "devin-cli",
];

/// Keeps every built-in provider crate in the final binary.
pub fn link_all() {
    agentpool_provider_fake_question::link();
    agentpool_provider_claude::link();
    agentpool_provider_codex::link();
    agentpool_provider_cursor::link();
    agentpool_provider_opencode::link();
    agentpool_provider_copilot::link();
    agentpool_provider_droid::link();
    agentpool_provider_devin::link();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_set_is_exactly_the_expected_one() {
        link_all();
        let ids: Vec<&str> = agentpool_core::provider::registrations().iter().map(|r| r.id).collect();
        assert_eq!(ids, EXPECTED_IDS);
    }

    #[test]
    fn registry_refuses_auto_and_lists_known_ids() {
        link_all();
        let dir = std::env::temp_dir().join(format!("agentpool-reg-{}", std::process::id()));
        let settings = agentpool_core::config::Settings::load_from(dir.clone(), dir.join("missing.toml")).unwrap();
        let reg = agentpool_core::provider::Registry::new(&settings).unwrap();
        let auto = reg.get("auto").err().unwrap();
        assert_eq!(auto.code, agentpool_core::ErrorCode::PolicyBlocked);
        let unknown = reg.get("nope").err().unwrap();
        assert_eq!(unknown.code, agentpool_core::ErrorCode::ProviderNotFound);
        assert_eq!(unknown.details["known_providers"].as_array().unwrap().len(), EXPECTED_IDS.len());
    }
}
