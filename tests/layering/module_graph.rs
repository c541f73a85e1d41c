//! The import graph between a crate's modules, read from its sources: a module is a file
//! (`a/b.rs` or `a/b/mod.rs` is `a::b`), an edge is any `crate::`, `super::`, `self::` or
//! child-module path that names another module (in `use` trees and in expressions alike),
//! followed through `pub use` re-exports to the module that defines the item. A module's
//! children are part of it, so a child using its ancestors (its folder's door) is no edge back
//! up; any other circle — between folders, among siblings, a parent and a child that leans on
//! a sibling — is. Comments and `#[cfg(test)]` items are left out: a test may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub type ModulePath = Vec<String>;

pub struct ModuleGraph {
    pub files: BTreeMap<ModulePath, PathBuf>,
    pub edges: BTreeMap<ModulePath, BTreeSet<ModulePath>>,
    /// A child's uses of its own ancestors (not counted in [`Self::cycles`]).
    pub upward: BTreeMap<ModulePath, BTreeSet<ModulePath>>,
}

pub fn name(module: &ModulePath) -> String {
    if module.is_empty() { "(crate root)".into() } else { module.join("::") }
}

impl ModuleGraph {
    pub fn read(crate_src: &Path) -> Self {
        let mut files = BTreeMap::new();
        collect(crate_src, crate_src, &mut files);
        let test_only = test_only_modules(&files);
        files.retain(|module, file| {
            let file_name = file.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            let test_file = file_name == "tests.rs" || file_name == "test_support.rs" || file_name.ends_with("_tests.rs");
            !test_file && !test_only.iter().any(|t| module.starts_with(t))
        });
        let texts: BTreeMap<ModulePath, String> =
            files.iter().map(|(module, file)| (module.clone(), production_text(&std::fs::read_to_string(file).unwrap()))).collect();
        let children = |module: &ModulePath| -> Vec<String> {
            files.keys().filter(|m| m.len() == module.len() + 1 && m.starts_with(module)).map(|m| m[module.len()].clone()).collect()
        };
        // `pub use child::Item` makes `module::Item` a name for the child's item: a path through
        // it leads to the child, not to the module that re-exports it.
        let mut aliases: BTreeMap<(ModulePath, String), Vec<String>> = BTreeMap::new();
        for (module, text) in &texts {
            for exported in reexports(text, &children(module)) {
                if let (Some(absolute), Some(name)) = (absolute(module, &exported), exported.last()) {
                    aliases.insert((module.clone(), name.clone()), absolute);
                }
            }
        }
        let mut edges = BTreeMap::new();
        let mut upward = BTreeMap::new();
        for (module, text) in &texts {
            let mut targets = BTreeSet::new();
            let mut ancestors = BTreeSet::new();
            for path in paths(text, &children(module)) {
                let Some(absolute) = absolute(module, &path) else { continue };
                if let Some(target) = resolve(&files, &aliases, &absolute) {
                    // A module's children are part of it: a child leaning on its ancestors
                    // (the folder's door, `super::Shared`) is not an edge back up.
                    if &target != module && !target.is_empty() {
                        if module.starts_with(&target) { ancestors.insert(target) } else { targets.insert(target) };
                    }
                }
            }
            edges.insert(module.clone(), targets);
            upward.insert(module.clone(), ancestors);
        }
        ModuleGraph { files, edges, upward }
    }

    /// The strongly connected components with more than one module: every import cycle.
    pub fn cycles(&self) -> Vec<Vec<ModulePath>> {
        self.components(false)
    }

    /// The cycles when a child's uses of its ancestors count too (a folder whose door holds
    /// items its children use is then a circle): reported, not enforced.
    pub fn strict_cycles(&self) -> Vec<Vec<ModulePath>> {
        self.components(true)
    }

    fn components(&self, with_upward: bool) -> Vec<Vec<ModulePath>> {
        let nodes: Vec<&ModulePath> = self.files.keys().collect();
        let index_of: BTreeMap<&ModulePath, usize> = nodes.iter().enumerate().map(|(i, m)| (*m, i)).collect();
        let adjacency: Vec<Vec<usize>> =
            nodes
                .iter()
                .map(|m| {
                    let upward = self.upward.get(*m).into_iter().flatten().filter(|_| with_upward);
                    self.edges.get(*m).into_iter().flatten().chain(upward).filter_map(|t| index_of.get(t).copied()).collect()
                })
                .collect();
        strongly_connected(&adjacency)
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|component| component.into_iter().map(|i| nodes[i].clone()).collect())
            .collect()
    }
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<ModulePath, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !(dir == root && path.ends_with("main.rs")) {
            let relative = path.strip_prefix(root).unwrap().with_extension("");
            let mut module: ModulePath = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                module.pop();
            }
            out.insert(module, path);
        }
    }
}

/// Modules declared under `#[cfg(test)]` (`#[cfg(test)] mod tests;`) and their children.
fn test_only_modules(files: &BTreeMap<ModulePath, PathBuf>) -> Vec<ModulePath> {
    let mut out = Vec::new();
    for (module, file) in files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with("#[cfg(test)]") {
                continue;
            }
            let declaration = lines[i + 1..].iter().find(|l| !l.starts_with("#[")).copied().unwrap_or_default();
            let declaration = declaration.trim_start_matches("pub(crate) ").trim_start_matches("pub ");
            if let Some(child) = declaration.strip_prefix("mod ").and_then(|rest| rest.strip_suffix(';')) {
                let mut path = module.clone();
                path.push(child.trim().to_string());
                out.push(path);
            }
        }
    }
    out
}

/// The source without comments and without `#[cfg(test)]` items.
fn production_text(text: &str) -> String {
    let uncommented: String = text
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = uncommented.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "#[cfg(test)]".len()..];
        let end_of_item = match (rest.find(';'), rest.find('{')) {
            (Some(semi), Some(brace)) if semi < brace => semi + 1,
            (_, Some(brace)) => matching_brace(rest, brace),
            (Some(semi), None) => semi + 1,
            (None, None) => rest.len(),
        };
        rest = &rest[end_of_item..];
    }
    out.push_str(rest);
    out
}

fn matching_brace(text: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// Every path that starts at `crate`, `super`, `self` or a child module's name (which is
/// relative to the module), use trees expanded; a child's name becomes `self::child`.
fn paths(text: &str, children: &[String]) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let starts: Vec<String> = ["crate", "super", "self"].iter().map(|s| s.to_string()).chain(children.iter().cloned()).collect();
    for start in &starts {
        let needle = format!("{start}::");
        let mut from = 0;
        while let Some(at) = text[from..].find(&needle) {
            let at = from + at;
            from = at + needle.len();
            let boundary = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':');
            if boundary {
                let prefix = if matches!(start.as_str(), "crate" | "super" | "self") { Vec::new() } else { vec!["self".to_string()] };
                tree(text, at, prefix, &mut out);
            }
        }
    }
    out
}

/// The leaf paths of every `pub use` (and `pub(crate) use`) in `text`, relative ones as `self::`.
fn reexports(text: &str, children: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for marker in ["pub use ", "pub(crate) use ", "pub(super) use "] {
        let mut from = 0;
        while let Some(at) = text[from..].find(marker) {
            let start = from + at + marker.len();
            from = start;
            let mut leaves = Vec::new();
            tree(text, start, Vec::new(), &mut leaves);
            for leaf in leaves {
                match leaf.first().map(String::as_str) {
                    Some("crate" | "super" | "self") => out.push(leaf),
                    Some(first) if children.iter().any(|c| c == first) => {
                        out.push(std::iter::once("self".to_string()).chain(leaf).collect());
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// Reads one use tree (or expression path) at `at`, pushing every leaf path under `prefix`.
fn tree(text: &str, mut at: usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let bytes = text.as_bytes();
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'{' {
            at += 1;
            loop {
                let before = at;
                at = tree(text, at, prefix.clone(), out);
                at = skip_alias(text, at);
                while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b',') {
                    at += 1;
                }
                if at >= bytes.len() || bytes[at] == b'}' {
                    return at + 1;
                }
                if at == before {
                    at += 1; // a glob or anything else that names no module
                }
            }
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        if start == at {
            out.push(prefix);
            return at;
        }
        prefix.push(text[start..at].to_string());
        if text[at..].starts_with("::") {
            at += 2;
        } else {
            out.push(prefix);
            return at;
        }
    }
}

/// Past ` as name` after a use-tree leaf.
fn skip_alias(text: &str, at: usize) -> usize {
    let rest = &text[at..];
    let trimmed = rest.trim_start();
    match trimmed.strip_prefix("as ") {
        Some(alias) => {
            let alias = alias.trim_start();
            let name = alias.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(alias.len());
            text.len() - alias.len() + name
        }
        None => at,
    }
}

fn absolute(module: &ModulePath, path: &[String]) -> Option<ModulePath> {
    let mut segments = path.iter();
    let mut base: ModulePath = match segments.next()?.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => {
            let mut parent = module.clone();
            parent.pop()?;
            parent
        }
        _ => return None,
    };
    for segment in segments {
        if segment == "super" {
            base.pop()?;
        } else if segment != "self" {
            base.push(segment.clone());
        }
    }
    Some(base)
}

fn deepest(files: &BTreeMap<ModulePath, PathBuf>, path: &[String]) -> Option<ModulePath> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|candidate| files.contains_key(candidate))
}

/// The module a path leads to: the deepest module it names, followed through re-exports.
fn resolve(
    files: &BTreeMap<ModulePath, PathBuf>,
    aliases: &BTreeMap<(ModulePath, String), Vec<String>>,
    path: &[String],
) -> Option<ModulePath> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let module = deepest(files, &path)?;
        match path.get(module.len()).and_then(|name| aliases.get(&(module.clone(), name.clone()))) {
            Some(target) if *target != path[..module.len() + 1] => {
                let mut next = target.clone();
                next.extend_from_slice(&path[module.len() + 1..]);
                path = next;
            }
            _ => return Some(module),
        }
    }
    deepest(files, &path)
}

/// Tarjan's algorithm, iterative so a deep graph cannot overflow the test's stack.
fn strongly_connected(adjacency: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adjacency.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut components, mut counter) = (Vec::new(), Vec::new(), 0);
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut next)) = work.last_mut() {
            if *next == 0 {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = adjacency[v].get(*next) {
                *next += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}
