//! `services/NAME.yaml`: one IPVS virtual service (VIP:port/protocol or fwmark), how it
//! schedules and forwards, the hostgroup that serves it, and its Mon-style watch.
//!
//! Port normalisation: with `dr` and `tunnel` forwarding packets keep the service's port, so a
//! real server's port means nothing; the domain model always uses the virtual port for them
//! ([`Service::real_port`]), the way ipvsadm does, so that apply and diff agree.

use super::alert::{decode_alert, Alert};
use super::diagnostic::{Pos, Sink};
use super::fields::Fields;
use super::hostgroup::Node;
pub use super::protocol::Protocol;
use super::scalars::{boolean, family_word, int_in, ip, list, name, port, word};
use super::service_parts::{
    check_flags, decode_persistence, decode_quorum, decode_sorry, decode_tunnel, Quorum, ON_FAILURE,
};
pub use super::service_parts::{
    Family, OnFailure, Persistence, QuorumBy, Scheduler, SchedulerFlags, SorryMode, SorryServer,
    Tunnel, TunnelKind, DEFAULT_PERSISTENCE_TIMEOUT,
};
use super::watch::{self, Watch};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// A virtual service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Service {
    pub name: String,
    pub virtual_service: Virtual,
    pub scheduler: Scheduler,
    pub scheduler_flags: SchedulerFlags,
    pub persistent: Option<Persistence>,
    /// One-packet scheduling (ipvsadm -o), UDP only.
    pub one_packet: bool,
    pub forwarding: Forwarding,
    pub hostgroup: String,
    /// Real-server port for NAT when the node has none; see [`Service::real_port`].
    pub port: Option<u16>,
    /// Per real server connection limits (ipvsadm -x / -y); 0: none.
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    /// Fewest online real servers (or, with `quorum_by: weight`, least total weight of them)
    /// for the service to be up; below it the sorry server (if any) takes the traffic.
    /// Default 1.
    pub quorum: u32,
    /// What `quorum` counts: passing real servers (lbd's default) or their weights (keepalived's).
    pub quorum_by: QuorumBy,
    /// keepalived's `hysteresis`: once met, quorum is lost only below `quorum - hysteresis`;
    /// once lost, it is back only at `quorum + hysteresis`. Default 0.
    pub hysteresis: u32,
    /// keepalived's `quorum_up` / `quorum_down`: alert scripts (the watch's alert syntax and
    /// time limit) run when the quorum comes back / is lost, never at start.
    pub quorum_up: Vec<Alert>,
    pub quorum_down: Vec<Alert>,
    pub sorry_server: Option<SorryServer>,
    /// What a failing real server becomes (a node's own `on_failure` wins); default remove.
    pub on_failure: OnFailure,
    /// Mail this service's node and quorum alerts (true) or none of them (false), whatever
    /// director.yaml's `mail.on` says; default: as `mail.on` says.
    #[serde(default)]
    pub smtp_alert: Option<bool>,
    pub watch: Watch,
}

impl Service {
    /// The destination port of `node` for this service: the virtual port for dr and tunnel
    /// (the only port that means anything there); for nat the node's own port, else the
    /// service's `port`, else the virtual port. For fwmark services the virtual port is 0.
    pub fn real_port(&self, node: &Node) -> u16 {
        self.port_for(node.port)
    }

    /// The sorry server's destination port, normalised like [`Service::real_port`].
    pub fn sorry_port(&self, sorry: &SorryServer) -> u16 {
        self.port_for(sorry.port)
    }

    /// What `node` becomes in this service when it fails: its own `on_failure`, else the
    /// service's.
    pub fn on_failure_of(&self, node: &Node) -> OnFailure {
        node.on_failure.unwrap_or(self.on_failure)
    }

    fn port_for(&self, own: Option<u16>) -> u16 {
        let vport = self.virtual_service.port();
        match self.forwarding {
            Forwarding::Nat => own.or(self.port).unwrap_or(vport),
            Forwarding::Dr | Forwarding::Tunnel(_) => vport,
        }
    }
}

/// What the kernel matches packets on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Virtual {
    Address {
        protocol: Protocol,
        address: IpAddr,
        port: u16,
    },
    Fwmark {
        fwmark: u32,
        family: Family,
    },
}

impl Virtual {
    pub fn family(&self) -> Family {
        match self {
            Virtual::Address { address, .. } => Family::of(address),
            Virtual::Fwmark { family, .. } => *family,
        }
    }

    /// The virtual port; 0 for fwmark services.
    pub fn port(&self) -> u16 {
        match self {
            Virtual::Address { port, .. } => *port,
            Virtual::Fwmark { .. } => 0,
        }
    }
}

impl std::fmt::Display for Virtual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Virtual::Address {
                protocol,
                address: IpAddr::V6(a),
                port,
            } => write!(f, "{} [{a}]:{port}", protocol.name()),
            Virtual::Address {
                protocol,
                address,
                port,
            } => write!(f, "{} {address}:{port}", protocol.name()),
            Virtual::Fwmark { fwmark, family } => write!(f, "fwmark {fwmark} {}", family.name()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forwarding {
    /// Masquerading (ipvsadm -m).
    Nat,
    /// Direct routing (ipvsadm -g).
    Dr,
    /// IP-in-IP and friends (ipvsadm -i); the only method that may mix address families.
    Tunnel(Tunnel),
}

/// What the cross-file checks need: positions, and the references read even when another
/// part of the service is wrong (so an unknown hostgroup is reported with a bad scheduler).
#[derive(Debug, Default)]
pub(crate) struct ServiceSpots {
    pub name_value: Option<String>,
    pub virtual_value: Option<Virtual>,
    pub hostgroup_value: Option<String>,
    pub name: Pos,
    pub virtual_service: Pos,
    pub address: Pos,
    pub hostgroup: Pos,
    pub quorum: Pos,
    pub watch: Pos,
}

const FORWARDING: &[(&str, &str)] = &[("nat", "nat"), ("dr", "dr"), ("tunnel", "tunnel")];
const PROTOCOLS: &[(&str, Protocol)] = &[
    ("tcp", Protocol::Tcp),
    ("udp", Protocol::Udp),
    ("sctp", Protocol::Sctp),
];
const FAMILIES: &[(&str, Family)] = &[("ipv4", Family::Ipv4), ("ipv6", Family::Ipv6)];
const FLAGS: &[(&str, &str)] = &[
    ("sh-fallback", "sh-fallback"),
    ("sh-port", "sh-port"),
    ("mh-fallback", "mh-fallback"),
    ("mh-port", "mh-port"),
];

/// Decodes a service file; `default_name` is the file's stem.
pub(crate) fn decode(
    item: &Item,
    default_name: &str,
    spots: &mut ServiceSpots,
    sink: &mut Sink,
) -> Option<Service> {
    let mut f = Fields::of(item, "service", sink)?;
    let svc_name = f.or("name", sink, default_name.to_string(), name);
    let mut address_pos = Pos::FILE;
    let virt = f.req("virtual", sink, |item, sink| {
        decode_virtual(item, &mut address_pos, sink)
    });
    let scheduler = f.or(
        "scheduler",
        sink,
        Scheduler::Wlc,
        word("scheduler", Scheduler::ALL),
    );
    let flags = f.or(
        "scheduler_flags",
        sink,
        Vec::new(),
        list(word("scheduler flag", FLAGS)),
    );
    let persistent_item = f.get("persistent");
    let one_packet = f.or("one_packet", sink, false, boolean);
    let forwarding = f.or(
        "forwarding",
        sink,
        "nat",
        word("forwarding method", FORWARDING),
    );
    let tunnel = f.opt("tunnel", sink, decode_tunnel);
    let hostgroup = f.req("hostgroup", sink, name);
    let port_override = f.opt("port", sink, port);
    let upper = f.or(
        "upper_threshold",
        sink,
        0,
        int_in(0, i128::from(u32::MAX), "upper_threshold"),
    );
    let lower = f.or(
        "lower_threshold",
        sink,
        0,
        int_in(0, i128::from(u32::MAX), "lower_threshold"),
    );
    let quorum = f.or("quorum", sink, Quorum::default(), decode_quorum);
    let quorum_up = f.or("quorum_up", sink, Vec::new(), list(decode_alert));
    let quorum_down = f.or("quorum_down", sink, Vec::new(), list(decode_alert));
    let sorry_item = f.get("sorry_server");
    let on_failure = f.or(
        "on_failure",
        sink,
        OnFailure::Remove,
        word("on_failure", ON_FAILURE),
    );
    let smtp_alert = f.opt("smtp_alert", sink, boolean);
    let watch = f.req("watch", sink, watch::decode);
    *spots = ServiceSpots {
        name_value: svc_name.clone(),
        virtual_value: virt,
        hostgroup_value: hostgroup.clone(),
        name: if f.has("name") {
            f.pos_of("name")
        } else {
            Pos::FILE
        },
        virtual_service: f.pos_of("virtual"),
        address: address_pos,
        hostgroup: f.pos_of("hostgroup"),
        quorum: f.pos_of("quorum"),
        watch: f.pos_of("watch"),
    };
    let positions = [
        f.pos_of("scheduler_flags"),
        f.pos_of("one_packet"),
        f.key_pos("tunnel"),
        f.pos_of("lower_threshold"),
        f.pos_of("port"),
    ];
    let [flags_pos, one_packet_pos, tunnel_pos, lower_pos, port_pos] = positions;
    f.finish(sink);

    let virt = virt?;
    let family = virt.family();
    let persistent = persistent_item.map(|item| decode_persistence(item, family, sink));
    let sorry = sorry_item.map(|item| decode_sorry(item, sink));
    let (scheduler, flags, one_packet, forwarding, tunnel) =
        (scheduler?, flags?, one_packet?, forwarding?, tunnel?);
    let (upper, lower, port_override) = (upper?, lower?, port_override?);
    let mut ok = true;

    let scheduler_flags = check_flags(scheduler, &flags, flags_pos, sink);
    ok &= scheduler_flags.is_some();
    if one_packet
        && matches!(
            virt,
            Virtual::Address {
                protocol: Protocol::Tcp | Protocol::Sctp,
                ..
            }
        )
    {
        sink.error_hint(
            one_packet_pos,
            "one_packet needs a udp service",
            "one-packet scheduling is for UDP",
        );
        ok = false;
    }
    let forwarding = match (forwarding, tunnel) {
        ("tunnel", t) => Some(Forwarding::Tunnel(t.unwrap_or(Tunnel {
            kind: TunnelKind::Ipip,
            port: None,
        }))),
        (_, Some(_)) => {
            sink.error_hint(
                tunnel_pos,
                "`tunnel` given without tunnel forwarding",
                "set `forwarding: tunnel` or remove `tunnel`",
            );
            None
        }
        ("dr", None) => Some(Forwarding::Dr),
        _ => Some(Forwarding::Nat),
    };
    if upper > 0 && lower > upper {
        sink.error(
            lower_pos,
            format!("lower_threshold {lower} is above upper_threshold {upper}"),
        );
        ok = false;
    }
    if let (Some(p), Some(Forwarding::Dr | Forwarding::Tunnel(_))) = (port_override, forwarding) {
        sink.warn(
            port_pos,
            format!(
                "port {p} is ignored with {} forwarding",
                if forwarding == Some(Forwarding::Dr) {
                    "dr"
                } else {
                    "tunnel"
                }
            ),
            Some("real servers receive the service's own port".into()),
        );
    }
    let persistent = match persistent {
        Some(p) => Some(p?),
        None => None,
    };
    let sorry_server = match sorry {
        Some(s) => Some(s?),
        None => None,
    };
    let forwarding = forwarding?;
    if let Some(sorry) = &sorry_server {
        let mixed = Family::of(&sorry.address) != family;
        if mixed && !matches!(forwarding, Forwarding::Tunnel(_)) {
            sink.error_hint(
                address_of(item, "sorry_server"),
                format!(
                    "sorry server {} is {} but the virtual service is {}",
                    sorry.address,
                    family_word(&sorry.address),
                    family.name()
                ),
                "only tunnel forwarding may mix address families",
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let (quorum, quorum_up, quorum_down) = (quorum?, quorum_up?, quorum_down?);
    Some(Service {
        name: svc_name?,
        virtual_service: virt,
        scheduler,
        scheduler_flags: scheduler_flags?,
        persistent,
        one_packet,
        forwarding,
        hostgroup: hostgroup?,
        port: port_override,
        upper_threshold: upper,
        lower_threshold: lower,
        quorum: quorum.value,
        quorum_by: quorum.by,
        hysteresis: quorum.hysteresis,
        quorum_up,
        quorum_down,
        sorry_server,
        on_failure: on_failure?,
        smtp_alert: smtp_alert?,
        watch: watch?,
    })
}

/// The position of `key`'s `address` value inside the top-level mapping of `item`.
fn address_of(item: &Item, key: &str) -> Pos {
    let Value::Map(entries) = &item.value else {
        return item.pos;
    };
    let Some((_, inner)) = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
    else {
        return item.pos;
    };
    match &inner.value {
        Value::Map(fields) => fields
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "address"))
            .map_or(inner.pos, |(_, v)| v.pos),
        _ => inner.pos,
    }
}

fn decode_virtual(item: &Item, address_pos: &mut Pos, sink: &mut Sink) -> Option<Virtual> {
    let mut f = Fields::of(item, "virtual", sink)?;
    if f.has("fwmark") {
        let fwmark = f.req("fwmark", sink, int_in(1, i128::from(u32::MAX), "fwmark"));
        let family = f.or("family", sink, Family::Ipv4, word("family", FAMILIES));
        let extra = ["address", "port", "protocol"]
            .into_iter()
            .find(|k| f.has(k));
        if let Some(k) = extra {
            let pos = f.key_pos(k);
            f.known("address");
            f.known("port");
            f.known("protocol");
            f.finish(sink);
            sink.error_hint(
                pos,
                format!("`{k}` given with `fwmark`"),
                "a virtual service is either an address, port and protocol, or a fwmark",
            );
            return None;
        }
        f.finish(sink);
        return Some(Virtual::Fwmark {
            fwmark: fwmark?,
            family: family?,
        });
    }
    let protocol = f.or("protocol", sink, Protocol::Tcp, word("protocol", PROTOCOLS));
    let address = f.req("address", sink, ip);
    let vport = f.req("port", sink, port);
    f.known("fwmark");
    *address_pos = f.pos_of("address");
    f.finish(sink);
    let address = address?;
    if address.is_unspecified()
        || address.is_multicast()
        || address == IpAddr::V4(Ipv4Addr::BROADCAST)
    {
        sink.error(
            *address_pos,
            format!("virtual address {address} is not a unicast address"),
        );
        return None;
    }
    Some(Virtual::Address {
        protocol: protocol?,
        address,
        port: vport?,
    })
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
