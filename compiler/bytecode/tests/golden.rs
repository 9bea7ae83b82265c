//! The golden file of each format version (R7): committed bytes that must keep loading.
//! The current version's file must also equal what the builder writes today; when it does
//! not, the format changed: bump `FORMAT_VERSION` (and keep a reader for the old one), or,
//! if the change is deliberate within an unreleased version, regenerate with
//! `WEIR_BLESS=1 cargo test -p weir-bytecode --test golden`.

mod common;

use std::path::PathBuf;

use weir_bytecode::*;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_golden_file_still_loads() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).expect("tests/golden exists") {
        let path = entry.expect("readable").path();
        if path.extension().and_then(|e| e.to_str()) != Some("weirc") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable");
        let b = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let version: u16 = name
            .strip_prefix('v')
            .and_then(|r| r.split('-').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: golden files are named v<N>-<what>.weirc"));
        assert_eq!(b.header.format_version, version, "{name}");
        if version == FORMAT_VERSION {
            assert_eq!(encode(&b).expect("re-encodes"), bytes, "{name}: re-encoding changed the bytes");
        }
        seen.push(version);
    }
    for v in ACCEPTED_VERSIONS {
        assert!(seen.contains(v), "no golden file for accepted format version {v}");
    }
}

#[test]
fn the_builder_still_writes_the_golden_bytes() {
    let path = golden_dir().join(format!("v{FORMAT_VERSION}-example.weirc"));
    let bytes = encode(&common::example()).expect("encodes");
    if std::env::var_os("WEIR_BLESS").is_some() {
        std::fs::write(&path, &bytes).expect("writable");
        return;
    }
    let golden = std::fs::read(&path).expect("the golden file exists (WEIR_BLESS=1 writes it)");
    assert!(
        golden == bytes,
        "{} differs from what the builder writes: the format changed (bump FORMAT_VERSION) \
         or regenerate with WEIR_BLESS=1 if the change is deliberate and unreleased",
        path.display()
    );
}

/// `weir disasm`'s listing of the golden file: deterministic, and it names what is in it.
#[test]
fn the_golden_file_disassembles() {
    let bytes = std::fs::read(golden_dir().join("v1-example.weirc")).expect("golden file");
    let bytecode = decode(&bytes).expect("loads");
    let listing = disassemble(&bytecode);
    assert_eq!(listing, disassemble(&decode(&bytes).expect("loads")), "the listing is deterministic");
    assert!(listing.starts_with("weirc format 1 · built by weir "), "{listing}");
    assert!(listing.contains(&format!("flow {} {}", bytecode.header.slug, bytecode.header.flow_version)));
    assert!(listing.contains("entry block#"), "{listing}");
    for step in &bytecode.program.steps {
        assert!(listing.contains(&step.id), "step {} is not in the listing:\n{listing}", step.id);
    }
}

#[test]
#[ignore = "prints the golden listing: cargo test -p weir-bytecode --test golden -- --ignored --nocapture"]
fn print_the_golden_listing() {
    let bytes = std::fs::read(golden_dir().join("v1-example.weirc")).expect("golden file");
    println!("{}", disassemble(&decode(&bytes).expect("loads")));
}
