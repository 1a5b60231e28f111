//! `lbctl status [--json]`: VRRP role per instance, then every virtual service with its
//! scheduler and persistence and each real server with the why next to it — node state, health,
//! administrative state, last check (result, latency, age), weight, active/inactive connections:
//! the `ipvsadm -Ln` view with the reasons.

use super::columns::{age, table};
use super::connect::{call, print_json, report_error};
use super::{Cli, Exit};
use crate::control::page::utc_text;
use crate::control::proto::{RealServerView, Request, Response, ServiceView, StatusView};
use std::io::Write;

/// Arguments of `lbctl status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the daemon's status view as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(
    cli: &Cli,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match call(cli, &Request::Status, args.json, out, err) {
        Ok(Response::Status(s)) => {
            if args.json {
                print_json(out, &s)?;
            } else {
                // Ages against the snapshot's own clock, so they agree with each other.
                out.write_all(render(&s, s.at_ms).as_bytes())?;
            }
            Ok(Exit::Ok)
        }
        Ok(other) => Ok(report_error(&other, args.json, out, err)),
        Err(exit) => Ok(exit),
    }
}

/// The human form, with ages relative to `now_ms` (lbctl passes the snapshot's time).
pub fn render(s: &StatusView, now_ms: u64) -> String {
    let mut o = format!("director {} at {}\n", s.director, utc_text(s.at_ms));
    if s.vrrp.is_empty() {
        o.push_str("VRRP: no instance\n");
    }
    for v in &s.vrrp {
        let prio = if v.priority == v.effective_priority {
            format!("priority {}", v.priority)
        } else {
            format!(
                "priority {} (effective {})",
                v.priority, v.effective_priority
            )
        };
        o.push_str(&format!(
            "VRRP {} on {} VRID {}: {} {}; VIPs {}",
            v.instance,
            v.interface,
            v.vrid,
            v.state.to_uppercase(),
            prio,
            v.vips.join(" ")
        ));
        if let Some(g) = &v.sync_group {
            o.push_str(&format!("; sync group {g}"));
        }
        if !v.drops.is_empty() {
            let each: Vec<String> = v.drops.iter().map(|(r, n)| format!("{r} {n}")).collect();
            o.push_str(&format!("; adverts dropped: {}", each.join(", ")));
        }
        o.push('\n');
    }
    for svc in &s.services {
        o.push('\n');
        o.push_str(&service_header(svc));
        let mut rows = vec![[
            "  ->",
            "RemoteAddress:Port",
            "Forward",
            "Weight",
            "ActiveConn",
            "InActConn",
            "Node",
            "State",
            "Health",
            "Admin",
            "LastCheck",
            "Why",
        ]
        .map(String::from)
        .to_vec()];
        for rs in &svc.real_servers {
            rows.push(real_server_row(svc, rs, now_ms));
        }
        o.push_str(&table(&rows));
    }
    o
}

fn service_header(svc: &ServiceView) -> String {
    let persistence = svc
        .persistent
        .map(|t| format!(" persistent {t}"))
        .unwrap_or_default();
    let mut notes = vec![
        format!("service {}", svc.name),
        format!("hostgroup {}", svc.hostgroup),
        format!(
            "{}/{} healthy ({})",
            svc.healthy,
            svc.real_servers.len(),
            svc.quorum_words
        ),
    ];
    if svc.sorry_active {
        notes.push("SORRY SERVER ACTIVE".into());
    }
    if !svc.in_kernel {
        notes.push("NOT IN KERNEL TABLE".into());
    }
    format!(
        "{} {}{}  [{}]\n",
        svc.virtual_service.to_uppercase(),
        svc.scheduler,
        persistence,
        notes.join(", ")
    )
}

fn real_server_row(svc: &ServiceView, rs: &RealServerView, now_ms: u64) -> Vec<String> {
    let weight = match (rs.weight, rs.kernel_weight) {
        (Some(w), Some(k)) if w == k => w.to_string(),
        (Some(w), Some(k)) => format!("{k}(want {w})"),
        (Some(w), None) => format!("-(want {w})"),
        (None, Some(k)) => format!("{k}(want out)"),
        (None, None) => "-".into(),
    };
    let check = match &rs.last_check {
        Some(c) => format!(
            "{} {}ms {} ago: {}",
            if c.ok { "ok" } else { "FAIL" },
            c.latency_ms,
            age(now_ms, c.at_ms),
            c.summary
        ),
        None => "-".into(),
    };
    vec![
        "  ->".into(),
        rs.address.clone(),
        svc.forwarding.clone(),
        weight,
        rs.active_conns.to_string(),
        rs.inactive_conns.to_string(),
        rs.node.clone(),
        rs.node_state.clone(),
        rs.health.clone(),
        rs.admin.clone(),
        check,
        rs.why.clone(),
    ]
}

#[cfg(test)]
mod vrrp_line_tests {
    use super::*;
    use crate::control::proto::VrrpView;

    #[test]
    fn the_vrrp_line_shows_fault_and_dropped_adverts() {
        let mut v = VrrpView {
            instance: "vi_51".into(),
            interface: "eth0".into(),
            vrid: 51,
            state: "fault".into(),
            priority: 150,
            effective_priority: 150,
            vips: vec!["192.0.2.10/24".into()],
            drops: [("bad_ttl".to_string(), 2), ("other_vrid".to_string(), 1)].into(),
            sync_group: None,
        };
        let mut s = StatusView {
            director: "dir1".into(),
            at_ms: 0,
            vrrp: vec![v.clone()],
            services: Vec::new(),
        };
        assert!(render(&s, 0).contains(
            "VRRP vi_51 on eth0 VRID 51: FAULT priority 150; VIPs 192.0.2.10/24; \
             adverts dropped: bad_ttl 2, other_vrid 1\n"
        ));
        v.drops.clear();
        s.vrrp = vec![v.clone()];
        assert!(render(&s, 0).contains("VIPs 192.0.2.10/24\n"));
        v.sync_group = Some("g1 (fault)".into());
        s.vrrp = vec![v];
        assert!(render(&s, 0).contains("VIPs 192.0.2.10/24; sync group g1 (fault)\n"));
    }
}
