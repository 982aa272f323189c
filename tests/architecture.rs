//! The structure of the code, read from its source: no import cycle between the modules of a
//! crate (a module and its own submodules excepted: that is containment, not a loop), and in the
//! core no module importing one of a higher layer ([`CORE_LAYERS`]).
//!
//! A module is a source file; an import is every `crate::`/`super::` path in it, `use` or
//! inline, outside `#[cfg(test)]` blocks and test files. `cargo test -p rapidrtmp --test
//! architecture` prints the imports it found when it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core's layers, lowest first: a module may import its own layer and those below it.
/// Each top-level module of `core/src` is in exactly one.
const CORE_LAYERS: &[&[&str]] = &[
    &["timeline", "date", "hls"],
    &["layout", "flv", "codec"],
    &["media"],
    &["error"],
    &["cmaf", "chunk", "manifest", "archive"],
    &["segment", "playlist", "clip"],
    &["package", "inspect", "edge"],
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A crate's modules: module path (`["edge", "live"]`) → the file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            match parts.last().map(String::as_str) {
                Some("lib" | "main") if parts.len() == 1 => parts.clear(),
                Some("mod") => {
                    parts.pop();
                }
                // Test files are not part of the structure.
                Some("tests") => continue,
                _ => {}
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The text of a source file without comments and the contents of strings and characters.
fn code(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal (a lifetime has no closing quote).
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else if b[i..].starts_with(b"r#\"") {
            i += 3;
            while i < b.len() && !b[i..].starts_with(b"\"#") {
                i += 1;
            }
            i += 2;
            out.push_str("\"\"");
        } else {
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    out
}

/// `code` without its `#[cfg(test)]` items.
fn without_tests(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"#[cfg(test)]") {
            // Skip the item: up to its `;` or its matching `}`.
            i += b"#[cfg(test)]".len();
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    b';' if depth == 0 => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    out
}

/// Every path that starts at `crate::` or `super::` in `code`, as module paths from the crate
/// root (`super` resolved against `module`); grouped imports (`crate::{a::X, b}`) are expanded.
fn paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let ident_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !(ident_char(b[i - 1]) || b[i - 1] == b':');
        let base = if !boundary {
            None
        } else if b[i..].starts_with(b"crate::") {
            i += "crate::".len();
            Some(Vec::new())
        } else if b[i..].starts_with(b"super::") {
            // A module's path names its file's module, so `super` is its path less one name.
            let mut base = module.to_vec();
            while b[i..].starts_with(b"super::") {
                base.pop();
                i += "super::".len();
            }
            Some(base)
        } else {
            None
        };
        match base {
            Some(base) => i = tree(b, i, base, &mut out),
            None => i += 1,
        }
    }
    out
}

/// Reads a use-tree at `i` (`a::b::C`, `a::{b, c::D}`) below `prefix`; returns where it ends.
fn tree(b: &[u8], mut i: usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            i += 1;
            loop {
                i = tree(b, i, prefix.clone(), out);
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => return i + 1,
                    _ => return i,
                }
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if b.get(i) == Some(&b'}') {
                    return i + 1;
                }
            }
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if start == i {
            out.push(prefix);
            return i;
        }
        prefix.push(String::from_utf8_lossy(&b[start..i]).into_owned());
        if b[i..].starts_with(b"::") {
            i += 2;
        } else {
            out.push(prefix);
            return i;
        }
    }
}

/// The crate's import graph: module → the modules it imports (the deepest module each path
/// names), without a module's imports of itself, its ancestors or its descendants.
fn graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules(src);
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let mut imports = BTreeSet::new();
        for path in paths(&without_tests(&code(&text)), module) {
            let target = (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains_key(p));
            let Some(target) = target else { continue };
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                imports.insert(target);
            }
        }
        graph.insert(module.clone(), imports);
    }
    graph
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "(root)".into()
    } else {
        module.join("::")
    }
}

/// The cycles of `graph`: its strongly connected components of more than one module.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<_, _> = graph.keys().map(|m| (m.clone(), reach(m))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut placed = BTreeSet::new();
    for m in graph.keys() {
        if placed.contains(m) || !reaches[m].contains(m) {
            continue;
        }
        let component: Vec<String> =
            graph.keys().filter(|n| reaches[m].contains(*n) && reaches[*n].contains(m)).map(|n| name(n)).collect();
        for n in graph.keys().filter(|n| reaches[m].contains(*n) && reaches[*n].contains(m)) {
            placed.insert(n.clone());
        }
        out.push(component);
    }
    out
}

fn describe(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>, within: &[String]) -> String {
    let mut s = String::new();
    for (m, imports) in graph {
        if within.contains(&name(m)) {
            let imports: Vec<String> = imports.iter().filter(|i| within.contains(&name(i))).map(|i| name(i)).collect();
            s += &format!("  {} -> {}\n", name(m), imports.join(", "));
        }
    }
    s
}

#[test]
fn no_crate_has_an_import_cycle() {
    let mut found = String::new();
    for krate in ["core", "rtmp", "ingest-node", "edge-worker"] {
        let graph = graph(&repo().join(krate).join("src"));
        for cycle in cycles(&graph) {
            found += &format!("{krate}: {}\n{}", cycle.join(" ↔ "), describe(&graph, &cycle));
        }
    }
    assert!(found.is_empty(), "modules that import each other:\n{found}");
}

#[test]
fn no_core_module_imports_a_higher_layer() {
    let graph = graph(&repo().join("core/src"));
    let layer = |m: &[String]| m.first().and_then(|top| CORE_LAYERS.iter().position(|l| l.contains(&top.as_str())));
    let mut found = String::new();
    for (module, imports) in &graph {
        if module.is_empty() {
            continue;
        }
        let Some(own) = layer(module) else {
            found += &format!("{} is in no layer of CORE_LAYERS\n", name(module));
            continue;
        };
        for import in imports.iter().filter(|i| !i.is_empty()) {
            if layer(import).is_some_and(|l| l > own) {
                found +=
                    &format!("{} (layer {own}) imports {} (layer {:?})\n", name(module), name(import), layer(import));
            }
        }
    }
    assert!(found.is_empty(), "imports that reach up:\n{found}");
}

/// The checker itself: a planted loop and a planted reach up are found.
#[test]
fn the_checks_find_what_they_look_for() {
    let dir = std::env::temp_dir().join(format!("rapidrtmp-architecture-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "mod inner;\nuse crate::b::{X, c::Y};\n// use crate::z;\n").unwrap();
    std::fs::write(src.join("a/inner.rs"), "use super::Z; fn f() { crate::b::g() }\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "#[cfg(test)]\nmod tests { use crate::a::Q; }\nfn g() { let _ = \"crate::a\"; }\n",
    )
    .unwrap();
    let no_cycle = graph(&src);
    assert!(cycles(&no_cycle).is_empty(), "{no_cycle:?}");
    let a = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(no_cycle[&a("a")], BTreeSet::from([a("b")]));
    assert_eq!(no_cycle[&a("a::inner")], BTreeSet::from([a("b")]));
    std::fs::write(src.join("b.rs"), "pub fn g() { super::a::inner::h() }\n").unwrap();
    let cyclic = graph(&src);
    assert_eq!(cycles(&cyclic), vec![vec!["a::inner".to_string(), "b".to_string()]]);
    std::fs::remove_dir_all(&dir).unwrap();
}
