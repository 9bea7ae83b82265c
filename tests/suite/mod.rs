//! Test modules, one per concern.

mod approvals;
mod callbacks;
mod calls;
mod cli;
mod concurrency;
mod corpus;
mod docs;
mod faults;
mod fmt;
mod http;
mod kill9;
mod lower;
mod output;
mod parallel;
mod project_checks;
mod r9;
mod replay;
mod retries;
mod run;
mod sagas;
mod secrets;
mod semantics;
mod simulation;
mod stdlib;
mod tidy;
mod timeouts;
mod timers;
mod ui;
mod untrusted;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `*.flow` under `dir`, sorted, recursively.
pub fn flows_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "flow") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// True when goldens should be rewritten instead of compared.
pub fn bless() -> bool {
    std::env::var_os("WEIR_BLESS").is_some_and(|v| v == "1")
}

/// A JSON value with every `span` key removed, for comparing trees modulo positions.
pub fn without_spans(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter().filter(|(k, _)| k != "span").map(|(k, v)| (k, without_spans(v))).collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(without_spans).collect())
        }
        other => other,
    }
}
