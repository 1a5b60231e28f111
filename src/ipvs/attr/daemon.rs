//! Sync daemon attributes (`IPVS_DAEMON_ATTR_*`), nested in `IPVS_CMD_ATTR_DAEMON`.
//! The multicast group travels as an IPv4 (4 bytes) or IPv6 (16 bytes) address in network
//! order; the multicast port is a host-order u16 (`nla_put_u16` in the kernel).

use std::net::{Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer};

use super::{emit_string, fixed, ne_u16, ne_u32, other, string, string_len, u8_};
use crate::ipvs::constants::*;

/// One sync daemon attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DaemonAttr {
    /// `IP_VS_STATE_MASTER` or `IP_VS_STATE_BACKUP`.
    State(u32),
    McastIfn(String),
    SyncId(u32),
    SyncMaxlen(u16),
    McastGroup(Ipv4Addr),
    McastGroup6(Ipv6Addr),
    McastPort(u16),
    McastTtl(u8),
    Other(DefaultNla),
}

impl DaemonAttr {
    /// Parses one sync daemon attribute.
    pub fn parse(nla: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use DaemonAttr::*;
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_DAEMON_ATTR_STATE => State(ne_u32("daemon state", v)?),
            IPVS_DAEMON_ATTR_MCAST_IFN => McastIfn(string("daemon interface", v)?),
            IPVS_DAEMON_ATTR_SYNC_ID => SyncId(ne_u32("daemon sync id", v)?),
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => SyncMaxlen(ne_u16("daemon sync maxlen", v)?),
            IPVS_DAEMON_ATTR_MCAST_GROUP => {
                McastGroup(Ipv4Addr::from(fixed::<4>("daemon group", v)?))
            }
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => {
                McastGroup6(Ipv6Addr::from(fixed::<16>("daemon group6", v)?))
            }
            IPVS_DAEMON_ATTR_MCAST_PORT => McastPort(ne_u16("daemon port", v)?),
            IPVS_DAEMON_ATTR_MCAST_TTL => McastTtl(u8_("daemon ttl", v)?),
            _ => Other(other(nla)?),
        })
    }
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        use DaemonAttr::*;
        match self {
            State(_) | SyncId(_) | McastGroup(_) => 4,
            McastIfn(s) => string_len(s),
            SyncMaxlen(_) | McastPort(_) => 2,
            McastGroup6(_) => 16,
            McastTtl(_) => 1,
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DaemonAttr::*;
        match self {
            State(_) => IPVS_DAEMON_ATTR_STATE,
            McastIfn(_) => IPVS_DAEMON_ATTR_MCAST_IFN,
            SyncId(_) => IPVS_DAEMON_ATTR_SYNC_ID,
            SyncMaxlen(_) => IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            McastGroup(_) => IPVS_DAEMON_ATTR_MCAST_GROUP,
            McastGroup6(_) => IPVS_DAEMON_ATTR_MCAST_GROUP6,
            McastPort(_) => IPVS_DAEMON_ATTR_MCAST_PORT,
            McastTtl(_) => IPVS_DAEMON_ATTR_MCAST_TTL,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use DaemonAttr::*;
        match self {
            State(v) | SyncId(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            McastIfn(s) => emit_string(buf, s),
            SyncMaxlen(v) | McastPort(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            McastGroup(a) => buf.copy_from_slice(&a.octets()),
            McastGroup6(a) => buf.copy_from_slice(&a.octets()),
            McastTtl(v) => buf[0] = *v,
            Other(nla) => nla.emit_value(buf),
        }
    }
}
