//! `lbctl`, the operator's command-line tool: a thin shell over `lbd::cli`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = lbd::cli::Cli::parse();
    let exit = lbd::cli::run(
        &cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    exit.into()
}
