//! encode/decode round trips, determinism, and every load error code.

mod common;

use common::{example, fix_checksum, reencode_raw, with_body};
use weir_bytecode::*;

/// A named change to a valid program.
type Edit = Box<dyn Fn(&mut Program)>;

fn code_of(bytes: &[u8]) -> LoadCode {
    decode(bytes).expect_err("the loader must refuse this").code
}

#[test]
fn the_example_round_trips() {
    let b = example();
    let bytes = encode(&b).expect("encodes");
    let back = decode(&bytes).expect("decodes");
    assert_eq!(back, b);
    assert_eq!(encode(&back).expect("re-encodes"), bytes);
}

#[test]
fn the_same_program_gives_the_same_bytes() {
    // Built twice from scratch (fresh hash maps inside the builder each time).
    let first = encode(&example()).unwrap();
    for _ in 0..5 {
        assert_eq!(encode(&example()).unwrap(), first);
    }
}

#[test]
fn the_header_reads_back() {
    let bytes = encode(&example()).unwrap();
    assert_eq!(&bytes[..8], &MAGIC);
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), FORMAT_VERSION);
    let h = decode(&bytes).unwrap().header;
    assert_eq!(h.slug, "wibble-deploy");
    assert_eq!(h.flow_version.to_string(), "1.2.0");
    assert_eq!(h.compiler_version, "0.1.0");
    assert_eq!(h.format_version, 1);
}

#[test]
fn b0001_truncated_at_every_length() {
    let bytes = encode(&example()).unwrap();
    for n in 1..bytes.len() {
        let code = code_of(&bytes[..n]);
        assert_eq!(code, LoadCode::Truncated, "cut at {n}");
    }
}

#[test]
fn b0002_bad_magic() {
    let mut bytes = encode(&example()).unwrap();
    bytes[1] = b'X';
    assert_eq!(code_of(&bytes), LoadCode::BadMagic);
    assert_eq!(code_of(b""), LoadCode::BadMagic);
    assert_eq!(code_of(b"flow x {}"), LoadCode::BadMagic);
    assert_eq!(code_of(b"abc"), LoadCode::BadMagic);
}

#[test]
fn b0003_newer_and_unknown_versions() {
    let mut bytes = encode(&example()).unwrap();
    for v in [0u16, 2, 99, u16::MAX] {
        bytes[8..10].copy_from_slice(&v.to_le_bytes());
        fix_checksum(&mut bytes);
        let err = decode(&bytes).unwrap_err();
        assert_eq!(err.code, LoadCode::UnsupportedVersion, "version {v}");
        assert!(err.to_string().contains("B0003"), "{err}");
        assert!(err.to_string().contains("weir build"), "{err}");
    }
    bytes[8..10].copy_from_slice(&7u16.to_le_bytes());
    assert!(decode(&bytes).unwrap_err().message.contains("newer"));
}

#[test]
fn b0004_checksum_mismatch_on_any_flipped_byte() {
    let bytes = encode(&example()).unwrap();
    // Every byte after the fixed fields whose changes the lengths do not catch first.
    for i in 16..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert_eq!(code_of(&bad), LoadCode::ChecksumMismatch, "byte {i}");
    }
}

#[test]
fn b0006_trailing_bytes() {
    let mut bytes = encode(&example()).unwrap();
    bytes.push(0);
    assert_eq!(code_of(&bytes), LoadCode::TrailingBytes);
}

#[test]
fn b0007_bad_header() {
    let bytes = encode(&example()).unwrap();
    // A header length too small for its fields.
    let mut bad = bytes.clone();
    bad[10..12].copy_from_slice(&10u16.to_le_bytes());
    assert_eq!(code_of(&bad), LoadCode::BadHeader);
    // A flow version that is not semver.
    let mut b = example();
    b.header.slug = "x".repeat(300);
    assert_eq!(encode(&b).unwrap_err().code, LoadCode::BadHeader);
    let mut b = example();
    b.header.compiler_version = "1\n2".into();
    assert_eq!(encode(&b).unwrap_err().code, LoadCode::BadHeader);
    // Non-semver flow version written by hand: patch the last header string.
    let header_len = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
    let mut bad = bytes.clone();
    bad[header_len - 1] = b'x'; // "1.2.0" -> "1.2.x"
    fix_checksum(&mut bad);
    assert_eq!(code_of(&bad), LoadCode::BadHeader);
    // Invalid UTF-8 in the slug.
    let mut bad = bytes.clone();
    let slug_at = 80 + 1 + 5 + 1; // after "0.1.0"
    bad[slug_at] = 0xff;
    fix_checksum(&mut bad);
    assert_eq!(code_of(&bad), LoadCode::BadHeader);
}

#[test]
fn b0008_malformed_body() {
    let bytes = encode(&example()).unwrap();
    assert_eq!(code_of(&with_body(&bytes, &[0xff; 7])), LoadCode::MalformedBody);
    assert_eq!(code_of(&with_body(&bytes, &[])), LoadCode::MalformedBody);
    let mut body = postcard::to_stdvec(&example().program).unwrap();
    body.push(0);
    assert_eq!(code_of(&with_body(&bytes, &body)), LoadCode::MalformedBody);
}

#[test]
fn b0005_invalid_index_in_each_table() {
    let bytes = encode(&example()).unwrap();
    let cases: Vec<(&str, Edit)> = vec![
        ("constant", Box::new(|p| p.exprs[0] = ExprNode::Const(ConstIx(9_999)))),
        (
            "expression",
            Box::new(|p| {
                let n = p.exprs.len() as u32;
                p.exprs.push(ExprNode::Unary { op: UnaryOp::Not, operand: ExprIx(n + 5) });
            }),
        ),
        ("type", Box::new(|p| p.types.push(TypeDesc::List { item: TypeIx(9_999) }))),
        ("step", Box::new(|p| p.blocks[0].instrs[0] = Instr::Log { step: StepIx(9_999) })),
        ("block", Box::new(|p| p.flow.entry = BlockIx(9_999))),
        ("nested block", Box::new(|p| p.blocks[0].instrs.push(Instr::Saga { body: BlockIx(9_999) }))),
        ("flow input", Box::new(|p| p.flow.inputs[0].ty = TypeIx(9_999))),
        ("output site", Box::new(|p| p.flow.output.as_mut().unwrap().value = ExprIx(9_999))),
    ];
    for (what, edit) in cases {
        let bad = reencode_raw(&bytes, edit);
        assert_eq!(code_of(&bad), LoadCode::InvalidIndex, "{what}");
    }
}

#[test]
fn b0009_cycles() {
    let bytes = encode(&example()).unwrap();
    // An expression that refers to itself.
    let bad = reencode_raw(&bytes, |p| {
        let n = p.exprs.len() as u32;
        p.exprs.push(ExprNode::Unary { op: UnaryOp::Not, operand: ExprIx(n) });
    });
    assert_eq!(code_of(&bad), LoadCode::Cycle);
    // A type that contains itself.
    let bad = reencode_raw(&bytes, |p| {
        let n = p.types.len() as u32;
        p.types.push(TypeDesc::Optional { inner: TypeIx(n) });
    });
    assert_eq!(code_of(&bad), LoadCode::Cycle);
    // A block that refers back to the entry.
    let bad = reencode_raw(&bytes, |p| {
        let last = p.blocks.len() - 1;
        p.blocks[last].instrs.push(Instr::Saga { body: BlockIx(0) });
    });
    assert_eq!(code_of(&bad), LoadCode::Cycle);
}

#[test]
fn b0010_invalid_operands() {
    let bytes = encode(&example()).unwrap();
    let cases: Vec<(&str, Edit)> = vec![
        ("break outside a loop", Box::new(|p| p.blocks[0].instrs.push(Instr::Break))),
        (
            "a log entry run as a step",
            Box::new(|p| {
                let log = p.steps.iter().position(|s| matches!(s.kind, StepKind::Log { .. })).unwrap();
                let i = p
                    .blocks
                    .iter()
                    .position(|b| b.instrs.iter().any(|x| matches!(x, Instr::Log { .. })))
                    .unwrap();
                let k = p.blocks[i].instrs.iter().position(|x| matches!(x, Instr::Log { .. })).unwrap();
                p.blocks[i].instrs[k] = Instr::Step { step: StepIx(log as u32), undo: None };
            }),
        ),
        (
            "a step used twice",
            Box::new(|p| {
                let first = p.blocks[0].instrs[1].clone();
                p.blocks[0].instrs.push(first);
            }),
        ),
        (
            "a step never used",
            Box::new(|p| {
                p.steps.push(StepDef {
                    id: "lonely".into(),
                    name: None,
                    span: Span::default(),
                    kind: StepKind::Control,
                })
            }),
        ),
        ("a block never used", Box::new(|p| p.blocks.push(Block::default()))),
        (
            "wrong arity",
            Box::new(|p| {
                p.exprs.push(ExprNode::Call { builtin: Builtin::Upper, args: vec![] });
            }),
        ),
        (
            "prev of a non-step",
            Box::new(|p| {
                p.exprs.push(ExprNode::Call { builtin: Builtin::Prev, args: vec![ExprIx(0)] });
            }),
        ),
        (
            "duplicate record key",
            Box::new(|p| {
                p.exprs.push(ExprNode::Record(vec![("a".into(), ExprIx(0)), ("a".into(), ExprIx(0))]));
            }),
        ),
        ("empty identity", Box::new(|p| p.steps[0].id = String::new())),
        (
            "wait on a non-callback",
            Box::new(|p| {
                for s in &mut p.steps {
                    if let StepKind::WaitCallback { callback } = &mut s.kind {
                        *callback = StepIx(0);
                    }
                }
            }),
        ),
        ("empty int range", Box::new(|p| p.types.push(TypeDesc::Int { range: Some((5, 1)) }))),
        (
            "constant with a repeated key",
            Box::new(|p| p.constants.push(Value::record([("k", Value::None), ("k", Value::Int(1))]))),
        ),
    ];
    for (what, edit) in cases {
        let bad = reencode_raw(&bytes, edit);
        assert_eq!(code_of(&bad), LoadCode::InvalidOperand, "{what}");
    }
}

#[test]
fn b0011_too_deep() {
    let bytes = encode(&example()).unwrap();
    let bad = reencode_raw(&bytes, |p| {
        for _ in 0..=weir_bytecode::verify::MAX_EXPR_DEPTH {
            let n = p.exprs.len() as u32 - 1;
            p.exprs.push(ExprNode::Unary { op: UnaryOp::Not, operand: ExprIx(n) });
        }
    });
    assert_eq!(code_of(&bad), LoadCode::TooDeep);
    let bad = reencode_raw(&bytes, |p| {
        let mut prev = p.flow.entry;
        for _ in 0..=weir_bytecode::verify::MAX_BLOCK_DEPTH {
            let next = BlockIx(p.blocks.len() as u32);
            p.blocks.push(Block::default());
            p.blocks[prev.0 as usize].instrs.push(Instr::Saga { body: next });
            prev = next;
        }
    });
    assert_eq!(code_of(&bad), LoadCode::TooDeep);
}

#[test]
fn b0012_duplicate_identity() {
    let bytes = encode(&example()).unwrap();
    let bad = reencode_raw(&bytes, |p| {
        let id = p.steps[0].id.clone();
        p.steps[1].id = id;
    });
    assert_eq!(code_of(&bad), LoadCode::DuplicateIdentity);
}

#[test]
fn encode_refuses_what_decode_would() {
    let mut b = example();
    b.program.blocks[0].instrs.push(Instr::Continue);
    assert_eq!(encode(&b).unwrap_err().code, LoadCode::InvalidOperand);
}

#[test]
fn codes_are_stable_and_distinct() {
    let codes: Vec<&str> = LoadCode::ALL.iter().map(|c| c.code()).collect();
    let expected: Vec<String> = (1..=LoadCode::ALL.len()).map(|i| format!("B{i:04}")).collect();
    assert_eq!(codes, expected);
    let names: std::collections::BTreeSet<&str> = LoadCode::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names.len(), LoadCode::ALL.len());
}

#[test]
fn identities_follow_the_documented_scheme() {
    let p = example().program;
    let ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
    for expected in [
        "started",
        "plan",
        "result/if#1",
        "result/if#1/arm#1/fail#1",
        "ship/on_reject/log#1",
        "deploy",
        "rollback",
        "deploy/for#1",
        "notify",
        "ship/parallel#1/branch#2/wait#1",
        "ship/repeat#1",
        "ship/try#1/catch/log#1",
        "ship/sleep#1",
        "ship/if#1/else/log#1",
        "on_failure/log#1",
        "@output",
    ] {
        assert!(ids.contains(&expected), "{expected} not in {ids:?}");
    }
}

#[test]
fn the_example_has_the_blocks_docs_bytecode_md_lists() {
    let p = example().program;
    assert_eq!(p.blocks.len(), 15);
    assert_eq!(p.flow.on_failure.as_ref().map(|h| h.body), Some(BlockIx(14)));
    assert_eq!(p.blocks[9].instrs, vec![Instr::Break]);
    let kinds: Vec<&str> = p.blocks[0]
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
}
