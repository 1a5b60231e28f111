//! VRRPv3 advertisements (RFC 5798 section 5): pure encode and parse for IPv4 and IPv6.
//!
//! No sockets here. [`Advert::encode`] builds the VRRP message (the IP header is the kernel's
//! job when sending); [`Advert::parse`] checks a received message and [`parse_ipv4`] splits a
//! raw IPv4 datagram (as a raw socket delivers it, header included) into header facts and
//! payload. Every malformed or foreign packet yields a typed [`DropReason`] that the caller
//! counts in [`DropCounters`]; nothing here panics on input.
//!
//! ```text
//! RFC 5798 5.1. VRRP Packet Format
//!
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                    IPv4 Fields or IPv6 Fields                 |
//!   ...                                                             ...
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |(rsvd) |     Max Adver Int     |          Checksum             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                                                               |
//!    +                                                               +
//!    |                       IPvX Address(es)                        |
//!    +                                                               +
//!    |                                                               |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// IP protocol number of VRRP (IANA), also the pseudo-header's next header value.
pub const IPPROTO_VRRP: u8 = 112;
/// RFC 5798 5.1.1.2: "The IP multicast address as assigned by the IANA for VRRP is: 224.0.0.18".
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// RFC 5798 5.1.2.2: the IPv6 multicast address for VRRP is ff02:0:0:0:0:0:0:12.
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// RFC 5798 5.1.1.3 / 5.1.2.5: TTL and hop limit "MUST be set to 255".
pub const VRRP_TTL: u8 = 255;
/// RFC 5798 5.2.1: "This document defines version 3."
pub const VRRP_VERSION: u8 = 3;
/// RFC 5798 5.2.2: the only type, ADVERTISEMENT.
pub const VRRP_TYPE_ADVERT: u8 = 1;
/// Fixed part of the VRRP message (before the addresses).
pub const HEADER_LEN: usize = 8;
/// The 12-bit Max Adver Int field's largest value, in centiseconds.
pub const MAX_ADVER_INT_CS: u16 = 0x0fff;

/// The address family of a virtual router: IPv4 and IPv6 routers are separate (RFC 5798 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4: adverts to 224.0.0.18, 4-byte addresses.
    V4,
    /// IPv6: adverts to ff02::12 from a link-local source, 16-byte addresses.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Bytes per address in the advert.
    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// The VRRP multicast group of this family.
    pub fn multicast_group(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(VRRP_MCAST_V4),
            Family::V6 => IpAddr::V6(VRRP_MCAST_V6),
        }
    }
}

/// One VRRPv3 ADVERTISEMENT, as carried after the IP header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// Virtual Router Identifier, 1-255.
    pub vrid: u8,
    /// 255 = address owner, 1-254 = backup-capable, 0 = the master is stopping.
    pub priority: u8,
    /// Max Adver Int in centiseconds (12 bits).
    pub max_adver_int: u16,
    /// The virtual addresses, all of one family.
    pub addrs: Vec<IpAddr>,
}

/// Why a received packet was dropped. Each variant is counted separately.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum DropReason {
    /// Fewer bytes than the fixed header or the announced addresses need.
    #[error("truncated packet: {len} bytes, need {need}")]
    Truncated { len: usize, need: usize },
    /// The IPv4 header itself is malformed (version, IHL, total length).
    #[error("malformed ip header")]
    BadIpHeader,
    /// The IP packet does not carry protocol 112.
    #[error("not a vrrp packet: ip protocol {0}")]
    NotVrrp(u8),
    /// RFC 5798 7.1: TTL / hop limit must be 255.
    #[error("ttl or hop limit {0} is not 255")]
    BadTtl(u8),
    /// RFC 5798 7.1 (RFC 3768 7.1 for VRRPv2): the version is not the instance's (3, or 2
    /// for a VRRPv2 instance).
    #[error("unexpected vrrp version {0}")]
    BadVersion(u8),
    /// RFC 5798 5.2.2: unknown type.
    #[error("vrrp type {0} is not advertisement")]
    BadType(u8),
    /// RFC 5798 7.1: checksum over the message and pseudo-header.
    #[error("bad checksum")]
    BadChecksum,
    /// RFC 5798 5.2.5: the minimum address count is 1.
    #[error("address count is zero")]
    NoAddresses,
    /// The count field and the packet length disagree.
    #[error("address count {count} does not match {len} bytes of addresses")]
    CountMismatch { count: u8, len: usize },
    /// A Max Adver Int of zero would make the down interval zero.
    #[error("advertisement interval is zero")]
    ZeroInterval,
    /// The packet is for a virtual router this instance is not.
    #[error("advert for vrid {0}, not ours")]
    OtherVrid(u8),
    /// RFC 5798 7.1: the address list differs from ours and the sender is not the owner.
    #[error("advertised addresses do not match the configured ones")]
    AddressMismatch,
    /// RFC 5798 7.1: the local router is the address owner (priority 255).
    #[error("local router is the address owner")]
    LocalOwner,
    /// Our own advert looped back to us.
    #[error("own advert")]
    OwnPacket,
    /// IPv6 source is not link-local (RFC 5798 5.1.2.1).
    #[error("ipv6 source is not link-local")]
    NotLinkLocal,
    /// VRRPv2 (RFC 3768 7.1, keepalived's PASS and AH): the authentication is missing, of
    /// another type than ours, or wrong. Never a role change.
    #[error("authentication failed: {0}")]
    AuthMismatch(AuthFailure),
    /// VRRPv2 with AH: the IPsec AH header is not the one keepalived sends (payload length
    /// other than 4 words, that is an ICV other than 96 bits).
    #[error("malformed ipsec ah header")]
    BadAhHeader,
    /// RFC 3768 7.1 (VRRPv2): the advert's Adver Int is not ours (in centiseconds here).
    #[error(
        "advertisement interval {}ms is not ours ({}ms)",
        u32::from(*.got_cs) * 10,
        u32::from(*.want_cs) * 10
    )]
    IntervalMismatch { got_cs: u16, want_cs: u16 },
    /// VRRPv2 with AH: an authentic advert whose sequence number is not above the last one
    /// accepted from its sender (a replay, or a sender whose counter went back).
    #[error(
        "ipsec ah sequence number {seq} is not above {last}, the last accepted from the sender"
    )]
    AhReplay { seq: u32, last: u32 },
    /// With `unicast_peers`: the advert's source is none of them (keepalived's
    /// `vrrp_check_unicast_src`, always on in lbd).
    #[error("advert from {0}, which is not one of the unicast peers")]
    UnknownPeer(IpAddr),
}

/// What was wrong with a VRRPv2 advert's authentication ([`DropReason::AuthMismatch`]). None
/// of these carries secret material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AuthFailure {
    /// The advert's Auth Type field is not the configured one (0 none, 1 PASS, 2 AH; any
    /// other value is unknown).
    #[error("auth type {got}, expected {want}")]
    TypeMismatch { got: u8, want: u8 },
    /// AH is configured but the packet is plain VRRP (IP protocol 112).
    #[error("no ipsec ah header, expected one")]
    MissingAh,
    /// The packet carries an AH header (IP protocol 51) but AH is not configured.
    #[error("ipsec ah header, not configured")]
    UnexpectedAh,
    /// PASS: the 8 bytes of authentication data are not our password.
    #[error("wrong password")]
    Password,
    /// AH: the HMAC-MD5-96 integrity check value does not match (wrong password, or a
    /// covered field changed on the way).
    #[error("ipsec ah icv mismatch")]
    Icv,
    /// AH: keepalived's SPI is the sender's IPv4 source address; this one is not.
    #[error("ipsec ah spi {spi:#010x} is not the source address")]
    Spi { spi: u32 },
}

impl DropReason {
    /// A stable short name for counters and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DropReason::Truncated { .. } => "truncated",
            DropReason::BadIpHeader => "bad_ip_header",
            DropReason::NotVrrp(_) => "not_vrrp",
            DropReason::BadTtl(_) => "bad_ttl",
            DropReason::BadVersion(_) => "bad_version",
            DropReason::BadType(_) => "bad_type",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::NoAddresses => "no_addresses",
            DropReason::CountMismatch { .. } => "count_mismatch",
            DropReason::ZeroInterval => "zero_interval",
            DropReason::OtherVrid(_) => "other_vrid",
            DropReason::AddressMismatch => "address_mismatch",
            DropReason::LocalOwner => "local_owner",
            DropReason::OwnPacket => "own_packet",
            DropReason::NotLinkLocal => "not_link_local",
            DropReason::AuthMismatch(_) => "auth_mismatch",
            DropReason::BadAhHeader => "bad_ah_header",
            DropReason::IntervalMismatch { .. } => "interval_mismatch",
            DropReason::AhReplay { .. } => "ah_replay",
            DropReason::UnknownPeer(_) => "unknown_peer",
        }
    }
}

/// Counts of dropped packets by [`DropReason::kind`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DropCounters(BTreeMap<&'static str, u64>);

impl DropCounters {
    /// Counts one drop.
    pub fn count(&mut self, reason: &DropReason) {
        *self.0.entry(reason.kind()).or_insert(0) += 1;
    }

    /// The count for one kind (0 if never seen).
    pub fn get(&self, kind: &str) -> u64 {
        self.0.get(kind).copied().unwrap_or(0)
    }

    /// Each kind seen with its count, by kind.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().map(|(k, n)| (*k, *n))
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// Facts from the IP layer that the VRRP checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMeta {
    /// Sender's address (IPv6: its link-local address).
    pub src: IpAddr,
    /// Destination (the multicast group, or our address for unicast peers).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// RFC 1071 one's complement sum, folded, not yet inverted.
pub(crate) fn ones_sum(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// RFC 5798 5.2.8. Checksum
///
/// "The checksum is the 16-bit one's complement of the one's complement sum of the entire VRRP
/// message starting with the version field and a "pseudo-header" as defined in Section 8.1 of
/// [RFC2460]. The next header field in the "pseudo-header" should be set to 112 (decimal) for
/// VRRP. For computing the checksum, the checksum field is set to zero."
///
/// For IPv4 the pseudo-header is the classic one (source, destination, zero, protocol,
/// length), which is what keepalived and other VRRPv3 routers send (see the fixtures).
/// Returns the one's complement sum including the message's own checksum field: a valid
/// message sums to 0xffff.
fn pseudo_sum(src: IpAddr, dst: IpAddr, msg: &[u8]) -> u32 {
    let len = msg.len() as u32;
    let mut acc = 0u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = ones_sum(acc, &s.octets());
            acc = ones_sum(acc, &d.octets());
            acc = ones_sum(acc, &[0, IPPROTO_VRRP]);
            acc = ones_sum(acc, &(len as u16).to_be_bytes());
        }
        _ => {
            acc = ones_sum(acc, &ip_octets(src));
            acc = ones_sum(acc, &ip_octets(dst));
            acc = ones_sum(acc, &len.to_be_bytes());
            acc = ones_sum(acc, &[0, 0, 0, IPPROTO_VRRP]);
        }
    }
    ones_sum(acc, msg)
}

fn ip_octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// The checksum field value for `msg` (whose checksum bytes must be zero) sent src → dst.
pub fn checksum(src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    !(pseudo_sum(src, dst, msg) as u16)
}

impl Advert {
    /// The family of the advertised addresses (IPv4 if the list is empty).
    pub fn family(&self) -> Family {
        self.addrs.first().map(Family::of).unwrap_or(Family::V4)
    }

    /// Encodes the VRRP message sent from `src` to `dst` (both needed for the checksum).
    /// Addresses of the other family than the first are skipped; at most 255 are sent.
    pub fn encode(&self, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let family = self.family();
        let addrs: Vec<&IpAddr> = self
            .addrs
            .iter()
            .filter(|a| Family::of(a) == family)
            .take(255)
            .collect();
        let mut out = Vec::with_capacity(HEADER_LEN + addrs.len() * family.addr_len());
        out.push((VRRP_VERSION << 4) | VRRP_TYPE_ADVERT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(addrs.len() as u8);
        // 5.2.6 Rsvd: "MUST be set to zero on transmission and ignored on reception."
        out.extend_from_slice(&(self.max_adver_int & MAX_ADVER_INT_CS).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        for a in addrs {
            match a {
                IpAddr::V4(v) => out.extend_from_slice(&v.octets()),
                IpAddr::V6(v) => out.extend_from_slice(&v.octets()),
            }
        }
        let sum = checksum(src, dst, &out);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// Parses and checks a VRRP message received over `meta` (RFC 5798 7.1, the checks that
    /// need no configuration: TTL, version, type, completeness, checksum, address count).
    pub fn parse(msg: &[u8], meta: &IpMeta) -> Result<Advert, DropReason> {
        // 7.1: "it MUST verify that the IP TTL is 255" / "the Hop Limit is 255".
        if meta.ttl != VRRP_TTL {
            return Err(DropReason::BadTtl(meta.ttl));
        }
        let family = Family::of(&meta.src);
        if let IpAddr::V6(s) = meta.src {
            if !s.is_unicast_link_local() {
                return Err(DropReason::NotLinkLocal);
            }
        }
        let Some(head) = msg.get(..HEADER_LEN) else {
            return Err(DropReason::Truncated {
                len: msg.len(),
                need: HEADER_LEN,
            });
        };
        let (version, kind) = (head[0] >> 4, head[0] & 0x0f);
        if version != VRRP_VERSION {
            return Err(DropReason::BadVersion(version));
        }
        if kind != VRRP_TYPE_ADVERT {
            return Err(DropReason::BadType(kind));
        }
        let (vrid, priority, count) = (head[1], head[2], head[3]);
        let max_adver_int = u16::from_be_bytes([head[4], head[5]]) & MAX_ADVER_INT_CS;
        if count == 0 {
            return Err(DropReason::NoAddresses);
        }
        let body = &msg[HEADER_LEN..];
        let need = usize::from(count) * family.addr_len();
        if body.len() < need {
            return Err(DropReason::Truncated {
                len: msg.len(),
                need: HEADER_LEN + need,
            });
        }
        if body.len() > need {
            return Err(DropReason::CountMismatch {
                count,
                len: body.len(),
            });
        }
        if pseudo_sum(meta.src, meta.dst, msg) != 0xffff {
            return Err(DropReason::BadChecksum);
        }
        if max_adver_int == 0 {
            return Err(DropReason::ZeroInterval);
        }
        let addrs = body
            .chunks_exact(family.addr_len())
            .filter_map(|c| match family {
                Family::V4 => <[u8; 4]>::try_from(c).ok().map(IpAddr::from),
                Family::V6 => <[u8; 16]>::try_from(c).ok().map(IpAddr::from),
            })
            .collect();
        Ok(Advert {
            vrid,
            priority,
            max_adver_int,
            addrs,
        })
    }
}

/// Splits a raw IPv4 datagram (header included, as an `AF_INET` raw socket delivers it) into
/// the header facts and the VRRP payload.
pub fn parse_ipv4(packet: &[u8]) -> Result<(IpMeta, &[u8]), DropReason> {
    let head = packet.get(..20).ok_or(DropReason::Truncated {
        len: packet.len(),
        need: 20,
    })?;
    if head[0] >> 4 != 4 {
        return Err(DropReason::BadIpHeader);
    }
    let ihl = usize::from(head[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if ihl < 20 || total < ihl || total > packet.len() {
        return Err(DropReason::BadIpHeader);
    }
    if head[9] != IPPROTO_VRRP {
        return Err(DropReason::NotVrrp(head[9]));
    }
    let src = Ipv4Addr::new(head[12], head[13], head[14], head[15]);
    let dst = Ipv4Addr::new(head[16], head[17], head[18], head[19]);
    let payload = packet.get(ihl..total).ok_or(DropReason::BadIpHeader)?;
    Ok((
        IpMeta {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            ttl: head[8],
        },
        payload,
    ))
}

/// Builds a whole IPv4 datagram around a VRRP message (used by fixtures and tests; the edge
/// lets the kernel build the header).
pub fn emit_ipv4(meta: &IpMeta, payload: &[u8], ident: u16) -> Vec<u8> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (meta.src, meta.dst) else {
        return Vec::new();
    };
    let total = (20 + payload.len()) as u16;
    let mut out = vec![0x45, 0xc0];
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&[0, 0, meta.ttl, IPPROTO_VRRP, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let sum = !(ones_sum(0, &out) as u16);
    out[10..12].copy_from_slice(&sum.to_be_bytes());
    out.extend_from_slice(payload);
    out
}
