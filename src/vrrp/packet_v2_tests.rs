//! Fixtures from keepalived 2.2.7 and property tests for the VRRPv2 codec.
//!
//! `tests/fixtures/vrrpv2/adverts.hex` holds whole IPv4 datagrams keepalived sent from
//! 192.0.2.2 with `tests/fixtures/vrrpv2/keepalived.conf` (how: that folder's README.md): VRID
//! 51 PASS `secret12345`, 52 AH `secret12345` multicast, 53 no authentication, 54 AH `pw` to a
//! unicast peer. Each one is parsed, and encoding the parsed fields gives every byte back,
//! IPv4 header, AH ICV and VRRP checksum included.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;
use crate::vrrp::packet::{AuthFailure, DropReason};

const FIXTURES: &str = include_str!("../../tests/fixtures/vrrpv2/adverts.hex");

const KA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// Every datagram of the capture, in order (also the codec's tests').
pub(crate) fn fixtures() -> Vec<Vec<u8>> {
    FIXTURES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let l = l.trim();
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

/// The capture's datagrams of one VRID (read from the VRRP header, past AH if any).
fn of_vrid(vrid: u8) -> Vec<Vec<u8>> {
    fixtures()
        .into_iter()
        .filter(|p| {
            let at = if p[9] == IPPROTO_AH { 20 + AH_LEN } else { 20 };
            p[at + 1] == vrid
        })
        .collect()
}

/// What keepalived.conf configures for each VRID: the authentication and the delivery.
fn config(vrid: u8) -> (Auth, Delivery) {
    match vrid {
        51 => (
            Auth::Pass(Password::new("secret12345")),
            Delivery::Multicast,
        ),
        52 => (Auth::Ah(Password::new("secret12345")), Delivery::Multicast),
        53 => (Auth::None, Delivery::Multicast),
        54 => (Auth::Ah(Password::new("pw")), Delivery::Unicast),
        _ => unreachable!(),
    }
}

/// The advert keepalived.conf describes for each VRID at a priority.
fn advert(vrid: u8, priority: u8) -> Advert2 {
    let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    let (adver_int, addrs) = match vrid {
        51 => (1, vec![a("192.0.2.10"), a("192.0.2.11")]),
        52 => (2, vec![a("192.0.2.20")]),
        53 => (1, vec![a("192.0.2.30"), a("192.0.2.31"), a("192.0.2.32")]),
        54 => (1, vec![a("192.0.2.40")]),
        _ => unreachable!(),
    };
    Advert2 {
        vrid,
        priority,
        adver_int,
        addrs,
    }
}

fn ident(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[4], p[5]])
}

fn parse_fixture(p: &[u8]) -> Received2 {
    let vrid = p[if p[9] == IPPROTO_AH { 20 + AH_LEN } else { 20 } + 1];
    let (auth, delivery) = config(vrid);
    parse_ipv4(p, &auth, delivery).unwrap_or_else(|e| panic!("vrid {vrid}: {e}"))
}

#[test]
fn the_capture_has_every_kind_of_advert() {
    let all = fixtures();
    assert_eq!(all.len(), 24);
    for vrid in 51..=54 {
        let n = of_vrid(vrid);
        assert!(n.len() >= 3, "vrid {vrid}: {} adverts", n.len());
        // The last one of each is the priority 0 advert keepalived sends when it stops.
        assert_eq!(parse_fixture(n.last().unwrap()).advert.priority, 0);
    }
}

#[test]
fn every_keepalived_advert_parses_to_the_configured_fields() {
    for p in fixtures() {
        let r = parse_fixture(&p);
        let vrid = r.advert.vrid;
        let priority = r.advert.priority;
        assert!(priority == 0 || priority == [150, 200, 100, 120][usize::from(vrid - 51)]);
        assert_eq!(r.advert, advert(vrid, priority));
        let dst = if vrid == 54 { PEER } else { GROUP };
        assert_eq!(r.meta.src, IpAddr::V4(KA));
        assert_eq!(r.meta.dst, IpAddr::V4(dst));
        assert_eq!(r.meta.ttl, 255);
        match config(vrid).0 {
            Auth::Ah(_) => {
                let ah = r.ah.unwrap();
                assert_eq!(ah.spi, u32::from(KA));
                // keepalived numbers each instance's adverts from 1, like its IP ids.
                assert_eq!(ah.seq, u32::from(ident(&p)));
            }
            _ => assert_eq!(r.ah, None),
        }
    }
}

/// The strongest check: lbd's encoder, given the same fields, writes keepalived's datagram
/// byte for byte: IPv4 header (and its checksum), AH header with the same ICV, VRRP message
/// with the same checksum and authentication data.
#[test]
fn lbd_encodes_every_keepalived_advert_byte_for_byte() {
    for p in fixtures() {
        let r = parse_fixture(&p);
        let vrid = r.advert.vrid;
        let (auth, delivery) = config(vrid);
        let dst = if vrid == 54 { PEER } else { GROUP };
        let head = Ipv4Head::keepalived(KA, dst, ident(&p));
        assert_eq!(head.delivery, delivery);
        let seq = r.ah.map(|a| a.seq).unwrap_or(0);
        assert_eq!(encode_ipv4(&r.advert, &head, &auth, seq), p, "vrid {vrid}");
        // The VRRP message alone, too.
        let at = if matches!(auth, Auth::Ah(_)) {
            20 + AH_LEN
        } else {
            20
        };
        assert_eq!(r.advert.encode(&auth), p[at..]);
    }
}

#[test]
fn checksum_known_answers_from_keepalived() {
    // VRID 51 PASS at 150, VRID 53 none at 100, VRID 52 AH at 200, and the priority 0 ones.
    let cases: [(u8, u8, u16); 6] = [
        (51, 150, 0x5634),
        (51, 0, 0xec34),
        (53, 100, 0x3467),
        (53, 0, 0x9867),
        (52, 200, 0x52b3),
        (52, 0, 0x1ab4),
    ];
    for (vrid, prio, sum) in cases {
        let auth = config(vrid).0;
        let msg = advert(vrid, prio).encode(&auth);
        assert_eq!(
            u16::from_be_bytes([msg[6], msg[7]]),
            sum,
            "vrid {vrid} prio {prio}"
        );
        let mut zeroed = msg.clone();
        zeroed[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(checksum(&zeroed), sum);
    }
}

#[test]
fn the_v2_checksum_has_no_pseudo_header() {
    // The same message is valid whatever the addresses: a unicast advert's checksum does not
    // change with the peer, unlike VRRPv3's.
    let p = &of_vrid(53)[0];
    let mut moved = p.clone();
    moved[16..20].copy_from_slice(&[192, 0, 2, 99]);
    moved[12..16].copy_from_slice(&[192, 0, 2, 98]);
    assert!(parse_ipv4(&moved, &Auth::None, Delivery::Multicast).is_ok());
    // A v3-style checksum (with the IPv4 pseudo-header) is not what keepalived sends.
    let msg = &p[20..];
    let mut zeroed = msg.to_vec();
    zeroed[6..8].copy_from_slice(&[0, 0]);
    let v3 = crate::vrrp::packet::checksum(IpAddr::V4(KA), IpAddr::V4(GROUP), &zeroed);
    assert_ne!(v3.to_be_bytes(), [msg[6], msg[7]]);
}

#[test]
fn pass_is_truncated_to_eight_bytes_and_zero_padded() {
    assert_eq!(Password::new("secret12345").as_bytes(), b"secret12");
    assert_eq!(Password::new("secret12345"), Password::new("secret12"));
    assert!(Password::truncates("secret12345"));
    assert!(!Password::truncates("secret12"));
    assert_eq!(Password::new("pw").as_bytes(), b"pw\0\0\0\0\0\0");
    assert_eq!(Password::new("").as_bytes(), &[0; 8]);
    // Truncation is by bytes, as keepalived's is, even inside a UTF-8 character.
    assert_eq!(Password::new("mot-passé").as_bytes(), b"mot-pass");
    assert_eq!(
        &Password::new("ééééé").as_bytes()[..],
        &"ééééé".as_bytes()[..8]
    );

    // keepalived sent only "secret12" for `auth_pass secret12345`.
    let p = &of_vrid(51)[0];
    assert_eq!(&p[p.len() - 8..], b"secret12");
    for same in ["secret12", "secret12345", "secret12-anything"] {
        let auth = Auth::Pass(Password::new(same));
        assert!(parse_ipv4(p, &auth, Delivery::Multicast).is_ok(), "{same}");
    }
}

#[test]
fn a_wrong_password_is_an_auth_mismatch() {
    let p = &of_vrid(51)[0];
    for wrong in ["secret1", "secret13", "Secret12", ""] {
        let auth = Auth::Pass(Password::new(wrong));
        let err = parse_ipv4(p, &auth, Delivery::Multicast).unwrap_err();
        assert_eq!(
            err,
            DropReason::AuthMismatch(AuthFailure::Password),
            "{wrong:?}"
        );
        assert_eq!(err.kind(), "auth_mismatch");
    }
    // Our own PASS advert with a different password, checksum right: still a mismatch.
    let ours = encode_ipv4(
        &advert(51, 150),
        &Ipv4Head::keepalived(KA, GROUP, 9),
        &Auth::Pass(Password::new("other")),
        0,
    );
    assert!(parse_ipv4(
        &ours,
        &Auth::Pass(Password::new("other")),
        Delivery::Multicast
    )
    .is_ok());
    assert_eq!(
        parse_ipv4(&ours, &config(51).0, Delivery::Multicast),
        Err(DropReason::AuthMismatch(AuthFailure::Password))
    );
}

#[test]
fn the_wrong_or_missing_authentication_type_is_an_auth_mismatch() {
    let pass = &of_vrid(51)[0];
    let none = &of_vrid(53)[0];
    let ah = &of_vrid(52)[0];
    let pw = || Password::new("secret12345");
    let m = Delivery::Multicast;
    let mismatch = |got, want| {
        Err(DropReason::AuthMismatch(AuthFailure::TypeMismatch {
            got,
            want,
        }))
    };
    assert_eq!(parse_ipv4(pass, &Auth::None, m).map(|_| ()), mismatch(1, 0));
    assert_eq!(
        parse_ipv4(none, &Auth::Pass(pw()), m).map(|_| ()),
        mismatch(0, 1)
    );
    assert_eq!(
        parse_ipv4(ah, &Auth::Pass(pw()), m),
        Err(DropReason::AuthMismatch(AuthFailure::UnexpectedAh))
    );
    assert_eq!(
        parse_ipv4(ah, &Auth::None, m),
        Err(DropReason::AuthMismatch(AuthFailure::UnexpectedAh))
    );
    assert_eq!(
        parse_ipv4(pass, &Auth::Ah(pw()), m),
        Err(DropReason::AuthMismatch(AuthFailure::MissingAh))
    );
    // An unknown Auth Type (checksum fixed so that only the type is wrong).
    let mut odd = none.clone();
    odd[24] = 7;
    refix_vrrp_checksum(&mut odd, 20);
    assert_eq!(parse_ipv4(&odd, &Auth::None, m).map(|_| ()), mismatch(7, 0));
}

#[test]
fn no_authentication_ignores_the_authentication_data() {
    // RFC 3768 5.3.10: zero on sending, ignored on receipt.
    let mut p = of_vrid(53)[0].clone();
    let n = p.len();
    p[n - 8..].copy_from_slice(b"whatever");
    refix_vrrp_checksum(&mut p, 20);
    assert!(parse_ipv4(&p, &Auth::None, Delivery::Multicast).is_ok());
}

#[test]
fn ah_from_keepalived_verifies_only_with_its_password() {
    for (vrid, right) in [(52, "secret12345"), (54, "pw")] {
        let delivery = config(vrid).1;
        for p in of_vrid(vrid) {
            assert!(parse_ipv4(&p, &Auth::Ah(Password::new(right)), delivery).is_ok());
            for wrong in ["secret1", "secret13", "pw2", "", "PW"] {
                assert_eq!(
                    parse_ipv4(&p, &Auth::Ah(Password::new(wrong)), delivery),
                    Err(DropReason::AuthMismatch(AuthFailure::Icv)),
                    "vrid {vrid} {wrong:?}"
                );
            }
        }
    }
}

/// Recomputes the VRRP checksum of a datagram whose VRRP message starts at `at`.
fn refix_vrrp_checksum(p: &mut [u8], at: usize) {
    p[at + 6..at + 8].copy_from_slice(&[0, 0]);
    let sum = checksum(&p[at..]);
    p[at + 6..at + 8].copy_from_slice(&sum.to_be_bytes());
}

/// Flips each bit of a keepalived AH datagram in turn. Mutable IPv4 fields (TOS, flags and
/// fragment offset, header checksum; the TTL in unicast mode) may change on the way; any other
/// change is caught, and outside the few bytes that make the packet something else (IPv4
/// version and length, protocol, AH next header and length) it is caught by the ICV.
fn flip_every_bit(vrid: u8) {
    let (auth, delivery) = config(vrid);
    let p = of_vrid(vrid)[0].clone();
    let mut mutable = vec![1, 6, 7, 10, 11];
    if delivery == Delivery::Unicast {
        mutable.push(8);
    }
    let structural = [0, 2, 3, 9, 20, 21];
    for byte in 0..p.len() {
        for bit in 0..8 {
            let mut q = p.clone();
            q[byte] ^= 1 << bit;
            let got = parse_ipv4(&q, &auth, delivery);
            if mutable.contains(&byte) {
                assert!(got.is_ok(), "vrid {vrid} byte {byte} bit {bit}: {got:?}");
            } else if structural.contains(&byte) {
                assert!(got.is_err(), "vrid {vrid} byte {byte} bit {bit}");
            } else {
                assert_eq!(
                    got,
                    Err(DropReason::AuthMismatch(AuthFailure::Icv)),
                    "vrid {vrid} byte {byte} bit {bit}"
                );
            }
        }
    }
}

#[test]
fn ah_catches_a_flipped_bit_anywhere_but_in_mutable_fields_multicast() {
    flip_every_bit(52);
}

#[test]
fn ah_catches_a_flipped_bit_anywhere_but_in_mutable_fields_unicast() {
    flip_every_bit(54);
}

#[test]
fn ah_mutable_fields_may_all_change_at_once() {
    let p = of_vrid(54)[0].clone();
    let (auth, delivery) = config(54);
    let mut q = p.clone();
    q[1] = 0x10; // TOS
    q[6] = 0x40; // DF
    q[8] = 17; // TTL: zeroed in the ICV in unicast mode, and not checked there
    q[10] = 0xde; // header checksum
    q[11] = 0xad;
    let r = parse_ipv4(&q, &auth, delivery).unwrap();
    assert_eq!(r.meta.ttl, 17);
    // In multicast mode keepalived's ICV covers the TTL (and the TTL must be 255 anyway).
    let m = of_vrid(52)[0].clone();
    let mut q = m.clone();
    q[8] = 254;
    assert_eq!(
        parse_ipv4(&q, &config(52).0, Delivery::Multicast),
        Err(DropReason::AuthMismatch(AuthFailure::Icv))
    );
    // Received as unicast (TTL zeroed) a multicast advert does not verify: the modes differ.
    assert_eq!(
        parse_ipv4(&m, &config(52).0, Delivery::Unicast),
        Err(DropReason::AuthMismatch(AuthFailure::Icv))
    );
}

#[test]
fn ah_icv_is_keepalived_s_for_the_same_header_fields_and_sequence() {
    // From the fields alone (no bytes of the capture): VRID 52's first advert.
    let head = Ipv4Head::keepalived(KA, GROUP, 1);
    let ours = encode_ipv4_ah(&advert(52, 200), &head, &Password::new("secret12345"), 1);
    let theirs = &of_vrid(52)[0];
    assert_eq!(ours[32..44], theirs[32..44]);
    assert_eq!(
        ours[32..44],
        [0x2e, 0x3f, 0xa6, 0xad, 0x3b, 0x7a, 0xac, 0xf0, 0x96, 0x57, 0xce, 0xf1]
    );
    // Another sequence number, another ident: another ICV.
    let other = encode_ipv4_ah(&advert(52, 200), &head, &Password::new("secret12345"), 2);
    assert_ne!(other[32..44], ours[32..44]);
    let head2 = Ipv4Head { ident: 2, ..head };
    let two = encode_ipv4_ah(&advert(52, 200), &head2, &Password::new("secret12345"), 2);
    assert_eq!(two, of_vrid(52)[1]);
}

#[test]
fn ah_spi_must_be_the_source_address() {
    // An advert whose SPI is not its source, with a valid ICV (lbd computes it as keepalived).
    let head = Ipv4Head::keepalived(KA, GROUP, 5);
    let pw = Password::new("secret12345");
    let mut p = encode_ipv4_ah(&advert(52, 200), &head, &pw, 5);
    p[24..28].copy_from_slice(&[192, 0, 2, 77]);
    let ip = p[..20].to_vec();
    let mut ah = p[20..44].to_vec();
    ah[12..].fill(0);
    let icv = ah_mac(&ip, &ah, &p[44..], &pw, Delivery::Multicast)
        .finalize()
        .into_bytes();
    p[32..44].copy_from_slice(&icv[..12]);
    assert_eq!(
        parse_ipv4(&p, &Auth::Ah(pw), Delivery::Multicast),
        Err(DropReason::AuthMismatch(AuthFailure::Spi {
            spi: 0xc000_024d
        }))
    );
}

#[test]
fn each_malformed_packet_has_its_reason() {
    let pass = of_vrid(51)[0].clone();
    let ah = of_vrid(52)[0].clone();
    let auth = config(51).0;
    let m = Delivery::Multicast;
    let reason = |p: &[u8], auth: &Auth, d| parse_ipv4(p, auth, d).unwrap_err().kind();

    assert_eq!(reason(&pass[..19], &auth, m), "truncated");
    let mut v6 = pass.clone();
    v6[0] = 0x65;
    assert_eq!(reason(&v6, &auth, m), "bad_ip_header");
    let mut long = pass.clone();
    long[3] += 1;
    assert_eq!(reason(&long, &auth, m), "bad_ip_header");
    let mut udp = pass.clone();
    udp[9] = 17;
    assert_eq!(reason(&udp, &auth, m), "not_vrrp");
    let mut ttl = pass.clone();
    ttl[8] = 64;
    assert_eq!(reason(&ttl, &auth, m), "bad_ttl");
    // keepalived does not check the TTL of unicast adverts here (it has a per-peer range).
    assert!(parse_ipv4(&ttl, &auth, Delivery::Unicast).is_ok());
    let mut v3 = pass.clone();
    v3[20] = 0x31;
    assert_eq!(reason(&v3, &auth, m), "bad_version");
    let mut kind = pass.clone();
    kind[20] = 0x22;
    assert_eq!(reason(&kind, &auth, m), "bad_type");
    let mut sum = pass.clone();
    sum[27] ^= 1;
    assert_eq!(reason(&sum, &auth, m), "bad_checksum");
    let mut count = pass.clone();
    count[23] = 3;
    assert_eq!(reason(&count, &auth, m), "truncated");
    count[23] = 1;
    assert_eq!(reason(&count, &auth, m), "count_mismatch");
    count[23] = 0;
    assert_eq!(reason(&count, &auth, m), "no_addresses");
    let mut zero = pass.clone();
    zero[25] = 0;
    refix_vrrp_checksum(&mut zero, 20);
    assert_eq!(reason(&zero, &auth, m), "zero_interval");

    let ah_auth = config(52).0;
    assert_eq!(reason(&ah[..40], &ah_auth, m), "bad_ip_header");
    let mut cut = ah[..40].to_vec();
    cut[3] = 40;
    assert_eq!(reason(&cut, &ah_auth, m), "truncated");
    let mut next = ah.clone();
    next[20] = 6;
    assert_eq!(reason(&next, &ah_auth, m), "not_vrrp");
    let mut plen = ah.clone();
    plen[21] = 5;
    assert_eq!(reason(&plen, &ah_auth, m), "bad_ah_header");
}

#[test]
fn every_prefix_of_every_fixture_is_dropped_without_panicking() {
    for p in fixtures() {
        let vrid = parse_fixture(&p).advert.vrid;
        let (auth, delivery) = config(vrid);
        for n in 0..p.len() {
            assert!(
                parse_ipv4(&p[..n], &auth, delivery).is_err(),
                "vrid {vrid} len {n}"
            );
            // With the IPv4 total length fixed up to the cut, too (past the IP header checks).
            let mut q = p[..n].to_vec();
            if n >= 4 {
                q[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                assert!(
                    parse_ipv4(&q, &auth, delivery).is_err(),
                    "vrid {vrid} len {n}"
                );
            }
        }
    }
}

#[test]
fn passwords_never_show_in_debug_output() {
    let pw = Password::new("secret12345");
    let shown = [
        format!("{pw:?}"),
        format!("{:?}", Auth::Pass(pw.clone())),
        format!("{:?}", Auth::Ah(pw.clone())),
        format!("{:#?}", Some(Auth::Pass(pw.clone()))),
        format!(
            "{:?}",
            parse_ipv4(
                &of_vrid(51)[0],
                &Auth::Pass(Password::new("x")),
                Delivery::Multicast
            )
        ),
    ];
    for s in &shown {
        assert!(!s.contains("secret") && !s.contains("115, 101, 99"), "{s}");
    }
    assert_eq!(shown[0], "Password(<redacted>)");
    assert_eq!(shown[1], "Pass(<redacted>)");
    assert_eq!(shown[2], "Ah(<redacted>)");
    assert_eq!(format!("{:?}", Auth::None), "None");
}

fn any_auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        Just(Auth::None),
        proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(|b| Auth::Pass(Password::from_bytes(&b))),
        proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(|b| Auth::Ah(Password::from_bytes(&b))),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                                   auth in any_auth(), unicast: bool) {
        let d = if unicast { Delivery::Unicast } else { Delivery::Multicast };
        let _ = parse_ipv4(&bytes, &auth, d);
        // Behind a plausible IPv4 header, AH or not, so the deeper checks run too.
        for proto in [IPPROTO_VRRP, IPPROTO_AH] {
            let mut p = vec![0x45, 0xc0, 0, 0, 0, 1, 0, 0, 255, proto, 0, 0, 192, 0, 2, 2, 224, 0, 0, 18];
            p.extend_from_slice(&bytes);
            let n = p.len().min(usize::from(u16::MAX)) as u16;
            p[2..4].copy_from_slice(&n.to_be_bytes());
            let _ = parse_ipv4(&p, &auth, d);
        }
    }

    #[test]
    fn encode_then_parse_is_identity(vrid: u8, priority: u8, adver_int in 1u8..=255,
                                     addrs in proptest::collection::vec(any::<[u8; 4]>(), 1..40),
                                     auth in any_auth(), ident in 1u16.., seq: u32,
                                     src: [u8; 4], unicast: bool) {
        let a = Advert2 { vrid, priority, adver_int, addrs: addrs.into_iter().map(Ipv4Addr::from).collect() };
        let dst = if unicast { PEER } else { GROUP };
        let head = Ipv4Head::keepalived(Ipv4Addr::from(src), dst, ident);
        let bytes = encode_ipv4(&a, &head, &auth, seq);
        let r = parse_ipv4(&bytes, &auth, head.delivery).unwrap();
        prop_assert_eq!(&r.advert, &a);
        prop_assert_eq!(r.meta.src, IpAddr::V4(head.src));
        prop_assert_eq!(r.ah.map(|h| h.seq), matches!(auth, Auth::Ah(_)).then_some(seq));
    }

    #[test]
    fn a_corrupted_advert_is_never_accepted_as_another(idx: usize, bit in 0u8..8, auth in any_auth(),
                                                       unicast: bool) {
        let dst = if unicast { PEER } else { GROUP };
        let head = Ipv4Head::keepalived(KA, dst, 3);
        let bytes = encode_ipv4(&advert(53, 100), &head, &auth, 3);
        let mut q = bytes.clone();
        let i = idx % q.len();
        q[i] ^= 1 << bit;
        // With AH only the IPv4 header's mutable fields (and the TTL, for unicast) may
        // change without a drop. Without AH nothing covers the IPv4 header but its own
        // checksum, which the kernel checks before a raw socket sees the packet (VRRPv2 has no
        // pseudo-header), so any of it may; the VRRP message may not. Either way the advert
        // read is the one sent.
        if let Ok(r) = parse_ipv4(&q, &auth, head.delivery) {
            if matches!(auth, Auth::Ah(_)) {
                prop_assert!([1, 6, 7, 8, 10, 11].contains(&i), "byte {} accepted", i);
            } else {
                prop_assert!(i < 20, "byte {} accepted", i);
            }
            prop_assert_eq!(r.advert, advert(53, 100));
        }
    }
}
