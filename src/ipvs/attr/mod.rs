//! Attribute spaces of the IPVS family, one `#[non_exhaustive]` enum per space in the
//! rust-netlink style: unknown attributes are kept as `Other(DefaultNla)`, never rejected,
//! and parsing returns `DecodeError` instead of panicking.

mod daemon;
mod dest;
mod service;
mod stats;
mod top;

pub use daemon::DaemonAttr;
pub use dest::DestAttr;
pub use service::{FlagsMask, SvcAttr};
pub use stats::{Counter, StatsAttr};
pub use top::IpvsAttr;

use netlink_packet_core::{DecodeError, DefaultNla, Emitable, NlaBuffer, NlasIterator, Parseable};

/// Reads a fixed-size value, failing (not panicking) on a wrong length.
pub(crate) fn fixed<const N: usize>(what: &str, v: &[u8]) -> Result<[u8; N], DecodeError> {
    v.try_into()
        .map_err(|_| DecodeError::from(format!("{what}: expected {N} bytes, got {}", v.len())))
}

pub(crate) fn ne_u16(what: &str, v: &[u8]) -> Result<u16, DecodeError> {
    Ok(u16::from_ne_bytes(fixed(what, v)?))
}

pub(crate) fn be_u16(what: &str, v: &[u8]) -> Result<u16, DecodeError> {
    Ok(u16::from_be_bytes(fixed(what, v)?))
}

pub(crate) fn ne_u32(what: &str, v: &[u8]) -> Result<u32, DecodeError> {
    Ok(u32::from_ne_bytes(fixed(what, v)?))
}

pub(crate) fn u8_(what: &str, v: &[u8]) -> Result<u8, DecodeError> {
    Ok(u8::from_ne_bytes(fixed(what, v)?))
}

/// A NUL-terminated string as the kernel's `nla_put_string` writes it.
pub(crate) fn string(what: &str, v: &[u8]) -> Result<String, DecodeError> {
    let v = match v.iter().position(|b| *b == 0) {
        Some(end) => &v[..end],
        None => v,
    };
    String::from_utf8(v.to_vec()).map_err(|_| DecodeError::from(format!("{what}: not utf-8")))
}

/// Length of a string attribute's value, NUL included.
pub(crate) fn string_len(s: &str) -> usize {
    s.len() + 1
}

pub(crate) fn emit_string(buf: &mut [u8], s: &str) {
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
}

/// Parses a run of attributes with `parse_one`, failing on the first malformed one.
pub(crate) fn parse_all<T>(
    buf: &[u8],
    mut parse_one: impl FnMut(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    for nla in NlasIterator::new(buf) {
        out.push(parse_one(&nla?)?);
    }
    Ok(out)
}

/// Keeps an attribute this module does not know.
pub(crate) fn other(nla: &NlaBuffer<&[u8]>) -> Result<DefaultNla, DecodeError> {
    DefaultNla::parse(nla)
}

/// Emits a list of attributes back to back (used by nested attributes).
pub(crate) fn emit_list<T: Emitable>(buf: &mut [u8], list: &[T]) {
    let mut at = 0;
    for item in list {
        let len = item.buffer_len();
        item.emit(&mut buf[at..at + len]);
        at += len;
    }
}

pub(crate) fn list_len<T: Emitable>(list: &[T]) -> usize {
    list.iter().map(Emitable::buffer_len).sum()
}
