//! `lbctl drain NODE [--service S] [--wait] [--timeout D] [--poll D] [--json]`: weight 0 for
//! the node (in one service or all): no new connections, established ones go on. With
//! `--wait`, polls `status` until the node's active connections reach zero, then disables it
//! (out of the table); at the deadline it gives up, leaves the node drained and exits 6. While
//! waiting, lbd going away (a restart: the socket missing, refused or closed, or lbd answering
//! that it is stopping) is ridden out:
//! lbctl says so once and tries again every poll until the deadline (the drain is persisted,
//! so the restarted daemon keeps it); still unreachable at the deadline, it exits 3.

use super::columns::short_duration;
use super::connect::{call_with, client, exit_of_client, print_json, report_error};
use super::{Cli, Exit};
use crate::control::client::{Client, ClientError};
use crate::control::proto::{ErrorCode, Request, Response, StatusView};
use crate::duration::{self, format_duration};
use serde::Serialize;
use std::io::Write;
use std::time::{Duration, Instant};

/// Arguments of `lbctl drain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node (as named in its hostgroup).
    pub node: String,
    /// Only in this service (default: every service of the node).
    #[arg(long, short)]
    pub service: Option<String>,
    /// Wait until the node has no active connection, then disable it.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (exit 6; the node stays drained).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration::arg)]
    pub timeout: Duration,
    /// With --wait: how often to look at the connection counts.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration::arg)]
    pub poll: Duration,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The JSON outcome of `drain --wait`.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    node: &'a str,
    service: Option<&'a str>,
    drained: bool,
    disabled: bool,
    active_conns: u64,
    waited_ms: u64,
}

pub fn run(
    cli: &Cli,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let client = match client(cli, err) {
        Ok(c) => c,
        Err(exit) => return Ok(exit),
    };
    let drain = Request::Drain {
        node: args.node.clone(),
        service: args.service.clone(),
    };
    let message = match call_with(&client, &drain, args.json, out, err) {
        Ok(Response::Done { message }) => message,
        Ok(other) => return Ok(report_error(&other, args.json, out, err)),
        Err(exit) => return Ok(exit),
    };
    if !args.wait {
        if args.json {
            print_json(out, &Response::Done { message })?;
        } else {
            writeln!(out, "{message}")?;
        }
        return Ok(Exit::Ok);
    }
    if !args.json {
        writeln!(out, "{message}")?;
    }
    let start = Instant::now();
    let deadline = start + args.timeout;
    let mut last_seen: Option<u64> = None;
    let mut patient = Patient {
        client: &client,
        deadline,
        poll: args.poll,
        said: false,
    };
    loop {
        let status = match patient.call(&Request::Status, args.json, out, err) {
            Ok(Response::Status(s)) => s,
            Ok(other) => return Ok(report_error(&other, args.json, out, err)),
            Err(exit) => return Ok(exit),
        };
        let Some(active) = active_conns(&status, &args.node, args.service.as_deref()) else {
            writeln!(
                err,
                "lbctl: node {} is not a real server of {} in the status",
                args.node,
                args.service.as_deref().unwrap_or("any service")
            )?;
            return Ok(Exit::NotFound);
        };
        let waited = start.elapsed();
        if active == 0 {
            let disable = Request::Disable {
                node: args.node.clone(),
                service: args.service.clone(),
            };
            let message = match patient.call(&disable, args.json, out, err) {
                Ok(Response::Done { message }) => message,
                Ok(other) => return Ok(report_error(&other, args.json, out, err)),
                Err(exit) => return Ok(exit),
            };
            if args.json {
                print_json(out, &outcome(args, true, 0, waited))?;
            } else {
                writeln!(
                    out,
                    "{} drained after {}: no active connection; {message}",
                    args.node,
                    short_duration(waited)
                )?;
            }
            return Ok(Exit::Ok);
        }
        let now = Instant::now();
        if now >= deadline {
            if args.json {
                print_json(out, &outcome(args, false, active, waited))?;
            }
            writeln!(
                err,
                "lbctl: {} still has {active} active connection{} after {}; it stays drained (weight 0)",
                args.node,
                if active == 1 { "" } else { "s" },
                format_duration(args.timeout)
            )?;
            return Ok(Exit::DrainTimeout);
        }
        if !args.json && last_seen != Some(active) {
            writeln!(
                out,
                "{}: {active} active connection{}, waiting (gives up in {})",
                args.node,
                if active == 1 { "" } else { "s" },
                short_duration(deadline - now)
            )?;
            out.flush()?;
        }
        last_seen = Some(active);
        std::thread::sleep(args.poll.min(deadline - now));
    }
}

/// Calls that outlive a daemon restart: an unreachable or closed socket is tried again every
/// `poll` until `deadline` (status is a read and disable is idempotent, so a retry is safe).
struct Patient<'a> {
    client: &'a Client,
    deadline: Instant,
    poll: Duration,
    /// Whether the retrying was announced.
    said: bool,
}

impl Patient<'_> {
    fn call(
        &mut self,
        request: &Request,
        json: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Response, Exit> {
        loop {
            let now = Instant::now();
            match self.client.call(request) {
                Ok(Response::Error {
                    code: ErrorCode::Unavailable,
                    message,
                }) if now < self.deadline => self.wait(&message, err),
                Ok(r @ Response::Error { .. }) => return Err(report_error(&r, json, out, err)),
                Ok(r) => {
                    if self.said {
                        self.said = false;
                        let _ = writeln!(err, "lbctl: lbd answers again");
                    }
                    return Ok(r);
                }
                Err(e @ (ClientError::Unreachable { .. } | ClientError::Closed { .. }))
                    if now < self.deadline =>
                {
                    self.wait(&e.to_string(), err)
                }
                Err(e) => {
                    let _ = writeln!(err, "lbctl: {e}");
                    return Err(exit_of_client(&e));
                }
            }
        }
    }

    /// Says once why it waits, then sleeps one poll (at most until the deadline).
    fn wait(&mut self, why: &str, err: &mut dyn Write) {
        if !self.said {
            self.said = true;
            let _ = writeln!(err, "lbctl: {why}; retrying until the deadline");
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(self.poll.min(left));
    }
}

fn outcome(args: &Args, drained: bool, active: u64, waited: Duration) -> Outcome<'_> {
    Outcome {
        node: &args.node,
        service: args.service.as_deref(),
        drained,
        disabled: drained,
        active_conns: active,
        waited_ms: waited.as_millis() as u64,
    }
}

/// The node's active connections over its real servers (in `service` or all); `None` when it
/// has no real server there.
pub fn active_conns(status: &StatusView, node: &str, service: Option<&str>) -> Option<u64> {
    let mut found = false;
    let mut total = 0u64;
    for s in &status.services {
        if service.is_some_and(|name| name != s.name) {
            continue;
        }
        for rs in s.real_servers.iter().filter(|rs| rs.node == node) {
            found = true;
            total += u64::from(rs.active_conns);
        }
    }
    found.then_some(total)
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use std::time::Duration;

    fn drain(args: &[&str]) -> Result<super::Args, String> {
        let argv = ["lbctl", "drain", "n1", "--wait"].iter().chain(args);
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Drain(a) => Ok(a),
            other => Err(format!("not drain: {other:?}")),
        }
    }

    #[test]
    fn timeout_and_poll_take_the_duration_grammar() {
        let a = drain(&["--timeout", "1m30s", "--poll", "1.5s"]).expect("parses");
        assert_eq!(a.timeout, Duration::from_secs(90));
        assert_eq!(a.poll, Duration::from_millis(1_500));
        let a = drain(&[]).expect("defaults");
        assert_eq!(
            (a.timeout, a.poll),
            (Duration::from_secs(300), Duration::from_secs(1))
        );
        let e = drain(&["--poll", "10"]).expect_err("no unit");
        assert!(e.contains("`10` has no unit"), "{e}");
    }
}
