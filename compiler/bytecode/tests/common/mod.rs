//! The example flow of docs/bytecode.md, lowered by hand with the builder: it uses every
//! instruction and step kind, so the golden file and the fuzzers cover the whole format.
#![allow(dead_code)]

use weir_bytecode::identity::BlockIds;
use weir_bytecode::*;

/// The source the example stands for (docs/bytecode.md shows the same text).
pub const EXAMPLE_SOURCE: &str = include_str!("example.flow");

/// Shorthands over a builder.
pub struct B {
    pub b: ProgramBuilder,
    line: u32,
}

impl B {
    fn new() -> B {
        B { b: ProgramBuilder::new(), line: 0 }
    }

    fn span(&mut self, line: u32) -> Span {
        self.line = line;
        Span { start: line * 10, end: line * 10 + 9, line, column: 3 }
    }

    pub fn lit(&mut self, v: Value) -> ExprIx {
        self.b.literal(v)
    }

    pub fn s(&mut self, s: &str) -> ExprIx {
        self.b.literal(Value::string(s))
    }

    pub fn name(&mut self, scope: NameScope, n: &str) -> ExprIx {
        self.b.expr(ExprNode::Name { scope, name: n.into() })
    }

    pub fn path(&mut self, scope: NameScope, parts: &[&str]) -> ExprIx {
        let mut e = self.name(scope, parts[0]);
        for p in &parts[1..] {
            e = self.b.expr(ExprNode::Field { base: e, name: (*p).into(), optional: false });
        }
        e
    }

    pub fn template(&mut self, parts: Vec<TemplatePart>) -> ExprIx {
        self.b.expr(ExprNode::Template(parts))
    }

    pub fn call(&mut self, builtin: Builtin, args: Vec<ExprIx>) -> ExprIx {
        self.b.expr(ExprNode::Call { builtin, args })
    }

    fn ms(&mut self, ms: i64) -> ExprIx {
        self.b.literal(Value::Duration(ms))
    }

    fn site(&mut self, id: &str, line: u32) -> StepIx {
        let span = self.span(line);
        self.b.step(StepDef { id: id.into(), name: None, span, kind: StepKind::Control })
    }

    fn step(&mut self, id: &str, name: Option<&str>, line: u32, kind: StepKind) -> StepIx {
        let span = self.span(line);
        self.b.step(StepDef { id: id.into(), name: name.map(Into::into), span, kind })
    }

    fn policy(effect: EffectClass) -> StepPolicy {
        StepPolicy { effect, unattended: None, timeout: None, retries: Vec::new(), idempotency_key: None }
    }

    fn http(
        &mut self,
        method: &str,
        target: ExprIx,
        config: Vec<ConfigEntry>,
        effect: EffectClass,
    ) -> StepKind {
        StepKind::Action(ActionStep {
            family: "http".into(),
            method: Some(method.into()),
            target: Some(target),
            connection: Some("deployer".into()),
            config,
            output: None,
            files: Vec::new(),
            policy: B::policy(effect),
        })
    }
}

use NameScope::{Input, Local, Run, Step as S};
use TemplatePart::{Hole, Text};

/// The example, lowered.
pub fn example_program() -> Program {
    let mut x = B::new();
    let entry = x.b.entry();
    let mut top = BlockIds::root();

    // const started = now()
    let now = x.call(Builtin::Now, vec![]);
    let id = top.named("started");
    let site = x.site(&id, 10);
    x.b.push(entry, Instr::Let { site, name: "started".into(), value: now });

    // step plan = llm { … }
    let t_str = x.b.ty(TypeDesc::String);
    let t_risk = x.b.ty(TypeDesc::Literals { values: vec!["low".into(), "high".into()] });
    let t_plan = x.b.ty(TypeDesc::Record {
        fields: vec![FieldDesc { name: "risk".into(), ty: t_risk, optional: false }],
    });
    let model = x.s("gpt-4.1-mini");
    let repo = x.path(Input, &["input", "repo"]);
    let pr = x.path(Input, &["input", "pr"]);
    let prompt = x.template(vec![Text("Plan a deploy of ".into()), Hole(repo), Text("#".into()), Hole(pr)]);
    let mut policy = B::policy(EffectClass::Read);
    policy.retries.push(RetryPolicy {
        count: 3,
        on: vec![RetryOn::Transient],
        backoff: Backoff::Exponential { first_ms: 2_000, max_ms: Some(60_000) },
        jitter: true,
    });
    let id = top.named("plan");
    let plan = x.step(
        &id,
        Some("plan"),
        11,
        StepKind::Action(ActionStep {
            family: "llm".into(),
            method: None,
            target: None,
            connection: Some("openai".into()),
            config: vec![
                ConfigEntry { key: "model".into(), value: model },
                ConfigEntry { key: "prompt".into(), value: prompt },
            ],
            output: Some(t_plan),
            files: Vec::new(),
            policy,
        }),
    );
    x.b.push(entry, Instr::Step { step: plan, undo: None });

    // callback done { … }
    let t_bool = x.b.ty(TypeDesc::Bool);
    let t_bytes = x.b.ty(TypeDesc::Res { kind: ResKind::Bytes });
    let t_done = x.b.ty(TypeDesc::Record {
        fields: vec![
            FieldDesc { name: "ok".into(), ty: t_bool, optional: false },
            FieldDesc { name: "artifact".into(), ty: t_bytes, optional: false },
        ],
    });
    let two_hours = x.ms(7_200_000);
    let id = top.named("done");
    let done = x.step(
        &id,
        Some("done"),
        18,
        StepKind::Callback(CallbackDef { output: Some(t_done), timeout: two_hours }),
    );
    x.b.push(entry, Instr::Callback { step: done });

    // step start = ssh { command "agent-run --callback {quote_shell(done.url)}" }
    let url = x.path(S, &["done", "url"]);
    let quoted = x.call(Builtin::QuoteShell, vec![url]);
    let command = x.template(vec![Text("agent-run --callback ".into()), Hole(quoted)]);
    let id = top.named("start");
    let start = x.step(
        &id,
        Some("start"),
        22,
        StepKind::Action(ActionStep {
            family: "ssh".into(),
            method: None,
            target: None,
            connection: Some("build_vm".into()),
            config: vec![ConfigEntry { key: "command".into(), value: command }],
            output: None,
            files: Vec::new(),
            policy: B::policy(EffectClass::Write),
        }),
    );
    x.b.push(entry, Instr::Step { step: start, undo: None });

    // step result = wait done
    let id = top.named("result");
    let result = x.step(&id, Some("result"), 26, StepKind::WaitCallback { callback: done });
    x.b.push(entry, Instr::Step { step: result, undo: None });

    // if !result.ok { fail "the agent failed" code "agent_failed" }
    let ok = x.path(S, &["result", "ok"]);
    let not_ok = x.b.expr(ExprNode::Unary { op: UnaryOp::Not, operand: ok });
    let if_id = top.anonymous("if");
    let if_site = x.site(&if_id, 27);
    let then = x.b.block();
    let mut then_ids = BlockIds::nested(&if_id, "arm#1");
    let msg = x.s("the agent failed");
    let code = x.s("agent_failed");
    let fail_site = x.site(&then_ids.anonymous("fail"), 28);
    x.b.push(then, Instr::Fail { site: fail_site, message: msg, code: Some(code) });
    x.b.push(
        entry,
        Instr::If { site: if_site, arms: vec![IfArm { cond: not_ok, body: then }], otherwise: None },
    );

    // approval ship { … }
    let risk = x.path(S, &["plan", "risk"]);
    let summary = x.template(vec![Text("Deploy ".into()), Hole(repo), Text("? risk=".into()), Hole(risk)]);
    let artifact = x.path(S, &["result", "artifact"]);
    let two = x.lit(Value::Int(2));
    let day = x.ms(86_400_000);
    let channel = x.s("#deploys");
    let id = top.named("ship");
    let ship = x.step(
        &id,
        Some("ship"),
        30,
        StepKind::Approval(Box::new(ApprovalDef {
            summary: Some(summary),
            attach: Vec::new(),
            binds: vec![artifact],
            input: Vec::new(),
            deciders: vec![DeciderRef { kind: DeciderKind::Group, name: "release".into() }],
            not_initiator: true,
            exclude: Vec::new(),
            min: Some(two),
            ask: Some(Ask {
                connection: "slack_release".into(),
                config: vec![ConfigEntry { key: "channel".into(), value: channel }],
            }),
            timeout: day,
            default: Decision::Reject,
        })),
    );
    let on_reject = x.b.block();
    let mut reject_ids = BlockIds::nested(&id, "on_reject");
    let by = x.path(S, &["ship", "by"]);
    let line = x.template(vec![Text("rejected by ".into()), Hole(by)]);
    let log = x.step(&reject_ids.anonymous("log"), None, 37, StepKind::Log { value: line });
    x.b.push(on_reject, Instr::Log { step: log });
    x.b.push(entry, Instr::Approval { step: ship, on_reject: Some(on_reject) });

    // saga { step deploy … undo { step rollback … }  for target in input.targets parallel 4 { … } }
    let saga_id = top.anonymous("saga");
    let saga = x.b.block();
    let mut saga_ids = BlockIds::nested(&saga_id, "body");
    let target = x.s("/deploys");
    let body = x.b.expr(ExprNode::Record(vec![("artifact".into(), artifact)]));
    let run_id = x.path(Run, &["run", "id"]);
    let key = x.template(vec![Hole(run_id), Text("-deploy".into())]);
    let mut kind = x.http(
        "POST",
        target,
        vec![ConfigEntry { key: "body".into(), value: body }],
        EffectClass::Irreversible,
    );
    if let StepKind::Action(a) = &mut kind {
        a.policy.idempotency_key = Some(key);
    }
    let id = saga_ids.named("deploy");
    let deploy = x.step(&id, Some("deploy"), 41, kind);
    let undo = x.b.block();
    let mut undo_ids = BlockIds::nested(&id, "undo");
    let deploy_id = x.path(S, &["deploy", "body", "id"]);
    let rollback_target = x.template(vec![Text("/deploys/".into()), Hole(deploy_id)]);
    let kind = x.http("DELETE", rollback_target, Vec::new(), EffectClass::Irreversible);
    let rollback = x.step(&undo_ids.named("rollback"), Some("rollback"), 46, kind);
    x.b.push(undo, Instr::Step { step: rollback, undo: None });
    x.b.push(saga, Instr::Step { step: deploy, undo: Some(Undo { always: false, body: undo }) });

    let for_id = saga_ids.anonymous("for");
    let for_site = x.site(&for_id, 49);
    let targets = x.path(Input, &["input", "targets"]);
    let four = x.lit(Value::Int(4));
    let for_body = x.b.block();
    let mut for_ids = BlockIds::nested(&for_id, "body");
    let t = x.name(Local, "target");
    let notify_body = x.b.expr(ExprNode::Record(vec![("target".into(), t)]));
    let notify_target = x.s("/notify");
    let kind = x.http(
        "POST",
        notify_target,
        vec![ConfigEntry { key: "body".into(), value: notify_body }],
        EffectClass::Write,
    );
    let notify = x.step(&for_ids.named("notify"), Some("notify"), 50, kind);
    x.b.push(for_body, Instr::Step { step: notify, undo: None });
    x.b.push(
        saga,
        Instr::For {
            site: for_site,
            var: "target".into(),
            items: targets,
            parallel: Some(four),
            body: for_body,
        },
    );
    x.b.push(entry, Instr::Saga { body: saga });

    // parallel { step wobble = function { … }  branch { wait for 1m  step flob = kv set … } }
    let par_id = top.anonymous("parallel");
    let first = x.b.block();
    let mut first_ids = BlockIds::nested(&par_id, "branch#1");
    let upper = x.call(Builtin::Upper, vec![repo]);
    let wobble = x.step(
        &first_ids.named("wobble"),
        Some("wobble"),
        55,
        StepKind::Action(ActionStep {
            family: "function".into(),
            method: None,
            target: None,
            connection: None,
            config: vec![ConfigEntry { key: "value".into(), value: upper }],
            output: None,
            files: Vec::new(),
            policy: B::policy(EffectClass::Pure),
        }),
    );
    x.b.push(first, Instr::Step { step: wobble, undo: None });
    let second = x.b.block();
    let mut second_ids = BlockIds::nested(&par_id, "branch#2");
    let minute = x.ms(60_000);
    let wait = x.step(&second_ids.anonymous("wait"), None, 57, StepKind::WaitFor { duration: minute });
    x.b.push(second, Instr::Step { step: wait, undo: None });
    let kv_key = x.template(vec![Text("last/".into()), Hole(repo)]);
    let uuid = x.call(Builtin::Uuid, vec![]);
    let flob = x.step(
        &second_ids.named("flob"),
        Some("flob"),
        58,
        StepKind::Action(ActionStep {
            family: "kv".into(),
            method: Some("set".into()),
            target: Some(kv_key),
            connection: None,
            config: vec![ConfigEntry { key: "value".into(), value: uuid }],
            output: None,
            files: Vec::new(),
            policy: B::policy(EffectClass::Pure),
        }),
    );
    x.b.push(second, Instr::Step { step: flob, undo: None });
    x.b.push(entry, Instr::Parallel { branches: vec![first, second] });

    // repeat every 30s until check.body.state == "done" max 40 { step check = http GET … }
    let rep_id = top.anonymous("repeat");
    let rep_site = x.site(&rep_id, 62);
    let every = x.ms(30_000);
    let state = x.path(S, &["check", "body", "state"]);
    let done_lit = x.s("done");
    let until = x.b.expr(ExprNode::Binary { op: BinaryOp::Eq, lhs: state, rhs: done_lit });
    let forty = x.lit(Value::Int(40));
    let rep_body = x.b.block();
    let mut rep_ids = BlockIds::nested(&rep_id, "body");
    let check_target = x.template(vec![Text("/deploys/".into()), Hole(deploy_id)]);
    let kind = x.http("GET", check_target, Vec::new(), EffectClass::Read);
    let check = x.step(&rep_ids.named("check"), Some("check"), 63, kind);
    x.b.push(rep_body, Instr::Step { step: check, undo: None });
    x.b.push(entry, Instr::Repeat { site: rep_site, every, until, max: forty, body: rep_body });

    // loop max 3 { break }
    let loop_id = top.anonymous("loop");
    let loop_site = x.site(&loop_id, 65);
    let three = x.lit(Value::Int(3));
    let loop_body = x.b.block();
    x.b.push(loop_body, Instr::Break);
    x.b.push(entry, Instr::Loop { site: loop_site, max: three, body: loop_body });

    // try { step report = call wobble-report@^1 { … } } catch e { log "report failed: {e.message}" }
    let try_id = top.anonymous("try");
    let try_body = x.b.block();
    let mut try_ids = BlockIds::nested(&try_id, "body");
    let child_input = x.b.expr(ExprNode::Record(vec![("repo".into(), repo)]));
    let mut policy = B::policy(EffectClass::Write);
    let half_hour = x.ms(1_800_000);
    policy.timeout = Some(half_hour);
    let report = x.step(
        &try_ids.named("report"),
        Some("report"),
        69,
        StepKind::Call(CallStep {
            flow: "wobble-report".into(),
            range: Some("^1".into()),
            input: Some(child_input),
            policy,
        }),
    );
    x.b.push(try_body, Instr::Step { step: report, undo: None });
    let catch = x.b.block();
    let mut catch_ids = BlockIds::nested(&try_id, "catch");
    let message = x.path(Local, &["e", "message"]);
    let line = x.template(vec![Text("report failed: ".into()), Hole(message)]);
    let log = x.step(&catch_ids.anonymous("log"), None, 72, StepKind::Log { value: line });
    x.b.push(catch, Instr::Log { step: log });
    x.b.push(entry, Instr::Try { body: try_body, catch: Handler { var: Some("e".into()), body: catch } });

    // sleep 5m
    let five = x.ms(300_000);
    let sleep = x.step(&top.anonymous("sleep"), None, 74, StepKind::Sleep { duration: five });
    x.b.push(entry, Instr::Step { step: sleep, undo: None });

    // if input.pr == 0 { return { url: "none" } } else { log input.pr }
    let zero = x.lit(Value::Int(0));
    let is_zero = x.b.expr(ExprNode::Binary { op: BinaryOp::Eq, lhs: pr, rhs: zero });
    let if2_id = top.anonymous("if");
    let if2_site = x.site(&if2_id, 75);
    let arm = x.b.block();
    let mut arm_ids = BlockIds::nested(&if2_id, "arm#1");
    let none_url = x.s("none");
    let ret_value = x.b.expr(ExprNode::Record(vec![("url".into(), none_url)]));
    let ret_site = x.site(&arm_ids.anonymous("return"), 76);
    x.b.push(arm, Instr::Return { site: ret_site, value: Some(ret_value) });
    let other = x.b.block();
    let mut else_ids = BlockIds::nested(&if2_id, "else");
    let log = x.step(&else_ids.anonymous("log"), None, 78, StepKind::Log { value: pr });
    x.b.push(other, Instr::Log { step: log });
    x.b.push(
        entry,
        Instr::If { site: if2_site, arms: vec![IfArm { cond: is_zero, body: arm }], otherwise: Some(other) },
    );

    // on failure e { log "failed: {e.code}" }
    let on_failure = x.b.block();
    let mut failure_ids = BlockIds::at("on_failure");
    let code = x.path(Local, &["e", "code"]);
    let line = x.template(vec![Text("failed: ".into()), Hole(code)]);
    let log = x.step(&failure_ids.anonymous("log"), None, 81, StepKind::Log { value: line });
    x.b.push(on_failure, Instr::Log { step: log });

    // output { url: deploy.body.url, took: now() - started }
    let deploy_url = x.path(S, &["deploy", "body", "url"]);
    let now2 = x.call(Builtin::Now, vec![]);
    let started = x.name(NameScope::Const, "started");
    let took = x.b.expr(ExprNode::Binary { op: BinaryOp::Sub, lhs: now2, rhs: started });
    let out = x.b.expr(ExprNode::Record(vec![("url".into(), deploy_url), ("took".into(), took)]));
    let out_site = x.site("@output", 84);
    let t_duration = x.b.ty(TypeDesc::Duration);
    let t_out = x.b.ty(TypeDesc::Record {
        fields: vec![
            FieldDesc { name: "url".into(), ty: t_str, optional: false },
            FieldDesc { name: "took".into(), ty: t_duration, optional: false },
        ],
    });

    // flow-level declarations
    let t_int = x.b.ty(TypeDesc::Int { range: None });
    let t_targets = x.b.ty(TypeDesc::List { item: t_str });
    let one = x.lit(Value::Int(1));
    let per = x.path(Input, &["input", "repo"]);
    let run_timeout = x.ms(7_200_000);
    let flow = FlowDef {
        description: Some("Deploy after an agent and two humans agree".into()),
        inputs: vec![
            InputField { name: "repo".into(), ty: t_str, optional: false, default: None },
            InputField { name: "pr".into(), ty: t_int, optional: false, default: None },
            InputField { name: "targets".into(), ty: t_targets, optional: false, default: None },
        ],
        output_type: Some(t_out),
        output: Some(Sited { site: out_site, value: out }),
        run_timeout: Some(run_timeout),
        concurrency: Concurrency::Max { max: one, per: Some(per), policy: OverflowPolicy::Queue },
        triggers: vec![
            Trigger::Manual,
            Trigger::Webhook {
                path: "/hooks/wibble".into(),
                verify: Verify::Hmac { secret: "hook_key".into() },
                scheme: WebhookScheme::Github,
                with: None,
            },
        ],
        entry,
        on_failure: Some(Handler { var: Some("e".into()), body: on_failure }),
    };
    x.b.finish(flow)
}

/// The example with its header.
pub fn example() -> Bytecode {
    Bytecode {
        header: Header {
            format_version: FORMAT_VERSION,
            compiler_version: "0.1.0".into(),
            slug: "wibble-deploy".into(),
            flow_version: semver::Version::new(1, 2, 0),
            source_sha256: sha256(EXAMPLE_SOURCE.as_bytes()),
            interface_sha256: sha256(b"input { repo: string, pr: int, targets: list<string> } output { url: string, took: duration }"),
        },
        program: example_program(),
    }
}

/// Re-encodes a file's body with a fresh checksum after `edit` changed the program, so a
/// test reaches the verifier instead of the checksum.
pub fn reencode_raw(bytes: &[u8], edit: impl FnOnce(&mut Program)) -> Vec<u8> {
    let mut b = decode(bytes).expect("a valid file");
    edit(&mut b.program);
    with_body(bytes, &postcard::to_stdvec(&b.program).expect("encodes"))
}

/// The file with its body replaced (lengths and checksum fixed up).
pub fn with_body(bytes: &[u8], body: &[u8]) -> Vec<u8> {
    let header_len = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
    let mut out = bytes[..header_len].to_vec();
    out[12..16].copy_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    let sum = sha256(&out);
    out.extend_from_slice(&sum);
    out
}

/// The file with its checksum recomputed (after a test edited bytes).
pub fn fix_checksum(bytes: &mut [u8]) {
    let n = bytes.len() - 32;
    let sum = sha256(&bytes[..n]);
    bytes[n..].copy_from_slice(&sum);
}
