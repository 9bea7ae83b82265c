//! The flow the replay benchmark journals: one `for` over the run's input list with one
//! `function` step inside, so a run over `n` items journals `n` step outcomes (plus the
//! start, the concurrency slot and the end), each with its own loop iteration in its
//! identity. The output is the sum of the step's outputs (a `function` step folding the
//! list), so every iteration's output is used and the run's output proves all of them ran.

use weir_bytecode::{Bytecode, Value};

/// The text of the loop flow.
pub fn flow_text() -> String {
    concat!(
        "flow long_loop {\n",
        "  version \"1.0.0\"\n",
        "  description \"One function step per item of a long list: a long journal, nothing outside\"\n",
        "  concurrency max 64 queue\n",
        "  trigger manual\n",
        "  input { items: list<int> }\n",
        "  for item in input.items {\n",
        "    step twice = function { value item * 2 }\n",
        "  }\n",
        "  output { count: len(twice) }\n",
        "}\n",
    )
    .to_string()
}

/// The loop flow, parsed, checked (no diagnostic at all is allowed) and lowered, as `weir
/// build` does.
pub fn compile() -> Bytecode {
    let text = flow_text();
    let parsed = weir_grammar::parse(&text);
    assert!(parsed.diagnostics.is_empty(), "the loop flow does not parse: {:?}", parsed.diagnostics);
    let found = weir_compiler::check::check(&parsed, None);
    assert!(found.is_empty(), "the loop flow does not check clean: {found:?}");
    let flow = parsed.file.flows().next().expect("the loop text holds a flow");
    weir_compiler::lower::lower_flow(flow, &text, None, None).expect("the loop flow lowers")
}

/// The run input: the items `0..n`.
pub fn input(n: usize) -> Value {
    Value::record([("items", Value::List((0..n as i64).map(Value::Int).collect()))])
}

/// The output a run over `n` items must end with.
pub fn output(n: usize) -> Value {
    Value::record([("count", Value::Int(n as i64))])
}
