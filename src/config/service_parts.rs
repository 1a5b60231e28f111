//! How a service schedules, persists and forwards, what happens to a failing real server, and
//! its sorry server: the types and the parts of a service block that have rules of their own
//! (which scheduler takes which flag, the tunnel kinds, persistence's timeout and netmask by
//! address family).

use super::diagnostic::{Pos, Sink};
use super::fields::Fields;
use super::scalars::{int_in, ip, port, weight, whole_seconds, word};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Default persistence timeout (ipvsadm's).
pub const DEFAULT_PERSISTENCE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// Every IPVS scheduler the kernel has (`ip_vs_<name>.ko`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
    Twos,
}

impl Scheduler {
    /// Every scheduler with its kernel name.
    pub const ALL: &'static [(&'static str, Scheduler)] = &[
        ("rr", Scheduler::Rr),
        ("wrr", Scheduler::Wrr),
        ("lc", Scheduler::Lc),
        ("wlc", Scheduler::Wlc),
        ("lblc", Scheduler::Lblc),
        ("lblcr", Scheduler::Lblcr),
        ("dh", Scheduler::Dh),
        ("sh", Scheduler::Sh),
        ("sed", Scheduler::Sed),
        ("nq", Scheduler::Nq),
        ("fo", Scheduler::Fo),
        ("ovf", Scheduler::Ovf),
        ("mh", Scheduler::Mh),
        ("twos", Scheduler::Twos),
    ];

    /// The kernel's name (`IPVS_SVC_ATTR_SCHED_NAME`).
    pub fn name(&self) -> &'static str {
        Scheduler::ALL
            .iter()
            .find(|(_, s)| s == self)
            .map_or("?", |(n, _)| n)
    }
}

/// ipvsadm -b flags; `sh-*` only with sh, `mh-*` only with mh. In the kernel, `*-fallback`
/// is IP_VS_SVC_F_SCHED1 and `*-port` IP_VS_SVC_F_SCHED2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchedulerFlags {
    pub fallback: bool,
    pub port: bool,
}

/// Client affinity (ipvsadm -p / -M).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Persistence {
    /// Whole seconds. Default 300s.
    pub timeout: Duration,
    /// Client addresses sharing this prefix stick to one real server. Default /32 or /128.
    pub netmask: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// UDP port, GUE only.
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    Ipip,
    Gue,
    Gre,
}

/// Takes the traffic when fewer than `quorum` real servers are online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SorryServer {
    pub address: IpAddr,
    pub port: Option<u16>,
    pub weight: u32,
    pub mode: SorryMode,
}

/// What the sorry server does to the real servers still passing when it comes in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SorryMode {
    /// Added next to them (lbd's default): the survivors keep their share.
    #[default]
    Beside,
    /// They leave (or go to weight 0 with `on_failure: inhibit`) until quorum is back:
    /// keepalived's sorry_server.
    Replace,
}

/// What a failing (or offline) real server becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Deleted from the table (the default; ipvsadm -d).
    #[default]
    Remove,
    /// Kept with weight 0: no new connections, the established ones and persistence templates
    /// stay (keepalived's inhibit_on_failure, ldirectord's quiescent).
    Inhibit,
}

/// The words of `on_failure`.
pub(crate) const ON_FAILURE: &[(&str, OnFailure)] = &[
    ("remove", OnFailure::Remove),
    ("inhibit", OnFailure::Inhibit),
];

const SORRY_MODES: &[(&str, SorryMode)] = &[
    ("beside", SorryMode::Beside),
    ("replace", SorryMode::Replace),
];

const TUNNELS: &[(&str, TunnelKind)] = &[
    ("ipip", TunnelKind::Ipip),
    ("gue", TunnelKind::Gue),
    ("gre", TunnelKind::Gre),
];

pub(super) fn check_flags(
    scheduler: Scheduler,
    flags: &[&str],
    pos: Pos,
    sink: &mut Sink,
) -> Option<SchedulerFlags> {
    let mut out = SchedulerFlags::default();
    for flag in flags {
        let (sched, what) = flag.split_once('-').unwrap_or((flag, ""));
        if sched != scheduler.name() {
            sink.error_hint(
                pos,
                format!(
                    "scheduler flag `{flag}` does not apply to scheduler {}",
                    scheduler.name()
                ),
                format!("`{flag}` is for the {sched} scheduler"),
            );
            return None;
        }
        match what {
            "fallback" => out.fallback = true,
            _ => out.port = true,
        }
    }
    Some(out)
}

pub(super) fn decode_tunnel(item: &Item, sink: &mut Sink) -> Option<Tunnel> {
    let mut f = Fields::of(item, "tunnel", sink)?;
    let kind = f.or("type", sink, TunnelKind::Ipip, word("tunnel type", TUNNELS));
    let tport = f.opt("port", sink, port);
    let (pos, port_pos) = (f.pos(), f.pos_of("port"));
    f.finish(sink);
    let (kind, tport) = (kind?, tport?);
    match (kind, tport) {
        (TunnelKind::Gue, None) => {
            sink.error_hint(
                pos,
                "gue tunnel needs a `port`",
                "the UDP port the real servers decapsulate on",
            );
            None
        }
        (TunnelKind::Ipip | TunnelKind::Gre, Some(_)) => {
            sink.error(port_pos, "only gue tunnels take a `port`");
            None
        }
        _ => Some(Tunnel { kind, port: tport }),
    }
}

/// `persistent: 300s` or `persistent: {timeout: 300s, netmask: 255.255.255.0}`.
pub(super) fn decode_persistence(
    item: &Item,
    family: Family,
    sink: &mut Sink,
) -> Option<Persistence> {
    let full = match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    };
    if let Value::Str(_) = item.value {
        return Some(Persistence {
            timeout: persistence_timeout(item, sink)?,
            netmask: full,
        });
    }
    let mut f = Fields::of(item, "persistent", sink)?;
    let timeout = f.or(
        "timeout",
        sink,
        DEFAULT_PERSISTENCE_TIMEOUT,
        persistence_timeout,
    );
    let netmask = f.or("netmask", sink, full, |item, sink| {
        netmask(item, family, sink)
    });
    f.finish(sink);
    Some(Persistence {
        timeout: timeout?,
        netmask: netmask?,
    })
}

pub(super) fn persistence_timeout(item: &Item, sink: &mut Sink) -> Option<std::time::Duration> {
    let d = whole_seconds(item, sink)?;
    if d.is_zero() || d.as_secs() > u64::from(u32::MAX) {
        sink.error(
            item.pos,
            "persistence timeout out of range (1s to 4294967295s)",
        );
        return None;
    }
    Some(d)
}

/// IPv4: a dotted mask (`255.255.255.0`) or a prefix (`24`, `/24`); IPv6: a prefix 1-128.
pub(super) fn netmask(item: &Item, family: Family, sink: &mut Sink) -> Option<u8> {
    let text = item.scalar_text().unwrap_or_default();
    let text = text.trim().trim_start_matches('/');
    let (max, name) = match family {
        Family::Ipv4 => (32, "IPv4"),
        Family::Ipv6 => (128, "IPv6"),
    };
    if let Ok(prefix) = text.parse::<u32>() {
        if (1..=max).contains(&prefix) {
            return u8::try_from(prefix).ok();
        }
        sink.error(
            item.pos,
            format!("persistence netmask /{prefix} is out of range for {name} (1-{max})"),
        );
        return None;
    }
    match (family, text.parse::<Ipv4Addr>()) {
        (Family::Ipv4, Ok(mask)) => {
            let bits = u32::from(mask);
            if bits.leading_ones() + bits.trailing_zeros() == 32 && bits != 0 {
                return u8::try_from(bits.leading_ones()).ok();
            }
            sink.error(
                item.pos,
                format!("persistence netmask {mask} is not a contiguous mask"),
            );
            None
        }
        (Family::Ipv6, Ok(_)) => {
            sink.error_hint(
                item.pos,
                format!("persistence netmask {text} is IPv4 but the service is IPv6"),
                "give an IPv6 prefix length, 1-128",
            );
            None
        }
        _ => {
            sink.error_hint(
                item.pos,
                format!("invalid persistence netmask `{text}`"),
                "write a dotted mask (255.255.255.0) or a prefix length (24)",
            );
            None
        }
    }
}

pub(super) fn decode_sorry(item: &Item, sink: &mut Sink) -> Option<SorryServer> {
    let mut f = Fields::of(item, "sorry_server", sink)?;
    let address = f.req("address", sink, ip);
    let sport = f.opt("port", sink, port);
    let sweight = f.or("weight", sink, 1, weight);
    let mode = f.or(
        "mode",
        sink,
        SorryMode::Beside,
        word("sorry server mode", SORRY_MODES),
    );
    f.finish(sink);
    Some(SorryServer {
        address: address?,
        port: sport?,
        weight: sweight?,
        mode: mode?,
    })
}

/// What a service's `quorum` counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuorumBy {
    /// Passing real servers with a weight above 0 (lbd's `quorum: N`).
    #[default]
    Count,
    /// The sum of their weights (keepalived's `quorum`).
    Weight,
}

/// A service's quorum as written: `quorum: N`, or `quorum: {count: N}` /
/// `quorum: {weight: N, hysteresis: H}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Quorum {
    pub value: u32,
    pub by: QuorumBy,
    pub hysteresis: u32,
}

impl Default for Quorum {
    fn default() -> Quorum {
        Quorum {
            value: 1,
            by: QuorumBy::Count,
            hysteresis: 0,
        }
    }
}

const QUORUM_MAX: i128 = i32::MAX as i128;

/// `quorum: 2`, `quorum: {count: 2, hysteresis: 1}` or `quorum: {weight: 10, hysteresis: 2}`.
pub(super) fn decode_quorum(item: &Item, sink: &mut Sink) -> Option<Quorum> {
    if let Value::Int(_) = item.value {
        let value = int_in(1, 65_535, "quorum")(item, sink)?;
        return Some(Quorum {
            value,
            ..Quorum::default()
        });
    }
    let mut f = Fields::of(item, "quorum", sink)?;
    let count = f.opt("count", sink, int_in(1, 65_535, "quorum count"));
    let weight = f.opt("weight", sink, int_in(1, QUORUM_MAX, "quorum weight"));
    let hysteresis = f.or(
        "hysteresis",
        sink,
        0,
        int_in(0, QUORUM_MAX, "quorum hysteresis"),
    );
    let (pos, hpos) = (f.pos(), f.pos_of("hysteresis"));
    f.finish(sink);
    let (count, weight, hysteresis) = (count?, weight?, hysteresis?);
    let (value, by) = match (count, weight) {
        (Some(n), None) => (n, QuorumBy::Count),
        (None, Some(w)) => (w, QuorumBy::Weight),
        _ => {
            sink.error_hint(
                pos,
                "quorum needs exactly one of `count` and `weight`",
                "count: passing real servers; weight: the least sum of their weights, as keepalived counts",
            );
            return None;
        }
    };
    if hysteresis >= value {
        sink.error_hint(
            hpos,
            format!("quorum hysteresis {hysteresis} is not below the quorum {value}"),
            "quorum is lost below quorum - hysteresis: that could never happen",
        );
        return None;
    }
    Some(Quorum {
        value,
        by,
        hysteresis,
    })
}
