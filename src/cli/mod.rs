//! `lbctl`, the operator's tool: argument parsing and dispatch. One file per subcommand
//! (`check.rs`, `table.rs`, `apply.rs`, ...); each gets the global options and its own arguments, writes to the given
//! output streams and returns how to exit.
//!
//! Exit codes (stable; scripts may rely on them): see [`Exit`] and [`EXIT_CODES`].

pub mod apply;
pub mod check;
pub mod columns;
pub mod completions;
pub mod connect;
pub mod diff;
pub mod disable;
pub mod drain;
pub mod enable;
pub mod events;
pub mod failover;
pub mod import;
pub mod maintenance;
pub mod man;
pub mod nodes;
pub mod reload;
pub mod services;
pub mod status;
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
#[command(
    name = "lbctl",
    version,
    about = "Operate an lbd LVS director",
    after_long_help = EXIT_CODES
)]
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

    /// Control socket of lbd [default: director.control.socket of the configuration, else
    /// /run/lbd/control.sock].
    #[arg(long, value_name = "PATH", global = true, env = "LBD_SOCKET")]
    pub socket: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. To add one: a variant here, a file `src/cli/<name>.rs` with its `Args`
/// and `run`, and a match arm in [`run`].
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print a summary.
    Check(check::Args),
    /// VRRP roles and every virtual service with its real servers, and why each is (not) in
    /// the table: the `ipvsadm -Ln` view with the reasons.
    Status(status::Args),
    /// Every node with its state, administrative state and health per service.
    Nodes(nodes::Args),
    /// Every virtual service with scheduler, persistence and health counts.
    Services(services::Args),
    /// The event history (transitions, alerts, table operations); --follow streams new ones.
    Events(events::Args),
    /// Weight 0 for a node: no new connections; with --wait, take it out once idle.
    Drain(drain::Args),
    /// Take a node out of the table (checks go on); persisted across restarts.
    Disable(disable::Args),
    /// Clear drain/disable of a node.
    Enable(enable::Args),
    /// Put a node in maintenance (out of every table, alerts silenced) or end it.
    Maintenance(maintenance::Args),
    /// Re-read the configuration; the running one stays if the new one is invalid.
    Reload(reload::Args),
    /// What a reload would change in the kernel table (configuration vs kernel).
    Diff(diff::Args),
    /// Make the VRRP master step down (priority 0) so the backup takes over.
    Failover(failover::Args),
    /// Print a shell completion script.
    Completions(completions::Args),
    /// Print the manual page (roff), or write all pages to a directory.
    Man(man::Args),
    /// Print the kernel's IPVS table the way `ipvsadm -Ln` does (no daemon needed).
    Table(table::TableArgs),
    /// Program the kernel's IPVS table from the configuration (all nodes taken as
    /// healthy), adopting what is there and sending only the difference.
    Apply(apply::ApplyArgs),
    /// Translate another tool's configuration into an lbd configuration directory
    /// (`lbctl import keepalived FILE --out DIR`).
    Import(import::Args),
}

/// The exit codes, as `lbctl --help` and the man page list them.
pub const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  failure (the daemon could not do it, I/O error, unexpected answer)
  2  usage or configuration error (also: a reload found the new configuration invalid)
  3  cannot reach lbd (not running, stopping, no answer in time)
  4  permission denied (needs root or the control group)
  5  not found (no such node, service or VRRP instance)
  6  drain --wait: connections still active at the deadline (the node stays drained)";

/// How `lbctl` ends (clap's own usage errors also exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0.
    Ok,
    /// 1: the daemon could not do it, I/O error, unexpected answer.
    Failure,
    /// 2: usage or configuration error.
    Config,
    /// 3: lbd cannot be reached.
    Unreachable,
    /// 4: permission denied.
    Denied,
    /// 5: no such node, service or instance.
    NotFound,
    /// 6: `drain --wait` hit its deadline.
    DrainTimeout,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Config => 2,
            Exit::Unreachable => 3,
            Exit::Denied => 4,
            Exit::NotFound => 5,
            Exit::DrainTimeout => 6,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// Runs one parsed command line.
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let result = match &cli.command {
        Command::Check(args) => check::run(&cli.config, args, out, err),
        Command::Status(args) => status::run(cli, args, out, err),
        Command::Nodes(args) => nodes::run(cli, args, out, err),
        Command::Services(args) => services::run(cli, args, out, err),
        Command::Events(args) => events::run(cli, args, out, err),
        Command::Drain(args) => drain::run(cli, args, out, err),
        Command::Disable(args) => disable::run(cli, args, out, err),
        Command::Enable(args) => enable::run(cli, args, out, err),
        Command::Maintenance(args) => maintenance::run(cli, args, out, err),
        Command::Reload(args) => reload::run(cli, args, out, err),
        Command::Diff(args) => diff::run(cli, args, out, err),
        Command::Failover(args) => failover::run(cli, args, out, err),
        Command::Completions(args) => completions::run(args, out),
        Command::Man(args) => man::run(args, out),
        Command::Table(args) => table::run(args, out),
        Command::Apply(args) => apply::run(&cli.config, args, out, err),
        Command::Import(args) => import::run(args, out, err),
    };
    match result {
        Ok(exit) => exit,
        Err(e) => {
            let _ = writeln!(err, "lbctl: {e:#}");
            Exit::Failure
        }
    }
}
