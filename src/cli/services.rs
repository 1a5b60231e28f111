//! `lbctl services [--json]`: every virtual service with its scheduler, persistence,
//! forwarding, hostgroup, health against quorum, sorry server and kernel presence.

use super::columns::table;
use super::connect::{call, print_json, report_error};
use super::{Cli, Exit};
use crate::control::proto::{Request, Response, ServiceView};
use std::io::Write;

/// Arguments of `lbctl services`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's service views as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    cli: &Cli,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match call(cli, &Request::Services, args.json, out, err) {
        Ok(r @ Response::Services { .. }) => {
            if args.json {
                print_json(out, &r)?;
            } else if let Response::Services { services } = &r {
                out.write_all(render(services).as_bytes())?;
            }
            Ok(Exit::Ok)
        }
        Ok(other) => Ok(report_error(&other, args.json, out, err)),
        Err(exit) => Ok(exit),
    }
}

/// The human form, one line per service.
pub fn render(services: &[ServiceView]) -> String {
    let mut rows = vec![[
        "SERVICE",
        "VIRTUAL",
        "SCHEDULER",
        "PERSISTENT",
        "FORWARD",
        "HOSTGROUP",
        "HEALTHY",
        "QUORUM",
        "SORRY",
        "KERNEL",
    ]
    .map(String::from)
    .to_vec()];
    for s in services {
        rows.push(vec![
            s.name.clone(),
            s.virtual_service.clone(),
            s.scheduler.clone(),
            s.persistent.map_or("-".into(), |t| format!("{t}s")),
            s.forwarding.clone(),
            s.hostgroup.clone(),
            format!("{}/{}", s.healthy, s.real_servers.len()),
            s.quorum.to_string(),
            if s.sorry_active { "active" } else { "-" }.into(),
            if s.in_kernel { "yes" } else { "NO" }.into(),
        ]);
    }
    table(&rows)
}
