//! The flow the interpreter benchmarks run: `input.seed` passed down a chain of `function`
//! steps, each adding one to the previous step's value, so every step's output is used
//! (no `unused-value` warning) and the run's output proves every step ran.

use weir_bytecode::{Bytecode, Value};

/// The text of a chain of `steps` function steps (`steps` ≥ 1).
pub fn flow_text(steps: usize) -> String {
    let mut text = String::with_capacity(120 + steps * 60);
    text.push_str("flow chain {\n  version \"1.0.0\"\n");
    text.push_str(
        "  description \"A chain of function steps: the engine and the journal, nothing outside\"\n",
    );
    text.push_str("  concurrency max 64 queue\n  trigger manual\n  input { seed: int }\n");
    text.push_str("  step s1 = function { value input.seed + 1 }\n");
    for n in 2..=steps {
        text.push_str(&format!("  step s{n} = function {{ value s{}.value + 1 }}\n", n - 1));
    }
    text.push_str(&format!("  output {{ last: s{steps}.value }}\n}}\n"));
    text
}

/// The chain of `steps` steps, parsed, checked (no diagnostic at all is allowed: the bench
/// must run what `weir build` would build) and lowered, as `weir build` does.
pub fn compile(steps: usize) -> Bytecode {
    let text = flow_text(steps);
    let parsed = weir_grammar::parse(&text);
    assert!(parsed.diagnostics.is_empty(), "the chain flow does not parse: {:?}", parsed.diagnostics);
    let found = weir_compiler::check::check(&parsed, None);
    assert!(found.is_empty(), "the chain flow does not check clean: {found:?}");
    let flow = parsed.file.flows().next().expect("the chain text holds a flow");
    weir_compiler::lower::lower_flow(flow, &text, None, None).expect("the chain flow lowers")
}

/// The run input: the chain starts at `seed`.
pub fn input(seed: i64) -> Value {
    Value::record([("seed", Value::Int(seed))])
}

/// The output a run of the chain of `steps` steps must end with for `input(seed)`.
pub fn output(seed: i64, steps: usize) -> Value {
    Value::record([("last", Value::Int(seed + steps as i64))])
}
