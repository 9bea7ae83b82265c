//! The flow the paused-approvals benchmark starts many times: a `function` step plans a
//! release, an `approval` (no deciders: nobody needs to be in weir.toml to reach the pause)
//! binds the plan and waits up to a day, and a last step uses the decision. Each run takes a
//! concurrency slot of its own ticket (`per input.ticket`), as a real release flow would, so
//! a paused run holds one slot, and 100,000 paused runs hold 100,000 keys.

use weir_bytecode::{Bytecode, Value};

/// The text of the release flow.
pub fn flow_text() -> String {
    concat!(
        "flow release {\n",
        "  version \"1.0.0\"\n",
        "  description \"A release that waits for a person: every run pauses at the approval\"\n",
        "  concurrency max 1 per input.ticket queue\n",
        "  trigger manual\n",
        "  input { ticket: string, priority: \"low\" | \"high\" = \"low\" }\n",
        "  step plan = function { value \"release {input.ticket} at {input.priority} priority\" }\n",
        "  approval go {\n",
        "    summary \"Ship {input.ticket}? {plan.value}\"\n",
        "    binds plan.value\n",
        "    timeout 24h\n",
        "    default reject\n",
        "  }\n",
        "  step done = function { value \"shipped {input.ticket} by {go.by}\" }\n",
        "  output { result: done.value }\n",
        "}\n",
    )
    .to_string()
}

/// The release flow, parsed, checked (no diagnostic at all is allowed) and lowered, as `weir
/// build` does.
pub fn compile() -> Bytecode {
    let text = flow_text();
    let parsed = weir_grammar::parse(&text);
    assert!(parsed.diagnostics.is_empty(), "the release flow does not parse: {:?}", parsed.diagnostics);
    let found = weir_compiler::check::check(&parsed, None);
    assert!(found.is_empty(), "the release flow does not check clean: {found:?}");
    let flow = parsed.file.flows().next().expect("the release text holds a flow");
    weir_compiler::lower::lower_flow(flow, &text, None, None).expect("the release flow lowers")
}

/// The input of run number `n`: its own ticket, every tenth one high priority.
pub fn input(n: u64) -> Value {
    let priority = if n.is_multiple_of(10) { "high" } else { "low" };
    Value::record([("ticket", Value::string(format!("WIB-{n}"))), ("priority", Value::string(priority))])
}
