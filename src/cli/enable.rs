//! `lbctl enable NODE [--service S] [--json]`: clear drain/disable of the node (one service or
//! all); it returns to the table when its checks pass.

use super::connect::done;
use super::{Cli, Exit};
use crate::control::proto::Request;
use std::io::Write;

/// Arguments of `lbctl enable`.
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
    let request = Request::Enable {
        node: args.node.clone(),
        service: args.service.clone(),
    };
    done(cli, &request, args.json, out, err)
}
