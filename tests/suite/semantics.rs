//! Property: random well-formed flows (names defined before use, types respected) check
//! without errors, and their control graphs are acyclic once loop back edges are set aside.

use proptest::prelude::*;

/// One generated statement: its text, given the names of steps defined so far (all `int`).
fn statement(choice: u8, n: usize, defined: &[String]) -> (String, Vec<String>) {
    let prior = defined.last().cloned();
    let reads = prior.as_deref().map_or("input.n".to_string(), |p| format!("{p}.value"));
    match choice % 9 {
        0 => (format!("step s{n} = function {{ value input.n + {n} }}"), vec![format!("s{n}")]),
        1 => (format!("step s{n} = function {{ value {reads} * 2 }}"), vec![format!("s{n}")]),
        2 => (format!("log \"{{input.name}} {{{reads}}}\""), vec![]),
        3 => (
            format!(
                "if {reads} > 3 {{\n  step t{n} = function {{ value 1 }}\n  log \"{{t{n}.value}}\"\n}} else {{\n  sleep 1s\n}}"
            ),
            vec![],
        ),
        4 => (format!("for item in input.items parallel 4 {{\n  log \"{{item}} {{{reads}}}\"\n}}"), vec![]),
        5 => (
            format!(
                "parallel {{\n  step s{n} = function {{ value {reads} }}\n  step p{n} = function {{ value 2 }}\n}}\nlog \"{{p{n}.value}}\""
            ),
            vec![format!("s{n}")],
        ),
        6 => (
            format!(
                "try {{\n  step s{n} = function {{ value {reads} + 1 }}\n}} catch e {{\n  fail \"failed: {{e.message}}\" code \"wibble\"\n}}"
            ),
            vec![format!("s{n}")],
        ),
        7 => (
            format!(
                "repeat every 30s until s{n}.value > 0 max 5 {{\n  step s{n} = function {{ value {reads} }}\n}}"
            ),
            vec![format!("s{n}")],
        ),
        _ => (
            format!(
                "approval a{n} {{\n  summary \"Go on with {{input.name}}?\"\n  timeout 1h\n  default reject\n}}\nlog \"{{a{n}.by}}\""
            ),
            vec![],
        ),
    }
}

fn flow() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 1..25).prop_map(|choices| {
        let mut defined: Vec<String> = Vec::new();
        let mut body = String::new();
        for (n, choice) in choices.into_iter().enumerate() {
            let (text, names) = statement(choice, n, &defined);
            body.push_str(&text);
            body.push('\n');
            defined.extend(names);
        }
        let output = defined.last().map_or("input.n".to_string(), |d| format!("{d}.value"));
        format!(
            "flow wibble {{\nversion \"1.0.0\"\nconcurrency max 1 queue\ntrigger manual\ninput {{ n: int in 1..10, name: string, items: list<string> }}\n{body}output {{ last: {output}, n: input.n, name: input.name, items: input.items }}\n}}\n"
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_flows_check_and_have_acyclic_graphs(text in flow()) {
        let (parsed, diagnostics) = weir_compiler::check::diagnose(text.as_bytes(), None);
        let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
        prop_assert!(errors.is_empty(), "{errors:?}\n{text}");
        for item in &parsed.file.items {
            if let weir_grammar::ast::Item::Flow(flow) = item {
                prop_assert!(weir_compiler::dag::build(flow).is_acyclic_forward(), "{text}");
            }
        }
    }
}
