//! One instance's advert codec, between the state machine and the sockets: VRRPv3 or VRRPv2
//! bytes out, checked [`Advert`]s in. Pure: no sockets, no clock; the counters are its state.
//!
//! Sending ([`Codec::encode`]), one advert to each destination:
//! - VRRPv3: the VRRP message only; the kernel writes the IP header (as before VRRPv2 came).
//! - VRRPv2: the whole IPv4 datagram, header included, as keepalived writes it
//!   ([`packet_v2::encode_ipv4`], sent with `IP_HDRINCL`). The identification counts from 1
//!   and the AH sequence number from 1, each up by one per advert: one advert to several
//!   unicast peers carries the same two numbers to each, as keepalived's does.
//!
//! Receiving ([`Codec::decode`]): a [`Raw`] datagram becomes the sender's [`IpMeta`] and an
//! [`Advert`] (VRRPv2's Adver Int in seconds becomes centiseconds, the state machine's unit),
//! or a typed [`DropReason`]. A VRRPv2 instance drops VRRPv3 packets and a VRRPv3 instance
//! VRRPv2 ones, both as `bad_version` (also when AH is configured and the VRRPv3 packet has
//! none). The checks that need the state machine's state (VRRPv2's Adver Int equal to ours,
//! own packets, addresses) are the state machine's ([`super::fsm::Vrrp::receive`]).
//!
//! AH anti-replay, and what a restarted peer meets. keepalived 2.2.7 keeps **one** counter per
//! instance for both directions: it raises it to every sequence number it accepts, drops an
//! advert whose number is not above it, and sends the counter plus one; a master that hears a
//! lower-priority master also jumps to that one's number plus one. It never forgets the
//! counter when a peer restarts (only when the counter would wrap, after 2^32 adverts). What
//! keeps a restarted peer (counting from 1 again) out of trouble is that a VRRPv2 router
//! starts as backup and adopts the master's numbers before it ever sends, so its own adverts
//! are above what everyone accepted. lbd does the same, per source:
//! - an authentic advert whose number is not above the last one accepted *from that source*
//!   is dropped ([`DropReason::AhReplay`], kind `ah_replay`), checked after the VRID so
//!   another virtual router of the same sender keeps its own numbers;
//! - every number accepted raises our own sending counter (keepalived's synchronisation), so
//!   when lbd takes over, its adverts are above what a keepalived backup last accepted from
//!   the old master (keepalived compares with its one counter, whoever sends);
//! - nothing is forgotten on a state change. A peer restarted with keepalived's
//!   `state MASTER` (or as address owner) sends low numbers at once and is dropped here as a
//!   replay; our next advert is above its counter, it accepts it and (if it has the higher
//!   priority) adopts our number plus one, which we accept: the two agree after one advert of
//!   each, without forgetting the replay protection.
//!
//! Per source rather than keepalived's single counter: a counter raised by our own adverts
//! would also drop a peer that was cut off and counted fewer adverts than us meanwhile (a
//! healed split brain); per source it is dropped only if its own numbers went back.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::fsm::{FsmConfig, Version};
use super::packet::{self, Advert, DropReason, IpMeta, IPPROTO_VRRP};
use super::packet_v2::{self, Advert2, Auth, Delivery, Ipv4Head, IPPROTO_AH, IPV4_HEADER_LEN};

/// A datagram as the socket delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// The whole IPv4 datagram, header included (raw `AF_INET` sockets).
    V4(Vec<u8>),
    /// The VRRP message and the IPv6 facts from control messages (raw `AF_INET6` sockets do
    /// not deliver the header).
    V6(IpMeta, Vec<u8>),
}

/// One instance's codec.
#[derive(Debug, Clone)]
pub struct Codec {
    vrid: u8,
    addrs: Vec<IpAddr>,
    /// Advertisement_Interval in centiseconds (VRRPv2: a multiple of 100).
    interval_cs: u16,
    v2: Option<V2>,
}

/// VRRPv2's settings and counters.
#[derive(Debug, Clone)]
struct V2 {
    auth: Auth,
    delivery: Delivery,
    /// The last identification sent (0: none yet).
    ident: u16,
    /// The last AH sequence number sent, or the highest accepted if above.
    seq: u32,
    /// The last AH sequence number accepted from each sender.
    last_seq: HashMap<Ipv4Addr, u32>,
}

/// The VRRP version nibble of a VRRP message.
fn version_of(msg: &[u8]) -> Option<u8> {
    msg.first().map(|b| b >> 4)
}

/// The header length and protocol of an IPv4 datagram, if it has a plausible header.
fn ipv4_proto(datagram: &[u8]) -> Option<(usize, u8)> {
    let head = datagram.get(..IPV4_HEADER_LEN)?;
    let ihl = usize::from(head[0] & 0x0f) * 4;
    (head[0] >> 4 == 4 && ihl >= IPV4_HEADER_LEN).then_some((ihl, head[9]))
}

/// Whether a datagram is IPsec AH protecting something other than VRRP (another user of AH on
/// the link): not for us, not even a drop to count.
pub fn foreign_ah(datagram: &[u8]) -> bool {
    match ipv4_proto(datagram) {
        Some((ihl, IPPROTO_AH)) => datagram.get(ihl).is_some_and(|&next| next != IPPROTO_VRRP),
        _ => false,
    }
}

impl Codec {
    /// The codec of a router configured as `fsm`, with VRRPv2's `auth` (ignored for VRRPv3)
    /// and `unicast` when adverts go to configured peers (what keepalived's AH ICV covers).
    pub fn new(fsm: &FsmConfig, auth: Auth, unicast: bool) -> Codec {
        let v2 = (fsm.version == Version::V2).then(|| V2 {
            auth,
            delivery: if unicast {
                Delivery::Unicast
            } else {
                Delivery::Multicast
            },
            ident: 0,
            seq: 0,
            last_seq: HashMap::new(),
        });
        Codec {
            vrid: fsm.vrid,
            addrs: fsm.advert_addrs.clone(),
            interval_cs: fsm.advert_interval_cs,
            v2,
        }
    }

    /// Whether [`Codec::encode`] gives whole IPv4 datagrams (VRRPv2: send with `IP_HDRINCL`).
    pub fn header_included(&self) -> bool {
        self.v2.is_some()
    }

    /// Whether adverts may come as IP protocol 51 (IPsec AH) too: a VRRPv2 instance listens
    /// for them whatever its own authentication, to count a peer's AH as `auth_mismatch`.
    pub fn receives_ah(&self) -> bool {
        self.v2.is_some()
    }

    /// One advert at `priority` from `src` to each of `dsts`, in order.
    pub fn encode(&mut self, priority: u8, src: IpAddr, dsts: &[IpAddr]) -> Vec<(IpAddr, Vec<u8>)> {
        let Some(v2) = &mut self.v2 else {
            let advert = Advert {
                vrid: self.vrid,
                priority,
                max_adver_int: self.interval_cs,
                addrs: self.addrs.clone(),
            };
            return dsts
                .iter()
                .map(|&dst| (dst, advert.encode(src, dst)))
                .collect();
        };
        let IpAddr::V4(src) = src else {
            return Vec::new();
        };
        // keepalived never sends identification 0: the kernel would replace it after the
        // ICV was computed over it.
        v2.ident = v2.ident.wrapping_add(1).max(1);
        // keepalived stops counting at 2^32 - 2 (about 136 years of 1 s adverts).
        v2.seq = v2.seq.saturating_add(1);
        let advert = Advert2 {
            vrid: self.vrid,
            priority,
            adver_int: (self.interval_cs / 100).min(255) as u8,
            addrs: self
                .addrs
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                })
                .collect(),
        };
        dsts.iter()
            .filter_map(|&dst| {
                let IpAddr::V4(d) = dst else { return None };
                let head = Ipv4Head::keepalived(src, d, v2.ident);
                Some((
                    dst,
                    packet_v2::encode_ipv4(&advert, &head, &v2.auth, v2.seq),
                ))
            })
            .collect()
    }

    /// Checks one received datagram; its sender's facts and the advert, or why it is dropped.
    pub fn decode(&mut self, raw: &Raw) -> Result<(IpMeta, Advert), DropReason> {
        let Some(v2) = &mut self.v2 else {
            return match raw {
                Raw::V4(datagram) => {
                    let (meta, msg) = packet::parse_ipv4(datagram)?;
                    Advert::parse(msg, &meta).map(|a| (meta, a))
                }
                Raw::V6(meta, msg) => Advert::parse(msg, meta).map(|a| (*meta, a)),
            };
        };
        let Raw::V4(datagram) = raw else {
            return Err(DropReason::BadIpHeader);
        };
        // A VRRPv3 packet is a version mismatch, whatever authentication we expect.
        if let Some((ihl, IPPROTO_VRRP)) = ipv4_proto(datagram) {
            match datagram.get(ihl..).and_then(version_of) {
                Some(v) if v != packet_v2::VRRP_VERSION_2 => return Err(DropReason::BadVersion(v)),
                _ => {}
            }
        }
        let got = packet_v2::parse_ipv4(datagram, &v2.auth, v2.delivery)?;
        if got.advert.vrid != self.vrid {
            return Err(DropReason::OtherVrid(got.advert.vrid));
        }
        if let (Some(ah), IpAddr::V4(src)) = (got.ah, got.meta.src) {
            if let Some(&last) = v2.last_seq.get(&src) {
                if ah.seq <= last {
                    return Err(DropReason::AhReplay { seq: ah.seq, last });
                }
            }
            v2.last_seq.insert(src, ah.seq);
            v2.seq = v2.seq.max(ah.seq);
        }
        let a = got.advert;
        Ok((
            got.meta,
            Advert {
                vrid: a.vrid,
                priority: a.priority,
                max_adver_int: u16::from(a.adver_int) * 100,
                addrs: a.addrs.into_iter().map(IpAddr::V4).collect(),
            },
        ))
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
