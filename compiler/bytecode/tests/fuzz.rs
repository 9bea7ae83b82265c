//! The loader is fed random bytes, cut and mutated valid files, and mutated bodies under a
//! correct checksum (so the bytes reach postcard and the verifier): it must return an error
//! or a program, never panic. Random values round-trip through the encoding.

mod common;

use std::sync::LazyLock;

use proptest::prelude::*;
use weir_bytecode::*;

static VALID: LazyLock<Vec<u8>> = LazyLock::new(|| encode(&common::example()).expect("encodes"));

fn header_len() -> usize {
    u16::from_le_bytes([VALID[10], VALID[11]]) as usize
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = decode(&with_magic);
    }

    #[test]
    fn truncated_files_are_refused(cut in 0usize..2_000) {
        let cut = cut % VALID.len();
        let err = decode(&VALID[..cut]).expect_err("a cut file");
        prop_assert!(matches!(err.code, LoadCode::Truncated | LoadCode::BadMagic));
    }

    #[test]
    fn mutated_files_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = VALID.clone();
        for (at, byte) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        if bytes != *VALID {
            prop_assert!(decode(&bytes).is_err());
        }
    }

    #[test]
    fn mutated_bodies_with_good_checksums_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut body = VALID[header_len()..VALID.len() - 32].to_vec();
        for (at, byte) in &edits {
            let i = at.index(body.len());
            body[i] = *byte;
        }
        if truncate {
            body.truncate(cut.index(body.len()));
        }
        let bytes = common::with_body(&VALID, &body);
        if let Ok(b) = decode(&bytes) {
            // Whatever loads is verified: evaluating any of its expressions must not panic.
            let env = MapEnv::default();
            for i in 0..b.program.exprs.len() {
                let _ = eval(&b.program, &env, ExprIx(i as u32));
            }
        }
    }

    #[test]
    fn values_round_trip(v in value_strategy()) {
        let bytes = postcard::to_stdvec(&v).expect("encodes");
        let back: Value = postcard::from_bytes(&bytes).expect("decodes");
        prop_assert_eq!(back, v);
    }

    #[test]
    fn random_value_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = postcard::from_bytes::<Value>(&bytes);
    }

    #[test]
    fn parse_json_of_to_json_round_trips(v in json_value_strategy()) {
        let text = eval::to_json(&v).expect("no secrets or resources");
        prop_assert_eq!(eval::parse_json(&text).expect("valid JSON"), v);
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()).prop_map(Value::Float),
        ".{0,12}".prop_map(Value::String),
        any::<i64>().prop_map(Value::Duration),
        any::<i64>().prop_map(Value::Time),
        (any::<[u8; 32]>(), any::<u64>(), "[a-z]{1,8}/[a-z]{1,8}")
            .prop_map(|(digest, size, media_type)| Value::Res(ResRef { digest, size, media_type })),
        "[a-z_]{1,12}".prop_map(|name| Value::Secret(SecretRef { name })),
    ]
}

fn value_strategy() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..6).prop_map(Value::Record),
        ]
    })
}

/// Values JSON can carry exactly: no durations, times, resources or secrets; floats with a
/// fraction (an integral float reads back as an int); records with unique keys.
fn json_value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1e6f64..1e6).prop_filter("not integral", |f| f.fract() != 0.0).prop_map(Value::Float),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..6)
                .prop_map(|m| Value::Record(m.into_iter().collect())),
        ]
    })
}
