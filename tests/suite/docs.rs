//! Docs generated from code stay current.

use super::{bless, root};

const BEGIN: &str =
    "<!-- families:begin (generated: WEIR_BLESS=1 cargo test --test weir docs_family_table) -->\n";
const END: &str = "<!-- families:end -->";

#[test]
fn docs_family_table() {
    let path = root().join("docs/language.md");
    let text = std::fs::read_to_string(&path).expect("read docs/language.md");
    let start = text.find(BEGIN).expect("docs/language.md has the families:begin marker") + BEGIN.len();
    let end = text[start..].find(END).expect("families:end marker") + start;
    let table = weir_compiler::families::markdown_table();
    if bless() {
        let updated = format!("{}{}{}", &text[..start], table, &text[end..]);
        std::fs::write(&path, updated).expect("write docs/language.md");
    } else {
        assert_eq!(
            &text[start..end],
            table,
            "docs/language.md's family table is stale: run WEIR_BLESS=1 cargo test --test weir docs_family_table"
        );
    }
}

#[test]
fn families_command_prints_the_table_and_json() {
    let out = assert_cmd::Command::cargo_bin("weir")
        .expect("weir")
        .args(["families", "--json"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> =
        json["families"].as_array().expect("families").iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(names.contains(&"http") && names.contains(&"llm") && names.contains(&"ssh"), "{names:?}");
    let http = &json["families"][0];
    assert_eq!(http["idempotency_key"], true);
    assert_eq!(http["methods"][5]["name"], "DELETE");
    assert_eq!(http["methods"][5]["effect"], "irreversible");
    let table = assert_cmd::Command::cargo_bin("weir").expect("weir").arg("families").output().expect("run");
    assert_eq!(String::from_utf8_lossy(&table.stdout), weir_compiler::families::markdown_table());
}
