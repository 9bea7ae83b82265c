//! Parse and check benchmarks (design.md §7). Run with `cargo bench --bench parse`.
//!
//! - pest's own parse of a file against our full parse (pre-scan + pest + AST + diagnostics)
//!   of the same file, in the same run: the ratio is the figure (target ≤ 1.5x);
//! - `weir check` (the release binary) over a directory of 1,000 generated 100-line flows
//!   (target < 0.5 s).

mod generate;

use criterion::{Criterion, criterion_group, criterion_main};
use pest::Parser as _;
use std::hint::black_box;
use std::time::Duration;
use weir_grammar::{FlowParser, Rule};

fn parse_benches(c: &mut Criterion) {
    let big = generate::flow(10_000);
    let small = generate::flow_of_lines(1_000);
    assert!(weir_grammar::parse(&big).diagnostics.is_empty());
    assert!(weir_grammar::parse(&small).diagnostics.is_empty());
    eprintln!(
        "10,000 steps: {} bytes, {} lines; 1,000 lines: {} bytes",
        big.len(),
        big.lines().count(),
        small.len()
    );

    // pest alone, without the call limit weir sets (which would also slow it down a little).
    let pest_alone = |text: &str| {
        pest::set_call_limit(None);
        FlowParser::parse(Rule::file, text).map(|p| p.count()).expect("pest parses the generated flow")
    };
    let mut group = c.benchmark_group("parse-10000-steps");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("pest", |b| b.iter(|| pest_alone(black_box(&big))));
    group.bench_function("weir", |b| b.iter(|| weir_grammar::parse(black_box(&big))));
    group.finish();

    let mut group = c.benchmark_group("parse-1000-lines");
    group.sample_size(50);
    group.bench_function("pest", |b| b.iter(|| pest_alone(black_box(&small))));
    group.bench_function("weir", |b| b.iter(|| weir_grammar::parse(black_box(&small))));
    group.finish();
}

/// The semantic checks alone, on an already parsed file (issue 5: parse and check reported
/// separately; 2x the steps must cost at most 2.2x the time).
fn check_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("checks");
    group.sample_size(20);
    for steps in [10_000, 20_000] {
        let text = generate::flow(steps);
        let parsed = weir_grammar::parse(&text);
        assert!(parsed.diagnostics.is_empty());
        let found = weir_compiler::check::check(&parsed, None);
        assert!(found.iter().all(|d| !d.is_error()), "{:?}", &found[..found.len().min(3)]);
        group.bench_function(format!("{steps}-steps"), |b| {
            b.iter(|| weir_compiler::check::check(black_box(&parsed), None))
        });
    }
    group.finish();
}

fn check_directory(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("weir-bench-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let one = generate::flow_of_lines(100);
    for i in 0..1_000 {
        std::fs::write(
            dir.join(format!("flow-{i:04}.flow")),
            one.replace("flow bench", &format!("flow bench-{i}")),
        )
        .expect("write flow");
    }
    let weir = env!("CARGO_BIN_EXE_weir");
    let mut group = c.benchmark_group("check-1000-flows");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("weir check", |b| {
        b.iter(|| {
            let status = std::process::Command::new(weir)
                .arg("check")
                .arg(&dir)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run weir");
            assert!(status.success());
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, parse_benches, check_benches, check_directory);
criterion_main!(benches);
