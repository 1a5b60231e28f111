//! Statistics attributes (`IPVS_STATS_ATTR_*`), nested in the service and destination
//! `STATS` (counters u32, byte counts u64) and `STATS64` (everything u64) attributes.

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer};

use super::{fixed, other};
use crate::ipvs::constants::*;

/// A counter as it travels: its width is kept so that emitting reproduces the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    U32(u32),
    U64(u64),
}

impl Counter {
    /// The value, whatever its width.
    pub fn value(self) -> u64 {
        match self {
            Counter::U32(v) => u64::from(v),
            Counter::U64(v) => v,
        }
    }

    fn len(self) -> usize {
        match self {
            Counter::U32(_) => 4,
            Counter::U64(_) => 8,
        }
    }

    fn emit(self, buf: &mut [u8]) {
        match self {
            Counter::U32(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Counter::U64(v) => buf.copy_from_slice(&v.to_ne_bytes()),
        }
    }

    fn parse(what: &str, v: &[u8]) -> Result<Self, DecodeError> {
        match v.len() {
            4 => Ok(Counter::U32(u32::from_ne_bytes(fixed(what, v)?))),
            8 => Ok(Counter::U64(u64::from_ne_bytes(fixed(what, v)?))),
            n => Err(DecodeError::from(format!(
                "{what}: expected 4 or 8 bytes, got {n}"
            ))),
        }
    }
}

/// One statistics attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsAttr {
    Conns(Counter),
    InPkts(Counter),
    OutPkts(Counter),
    InBytes(Counter),
    OutBytes(Counter),
    Cps(Counter),
    InPps(Counter),
    OutPps(Counter),
    InBps(Counter),
    OutBps(Counter),
    /// Alignment padding the kernel may add before 64-bit values.
    Pad(Vec<u8>),
    Other(DefaultNla),
}

impl StatsAttr {
    fn counter(&self) -> Option<(u16, Counter)> {
        use StatsAttr::*;
        Some(match self {
            Conns(c) => (IPVS_STATS_ATTR_CONNS, *c),
            InPkts(c) => (IPVS_STATS_ATTR_INPKTS, *c),
            OutPkts(c) => (IPVS_STATS_ATTR_OUTPKTS, *c),
            InBytes(c) => (IPVS_STATS_ATTR_INBYTES, *c),
            OutBytes(c) => (IPVS_STATS_ATTR_OUTBYTES, *c),
            Cps(c) => (IPVS_STATS_ATTR_CPS, *c),
            InPps(c) => (IPVS_STATS_ATTR_INPPS, *c),
            OutPps(c) => (IPVS_STATS_ATTR_OUTPPS, *c),
            InBps(c) => (IPVS_STATS_ATTR_INBPS, *c),
            OutBps(c) => (IPVS_STATS_ATTR_OUTBPS, *c),
            Pad(_) | Other(_) => return None,
        })
    }

    /// Parses one statistics attribute.
    pub fn parse(nla: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use StatsAttr::*;
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_STATS_ATTR_CONNS => Conns(Counter::parse("stats conns", v)?),
            IPVS_STATS_ATTR_INPKTS => InPkts(Counter::parse("stats inpkts", v)?),
            IPVS_STATS_ATTR_OUTPKTS => OutPkts(Counter::parse("stats outpkts", v)?),
            IPVS_STATS_ATTR_INBYTES => InBytes(Counter::parse("stats inbytes", v)?),
            IPVS_STATS_ATTR_OUTBYTES => OutBytes(Counter::parse("stats outbytes", v)?),
            IPVS_STATS_ATTR_CPS => Cps(Counter::parse("stats cps", v)?),
            IPVS_STATS_ATTR_INPPS => InPps(Counter::parse("stats inpps", v)?),
            IPVS_STATS_ATTR_OUTPPS => OutPps(Counter::parse("stats outpps", v)?),
            IPVS_STATS_ATTR_INBPS => InBps(Counter::parse("stats inbps", v)?),
            IPVS_STATS_ATTR_OUTBPS => OutBps(Counter::parse("stats outbps", v)?),
            IPVS_STATS_ATTR_PAD => Pad(v.to_vec()),
            _ => Other(other(nla)?),
        })
    }
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::Pad(v) => v.len(),
            StatsAttr::Other(nla) => nla.value_len(),
            a => a.counter().map_or(0, |(_, c)| c.len()),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            StatsAttr::Pad(_) => IPVS_STATS_ATTR_PAD,
            StatsAttr::Other(nla) => nla.kind(),
            a => a.counter().map_or(0, |(k, _)| k),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            StatsAttr::Pad(v) => buf.copy_from_slice(v),
            StatsAttr::Other(nla) => nla.emit_value(buf),
            a => {
                if let Some((_, c)) = a.counter() {
                    c.emit(buf)
                }
            }
        }
    }
}
