//! `hostgroups/NAME.yaml`: a named group of nodes, like `/cluster/http_nodes` in the classic
//! scripts. Each node has a name, an address (IPv4 or IPv6), a weight and an optional port.
//! The group's `ping:` block is its liveness watch (Mon's per-hostgroup `ping` watch): a node
//! whose ping goes silent is `offline`, out of every service.

use super::alert::{decode_alert, Alert, DEFAULT_ALERT_TIMEOUT};
use super::diagnostic::{Pos, Sink};
use super::fields::Fields;
use super::scalars::{boolean, int_in, ip, list, name, port, positive, weight, word};
use super::service_parts::{OnFailure, ON_FAILURE};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Default time between two pings of a node.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(5);
/// Default time an echo reply may take.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Default silent pings in a row that make a node offline (one lost packet is not an outage).
pub const DEFAULT_PING_FALL: u32 = 2;
/// Default answered pings in a row that bring an offline node back.
pub const DEFAULT_PING_RISE: u32 = 1;

/// A hostgroup's liveness watch: every node is pinged (ICMP echo) every `interval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PingWatch {
    /// Default 5s.
    pub interval: Duration,
    /// Default 1s; less than `interval`.
    pub timeout: Duration,
    /// Answered pings in a row that bring an offline node online. Default 1.
    pub rise: u32,
    /// Silent pings in a row that make a node offline. Default 2.
    pub fall: u32,
    /// Scripts run when a node goes offline (Mon's `node_down.alert`), with their arguments.
    pub alert: Vec<Alert>,
    /// Scripts run when an offline node answers again (Mon's `node_up.alert`).
    pub upalert: Vec<Alert>,
    /// At most this many alerts per outage; default (`None`) 1, one alert per outage.
    pub numalerts: Option<u32>,
    /// An alert script running longer is killed. Default 30s.
    pub alert_timeout: Duration,
}

impl Default for PingWatch {
    fn default() -> Self {
        PingWatch {
            interval: DEFAULT_PING_INTERVAL,
            timeout: DEFAULT_PING_TIMEOUT,
            rise: DEFAULT_PING_RISE,
            fall: DEFAULT_PING_FALL,
            alert: Vec::new(),
            upalert: Vec::new(),
            numalerts: None,
            alert_timeout: DEFAULT_ALERT_TIMEOUT,
        }
    }
}

/// A named group of nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Hostgroup {
    pub name: String,
    pub nodes: Vec<Node>,
    /// The liveness watch; `None` with `ping: false` (nodes then count as always reachable).
    pub ping: Option<PingWatch>,
}

/// A node (a real server host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Node {
    pub name: String,
    pub address: IpAddr,
    /// 0-65535, default 1; 0 takes no new connections.
    pub weight: u32,
    /// This node's port for NAT services (wins over the service's `port`); see
    /// [`crate::config::Service::real_port`].
    pub port: Option<u16>,
    /// What this node becomes in its services when it fails, over each service's own
    /// `on_failure`; `None`: the service decides.
    pub on_failure: Option<OnFailure>,
}

/// Positions the cross-file checks need.
#[derive(Debug, Default)]
pub(crate) struct HostgroupSpots {
    /// Where the group's name was given (`name:` or the file itself).
    pub name: Pos,
    /// Each node's address value.
    pub addresses: Vec<Pos>,
}

/// Decodes a hostgroup file; `default_name` is the file's stem.
pub(crate) fn decode(
    item: &Item,
    default_name: &str,
    sink: &mut Sink,
) -> Option<(Hostgroup, HostgroupSpots)> {
    let mut f = Fields::of(item, "hostgroup", sink)?;
    let group_name = f.or("name", sink, default_name.to_string(), name);
    let mut spots = HostgroupSpots {
        name: if f.has("name") {
            f.pos_of("name")
        } else {
            Pos::FILE
        },
        addresses: Vec::new(),
    };
    let nodes_pos = f.pos_of("nodes");
    let nodes = f.opt("nodes", sink, |item, sink| {
        decode_nodes(item, &mut spots, sink)
    });
    let ping = f.or("ping", sink, Some(PingWatch::default()), decode_ping);
    f.finish(sink);
    let (group_name, nodes, ping) = (group_name?, nodes?, ping?);
    let nodes = match nodes {
        Some(n) if !n.is_empty() => n,
        _ => {
            sink.error_hint(
                nodes_pos,
                format!("hostgroup `{group_name}` has no nodes"),
                "list at least one node under `nodes:`",
            );
            return None;
        }
    };
    Some((
        Hostgroup {
            name: group_name,
            nodes,
            ping,
        },
        spots,
    ))
}

fn decode_nodes(item: &Item, spots: &mut HostgroupSpots, sink: &mut Sink) -> Option<Vec<Node>> {
    let Value::Seq(items) = &item.value else {
        sink.error(
            item.pos,
            format!("expected a list of nodes, found {}", item.kind()),
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    let mut names: HashMap<&str, Pos> = HashMap::with_capacity(items.len());
    let mut addresses: HashMap<IpAddr, Vec<(Option<u16>, Pos)>> =
        HashMap::with_capacity(items.len());
    let mut decoded = Vec::with_capacity(items.len());
    for it in items {
        match decode_node(it, sink) {
            Some(n) => decoded.push(n),
            None => ok = false,
        }
    }
    for (node, name_pos, addr_pos) in &decoded {
        if let Some(first) = names.insert(&node.name, *name_pos) {
            sink.error_hint(
                *name_pos,
                format!("duplicate node name `{}`", node.name),
                format!("first used at line {}", first.line),
            );
            ok = false;
        }
        let same = addresses.entry(node.address).or_default();
        // Two nodes on one address clash unless both name distinct ports.
        let clash = same
            .iter()
            .find(|(p, _)| p.is_none() || node.port.is_none() || *p == node.port);
        if let Some((_, first)) = clash {
            sink.error_hint(
                *addr_pos,
                format!("duplicate node address {}", node.address),
                format!("first used at line {}", first.line),
            );
            ok = false;
        }
        same.push((node.port, *addr_pos));
    }
    for (node, _, addr_pos) in decoded {
        spots.addresses.push(addr_pos);
        out.push(node);
    }
    ok.then_some(out)
}

fn decode_node(item: &Item, sink: &mut Sink) -> Option<(Node, Pos, Pos)> {
    let mut f = Fields::of(item, "node", sink)?;
    let node_name = f.req("name", sink, name);
    let address = f.req("address", sink, ip);
    let node_weight = f.or("weight", sink, 1, weight);
    let node_port = f.opt("port", sink, port);
    let on_failure = f.opt("on_failure", sink, word("on_failure", ON_FAILURE));
    let (name_pos, addr_pos) = (f.pos_of("name"), f.pos_of("address"));
    f.finish(sink);
    let address = address?;
    if address.is_unspecified() || address.is_multicast() {
        sink.error(
            addr_pos,
            format!("node address {address} is not a unicast address"),
        );
        return None;
    }
    Some((
        Node {
            name: node_name?,
            address,
            weight: node_weight?,
            port: node_port?,
            on_failure: on_failure?,
        },
        name_pos,
        addr_pos,
    ))
}

/// `ping: false`, `ping: true` or a mapping (`enabled`, `interval`, `timeout`, `rise`, `fall`,
/// and the alerts as in a service's watch: `alert`, `upalert`, `numalerts`, `alert_timeout`).
fn decode_ping(item: &Item, sink: &mut Sink) -> Option<Option<PingWatch>> {
    if let Value::Bool(on) = item.value {
        return Some(on.then(PingWatch::default));
    }
    if !matches!(item.value, Value::Map(_)) {
        sink.error_hint(
            item.pos,
            format!("expected a ping watch, found {}", item.kind()),
            "write `ping: false`, or a mapping such as `ping: {interval: 5s, timeout: 1s}`",
        );
        return None;
    }
    let mut f = Fields::of(item, "ping", sink)?;
    let enabled = f.or("enabled", sink, true, boolean);
    let interval = f.or("interval", sink, DEFAULT_PING_INTERVAL, positive);
    let timeout = f.or("timeout", sink, DEFAULT_PING_TIMEOUT, positive);
    let rise = f.or("rise", sink, DEFAULT_PING_RISE, int_in(1, 100, "rise"));
    let fall = f.or("fall", sink, DEFAULT_PING_FALL, int_in(1, 100, "fall"));
    let alert = f.or("alert", sink, Vec::new(), list(decode_alert));
    let upalert = f.or("upalert", sink, Vec::new(), list(decode_alert));
    let numalerts = f.opt("numalerts", sink, int_in(1, 1_000_000, "numalerts"));
    let alert_timeout = f.or("alert_timeout", sink, DEFAULT_ALERT_TIMEOUT, positive);
    let timeout_pos = if f.has("timeout") {
        f.pos_of("timeout")
    } else {
        f.pos_of("interval")
    };
    f.finish(sink);
    let (enabled, interval, timeout) = (enabled?, interval?, timeout?);
    let (rise, fall) = (rise?, fall?);
    let (alert, upalert, numalerts, alert_timeout) = (alert?, upalert?, numalerts?, alert_timeout?);
    if timeout >= interval {
        sink.error_hint(
            timeout_pos,
            format!(
                "ping timeout {} is not shorter than interval {}",
                super::format_duration(timeout),
                super::format_duration(interval)
            ),
            "a ping must be answered before the next one is sent",
        );
        return None;
    }
    Some(enabled.then_some(PingWatch {
        interval,
        timeout,
        rise,
        fall,
        alert,
        upalert,
        numalerts,
        alert_timeout,
    }))
}
