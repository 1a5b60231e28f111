//! Byte fixtures and property tests for the VRRPv3 packet codec.
//!
//! The fixtures are adverts sent by keepalived v2.2.7 (`vrrp_version 3`), captured on the peer
//! end of a veth pair in two network namespaces with
//! `ip netns exec vcap-b tcpdump -i veth-b -n -xx 'ip proto 112 or ip6 proto 112'`
//! (keepalived on veth-a: 192.0.2.2, fe80::2, MAC 02:00:00:00:00:0a). Each is parsed into the
//! expected struct, and emitting that struct gives the same bytes back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::packet::*;

/// `IP 192.0.2.2 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 150, intvl 100cs`
/// (whole IPv4 datagram, Ethernet header stripped).
const KA_V4: [u8; 36] = [
    0x45, 0xc0, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x94, 0xc0, 0x00, 0x02, 0x02,
    0xe0, 0x00, 0x00, 0x12, // IPv4 header
    0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0x11, 0xba, // VRRP header
    0xc0, 0x00, 0x02, 0x0a, 0xc0, 0x00, 0x02, 0x0b, // 192.0.2.10, 192.0.2.11
];

/// The same router stopping: priority 0 (RFC 5798 6.4.3 Shutdown), IP id 4.
const KA_V4_PRIO0: [u8; 16] = [
    0x31, 0x33, 0x00, 0x02, 0x00, 0x64, 0xa7, 0xba, 0xc0, 0x00, 0x02, 0x0a, 0xc0, 0x00, 0x02, 0x0b,
];

/// `IP6 fe80::2 > ff02::12: VRRPv3, Advertisement, vrid 52, prio 200, intvl 50cs`
/// (VRRP message; the IPv6 header had hop limit 0xff, next header 0x70).
const KA_V6: [u8; 24] = [
    0x31, 0x34, 0xc8, 0x01, 0x00, 0x32, 0xda, 0xae, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0x10,
];

/// The IPv6 router stopping: priority 0.
const KA_V6_PRIO0: [u8; 24] = [
    0x31, 0x34, 0x00, 0x01, 0x00, 0x32, 0xa2, 0xaf, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0x10,
];

fn v4_meta() -> IpMeta {
    IpMeta {
        src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        dst: IpAddr::V4(VRRP_MCAST_V4),
        ttl: 255,
    }
}

fn v6_meta() -> IpMeta {
    IpMeta {
        src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2)),
        dst: IpAddr::V6(VRRP_MCAST_V6),
        ttl: 255,
    }
}

fn v4_advert(priority: u8) -> Advert {
    Advert {
        vrid: 51,
        priority,
        max_adver_int: 100,
        addrs: vec!["192.0.2.10".parse().unwrap(), "192.0.2.11".parse().unwrap()],
    }
}

fn v6_advert(priority: u8) -> Advert {
    Advert {
        vrid: 52,
        priority,
        max_adver_int: 50,
        addrs: vec!["2001:db8::10".parse().unwrap()],
    }
}

#[test]
fn keepalived_ipv4_advert_parses_and_emits_the_same_bytes() {
    let (meta, payload) = parse_ipv4(&KA_V4).unwrap();
    assert_eq!(meta, v4_meta());
    assert_eq!(Advert::parse(payload, &meta).unwrap(), v4_advert(150));
    let emitted = v4_advert(150).encode(meta.src, meta.dst);
    assert_eq!(emitted, payload);
    assert_eq!(emit_ipv4(&meta, &emitted, 1), KA_V4);
}

#[test]
fn keepalived_priority_zero_adverts_round_trip() {
    let m4 = v4_meta();
    assert_eq!(Advert::parse(&KA_V4_PRIO0, &m4).unwrap(), v4_advert(0));
    assert_eq!(v4_advert(0).encode(m4.src, m4.dst), KA_V4_PRIO0);
    let m6 = v6_meta();
    assert_eq!(Advert::parse(&KA_V6_PRIO0, &m6).unwrap(), v6_advert(0));
    assert_eq!(v6_advert(0).encode(m6.src, m6.dst), KA_V6_PRIO0);
}

#[test]
fn keepalived_ipv6_advert_parses_and_emits_the_same_bytes() {
    let meta = v6_meta();
    assert_eq!(Advert::parse(&KA_V6, &meta).unwrap(), v6_advert(200));
    assert_eq!(v6_advert(200).encode(meta.src, meta.dst), KA_V6);
}

#[test]
fn each_malformed_packet_has_its_reason() {
    let m = v4_meta();
    let mut cases: Vec<(Vec<u8>, IpMeta, &str)> = Vec::new();
    cases.push((KA_V4_PRIO0.to_vec(), IpMeta { ttl: 64, ..m }, "bad_ttl"));
    cases.push((KA_V4_PRIO0[..5].to_vec(), m, "truncated"));
    cases.push((KA_V4_PRIO0[..12].to_vec(), m, "truncated"));
    let mut extra = KA_V4_PRIO0.to_vec();
    extra.extend_from_slice(&[1, 2, 3, 4]);
    cases.push((extra, m, "count_mismatch"));
    let mut v2 = KA_V4_PRIO0.to_vec();
    v2[0] = 0x21;
    cases.push((v2, m, "bad_version"));
    let mut t2 = KA_V4_PRIO0.to_vec();
    t2[0] = 0x32;
    cases.push((t2, m, "bad_type"));
    let mut sum = KA_V4_PRIO0.to_vec();
    sum[7] ^= 1;
    cases.push((sum, m, "bad_checksum"));
    let mut zero = KA_V4_PRIO0.to_vec();
    zero[3] = 0;
    cases.push((zero, m, "no_addresses"));
    // A checksum over a different source address is a bad checksum too (pseudo-header).
    let other_src = IpMeta {
        src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3)),
        ..m
    };
    cases.push((KA_V4_PRIO0.to_vec(), other_src, "bad_checksum"));
    let global_src = IpMeta {
        src: "2001:db8::2".parse().unwrap(),
        ..v6_meta()
    };
    cases.push((KA_V6.to_vec(), global_src, "not_link_local"));
    let no_int = Advert {
        max_adver_int: 0,
        ..v4_advert(100)
    }
    .encode(m.src, m.dst);
    cases.push((no_int, m, "zero_interval"));
    let mut counters = DropCounters::default();
    for (bytes, meta, want) in &cases {
        let err = Advert::parse(bytes, meta).unwrap_err();
        assert_eq!(err.kind(), *want, "{err}");
        counters.count(&err);
    }
    assert_eq!(counters.total(), cases.len() as u64);
    assert_eq!(counters.get("bad_checksum"), 2);
}

#[test]
fn ipv4_header_errors_are_typed() {
    assert_eq!(parse_ipv4(&KA_V4[..10]).unwrap_err().kind(), "truncated");
    let mut v6 = KA_V4;
    v6[0] = 0x65;
    assert_eq!(parse_ipv4(&v6).unwrap_err(), DropReason::BadIpHeader);
    let mut long = KA_V4;
    long[3] = 0x40;
    assert_eq!(parse_ipv4(&long).unwrap_err(), DropReason::BadIpHeader);
    let mut udp = KA_V4;
    udp[9] = 17;
    assert_eq!(parse_ipv4(&udp).unwrap_err(), DropReason::NotVrrp(17));
}

#[test]
fn max_adver_int_is_twelve_bits_and_reserved_bits_are_ignored() {
    let m = v4_meta();
    let a = Advert {
        max_adver_int: MAX_ADVER_INT_CS,
        ..v4_advert(1)
    };
    let mut bytes = a.encode(m.src, m.dst);
    assert_eq!(&bytes[4..6], &[0x0f, 0xff]);
    // Set the reserved nibble and fix the checksum: still the same advert.
    bytes[4] |= 0xf0;
    bytes[6..8].copy_from_slice(&[0, 0]);
    let sum = checksum(m.src, m.dst, &bytes);
    bytes[6..8].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(Advert::parse(&bytes, &m).unwrap(), a);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), ttl: u8, v6: bool) {
        let meta = if v6 { IpMeta { ttl, ..v6_meta() } } else { IpMeta { ttl, ..v4_meta() } };
        let _ = Advert::parse(&bytes, &meta);
        let _ = parse_ipv4(&bytes);
    }

    #[test]
    fn encode_then_parse_is_identity(vrid: u8, priority: u8, int in 1u16..=4095,
                                     v4 in proptest::collection::vec(any::<[u8; 4]>(), 1..20),
                                     v6 in proptest::collection::vec(any::<[u8; 16]>(), 1..20),
                                     use_v6: bool) {
        let (meta, addrs): (IpMeta, Vec<IpAddr>) = if use_v6 {
            (v6_meta(), v6.into_iter().map(IpAddr::from).collect())
        } else {
            (v4_meta(), v4.into_iter().map(IpAddr::from).collect())
        };
        let a = Advert { vrid, priority, max_adver_int: int, addrs };
        let bytes = a.encode(meta.src, meta.dst);
        prop_assert_eq!(Advert::parse(&bytes, &meta).unwrap(), a);
    }
}
