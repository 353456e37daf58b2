//! The model catalog: provider facts (default model, model flag, submit keys, prompt mode,
//! reasoning defaults, read-only flag, …) and model lists, kept as JSON in the repository
//! (`catalog/models.json`), embedded in the binary and layered with user catalogs named in
//! `model_catalog_paths`.
//!
//! Layering: the embedded catalog first, then each user catalog in order, deep-merged (objects
//! merge key by key; arrays and scalars replace, so an overlay's `models` list replaces the
//! embedded one). `[providers.<id>.metadata]` in `config.toml` wins over every catalog.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};
use crate::model::{Confidence, ModelDescriptor, ModelSource};

/// The catalog shipped with AgentPool.
pub const EMBEDDED_JSON: &str = include_str!("../catalog/models.json");

/// How the embedded catalog is named in outputs.
pub const EMBEDDED_NAME: &str = "<embedded>";

/// Catalog keys that describe a provider rather than list its models.
pub const FACT_KEYS: &[&str] = &[
    "default_model",
    "smoke_model",
    "model_arg",
    "model_selection",
    "default_initial_prompt_mode",
    "reasoning_effort_arg",
    "reasoning_effort_config_key",
    "service_tier_config_key",
    "submit_keys",
    "forward_separator",
    "read_only_mode_arg",
    "catalog_completeness",
    "quirks",
];

/// The merged catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// `None`: the embedded catalog alone, parsed when first read (most commands never read
    /// it, and parsing it is a good part of a short command's start-up).
    providers: Option<Map<String, Value>>,
    /// Where each layer came from, embedded first.
    pub sources: Vec<String>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::embedded()
    }
}

impl Catalog {
    /// The embedded catalog alone.
    pub fn embedded() -> Self {
        Catalog { providers: None, sources: vec![EMBEDDED_NAME.to_owned()] }
    }

    /// The embedded catalog alone, shared.
    pub fn embedded_ref() -> &'static Self {
        static EMBEDDED: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(Catalog::embedded);
        &EMBEDDED
    }

    /// The embedded catalog's entries, in file order, each parsed when first read: a command
    /// needs one provider's entry at most, and parsing all of them (60 KB) was a good part of
    /// a short command's start-up. The entries are found once per process, without parsing
    /// them (a fraction of the cost).
    fn embedded_entries() -> &'static [(&'static str, &'static RawValue, OnceLock<Value>)] {
        static ENTRIES: LazyLock<Vec<(&'static str, &'static RawValue, OnceLock<Value>)>> = LazyLock::new(|| {
            /// A JSON object's members in order, values unparsed.
            struct Entries(Vec<(&'static str, &'static RawValue)>);
            impl<'de: 'static> serde::Deserialize<'de> for Entries {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                    struct Members;
                    impl<'de: 'static> serde::de::Visitor<'de> for Members {
                        type Value = Entries;
                        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                            f.write_str("an object of provider entries")
                        }
                        fn visit_map<A: serde::de::MapAccess<'de>>(
                            self,
                            mut map: A,
                        ) -> std::result::Result<Entries, A::Error> {
                            let mut out = Vec::new();
                            while let Some(member) = map.next_entry::<&'static str, &'static RawValue>()? {
                                out.push(member);
                            }
                            Ok(Entries(out))
                        }
                    }
                    d.deserialize_map(Members)
                }
            }
            // The embedded file is ours and pinned by a test; a parse failure is a build defect.
            let members = |json: &'static str| serde_json::from_str::<Entries>(json).map(|e| e.0).unwrap_or_default();
            let providers = members(EMBEDDED_JSON).into_iter().find(|(key, _)| *key == "providers");
            let entries = providers.map(|(_, raw)| members(raw.get())).unwrap_or_default();
            entries.into_iter().map(|(id, raw)| (id, raw, OnceLock::new())).collect()
        });
        &ENTRIES
    }

    /// The embedded catalog's entry for `id`, parsed (once per process).
    fn embedded_entry(id: &str) -> Option<&'static Value> {
        let (_, raw, parsed) = Self::embedded_entries().iter().find(|(name, _, _)| *name == id)?;
        Some(parsed.get_or_init(|| serde_json::from_str(raw.get()).unwrap_or(Value::Null)))
    }

    /// The embedded catalog's entries, all parsed.
    fn embedded_providers() -> Map<String, Value> {
        Self::embedded_entries()
            .iter()
            .filter_map(|(id, _, _)| Some(((*id).to_owned(), Self::embedded_entry(id)?.clone())))
            .collect()
    }

    /// The entry for `id`, any layer.
    fn entry(&self, id: &str) -> Option<&Value> {
        match &self.providers {
            Some(merged) => merged.get(id),
            None => Self::embedded_entry(id),
        }
    }

    /// The embedded catalog with each user catalog layered on top. A missing, non-JSON or
    /// invalid user catalog is an `INVALID_CATALOG` error naming the file and its problems.
    pub fn load(paths: &[PathBuf]) -> Result<Self> {
        let mut catalog = Self::embedded();
        for path in paths {
            let value = read_file(path)?;
            let report = validate(&value, &[]);
            if !report.errors.is_empty() {
                return Err(Error::new(
                    ErrorCode::InvalidCatalog,
                    format!("model catalog `{}` is invalid: {}", path.display(), report.errors.join("; ")),
                )
                .with("path", path.display().to_string())
                .with("errors", &report.errors));
            }
            if let Some(providers) = value.get("providers").and_then(Value::as_object) {
                let merged = catalog.providers.get_or_insert_with(Self::embedded_providers);
                for (id, entry) in providers {
                    match merged.get_mut(id) {
                        Some(existing) => deep_merge(existing, entry.clone()),
                        None => {
                            merged.insert(id.clone(), entry.clone());
                        }
                    }
                }
            }
            catalog.sources.push(path.display().to_string());
        }
        Ok(catalog)
    }

    /// Provider ids the catalog describes, in file order.
    pub fn provider_ids(&self) -> Vec<String> {
        match &self.providers {
            Some(merged) => merged.keys().cloned().collect(),
            None => Self::embedded_entries().iter().map(|(id, _, _)| (*id).to_owned()).collect(),
        }
    }

    /// Whether the catalog has an entry for `id`.
    pub fn has(&self, id: &str) -> bool {
        self.entry(id).is_some()
    }

    /// Every key of a provider's entry except `models`.
    pub fn facts(&self, id: &str) -> Map<String, Value> {
        let Some(entry) = self.entry(id).and_then(Value::as_object) else { return Map::new() };
        entry.iter().filter(|(k, _)| *k != "models").map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// A provider's models; entries that do not parse are skipped (validation reports them).
    pub fn models(&self, id: &str) -> Vec<ModelDescriptor> {
        self.entry(id)
            .and_then(|p| p.get("models"))
            .and_then(Value::as_array)
            .map(|models| models.iter().filter_map(model_from_value).collect())
            .unwrap_or_default()
    }
}

/// One model entry with the catalog defaults applied (`source` config, `confidence` unknown).
pub fn model_from_value(v: &Value) -> Option<ModelDescriptor> {
    let o = v.as_object()?;
    let id = o.get("id")?.as_str().filter(|s| !s.trim().is_empty())?.to_owned();
    let source = o.get("source").and_then(Value::as_str).map_or(Some(ModelSource::Config), |s| s.parse().ok())?;
    let confidence =
        o.get("confidence").and_then(Value::as_str).map_or(Some(Confidence::Unknown), |s| s.parse().ok())?;
    Some(ModelDescriptor {
        id,
        display_name: o.get("display_name").and_then(Value::as_str).map(str::to_owned),
        source,
        confidence,
        aliases: o
            .get("aliases")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
        metadata: o.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default(),
    })
}

/// The catalog's default reasoning effort for an exact model id (aliases do not count).
pub fn reasoning_default(models: &[ModelDescriptor], model: &str) -> Option<String> {
    models
        .iter()
        .find(|m| m.id == model)
        .and_then(|m| m.metadata.get("reasoning"))
        .and_then(|r| r.get("default"))
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty())
        .map(str::to_owned)
}

/// Objects merge recursively; anything else in `overlay` replaces what `base` had.
pub fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Expands `~/` and `$VAR` / `${VAR}` in a configured path (unset variables stay as written).
pub fn expand_path(raw: &str) -> PathBuf {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(stripped) = after.strip_prefix('{') {
            match stripped.find('}') {
                Some(end) => (&stripped[..end], &stripped[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match std::env::var(name).ok().filter(|_| !name.is_empty()) {
            Some(v) => out.push_str(&v),
            None => {
                out.push('$');
                out.push_str(&rest[i + 1..rest.len() - tail.len()]);
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    crate::config::expand_tilde(Path::new(&out))
}

/// Reads one catalog file: it must exist, end in `.json` and parse.
pub fn read_file(path: &Path) -> Result<Value> {
    let shown = path.display().to_string();
    let is_json = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        return Err(Error::new(ErrorCode::InvalidCatalog, format!("model catalog paths must be JSON files: {shown}"))
            .with("path", &shown));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        let msg = if e.kind() == std::io::ErrorKind::NotFound {
            format!("model catalog path does not exist: {shown}")
        } else {
            format!("could not read model catalog {shown}: {e}")
        };
        Error::new(ErrorCode::InvalidCatalog, msg).with("path", &shown)
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::new(ErrorCode::InvalidCatalog, format!("model catalog {shown} is not valid JSON: {e}"))
            .with("path", &shown)
            .with("line", e.line())
            .with("column", e.column())
    })
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Checks a catalog document. Errors name the exact entry (`providers.<id>.models[<i>].id …`);
/// provider ids outside `known` are warnings (skipped when `known` is empty).
pub fn validate(root: &Value, known: &[String]) -> Validation {
    let mut v = Validation::default();
    let Some(root) = root.as_object() else {
        v.errors.push("catalog must be a JSON object".into());
        return v;
    };
    let providers = match root.get("providers") {
        None | Some(Value::Null) => {
            v.errors.push("catalog.providers is required".into());
            return v;
        }
        Some(Value::Object(p)) => p,
        Some(_) => {
            v.errors.push("catalog.providers must be an object".into());
            return v;
        }
    };
    for (id, entry) in providers {
        if id.trim().is_empty() {
            v.errors.push("provider ids must be non-empty strings".into());
            continue;
        }
        if !known.is_empty() && !known.iter().any(|k| k == id) {
            v.warnings.push(format!("unknown provider id: {id}"));
        }
        let p = format!("providers.{id}");
        let Some(entry) = entry.as_object() else {
            v.errors.push(format!("{p} must be an object"));
            continue;
        };
        check_facts(&p, entry, &mut v.errors);
        let models = match entry.get("models") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(m)) => m,
            Some(_) => {
                v.errors.push(format!("{p}.models must be an array"));
                continue;
            }
        };
        for (i, model) in models.iter().enumerate() {
            check_model(&format!("{p}.models[{i}]"), model, &mut v.errors);
        }
    }
    v
}

fn check_facts(p: &str, entry: &Map<String, Value>, errors: &mut Vec<String>) {
    for key in [
        "default_model",
        "smoke_model",
        "model_arg",
        "model_selection",
        "reasoning_effort_arg",
        "reasoning_effort_config_key",
        "service_tier_config_key",
        "forward_separator",
        "read_only_mode_arg",
        "catalog_completeness",
    ] {
        if let Some(val) = entry.get(key).filter(|v| !v.is_null() && !v.is_string()) {
            errors.push(format!("{p}.{key} must be a string, not {}", kind(val)));
        }
    }
    if let Some(mode) = entry.get("default_initial_prompt_mode").filter(|v| !v.is_null()) {
        match mode.as_str() {
            Some("send_after_launch" | "arg") => {}
            Some(other) => errors.push(format!(
                "{p}.default_initial_prompt_mode has invalid value: {other} (use send_after_launch or arg)"
            )),
            None => errors.push(format!("{p}.default_initial_prompt_mode must be a string")),
        }
    }
    for key in ["submit_keys", "quirks"] {
        match entry.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.iter().any(|i| !i.is_string()) {
                    errors.push(format!("{p}.{key} values must be strings"));
                }
            }
            Some(other) => errors.push(format!("{p}.{key} must be an array, not {}", kind(other))),
        }
    }
}

fn check_model(m: &str, model: &Value, errors: &mut Vec<String>) {
    let Some(model) = model.as_object() else {
        errors.push(format!("{m} must be an object"));
        return;
    };
    if model.get("id").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
        errors.push(format!("{m}.id must be a non-empty string"));
    }
    if let Some(src) = model.get("source").filter(|s| !s.is_null())
        && src.as_str().is_none_or(|s| s.parse::<ModelSource>().is_err())
    {
        errors.push(format!("{m}.source has invalid value: {}", shown(src)));
    }
    if let Some(c) = model.get("confidence").filter(|c| !c.is_null())
        && c.as_str().is_none_or(|s| s.parse::<Confidence>().is_err())
    {
        errors.push(format!("{m}.confidence has invalid value: {}", shown(c)));
    }
    if model.get("display_name").is_some_and(|d| !d.is_null() && !d.is_string()) {
        errors.push(format!("{m}.display_name must be a string"));
    }
    if model.get("aliases").is_some_and(|a| !a.is_null() && !a.is_array()) {
        errors.push(format!("{m}.aliases must be an array"));
    }
    let meta = match model.get("metadata") {
        None | Some(Value::Null) => return,
        Some(Value::Object(meta)) => meta,
        Some(_) => {
            errors.push(format!("{m}.metadata must be an object"));
            return;
        }
    };
    let reasoning = match meta.get("reasoning") {
        None | Some(Value::Null) => return,
        Some(Value::Object(r)) => r,
        Some(_) => {
            errors.push(format!("{m}.metadata.reasoning must be an object"));
            return;
        }
    };
    match reasoning.get("supported") {
        None | Some(Value::Null) => {}
        Some(Value::Array(values)) => {
            for val in values.iter().filter(|v| !v.is_string()) {
                errors.push(format!("{m}.metadata.reasoning.supported values must be strings (got {})", shown(val)));
            }
        }
        Some(_) => {
            errors.push(format!("{m}.metadata.reasoning.supported must be an array"));
            return;
        }
    }
    if reasoning.get("default").is_some_and(|d| !d.is_null() && !d.is_string()) {
        errors.push(format!("{m}.metadata.reasoning.default must be a string"));
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shown(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn embedded_entries_read_lazily_are_the_whole_catalog() {
        let root: Value = serde_json::from_str(EMBEDDED_JSON).unwrap();
        let whole = root["providers"].as_object().unwrap();
        let catalog = Catalog::embedded();
        assert_eq!(catalog.provider_ids(), whole.keys().cloned().collect::<Vec<_>>(), "every entry, in file order");
        for (id, entry) in whole {
            assert_eq!(catalog.entry(id), Some(entry), "{id}");
        }
        assert_eq!(Catalog::embedded_providers(), *whole);
        assert!(!catalog.has("nobody"));
    }

    #[test]
    fn embedded_catalog_is_valid_and_has_every_real_provider() {
        let root: Value = serde_json::from_str(EMBEDDED_JSON).unwrap();
        let known: Vec<String> =
            ["claude-code", "codex-cli", "cursor-cli", "opencode", "copilot-cli", "droid-cli", "devin-cli"]
                .map(str::to_owned)
                .to_vec();
        assert_eq!(validate(&root, &known), Validation::default());
        let c = Catalog::embedded();
        assert_eq!(c.provider_ids(), known);
        assert_eq!(c.facts("codex-cli")["default_model"], "gpt-5.5");
        assert_eq!(c.facts("codex-cli")["submit_keys"], json!(["C-m"]));
        assert!(!c.facts("codex-cli").contains_key("models"));
        assert_eq!(reasoning_default(&c.models("claude-code"), "claude-opus-4-7").as_deref(), Some("xhigh"));
        assert_eq!(reasoning_default(&c.models("codex-cli"), "gpt-5.3-codex-spark").as_deref(), Some("high"));
        assert_eq!(reasoning_default(&c.models("claude-code"), "haiku"), None);
        // Every parsed model survives: nothing is silently dropped.
        for id in c.provider_ids() {
            let raw = root["providers"][&id]["models"].as_array().map_or(0, Vec::len);
            assert_eq!(c.models(&id).len(), raw, "{id}");
        }
    }

    #[test]
    fn validation_names_each_bad_entry() {
        let doc = json!({"providers": {
            "codex-cli": {"submit_keys": "C-m", "default_initial_prompt_mode": "stdin", "models": [
                {"id": ""},
                {"id": "a", "source": "guess", "confidence": "high", "aliases": "x"},
                {"id": "b", "metadata": {"reasoning": {"supported": ["low", 3], "default": 1}}},
                {"id": "c", "metadata": []},
                7
            ]},
            "nope": {"models": {}},
            "": {}
        }});
        let v = validate(&doc, &["codex-cli".to_owned()]);
        assert_eq!(
            v.errors,
            vec![
                "providers.codex-cli.default_initial_prompt_mode has invalid value: stdin (use send_after_launch or arg)",
                "providers.codex-cli.submit_keys must be an array, not a string",
                "providers.codex-cli.models[0].id must be a non-empty string",
                "providers.codex-cli.models[1].source has invalid value: guess",
                "providers.codex-cli.models[1].confidence has invalid value: high",
                "providers.codex-cli.models[1].aliases must be an array",
                "providers.codex-cli.models[2].metadata.reasoning.supported values must be strings (got 3)",
                "providers.codex-cli.models[2].metadata.reasoning.default must be a string",
                "providers.codex-cli.models[3].metadata must be an object",
                "providers.codex-cli.models[4] must be an object",
                "providers.nope.models must be an array",
                "provider ids must be non-empty strings",
            ]
        );
        assert_eq!(v.warnings, vec!["unknown provider id: nope"]);
        assert_eq!(validate(&json!([]), &[]).errors, vec!["catalog must be a JSON object"]);
        assert_eq!(validate(&json!({}), &[]).errors, vec!["catalog.providers is required"]);
        assert_eq!(validate(&json!({"providers": 1}), &[]).errors, vec!["catalog.providers must be an object"]);
    }

    #[test]
    fn user_catalogs_layer_over_the_embedded_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine.json");
        std::fs::write(
            &file,
            r#"{"providers": {"codex-cli": {"default_model": "gpt-5.4", "models": [{"id": "gpt-5.4"}]}, "my-cli": {"default_model": "m1"}}}"#,
        )
        .unwrap();
        let c = Catalog::load(std::slice::from_ref(&file)).unwrap();
        assert_eq!(c.facts("codex-cli")["default_model"], "gpt-5.4");
        // Untouched keys stay; the overlay's model list replaces the embedded one.
        assert_eq!(c.facts("codex-cli")["submit_keys"], json!(["C-m"]));
        assert_eq!(c.models("codex-cli").len(), 1);
        assert_eq!(c.models("codex-cli")[0].confidence, Confidence::Unknown);
        assert_eq!(c.facts("my-cli")["default_model"], "m1");
        assert_eq!(c.sources, vec![EMBEDDED_NAME.to_owned(), file.display().to_string()]);

        let yaml = dir.path().join("x.yaml");
        std::fs::write(&yaml, "{}").unwrap();
        let err = Catalog::load(&[yaml]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidCatalog);
        assert!(err.message.contains("must be JSON files"), "{}", err.message);
        let missing = Catalog::load(&[dir.path().join("missing.json")]).unwrap_err();
        assert!(missing.message.contains("does not exist"), "{}", missing.message);
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"providers": {"x": {"models": [{"id": 1}]}}}"#).unwrap();
        let err = Catalog::load(&[bad]).unwrap_err();
        assert_eq!(err.details["errors"], json!(["providers.x.models[0].id must be a non-empty string"]));
    }

    #[test]
    fn path_expansion() {
        // SAFETY-free: only reads variables every environment has.
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(expand_path("$HOME/a.json"), PathBuf::from(format!("{home}/a.json")));
        assert_eq!(expand_path("${HOME}/a.json"), PathBuf::from(format!("{home}/a.json")));
        assert_eq!(
            expand_path("/x/$AGENTPOOL_SURELY_UNSET_VAR/a.json"),
            PathBuf::from("/x/$AGENTPOOL_SURELY_UNSET_VAR/a.json")
        );
    }
}
