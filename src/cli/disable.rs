//! `lbctl disable NODE [--service S] [--json]`: take the node out of the table (one service or
//! all) while its checks go on; persisted across restarts, visible in `status`.

use super::connect::done;
use super::{Cli, Exit};
use crate::control::proto::Request;
use std::io::Write;

/// Arguments of `lbctl disable`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node (as named in its hostgroup).
    pub node: String,
    /// Only in this service (default: every service of the node).
    #[arg(long, short)]
    pub service: Option<String>,
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
    let request = Request::Disable {
        node: args.node.clone(),
        service: args.service.clone(),
    };
    done(cli, &request, args.json, out, err)
}
