//! `cargo xtask tidy`: checks the architecture invariants of `docs/architecture.md` and the
//! workspace hygiene rules, so they are enforced by a tool rather than by memory.
//!
//! Checks (each failure names the file or crate involved):
//! - `agentpool-sdk` depends on no workspace crate (any dependency kind);
//! - `agentpool-core` depends on no workspace crate but `agentpool-sdk` (any kind);
//! - provider crates (`providers/*`) and `agentpool-tmux` depend on no workspace crate but
//!   `agentpool-sdk` (any kind): they never import the engine;
//! - `agentpool-providers` links provider crates and depends on nothing else of the workspace
//!   outside its tests;
//! - only `agentpool-mcp` depends on `rmcp`;
//! - only `agentpool-core` and `agentpool-stats` depend on `rusqlite` among product crates
//!   (`crates/*`, `providers/*`; tests and xtask may read a database directly);
//! - only `agentpool-tmux` runs the `tmux` program from product code (`src/` of `crates/*`
//!   and `providers/*`); tests, benches and xtask may, because they clean up their own servers;
//! - no two modules of `agentpool-sdk` or of `agentpool-core` import each other, directly or
//!   through others (`crate::…`, `$crate::…` and `super::…` paths, outside comments and test
//!   modules): each crate's modules form layers;
//! - SQL is written only in `agentpool-core`'s `store/` (no statement, `execute`, `prepare` or
//!   query call in its other modules outside their tests);
//! - every package manifest has `[lints] workspace = true`;
//! - every tracked `.rs` file opens with a `//!` line saying what it is for.
//!
//! The same checks run as a plain `#[test]` (see the bottom of this file), so `cargo test`
//! fails on a violation even when nobody runs `cargo xtask tidy`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Runs every check against the workspace at `root`; `Err` lists every violation.
pub fn run(root: &Path) -> Result<(), String> {
    let metadata = cargo_metadata(root)?;
    let mut problems = Vec::new();
    problems.extend(check_dependencies(&metadata));
    problems.extend(check_lints(&metadata));
    let files = rust_files(root)?;
    problems.extend(check_module_docs(root, &files));
    problems.extend(check_tmux_spawns(root, &files));
    problems.extend(check_module_cycles(root, &files));
    problems.extend(check_sql_in_store(root, &files));
    if problems.is_empty() {
        println!("tidy: ok ({} packages, {} Rust files)", packages(&metadata).len(), files.len());
        Ok(())
    } else {
        Err(format!("tidy found {} problem(s):\n  - {}", problems.len(), problems.join("\n  - ")))
    }
}

fn cargo_metadata(root: &Path) -> Result<Value, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`cargo metadata` failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("`cargo metadata` printed invalid JSON: {e}"))
}

fn packages(metadata: &Value) -> Vec<&Value> {
    metadata["packages"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

fn package_dir(pkg: &Value) -> PathBuf {
    Path::new(pkg["manifest_path"].as_str().unwrap_or("")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Dependency-direction rules over `cargo metadata --no-deps` output.
fn check_dependencies(metadata: &Value) -> Vec<String> {
    let pkgs = packages(metadata);
    let workspace: Vec<&str> = pkgs.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut problems = Vec::new();
    for pkg in &pkgs {
        let name = pkg["name"].as_str().unwrap_or("?");
        let deps: Vec<(&str, &str)> = pkg["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| (d["name"].as_str().unwrap_or("?"), d["kind"].as_str().unwrap_or("normal")))
            .collect();
        let dir = package_dir(pkg);
        let is_provider = dir.parent().is_some_and(|d| d.ends_with("providers"));
        let is_product = is_provider || dir.parent().is_some_and(|d| d.ends_with("crates"));
        for (dep, kind) in &deps {
            let internal = workspace.contains(dep);
            if name == "agentpool-sdk" && internal {
                problems
                    .push(format!("agentpool-sdk must depend on no workspace crate, but depends on `{dep}` ({kind})"));
            }
            if name == "agentpool-core" && internal && *dep != "agentpool-sdk" {
                problems.push(format!(
                    "agentpool-core may depend only on agentpool-sdk among workspace crates, not `{dep}` ({kind})"
                ));
            }
            if (is_provider || name == "agentpool-tmux") && internal && *dep != "agentpool-sdk" {
                problems.push(format!(
                    "`{name}` may depend only on agentpool-sdk among workspace crates, not `{dep}` ({kind})"
                ));
            }
            if name == "agentpool-providers" && internal && *kind != "dev" && !dep.starts_with("agentpool-provider-") {
                problems.push(format!("agentpool-providers may depend only on provider crates, not `{dep}` ({kind})"));
            }
            if *dep == "rmcp" && name != "agentpool-mcp" {
                problems.push(format!("only agentpool-mcp may depend on rmcp, but `{name}` does"));
            }
            if *dep == "rusqlite"
                && is_product
                && *kind != "dev"
                && !matches!(name, "agentpool-core" | "agentpool-stats")
            {
                problems
                    .push(format!("only agentpool-core and agentpool-stats may depend on rusqlite, but `{name}` does"));
            }
        }
    }
    problems
}

/// Every package opts into `[workspace.lints]`.
fn check_lints(metadata: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for pkg in packages(metadata) {
        let manifest = pkg["manifest_path"].as_str().unwrap_or("");
        let text = std::fs::read_to_string(manifest).unwrap_or_default();
        if !has_workspace_lints(&text) {
            problems.push(format!("{manifest}: add `[lints]\\nworkspace = true`"));
        }
    }
    problems
}

fn has_workspace_lints(manifest: &str) -> bool {
    let mut in_lints = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_lints = line == "[lints]";
            continue;
        }
        if in_lints && line.replace(' ', "") == "workspace=true" {
            return true;
        }
    }
    false
}

/// Tracked `.rs` files, relative to `root` (what a clean checkout holds).
fn rust_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("git")
        .args(["ls-files", "--cached", "*.rs"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run `git ls-files`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`git ls-files` failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from).filter(|p| root.join(p).is_file()).collect())
}

fn check_module_docs(root: &Path, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(root.join(f)).unwrap_or_default();
            !opens_with_module_doc(&text)
        })
        .map(|f| format!("{}: the first line must be a `//!` doc comment saying what the module is for", f.display()))
        .collect()
}

fn opens_with_module_doc(text: &str) -> bool {
    text.lines().next().is_some_and(|l| l.starts_with("//!"))
}

/// Product code outside agentpool-tmux must not start the `tmux` program itself.
fn check_tmux_spawns(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut tmux_crate_spawns = false;
    for f in files {
        let Some(product) = product_crate(f) else { continue };
        let text = std::fs::read_to_string(root.join(f)).unwrap_or_default();
        let spawns = spawns_tmux(&text);
        if product == "crates/agentpool-tmux" {
            tmux_crate_spawns |= spawns;
        } else if spawns {
            problems.push(format!("{}: only agentpool-tmux may run `tmux`; go through the Runtime", f.display()));
        }
    }
    if !tmux_crate_spawns {
        // Guards the check itself: if the pattern stops matching the real call site, every
        // other crate would pass vacuously.
        problems
            .push("crates/agentpool-tmux/src: no `tmux` spawn found; update `spawns_tmux` in xtask/src/tidy.rs".into());
    }
    problems
}

/// `crates/<name>` or `providers/<name>` when `f` is under that crate's `src/`.
fn product_crate(f: &Path) -> Option<String> {
    let parts: Vec<&str> = f.iter().filter_map(|c| c.to_str()).collect();
    match parts.as_slice() {
        [top @ ("crates" | "providers"), name, "src", ..] => Some(format!("{top}/{name}")),
        _ => None,
    }
}

/// Ways product code names `tmux` as the program to run: `Command::new("tmux")`, a PATH
/// lookup of it, or an argv whose first element is the literal.
fn spawns_tmux(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    ["Command::new(\"tmux\"", "which(\"tmux\")", "vec![\"tmux\"", "[\"tmux\".to_", "[\"tmux\","]
        .iter()
        .any(|p| compact.contains(p))
}

/// Crates whose modules must form layers: no import cycle among them.
const ACYCLIC_CRATES: &[&str] = &["crates/agentpool-sdk", "crates/agentpool-core"];

fn check_module_cycles(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for krate in ACYCLIC_CRATES {
        let src = Path::new(krate).join("src");
        let modules: BTreeMap<String, String> = files
            .iter()
            .filter_map(|f| {
                let module = module_path(f.strip_prefix(&src).ok()?)?;
                Some((module, std::fs::read_to_string(root.join(f)).unwrap_or_default()))
            })
            .collect();
        problems.extend(module_cycles(krate, &modules));
    }
    problems
}

/// `a/b.rs` → `a::b`, `a/mod.rs` → `a`; `None` for the crate root and for test-only modules
/// (`tests.rs`, `*_tests.rs`), which may reach anywhere.
fn module_path(rel: &Path) -> Option<String> {
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let last = parts.pop()?.strip_suffix(".rs")?.to_owned();
    if last != "mod" {
        parts.push(last);
    }
    let leaf = parts.last()?;
    if matches!(parts.as_slice(), [only] if only == "lib" || only == "main")
        || leaf == "tests"
        || leaf.ends_with("_tests")
    {
        return None;
    }
    Some(parts.join("::"))
}

/// One problem per group of modules that import each other (a strongly connected component of
/// the import graph), naming each member's imports within the group.
fn module_cycles(krate: &str, modules: &BTreeMap<String, String>) -> Vec<String> {
    let names: Vec<&String> = modules.keys().collect();
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let edges: Vec<BTreeSet<usize>> = names
        .iter()
        .map(|m| imported_modules(m, &modules[*m], &index).into_iter().filter(|d| names[*d] != *m).collect())
        .collect();
    strongly_connected(&edges)
        .into_iter()
        .filter(|group| group.len() > 1)
        .map(|group| {
            let members: Vec<String> = group
                .iter()
                .map(|&m| {
                    let within: Vec<&str> =
                        edges[m].iter().filter(|d| group.contains(d)).map(|&d| names[d].as_str()).collect();
                    format!("{} → {}", names[m], within.join(", "))
                })
                .collect();
            format!(
                "{krate}: modules import each other in a cycle ({}); move what they share into a lower module",
                members.join("; ")
            )
        })
        .collect()
}

/// The modules (by index) that `module`'s code names through `crate::`, `$crate::` or
/// `super::` paths, each resolved to its longest known module prefix.
fn imported_modules(module: &str, text: &str, index: &BTreeMap<&str, usize>) -> BTreeSet<usize> {
    let code = non_test_code(text);
    let parent: Vec<&str> = {
        let mut p: Vec<&str> = module.split("::").collect();
        p.pop();
        p
    };
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let (base, skip) = if rest.starts_with("crate::") && (i == 0 || !is_ident(bytes[i - 1])) {
            (Vec::new(), "crate::".len())
        } else if rest.starts_with("super::") && (i == 0 || !is_ident(bytes[i - 1])) {
            (parent.clone(), "super::".len())
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let (paths, used) = path_tree(&code[i + skip..]);
        for p in paths {
            let full: Vec<&str> = base.iter().copied().chain(p.iter().map(String::as_str)).collect();
            if let Some(m) = (1..=full.len()).rev().find_map(|k| index.get(full[..k].join("::").as_str())) {
                found.insert(*m);
            }
        }
        i += skip + used.max(1);
    }
    found
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// The paths named at the start of `s` (after `crate::`): `a::b::C`, or `a::{b, c::{d, e}}`
/// expanded into each path; and how many bytes that took.
fn path_tree(s: &str) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut i = 0;
    loop {
        let ident: String = s[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !ident.is_empty() {
            i += ident.len();
            prefix.push(ident);
            if s[i..].starts_with("::") {
                i += 2;
                continue;
            }
            return (vec![prefix], i);
        }
        if !s[i..].starts_with('{') {
            return (if prefix.is_empty() { Vec::new() } else { vec![prefix] }, i);
        }
        // A group: split on top-level commas, each entry a path tree of its own.
        i += 1;
        let mut out = Vec::new();
        loop {
            let trimmed = s[i..].trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            i = s.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('}') {
                return (out, (i + 1).min(s.len()));
            }
            let (paths, used) = path_tree(trimmed);
            out.extend(paths.into_iter().map(|p| prefix.iter().cloned().chain(p).collect()));
            i += used;
            // Skip an `as name` rename or anything else up to the entry's end.
            let tail = &s[i..];
            let end = tail.find([',', '}']).unwrap_or(tail.len());
            i += if used == 0 { end.max(1) } else { end };
        }
    }
}

/// The code of a module file without line comments and without its `#[cfg(test)] mod tests`.
fn non_test_code(text: &str) -> String {
    let cut = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..cut].lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// `agentpool-core` keeps its SQL in `store/`: the rest of the engine calls store functions.
fn check_sql_in_store(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let src = Path::new("crates/agentpool-core/src");
    files
        .iter()
        .filter(|f| f.strip_prefix(src).is_ok_and(|rel| !rel.starts_with("store") && module_path(rel).is_some()))
        .filter_map(|f| {
            let text = std::fs::read_to_string(root.join(f)).unwrap_or_default();
            let line = sql_line(&non_test_code(&text))?;
            Some(format!(
                "{}: SQL outside store/ (`{line}`); add a function to crates/agentpool-core/src/store/",
                f.display()
            ))
        })
        .collect()
}

/// The first line of `code` that runs or spells out SQL.
fn sql_line(code: &str) -> Option<String> {
    const CALLS: &[&str] = &[".execute(", ".execute_batch(", ".prepare(", ".query_row(", ".query_map("];
    const STATEMENTS: &[&str] = &["\"SELECT ", "\"UPDATE ", "\"INSERT ", "\"DELETE ", "\"CREATE "];
    code.lines()
        .find(|l| CALLS.iter().chain(STATEMENTS).any(|p| l.contains(p)))
        .map(|l| l.trim().chars().take(80).collect())
}

/// Tarjan's strongly connected components over `edges` (adjacency by index).
fn strongly_connected(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [BTreeSet<usize>],
        next: usize,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on_stack: Vec<bool>,
        groups: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.edges[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                group.push(w);
                if w == v {
                    break;
                }
            }
            group.sort_unstable();
            s.groups.push(group);
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        next: 0,
        index: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        on_stack: vec![false; n],
        groups: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.groups
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    /// The real workspace passes every check (this is what makes `cargo test` run tidy).
    #[test]
    fn workspace_is_tidy() {
        if let Err(e) = run(&root()) {
            panic!("{e}");
        }
    }

    fn pkg(name: &str, dir: &str, deps: &[(&str, Option<&str>)]) -> Value {
        json!({"name": name, "manifest_path": format!("/w/{dir}/Cargo.toml"),
               "dependencies": deps.iter().map(|(d, k)| json!({"name": d, "kind": k})).collect::<Vec<_>>()})
    }

    /// The workspace as it should be: no problem.
    fn good() -> Vec<Value> {
        vec![
            pkg("agentpool-sdk", "crates/agentpool-sdk", &[("serde", None)]),
            pkg("agentpool-core", "crates/agentpool-core", &[("agentpool-sdk", None), ("rusqlite", None)]),
            pkg("agentpool-tmux", "crates/agentpool-tmux", &[("agentpool-sdk", None)]),
            pkg("agentpool-provider-x", "providers/x", &[("agentpool-sdk", None), ("insta", Some("dev"))]),
            pkg(
                "agentpool-providers",
                "crates/agentpool-providers",
                &[("agentpool-provider-x", None), ("agentpool-core", Some("dev"))],
            ),
            pkg("agentpool-stats", "crates/agentpool-stats", &[("agentpool-core", None), ("rusqlite", None)]),
            pkg("agentpool-tests", "tests", &[("agentpool-core", None), ("rusqlite", None)]),
        ]
    }

    fn problems_with(extra: Value) -> Vec<String> {
        let mut pkgs = good();
        pkgs.push(extra);
        check_dependencies(&json!({ "packages": pkgs }))
    }

    #[test]
    fn dependency_rules_accept_the_intended_layout() {
        assert_eq!(check_dependencies(&json!({ "packages": good() })), Vec::<String>::new());
    }

    #[test]
    fn a_provider_crate_importing_the_engine_is_refused() {
        let problems = problems_with(pkg("agentpool-provider-y", "providers/y", &[("agentpool-core", None)]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`agentpool-provider-y` may depend only on agentpool-sdk"), "{problems:?}");
        // Also through its tests.
        let problems = problems_with(pkg("agentpool-provider-y", "providers/y", &[("agentpool-core", Some("dev"))]));
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn dependency_rules_flag_violations() {
        let meta = json!({"packages": [
            pkg("agentpool-sdk", "crates/agentpool-sdk", &[("agentpool-core", Some("dev"))]),
            pkg("agentpool-core", "crates/agentpool-core", &[("agentpool-sdk", None), ("agentpool-tmux", None)]),
            pkg("agentpool-tmux", "crates/agentpool-tmux", &[("agentpool-core", None)]),
            pkg("agentpool-provider-x", "providers/x", &[("agentpool-sdk", None), ("agentpool-tmux", Some("dev")), ("rmcp", None)]),
            pkg("agentpool-providers", "crates/agentpool-providers", &[("agentpool-core", None)]),
            pkg("agentpool-cli", "crates/agentpool-cli", &[("agentpool-core", None), ("rusqlite", None)]),
        ]});
        let problems = check_dependencies(&meta);
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(problems[0].contains("agentpool-sdk must depend on no workspace crate"));
        assert!(problems[1].contains("agentpool-core may depend only on agentpool-sdk"));
        assert!(problems[2].contains("`agentpool-tmux` may depend only on agentpool-sdk"));
        assert!(problems[3].contains("`agentpool-provider-x` may depend only on agentpool-sdk"));
        assert!(problems[4].contains("only agentpool-mcp may depend on rmcp"));
        assert!(problems[5].contains("agentpool-providers may depend only on provider crates"));
        assert!(problems[6].contains("only agentpool-core and agentpool-stats may depend on rusqlite"));
    }

    #[test]
    fn file_rules() {
        assert!(opens_with_module_doc("//! What this is.\n"));
        assert!(!opens_with_module_doc("// not a doc\n"));
        assert!(!opens_with_module_doc(""));
        assert!(has_workspace_lints("[package]\nname = \"x\"\n\n[lints]\nworkspace = true\n"));
        assert!(!has_workspace_lints("[package]\nname = \"x\"\n[dependencies]\nworkspace = true\n"));
        assert!(spawns_tmux("let c = Command::new( \"tmux\" ).arg(\"ls\");"));
        assert!(!spawns_tmux("let kind = \"tmux\";"));
        assert_eq!(
            product_crate(Path::new("crates/agentpool-cli/src/lib.rs")).as_deref(),
            Some("crates/agentpool-cli")
        );
        assert_eq!(product_crate(Path::new("crates/agentpool-cli/tests/it/main.rs")), None);
    }

    fn modules(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter().map(|(m, t)| ((*m).to_owned(), (*t).to_owned())).collect()
    }

    #[test]
    fn layered_modules_pass() {
        let m = modules(&[
            ("pool", "use crate::store::Store;\nuse crate::{config, model::Session};"),
            ("session::spawn", "use crate::pool::Pool;\nuse super::settle;"),
            ("session::settle", "use crate::pool::{Pool, blocking};"),
            ("store", "// see crate::pool for the façade\n"),
            ("config", ""),
            ("model", ""),
        ]);
        assert_eq!(module_cycles("crates/x", &m), Vec::<String>::new());
    }

    #[test]
    fn a_cycle_is_refused_and_named() {
        let m = modules(&[
            ("pool", "use crate::session::observe::ObserveOptions;"),
            ("session::observe", "use crate::{model, pool::{self, Pool}};"),
            ("model", "#[cfg(test)]\nmod tests {\n    use crate::pool::Pool;\n}\n"),
        ]);
        let problems = module_cycles("crates/agentpool-core", &m);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("pool → session::observe"), "{problems:?}");
        assert!(problems[0].contains("session::observe → pool"), "{problems:?}");
        // Through `super::`, and through a third module.
        let m = modules(&[
            ("a::b", "fn f() { super::c::g() }"),
            ("a::c", "use crate::d::D;"),
            ("d", "pub struct D(crate::a::b::X);"),
        ]);
        assert_eq!(module_cycles("crates/x", &m).len(), 1);
    }

    #[test]
    fn module_paths_and_path_trees() {
        assert_eq!(module_path(Path::new("session/observe.rs")).as_deref(), Some("session::observe"));
        assert_eq!(module_path(Path::new("usage/mod.rs")).as_deref(), Some("usage"));
        assert_eq!(module_path(Path::new("lib.rs")), None);
        assert_eq!(module_path(Path::new("usage/tests.rs")), None);
        assert_eq!(module_path(Path::new("engine_tests.rs")), None);
        let (paths, _) = path_tree("{a, b::{c as d, e}, self};");
        let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
        assert_eq!(joined, ["a", "b::c", "b::e", "self"]);
    }

    #[test]
    fn sql_is_found_outside_comments_and_tests() {
        assert!(sql_line("let n = c.execute(\"UPDATE sessions SET x = 1\", [])?;").is_some());
        assert!(sql_line("let q = \"SELECT id FROM sessions\";").is_some());
        assert!(sql_line(&non_test_code("// c.execute(\"UPDATE …\")\nfn f() {}\n")).is_none());
        assert!(
            sql_line(&non_test_code("fn f() {}\n#[cfg(test)]\nmod tests {\n    fn g(c: &C) { c.execute(\"x\") }\n}\n"))
                .is_none()
        );
        assert!(sql_line("store::set_worktree_path(c, &id, None)?;").is_none());
    }
}
