//! The evaluator: every operator and builtin, their errors (overflow, division by zero,
//! none, types), optional chaining and short-circuiting.

use weir_bytecode::*;

/// A flow with nothing in it, to hold expressions.
fn flow() -> FlowDef {
    FlowDef {
        description: None,
        inputs: Vec::new(),
        output_type: None,
        output: None,
        run_timeout: None,
        concurrency: Concurrency::Unlimited { because: "tests".into() },
        triggers: Vec::new(),
        entry: BlockIx(0),
        on_failure: None,
    }
}

fn run(env: &MapEnv, build: impl FnOnce(&mut ProgramBuilder) -> ExprIx) -> Result<Value, EvalError> {
    let mut b = ProgramBuilder::new();
    let e = build(&mut b);
    let p = b.finish(flow());
    eval(&p, env, e)
}

fn env() -> MapEnv {
    MapEnv::default()
        .with(
            "input",
            Value::record([
                ("repo", Value::string("weir-flow/weir")),
                ("limit", Value::None),
                ("owner", Value::None),
                ("items", Value::List(vec![Value::Int(10), Value::Int(20)])),
                ("meta", Value::record([("tag", Value::string("v1"))])),
            ]),
        )
        .with("token", Value::Secret(SecretRef { name: "deploy_token".into() }))
}

fn bin(op: BinaryOp, l: Value, r: Value) -> Result<Value, EvalError> {
    run(&env(), |b| {
        let lhs = b.literal(l);
        let rhs = b.literal(r);
        b.expr(ExprNode::Binary { op, lhs, rhs })
    })
}

fn call(builtin: Builtin, args: Vec<Value>) -> Result<Value, EvalError> {
    call_env(&env(), builtin, args)
}

fn call_env(env: &MapEnv, builtin: Builtin, args: Vec<Value>) -> Result<Value, EvalError> {
    run(env, |b| {
        let args = args.into_iter().map(|a| b.literal(a)).collect();
        b.expr(ExprNode::Call { builtin, args })
    })
}

fn code(r: Result<Value, EvalError>) -> EvalCode {
    match r {
        Err(e) => e.code,
        Ok(v) => panic!("expected an error, got a {}", v.kind()),
    }
}

fn s(x: &str) -> Value {
    Value::string(x)
}

use BinaryOp::*;
use Value::{Bool as B, Duration as D, Float as F, Int as I, Time as T};

#[test]
fn integer_arithmetic_is_checked() {
    assert_eq!(bin(Add, I(2), I(3)), Ok(I(5)));
    assert_eq!(bin(Sub, I(2), I(3)), Ok(I(-1)));
    assert_eq!(bin(Mul, I(6), I(7)), Ok(I(42)));
    assert_eq!(bin(Div, I(7), I(2)), Ok(I(3)));
    assert_eq!(bin(Div, I(-7), I(2)), Ok(I(-3)));
    assert_eq!(bin(Rem, I(7), I(3)), Ok(I(1)));
    assert_eq!(bin(Rem, I(-7), I(3)), Ok(I(-1)));
    assert_eq!(code(bin(Add, I(i64::MAX), I(1))), EvalCode::Overflow);
    assert_eq!(code(bin(Sub, I(i64::MIN), I(1))), EvalCode::Overflow);
    assert_eq!(code(bin(Mul, I(i64::MAX), I(2))), EvalCode::Overflow);
    assert_eq!(code(bin(Div, I(i64::MIN), I(-1))), EvalCode::Overflow);
    assert_eq!(code(bin(Rem, I(i64::MIN), I(-1))), EvalCode::Overflow);
    assert_eq!(code(bin(Div, I(1), I(0))), EvalCode::DivisionByZero);
    assert_eq!(code(bin(Rem, I(1), I(0))), EvalCode::DivisionByZero);
}

#[test]
fn float_arithmetic_mixes_with_ints() {
    assert_eq!(bin(Add, I(1), F(0.5)), Ok(F(1.5)));
    assert_eq!(bin(Mul, F(1.5), I(2)), Ok(F(3.0)));
    assert_eq!(bin(Div, I(1), F(4.0)), Ok(F(0.25)));
    assert_eq!(bin(Sub, F(1.0), F(0.25)), Ok(F(0.75)));
    assert_eq!(bin(Rem, F(5.5), I(2)), Ok(F(1.5)));
    assert_eq!(code(bin(Div, F(1.0), F(0.0))), EvalCode::DivisionByZero);
    assert_eq!(code(bin(Div, I(1), F(0.0))), EvalCode::DivisionByZero);
    assert_eq!(code(bin(Mul, F(f64::MAX), F(2.0))), EvalCode::Overflow);
}

#[test]
fn durations_and_times() {
    assert_eq!(bin(Add, D(3_600_000), D(250)), Ok(D(3_600_250)));
    assert_eq!(bin(Sub, D(1_000), D(250)), Ok(D(750)));
    assert_eq!(bin(Mul, D(1_000), I(3)), Ok(D(3_000)));
    assert_eq!(bin(Mul, I(3), D(1_000)), Ok(D(3_000)));
    assert_eq!(bin(Mul, D(1_000), F(1.5)), Ok(D(1_500)));
    assert_eq!(bin(Div, D(1_000), I(4)), Ok(D(250)));
    assert_eq!(bin(Div, D(1_000), F(0.5)), Ok(D(2_000)));
    assert_eq!(code(bin(Div, D(1_000), I(0))), EvalCode::DivisionByZero);
    assert_eq!(code(bin(Div, D(1_000), F(0.0))), EvalCode::DivisionByZero);
    assert_eq!(code(bin(Mul, D(i64::MAX), I(2))), EvalCode::Overflow);
    assert_eq!(code(bin(Mul, D(i64::MAX), F(2.0))), EvalCode::Overflow);
    assert_eq!(bin(Add, T(1_000), D(500)), Ok(T(1_500)));
    assert_eq!(bin(Add, D(500), T(1_000)), Ok(T(1_500)));
    assert_eq!(bin(Sub, T(1_000), D(500)), Ok(T(500)));
    assert_eq!(bin(Sub, T(1_000), T(4_000)), Ok(D(-3_000)));
    assert_eq!(code(bin(Add, T(i64::MAX), D(1))), EvalCode::Overflow);
    assert_eq!(code(bin(Add, T(1), T(1))), EvalCode::TypeError);
    assert_eq!(code(bin(Add, s("a"), s("b"))), EvalCode::TypeError);
    assert_eq!(code(bin(Sub, D(1), I(1))), EvalCode::TypeError);
}

#[test]
fn comparisons() {
    assert_eq!(bin(Eq, I(1), F(1.0)), Ok(B(true)));
    assert_eq!(bin(Ne, I(1), I(2)), Ok(B(true)));
    assert_eq!(bin(Eq, s("a"), s("a")), Ok(B(true)));
    assert_eq!(bin(Eq, s("1"), I(1)), Ok(B(false)));
    assert_eq!(bin(Eq, Value::None, Value::None), Ok(B(true)));
    assert_eq!(bin(Eq, I(0), Value::None), Ok(B(false)));
    let r1 = Value::record([("a", I(1)), ("b", I(2))]);
    let r2 = Value::record([("b", I(2)), ("a", F(1.0))]);
    assert_eq!(bin(Eq, r1.clone(), r2), Ok(B(true)));
    assert_eq!(bin(Eq, r1, Value::record([("a", I(1))])), Ok(B(false)));
    assert_eq!(bin(Eq, Value::List(vec![I(1)]), Value::List(vec![I(1)])), Ok(B(true)));
    assert_eq!(bin(Lt, I(1), I(2)), Ok(B(true)));
    assert_eq!(bin(Le, I(2), I(2)), Ok(B(true)));
    assert_eq!(bin(Gt, F(2.5), I(2)), Ok(B(true)));
    assert_eq!(bin(Ge, I(1), F(1.5)), Ok(B(false)));
    assert_eq!(bin(Lt, D(1), D(2)), Ok(B(true)));
    assert_eq!(bin(Gt, T(5), T(2)), Ok(B(true)));
    assert_eq!(bin(Lt, F(f64::NAN), F(1.0)), Ok(B(false)));
    assert_eq!(code(bin(Lt, s("a"), s("b"))), EvalCode::TypeError);
    assert_eq!(code(bin(Lt, D(1), I(1))), EvalCode::TypeError);
    assert_eq!(code(bin(Lt, Value::None, I(1))), EvalCode::TypeError);
}

#[test]
fn logic_short_circuits() {
    // The right side would fail (an unknown name) if it were evaluated.
    let lazy = |op: BinaryOp, left: bool| {
        run(&env(), |b| {
            let lhs = b.literal(B(left));
            let rhs = b.expr(ExprNode::Name { scope: NameScope::Step, name: "missing".into() });
            b.expr(ExprNode::Binary { op, lhs, rhs })
        })
    };
    assert_eq!(lazy(Or, true), Ok(B(true)));
    assert_eq!(lazy(And, false), Ok(B(false)));
    assert_eq!(code(lazy(Or, false)), EvalCode::UnknownName);
    assert_eq!(bin(And, B(true), B(false)), Ok(B(false)));
    assert_eq!(bin(Or, B(false), B(true)), Ok(B(true)));
    assert_eq!(code(bin(And, I(1), B(true))), EvalCode::TypeError);
    assert_eq!(code(bin(Or, B(false), I(1))), EvalCode::TypeError);
}

#[test]
fn coalesce_is_lazy() {
    assert_eq!(bin(Coalesce, Value::None, I(10)), Ok(I(10)));
    assert_eq!(bin(Coalesce, I(3), I(10)), Ok(I(3)));
    let r = run(&env(), |b| {
        let lhs = b.literal(I(1));
        let rhs = b.expr(ExprNode::Name { scope: NameScope::Step, name: "missing".into() });
        b.expr(ExprNode::Binary { op: Coalesce, lhs, rhs })
    });
    assert_eq!(r, Ok(I(1)));
}

#[test]
fn unary_operators() {
    let un = |op: UnaryOp, v: Value| {
        run(&env(), |b| {
            let operand = b.literal(v);
            b.expr(ExprNode::Unary { op, operand })
        })
    };
    assert_eq!(un(UnaryOp::Neg, I(5)), Ok(I(-5)));
    assert_eq!(un(UnaryOp::Neg, F(0.5)), Ok(F(-0.5)));
    assert_eq!(un(UnaryOp::Neg, D(5)), Ok(D(-5)));
    assert_eq!(code(un(UnaryOp::Neg, I(i64::MIN))), EvalCode::Overflow);
    assert_eq!(un(UnaryOp::Not, B(true)), Ok(B(false)));
    assert_eq!(code(un(UnaryOp::Not, I(1))), EvalCode::TypeError);
    assert_eq!(code(un(UnaryOp::Neg, s("x"))), EvalCode::TypeError);
}

fn path(b: &mut ProgramBuilder, parts: &[(&str, bool)]) -> ExprIx {
    let mut e = b.expr(ExprNode::Name { scope: NameScope::Input, name: "input".into() });
    for (name, optional) in parts {
        e = b.expr(ExprNode::Field { base: e, name: (*name).into(), optional: *optional });
    }
    e
}

#[test]
fn fields_indexes_and_optional_chains() {
    let e = env();
    assert_eq!(run(&e, |b| path(b, &[("repo", false)])), Ok(s("weir-flow/weir")));
    assert_eq!(run(&e, |b| path(b, &[("meta", false), ("tag", false)])), Ok(s("v1")));
    // A missing field of a record is none (optional fields may be absent).
    assert_eq!(run(&e, |b| path(b, &[("nothing", false)])), Ok(Value::None));
    // `input.owner?.email.domain` is none: `?.` cuts the whole chain short.
    assert_eq!(
        run(&e, |b| path(b, &[("owner", false), ("email", true), ("domain", false)])),
        Ok(Value::None)
    );
    // Without `?.` a field of none is an error.
    assert_eq!(code(run(&e, |b| path(b, &[("owner", false), ("email", false)]))), EvalCode::NoneValue);
    assert_eq!(code(run(&e, |b| path(b, &[("repo", false), ("x", false)]))), EvalCode::TypeError);
    let index = |i: Value| {
        run(&e, |b| {
            let base = path(b, &[("items", false)]);
            let index = b.literal(i);
            b.expr(ExprNode::Index { base, index })
        })
    };
    assert_eq!(index(I(1)), Ok(I(20)));
    assert_eq!(code(index(I(2))), EvalCode::IndexOutOfRange);
    assert_eq!(code(index(I(-1))), EvalCode::IndexOutOfRange);
    assert_eq!(code(index(s("a"))), EvalCode::TypeError);
    let by_key = run(&e, |b| {
        let base = path(b, &[("meta", false)]);
        let index = b.literal(s("tag"));
        b.expr(ExprNode::Index { base, index })
    });
    assert_eq!(by_key, Ok(s("v1")));
    let of_none = run(&e, |b| {
        let base = path(b, &[("limit", false)]);
        let index = b.literal(I(0));
        b.expr(ExprNode::Index { base, index })
    });
    assert_eq!(code(of_none), EvalCode::NoneValue);
    let unknown = run(&e, |b| b.expr(ExprNode::Name { scope: NameScope::Step, name: "nope".into() }));
    assert_eq!(code(unknown), EvalCode::UnknownName);
}

#[test]
fn resources_have_size_media_type_and_digest() {
    let res = Value::Res(ResRef { digest: [0xab; 32], size: 12, media_type: "text/plain".into() });
    let e = MapEnv::default().with("r", res);
    let field = |name: &str| {
        run(&e, |b| {
            let base = b.expr(ExprNode::Name { scope: NameScope::Step, name: "r".into() });
            b.expr(ExprNode::Field { base, name: name.into(), optional: false })
        })
    };
    assert_eq!(field("size"), Ok(I(12)));
    assert_eq!(field("media_type"), Ok(s("text/plain")));
    assert_eq!(field("digest"), Ok(s(&format!("sha256:{}", "ab".repeat(32)))));
    assert_eq!(code(field("body")), EvalCode::TypeError);
}

#[test]
fn templates_lists_and_records() {
    let e = env();
    let t = run(&e, |b| {
        let repo = path(b, &[("repo", false)]);
        let n = b.literal(I(3));
        let f = b.literal(F(2.0));
        let d = b.literal(D(5_400_000));
        let t = b.literal(T(0));
        let none = b.literal(Value::None);
        let list = b.literal(Value::List(vec![I(1), s("a")]));
        b.expr(ExprNode::Template(vec![
            TemplatePart::Text("repo=".into()),
            TemplatePart::Hole(repo),
            TemplatePart::Text(" n=".into()),
            TemplatePart::Hole(n),
            TemplatePart::Text(" f=".into()),
            TemplatePart::Hole(f),
            TemplatePart::Text(" d=".into()),
            TemplatePart::Hole(d),
            TemplatePart::Text(" t=".into()),
            TemplatePart::Hole(t),
            TemplatePart::Text(" none=".into()),
            TemplatePart::Hole(none),
            TemplatePart::Text(" list=".into()),
            TemplatePart::Hole(list),
        ]))
    });
    assert_eq!(
        t,
        Ok(s(r#"repo=weir-flow/weir n=3 f=2.0 d=1h30m t=1970-01-01T00:00:00Z none=none list=[1,"a"]"#))
    );
    let secret = run(&e, |b| {
        let tok = b.expr(ExprNode::Name { scope: NameScope::Const, name: "token".into() });
        b.expr(ExprNode::Template(vec![TemplatePart::Text("Bearer ".into()), TemplatePart::Hole(tok)]))
    });
    assert_eq!(code(secret), EvalCode::SecretInText);
    let rec = run(&e, |b| {
        let a = b.literal(I(1));
        let repo = path(b, &[("repo", false)]);
        let list = b.expr(ExprNode::List(vec![a, repo]));
        b.expr(ExprNode::Record(vec![("xs".into(), list), ("one".into(), a)]))
    });
    assert_eq!(rec, Ok(Value::record([("xs", Value::List(vec![I(1), s("weir-flow/weir")])), ("one", I(1))])));
}

#[test]
fn string_builtins() {
    use Builtin::*;
    assert_eq!(call(Len, vec![s("héllo")]), Ok(I(5)));
    assert_eq!(call(Len, vec![Value::List(vec![I(1), I(2)])]), Ok(I(2)));
    assert_eq!(code(call(Len, vec![I(1)])), EvalCode::TypeError);
    assert_eq!(call(Lower, vec![s("AbC")]), Ok(s("abc")));
    assert_eq!(call(Upper, vec![s("AbC")]), Ok(s("ABC")));
    assert_eq!(call(Trim, vec![s("  x \n")]), Ok(s("x")));
    assert_eq!(call(Contains, vec![s("wibble"), s("bb")]), Ok(B(true)));
    assert_eq!(call(Contains, vec![Value::List(vec![I(1), I(2)]), F(2.0)]), Ok(B(true)));
    assert_eq!(code(call(Contains, vec![I(1), I(1)])), EvalCode::TypeError);
    assert_eq!(call(StartsWith, vec![s("wibble"), s("wib")]), Ok(B(true)));
    assert_eq!(call(EndsWith, vec![s("wibble"), s("wib")]), Ok(B(false)));
    assert_eq!(call(Replace, vec![s("a-b-c"), s("-"), s("+")]), Ok(s("a+b+c")));
    assert_eq!(code(call(Replace, vec![s("abc"), s(""), s("x")])), EvalCode::InvalidArgument);
    let big = "a".repeat(5_000);
    assert_eq!(code(call(Replace, vec![s(&big), s("a"), s(&big)])), EvalCode::InvalidArgument);
    assert_eq!(call(Split, vec![s("a,b,,c"), s(",")]), Ok(Value::List(vec![s("a"), s("b"), s(""), s("c")])));
    assert_eq!(code(call(Split, vec![s("abc"), s("")])), EvalCode::InvalidArgument);
    assert_eq!(call(Join, vec![Value::List(vec![s("a"), I(1), B(true)]), s(", ")]), Ok(s("a, 1, true")));
    assert_eq!(code(call(Join, vec![s("a"), s(",")])), EvalCode::TypeError);
    assert_eq!(call(UrlEncode, vec![s("a b/c?d=é&~")]), Ok(s("a%20b%2Fc%3Fd%3D%C3%A9%26~")));
    assert_eq!(call(QuoteShell, vec![s("it's $HOME; rm -rf /")]), Ok(s(r"'it'\''s $HOME; rm -rf /'")));
    assert_eq!(call(QuoteShell, vec![s("")]), Ok(s("''")));
    assert_eq!(code(call(QuoteShell, vec![s("a\0b")])), EvalCode::InvalidArgument);
    assert_eq!(code(call(QuoteShell, vec![I(1)])), EvalCode::TypeError);
    assert_eq!(code(call(Lower, vec![Value::Secret(SecretRef { name: "k".into() })])), EvalCode::TypeError);
}

#[test]
fn json_builtins() {
    use Builtin::*;
    let v = Value::record([
        ("b", I(1)),
        ("a", Value::List(vec![F(0.5), Value::None, B(true), s("x\"y")])),
        ("d", D(90_000)),
        ("t", T(1_500)),
    ]);
    let text = call(ToJson, vec![v]).unwrap();
    assert_eq!(text, s(r#"{"b":1,"a":[0.5,null,true,"x\"y"],"d":"1m30s","t":"1970-01-01T00:00:01.500Z"}"#));
    let parsed = call(ParseJson, vec![s(r#"{"z": 1, "a": [1.5, null, "s", 18446744073709551615], "z": 2}"#)]);
    assert_eq!(
        parsed,
        Ok(Value::record([
            ("z", I(2)),
            ("a", Value::List(vec![F(1.5), Value::None, s("s"), F(18446744073709551615.0)]))
        ]))
    );
    assert_eq!(code(call(ParseJson, vec![s("{")])), EvalCode::InvalidJson);
    assert_eq!(code(call(ParseJson, vec![s("1 2")])), EvalCode::InvalidJson);
    assert_eq!(code(call(ParseJson, vec![s(&"[".repeat(10_000))])), EvalCode::InvalidJson);
    let secret = Value::record([("k", Value::Secret(SecretRef { name: "api".into() }))]);
    assert_eq!(code(call(ToJson, vec![secret])), EvalCode::SecretInText);
    assert_eq!(
        call(Keys, vec![Value::record([("x", I(1)), ("y", I(2))])]),
        Ok(Value::List(vec![s("x"), s("y")]))
    );
    assert_eq!(code(call(Keys, vec![I(1)])), EvalCode::TypeError);
}

#[test]
fn time_builtins() {
    use Builtin::*;
    let t = T(1_721_060_699_000); // 2024-07-15T16:24:59Z
    assert_eq!(call(FormatTime, vec![t.clone(), s("%Y-%m-%d %H:%M")]), Ok(s("2024-07-15 16:24")));
    assert_eq!(
        call(FormatTime, vec![t.clone(), s("%Y-%m-%d %H:%M %Z"), s("Europe/Paris")]),
        Ok(s("2024-07-15 18:24 CEST"))
    );
    assert_eq!(
        code(call(FormatTime, vec![t.clone(), s("%Y"), s("Mars/Olympus")])),
        EvalCode::InvalidArgument
    );
    assert_eq!(code(call(FormatTime, vec![I(1), s("%Y")])), EvalCode::TypeError);
    assert_eq!(call(ParseTime, vec![s("2024-07-15T16:24:59Z")]), Ok(t.clone()));
    assert_eq!(call(ParseTime, vec![s("2024-07-15T18:24:59+02:00")]), Ok(t.clone()));
    assert_eq!(call(ParseTime, vec![s("15/07/2024 16:24:59"), s("%d/%m/%Y %H:%M:%S")]), Ok(t.clone()));
    assert_eq!(code(call(ParseTime, vec![s("yesterday")])), EvalCode::InvalidArgument);
    assert_eq!(code(call(ParseTime, vec![s("15/07/2024"), s("%Y")])), EvalCode::InvalidArgument);
}

#[test]
fn number_builtins() {
    use Builtin::*;
    assert_eq!(call(Min, vec![I(3), I(2)]), Ok(I(2)));
    assert_eq!(call(Max, vec![I(3), I(2)]), Ok(I(3)));
    assert_eq!(call(Min, vec![I(3), F(2.5)]), Ok(F(2.5)));
    assert_eq!(call(Max, vec![I(3), F(2.5)]), Ok(F(3.0)));
    assert_eq!(call(Min, vec![D(1_000), D(500)]), Ok(D(500)));
    assert_eq!(code(call(Max, vec![D(1), I(1)])), EvalCode::TypeError);
    assert_eq!(call(Round, vec![F(2.5)]), Ok(I(3)));
    assert_eq!(call(Round, vec![F(-2.5)]), Ok(I(-3)));
    assert_eq!(call(Round, vec![I(7)]), Ok(I(7)));
    assert_eq!(code(call(Round, vec![F(1e300)])), EvalCode::Overflow);
    assert_eq!(code(call(Round, vec![s("1")])), EvalCode::TypeError);
}

struct StoreEnv;

impl Env for StoreEnv {
    fn lookup(&self, _: NameScope, _: &str) -> Option<std::borrow::Cow<'_, Value>> {
        None
    }
    fn read_text(&self, res: &ResRef, max: u64) -> Result<String, EvalError> {
        Ok(format!("{} of {}", max.min(res.size), res.media_type))
    }
    fn signed_url(&self, _: &ResRef, ttl_ms: i64) -> Result<String, EvalError> {
        Ok(format!("https://weir.test/r?ttl={ttl_ms}"))
    }
    fn to_res(&self, text: &str) -> Result<ResRef, EvalError> {
        Ok(ResRef {
            digest: sha256(text.as_bytes()),
            size: text.len() as u64,
            media_type: "text/plain".into(),
        })
    }
}

#[test]
fn environment_builtins() {
    use Builtin::*;
    let e = MapEnv { now: Some(42), uuid: Some("0190-…".into()), ..MapEnv::default() };
    assert_eq!(call_env(&e, Now, vec![]), Ok(T(42)));
    assert_eq!(call_env(&e, Uuid, vec![]), Ok(s("0190-…")));
    assert_eq!(code(call(Now, vec![])), EvalCode::Unavailable);
    assert_eq!(code(call(Uuid, vec![])), EvalCode::Unavailable);
    let prev = run(&e, |b| {
        let step = b.expr(ExprNode::Name { scope: NameScope::Step, name: "draft".into() });
        b.expr(ExprNode::Call { builtin: Prev, args: vec![step] })
    });
    assert_eq!(prev, Ok(Value::None));

    let store = StoreEnv;
    let res = |b: &mut ProgramBuilder| {
        let text = b.literal(s("hello"));
        b.expr(ExprNode::Call { builtin: ToRes, args: vec![text] })
    };
    let read = {
        let mut b = ProgramBuilder::new();
        let r = res(&mut b);
        let max = b.literal(I(3));
        let e = b.expr(ExprNode::Call { builtin: ReadText, args: vec![r, max] });
        eval(&b.finish(flow()), &store, e)
    };
    assert_eq!(read, Ok(s("3 of text/plain")));
    let url = |ttl: i64| {
        let mut b = ProgramBuilder::new();
        let r = res(&mut b);
        let ttl = b.literal(D(ttl));
        let e = b.expr(ExprNode::Call { builtin: SignedUrl, args: vec![r, ttl] });
        eval(&b.finish(flow()), &store, e)
    };
    assert_eq!(url(60_000), Ok(s("https://weir.test/r?ttl=60000")));
    assert_eq!(code(url(8 * 86_400_000)), EvalCode::InvalidArgument);
    assert_eq!(code(url(0)), EvalCode::InvalidArgument);
    assert_eq!(code(call(ReadText, vec![s("x"), I(1)])), EvalCode::TypeError);
}

#[test]
fn malformed_programs_are_errors_not_panics() {
    let e = env();
    // An expression that refers to itself (the verifier would refuse it; eval still copes).
    let mut b = ProgramBuilder::new();
    let me = b.expr(ExprNode::Unary { op: UnaryOp::Not, operand: ExprIx(0) });
    assert_eq!(code(eval(&b.finish(flow()), &e, me)), EvalCode::InvalidProgram);
    let mut b = ProgramBuilder::new();
    let bad = b.expr(ExprNode::Const(ConstIx(5)));
    assert_eq!(code(eval(&b.finish(flow()), &e, bad)), EvalCode::InvalidProgram);
    let b = ProgramBuilder::new();
    assert_eq!(code(eval(&b.finish(flow()), &e, ExprIx(3))), EvalCode::InvalidProgram);
    let mut b = ProgramBuilder::new();
    let wrong = b.expr(ExprNode::Call { builtin: Builtin::Upper, args: vec![] });
    assert_eq!(code(eval(&b.finish(flow()), &e, wrong)), EvalCode::InvalidProgram);
    // The deepest nesting the verifier allows evaluates on a test thread (2 MiB, unoptimised).
    let mut b = ProgramBuilder::new();
    let mut x = b.literal(B(true));
    for _ in 1..weir_bytecode::verify::MAX_EXPR_DEPTH {
        x = b.expr(ExprNode::Unary { op: UnaryOp::Not, operand: x });
    }
    let expected = (weir_bytecode::verify::MAX_EXPR_DEPTH - 1).is_multiple_of(2);
    assert_eq!(eval(&b.finish(flow()), &e, x), Ok(B(expected)));
}

#[test]
fn errors_carry_stable_codes() {
    let err = bin(Div, I(1), I(0)).unwrap_err();
    assert_eq!(err.code.as_str(), "division_by_zero");
    assert!(err.to_string().contains("division_by_zero"), "{err}");
}
