//! `lbctl nodes [--json]`: every node with its address, state (and for how long),
//! administrative state, hostgroups and health in each of its services.

use super::columns::{age, now_ms, table};
use super::connect::{call, print_json, report_error};
use super::{Cli, Exit};
use crate::control::proto::{NodeView, Request, Response};
use std::io::Write;

/// Arguments of `lbctl nodes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's node views as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    cli: &Cli,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match call(cli, &Request::Nodes, args.json, out, err) {
        Ok(r @ Response::Nodes { .. }) => {
            if args.json {
                print_json(out, &r)?;
            } else if let Response::Nodes { nodes } = &r {
                out.write_all(render(nodes, now_ms()).as_bytes())?;
            }
            Ok(Exit::Ok)
        }
        Ok(other) => Ok(report_error(&other, args.json, out, err)),
        Err(exit) => Ok(exit),
    }
}

/// The human form: one line per node; a service is `name:health` with `(out)` when the node
/// is not in that service's table.
pub fn render(nodes: &[NodeView], now_ms: u64) -> String {
    let mut rows = vec![[
        "NODE",
        "ADDRESS",
        "STATE",
        "SINCE",
        "ADMIN",
        "HOSTGROUPS",
        "SERVICES",
    ]
    .map(String::from)
    .to_vec()];
    for n in nodes {
        let services: Vec<String> = n
            .services
            .iter()
            .map(|s| {
                let mut cell = format!("{}:{}", s.service, s.health);
                if !s.in_table {
                    cell.push_str("(out)");
                }
                if s.admin != "enabled" {
                    cell.push_str(&format!("[{}]", s.admin));
                }
                cell
            })
            .collect();
        rows.push(vec![
            n.name.clone(),
            n.address.clone(),
            n.state.clone(),
            age(now_ms, n.since_ms),
            n.admin.clone(),
            n.hostgroups.join(","),
            services.join(" "),
        ]);
    }
    table(&rows)
}
