//! Untrusted input: the parser never panics, every span lies on char boundaries, valid flows
//! survive `parse(fmt(x)) == parse(x)`, and huge or broken files give diagnostics.

use super::without_spans;
use proptest::prelude::*;
use weir_compiler::format::format_text;
use weir_grammar::{parse, parse_bytes};

/// Every `span` in the tree and the diagnostics lies inside the text on char boundaries.
fn spans_are_sound(text: &str) -> Result<(), String> {
    let parsed = parse(text);
    let mut spans = Vec::new();
    collect_spans(&serde_json::to_value(&parsed.file).expect("json"), &mut spans);
    for d in &parsed.diagnostics {
        spans.extend(d.labels.iter().map(|l| (l.span.start as usize, l.span.end as usize)));
    }
    for (start, end) in spans {
        if start > end || end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return Err(format!("bad span {start}..{end} in a text of {} bytes", text.len()));
        }
    }
    Ok(())
}

fn collect_spans(value: &serde_json::Value, out: &mut Vec<(usize, usize)>) {
    match value {
        serde_json::Value::Object(map) => {
            if let (Some(s), Some(e)) =
                (map.get("start").and_then(|v| v.as_u64()), map.get("end").and_then(|v| v.as_u64()))
            {
                out.push((s as usize, e as usize));
            }
            map.values().for_each(|v| collect_spans(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_spans(v, out)),
        _ => {}
    }
}

const TOKENS: &[&str] = &[
    "flow",
    "step",
    "approval",
    "callback",
    "parallel",
    "for",
    "in",
    "if",
    "else",
    "loop",
    "max",
    "try",
    "catch",
    "saga",
    "undo",
    "wait",
    "sleep",
    "log",
    "fail",
    "return",
    "http",
    "POST",
    "llm",
    "function",
    "value",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ":",
    ",",
    ".",
    "?.",
    "??",
    "+",
    "-",
    "*",
    "==",
    "\"",
    "\"\"\"",
    "raw\"",
    "{x}",
    "# c\n",
    "\n",
    " ",
    "  ",
    "1",
    "2s",
    "1.5",
    "input",
    "wibble",
    "é",
    "日本",
    "\\",
    "\\n",
    "\\q",
    "\t",
    "\0",
    "<",
    ">",
    "list<",
    "res<",
    "|",
    "?",
    "@",
    "^1",
    "secret",
    "trigger",
    "manual",
    "concurrency",
    "queue",
];

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..120).prop_map(|t| t.join(" "))
}

fn name() -> impl Strategy<Value = String> {
    proptest::sample::select(&["wibble", "wobble", "plan", "deploy", "x1", "result"][..])
        .prop_map(String::from)
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0i64..1000).prop_map(|n| n.to_string()),
        name(),
        name().prop_map(|n| format!("input.{n}")),
        name().prop_map(|n| format!("\"hi {{{n}}} there\"")),
        Just("30s".to_string()),
        Just("true".to_string()),
        Just("none".to_string()),
        Just("raw\"a\\b\"".to_string()),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), proptest::sample::select(&["+", "*", "==", "&&", "??", "<"][..]), inner.clone())
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("!{a}")),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(", "))),
            (name(), inner.clone()).prop_map(|(k, v)| format!("{{ {k}: {v} }}")),
            (name(), inner.clone()).prop_map(|(k, v)| format!("{{\n{k}: {v}\n}}")),
            inner.prop_map(|a| format!("len({a})")),
        ]
    })
}

fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        (name(), expr()).prop_map(|(n, e)| format!("step {n} = function {{ value {e} }}")),
        (name(), expr()).prop_map(|(n, e)| format!("step {n} = http POST \"/x/{{{e}}}\" {{\nbody {e} # note\nretry 3 on transient backoff exponential(2s, max 1m) jitter\n}}")),
        expr().prop_map(|e| format!("log {e}")),
        expr().prop_map(|e| format!("if {e} {{\nsleep 1s\n}} else {{\nfail \"no\" code \"x\"\n}}")),
        (name(), expr()).prop_map(|(n, e)| format!("for {n} in {e} parallel 4 {{\nlog {n}\n}}")),
        Just("parallel {\nbranch {\nsleep 1s\n}\nwait for 2m\n}".to_string()),
        (name(), expr()).prop_map(|(n, e)| format!("approval {n} {{\nsummary \"ok?\"\nbinds {e}\ndeciders group \"ops\" not initiator\ntimeout 1h\ndefault reject\n}}")),
        expr().prop_map(|e| format!("# a comment\nconst K = {e}\n")),
    ]
}

fn valid_flow() -> impl Strategy<Value = String> {
    proptest::collection::vec(statement(), 0..8).prop_map(|stmts| {
        format!(
            "flow wibble {{\nversion \"1.0.0\"\ninput {{ n: int in 1..10, s: string? }}\n{}\n}}\n",
            stmts.join("\n")
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_and_spans_are_sound(text in token_soup()) {
        prop_assert!(spans_are_sound(&text).is_ok(), "{}", spans_are_sound(&text).unwrap_err());
    }

    #[test]
    fn parser_survives_arbitrary_text(text in "\\PC{0,400}") {
        prop_assert!(spans_are_sound(&text).is_ok());
    }

    #[test]
    fn parser_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_bytes(&bytes);
    }

    #[test]
    fn valid_flows_round_trip_through_the_formatter(text in valid_flow()) {
        let parsed = parse(&text);
        prop_assert!(parsed.diagnostics.is_empty(), "generated flow does not parse: {:?}\n{text}", parsed.diagnostics);
        let formatted = format_text(&text).expect("formats");
        let again = parse(&formatted);
        prop_assert!(again.diagnostics.is_empty());
        prop_assert_eq!(
            without_spans(serde_json::to_value(&parsed.file).unwrap()),
            without_spans(serde_json::to_value(&again.file).unwrap())
        );
        prop_assert_eq!(format_text(&formatted).expect("formats"), formatted);
    }

    #[test]
    fn mutated_stdlib_flows_never_panic(seed in 0usize..10_000, cut in 0usize..400, insert in proptest::sample::select(TOKENS)) {
        let flows = super::flows_under(&super::root().join("stdlib-flows"));
        if flows.is_empty() { return Ok(()); }
        let text = std::fs::read_to_string(&flows[seed % flows.len()]).unwrap();
        let mut at = (seed * 7919) % text.len().max(1);
        while !text.is_char_boundary(at) { at -= 1; }
        let mut end = (at + cut % 40).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..at], insert, &text[end..]);
        prop_assert!(spans_are_sound(&mutated).is_ok());
        prop_assert!(parse(&mutated).diagnostics.len() <= weir_grammar::MAX_ERRORS + 4);
    }
}

#[test]
fn ten_megabyte_single_line_files() {
    let long_string = format!("flow wibble {{ log \"{}\" }}", "x".repeat(10 * 1024 * 1024));
    assert!(parse(&long_string).diagnostics.is_empty());
    let garbage = "wibble ".repeat(1_500_000);
    let parsed = parse(&garbage);
    assert_eq!(parsed.diagnostics.len(), 1);
    let broken = format!("flow wibble {{ log \"{}", "y".repeat(10 * 1024 * 1024));
    assert!(parse(&broken).diagnostics.iter().any(|d| d.code.name() == "unterminated-string"));
}

#[test]
fn a_valid_ten_megabyte_flow_checks_clean() {
    let mut text =
        String::from("flow wibble {\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n");
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!(
            "  step s{i} = http POST \"/items/{{input.repo}}/{i}\" {{\n    connection api\n    body {{ id: {i}, tags: [\"a\", \"b\"], ok: true }}\n    retry 3 on transient backoff exponential(2s, max 1m)\n  }}\n"
        ));
        i += 1;
    }
    text.push_str("}\n");
    let parsed = parse(&text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", &parsed.diagnostics[..1]);
}

#[test]
fn invalid_utf8_and_nul_bytes_are_diagnostics() {
    let parsed = parse_bytes(b"flow wibble {\n  log \"caf\xe9\"\n}\n");
    assert_eq!(parsed.diagnostics[0].code.name(), "invalid-utf8");
    let parsed = parse("flow wibble {\n  log \"a\"\0\n}\n");
    assert!(parsed.diagnostics.iter().any(|d| d.code.name() == "invalid-character"));
    let parsed = parse("flow wibble {\n  log \"a\0b\"\n}\n");
    assert!(parsed.diagnostics.iter().any(|d| d.code.name() == "invalid-character"));
}
