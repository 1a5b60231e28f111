//! Destination (real server) attributes (`IPVS_DEST_ATTR_*`), nested in `IPVS_CMD_ATTR_DEST`.
//! Ports (the real server's and the tunnel's) are big-endian; everything else host order.

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer};

use super::{be_u16, emit_list, fixed, list_len, ne_u16, ne_u32, other, parse_all, u8_, StatsAttr};
use crate::ipvs::constants::*;

/// One destination attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestAttr {
    /// Real server address, 16 bytes.
    Addr([u8; 16]),
    /// Real server port (host value; big-endian on the wire).
    Port(u16),
    /// Forwarding method (`IP_VS_CONN_F_*` & `IP_VS_CONN_F_FWD_MASK`).
    FwdMethod(u32),
    /// Weight; the kernel rejects a negative one with `ERANGE`.
    Weight(i32),
    UThresh(u32),
    LThresh(u32),
    ActiveConns(u32),
    InactConns(u32),
    PersistConns(u32),
    Stats(Vec<StatsAttr>),
    AddrFamily(u16),
    Stats64(Vec<StatsAttr>),
    TunType(u8),
    /// Tunnel (GUE) port (host value; big-endian on the wire).
    TunPort(u16),
    TunFlags(u16),
    Other(DefaultNla),
}

impl DestAttr {
    /// Parses one destination attribute.
    pub fn parse(nla: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use DestAttr::*;
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_DEST_ATTR_ADDR => Addr(fixed("destination address", v)?),
            IPVS_DEST_ATTR_PORT => Port(be_u16("destination port", v)?),
            IPVS_DEST_ATTR_FWD_METHOD => FwdMethod(ne_u32("destination forwarding method", v)?),
            IPVS_DEST_ATTR_WEIGHT => Weight(ne_u32("destination weight", v)? as i32),
            IPVS_DEST_ATTR_U_THRESH => UThresh(ne_u32("destination upper threshold", v)?),
            IPVS_DEST_ATTR_L_THRESH => LThresh(ne_u32("destination lower threshold", v)?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => ActiveConns(ne_u32("destination active conns", v)?),
            IPVS_DEST_ATTR_INACT_CONNS => InactConns(ne_u32("destination inactive conns", v)?),
            IPVS_DEST_ATTR_PERSIST_CONNS => {
                PersistConns(ne_u32("destination persistent conns", v)?)
            }
            IPVS_DEST_ATTR_STATS => Stats(parse_all(v, StatsAttr::parse)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => AddrFamily(ne_u16("destination address family", v)?),
            IPVS_DEST_ATTR_STATS64 => Stats64(parse_all(v, StatsAttr::parse)?),
            IPVS_DEST_ATTR_TUN_TYPE => TunType(u8_("destination tunnel type", v)?),
            IPVS_DEST_ATTR_TUN_PORT => TunPort(be_u16("destination tunnel port", v)?),
            IPVS_DEST_ATTR_TUN_FLAGS => TunFlags(ne_u16("destination tunnel flags", v)?),
            _ => Other(other(nla)?),
        })
    }
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        use DestAttr::*;
        match self {
            Addr(_) => 16,
            Port(_) | AddrFamily(_) | TunPort(_) | TunFlags(_) => 2,
            TunType(_) => 1,
            FwdMethod(_) | Weight(_) | UThresh(_) | LThresh(_) | ActiveConns(_) | InactConns(_)
            | PersistConns(_) => 4,
            Stats(l) | Stats64(l) => list_len(l),
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DestAttr::*;
        match self {
            Addr(_) => IPVS_DEST_ATTR_ADDR,
            Port(_) => IPVS_DEST_ATTR_PORT,
            FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            UThresh(_) => IPVS_DEST_ATTR_U_THRESH,
            LThresh(_) => IPVS_DEST_ATTR_L_THRESH,
            ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            InactConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            PersistConns(_) => IPVS_DEST_ATTR_PERSIST_CONNS,
            Stats(_) => IPVS_DEST_ATTR_STATS,
            AddrFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            Stats64(_) => IPVS_DEST_ATTR_STATS64,
            TunType(_) => IPVS_DEST_ATTR_TUN_TYPE,
            TunPort(_) => IPVS_DEST_ATTR_TUN_PORT,
            TunFlags(_) => IPVS_DEST_ATTR_TUN_FLAGS,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use DestAttr::*;
        match self {
            Addr(a) => buf.copy_from_slice(a),
            Port(v) | TunPort(v) => buf.copy_from_slice(&v.to_be_bytes()),
            AddrFamily(v) | TunFlags(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            TunType(v) => buf[0] = *v,
            Weight(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            FwdMethod(v) | UThresh(v) | LThresh(v) | ActiveConns(v) | InactConns(v)
            | PersistConns(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Stats(l) | Stats64(l) => emit_list(buf, l),
            Other(nla) => nla.emit_value(buf),
        }
    }
}
