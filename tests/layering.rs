//! What the project agreed on about its own shape, checked on every run: three layers
//! (src -> systems -> components) with no import back up, the pure layers free of I/O crates,
//! no import cycle between the modules of a crate, no production module reaching into the
//! tooling (`tools`: benches, chaos, fuzz, testnet), every module named in its crate's Layout
//! section, and no source or test file over 500 lines.

#[path = "layering/module_graph.rs"]
mod module_graph;

use module_graph::{ModuleGraph, name};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Crates that do I/O: the node (src/) may use them, the ECS layers may not.
const IO_CRATES: &[&str] = &["tokio", "quinn", "redb", "jsonrpsee", "hyper", "reqwest", "axum", "rustls", "metrics-exporter-prometheus"];
const MAX_LINES: usize = 500;

fn dependencies(manifest: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(manifest)).unwrap();
    let value: toml::Table = text.parse().unwrap();
    ["dependencies", "build-dependencies"]
        .iter()
        .filter_map(|section| value.get(*section).and_then(|v| v.as_table()))
        .flat_map(|table| table.keys().cloned())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "node_modules" || name == ".venv") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    rust_files(&Path::new(ROOT).join(dir), &mut out);
    out
}

#[test]
fn the_ecs_layers_depend_on_no_io_crate() {
    for manifest in ["systems/Cargo.toml", "components/Cargo.toml"] {
        let deps = dependencies(manifest);
        assert!(!deps.is_empty(), "{manifest} read");
        for io in IO_CRATES {
            assert!(!deps.iter().any(|d| d == io), "{manifest} depends on {io}: I/O belongs in src/");
        }
    }
    let components = dependencies("components/Cargo.toml");
    assert!(!components.iter().any(|d| d == "zg-systems"), "components must not depend on systems");
}

#[test]
fn no_layer_imports_the_one_above_it() {
    let layers: [(&str, &[&str]); 2] = [("systems/src", &["zgnode::"]), ("components/src", &["zg_systems::", "zgnode::"])];
    for (dir, above) in layers {
        for file in sources(dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            for name in above.iter() {
                assert!(!text.contains(name), "{} names {name}: dependencies point one way", file.display());
            }
        }
    }
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut long = Vec::new();
    for dir in ["src", "systems/src", "components/src", "tests", "benches", "examples"] {
        for file in sources(dir) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these by responsibility: {long:?}");
}

#[test]
fn the_transport_and_the_leaves_import_no_role_above_them() {
    // `net` moves frames between peers; what a shard or a file means is the storage role's
    // (`storage`), reached through `net::ShardService`. The leaves import nothing of the crate.
    let rules: [(&str, &[&str]); 4] = [
        ("src/net", &["crate::storage", "crate::node", "crate::rpc", "crate::cli", "crate::tools"]),
        ("src/peer_address.rs", &["crate::"]),
        ("src/signing.rs", &["crate::"]),
        ("src/store", &["crate::storage", "crate::net", "crate::node", "crate::rpc", "crate::cli"]),
    ];
    for (path, forbidden) in rules {
        let full = Path::new(ROOT).join(path);
        let files = if full.is_dir() { sources(path) } else { vec![full] };
        assert!(!files.is_empty(), "{path} exists");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for name in forbidden.iter() {
                assert!(!text.contains(name), "{} names {name}", file.display());
            }
        }
    }
}

const CRATES: [&str; 3] = ["src", "systems/src", "components/src"];

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let mut found = Vec::new();
    for krate in CRATES {
        let graph = ModuleGraph::read(&Path::new(ROOT).join(krate));
        assert!(graph.files.len() > 10, "{krate} read");
        let strict = graph.strict_cycles();
        eprintln!(
            "{krate}: {} modules; counting a child's uses of its folder's door too: {} cycles over {} modules",
            graph.files.len(),
            strict.len(),
            strict.iter().map(Vec::len).sum::<usize>()
        );
        for cycle in graph.cycles() {
            let members: Vec<String> = cycle.iter().map(name).collect();
            let edges: Vec<String> = cycle
                .iter()
                .flat_map(|from| graph.edges[from].iter().filter(|to| cycle.contains(to)).map(move |to| format!("{} -> {}", name(from), name(to))))
                .collect();
            found.push(format!("{krate}: {members:?} through {edges:?}"));
        }
    }
    assert!(found.is_empty(), "import cycles (break each by moving the shared piece down):\n{}", found.join("\n"));
}

#[test]
fn the_graph_reader_sees_a_cycle_when_there_is_one() {
    let dir = std::env::temp_dir().join(format!("zg-layering-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "pub mod inner;\nuse crate::{b::{self, X}, c as _};\n").unwrap();
    std::fs::write(dir.join("a/inner.rs"), "// crate::c is a comment\nfn f() { super::super::c::g() }\n#[cfg(test)]\nmod tests { use crate::b::X; }\n").unwrap();
    std::fs::write(dir.join("b.rs"), "pub struct X;\nfn f() { crate::a::inner::f() }\n").unwrap();
    std::fs::write(dir.join("c.rs"), "pub fn g() {}\n").unwrap();
    let graph = ModuleGraph::read(&dir);
    let module = |path: &str| path.split("::").map(String::from).collect::<Vec<_>>();
    assert!(graph.edges[&module("a")].contains(&module("b")));
    assert!(graph.edges[&module("a")].contains(&module("c")));
    assert!(graph.edges[&module("a::inner")].contains(&module("c")));
    assert!(!graph.edges[&module("a::inner")].contains(&module("b")), "test code is left out");
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 0, "a -> b -> a::inner is a chain, not a circle: {cycles:?}");
    std::fs::write(dir.join("c.rs"), "pub fn g() { crate::a::helper() }\n").unwrap();
    let cycles = ModuleGraph::read(&dir).cycles();
    assert_eq!(cycles.len(), 1, "a -> c -> a");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_production_module_imports_the_tooling() {
    let graph = ModuleGraph::read(&Path::new(ROOT).join("src"));
    let tooling = |module: &Vec<String>| module.first().is_some_and(|m| m == "tools");
    // The CLI is the door to the tools (`zgnode bench|chaos|testnet`); nothing else may open it.
    let allowed = |module: &Vec<String>| tooling(module) || module.first().is_some_and(|m| m == "cli" || m == "main");
    let mut found = Vec::new();
    for (from, targets) in &graph.edges {
        for to in targets.iter().filter(|to| tooling(to) && !allowed(from)) {
            found.push(format!("{} -> {}", name(from), name(to)));
        }
    }
    assert!(graph.files.keys().any(tooling), "the tooling tree exists");
    assert!(found.is_empty(), "production code imports the tooling: {found:?}");
}

#[test]
fn every_module_is_named_in_its_crates_layout_section() {
    for krate in CRATES {
        let root = Path::new(ROOT).join(krate).join("lib.rs");
        let text = std::fs::read_to_string(&root).unwrap();
        let layout = text.split("//! ## Layout").nth(1).unwrap_or_else(|| panic!("{} has a Layout section", root.display()));
        let layout: String = layout.lines().skip(1).take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
        let modules: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
            .filter_map(|l| l.strip_suffix(';'))
            .collect();
        assert!(!modules.is_empty(), "{krate} declares modules");
        let missing: Vec<&&str> = modules.iter().filter(|m| !layout.contains(&format!("[`{m}`]"))).collect();
        assert!(missing.is_empty(), "{}: the Layout section does not name {missing:?}", root.display());
    }
}

#[test]
fn every_service_role_is_one_folder_with_a_role_file() {
    // The node core (`src/node`) opens the chain and names no service role; each service role
    // joins through `node::role::Role`, implemented in its own folder's `role.rs`, and only the
    // assembly names them.
    for role in ["storage", "da", "compute"] {
        let path = Path::new(ROOT).join("src").join(role).join("role.rs");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} exists", path.display()));
        assert!(text.contains("impl Role for "), "{} implements node::role::Role", path.display());
    }
    for file in sources("src/node") {
        let text = std::fs::read_to_string(&file).unwrap();
        for role in ["::role::StorageRole", "::role::DaRole", "::role::ComputeRole", "crate::assembly"] {
            assert!(!text.contains(role), "{} names {role}: the node core is below the roles", file.display());
        }
    }
}
