//! Embeds every `docs/diagnostics/<name>.md` page into the binary for `weir explain`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut pages: Vec<(String, String)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "md") {
                let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                println!("cargo:rerun-if-changed={}", path.display());
                pages.push((name, path.display().to_string()));
            }
        }
    }
    pages.sort();
    let mut code = String::from(
        "/// Every diagnostic docs page, by kebab name.\npub const PAGES: &[(&str, &str)] = &[\n",
    );
    for (name, path) in pages {
        let _ = writeln!(code, "    ({name:?}, include_str!({path:?})),");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("docs_pages.rs");
    std::fs::write(out, code).expect("write docs_pages.rs");
}
