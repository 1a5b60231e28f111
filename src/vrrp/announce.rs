//! Gratuitous ARP and unsolicited neighbour advertisement messages (pure builders/parsers).
//!
//! RFC 5798 6.4.2, on becoming master: "If the protected IPvX address is an IPv4 address,
//! then: For each IPv4 address associated with the virtual router, broadcast a gratuitous ARP
//! request containing the virtual router MAC address and with the target link-layer address
//! set to the virtual router MAC address. else // ipv6: Compute and join the Solicited-Node
//! multicast address [RFC4291] for the IPv6 address(es) associated with the virtual router.
//! For each IPv6 address associated with the virtual router, send an unsolicited ND Neighbor
//! Advertisement with the Router Flag (R) set, the Solicited Flag (S) unset, the Override flag
//! (O) set, the target address set to the IPv6 address of the virtual router, and the target
//! link-layer address set to the virtual router MAC address."
//!
//! Like keepalived without `use_vmac`, lbd announces the interface's own MAC address: the VIP
//! moves between directors' MACs, and these messages repoint the neighbours' caches. With
//! `use_vmac` the VIPs are on the VMAC, whose MAC these messages carry: the virtual router
//! MAC, the same on every director, as the RFC's text above has it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Ethernet type of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// The broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// A whole Ethernet frame carrying a gratuitous ARP request for `vip` from `mac`.
///
/// ```text
///  dst ff:ff:ff:ff:ff:ff | src MAC | 0x0806 |
///  htype 1 | ptype 0x0800 | hlen 6 | plen 4 | oper 1 (request) |
///  sha MAC | spa VIP | tha MAC | tpa VIP
/// ```
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&BROADCAST);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip.octets());
    f
}

/// If `frame` is a gratuitous ARP (sender IP = target IP), its (IP, sender MAC).
pub fn parse_garp(frame: &[u8]) -> Option<(Ipv4Addr, [u8; 6])> {
    if frame.get(12..14)? != ETH_P_ARP.to_be_bytes() {
        return None;
    }
    let arp = frame.get(14..42)?;
    if arp[..6] != [0, 1, 0x08, 0x00, 6, 4] {
        return None;
    }
    let sha: [u8; 6] = arp[8..14].try_into().ok()?;
    let spa: [u8; 4] = arp[14..18].try_into().ok()?;
    let tpa: [u8; 4] = arp[24..28].try_into().ok()?;
    (spa == tpa).then_some((Ipv4Addr::from(spa), sha))
}

/// The ICMPv6 body of an unsolicited Neighbor Advertisement for `vip` (RFC 4861 4.4) with
/// R and O set, S unset, and a Target Link-Layer Address option. The checksum is left zero:
/// the kernel fills it in on ICMPv6 raw sockets (RFC 3542 3.1).
///
/// ```text
///  type 136 | code 0 | checksum | R S O reserved | target (16) | opt type 2 | len 1 | MAC
/// ```
pub fn unsolicited_na(mac: [u8; 6], vip: Ipv6Addr) -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&[136, 0, 0, 0]);
    m.extend_from_slice(&[0xa0, 0, 0, 0]); // R=1 S=0 O=1
    m.extend_from_slice(&vip.octets());
    m.extend_from_slice(&[2, 1]);
    m.extend_from_slice(&mac);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

    #[test]
    fn garp_frame_layout_and_parse_round_trip() {
        let vip = Ipv4Addr::new(192, 0, 2, 10);
        let f = garp_frame(MAC, vip);
        assert_eq!(f.len(), 42);
        assert_eq!(
            f[..22],
            [
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0b, 8, 6, 0, 1, 8, 0, 6, 4, 0,
                1
            ]
        );
        assert_eq!(parse_garp(&f), Some((vip, MAC)));
        assert_eq!(parse_garp(&f[..30]), None);
        let mut not_garp = f.clone();
        not_garp[41] = 99;
        assert_eq!(parse_garp(&not_garp), None);
    }

    #[test]
    fn na_layout() {
        let vip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let m = unsolicited_na(MAC, vip);
        assert_eq!(m.len(), 32);
        assert_eq!(m[0], 136);
        assert_eq!(m[4], 0xa0);
        assert_eq!(m[8..24], vip.octets());
        assert_eq!(m[24..32], [2, 1, 2, 0, 0, 0, 0, 0x0b]);
    }
}
