//! `lbctl diff [--json]`: what a reload would change in the kernel table — the configuration on
//! disk against the kernel's IPVS table — as ipvsadm-like operations, one a line. Changes
//! nothing.

use super::connect::{call, print_json, report_error};
use super::{Cli, Exit};
use crate::control::proto::{Request, Response};
use std::io::Write;

/// Arguments of `lbctl diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the operations as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    cli: &Cli,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match call(cli, &Request::Diff, args.json, out, err) {
        Ok(r @ Response::Diff { .. }) => {
            if args.json {
                print_json(out, &r)?;
            } else if let Response::Diff { ops } = &r {
                if ops.is_empty() {
                    writeln!(out, "no change: the kernel table matches the configuration")?;
                }
                for op in ops {
                    writeln!(out, "{op}")?;
                }
            }
            Ok(Exit::Ok)
        }
        Ok(other) => Ok(report_error(&other, args.json, out, err)),
        Err(exit) => Ok(exit),
    }
}
