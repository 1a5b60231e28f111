//! Domain types ↔ attribute lists: what a request carries for a service or destination, and
//! how a reply's attributes become a `ServiceEntry`/`DestEntry`. A reply missing a mandatory
//! attribute is a `DecodeError`, not a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::DecodeError;

use super::attr::{DaemonAttr, DestAttr, FlagsMask, StatsAttr, SvcAttr};
use super::constants::*;
use super::types::*;

/// 16-byte form of an address (IPv4 in the first 4 bytes).
pub fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// The address in a 16-byte attribute, read according to `family`.
pub fn addr_from_bytes(family: Family, b: &[u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*b)),
    }
}

/// Raw `IPVS_SVC_ATTR_NETMASK` value for a prefix length: a byte mask (network order) for
/// IPv4, the prefix length itself for IPv6.
pub fn netmask_raw(family: Family, prefix: u8) -> u32 {
    match family {
        Family::Ipv4 => {
            let p = u32::from(prefix.min(32));
            let mask: u32 = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            u32::from_ne_bytes(mask.to_be_bytes())
        }
        Family::Ipv6 => u32::from(prefix.min(128)),
    }
}

/// Prefix length of a raw netmask value (a non-contiguous IPv4 mask counts its leading ones).
pub fn netmask_prefix(family: Family, raw: u32) -> u8 {
    match family {
        Family::Ipv4 => u32::from_be_bytes(raw.to_ne_bytes()).leading_ones() as u8,
        Family::Ipv6 => raw.min(128) as u8,
    }
}

/// The identifying attributes of a service (enough for DEL/GET/ZERO and dest commands).
pub fn service_key_attrs(key: &ServiceKey) -> Vec<SvcAttr> {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => vec![
            SvcAttr::Af(Family::of(addr).af()),
            SvcAttr::Protocol(protocol.number()),
            SvcAttr::Addr(addr_bytes(addr)),
            SvcAttr::Port(*port),
        ],
        ServiceKey::Fwmark { family, mark } => {
            vec![SvcAttr::Af(family.af()), SvcAttr::Fwmark(*mark)]
        }
    }
}

/// The full attributes of a service (NEW/SET_SERVICE). Flags go with mask `!0`, as ipvsadm
/// sends them: the kernel then takes exactly these flags (and re-adds HASHED itself).
pub fn service_attrs(svc: &Service) -> Vec<SvcAttr> {
    let mut attrs = service_key_attrs(&svc.key);
    attrs.push(SvcAttr::SchedName(svc.scheduler.clone()));
    if let Some(pe) = &svc.pe_name {
        attrs.push(SvcAttr::PeName(pe.clone()));
    }
    attrs.push(SvcAttr::Flags(FlagsMask {
        flags: svc.flags.0 & !SvcFlags::HASHED,
        mask: !0,
    }));
    attrs.push(SvcAttr::Timeout(svc.timeout));
    attrs.push(SvcAttr::Netmask(netmask_raw(svc.key.family(), svc.netmask)));
    attrs
}

fn missing(what: &str) -> DecodeError {
    DecodeError::from(format!("missing {what}"))
}

/// Statistics from a STATS or STATS64 attribute list.
pub fn stats_from_attrs(attrs: &[StatsAttr]) -> Stats {
    let mut s = Stats::default();
    for a in attrs {
        match a {
            StatsAttr::Conns(c) => s.conns = c.value(),
            StatsAttr::InPkts(c) => s.inpkts = c.value(),
            StatsAttr::OutPkts(c) => s.outpkts = c.value(),
            StatsAttr::InBytes(c) => s.inbytes = c.value(),
            StatsAttr::OutBytes(c) => s.outbytes = c.value(),
            StatsAttr::Cps(c) => s.cps = c.value(),
            StatsAttr::InPps(c) => s.inpps = c.value(),
            StatsAttr::OutPps(c) => s.outpps = c.value(),
            StatsAttr::InBps(c) => s.inbps = c.value(),
            StatsAttr::OutBps(c) => s.outbps = c.value(),
            _ => {}
        }
    }
    s
}

/// A service (and its statistics) from the attributes of a service reply.
pub fn service_from_attrs(attrs: &[SvcAttr]) -> Result<(Service, Stats), DecodeError> {
    let (mut af, mut proto, mut addr, mut port, mut fwmark) = (None, None, None, None, None);
    let (mut sched, mut flags, mut timeout, mut netmask, mut pe) = (None, None, None, None, None);
    let (mut stats, mut stats64) = (None, None);
    for a in attrs {
        match a {
            SvcAttr::Af(v) => af = Some(*v),
            SvcAttr::Protocol(v) => proto = Some(*v),
            SvcAttr::Addr(v) => addr = Some(*v),
            SvcAttr::Port(v) => port = Some(*v),
            SvcAttr::Fwmark(v) => fwmark = Some(*v),
            SvcAttr::SchedName(v) => sched = Some(v.clone()),
            SvcAttr::Flags(v) => flags = Some(*v),
            SvcAttr::Timeout(v) => timeout = Some(*v),
            SvcAttr::Netmask(v) => netmask = Some(*v),
            SvcAttr::PeName(v) => pe = Some(v.clone()),
            SvcAttr::Stats(v) => stats = Some(stats_from_attrs(v)),
            SvcAttr::Stats64(v) => stats64 = Some(stats_from_attrs(v)),
            _ => {}
        }
    }
    let af = af.ok_or_else(|| missing("service address family"))?;
    let family = Family::from_af(af)
        .ok_or_else(|| DecodeError::from(format!("service address family {af} unknown")))?;
    let key = match fwmark {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { family, mark },
        _ => {
            let p = proto.ok_or_else(|| missing("service protocol"))?;
            let protocol = Protocol::from_number(p)
                .ok_or_else(|| DecodeError::from(format!("service protocol {p} unknown")))?;
            let addr = addr.ok_or_else(|| missing("service address"))?;
            let port = port.ok_or_else(|| missing("service port"))?;
            ServiceKey::Addr {
                protocol,
                addr: addr_from_bytes(family, &addr),
                port,
            }
        }
    };
    let flags = flags.ok_or_else(|| missing("service flags"))?;
    let svc = Service {
        key,
        scheduler: sched.ok_or_else(|| missing("service scheduler"))?,
        flags: SvcFlags::from_kernel(flags.flags),
        timeout: timeout.ok_or_else(|| missing("service timeout"))?,
        netmask: netmask_prefix(family, netmask.ok_or_else(|| missing("service netmask"))?),
        pe_name: pe,
    };
    Ok((svc, stats64.or(stats).unwrap_or_default()))
}

/// The identifying attributes of a destination (DEL_DEST).
pub fn dest_key_attrs(addr: &IpAddr, port: u16) -> Vec<DestAttr> {
    vec![
        DestAttr::AddrFamily(Family::of(addr).af()),
        DestAttr::Addr(addr_bytes(addr)),
        DestAttr::Port(port),
    ]
}

/// The full attributes of a destination (NEW/SET_DEST).
pub fn dest_attrs(d: &Dest) -> Vec<DestAttr> {
    let mut attrs = dest_key_attrs(&d.addr, d.port);
    attrs.push(DestAttr::FwdMethod(d.forward.number()));
    attrs.push(DestAttr::Weight(d.weight));
    attrs.push(DestAttr::UThresh(d.upper_threshold));
    attrs.push(DestAttr::LThresh(d.lower_threshold));
    if let ForwardMethod::Tunnel(t) = d.forward {
        attrs.push(DestAttr::TunType(t.kind.number()));
        attrs.push(DestAttr::TunPort(t.port));
        attrs.push(DestAttr::TunFlags(t.flags));
    }
    attrs
}

/// A destination from the attributes of a dest reply; `family` is the service's, used when
/// the kernel does not say the destination's own.
pub fn dest_from_attrs(family: Family, attrs: &[DestAttr]) -> Result<DestEntry, DecodeError> {
    let (mut addr, mut port, mut fwd, mut weight, mut uth, mut lth) =
        (None, None, None, None, None, None);
    let (mut active, mut inact, mut persist) = (0, 0, 0);
    let (mut af, mut stats, mut stats64) = (None, None, None);
    let mut tunnel = Tunnel::default();
    for a in attrs {
        match a {
            DestAttr::Addr(v) => addr = Some(*v),
            DestAttr::Port(v) => port = Some(*v),
            DestAttr::FwdMethod(v) => fwd = Some(*v),
            DestAttr::Weight(v) => weight = Some(*v),
            DestAttr::UThresh(v) => uth = Some(*v),
            DestAttr::LThresh(v) => lth = Some(*v),
            DestAttr::ActiveConns(v) => active = *v,
            DestAttr::InactConns(v) => inact = *v,
            DestAttr::PersistConns(v) => persist = *v,
            DestAttr::Stats(v) => stats = Some(stats_from_attrs(v)),
            DestAttr::Stats64(v) => stats64 = Some(stats_from_attrs(v)),
            DestAttr::AddrFamily(v) => af = Some(*v),
            DestAttr::TunType(v) => tunnel.kind = TunnelType::from_number(*v),
            DestAttr::TunPort(v) => tunnel.port = *v,
            DestAttr::TunFlags(v) => tunnel.flags = *v,
            _ => {}
        }
    }
    let family = match af {
        Some(af) => Family::from_af(af)
            .ok_or_else(|| DecodeError::from(format!("destination address family {af} unknown")))?,
        None => family,
    };
    let fwd = fwd.ok_or_else(|| missing("destination forwarding method"))?;
    let forward = match fwd & 0x7 {
        IP_VS_CONN_F_MASQ => ForwardMethod::Masq,
        IP_VS_CONN_F_LOCALNODE => ForwardMethod::Local,
        IP_VS_CONN_F_TUNNEL => ForwardMethod::Tunnel(tunnel),
        IP_VS_CONN_F_DROUTE => ForwardMethod::Route,
        IP_VS_CONN_F_BYPASS => ForwardMethod::Bypass,
        other => {
            return Err(DecodeError::from(format!(
                "destination forwarding method {other} unknown"
            )))
        }
    };
    let addr = addr.ok_or_else(|| missing("destination address"))?;
    Ok(DestEntry {
        dest: Dest {
            addr: addr_from_bytes(family, &addr),
            port: port.ok_or_else(|| missing("destination port"))?,
            forward,
            weight: weight.ok_or_else(|| missing("destination weight"))?,
            upper_threshold: uth.ok_or_else(|| missing("destination upper threshold"))?,
            lower_threshold: lth.ok_or_else(|| missing("destination lower threshold"))?,
        },
        active_conns: active,
        inactive_conns: inact,
        persistent_conns: persist,
        stats: stats64.or(stats).unwrap_or_default(),
    })
}

/// Attributes starting a sync daemon (NEW_DAEMON).
pub fn daemon_attrs(d: &SyncDaemon) -> Vec<DaemonAttr> {
    let mut attrs = vec![
        DaemonAttr::State(d.state.number()),
        DaemonAttr::McastIfn(d.mcast_ifn.clone()),
        DaemonAttr::SyncId(d.sync_id),
    ];
    if let Some(v) = d.maxlen {
        attrs.push(DaemonAttr::SyncMaxlen(v));
    }
    match d.group {
        Some(IpAddr::V4(g)) => attrs.push(DaemonAttr::McastGroup(g)),
        Some(IpAddr::V6(g)) => attrs.push(DaemonAttr::McastGroup6(g)),
        None => {}
    }
    if let Some(v) = d.port {
        attrs.push(DaemonAttr::McastPort(v));
    }
    if let Some(v) = d.ttl {
        attrs.push(DaemonAttr::McastTtl(v));
    }
    attrs
}

/// A sync daemon from a GET_DAEMON reply.
pub fn daemon_from_attrs(attrs: &[DaemonAttr]) -> Result<SyncDaemon, DecodeError> {
    let (mut state, mut ifn, mut id) = (None, None, None);
    let mut d = SyncDaemon::new(DaemonState::Master, "", 0);
    for a in attrs {
        match a {
            DaemonAttr::State(v) => state = Some(*v),
            DaemonAttr::McastIfn(v) => ifn = Some(v.clone()),
            DaemonAttr::SyncId(v) => id = Some(*v),
            DaemonAttr::SyncMaxlen(v) => d.maxlen = Some(*v),
            DaemonAttr::McastGroup(v) => d.group = Some(IpAddr::V4(*v)),
            DaemonAttr::McastGroup6(v) => d.group = Some(IpAddr::V6(*v)),
            DaemonAttr::McastPort(v) => d.port = Some(*v),
            DaemonAttr::McastTtl(v) => d.ttl = Some(*v),
            _ => {}
        }
    }
    d.state = match state.ok_or_else(|| missing("daemon state"))? {
        IP_VS_STATE_MASTER => DaemonState::Master,
        IP_VS_STATE_BACKUP => DaemonState::Backup,
        s => return Err(DecodeError::from(format!("daemon state {s} unknown"))),
    };
    d.mcast_ifn = ifn.ok_or_else(|| missing("daemon interface"))?;
    d.sync_id = id.ok_or_else(|| missing("daemon sync id"))?;
    Ok(d)
}
