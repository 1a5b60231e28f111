//! First-level attributes of an IPVS message. Their meaning depends on the command: the
//! reply to `GET_INFO` (command `SET_INFO`) reuses numbers 1 and 2 for version and
//! connection table size, so parsing takes the command as a parameter.

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer};

use super::{emit_list, list_len, ne_u32, other, parse_all, DaemonAttr, DestAttr, SvcAttr};
use crate::ipvs::constants::*;

/// One first-level attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpvsAttr {
    Service(Vec<SvcAttr>),
    Dest(Vec<DestAttr>),
    Daemon(Vec<DaemonAttr>),
    TimeoutTcp(u32),
    TimeoutTcpFin(u32),
    TimeoutUdp(u32),
    /// `GET_INFO` reply: IPVS version (`0x010201` is 1.2.1).
    InfoVersion(u32),
    /// `GET_INFO` reply: size of the connection hash table.
    InfoConnTabSize(u32),
    Other(DefaultNla),
}

impl IpvsAttr {
    /// Parses one first-level attribute of a message carrying command `cmd`.
    pub fn parse(nla: &NlaBuffer<&[u8]>, cmd: u8) -> Result<Self, DecodeError> {
        use IpvsAttr::*;
        let v = nla.value();
        if cmd == IPVS_CMD_SET_INFO || cmd == IPVS_CMD_GET_INFO {
            return Ok(match nla.kind() {
                IPVS_INFO_ATTR_VERSION => InfoVersion(ne_u32("info version", v)?),
                IPVS_INFO_ATTR_CONN_TAB_SIZE => InfoConnTabSize(ne_u32("info table size", v)?),
                _ => Other(other(nla)?),
            });
        }
        Ok(match nla.kind() {
            IPVS_CMD_ATTR_SERVICE => Service(parse_all(v, SvcAttr::parse)?),
            IPVS_CMD_ATTR_DEST => Dest(parse_all(v, DestAttr::parse)?),
            IPVS_CMD_ATTR_DAEMON => Daemon(parse_all(v, DaemonAttr::parse)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP => TimeoutTcp(ne_u32("tcp timeout", v)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => TimeoutTcpFin(ne_u32("tcpfin timeout", v)?),
            IPVS_CMD_ATTR_TIMEOUT_UDP => TimeoutUdp(ne_u32("udp timeout", v)?),
            _ => Other(other(nla)?),
        })
    }
}

impl Nla for IpvsAttr {
    fn value_len(&self) -> usize {
        use IpvsAttr::*;
        match self {
            Service(l) => list_len(l),
            Dest(l) => list_len(l),
            Daemon(l) => list_len(l),
            TimeoutTcp(_) | TimeoutTcpFin(_) | TimeoutUdp(_) | InfoVersion(_)
            | InfoConnTabSize(_) => 4,
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use IpvsAttr::*;
        match self {
            Service(_) => IPVS_CMD_ATTR_SERVICE,
            Dest(_) => IPVS_CMD_ATTR_DEST,
            Daemon(_) => IPVS_CMD_ATTR_DAEMON,
            TimeoutTcp(_) => IPVS_CMD_ATTR_TIMEOUT_TCP,
            TimeoutTcpFin(_) => IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
            TimeoutUdp(_) => IPVS_CMD_ATTR_TIMEOUT_UDP,
            InfoVersion(_) => IPVS_INFO_ATTR_VERSION,
            InfoConnTabSize(_) => IPVS_INFO_ATTR_CONN_TAB_SIZE,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use IpvsAttr::*;
        match self {
            Service(l) => emit_list(buf, l),
            Dest(l) => emit_list(buf, l),
            Daemon(l) => emit_list(buf, l),
            TimeoutTcp(v) | TimeoutTcpFin(v) | TimeoutUdp(v) | InfoVersion(v)
            | InfoConnTabSize(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Other(nla) => nla.emit_value(buf),
        }
    }
}
