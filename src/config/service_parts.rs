//! The parts of a service block that have rules of their own: scheduler flags (which
//! scheduler takes which), the tunnel, persistence (timeout and netmask by family) and the sorry
//! server.

use super::diagnostic::{Pos, Sink};
use super::fields::Fields;
use super::scalars::{ip, port, weight, whole_seconds, word};
use super::service::{
    Family, Persistence, Scheduler, SchedulerFlags, SorryServer, Tunnel, TunnelKind,
    DEFAULT_PERSISTENCE_TIMEOUT, TUNNELS,
};
use super::yaml::{Item, Value};
use std::net::Ipv4Addr;

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
    f.finish(sink);
    Some(SorryServer {
        address: address?,
        port: sport?,
        weight: sweight?,
    })
}
