//! `lbctl maintenance NODE on|off [--json]`: maintenance takes the node out of every table and
//! silences its alerts (checks go on); `off` ends it. Persisted across restarts.

use super::connect::done;
use super::{Cli, Exit};
use crate::control::proto::Request;
use std::io::Write;

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Arguments of `lbctl maintenance`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node (as named in its hostgroup).
    pub node: String,
    /// Start (`on`) or end (`off`) maintenance.
    #[arg(value_enum)]
    pub switch: Switch,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    cli: &Cli,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let request = Request::Maintenance {
        node: args.node.clone(),
        on: args.switch == Switch::On,
    };
    done(cli, &request, args.json, out, err)
}
