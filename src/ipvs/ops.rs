//! Mutating operations on the IPVS table — what the reconciler produces and
//! `IpvsClient::apply` sends — with their request message and an ipvsadm-like rendering
//! for `--dry-run` (`-A -t 192.0.2.10:80 -s rr`, `-a -t ... -r ... -m -w 1`).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::attr::IpvsAttr;
use super::convert::{dest_attrs, dest_key_attrs, service_attrs, service_key_attrs};
use super::message::{IpvsCmd, IpvsMessage};
use super::types::*;

/// One change to the IPVS table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    AddService(Service),
    EditService(Service),
    /// Deleting a service deletes its real servers with it.
    DelService(ServiceKey),
    AddDest {
        service: ServiceKey,
        dest: Dest,
    },
    EditDest {
        service: ServiceKey,
        dest: Dest,
    },
    DelDest {
        service: ServiceKey,
        addr: IpAddr,
        port: u16,
    },
}

impl Op {
    /// The service this operation is about.
    pub fn service_key(&self) -> &ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => &s.key,
            Op::DelService(k) => k,
            Op::AddDest { service, .. } | Op::EditDest { service, .. } => service,
            Op::DelDest { service, .. } => service,
        }
    }

    /// The real server this operation is about, if any.
    pub fn dest_addr(&self) -> Option<(IpAddr, u16)> {
        match self {
            Op::AddDest { dest, .. } | Op::EditDest { dest, .. } => Some((dest.addr, dest.port)),
            Op::DelDest { addr, port, .. } => Some((*addr, *port)),
            _ => None,
        }
    }

    /// The request carrying this operation.
    pub fn to_message(&self) -> IpvsMessage {
        let svc_key = |k: &ServiceKey| IpvsAttr::Service(service_key_attrs(k));
        match self {
            Op::AddService(s) => IpvsMessage::new(
                IpvsCmd::NewService,
                vec![IpvsAttr::Service(service_attrs(s))],
            ),
            Op::EditService(s) => IpvsMessage::new(
                IpvsCmd::SetService,
                vec![IpvsAttr::Service(service_attrs(s))],
            ),
            Op::DelService(k) => IpvsMessage::new(IpvsCmd::DelService, vec![svc_key(k)]),
            Op::AddDest { service, dest } => IpvsMessage::new(
                IpvsCmd::NewDest,
                vec![svc_key(service), IpvsAttr::Dest(dest_attrs(dest))],
            ),
            Op::EditDest { service, dest } => IpvsMessage::new(
                IpvsCmd::SetDest,
                vec![svc_key(service), IpvsAttr::Dest(dest_attrs(dest))],
            ),
            Op::DelDest {
                service,
                addr,
                port,
            } => IpvsMessage::new(
                IpvsCmd::DelDest,
                vec![
                    svc_key(service),
                    IpvsAttr::Dest(dest_key_attrs(addr, *port)),
                ],
            ),
        }
    }
}

/// ipvsadm's way of naming a service: `-t 192.0.2.10:80`, `-f 1 -6`.
pub fn ipvsadm_service(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let opt = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            format!("{opt} {}", addr_port(addr, *port))
        }
        ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark,
        } => format!("-f {mark}"),
        ServiceKey::Fwmark {
            family: Family::Ipv6,
            mark,
        } => format!("-f {mark} -6"),
    }
}

/// Names of the scheduler flags set in `flags`, as ipvsadm's `-b` takes them.
pub fn sched_flag_names(scheduler: &str, flags: SvcFlags) -> Vec<&'static str> {
    let named = |a: &'static str, b: &'static str| [a, b, "flag-3"];
    let names = match scheduler {
        "sh" => named("sh-fallback", "sh-port"),
        "mh" => named("mh-fallback", "mh-port"),
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    [SvcFlags::SCHED1, SvcFlags::SCHED2, SvcFlags::SCHED3]
        .iter()
        .zip(names)
        .filter(|(bit, _)| flags.has(**bit))
        .map(|(_, n)| n)
        .collect()
}

fn fmt_service(f: &mut fmt::Formatter<'_>, cmd: &str, s: &Service) -> fmt::Result {
    write!(f, "{cmd} {} -s {}", ipvsadm_service(&s.key), s.scheduler)?;
    if s.flags.has(SvcFlags::PERSISTENT) {
        write!(f, " -p {}", s.timeout)?;
        if s.netmask != s.key.family().max_prefix() {
            match s.key.family() {
                Family::Ipv4 => {
                    let raw = super::convert::netmask_raw(Family::Ipv4, s.netmask);
                    write!(f, " -M {}", std::net::Ipv4Addr::from(raw.to_ne_bytes()))?
                }
                Family::Ipv6 => write!(f, " -M {}", s.netmask)?,
            }
        }
    }
    if let Some(pe) = &s.pe_name {
        write!(f, " --pe {pe}")?;
    }
    let flags = sched_flag_names(&s.scheduler, s.flags);
    if !flags.is_empty() {
        write!(f, " -b {}", flags.join(","))?;
    }
    if s.flags.has(SvcFlags::ONEPACKET) {
        write!(f, " -o")?;
    }
    Ok(())
}

/// `IP_VS_TUNNEL_ENCAP_FLAG_CSUM` and `IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM` (uapi ip_vs.h).
const TUN_CSUM: u16 = 1 << 0;
const TUN_REMCSUM: u16 = 1 << 1;

/// A GUE/GRE tunnel's checksum options as `ipvsadm -S` writes them.
fn fmt_tun_csum(f: &mut fmt::Formatter<'_>, flags: u16) -> fmt::Result {
    if flags & (TUN_CSUM | TUN_REMCSUM) == 0 {
        return write!(f, " --tun-nocsum");
    }
    if flags & TUN_CSUM != 0 {
        write!(f, " --tun-csum")?;
    }
    if flags & TUN_REMCSUM != 0 {
        write!(f, " --tun-remcsum")?;
    }
    Ok(())
}

fn fmt_dest(f: &mut fmt::Formatter<'_>, cmd: &str, key: &ServiceKey, d: &Dest) -> fmt::Result {
    write!(
        f,
        "{cmd} {} -r {}",
        ipvsadm_service(key),
        addr_port(&d.addr, d.port)
    )?;
    match d.forward {
        ForwardMethod::Masq => write!(f, " -m")?,
        ForwardMethod::Route | ForwardMethod::Local | ForwardMethod::Bypass => write!(f, " -g")?,
        ForwardMethod::Tunnel(t) => {
            write!(f, " -i")?;
            match t.kind {
                TunnelType::Ipip => {}
                TunnelType::Gue => write!(f, " --tun-type gue --tun-port {}", t.port)?,
                TunnelType::Gre => write!(f, " --tun-type gre")?,
                TunnelType::Other(n) => write!(f, " --tun-type {n}")?,
            }
            if matches!(t.kind, TunnelType::Gue | TunnelType::Gre) {
                fmt_tun_csum(f, t.flags)?;
            }
        }
    }
    write!(f, " -w {}", d.weight)?;
    if d.upper_threshold != 0 {
        write!(f, " -x {}", d.upper_threshold)?;
    }
    if d.lower_threshold != 0 {
        write!(f, " -y {}", d.lower_threshold)?;
    }
    Ok(())
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => fmt_service(f, "-A", s),
            Op::EditService(s) => fmt_service(f, "-E", s),
            Op::DelService(k) => write!(f, "-D {}", ipvsadm_service(k)),
            Op::AddDest { service, dest } => fmt_dest(f, "-a", service, dest),
            Op::EditDest { service, dest } => fmt_dest(f, "-e", service, dest),
            Op::DelDest {
                service,
                addr,
                port,
            } => {
                write!(
                    f,
                    "-d {} -r {}",
                    ipvsadm_service(service),
                    addr_port(addr, *port)
                )
            }
        }
    }
}
