//! `weir disasm FILE.weirc [--json]`: load a compiled flow (with every check the runtime's
//! loader makes) and print it: a listing for people, or the decoded tables as JSON.

use super::{EXIT_FAILURE, EXIT_OK, print, usage_error};
use clap::Args;
use std::path::PathBuf;

/// Print a compiled flow.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir disasm deploy.weirc\n  weir disasm deploy.weirc --json\n\nExit codes: 0 printed, 1 the file does not load (a B0001–B0012 error says why), 2 usage."
)]
pub struct DisasmArgs {
    /// The `.weirc` file (written by `weir build`).
    file: PathBuf,
    /// Print the header and the program's tables as JSON (docs/bytecode.md names them).
    #[arg(long)]
    json: bool,
}

pub fn run(args: DisasmArgs) -> u8 {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => return usage_error(&format!("cannot read `{}`: {e}", args.file.display())),
    };
    let bytecode = match weir_bytecode::decode(&bytes) {
        Ok(bytecode) => bytecode,
        Err(e) => {
            eprintln!("error: `{}`: {e}", args.file.display());
            return EXIT_FAILURE;
        }
    };
    if args.json {
        let h = &bytecode.header;
        let document = serde_json::json!({
            "header": {
                "format_version": h.format_version,
                "compiler_version": h.compiler_version,
                "slug": h.slug,
                "flow_version": h.flow_version.to_string(),
                "source_sha256": weir_bytecode::header::hex(&h.source_sha256),
                "interface_sha256": weir_bytecode::header::hex(&h.interface_sha256),
            },
            "program": bytecode.program,
        });
        print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
    } else {
        print(&weir_bytecode::disassemble(&bytecode));
    }
    EXIT_OK
}
