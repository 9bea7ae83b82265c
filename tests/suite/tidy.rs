//! rustc-tidy style: every registered code has a UI case, a docs page, and is emitted
//! somewhere in the code (a registered code nobody emits is dead weight).

use super::root;
use weir_diagnostics::ALL_CODES;

fn source_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_code_has_a_case_a_page_and_an_emitter() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["src", "grammar/src", "compiler/src", "compiler/config/src", "runtime/src"] {
        source_files(&root.join(dir), &mut files);
    }
    let sources: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect();
    let mut problems = Vec::new();
    for info in ALL_CODES {
        let code_dir = root.join("tests/ui").join(info.name);
        let cases = super::flows_under(&code_dir);
        if cases.is_empty() && super::ui::config_cases(&code_dir).is_empty() {
            problems.push(format!("{} ({}) has no case in tests/ui/{}/", info.short, info.name, info.name));
        }
        let page = root.join("docs/diagnostics").join(format!("{}.md", info.name));
        match std::fs::read_to_string(&page) {
            Ok(text) if text.contains(info.short) => {}
            Ok(_) => problems.push(format!("{} names no short code {}", page.display(), info.short)),
            Err(_) => {
                problems.push(format!("{} ({}) has no docs page {}", info.short, info.name, page.display()))
            }
        }
        let variant = format!("Code::{:?}", info.code);
        if !sources.contains(&format!("{variant},")) && !sources.contains(&format!("{variant})")) {
            problems
                .push(format!("{} ({}) is never emitted ({variant} appears nowhere)", info.short, info.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
