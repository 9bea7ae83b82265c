//! `weir graph FILE`: the flow's graph (steps, approvals, branches, loops; control, data
//! and failure edges) as Graphviz dot, Mermaid, or JSON with every expression's type.

use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::path::PathBuf;

/// Output formats of `weir graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz dot (`weir graph f.flow | dot -Tsvg > f.svg`).
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// Nodes, edges and the type of every expression.
    Json,
}

/// Print a flow's graph.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir graph stdlib-flows/deploy-preview.flow | dot -Tsvg > deploy.svg\n  weir graph stdlib-flows/deploy-preview.flow --format mermaid\n  weir graph stdlib-flows/deploy-preview.flow --format json | jq '.flows[0].expressions | length'\n\nExit codes: 0 ok, 1 the file has syntax errors (run `weir check`), 2 usage."
)]
pub struct GraphArgs {
    /// The flow file.
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,
}

pub fn run(args: GraphArgs) -> u8 {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => return usage_error(&format!("cannot read `{}`: {e}", args.file.display())),
    };
    let parsed = weir_grammar::parse_bytes(&bytes);
    if parsed.has_errors() {
        eprintln!("error: `{}` has syntax errors; run `weir check` to see them", args.file.display());
        return EXIT_FAILURE;
    }
    let flows: Vec<_> = parsed.file.flows().collect();
    match args.format {
        GraphFormat::Dot => {
            for flow in &flows {
                print(&weir_compiler::dag::build(flow).to_dot(&flow.name.name));
            }
        }
        GraphFormat::Mermaid => {
            for flow in &flows {
                print(&weir_compiler::dag::build(flow).to_mermaid());
            }
        }
        GraphFormat::Json => {
            let library = weir_compiler::interface::Library::new(flows.iter().copied());
            let flows: Vec<serde_json::Value> = flows
                .iter()
                .map(|flow| {
                    let mut graph = weir_compiler::dag::build(flow).to_json();
                    let expressions: Vec<serde_json::Value> =
                        weir_compiler::check::expression_types(flow, Some(&library))
                            .into_iter()
                            .map(|(span, ty)| json!({ "span": span, "type": ty.to_string() }))
                            .collect();
                    graph["name"] = json!(flow.name.name);
                    graph["expressions"] = json!(expressions);
                    graph
                })
                .collect();
            let document = json!({
                "schema_version": weir_compiler::render::JSON_SCHEMA_VERSION,
                "file": args.file.display().to_string(),
                "flows": flows,
            });
            print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
        }
    }
    EXIT_OK
}
