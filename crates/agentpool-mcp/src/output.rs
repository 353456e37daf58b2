//! Tool results: structured content with an output schema on success, and on failure an
//! `isError` result carrying the `{"error": {code, message, details}}` envelope (with an MCP
//! flavoured `details.example` next step).
//!
//! Every tool returns a typed result (`agentpool_core::api`, or `agentpool_stats`'s report), and
//! its output schema is generated from that same type.

use std::sync::Arc;

use agentpool_core::error::{Error, ErrorCode};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde_json::{Value, json};

/// A schema for `T`: draft 2020-12, subschemas inlined (hosts handle `$ref` poorly and it is
/// shorter here), without the root title/description and `$schema`.
pub fn schema<T: JsonSchema>(serialize: bool) -> Arc<JsonObject> {
    let mut settings = SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true);
    if serialize {
        settings = settings.for_serialize();
    }
    let root = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(root).unwrap_or_else(|_| json!({"type": "object"}));
    if let Value::Object(m) = &mut value {
        m.shift_remove("$schema");
        m.shift_remove("title");
        m.shift_remove("description");
    }
    strip_titles(&mut value);
    flatten_alternatives(&mut value);
    compact(&mut value, serialize);
    if serialize {
        shallow(&mut value, 0);
        merge_alternatives(&mut value);
    }
    object_subschemas(&mut value);
    let mut root = match value {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    };
    // Hosts require an object at the root of every input and output schema.
    root.entry("type").or_insert_with(|| json!("object"));
    Arc::new(root)
}

/// Keywords whose value is one subschema (or, for `items` in older drafts, a list of them).
const ONE_SUBSCHEMA: &[&str] = &[
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];
/// Keywords whose value maps names to subschemas.
const NAMED_SUBSCHEMAS: &[&str] = &["properties", "patternProperties", "dependentSchemas", "$defs", "definitions"];
/// Keywords whose value is a list of subschemas.
const LISTED_SUBSCHEMAS: &[&str] = &["anyOf", "oneOf", "allOf", "prefixItems"];

/// Rewrites every boolean subschema as its object form (`true` → `{}`, `false` →
/// `{"not": {}}`). JSON Schema allows booleans there, but the TypeScript MCP SDK — and every
/// host built on it — rejects a whole `tools/list` when one property schema is not an object;
/// schemars writes `true` for `serde_json::Value`.
pub fn object_subschemas(schema: &mut Value) {
    fn fix(sub: &mut Value) {
        match sub {
            Value::Bool(true) => *sub = json!({}),
            Value::Bool(false) => *sub = json!({"not": {}}),
            Value::Array(list) => list.iter_mut().for_each(fix),
            _ => object_subschemas(sub),
        }
    }
    let Value::Object(m) = schema else { return };
    for (key, sub) in m.iter_mut() {
        let key = key.as_str();
        if ONE_SUBSCHEMA.contains(&key) {
            fix(sub);
        } else if NAMED_SUBSCHEMAS.contains(&key) {
            if let Value::Object(named) = sub {
                named.values_mut().for_each(fix);
            }
        } else if LISTED_SUBSCHEMAS.contains(&key)
            && let Value::Array(list) = sub
        {
            list.iter_mut().for_each(fix);
        }
    }
}

/// Inlined enums carry their type's doc comment; property docs are kept, nested type titles
/// are dropped (noise for a model, and bytes in the budget).
fn strip_titles(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.shift_remove("title");
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                for p in props.values_mut() {
                    strip_titles(p);
                }
            }
            for key in ["items", "additionalProperties"] {
                if let Some(inner) = m.get_mut(key) {
                    strip_titles(inner);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(arr)) = m.get_mut(key) {
                    for inner in arr {
                        strip_titles(inner);
                    }
                }
            }
        }
        Value::Array(arr) => arr.iter_mut().for_each(strip_titles),
        _ => {}
    }
}

/// `anyOf: [{anyOf: [A, B]}, C]` (an optional enum of alternatives, as schemars writes
/// `Option<OneOrMany>`) becomes `anyOf: [A, B, C]`: the same values, fewer bytes. The inner
/// description moves up when the outer schema has none.
fn flatten_alternatives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for inner in m.values_mut() {
                flatten_alternatives(inner);
            }
            let Some(Value::Array(list)) = m.get_mut("anyOf") else { return };
            let mut flat = Vec::with_capacity(list.len());
            let mut lifted = None;
            for alt in list.drain(..) {
                match alt {
                    Value::Object(mut inner)
                        if inner.get("anyOf").is_some_and(Value::is_array)
                            && inner.keys().all(|k| k == "anyOf" || k == "description") =>
                    {
                        if let Some(Value::Array(nested)) = inner.shift_remove("anyOf") {
                            flat.extend(nested);
                        }
                        lifted = lifted.or(inner.shift_remove("description"));
                    }
                    other => flat.push(other),
                }
            }
            *list = flat;
            if let Some(d) = lifted {
                m.entry("description").or_insert(d);
            }
        }
        Value::Array(arr) => arr.iter_mut().for_each(flatten_alternatives),
        _ => {}
    }
}

/// Drops what costs bytes without helping a model: integer formats, `null` defaults and
/// boolean `additionalProperties` everywhere (`true` is the default; `false` — unknown
/// arguments — is still enforced by the server, which names the accepted fields, and left out
/// because some hosts mishandle boolean subschemas); in output schemas also descriptions and
/// enum lists (the payload is read, not written, and the whole default `tools/list` has a
/// 12 000-byte budget).
fn compact(v: &mut Value, output: bool) {
    match v {
        Value::Object(m) => {
            m.shift_remove("format");
            if m.get("default").is_some_and(Value::is_null) {
                m.shift_remove("default");
            }
            if m.get("additionalProperties").is_some_and(Value::is_boolean) {
                m.shift_remove("additionalProperties");
            }
            if output {
                m.shift_remove("description");
                m.shift_remove("minimum");
                m.shift_remove("maximum");
                if m.shift_remove("enum").is_some() {
                    m.insert("type".into(), json!("string"));
                }
            }
            for (_, inner) in m.iter_mut() {
                compact(inner, output);
            }
        }
        Value::Array(arr) => arr.iter_mut().for_each(|x| compact(x, output)),
        _ => {}
    }
}

/// How deep an output schema describes objects: the result's own fields, each with its type;
/// a struct inside is just a field name (`{}`). The result types are documented in full in
/// `agentpool_core::api`; this keeps the default `tools/list` within its 12 000-byte budget.
const OUTPUT_SCHEMA_DEPTH: usize = 1;

/// Cuts object schemas below [`OUTPUT_SCHEMA_DEPTH`] down to nothing (`{}`), or to their
/// type when it is more than `object` (`["object", "null"]`).
fn shallow(v: &mut Value, level: usize) {
    let Value::Object(m) = v else { return };
    // Which fields are always present is left to the payload: it costs more bytes than it
    // tells a model, and a schema without it is no less true.
    let required = m.shift_remove("required");
    // A field a result may leave out is an `Option` skipped when `None` (the only
    // `skip_serializing_if` on an optional field here), so it is never `null` when present.
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        let required: Vec<&Value> = required.as_ref().and_then(Value::as_array).into_iter().flatten().collect();
        for (name, prop) in props.iter_mut() {
            if !required.iter().any(|r| r.as_str() == Some(name)) {
                not_null(prop);
            }
        }
    }
    if level >= OUTPUT_SCHEMA_DEPTH && m.contains_key("properties") {
        let ty = m.get("type").cloned().unwrap_or_else(|| json!("object"));
        m.clear();
        // `"type": "object"` on every nested result would cost the default tool list its
        // budget, and the field's name and the payload say as much.
        if ty != json!("object") {
            m.insert("type".into(), ty);
        }
        return;
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(list)) = m.get_mut(key) {
            list.iter_mut().for_each(|x| shallow(x, level));
        }
    }
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(|x| shallow(x, level + 1));
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = m.get_mut(key) {
            shallow(inner, level + 1);
        }
    }
    // Below the cut, an array of objects (or of anything: `{}`, or `true` as schemars writes
    // it) is just an array, and a map of objects just an object.
    let below = |sub: Option<&Value>| {
        sub.is_some_and(|i| {
            i == &Value::Bool(true)
                || i.as_object().is_some_and(|o| o.is_empty() || o.get("type") == Some(&json!("object")))
        })
    };
    if level + 1 >= OUTPUT_SCHEMA_DEPTH {
        if below(m.get("items")) {
            m.shift_remove("items");
        }
        if below(m.get("additionalProperties")) {
            m.shift_remove("additionalProperties");
        }
    }
}

/// Drops `null` from a schema's types (`["string", "null"]` → `"string"`, `anyOf: [X, null]`
/// → `X`).
fn not_null(v: &mut Value) {
    let Value::Object(m) = v else { return };
    if let Some(Value::Array(types)) = m.get_mut("type") {
        types.retain(|t| t != "null");
        if let [one] = types.as_slice() {
            let one = one.clone();
            m.insert("type".into(), one);
        }
    }
    let null = json!({"type": "null"});
    if let Some(Value::Array(list)) = m.get("anyOf")
        && list.len() == 2
        && list.contains(&null)
        && let Some(x) = list.iter().find(|x| **x != null)
    {
        *v = x.clone();
    }
}

/// A result of one of several object shapes (`anyOf` at the root) is described as one object
/// with every field any shape has. Shorter, and hosts that look only at `properties` see them
/// all.
fn merge_alternatives(v: &mut Value) {
    let Value::Object(m) = v else { return };
    let Some(Value::Array(shapes)) = m.get("anyOf").cloned() else { return };
    if !shapes.iter().all(|s| s.get("properties").is_some()) {
        return;
    }
    let mut props = serde_json::Map::new();
    for shape in &shapes {
        if let Some(Value::Object(p)) = shape.get("properties") {
            for (k, s) in p {
                match props.get_mut(k) {
                    None => {
                        props.insert(k.clone(), s.clone());
                    }
                    // Shapes that disagree on a field: it may be either.
                    Some(seen) if seen != s => *seen = json!({"anyOf": [seen.clone(), s.clone()]}),
                    Some(_) => {}
                }
            }
        }
    }
    m.shift_remove("anyOf");
    m.insert("type".into(), json!("object"));
    m.insert("properties".into(), Value::Object(props));
}

/// Input schema of a tool.
pub fn input<T: JsonSchema>() -> Arc<JsonObject> {
    schema::<T>(false)
}

/// Output schema of a tool.
pub fn output<T: JsonSchema>() -> Arc<JsonObject> {
    schema::<T>(true)
}

/// A successful result: the payload as structured content (and as its JSON text, for hosts
/// that read only `content`). The tool's output schema is generated from the same type.
pub fn ok<T: Serialize>(payload: &T) -> CallToolResult {
    match serde_json::to_value(payload) {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => fail(Error::new(ErrorCode::InvalidRequest, format!("internal: the result did not serialise: {e}"))),
    }
}

/// A failed tool call: `isError` with the envelope as its JSON text. Long strings are clipped:
/// an error about a 1 MB argument must not echo the megabyte back.
///
/// The envelope is not sent as structured content: the TypeScript SDK's `Client.callTool`
/// (1.32) checks an error's structured content against the tool's *success* schema and throws
/// `-32602` instead of showing the error, so hosts built on it would never see our code.
pub fn fail(err: Error) -> CallToolResult {
    let mut envelope = with_hint(err).envelope();
    clip_strings(&mut envelope, 500);
    CallToolResult::error(vec![ContentBlock::text(envelope.to_string())])
}

/// The `{"error": …}` envelope of a failed result, when it carries ours.
pub fn envelope_of(result: &CallToolResult) -> Option<Value> {
    let text = result.content.first()?.as_text()?;
    let v: Value = serde_json::from_str(&text.text).ok()?;
    v.get("error").is_some_and(Value::is_object).then_some(v)
}

fn clip_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) if s.len() > max => {
            let head: String = s.chars().take(max).collect();
            *s = format!("{head}… ({} bytes)", s.len());
        }
        Value::Array(a) => a.iter_mut().for_each(|x| clip_strings(x, max)),
        Value::Object(m) => m.values_mut().for_each(|x| clip_strings(x, max)),
        _ => {}
    }
}

/// Adds an MCP-shaped next step when the error has none.
pub fn with_hint(err: Error) -> Error {
    if err.detail("example").is_some() {
        return err;
    }
    let policy = err.detail("policy").and_then(Value::as_str).unwrap_or("");
    let example = match err.code {
        ErrorCode::ProviderNotFound => Some("get_inventory(include_usage=true)".to_owned()),
        ErrorCode::ProviderNotInstalled => {
            let id = err.detail("provider_id").and_then(Value::as_str).unwrap_or("<provider-id>");
            Some(format!("agentpool setup {id}"))
        }
        ErrorCode::PolicyBlocked if policy == "max_parallel_sessions" => Some("list_sessions(limit=50, offset=0)".to_owned()),
        ErrorCode::PolicyBlocked if policy == "allow_raw_keys" => Some("interrupt_worker(session_id='<session-id>')".to_owned()),
        ErrorCode::PolicyBlocked => Some("get_inventory(include_usage=true)".to_owned()),
        ErrorCode::InvalidRequest if err.detail("tool").and_then(Value::as_str) == Some("spawn_worker") => Some(
            "spawn_worker(provider_id='<provider-id>', repo_path='.', task='<actual delegated task>', isolation='read_only')".to_owned(),
        ),
        ErrorCode::InvalidDetail => Some("observe_worker(session_id='<session-id>', detail='excerpt')".to_owned()),
        ErrorCode::InvalidWaitFor => {
            Some("observe_worker(session_id='<session-id>', wait_for=['question','completed'], timeout_seconds=45)".to_owned())
        }
        ErrorCode::InvalidSessionPage => Some("list_sessions(limit=50, offset=0)".to_owned()),
        ErrorCode::SessionNotFound | ErrorCode::InvalidSessionId => Some("list_sessions(include_all=true)".to_owned()),
        _ => None,
    };
    match example {
        Some(e) => err.with("example", e),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_tool_calls() {
        let e = with_hint(Error::new(ErrorCode::PolicyBlocked, "x").with("policy", "require_explicit_provider"));
        assert_eq!(e.details["example"], "get_inventory(include_usage=true)");
        let e = with_hint(Error::new(ErrorCode::InvalidRequest, "x").with("tool", "spawn_worker"));
        assert!(e.details["example"].as_str().unwrap().starts_with("spawn_worker("));
        let e = with_hint(Error::new(ErrorCode::IoFailed, "x").with("example", "keep"));
        assert_eq!(e.details["example"], "keep");
    }

    #[test]
    fn failures_are_envelopes() {
        let r = fail(Error::new(ErrorCode::SessionNotFound, "session `ap_x` was not found"));
        assert_eq!(r.is_error, Some(true));
        assert!(r.structured_content.is_none(), "an error is not checked against the success schema");
        let s = envelope_of(&r).unwrap();
        assert_eq!(s["error"]["code"], "SESSION_NOT_FOUND");
        assert!(s["error"]["details"]["example"].is_string());
    }

    /// Paths of booleans standing where a schema stands. Keywords whose values are data, not
    /// schemas, may hold booleans; anywhere else a boolean is a boolean schema.
    fn boolean_schemas(v: &Value, path: &str, found: &mut Vec<String>) {
        const DATA: &[&str] =
            &["default", "const", "enum", "examples", "uniqueItems", "deprecated", "readOnly", "writeOnly"];
        match v {
            Value::Bool(_) => found.push(path.to_owned()),
            Value::Array(list) => {
                for (i, x) in list.iter().enumerate() {
                    boolean_schemas(x, &format!("{path}[{i}]"), found);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    if !DATA.contains(&k.as_str()) {
                        boolean_schemas(x, &format!("{path}.{k}"), found);
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_schema_of_every_toolset_is_objects_all_the_way_down() {
        let tools = crate::server::AgentPoolServer::all_tools().list_all();
        assert!(tools.len() >= 29, "every toolset's tools are checked");
        let mut found = Vec::new();
        for tool in &tools {
            let schemas = [("inputSchema", Some(&tool.input_schema)), ("outputSchema", tool.output_schema.as_ref())];
            for (kind, schema) in schemas {
                let Some(schema) = schema else { continue };
                let schema = Value::Object((**schema).clone());
                assert_eq!(schema["type"], "object", "{}.{kind} root", tool.name);
                boolean_schemas(&schema, &format!("{}.{kind}", tool.name), &mut found);
            }
            assert!(tool.output_schema.is_some(), "{} advertises its output", tool.name);
        }
        assert!(found.is_empty(), "boolean schemas: {found:#?}");
    }

    #[test]
    fn boolean_subschemas_become_objects() {
        let mut s = json!({
            "type": "object",
            "properties": {"a": true, "b": {"type": "array", "items": true}, "c": {"anyOf": [true, {"type": "null"}]}},
            "patternProperties": {"^x": false},
            "additionalProperties": {"not": true},
            "default": true,
        });
        object_subschemas(&mut s);
        assert_eq!(
            s,
            json!({
                "type": "object",
                "properties": {"a": {}, "b": {"type": "array", "items": {}}, "c": {"anyOf": [{}, {"type": "null"}]}},
                "patternProperties": {"^x": {"not": {}}},
                "additionalProperties": {"not": {}},
                "default": true,
            })
        );
        // Values of `Value` type, the case schemars writes as `true`, come out as `{}`; a list
        // of them is just an array.
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Open {
            any: Value,
            list: Vec<Value>,
        }
        let out = Value::Object((*output::<Open>()).clone());
        assert_eq!(out["properties"]["any"], json!({}));
        assert_eq!(out["properties"]["list"], json!({"type": "array"}));
    }

    #[test]
    fn nested_alternatives_are_flattened() {
        let mut s = json!({"properties": {"state": {
            "description": "outer",
            "anyOf": [{"description": "inner", "anyOf": [{"type": "string"}, {"type": "array"}]}, {"type": "null"}],
        }}});
        flatten_alternatives(&mut s);
        assert_eq!(
            s["properties"]["state"],
            json!({"description": "outer", "anyOf": [{"type": "string"}, {"type": "array"}, {"type": "null"}]})
        );
        // An alternative with more than alternatives (here its own type) is kept whole.
        let mut kept = json!({"anyOf": [{"type": "object", "anyOf": [{"required": ["a"]}]}, {"type": "null"}]});
        let before = kept.clone();
        flatten_alternatives(&mut kept);
        assert_eq!(kept, before);
    }

    #[test]
    fn output_schemas_drop_null_from_fields_that_are_skipped_instead() {
        #[derive(Serialize, JsonSchema)]
        struct Inner {
            x: u8,
        }
        #[derive(Serialize, JsonSchema)]
        struct Out {
            always: Option<String>,
            #[serde(default)]
            defaulted: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            inner: Option<Inner>,
            map: std::collections::BTreeMap<String, Inner>,
            list: Vec<Value>,
        }
        let s = Value::Object((*output::<Out>()).clone());
        assert_eq!(
            s["properties"],
            json!({
                "always": {"type": ["string", "null"]},
                "defaulted": {"type": ["string", "null"]},
                "skipped": {"type": "string"},
                "inner": {},
                "map": {"type": "object"},
                "list": {"type": "array"},
            })
        );
    }

    #[test]
    fn merged_shapes_that_disagree_on_a_field_allow_either() {
        let mut s = json!({"anyOf": [
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}}},
            {"type": "object", "properties": {"a": {"type": ["string", "null"]}, "c": {"type": "integer"}}},
        ]});
        merge_alternatives(&mut s);
        assert_eq!(
            s,
            json!({"type": "object", "properties": {
                "a": {"anyOf": [{"type": "string"}, {"type": ["string", "null"]}]},
                "b": {"type": "boolean"},
                "c": {"type": "integer"},
            }})
        );
    }

    #[test]
    fn schemas_inline_enums_in_inputs_only() {
        let s = Value::Object((*output::<agentpool_core::api::ObserveView>()).clone());
        assert_eq!(s["properties"]["state"]["type"], "string");
        assert!(s.get("$defs").is_none());
        let i = Value::Object((*input::<crate::params::SpawnArgs>()).clone());
        assert_eq!(i["properties"]["isolation"]["enum"][0], "read_only");
        assert!(i["properties"]["max_turns"].get("format").is_none());
    }
}
