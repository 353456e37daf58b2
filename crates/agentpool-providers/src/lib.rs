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
    "fake-hooks",
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

    fn registry_with(config: &str) -> agentpool_core::Result<agentpool_core::provider::Registry> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        link_all();
        let dir = std::env::temp_dir().join(format!(
            "agentpool-reg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.toml");
        std::fs::write(&file, config).unwrap();
        let settings = agentpool_core::config::Settings::load_from(dir.clone(), file);
        let _ = std::fs::remove_dir_all(&dir);
        agentpool_core::provider::Registry::new(&settings?)
    }

    #[test]
    fn custom_providers_join_the_registry_after_the_linked_ones() {
        let reg = registry_with(
            "[[custom_providers]]\nid = \"my-agent\"\ncommand = [\"/bin/sh\"]\n\
             [[custom_providers]]\nid = \"off-agent\"\ncommand = [\"/bin/sh\"]\nenabled = false\n",
        )
        .unwrap();
        let ids = reg.ids();
        assert_eq!(ids.len(), EXPECTED_IDS.len() + 1);
        assert_eq!(ids.last().map(String::as_str), Some("my-agent"));
        assert_eq!(reg.get("my-agent").unwrap().vendor(), "custom");
        assert_eq!(reg.get("off-agent").err().unwrap().code, agentpool_core::ErrorCode::ProviderNotFound);
    }

    #[test]
    fn a_custom_provider_replaces_a_linked_one_only_when_it_says_so() {
        let clash = registry_with("[[custom_providers]]\nid = \"codex-cli\"\ncommand = [\"/bin/sh\"]\n").err().unwrap();
        assert_eq!(clash.code, agentpool_core::ErrorCode::InvalidConfig);
        assert!(clash.message.contains("custom_providers[0] (`codex-cli`)"), "{}", clash.message);
        assert!(clash.message.contains("replace_builtin = true"), "{}", clash.message);

        let reg = registry_with(
            "[[custom_providers]]\nid = \"codex-cli\"\ncommand = [\"/bin/sh\"]\nreplace_builtin = true\n",
        )
        .unwrap();
        assert_eq!(reg.ids().len(), EXPECTED_IDS.len());
        assert_eq!(reg.get("codex-cli").unwrap().vendor(), "custom", "the config entry replaced the crate");

        let typo =
            registry_with("[[custom_providers]]\nid = \"codexx\"\ncommand = [\"/bin/sh\"]\nreplace_builtin = true\n")
                .err()
                .unwrap();
        assert!(typo.message.contains("no provider `codexx` is linked"), "{}", typo.message);
    }
}
