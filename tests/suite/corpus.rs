//! Recovery corpus: k independent mistakes give exactly k diagnostics, every valid statement
//! stays in the tree, and pathological inputs finish fast with a diagnostic.

use weir_grammar::ast::{Item, Stmt, StmtKind};
use weir_grammar::parse;

/// Names of every step in the tree, depth first.
fn step_names(stmts: &[Stmt], out: &mut Vec<String>) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Step(step) => out.push(step.name.name.clone()),
            StmtKind::Parallel { body } | StmtKind::Branch { body } | StmtKind::Saga { body } => {
                step_names(&body.stmts, out)
            }
            _ => {}
        }
    }
}

fn steps_of(text: &str) -> (Vec<String>, usize) {
    let parsed = parse(text);
    let mut names = Vec::new();
    for item in &parsed.file.items {
        if let Item::Flow(flow) = item {
            step_names(&flow.body, &mut names);
        }
    }
    (names, parsed.diagnostics.len())
}

pub const BROKEN5: &str = r#"flow wibble {
  version "1.0.0"
  concurrency max 1 queue
  trigger manual
  input { repo: string, pr: int }

  step ok1 = sleep 1s
  step a = function { value 1 + }
  step ok2 = function { value input.pr * 2 }
  step = sleep 2s
  step ok3 = llm {
    connection openai
    prompt "Summarise {input.repo}"
  }
  stpe d = sleep 4s
  step c = http POST "/deploys" {
    connection deployer
    body { artifact: ok3.text, pr: input.pr
    timeout 30s
  }
  parallel { step p1 = sleep 1s  step p2 = sleep 2s }
  approval ship =
    summary "Ship {input.repo}?"
    timeout 24h
    default reject
  }
  step last = http POST "/done" { body { ok: true } }
  output { done: last.status }
}
"#;

#[test]
fn five_mistakes_five_diagnostics_and_every_valid_step_kept() {
    let (steps, diagnostics) = steps_of(BROKEN5);
    assert_eq!(diagnostics, 5);
    assert_eq!(steps, ["ok1", "ok2", "ok3", "p1", "p2", "last"]);
}

#[test]
fn many_unclosed_braces_finish_fast() {
    for k in [30, 200, 5_000] {
        let text = format!("flow wibble {{\n  step a = function {{ value {} }}\n", "{ a: ".repeat(k.min(60)));
        let parsed = parse(&text);
        assert!(!parsed.diagnostics.is_empty(), "k={k}");
        let text = format!("flow wibble {{\n{}\n", "  parallel {\n".repeat(k));
        assert!(!parse(&text).diagnostics.is_empty(), "k={k}");
        let text = format!("flow wibble {{\n  step a = function {{ value 1 + {} }}\n}}\n", "{ ".repeat(k));
        assert!(!parse(&text).diagnostics.is_empty(), "k={k}");
    }
}

#[test]
fn deep_nesting_is_refused_before_the_parser() {
    for (open, close) in [("{a: ", "}"), ("(", ")"), ("parallel { ", "}"), ("[", "]"), ("list<", ">")] {
        let text = format!(
            "flow wibble {{ step a = function {{ value {}1{} }} }}",
            open.repeat(10_000),
            close.repeat(10_000)
        );
        let parsed = parse(&text);
        assert_eq!(parsed.diagnostics[0].code.name(), "too-deeply-nested", "{open}");
    }
}

#[test]
fn nesting_just_under_the_limit_parses_on_a_test_thread() {
    let depth = weir_grammar::MAX_NESTING - 3;
    let record = format!("{}1{}", "{ a: ".repeat(depth), " }".repeat(depth));
    let text = format!("flow wibble {{\n  step a = function {{\n    value {record}\n  }}\n}}\n");
    assert!(parse(&text).diagnostics.is_empty());
    let blocks = format!("{}sleep 1s{}", "parallel {\n".repeat(depth), "\n}".repeat(depth));
    let text = format!("flow wibble {{\n{blocks}\n}}\n");
    assert!(parse(&text).diagnostics.is_empty());
}

#[test]
fn long_operator_chains_are_refused() {
    let chain = vec!["1"; 50_000].join(" + ");
    let text = format!("flow wibble {{ step a = function {{ value {chain} }} }}");
    let parsed = parse(&text);
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(parsed.diagnostics[0].code.name(), "too-deeply-nested");
    let nots = format!("flow wibble {{ step a = function {{ value {}true }} }}", "!".repeat(50_000));
    assert_eq!(parse(&nots).diagnostics[0].code.name(), "too-deeply-nested");
}

#[test]
fn error_cap_holds() {
    let body: String = (0..200).map(|i| format!("  step s{i} = function {{ value 1 + }}\n")).collect();
    let text = format!("flow wibble {{\n{body}}}\n");
    let parsed = parse(&text);
    assert_eq!(parsed.diagnostics.len(), weir_grammar::MAX_ERRORS + 1);
    assert_eq!(parsed.diagnostics.last().map(|d| d.code.name()), Some("too-many-errors"));
}
