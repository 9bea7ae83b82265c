//! Command-line parsing and dispatch. Every command lives in its own module.

mod build;
mod callback;
mod cancel;
mod check;
mod decide;
mod disasm;
mod explain;
mod families;
mod files;
mod fmt;
mod gc;
mod graph;
mod init;
mod outcome;
mod parse;
mod project;
mod replay;
mod resolve;
mod resume;
mod retry;
mod run;
mod runs;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: diagnostics with errors, unformatted files, or a failed run.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad usage (unknown flag, missing file).
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "Typed, durable agent and automation workflows",
    long_about = "weir checks .flow files, proves properties of them before they run, and runs them durably.",
    after_help = "Examples:\n  weir check stdlib-flows\n  weir fmt --check .\n  weir explain syntax-error"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(check::CheckArgs),
    Fmt(fmt::FmtArgs),
    Parse(parse::ParseArgs),
    Explain(explain::ExplainArgs),
    Families(families::FamiliesArgs),
    Graph(graph::GraphArgs),
    Build(build::BuildArgs),
    Run(run::RunArgs),
    Runs(runs::RunsArgs),
    Cancel(cancel::CancelArgs),
    /// Approve a paused run's approval as a person of weir.toml, then continue the run.
    #[command(about = "Approve a paused run's approval, then continue the run")]
    Approve(decide::DecideArgs),
    /// Reject a paused run's approval, then continue the run (its `on reject`, or the end).
    #[command(about = "Reject a paused run's approval, then continue the run")]
    Reject(decide::DecideArgs),
    Resume(resume::ResumeArgs),
    Resolve(resolve::ResolveArgs),
    Retry(retry::RetryArgs),
    Callback(callback::CallbackArgs),
    Replay(replay::ReplayArgs),
    Gc(gc::GcArgs),
    Disasm(disasm::DisasmArgs),
    Init(init::InitArgs),
}

/// Parse the command line and run the command.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let code = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Parse(args) => parse::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Families(args) => families::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Build(args) => build::run(args),
        Command::Run(args) => run::run(args),
        Command::Runs(args) => runs::run(args),
        Command::Cancel(args) => cancel::run(args),
        Command::Approve(args) => decide::run(args, true),
        Command::Reject(args) => decide::run(args, false),
        Command::Resume(args) => resume::run(args),
        Command::Resolve(args) => resolve::run(args),
        Command::Retry(args) => retry::run(args),
        Command::Callback(args) => callback::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Gc(args) => gc::run(args),
        Command::Disasm(args) => disasm::run(args),
        Command::Init(args) => init::run(args),
    };
    ExitCode::from(code)
}

/// Write to stdout, ignoring a closed pipe (`weir parse --json f | head` must not panic).
pub fn print(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Print a usage error the way every command does and return its exit code.
pub fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}");
    EXIT_USAGE
}
