//! `lbctl failover [--instance I] [--json]`: the VRRP master of the instance (of every instance
//! when none is named) steps down by advertising priority 0, so the backup takes over at once,
//! and this director stays backup (no preemption) until `lbctl failover --clear` or a restart.

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
    /// End the hold a failover put on this director (it may preempt again) instead.
    #[arg(long)]
    pub clear: bool,
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
        clear: args.clear,
    };
    done(cli, &request, args.json, out, err)
}
