//! `weir families`: the step families, their config fields, effects and outputs.

use super::{EXIT_OK, print};
use clap::Args;
use serde_json::json;
use weir_compiler::families::{COMMON_FIELDS, FAMILIES};

/// List the step families (from the same table the checker uses).
#[derive(Args)]
#[command(
    after_help = "Examples:\n  weir families\n  weir families --json | jq '.families[] | select(.name == \"http\")'"
)]
pub struct FamiliesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: FamiliesArgs) -> u8 {
    if args.json {
        let document = json!({
            "schema_version": weir_compiler::render::JSON_SCHEMA_VERSION,
            "families": FAMILIES,
            "common_fields": COMMON_FIELDS,
        });
        print(&format!("{}\n", serde_json::to_string_pretty(&document).unwrap_or_default()));
    } else {
        print(&weir_compiler::families::markdown_table());
    }
    EXIT_OK
}
