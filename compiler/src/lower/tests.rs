//! Unit tests of lowering: the shape of each construct, identities of the docs' example,
//! and errors instead of panics.

use super::*;
use weir_bytecode::{
    Backoff, Block, BlockIx, DeciderKind, Decision, EffectClass, ExprNode, Instr, NameScope, Program,
    RetryOn, StepKind,
};

const EXAMPLE: &str = include_str!("../../bytecode/tests/common/example.flow");

/// Lowers the first flow of `source` (parsed only: lowering needs no check to run).
fn lower(source: &str) -> Result<weir_bytecode::Bytecode, LowerError> {
    lower_with(source, None)
}

fn lower_with(
    source: &str,
    config: Option<&weir_config::Config>,
) -> Result<weir_bytecode::Bytecode, LowerError> {
    let parsed = weir_grammar::parse(source);
    let flow = parsed.file.flows().next().expect("a flow");
    lower_flow(flow, source, config, None)
}

fn program(body: &str) -> Program {
    let source = format!(
        "flow t {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n  input {{ n: int, xs: list<string> }}\n{body}\n}}\n"
    );
    lower(&source).unwrap_or_else(|e| panic!("{e}")).program
}

fn block(p: &Program, b: BlockIx) -> &Block {
    p.block(b).expect("block in range")
}

fn id(p: &Program, s: weir_bytecode::StepIx) -> &str {
    &p.step(s).expect("step in range").id
}

#[test]
fn the_docs_example_gets_the_docs_identities() {
    let b = lower(EXAMPLE).expect("lowers");
    assert_eq!(b.header.slug, "wibble-deploy");
    assert_eq!(b.header.flow_version, semver::Version::new(1, 2, 0));
    assert_eq!(b.header.compiler_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(b.header.source_sha256, weir_bytecode::sha256(EXAMPLE.as_bytes()));
    let mut ids: Vec<&str> = b.program.steps.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![
        "started",
        "plan",
        "done",
        "start",
        "result",
        "result/if#1",
        "result/if#1/arm#1/fail#1",
        "ship",
        "ship/on_reject/log#1",
        "deploy",
        "rollback",
        "deploy/for#1",
        "notify",
        "wobble",
        "ship/parallel#1/branch#2/wait#1",
        "flob",
        "ship/repeat#1",
        "check",
        "ship/loop#1",
        "report",
        "ship/try#1/catch/log#1",
        "ship/sleep#1",
        "ship/if#1",
        "ship/if#1/arm#1/return#1",
        "ship/if#1/else/log#1",
        "on_failure/log#1",
        "@output",
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    // The entry block's instructions, in order, as docs/bytecode.md lists them.
    let kinds: Vec<&str> = block(&b.program, b.program.flow.entry)
        .instrs
        .iter()
        .map(|i| match i {
            Instr::Let { .. } => "let",
            Instr::Step { .. } => "step",
            Instr::Callback { .. } => "callback",
            Instr::If { .. } => "if",
            Instr::Approval { .. } => "approval",
            Instr::Saga { .. } => "saga",
            Instr::Parallel { .. } => "parallel",
            Instr::Repeat { .. } => "repeat",
            Instr::Loop { .. } => "loop",
            Instr::Try { .. } => "try",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "let", "step", "callback", "step", "step", "if", "approval", "saga", "parallel", "repeat",
            "loop", "try", "step", "if"
        ]
    );
    assert!(b.program.flow.on_failure.as_ref().is_some_and(|h| h.var.as_deref() == Some("e")));
    assert!(weir_bytecode::encode(&b).is_ok());
}

#[test]
fn an_if_chain_lowers_to_arms_and_an_else_block() {
    let p = program(
        "  if input.n > 2 {\n    log \"big\"\n  } else if input.n > 1 {\n    log \"mid\"\n  } else {\n    log \"small\"\n  }",
    );
    let [Instr::If { site, arms, otherwise: Some(other) }] = &block(&p, p.flow.entry).instrs[..] else {
        panic!("one if: {:?}", p.blocks[0])
    };
    assert_eq!(id(&p, *site), "if#1");
    assert_eq!(arms.len(), 2);
    assert!(matches!(p.expr(arms[0].cond), Some(ExprNode::Binary { op: weir_bytecode::BinaryOp::Gt, .. })));
    let [Instr::Log { step }] = &block(&p, arms[1].body).instrs[..] else { panic!("a log") };
    assert_eq!(id(&p, *step), "if#1/arm#2/log#1");
    let [Instr::Log { step }] = &block(&p, *other).instrs[..] else { panic!("a log") };
    assert_eq!(id(&p, *step), "if#1/else/log#1");
}

#[test]
fn a_for_loop_binds_its_variable_as_a_local() {
    let p = program(
        "  for x in input.xs parallel 4 {\n    step put = http PUT \"/items/{x}\" { connection api }\n  }",
    );
    let [Instr::For { site, var, items, parallel: Some(par), body }] = &block(&p, p.flow.entry).instrs[..]
    else {
        panic!("one for")
    };
    assert_eq!((id(&p, *site), var.as_str()), ("for#1", "x"));
    assert!(matches!(p.expr(*items), Some(ExprNode::Field { name, .. }) if name == "xs"));
    assert!(matches!(p.expr(*par), Some(ExprNode::Const(_))));
    let [Instr::Step { step, undo: None }] = &block(&p, *body).instrs[..] else { panic!("a step") };
    let StepKind::Action(a) = &p.step(*step).unwrap().kind else { panic!("an action") };
    assert_eq!((a.family.as_str(), a.method.as_deref()), ("http", Some("PUT")));
    assert_eq!(a.policy.effect, EffectClass::Write);
    let Some(ExprNode::Template(parts)) = a.target.and_then(|t| p.expr(t)) else { panic!("a template") };
    let weir_bytecode::TemplatePart::Hole(hole) = parts[1] else { panic!("a hole") };
    assert_eq!(p.expr(hole), Some(&ExprNode::Name { scope: NameScope::Local, name: "x".into() }));
}

#[test]
fn try_catch_binds_the_error_and_counts_from_the_try() {
    let p = program(
        "  try {\n    step job = http POST \"/jobs\" { connection api }\n  } catch e {\n    log e.message\n    fail \"gave up\" code \"job\"\n  }",
    );
    let [Instr::Try { body, catch }] = &block(&p, p.flow.entry).instrs[..] else { panic!("one try") };
    assert_eq!(catch.var.as_deref(), Some("e"));
    assert!(matches!(&block(&p, *body).instrs[..], [Instr::Step { .. }]));
    let [Instr::Log { step }, Instr::Fail { site, code: Some(_), .. }] = &block(&p, catch.body).instrs[..]
    else {
        panic!("log and fail")
    };
    assert_eq!(id(&p, *step), "try#1/catch/log#1");
    assert_eq!(id(&p, *site), "try#1/catch/fail#1");
    let StepKind::Log { value } = p.step(*step).unwrap().kind else { panic!("a log") };
    let Some(ExprNode::Field { base, .. }) = p.expr(value) else { panic!("a field") };
    assert_eq!(p.expr(*base), Some(&ExprNode::Name { scope: NameScope::Local, name: "e".into() }));
}

#[test]
fn an_approval_keeps_every_clause() {
    let p = program(
        r##"  step review = function { value "ok" }
  approval ship {
    summary "Ship {input.n}?"
    attach review.value
    binds review.value
    input { comment: string = "", level?: int }
    deciders group "release", person alice not initiator exclude review.by min 2
    ask slack_release { channel "#deploys" }
    timeout 24h
    default approve
    on reject {
      return { rejected: true }
    }
  }"##,
    );
    let [_, Instr::Approval { step, on_reject: Some(reject) }] = &block(&p, p.flow.entry).instrs[..] else {
        panic!("step and approval")
    };
    let StepKind::Approval(a) = &p.step(*step).unwrap().kind else { panic!("an approval") };
    assert!(a.summary.is_some());
    assert_eq!((a.attach.len(), a.binds.len(), a.exclude.len()), (1, 1, 1));
    let names: Vec<(&str, bool, bool)> =
        a.input.iter().map(|f| (f.name.as_str(), f.optional, f.default.is_some())).collect();
    assert_eq!(names, [("comment", false, true), ("level", true, false)]);
    let deciders: Vec<(DeciderKind, &str)> = a.deciders.iter().map(|d| (d.kind, d.name.as_str())).collect();
    assert_eq!(deciders, [(DeciderKind::Group, "release"), (DeciderKind::Person, "alice")]);
    assert!(a.not_initiator && a.min.is_some());
    assert_eq!(a.ask.as_ref().map(|a| (a.connection.as_str(), a.config.len())), Some(("slack_release", 1)));
    assert_eq!(a.default, Decision::Approve);
    assert!(matches!(p.expr(a.timeout), Some(ExprNode::Const(_))));
    let [Instr::Return { site, value: Some(_) }] = &block(&p, *reject).instrs[..] else { panic!("a return") };
    assert_eq!(id(&p, *site), "ship/on_reject/return#1");
}

#[test]
fn retries_and_effects_reduce_to_the_formats_numbers() {
    let toml =
        "[connections.pay]\ntype = \"http\"\nbase_url = \"https://pay.example\"\nirreversible = true\n";
    let (config, _) = weir_config::parse(toml);
    let source = r#"flow t {
  version "1.0.0"
  concurrency unlimited because "test"
  trigger webhook "/hook" verify none because "test" with { n: payload.n }
  input { n: int }
  timeout 1h
  step charge = http POST "/charges" {
    connection pay
    body { n: input.n }
    timeout 30s
    retry 3 on transient, "rate_limited" backoff exponential(1s, max 30s) jitter
    retry 1 on any backoff fixed(1m)
    retry 2
    idempotency_key "{run.id}-charge"
    unattended because "a test"
  }
  step look = http POST "/search" {
    connection pay
    effect read because "it only searches"
  }
}
"#;
    let p = lower_with(source, Some(&config)).expect("lowers").program;
    let StepKind::Action(charge) = &p.step_by_id("charge").unwrap().1.kind else { panic!("an action") };
    assert_eq!(charge.connection.as_deref(), Some("pay"));
    assert_eq!(charge.policy.effect, EffectClass::Irreversible);
    assert_eq!(charge.policy.unattended.as_deref(), Some("a test"));
    assert!(charge.policy.timeout.is_some() && charge.policy.idempotency_key.is_some());
    assert_eq!(charge.config.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["body"]);
    let r = &charge.policy.retries;
    assert_eq!(r.len(), 3);
    assert_eq!((r[0].count, r[0].jitter), (3, true));
    assert_eq!(r[0].on, [RetryOn::Transient, RetryOn::Code("rate_limited".into())]);
    assert_eq!(r[0].backoff, Backoff::Exponential { first_ms: 1_000, max_ms: Some(30_000) });
    assert_eq!((r[1].on.clone(), r[1].backoff), (vec![RetryOn::Any], Backoff::Fixed { delay_ms: 60_000 }));
    assert_eq!((r[2].on.clone(), r[2].backoff), (vec![RetryOn::Transient], Backoff::Immediate));
    let StepKind::Action(look) = &p.step_by_id("look").unwrap().1.kind else { panic!("an action") };
    assert_eq!(look.policy.effect, EffectClass::Read);
    let [weir_bytecode::Trigger::Webhook { with: Some(with), scheme, .. }] = &p.flow.triggers[..] else {
        panic!("a webhook")
    };
    assert_eq!(*scheme, weir_bytecode::WebhookScheme::Generic);
    let Some(ExprNode::Record(fields)) = p.expr(*with) else { panic!("a record") };
    let Some(ExprNode::Field { base, .. }) = p.expr(fields[0].1) else { panic!("a field") };
    assert_eq!(p.expr(*base), Some(&ExprNode::Name { scope: NameScope::Payload, name: "payload".into() }));
    assert!(p.flow.run_timeout.is_some());
}

#[test]
fn waits_timers_and_builtins_lower() {
    let p = program(
        r#"  callback cb {
    output { ok: bool }
    timeout 1h
  }
  step got = wait cb
  step nap = sleep 1s
  wait for 2s
  wait until now() + 1m
  step v = function { value [prev(v) ?? none, uuid(), signed_url(to_res("x"), 1h), read_text(to_res("y"), 10), input.xs[0], got?.ok] }"#,
    );
    let wait = p.step_by_id("got").unwrap().1;
    let StepKind::WaitCallback { callback } = wait.kind else { panic!("a callback wait") };
    assert_eq!(id(&p, callback), "cb");
    assert!(matches!(p.step_by_id("nap").unwrap().1.kind, StepKind::Sleep { .. }));
    assert!(matches!(p.step_by_id("nap/wait#1").unwrap().1.kind, StepKind::WaitFor { .. }));
    assert!(matches!(p.step_by_id("nap/wait#2").unwrap().1.kind, StepKind::WaitUntil { .. }));
    let builtins: Vec<&str> = p
        .exprs
        .iter()
        .filter_map(|e| match e {
            ExprNode::Call { builtin, .. } => Some(builtin.name()),
            _ => None,
        })
        .collect();
    assert_eq!(builtins, ["now", "prev", "uuid", "to_res", "signed_url", "to_res", "read_text"]);
    assert!(p.exprs.iter().any(|e| matches!(e, ExprNode::Index { .. })));
    assert!(p.exprs.iter().any(|e| matches!(e, ExprNode::Field { optional: true, .. })));
}

#[test]
fn what_the_checker_would_refuse_is_an_error_not_a_panic() {
    let big = program_source("  step s = http GET \"/x\" {\n    connection api\n    retry 99999999999\n  }");
    assert_eq!(lower(&big).unwrap_err().code, LowerCode::OutOfRange);
    let broken = program_source("  step s = http GET \"/x\" { connection api body { a: } }");
    let parsed = weir_grammar::parse(&broken);
    if let Some(flow) = parsed.file.flows().next() {
        assert!(lower_flow(flow, &broken, None, None).is_err());
    }
    let no_version = "flow t {\n  concurrency max 1 queue\n  trigger manual\n}\n";
    assert_eq!(lower(no_version).unwrap_err().code, LowerCode::Unchecked);
    let unknown = program_source("  log nobody");
    assert!(lower(&unknown).unwrap_err().message.contains("`nobody`"));
}

fn program_source(body: &str) -> String {
    format!("flow t {{\n  version \"1.0.0\"\n  concurrency max 1 queue\n  trigger manual\n{body}\n}}\n")
}

#[test]
fn the_interface_text_is_input_and_output_types() {
    let source = program_source(
        "  input { repo: string, pr: int = 1, tags?: list<string> }\n  output { repo: input.repo }",
    );
    let parsed = weir_grammar::parse(&source);
    let flow = parsed.file.flows().next().unwrap();
    assert_eq!(
        interface_text(flow),
        "input { repo: string, pr?: int, tags?: list<string> } output { repo: string }"
    );
    let b = lower(&source).unwrap();
    assert_eq!(b.header.interface_sha256, weir_bytecode::sha256(interface_text(flow).as_bytes()));
}
