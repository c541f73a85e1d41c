//! What the project agreed on about its own shape, checked on every run: three layers
//! (src -> systems -> components) with no import back up, the pure layers free of I/O crates,
//! and no source file over 500 lines.

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
    for dir in ["src", "systems/src", "components/src"] {
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
    // (`zgs`), reached through `net::ShardService`. The leaves import nothing of the crate.
    let rules: [(&str, &[&str]); 4] = [
        ("src/net", &["crate::zgs", "crate::node", "crate::rpc", "crate::cli", "crate::bench"]),
        ("src/peer_address.rs", &["crate::"]),
        ("src/signing.rs", &["crate::"]),
        ("src/store", &["crate::zgs", "crate::net", "crate::node", "crate::rpc", "crate::cli"]),
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
