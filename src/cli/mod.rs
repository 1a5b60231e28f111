//! `lbctl`, the operator's tool: argument parsing and dispatch. One file per subcommand
//! (`check.rs`, `table.rs`, `apply.rs`, ...); each gets the global options and its own arguments, writes to the given
//! output streams and returns how to exit.

pub mod apply;
pub mod check;
pub mod table;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod table_tests;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Command line of `lbctl`.
#[derive(Debug, Parser)]
#[command(name = "lbctl", version, about = "Operate an lbd LVS director")]
pub struct Cli {
    /// Configuration directory (director.yaml, hostgroups/, services/).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "DIR",
        global = true,
        env = "LBD_CONFIG",
        default_value = crate::config::DEFAULT_DIR
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. To add one: a variant here, a file `src/cli/<name>.rs` with its `Args`
/// and `run`, and a match arm in [`run`].
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print a summary.
    Check(check::Args),
    /// Print the kernel's IPVS table the way `ipvsadm -Ln` does (no daemon needed).
    Table(table::TableArgs),
    /// Program the kernel's IPVS table from the configuration (all nodes taken as
    /// healthy), adopting what is there and sending only the difference.
    Apply(apply::ApplyArgs),
}

/// How `lbctl` ends: 0 success, 1 failure, 2 configuration or usage error (clap's own usage
/// errors also exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Failure,
    Config,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Config => 2,
        })
    }
}

/// Runs one parsed command line.
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let result = match &cli.command {
        Command::Check(args) => check::run(&cli.config, args, out, err),
        Command::Table(args) => table::run(args, out),
        Command::Apply(args) => apply::run(&cli.config, args, out, err),
    };
    match result {
        Ok(exit) => exit,
        Err(e) => {
            let _ = writeln!(err, "lbctl: {e:#}");
            Exit::Failure
        }
    }
}
