//! VRRPv2 adverts (RFC 3768) for IPv4, with keepalived's authentication: pure encode and parse.
//!
//! No sockets here. [`Advert2::encode`] builds the VRRP message; [`encode_ipv4`] (and
//! [`encode_ipv4_ah`]) build the whole IPv4 datagram the way keepalived 2.2.7 sends it (it
//! always writes the IPv4 header itself, `IP_HDRINCL`); [`parse_ipv4`] checks a raw IPv4
//! datagram as an `AF_INET` raw socket delivers it, header included, and authenticates it.
//! Every malformed, foreign or unauthenticated packet yields a typed [`DropReason`]
//! (authentication failures are [`DropReason::AuthMismatch`]); nothing here panics on input.
//!
//! ```text
//! RFC 3768 5.1. VRRP Packet Format
//!
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |   Auth Type   |   Adver Int   |          Checksum             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                         IP Address (1)                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                            .                                  |
//!    |                            .                                  |
//!    |                            .                                  |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                         IP Address (n)                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                     Authentication Data (1)                   |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                     Authentication Data (2)                   |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! How it differs from VRRPv3 ([`super::packet`]):
//! - Version 2; IPv4 only.
//! - Byte 4 is the Auth Type and byte 5 the Adver Int in whole **seconds** (8 bits), where v3
//!   has 4 reserved bits and a 12-bit Max Adver Int in centiseconds.
//! - 8 bytes of Authentication Data follow the addresses.
//! - The checksum (RFC 3768 5.3.8) covers the VRRP message alone, from the version field to
//!   the end of the authentication data: **no pseudo-header**, so it does not depend on the
//!   source or destination address (v3 adds the IPv4 pseudo-header).
//!
//! Authentication. RFC 3768 removed the authentication methods of RFC 2338 (which it obsoletes),
//! but keepalived 2.2.7 still implements RFC 2338's three Auth Types:
//! - 0, none: the data is zero on sending and ignored on receipt.
//! - 1, simple text password ("PASS"): the data is the password, truncated to 8 bytes and
//!   zero-padded (keepalived warns and truncates a longer `auth_pass`), compared in full.
//! - 2, IP Authentication Header ("AH", RFC 2402 with HMAC-MD5-96, after
//!   draft-ietf-vrrp-ipsecah-spec-00): the IPv4 datagram carries protocol 51 and an AH header
//!   between the IPv4 header and the VRRP message, whose Auth Type is 2 and whose data is zero.
//!
//! ```text
//! keepalived's AH header (24 bytes):
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    | Next Hdr (112)| Payload Len(4)|          Reserved (0)         |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |       Security Parameters Index = the sender's IPv4 address   |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |             Sequence Number (1 for the first advert)          |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |          ICV: HMAC-MD5 truncated to 96 bits (12 bytes)        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The ICV is HMAC-MD5 keyed with the 8-byte zero-padded password (the same 8 bytes as PASS),
//! over the IPv4 header, the AH header with its ICV zeroed, and the VRRP message. In the IPv4
//! header keepalived zeroes only the TOS, the flags and fragment offset, and the header
//! checksum; the **TTL is zeroed only in unicast mode** (`unicast_peer`), so a multicast advert's
//! ICV covers its TTL. The identification and total length are covered. keepalived checks the
//! SPI equals the source address, and drops a sequence number not above the last one it
//! accepted (that anti-replay state is the caller's: [`AhFields::seq`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::Md5;

use super::packet::{ones_sum, AuthFailure, DropReason, IpMeta, IPPROTO_VRRP, VRRP_TTL};

/// RFC 3768 5.3.1: "This document defines version 2".
pub const VRRP_VERSION_2: u8 = 2;
/// RFC 3768 5.3.2: the only type, ADVERTISEMENT.
pub const VRRP_TYPE_ADVERT: u8 = 1;
/// Fixed part of the VRRP message (before the addresses).
pub const HEADER_LEN: usize = 8;
/// Authentication Data after the addresses (RFC 3768 5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// IP protocol number of the IP Authentication Header (IANA).
pub const IPPROTO_AH: u8 = 51;
/// keepalived's AH header: 12 fixed bytes and a 96-bit ICV.
pub const AH_LEN: usize = 24;
/// HMAC-MD5-96 (RFC 2403): the digest truncated to 12 bytes.
pub const AH_ICV_LEN: usize = 12;
/// AH Payload Len in 32-bit words minus 2 (RFC 2402 2.2): (24 / 4) - 2.
pub const AH_PAYLOAD_LEN: u8 = 4;
/// The IPv4 header keepalived writes: no options.
pub const IPV4_HEADER_LEN: usize = 20;
/// keepalived's TOS for adverts: internetwork control (precedence 6).
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;

/// A VRRPv2 password: what keepalived keeps of `auth_pass`, its first 8 bytes, zero-padded.
///
/// Its `Debug` never shows the secret, and it is neither `Display` nor serializable.
#[derive(Clone, PartialEq, Eq)]
pub struct Password([u8; AUTH_DATA_LEN]);

impl Password {
    /// The password as keepalived stores `auth_pass`: bytes past the 8th are dropped.
    pub fn new(text: &str) -> Password {
        Password::from_bytes(text.as_bytes())
    }

    /// From raw bytes, truncated to 8 and zero-padded.
    pub fn from_bytes(bytes: &[u8]) -> Password {
        let mut data = [0u8; AUTH_DATA_LEN];
        let n = bytes.len().min(AUTH_DATA_LEN);
        data[..n].copy_from_slice(&bytes[..n]);
        Password(data)
    }

    /// Whether `text` is longer than what is kept (keepalived warns "Truncating auth_pass").
    pub fn truncates(text: &str) -> bool {
        text.len() > AUTH_DATA_LEN
    }

    /// The 8 bytes sent as PASS data and used as the AH key.
    pub fn as_bytes(&self) -> &[u8; AUTH_DATA_LEN] {
        &self.0
    }

    /// Compares in time independent of where the bytes differ.
    fn matches(&self, data: &[u8]) -> bool {
        data.len() == AUTH_DATA_LEN
            && self.0.iter().zip(data).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The authentication Auth Type codes (RFC 2338 5.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// 0: no authentication.
    None = 0,
    /// 1: simple text password.
    Pass = 1,
    /// 2: IP Authentication Header.
    Ah = 2,
}

impl AuthType {
    /// The Auth Type field's value.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An instance's VRRPv2 authentication, as configured.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `auth_type` none: any authentication data is accepted.
    None,
    /// keepalived's `auth_type PASS`.
    Pass(Password),
    /// keepalived's `auth_type AH`.
    Ah(Password),
}

impl Auth {
    /// The Auth Type sent and expected.
    pub fn auth_type(&self) -> AuthType {
        match self {
            Auth::None => AuthType::None,
            Auth::Pass(_) => AuthType::Pass,
            Auth::Ah(_) => AuthType::Ah,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Pass(_) => "Pass(<redacted>)",
            Auth::Ah(_) => "Ah(<redacted>)",
        })
    }
}

/// One VRRPv2 ADVERTISEMENT (its authentication is the instance's [`Auth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert2 {
    /// Virtual Router Identifier, 1-255.
    pub vrid: u8,
    /// 255 = address owner, 1-254 = backup-capable, 0 = the master is stopping.
    pub priority: u8,
    /// Adver Int in whole seconds.
    pub adver_int: u8,
    /// The virtual addresses.
    pub addrs: Vec<Ipv4Addr>,
}

/// How the advert travels. keepalived computes the AH ICV with the TTL zeroed only when it
/// sends to unicast peers, and checks the TTL is 255 only for multicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// To 224.0.0.18: the TTL must be 255 and is covered by the ICV.
    Multicast,
    /// To configured peers: the TTL is not checked here and is zeroed in the ICV.
    Unicast,
}

/// The IPv4 header fields of a sent advert that are not derived from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Head {
    /// Source address (also keepalived's AH SPI).
    pub src: Ipv4Addr,
    /// 224.0.0.18, or the peer for unicast.
    pub dst: Ipv4Addr,
    /// 255 for VRRP.
    pub ttl: u8,
    /// Identification. keepalived counts from 1 per instance and never sends 0 (which the
    /// kernel would replace with its own, after the ICV was computed).
    pub ident: u16,
    /// Type of service; keepalived sends [`TOS_INTERNETWORK_CONTROL`].
    pub tos: u8,
    /// Multicast or unicast (what the AH ICV covers).
    pub delivery: Delivery,
}

impl Ipv4Head {
    /// The header keepalived writes: TTL 255, TOS 0xc0, multicast unless `dst` is not.
    pub fn keepalived(src: Ipv4Addr, dst: Ipv4Addr, ident: u16) -> Ipv4Head {
        Ipv4Head {
            src,
            dst,
            ttl: VRRP_TTL,
            ident,
            tos: TOS_INTERNETWORK_CONTROL,
            delivery: if dst.is_multicast() {
                Delivery::Multicast
            } else {
                Delivery::Unicast
            },
        }
    }
}

/// The AH header fields of a received advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhFields {
    /// Security Parameters Index (checked to be the source address).
    pub spi: u32,
    /// Sequence number. keepalived drops one not above the last it accepted from the
    /// instance; that state is the caller's.
    pub seq: u32,
}

/// A received advert that passed every check that needs no more than the authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received2 {
    /// Source, destination and TTL from the IPv4 header.
    pub meta: IpMeta,
    /// The advert.
    pub advert: Advert2,
    /// The AH header, for `Auth::Ah`.
    pub ah: Option<AhFields>,
}

/// RFC 3768 5.3.8. Checksum
///
/// "The checksum is the 16-bit one's complement of the one's complement sum of the entire VRRP
/// message starting with the version field. For computing the checksum, the checksum field is
/// set to zero." `msg` is the whole message, authentication data included, with its checksum
/// bytes zero.
pub fn checksum(msg: &[u8]) -> u16 {
    !(ones_sum(0, msg) as u16)
}

impl Advert2 {
    /// Encodes the VRRP message for `auth` (the Auth Type, and the password as data for PASS;
    /// zeros for none and AH). At most 255 addresses are sent.
    pub fn encode(&self, auth: &Auth) -> Vec<u8> {
        let addrs = &self.addrs[..self.addrs.len().min(255)];
        let mut out = Vec::with_capacity(HEADER_LEN + addrs.len() * 4 + AUTH_DATA_LEN);
        out.push((VRRP_VERSION_2 << 4) | VRRP_TYPE_ADVERT);
        out.extend_from_slice(&[
            self.vrid,
            self.priority,
            addrs.len() as u8,
            auth.auth_type().code(),
            self.adver_int,
            0,
            0,
        ]);
        for a in addrs {
            out.extend_from_slice(&a.octets());
        }
        match auth {
            Auth::Pass(pw) => out.extend_from_slice(pw.as_bytes()),
            Auth::None | Auth::Ah(_) => out.extend_from_slice(&[0; AUTH_DATA_LEN]),
        }
        let sum = checksum(&out);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        out
    }
}

/// The IPv4 header (no options) for a datagram of `payload_len` bytes after it, its checksum
/// left zero.
fn ipv4_header(head: &Ipv4Head, protocol: u8, payload_len: usize) -> [u8; IPV4_HEADER_LEN] {
    let total = (IPV4_HEADER_LEN + payload_len).min(usize::from(u16::MAX)) as u16;
    let mut h = [0u8; IPV4_HEADER_LEN];
    h[0] = 0x45;
    h[1] = head.tos;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&head.ident.to_be_bytes());
    // 6..8: flags and fragment offset zero, as keepalived sends them (no DF).
    h[8] = head.ttl;
    h[9] = protocol;
    h[12..16].copy_from_slice(&head.src.octets());
    h[16..20].copy_from_slice(&head.dst.octets());
    h
}

fn fill_ipv4_checksum(h: &mut [u8]) {
    h[10..12].copy_from_slice(&[0, 0]);
    let sum = !(ones_sum(0, h) as u16);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// keepalived's ICV: HMAC-MD5 keyed with the 8 password bytes over the IPv4 header (TOS,
/// flags/fragment offset and checksum zeroed, and the TTL for unicast), the AH header with its
/// ICV zeroed, and the VRRP message. Returns the keyed MAC, ready to finalize or verify.
fn ah_mac(
    ip_header: &[u8],
    ah: &[u8],
    vrrp: &[u8],
    key: &Password,
    delivery: Delivery,
) -> Hmac<Md5> {
    let mut ip = [0u8; 60];
    let ip = &mut ip[..ip_header.len().min(60)];
    ip.copy_from_slice(&ip_header[..ip.len()]);
    ip[1] = 0;
    ip[6..8].copy_from_slice(&[0, 0]);
    ip[10..12].copy_from_slice(&[0, 0]);
    if delivery == Delivery::Unicast {
        ip[8] = 0;
    }
    let mut ah_zeroed = [0u8; AH_LEN];
    ah_zeroed[..AH_LEN - AH_ICV_LEN].copy_from_slice(&ah[..AH_LEN - AH_ICV_LEN]);
    // RFC 2104 zero-pads a key shorter than the 64-byte block, so the 8 password bytes padded
    // to a block are the same key as keepalived's 8 bytes (and as the bare password).
    let mut block = [0u8; 64];
    block[..AUTH_DATA_LEN].copy_from_slice(key.as_bytes());
    let mut mac = <Hmac<Md5> as KeyInit>::new(&block.into());
    mac.update(ip);
    mac.update(&ah_zeroed);
    mac.update(vrrp);
    mac
}

/// The whole IPv4 datagram keepalived sends for `advert` with `auth`: protocol 112 for none
/// and PASS, or for AH protocol 51 with [`encode_ipv4_ah`] (`seq` is used only then). The
/// IPv4 header checksum is filled in (the kernel recomputes it for `IP_HDRINCL` anyway).
pub fn encode_ipv4(advert: &Advert2, head: &Ipv4Head, auth: &Auth, seq: u32) -> Vec<u8> {
    if let Auth::Ah(pw) = auth {
        return encode_ipv4_ah(advert, head, pw, seq);
    }
    let vrrp = advert.encode(auth);
    let mut out = ipv4_header(head, IPPROTO_VRRP, vrrp.len()).to_vec();
    fill_ipv4_checksum(&mut out);
    out.extend_from_slice(&vrrp);
    out
}

/// The whole IPv4 datagram of a VRRPv2 advert with keepalived's IPsec AH: IPv4 header
/// (protocol 51), AH header (next header 112, SPI = `head.src`, sequence number `seq`, ICV),
/// VRRP message (Auth Type 2, zero data). keepalived numbers its adverts from 1.
pub fn encode_ipv4_ah(advert: &Advert2, head: &Ipv4Head, password: &Password, seq: u32) -> Vec<u8> {
    let vrrp = advert.encode(&Auth::Ah(password.clone()));
    let mut ip = ipv4_header(head, IPPROTO_AH, AH_LEN + vrrp.len());
    let mut ah = [0u8; AH_LEN];
    ah[0] = IPPROTO_VRRP;
    ah[1] = AH_PAYLOAD_LEN;
    ah[4..8].copy_from_slice(&head.src.octets());
    ah[8..12].copy_from_slice(&seq.to_be_bytes());
    let digest = ah_mac(&ip, &ah, &vrrp, password, head.delivery)
        .finalize()
        .into_bytes();
    ah[AH_LEN - AH_ICV_LEN..].copy_from_slice(&digest[..AH_ICV_LEN]);
    fill_ipv4_checksum(&mut ip);
    let mut out = Vec::with_capacity(ip.len() + AH_LEN + vrrp.len());
    out.extend_from_slice(&ip);
    out.extend_from_slice(&ah);
    out.extend_from_slice(&vrrp);
    out
}

/// Parses and checks a raw IPv4 datagram (header included, as an `AF_INET` raw socket
/// delivers it) carrying a VRRPv2 advert, for an instance authenticating with `auth`.
///
/// The checks that need no more configuration than the authentication (RFC 3768 7.1 and
/// keepalived's): IPv4 header sanity, AH present exactly when configured (then its layout,
/// ICV and SPI before anything else in the packet is trusted), TTL 255 for multicast, version
/// 2, type ADVERTISEMENT, at least one address and a length that matches the count, the
/// checksum, the Auth Type, the PASS data, and a non-zero Adver Int. Left to the caller: the
/// VRID, the Adver Int matching ours (RFC 3768 7.1 requires it for v2), the address list,
/// and AH's anti-replay check of [`AhFields::seq`].
pub fn parse_ipv4(packet: &[u8], auth: &Auth, delivery: Delivery) -> Result<Received2, DropReason> {
    let head = packet.get(..IPV4_HEADER_LEN).ok_or(DropReason::Truncated {
        len: packet.len(),
        need: IPV4_HEADER_LEN,
    })?;
    if head[0] >> 4 != 4 {
        return Err(DropReason::BadIpHeader);
    }
    let ihl = usize::from(head[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if ihl < IPV4_HEADER_LEN || total < ihl || total > packet.len() {
        return Err(DropReason::BadIpHeader);
    }
    let packet = &packet[..total];
    let src = Ipv4Addr::new(head[12], head[13], head[14], head[15]);
    let dst = Ipv4Addr::new(head[16], head[17], head[18], head[19]);
    let meta = IpMeta {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl: head[8],
    };
    let (msg, ah) = match (head[9], auth) {
        (IPPROTO_VRRP, Auth::Ah(_)) => {
            return Err(DropReason::AuthMismatch(AuthFailure::MissingAh))
        }
        (IPPROTO_AH, Auth::None | Auth::Pass(_)) => {
            return Err(DropReason::AuthMismatch(AuthFailure::UnexpectedAh))
        }
        (IPPROTO_VRRP, _) => (&packet[ihl..], None),
        (IPPROTO_AH, Auth::Ah(pw)) => {
            let (ah, msg) = check_ah(packet, ihl, src, pw, delivery)?;
            (msg, Some(ah))
        }
        (other, _) => return Err(DropReason::NotVrrp(other)),
    };
    if delivery == Delivery::Multicast && meta.ttl != VRRP_TTL {
        return Err(DropReason::BadTtl(meta.ttl));
    }
    let advert = parse_message(msg, auth)?;
    Ok(Received2 { meta, advert, ah })
}

/// Checks keepalived's AH header at `ihl` and its ICV; returns its fields and the VRRP
/// message after it.
fn check_ah<'a>(
    packet: &'a [u8],
    ihl: usize,
    src: Ipv4Addr,
    password: &Password,
    delivery: Delivery,
) -> Result<(AhFields, &'a [u8]), DropReason> {
    let ah = packet.get(ihl..ihl + AH_LEN).ok_or(DropReason::Truncated {
        len: packet.len(),
        need: ihl + AH_LEN,
    })?;
    if ah[0] != IPPROTO_VRRP {
        // keepalived ignores AH for another protocol.
        return Err(DropReason::NotVrrp(ah[0]));
    }
    if ah[1] != AH_PAYLOAD_LEN {
        return Err(DropReason::BadAhHeader);
    }
    let msg = &packet[ihl + AH_LEN..];
    let mac = ah_mac(&packet[..ihl], ah, msg, password, delivery);
    if mac
        .verify_truncated_left(&ah[AH_LEN - AH_ICV_LEN..])
        .is_err()
    {
        return Err(DropReason::AuthMismatch(AuthFailure::Icv));
    }
    let spi = u32::from_be_bytes([ah[4], ah[5], ah[6], ah[7]]);
    if spi != u32::from(src) {
        return Err(DropReason::AuthMismatch(AuthFailure::Spi { spi }));
    }
    let seq = u32::from_be_bytes([ah[8], ah[9], ah[10], ah[11]]);
    Ok((AhFields { spi, seq }, msg))
}

/// Checks the VRRP message itself (the IP and AH layers already checked).
fn parse_message(msg: &[u8], auth: &Auth) -> Result<Advert2, DropReason> {
    let Some(head) = msg.get(..HEADER_LEN) else {
        return Err(DropReason::Truncated {
            len: msg.len(),
            need: HEADER_LEN,
        });
    };
    let (version, kind) = (head[0] >> 4, head[0] & 0x0f);
    if version != VRRP_VERSION_2 {
        return Err(DropReason::BadVersion(version));
    }
    if kind != VRRP_TYPE_ADVERT {
        return Err(DropReason::BadType(kind));
    }
    let (vrid, priority, count, auth_type, adver_int) =
        (head[1], head[2], head[3], head[4], head[5]);
    if count == 0 {
        return Err(DropReason::NoAddresses);
    }
    let need = HEADER_LEN + usize::from(count) * 4 + AUTH_DATA_LEN;
    if msg.len() < need {
        return Err(DropReason::Truncated {
            len: msg.len(),
            need,
        });
    }
    if msg.len() > need {
        return Err(DropReason::CountMismatch {
            count,
            len: msg.len() - HEADER_LEN - AUTH_DATA_LEN,
        });
    }
    if ones_sum(0, msg) != 0xffff {
        return Err(DropReason::BadChecksum);
    }
    let want = auth.auth_type().code();
    if auth_type != want {
        return Err(DropReason::AuthMismatch(AuthFailure::TypeMismatch {
            got: auth_type,
            want,
        }));
    }
    let (addrs, data) = msg[HEADER_LEN..].split_at(usize::from(count) * 4);
    if let Auth::Pass(pw) = auth {
        if !pw.matches(data) {
            return Err(DropReason::AuthMismatch(AuthFailure::Password));
        }
    }
    if adver_int == 0 {
        return Err(DropReason::ZeroInterval);
    }
    Ok(Advert2 {
        vrid,
        priority,
        adver_int,
        addrs: addrs
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect(),
    })
}

#[cfg(test)]
#[path = "packet_v2_tests.rs"]
pub(crate) mod tests;
