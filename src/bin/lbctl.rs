//! `lbctl`, the operator's command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use lbd::cli;

#[derive(Parser)]
#[command(name = "lbctl", version, about = "Operate an lbd LVS director")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the kernel's IPVS table like `ipvsadm -Ln`.
    Table(cli::table::TableArgs),
    /// Program the kernel's IPVS table from the configuration, changing only the difference.
    Apply(cli::apply::ApplyArgs),
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        Command::Table(a) => cli::table::run(&a).map_err(|e| e.to_string()),
        Command::Apply(a) => cli::apply::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbctl: {e}");
            ExitCode::from(1)
        }
    }
}
