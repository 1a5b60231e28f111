//! `lbctl reload [--json]`: lbd re-reads its configuration directory. A valid one is applied as
//! a diff (health of unchanged nodes carries over); an invalid one is refused whole, the running
//! one stays, and lbctl prints the errors and exits 2.

use super::connect::done;
use super::{Cli, Exit};
use crate::control::proto::Request;
use std::io::Write;

/// Arguments of `lbctl reload`.
#[derive(Debug, clap::Args)]
pub struct Args {
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
    done(cli, &Request::Reload, args.json, out, err)
}
