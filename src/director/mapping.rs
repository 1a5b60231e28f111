//! The configuration in the kernel's words: a configured service as an IPVS [`Service`] (key,
//! scheduler, persistence, flags) and its forwarding method. Pure; the plan, start-up's
//! adoption and `lbctl apply` all map through here, so they can never disagree.

use crate::config;
use crate::ipvs::{
    Family, ForwardMethod, Protocol, Service, ServiceKey, SvcFlags, Tunnel, TunnelType,
};

/// The kernel's key of a configured service.
pub fn key_of(svc: &config::Service) -> ServiceKey {
    match svc.virtual_service {
        config::Virtual::Address {
            protocol,
            address,
            port,
        } => ServiceKey::Addr {
            protocol: match protocol {
                config::Protocol::Tcp => Protocol::Tcp,
                config::Protocol::Udp => Protocol::Udp,
                config::Protocol::Sctp => Protocol::Sctp,
            },
            addr: address,
            port,
        },
        config::Virtual::Fwmark { fwmark, family } => ServiceKey::Fwmark {
            family: match family {
                config::Family::Ipv4 => Family::Ipv4,
                config::Family::Ipv6 => Family::Ipv6,
            },
            mark: fwmark,
        },
    }
}

/// The kernel's view of a configured service: key and settings.
pub fn service_of(svc: &config::Service) -> Service {
    let mut s = Service::new(key_of(svc), svc.scheduler.name());
    if let Some(p) = svc.persistent {
        s.flags.0 |= SvcFlags::PERSISTENT;
        s.timeout = u32::try_from(p.timeout.as_secs()).unwrap_or(u32::MAX);
        s.netmask = p.netmask;
    }
    if svc.one_packet {
        s.flags.0 |= SvcFlags::ONEPACKET;
    }
    if svc.scheduler_flags.fallback {
        s.flags.0 |= SvcFlags::SH_FALLBACK;
    }
    if svc.scheduler_flags.port {
        s.flags.0 |= SvcFlags::SH_PORT;
    }
    s
}

/// The forwarding method of a configured service.
pub fn forward_of(svc: &config::Service) -> ForwardMethod {
    match svc.forwarding {
        config::Forwarding::Nat => ForwardMethod::Masq,
        config::Forwarding::Dr => ForwardMethod::Route,
        config::Forwarding::Tunnel(t) => ForwardMethod::Tunnel(Tunnel {
            kind: match t.kind {
                config::TunnelKind::Ipip => TunnelType::Ipip,
                config::TunnelKind::Gue => TunnelType::Gue,
                config::TunnelKind::Gre => TunnelType::Gre,
            },
            port: t.port.unwrap_or(0),
            flags: 0,
        }),
    }
}

/// The port a node's real server has in the kernel for `svc`: the configured one for NAT, the
/// virtual port for direct routing and tunnels (as ipvsadm normalises it).
pub fn real_port(svc: &config::Service, node: &config::Node) -> u16 {
    crate::ipvs::normalise_dest_port(&key_of(svc), forward_of(svc), svc.real_port(node))
}
