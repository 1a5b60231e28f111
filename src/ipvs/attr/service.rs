//! Service attributes (`IPVS_SVC_ATTR_*`), nested in `IPVS_CMD_ATTR_SERVICE`.
//!
//! Byte orders follow the kernel: the port is big-endian, fwmark and timeout are host order,
//! the address is 16 bytes (IPv4 in the first 4), and the netmask is a byte mask for IPv4
//! but a prefix length (host-order integer) for IPv6 — kept here as the raw host-order u32.

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer};

use super::{
    be_u16, emit_list, emit_string, fixed, list_len, ne_u16, ne_u32, other, parse_all, string,
    string_len, StatsAttr,
};
use crate::ipvs::constants::*;

/// `struct ip_vs_flags`: the kernel applies `(old & !mask) | (flags & mask)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlagsMask {
    pub flags: u32,
    pub mask: u32,
}

/// One service attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SvcAttr {
    /// Address family (`AF_INET`, `AF_INET6`).
    Af(u16),
    /// IP protocol number (6, 17, 132).
    Protocol(u16),
    /// Virtual address, 16 bytes.
    Addr([u8; 16]),
    /// Virtual port (host value; big-endian on the wire).
    Port(u16),
    Fwmark(u32),
    SchedName(String),
    Flags(FlagsMask),
    /// Persistence timeout in seconds.
    Timeout(u32),
    /// Raw netmask as the 4 bytes read in host order (see the module doc).
    Netmask(u32),
    Stats(Vec<StatsAttr>),
    PeName(String),
    Stats64(Vec<StatsAttr>),
    Other(DefaultNla),
}

impl SvcAttr {
    /// Parses one service attribute.
    pub fn parse(nla: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use SvcAttr::*;
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_SVC_ATTR_AF => Af(ne_u16("service af", v)?),
            IPVS_SVC_ATTR_PROTOCOL => Protocol(ne_u16("service protocol", v)?),
            IPVS_SVC_ATTR_ADDR => Addr(fixed("service address", v)?),
            IPVS_SVC_ATTR_PORT => Port(be_u16("service port", v)?),
            IPVS_SVC_ATTR_FWMARK => Fwmark(ne_u32("service fwmark", v)?),
            IPVS_SVC_ATTR_SCHED_NAME => SchedName(string("service scheduler", v)?),
            IPVS_SVC_ATTR_FLAGS => {
                let raw: [u8; 8] = fixed("service flags", v)?;
                let (f, m) = raw.split_at(4);
                Flags(FlagsMask {
                    flags: ne_u32("service flags", f)?,
                    mask: ne_u32("service flags mask", m)?,
                })
            }
            IPVS_SVC_ATTR_TIMEOUT => Timeout(ne_u32("service timeout", v)?),
            IPVS_SVC_ATTR_NETMASK => Netmask(ne_u32("service netmask", v)?),
            IPVS_SVC_ATTR_STATS => Stats(parse_all(v, StatsAttr::parse)?),
            IPVS_SVC_ATTR_PE_NAME => PeName(string("service pe name", v)?),
            IPVS_SVC_ATTR_STATS64 => Stats64(parse_all(v, StatsAttr::parse)?),
            _ => Other(other(nla)?),
        })
    }
}

impl Nla for SvcAttr {
    fn value_len(&self) -> usize {
        use SvcAttr::*;
        match self {
            Af(_) | Protocol(_) | Port(_) => 2,
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            Addr(_) => 16,
            Flags(_) => 8,
            SchedName(s) | PeName(s) => string_len(s),
            Stats(l) | Stats64(l) => list_len(l),
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use SvcAttr::*;
        match self {
            Af(_) => IPVS_SVC_ATTR_AF,
            Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            Addr(_) => IPVS_SVC_ATTR_ADDR,
            Port(_) => IPVS_SVC_ATTR_PORT,
            Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            Flags(_) => IPVS_SVC_ATTR_FLAGS,
            Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            Stats(_) => IPVS_SVC_ATTR_STATS,
            PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            Stats64(_) => IPVS_SVC_ATTR_STATS64,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use SvcAttr::*;
        match self {
            Af(v) | Protocol(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Port(v) => buf.copy_from_slice(&v.to_be_bytes()),
            Fwmark(v) | Timeout(v) | Netmask(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Addr(a) => buf.copy_from_slice(a),
            Flags(f) => {
                buf[..4].copy_from_slice(&f.flags.to_ne_bytes());
                buf[4..8].copy_from_slice(&f.mask.to_ne_bytes());
            }
            SchedName(s) | PeName(s) => emit_string(buf, s),
            Stats(l) | Stats64(l) => emit_list(buf, l),
            Other(nla) => nla.emit_value(buf),
        }
    }
}
