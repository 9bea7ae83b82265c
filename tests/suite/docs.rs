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

/// What a fragment (statements without their flow) is wrapped in to be checked.
const PRELUDE: &str = "flow wibble {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n";

/// Every ```flow block of a markdown text: its first line's number (1-based, the line after
/// the fence) and its text. Blocks tagged with another language are skipped.
fn flow_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(bool, usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(tag)) => open = Some((tag.trim() == "flow", index + 2, String::new())),
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                let (is_flow, start, body) = open.take().expect("open block");
                if is_flow {
                    blocks.push((start, body));
                }
            }
            (Some((_, _, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "docs/language.md has an unclosed code block");
    blocks
}

#[test]
fn language_examples_check_clean() {
    let path = root().join("docs/language.md");
    let text = std::fs::read_to_string(&path).expect("read docs/language.md");
    let blocks = flow_blocks(&text);
    assert!(blocks.len() > 20, "found only {} flow blocks in docs/language.md", blocks.len());
    let mut failures = String::new();
    for (line, block) in &blocks {
        let fragment = !block.trim_start().starts_with("flow ");
        let source = if fragment { format!("{PRELUDE}{block}\n}}\n") } else { block.clone() };
        let (_, diagnostics) = weir_compiler::check::diagnose(source.as_bytes(), None);
        if !diagnostics.is_empty() {
            let name = format!("docs/language.md:{line}");
            let rendered = weir_compiler::render::render_human(
                &name,
                &source,
                &diagnostics,
                weir_compiler::render::HumanOptions::default(),
            );
            let note = if fragment { " (a fragment: the lines below count the 4-line prelude)" } else { "" };
            failures.push_str(&format!("--- block at docs/language.md line {line}{note}:\n{rendered}\n"));
        }
    }
    assert!(failures.is_empty(), "flow examples in docs/language.md have diagnostics:\n{failures}");
}

#[test]
fn graphs_of_stdlib_flows_are_acyclic_and_render() {
    for path in super::flows_under(&root().join("stdlib-flows")) {
        let text = std::fs::read_to_string(&path).expect("read flow");
        let parsed = weir_grammar::parse(&text);
        for item in &parsed.file.items {
            if let weir_grammar::ast::Item::Flow(flow) = item {
                let graph = weir_compiler::dag::build(flow);
                assert!(graph.is_acyclic_forward(), "{}: a cycle without a loop head", path.display());
                assert!(graph.to_dot(&flow.name.name).starts_with("digraph"));
                assert!(graph.to_mermaid().starts_with("flowchart TD"));
            }
        }
    }
    let flow = root().join("stdlib-flows/deploy-preview.flow");
    for (format, needle) in [("dot", "digraph"), ("mermaid", "flowchart TD"), ("json", "\"expressions\"")] {
        let out = assert_cmd::Command::cargo_bin("weir")
            .expect("weir")
            .args(["graph", "--format", format])
            .arg(&flow)
            .output()
            .expect("run");
        assert!(out.status.success(), "{format}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(needle), "{format}");
    }
    let out = assert_cmd::Command::cargo_bin("weir")
        .expect("weir")
        .args(["graph", "--format", "json"])
        .arg(&flow)
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let edges = json["flows"][0]["edges"].as_array().expect("edges");
    assert!(edges.iter().any(|e| e["kind"] == "data"), "data edges");
    assert!(edges.iter().any(|e| e["kind"] == "failure"), "failure edges");
}

#[test]
fn no_expression_in_the_stdlib_flows_is_untyped() {
    let sources: Vec<(std::path::PathBuf, weir_grammar::Parsed)> =
        super::flows_under(&root().join("stdlib-flows"))
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("read flow");
                (p, weir_grammar::parse(&text))
            })
            .collect();
    let flows: Vec<&weir_grammar::ast::Flow> =
        sources.iter().flat_map(|(_, parsed)| parsed.file.flows()).collect();
    let library = weir_compiler::interface::Library::new(flows.iter().copied());
    let mut untyped = Vec::new();
    let mut total = 0;
    for flow in &flows {
        for (span, ty) in weir_compiler::check::expression_types(flow, Some(&library)) {
            total += 1;
            if ty == weir_compiler::types::Type::Unknown {
                untyped.push(format!("{} at byte {}", flow.name.name, span.start));
            }
        }
    }
    assert!(total > 1000, "only {total} expressions typed");
    assert!(untyped.is_empty(), "untyped expressions: {untyped:?}");
}

/// The "What weir says" block of every diagnostics page whose example is a flow alone (not
/// a weir.toml) is what `weir check` prints for its "Bad" example today.
#[test]
fn diagnostics_pages_show_current_output() {
    let dir = root().join("docs/diagnostics");
    let mut stale = Vec::new();
    let mut entries: Vec<_> =
        std::fs::read_dir(&dir).expect("docs/diagnostics").flatten().map(|e| e.path()).collect();
    entries.sort();
    for page in entries {
        let text = std::fs::read_to_string(&page).expect("read page");
        if text.contains("```toml") || !text.contains("## Bad") || !text.contains("## What weir says") {
            continue;
        }
        let bad_section =
            &text[text.find("## Bad").expect("bad")..text.find("## What weir says").expect("says")];
        // An interface page shows `old.flow` then `new.flow`: the new one is checked against
        // the old, as `weir check new.flow --against old.flow` does.
        let block = |tag: &str| {
            let rest = &bad_section[bad_section.find(tag)? + tag.len()..];
            Some(&rest[..rest.find("```").expect("closing fence")])
        };
        let old = block("```flow old.flow\n");
        let Some(flow) = block("```flow new.flow\n").or_else(|| block("```flow\n")) else { continue };
        let said = &text[text.find("## What weir says").expect("says")..];
        let said = &said[said.find("```text\n").expect("text fence") + 8..];
        let said = &said[..said.find("```").expect("closing fence")];
        let old = old.map(weir_grammar::parse);
        let against = old.as_ref().map(super::ui::flows_of).unwrap_or_default();
        let options = weir_compiler::check::CheckOptions {
            now: Some(super::ui::pinned_now()),
            against: &against,
            ..Default::default()
        };
        let (_, diagnostics) = weir_compiler::check::diagnose_with(flow.as_bytes(), None, &options);
        let rendered = weir_compiler::render::render_human(
            "example.flow",
            &weir_config::redact(flow, &diagnostics),
            &diagnostics,
            weir_compiler::render::HumanOptions::default(),
        );
        if rendered.trim() != said.trim() {
            if bless() {
                // Rewrite the section's text block with what weir says now.
                let at = text.find("## What weir says").expect("says");
                let open = at + text[at..].find("```text\n").expect("text fence") + 8;
                let close = open + text[open..].find("```").expect("closing fence");
                let fresh = format!("{}{}\n{}", &text[..open], rendered.trim_end(), &text[close..]);
                std::fs::write(&page, fresh).expect("write page");
            } else {
                stale.push(page.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "pages whose 'What weir says' is stale (WEIR_BLESS=1 rewrites them): {stale:?}"
    );
}

#[test]
fn readme_flow_checks_clean() {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = text.find("```flow\n").expect("README has a flow example") + 8;
    let flow = &text[start..start + text[start..].find("```").expect("closing fence")];
    let (_, diagnostics) = weir_compiler::check::diagnose(flow.as_bytes(), None);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
}

/// Every flow example in docs/checks.md gives exactly the diagnostics its `# error: NAME` /
/// `# warning: NAME` comments announce, on those lines, and nothing else.
#[test]
fn checks_page_examples_say_what_they_show() {
    let text = std::fs::read_to_string(root().join("docs/checks.md")).expect("docs/checks.md");
    let mut failures = Vec::new();
    let mut rest = text.as_str();
    let mut blocks = 0;
    while let Some(start) = rest.find("```flow\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("closing fence");
        let flow = &body[..end];
        rest = &body[end + 3..];
        blocks += 1;
        let mut want: Vec<(u32, String)> = Vec::new();
        for (i, line) in flow.lines().enumerate() {
            for marker in ["# error: ", "# warning: "] {
                if let Some(at) = line.find(marker) {
                    let name = line[at + marker.len()..].split_whitespace().next().unwrap_or("");
                    want.push((i as u32 + 1, name.to_string()));
                }
            }
        }
        let (_, diagnostics) = weir_compiler::check::diagnose(flow.as_bytes(), None);
        let index = weir_diagnostics::LineIndex::new(flow);
        let mut have: Vec<(u32, String)> = diagnostics
            .iter()
            .map(|d| (index.line_col(flow, d.span().start).line, d.code.name().to_string()))
            .collect();
        have.sort();
        want.sort();
        if have != want {
            failures.push(format!("block {blocks}: want {want:?}, have {have:?}"));
        }
    }
    assert!(blocks >= 2, "docs/checks.md has only {blocks} flow examples");
    assert!(failures.is_empty(), "docs/checks.md examples: {failures:#?}");
}
