//! `lbctl events [--limit N] [--since SEQ] [--follow] [--json]`: the event history
//! (transitions, alerts, table operations, VRRP, reloads, admin actions), oldest first; with
//! `--follow`, then every new event as it happens, until interrupted. With `--json`, one JSON
//! object per line (JSON Lines), so the stream can be piped.

use super::connect::{client, exit_of, exit_of_client, report_error};
use super::{Cli, Exit};
use crate::control::page::utc_text;
use crate::control::proto::{EventRecord, Request, Response};
use std::io::Write;

/// Arguments of `lbctl events`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep streaming new events until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N events of the history.
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only events after this sequence number.
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,
    /// One JSON object per event and line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    cli: &Cli,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let request = Request::Events {
        since: args.since,
        limit: args.limit,
        follow: args.follow,
    };
    let client = match client(cli, err) {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    if !args.follow {
        return match client.call(&request) {
            Ok(Response::Events { events }) => {
                for e in &events {
                    print_event(out, e, args.json)?;
                }
                Ok(Exit::Ok)
            }
            Ok(other) => Ok(report_error(&other, args.json, out, err)),
            Err(e) => {
                writeln!(err, "lbctl: {e}")?;
                Ok(exit_of_client(&e))
            }
        };
    }
    let stream = match client.stream(&request) {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "lbctl: {e}")?;
            return Ok(exit_of_client(&e));
        }
    };
    for item in stream {
        match item {
            Ok(Response::Event { event: e }) => {
                print_event(out, &e, args.json)?;
                out.flush()?;
            }
            Ok(Response::Error { code, message }) => {
                writeln!(err, "lbctl: {message}")?;
                return Ok(exit_of(code));
            }
            Ok(other) => return Ok(report_error(&other, args.json, out, err)),
            Err(e) => {
                writeln!(err, "lbctl: {e}")?;
                return Ok(exit_of_client(&e));
            }
        }
    }
    writeln!(err, "lbctl: lbd ended the event stream")?;
    Ok(Exit::Unreachable)
}

fn print_event(out: &mut dyn Write, e: &EventRecord, json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, e)?;
        return writeln!(out);
    }
    writeln!(out, "{}", render(e))
}

/// One event as a line: `#SEQ TIME KIND [node] [service] message`.
pub fn render(e: &EventRecord) -> String {
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let mut line = format!("#{} {} {}", e.seq, utc_text(e.at_ms), kind);
    if let Some(n) = &e.node {
        line.push_str(&format!(" node={n}"));
    }
    if let Some(s) = &e.service {
        line.push_str(&format!(" service={s}"));
    }
    line.push_str(": ");
    line.push_str(&e.message);
    line
}
