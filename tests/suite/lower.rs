//! Lowering checked flows to bytecode (docs/bytecode.md, "Lowering"): every stdlib flow
//! lowers, encodes and decodes back equal (so the verifier runs on real flows); the same
//! source gives the same bytes; step identities survive unrelated edits; a generated flow
//! of 1,000 statements lowers.

use super::{flows_under, root};
use weir_bytecode::{Bytecode, Instr, Program, Span, StepKind, decode, encode};
use weir_compiler::interface::Library;
use weir_compiler::lower::lower_flow;

#[allow(dead_code)]
#[path = "../../benches/generate.rs"]
mod generate;

/// Lowers the first flow of `source` (which must check without errors) against `config`,
/// with the flows of the same text as the library.
fn lower(source: &str, config: Option<&weir_config::Config>) -> Bytecode {
    let (parsed, diagnostics) = weir_compiler::check::diagnose(source.as_bytes(), config);
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "the flow should check clean: {errors:?}");
    let flows: Vec<_> = parsed.file.flows().collect();
    let library = Library::new(flows.iter().copied());
    lower_flow(flows[0], source, config, Some(&library)).expect("lowers")
}

/// Encodes and decodes, checking the round trip.
fn round_trip(bytecode: &Bytecode) -> Vec<u8> {
    let bytes = encode(bytecode).expect("encodes");
    let back = decode(&bytes).expect("decodes");
    assert_eq!(&back, bytecode, "decoding gives back the program");
    bytes
}

/// The program with every span zeroed (for comparing modulo positions).
fn without_spans(mut program: Program) -> Program {
    for step in &mut program.steps {
        step.span = Span::default();
    }
    program
}

fn stdlib_config() -> weir_config::Config {
    let toml = std::fs::read(root().join("stdlib-flows/weir.toml")).expect("read weir.toml");
    let (config, diagnostics) = weir_config::parse_bytes(&toml);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "weir.toml: {diagnostics:?}");
    config
}

#[test]
fn every_stdlib_flow_lowers_encodes_and_decodes_back() {
    let config = stdlib_config();
    let paths = flows_under(&root().join("stdlib-flows"));
    let texts: Vec<String> = paths.iter().map(|p| std::fs::read_to_string(p).expect("read")).collect();
    let parsed: Vec<_> = texts.iter().map(|t| weir_grammar::parse(t)).collect();
    let library = Library::new(parsed.iter().flat_map(|p| p.file.flows()));
    let mut failures = Vec::new();
    for ((path, text), parsed) in paths.iter().zip(&texts).zip(&parsed) {
        for flow in parsed.file.flows() {
            let result = lower_flow(flow, text, Some(&config), Some(&library))
                .map_err(|e| e.to_string())
                .and_then(|b| encode(&b).map(|bytes| (b, bytes)).map_err(|e| e.to_string()))
                .and_then(|(b, bytes)| decode(&bytes).map(|back| (b, back)).map_err(|e| e.to_string()));
            match result {
                Ok((b, back)) if b == back => {}
                Ok(_) => failures.push(format!("{}: decodes to a different program", path.display())),
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(paths.len() >= 12);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const DEMO: &str = r#"flow demo {
  version "1.2.3"
  concurrency max 1 queue
  trigger manual
  input { items: list<string>, n: int = 3 }

  step fetch = http GET "/things" { connection api }
  log "fetched {fetch.status}"
  loop max 3 {
    step poll = http GET "/poll" { connection api }
    if poll.status == 200 {
      break
    }
  }
  saga {
    step reserve = http POST "/reserve" {
      connection api
      undo {
        log "releasing"
        step release = http POST "/release" { connection api }
      }
    }
  }
  approval ship {
    summary "Ship {len(input.items)} items?"
    deciders group "release"
    timeout 1h
    default reject
    on reject {
      log "rejected"
    }
  }
  step done = function { value input.n }
  output { n: done.value }
}
"#;

#[test]
fn lowering_is_deterministic_and_spans_are_the_only_position_data() {
    let a = round_trip(&lower(DEMO, None));
    let b = round_trip(&lower(DEMO, None));
    assert_eq!(a, b, "same source, same bytes");

    // A comment after the flow: only the source digest (and the trailing checksum) change.
    let appended = format!("{DEMO}# a trailing comment\n");
    let first = lower(DEMO, None);
    let second = lower(&appended, None);
    assert_ne!(first.header.source_sha256, second.header.source_sha256);
    assert_eq!(first.header.interface_sha256, second.header.interface_sha256);
    assert_eq!(first.program, second.program);
    let (x, y) = (round_trip(&first), round_trip(&second));
    assert_eq!(x.len(), y.len());
    let differing: Vec<usize> = (0..x.len()).filter(|i| x[*i] != y[*i]).collect();
    assert!(
        differing.iter().all(|i| (16..48).contains(i) || *i >= x.len() - 32),
        "only the source digest and the checksum differ: {differing:?}"
    );

    // Whitespace and comments inside the flow move spans and nothing else.
    let edited = DEMO.replace("  log \"fetched", "  # why we log\n\n  log  \"fetched");
    let third = lower(&edited, None);
    assert_ne!(third.program, first.program, "spans moved");
    assert_eq!(without_spans(third.program), without_spans(first.program));
}

fn id_of(program: &Program, name: &str) -> String {
    program.steps.iter().find(|s| s.name.as_deref() == Some(name)).map(|s| s.id.clone()).expect("a step")
}

fn log_ids(program: &Program) -> Vec<String> {
    program.steps.iter().filter(|s| matches!(s.kind, StepKind::Log { .. })).map(|s| s.id.clone()).collect()
}

#[test]
fn identities_survive_an_inserted_statement() {
    let before = lower(DEMO, None).program;
    let edited = DEMO.replace("  step fetch =", "  log \"starting\"\n  step fetch =");
    let after = lower(&edited, None).program;
    for name in ["fetch", "poll", "reserve", "release", "ship", "done"] {
        assert_eq!(id_of(&before, name), id_of(&after, name), "`{name}` keeps its identity");
    }
    assert_eq!(id_of(&after, "poll"), "poll");
    // Anonymous statements anchor on the nearest name before them in their block.
    let logs = log_ids(&before);
    assert!(logs.contains(&"fetch/log#1".to_string()), "{logs:?}");
    assert!(logs.contains(&"reserve/undo/log#1".to_string()), "{logs:?}");
    assert!(logs.contains(&"ship/on_reject/log#1".to_string()), "{logs:?}");
    let sites: Vec<&str> =
        before.steps.iter().filter(|s| matches!(s.kind, StepKind::Control)).map(|s| s.id.as_str()).collect();
    assert!(sites.contains(&"fetch/loop#1"), "{sites:?}");
    assert!(sites.contains(&"poll/if#1"), "{sites:?}");
    assert!(sites.contains(&"@output"), "{sites:?}");
    // Only the inserted log is new; the log after `fetch` is unchanged.
    let after_logs = log_ids(&after);
    assert!(after_logs.contains(&"log#1".to_string()) && after_logs.contains(&"fetch/log#1".to_string()));
}

#[test]
fn a_generated_flow_of_1000_statements_lowers_and_encodes() {
    let text = generate::flow(1_000);
    let bytecode = lower(&text, None);
    let bytes = round_trip(&bytecode);
    let steps = bytecode.program.steps.iter().filter(|s| s.name.is_some()).count();
    assert!(steps >= 1_000, "{steps} named steps");
    assert!(bytes.len() > 10_000);
    assert!(matches!(bytecode.program.blocks[0].instrs.first(), Some(Instr::Step { .. })));
}

#[test]
fn lowering_cut_and_broken_flows_never_panics() {
    // Every prefix of every stdlib flow (at a stride), parsed with recovery and lowered
    // without checking: each is an error or a program that verifies, never a panic.
    let mut lowered = 0;
    for path in flows_under(&root().join("stdlib-flows")) {
        let text = std::fs::read_to_string(&path).expect("read");
        let mut cuts: Vec<usize> =
            (0..text.len()).step_by(53).filter(|i| text.is_char_boundary(*i)).collect();
        cuts.push(text.len());
        for cut in cuts {
            let prefix = &text[..cut];
            let parsed = weir_grammar::parse(prefix);
            for flow in parsed.file.flows() {
                if let Ok(b) = lower_flow(flow, prefix, None, None) {
                    encode(&b).expect("a lowered program verifies");
                    lowered += 1;
                }
            }
        }
    }
    assert!(lowered >= 16, "at least the whole flows lower ({lowered})");
}
