//! Domain types of the IPVS table: virtual services (keyed by protocol+address+port or by
//! fwmark), real servers (destinations), forwarding methods, flags, statistics, and the
//! global settings (info, timeouts, sync daemon). Pure data, serialisable, comparable.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::constants::*;

/// Transport protocol of an address-keyed virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// IP protocol number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    /// The protocol with this IP protocol number, if IPVS knows it.
    pub fn from_number(n: u16) -> Option<Self> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Lowercase name: `tcp`, `udp`, `sctp`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// Address family of a service or destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// `AF_INET` or `AF_INET6`.
    pub fn af(self) -> u16 {
        match self {
            Family::Ipv4 => AF_INET,
            Family::Ipv6 => AF_INET6,
        }
    }

    /// The family of an `AF_*` number.
    pub fn from_af(af: u16) -> Option<Self> {
        match af {
            AF_INET => Some(Family::Ipv4),
            AF_INET6 => Some(Family::Ipv6),
            _ => None,
        }
    }

    /// Longest prefix length of the family (32 or 128).
    pub fn max_prefix(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKey {
    /// `-t/-u/--sctp-service addr:port`.
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// `-f mark` (with `-6` for IPv6).
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    /// A TCP service on `addr:port`.
    pub fn tcp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port,
        }
    }

    /// A UDP service on `addr:port`.
    pub fn udp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
            port,
        }
    }

    /// Address family of the service.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// The service port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }
}

/// `addr:port` with brackets around IPv6 addresses, the way ipvsadm writes it.
pub fn addr_port(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

impl fmt::Display for ServiceKey {
    /// `tcp 192.0.2.10:80`, `udp [2001:db8::10]:53`, `fwmark 1`, `fwmark 1 ipv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                write!(f, "{} {}", protocol.name(), addr_port(addr, *port))
            }
            ServiceKey::Fwmark {
                family: Family::Ipv4,
                mark,
            } => write!(f, "fwmark {mark}"),
            ServiceKey::Fwmark {
                family: Family::Ipv6,
                mark,
            } => write!(f, "fwmark {mark} ipv6"),
        }
    }
}

/// Virtual service flags (`IP_VS_SVC_F_*`). The kernel's HASHED bit is never kept here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SvcFlags(pub u32);

impl SvcFlags {
    pub const PERSISTENT: u32 = IP_VS_SVC_F_PERSISTENT;
    pub const HASHED: u32 = IP_VS_SVC_F_HASHED;
    pub const ONEPACKET: u32 = IP_VS_SVC_F_ONEPACKET;
    pub const SCHED1: u32 = IP_VS_SVC_F_SCHED1;
    pub const SCHED2: u32 = IP_VS_SVC_F_SCHED2;
    pub const SCHED3: u32 = IP_VS_SVC_F_SCHED3;
    /// `sh`/`mh` scheduler: fall back to another server when the chosen one is unavailable.
    pub const SH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
    /// `sh`/`mh` scheduler: hash the source port too.
    pub const SH_PORT: u32 = IP_VS_SVC_F_SCHED2;

    /// The flags as the kernel reports them, with HASHED masked out.
    pub fn from_kernel(raw: u32) -> Self {
        SvcFlags(raw & !Self::HASHED)
    }

    /// Whether every bit of `bits` is set.
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A virtual service's settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler module name without the `ip_vs_` prefix: rr, wrr, lc, wlc, sh, mh, ...
    pub scheduler: String,
    pub flags: SvcFlags,
    /// Persistence timeout in seconds (meaningful with `SvcFlags::PERSISTENT`).
    pub timeout: u32,
    /// Persistence granularity as a prefix length (32/128 = per client address).
    pub netmask: u8,
    /// Persistence engine (e.g. `sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with scheduler `scheduler`, no persistence and no flags.
    pub fn new(key: ServiceKey, scheduler: &str) -> Self {
        Service {
            key,
            scheduler: scheduler.to_string(),
            flags: SvcFlags::default(),
            timeout: 0,
            netmask: key.family().max_prefix(),
            pe_name: None,
        }
    }
}

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    #[default]
    Ipip,
    Gue,
    Gre,
    Other(u8),
}

impl TunnelType {
    pub fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
            TunnelType::Other(n) => n,
        }
    }

    pub fn from_number(n: u8) -> Self {
        match n {
            0 => TunnelType::Ipip,
            1 => TunnelType::Gue,
            2 => TunnelType::Gre,
            n => TunnelType::Other(n),
        }
    }
}

/// Tunnel parameters of a tunnel destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tunnel {
    pub kind: TunnelType,
    /// GUE destination port.
    pub port: u16,
    /// `IP_VS_TUNNEL_ENCAP_FLAG_*` (checksum options).
    pub flags: u16,
}

/// How packets reach a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardMethod {
    /// NAT (`-m`).
    Masq,
    /// Local node (reported by old kernels for local addresses).
    Local,
    /// IP-in-IP/GUE/GRE tunnelling (`-i`).
    Tunnel(Tunnel),
    /// Direct routing / gatewaying (`-g`).
    Route,
    /// Cache bypass.
    Bypass,
}

impl ForwardMethod {
    /// `IP_VS_CONN_F_*` number.
    pub fn number(self) -> u32 {
        match self {
            ForwardMethod::Masq => IP_VS_CONN_F_MASQ,
            ForwardMethod::Local => IP_VS_CONN_F_LOCALNODE,
            ForwardMethod::Tunnel(_) => IP_VS_CONN_F_TUNNEL,
            ForwardMethod::Route => IP_VS_CONN_F_DROUTE,
            ForwardMethod::Bypass => IP_VS_CONN_F_BYPASS,
        }
    }

    /// ipvsadm's column name: Masq, Local, Tunnel, Route, Bypass.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            ForwardMethod::Masq => "Masq",
            ForwardMethod::Local => "Local",
            ForwardMethod::Tunnel(_) => "Tunnel",
            ForwardMethod::Route => "Route",
            ForwardMethod::Bypass => "Bypass",
        }
    }

    /// Whether packets keep the service's port (every method but NAT).
    pub fn keeps_service_port(self) -> bool {
        !matches!(self, ForwardMethod::Masq)
    }
}

/// The destination port the kernel should hold for a real server: for direct routing and
/// tunnelling the real server's port is meaningless (packets keep the service port), so it
/// is normalised to the service port (0 for fwmark services), exactly as ipvsadm does.
/// Configuration, apply and diff all use this one rule.
pub fn normalise_dest_port(key: &ServiceKey, forward: ForwardMethod, port: u16) -> u16 {
    if forward.keeps_service_port() {
        key.port()
    } else {
        port
    }
}

/// A real server's settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dest {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: ForwardMethod,
    /// Weight; 0 quiesces the server (no new connections).
    pub weight: i32,
    /// Upper connection threshold (0 = none).
    pub upper_threshold: u32,
    /// Lower connection threshold (0 = none).
    pub lower_threshold: u32,
}

impl Dest {
    /// A real server with weight 1 and no thresholds.
    pub fn new(addr: IpAddr, port: u16, forward: ForwardMethod) -> Self {
        Dest {
            addr,
            port,
            forward,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }
}

/// Traffic counters and rates (the kernel's 64-bit statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A real server as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestEntry {
    pub dest: Dest,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Stats,
}

/// A virtual service as the kernel reports it, with its real servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
    pub dests: Vec<DestEntry>,
}

/// `GET_INFO`: IPVS version and connection table size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub version: u32,
    pub conn_tab_size: u32,
}

impl Info {
    /// `1.2.1`.
    pub fn version_string(&self) -> String {
        let v = self.version;
        format!("{}.{}.{}", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
    }
}

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`); 0 leaves one unchanged
/// when setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Role of a connection sync daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    Master,
    Backup,
}

impl DaemonState {
    pub fn number(self) -> u32 {
        match self {
            DaemonState::Master => IP_VS_STATE_MASTER,
            DaemonState::Backup => IP_VS_STATE_BACKUP,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
        }
    }
}

/// A connection sync daemon (`ipvsadm --start-daemon`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDaemon {
    pub state: DaemonState,
    /// Interface the sync messages use.
    pub mcast_ifn: String,
    pub sync_id: u32,
    /// Maximum UDP payload of a sync message.
    pub maxlen: Option<u16>,
    /// Multicast group (default 224.0.0.81).
    pub group: Option<IpAddr>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
}

impl SyncDaemon {
    /// A daemon with the kernel's defaults for everything but role, interface and id.
    pub fn new(state: DaemonState, mcast_ifn: &str, sync_id: u32) -> Self {
        SyncDaemon {
            state,
            mcast_ifn: mcast_ifn.to_string(),
            sync_id,
            maxlen: None,
            group: None,
            port: None,
            ttl: None,
        }
    }
}
