//! design.md §1: weir-runtime depends on weir-bytecode and weir-config only, never on the
//! compiler or the grammar (a runtime must run compiled flows without compiling anything).

use std::collections::{BTreeSet, HashMap};

#[test]
fn the_runtime_never_depends_on_the_compiler_or_the_grammar() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata json");
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or(""), p["name"].as_str().unwrap_or("")))
        .collect();
    let nodes: HashMap<&str, Vec<(&str, bool)>> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    // Only normal and build dependencies ship with the runtime.
                    let shipped = d["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|k| k["kind"].is_null() || k["kind"] == "build");
                    (d["pkg"].as_str().unwrap_or(""), shipped)
                })
                .collect();
            (n["id"].as_str().unwrap_or(""), deps)
        })
        .collect();
    let root =
        names.iter().find(|(_, name)| **name == "weir-runtime").map(|(id, _)| *id).expect("weir-runtime");
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        for &(dep, shipped) in nodes.get(id).into_iter().flatten() {
            if shipped && seen.insert(names.get(dep).copied().unwrap_or(dep)) {
                stack.push(dep);
            }
        }
    }
    for forbidden in ["weir-compiler", "weir-grammar", "pest", "pest_derive"] {
        assert!(!seen.contains(forbidden), "weir-runtime depends on {forbidden}: {seen:?}");
    }
    assert!(seen.contains("weir-config"), "the runtime reads weir.toml through weir-config");
    assert!(seen.contains("sled"), "the walk reaches transitive dependencies: {seen:?}");
}
