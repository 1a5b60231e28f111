//! `global_defs`: the router id becomes the director's name, `vrrp_version` the default
//! VRRP version of the instances, `vrrp_rt_priority` and `lvs_sync_daemon` their lbd keys;
//! mail, script users, GARP timing and the rest are reported.

use super::findings::Report;
use super::pos::Pos;
use super::tree::Node;
use super::values::{int_in, lbd_name};
use crate::import::yaml_out::Y;
use std::net::IpAddr;

/// What the translators need from global_defs.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    pub router_id: Option<(String, Pos)>,
    /// `vrrp_version`, and where it was set.
    pub vrrp_version: Option<(u8, Pos)>,
    pub rt_priority: Option<i64>,
    /// The `lvs_sync_daemon` statement.
    pub sync_daemon: Option<Node>,
    /// The global_defs blocks (for the header of director.yaml).
    pub origin: Vec<(Pos, u32, String)>,
}

const MAIL: &str =
    "lbd sends no mail itself: give the service watches an alert script (Mon's mail.alert)";
const GARP: &str = "lbd's gratuitous ARP / NA timing is fixed: 5 messages 200 ms apart on becoming master, again every 60 s";
const SCRIPTS: &str =
    "lbd runs hooks and monitors as its own user and checks no script permissions";

/// Reads every global_defs block.
pub fn read(statements: &[Node], report: &mut Report) -> Globals {
    let mut g = Globals::default();
    for block in statements.iter().filter(|n| n.keyword == "global_defs") {
        g.origin
            .push((block.at.clone(), block.last_line(), "global_defs".into()));
        for n in block.children() {
            let k = n.keyword.as_str();
            match k {
                "router_id" | "lvs_id" => match n.arg(0) {
                    Some(id) => {
                        report.translated(&n.at, format!("router_id {id} → director.yaml name"));
                        g.router_id = Some((id.to_string(), n.at.clone()));
                    }
                    None => report.dropped(&n.at, k, "no value"),
                },
                "vrrp_version" => match n.arg(0).and_then(|v| int_in(v, 2, 3)) {
                    Some(v) => g.vrrp_version = Some((v as u8, n.at.clone())),
                    None => report.dropped(&n.at, k, "expected 2 or 3"),
                },
                "vrrp_rt_priority" => match n.arg(0).and_then(|v| int_in(v, 1, 99)) {
                    Some(v) => {
                        report.translated(
                            &n.at,
                            format!("vrrp_rt_priority {v} → director.yaml vrrp_rt_priority"),
                        );
                        g.rt_priority = Some(v);
                    }
                    None => report.dropped(&n.at, k, "lbd takes a real-time priority of 1-99"),
                },
                "lvs_sync_daemon" => g.sync_daemon = Some(n.clone()),
                "notification_email"
                | "notification_email_from"
                | "smtp_server"
                | "smtp_helo_name"
                | "smtp_connect_timeout"
                | "smtp_alert"
                | "smtp_alert_vrrp"
                | "smtp_alert_checker"
                | "no_email_faults"
                | "email_faults" => report.dropped(&n.at, k, MAIL),
                "script_user" | "enable_script_security" => report.dropped(&n.at, k, SCRIPTS),
                k if k.starts_with("vrrp_garp_")
                    || k.starts_with("vrrp_gna_")
                    || k == "vrrp_min_garp"
                    || k.starts_with("vrrp_lower_prio") =>
                {
                    report.dropped(&n.at, k, GARP)
                }
                "vrrp_mcast_group4" if n.arg(0) == Some("224.0.0.18") => {
                    report.ignored(&n.at, k, "the default group, lbd's too")
                }
                "vrrp_mcast_group6" if n.arg(0) == Some("ff02::12") => {
                    report.ignored(&n.at, k, "the default group, lbd's too")
                }
                "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
                    report.dropped(&n.at, k, "lbd advertises to 224.0.0.18 / ff02::12 only")
                }
                "vrrp_strict" => report.dropped(&n.at, k, "lbd has no strict RFC mode"),
                "lvs_timeouts" => {
                    report.dropped(&n.at, k, "lbd leaves the IPVS timeouts as they are")
                }
                "lvs_flush" | "lvs_flush_on_stop" => report.dropped(
                    &n.at,
                    k,
                    "lbd never flushes the IPVS table: it adopts what is there and repairs drift",
                ),
                "checker_log_all_failures" | "log_unknown_vrids" | "vrrp_check_unicast_src" => {
                    report.dropped(&n.at, k, "lbd has no equivalent of this setting")
                }
                _ => report.dropped(&n.at, k, "lbd has no equivalent of this global setting"),
            }
        }
    }
    g
}

/// The director.yaml mapping before the VRRP instances are added.
pub fn director(g: &Globals, default_name: &str) -> Y {
    let name = match &g.router_id {
        Some((id, _)) => lbd_name(id, "director"),
        None => lbd_name(default_name, "director"),
    };
    let mut d = Y::map();
    d.set_commented(
        "name",
        Y::str(name),
        g.router_id
            .is_none()
            .then(|| "no router_id in global_defs: the host name, as keepalived".to_string()),
    );
    if let Some(p) = g.rt_priority {
        d.set("vrrp_rt_priority", Y::Int(p));
    }
    d
}

/// `lvs_sync_daemon IF [INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group ADDR]` →
/// `sync_daemon`. The sync id defaults to the instance's VRID, as in keepalived.
pub fn sync_daemon(g: &Globals, vrids: &[(String, i64)], report: &mut Report) -> Option<Y> {
    let n = g.sync_daemon.as_ref()?;
    let Some(iface) = n.arg(0) else {
        report.dropped(&n.at, "lvs_sync_daemon", "no interface given");
        return None;
    };
    let mut s = Y::map();
    s.set("interface", Y::str(iface));
    let (mut instance, mut id, mut port, mut ttl, mut group) = (None, None, None, None, None);
    let mut i = 1;
    while let Some(word) = n.arg(i) {
        let value = n.arg(i + 1);
        match word {
            "id" => id = value.and_then(|v| int_in(v, 0, 255)),
            "port" => port = value.and_then(|v| int_in(v, 1, 65535)),
            "ttl" => ttl = value.and_then(|v| int_in(v, 1, 255)),
            "group" => group = value.and_then(|v| v.parse::<IpAddr>().ok()),
            "maxlen" => report.dropped(
                n.arg_at(i),
                "lvs_sync_daemon maxlen",
                "lbd leaves the sync message size to the kernel",
            ),
            other if instance.is_none() => {
                instance = Some(other.to_string());
                i += 1;
                continue;
            }
            other => report.dropped(n.arg_at(i), other, "not an lvs_sync_daemon option"),
        }
        i += 2;
    }
    let inst = match &instance {
        Some(name) => vrids.iter().find(|(n, _)| n == name),
        None => vrids.first(),
    };
    let sync_id = id.or(inst.map(|(_, v)| *v));
    let Some(sync_id) = sync_id.filter(|v| (0..=255).contains(v)) else {
        report.dropped(
            &n.at,
            "lvs_sync_daemon",
            "no sync id: give `id N` or a VRRP instance",
        );
        return None;
    };
    s.set("sync_id", Y::Int(sync_id));
    if let Some(g) = group {
        s.set("multicast_group", Y::str(g.to_string()));
    }
    if let Some(p) = port {
        s.set("port", Y::Int(p));
    }
    if let Some(t) = ttl {
        s.set("ttl", Y::Int(t));
    }
    if let Some((name, _)) = inst {
        s.set("instance", Y::str(lbd_name(name, "vrrp")));
    }
    report.translated(
        &n.at,
        format!("lvs_sync_daemon {iface} → director.yaml sync_daemon"),
    );
    Some(s)
}
