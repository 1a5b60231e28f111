//! `hostgroups/NAME.yaml`: a named group of nodes, like `/cluster/http_nodes` in the classic
//! scripts. Each node has a name, an address (IPv4 or IPv6), a weight and an optional port.

use super::diagnostic::{Pos, Sink};
use super::fields::Fields;
use super::scalars::{ip, name, port, weight};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// A named group of nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hostgroup {
    pub name: String,
    pub nodes: Vec<Node>,
}

/// A node (a real server host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub address: IpAddr,
    /// 0-65535, default 1; 0 takes no new connections.
    pub weight: u32,
    /// This node's port for NAT services (wins over the service's `port`); see
    /// [`crate::config::Service::real_port`].
    pub port: Option<u16>,
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
    f.finish(sink);
    let (group_name, nodes) = (group_name?, nodes?);
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
        },
        name_pos,
        addr_pos,
    ))
}
