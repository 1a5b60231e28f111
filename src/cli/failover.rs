//! `lbctl failover [--instance I] [--json]`: the VRRP master of the instance (of every instance
//! when none is named) steps down by advertising priority 0, so the backup takes over at once.

use super::connect::done;
use super::{Cli, Exit};
use crate::control::proto::Request;
use std::io::Write;

/// Arguments of `lbctl failover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this VRRP instance (default: all).
    #[arg(long, short)]
    pub instance: Option<String>,
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
    let request = Request::Failover {
        instance: args.instance.clone(),
    };
    done(cli, &request, args.json, out, err)
}
