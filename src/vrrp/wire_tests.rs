//! The codec against keepalived's captured datagrams (`tests/fixtures/vrrpv2`), round trips
//! between two codecs, the counters, and the anti-replay rules of the module doc.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::vrrp::packet::AuthFailure;
use crate::vrrp::packet_v2::{Password, AH_LEN};

const KA: &str = "192.0.2.2";
const LBD: &str = "192.0.2.3";
const GROUP: &str = "224.0.0.18";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The capture's datagrams of one VRID, in order.
fn of_vrid(vrid: u8) -> Vec<Vec<u8>> {
    crate::vrrp::packet_v2::tests::fixtures()
        .into_iter()
        .filter(|p| {
            let at = if p[9] == IPPROTO_AH { 20 + AH_LEN } else { 20 };
            p[at + 1] == vrid
        })
        .collect()
}

fn fsm(version: Version, vrid: u8, interval_cs: u16, addrs: &[&str]) -> FsmConfig {
    FsmConfig {
        name: "t".into(),
        version,
        vrid,
        priority: 100,
        advert_interval_cs: interval_cs,
        preempt: true,
        preempt_delay: Duration::ZERO,
        advert_addrs: addrs.iter().map(|a| ip(a)).collect(),
        garp_repeat: 0,
        garp_interval: Duration::from_millis(200),
        garp_refresh: None,
        garp_delay: None,
        garp_refresh_repeat: 0,
        garp_lower_prio_count: 1,
        garp_lower_prio_delay: None,
        lower_prio_no_advert: false,
        peers: vec![],
    }
}

/// A codec configured as keepalived.conf's instance of `vrid` (on the receiving side).
fn fixture_codec(vrid: u8) -> Codec {
    let pw = || Password::new("secret12345");
    let (cfg, auth, unicast) = match vrid {
        51 => (
            fsm(Version::V2, 51, 100, &["192.0.2.10", "192.0.2.11"]),
            Auth::Pass(pw()),
            false,
        ),
        52 => (
            fsm(Version::V2, 52, 200, &["192.0.2.20"]),
            Auth::Ah(pw()),
            false,
        ),
        53 => (
            fsm(
                Version::V2,
                53,
                100,
                &["192.0.2.30", "192.0.2.31", "192.0.2.32"],
            ),
            Auth::None,
            false,
        ),
        54 => (
            fsm(Version::V2, 54, 100, &["192.0.2.40"]),
            Auth::Ah(Password::new("pw")),
            true,
        ),
        _ => unreachable!(),
    };
    Codec::new(&cfg, auth, unicast)
}

#[test]
fn keepalived_datagrams_decode_with_the_interval_in_centiseconds() {
    for (vrid, prio, cs, naddr, dst) in [
        (51, 150, 100, 2, GROUP),
        (52, 200, 200, 1, GROUP),
        (53, 100, 100, 3, GROUP),
        (54, 120, 100, 1, LBD),
    ] {
        let mut c = fixture_codec(vrid);
        let all = of_vrid(vrid);
        assert!(all.len() >= 2, "vrid {vrid}");
        for d in &all {
            let (meta, a) = c.decode(&Raw::V4(d.clone())).unwrap_or_else(|e| {
                panic!("vrid {vrid}: {e}");
            });
            assert_eq!((meta.src, meta.dst), (ip(KA), ip(dst)), "vrid {vrid}");
            assert_eq!(a.vrid, vrid);
            assert!(a.priority == prio || a.priority == 0, "vrid {vrid}");
            assert_eq!(a.max_adver_int, cs, "vrid {vrid}");
            assert_eq!(a.addrs.len(), naddr, "vrid {vrid}");
        }
    }
}

#[test]
fn ah_replays_are_dropped_per_source_and_raise_our_counter() {
    for vrid in [52, 54] {
        let all = of_vrid(vrid);
        let mut c = fixture_codec(vrid);
        c.decode(&Raw::V4(all[1].clone())).unwrap();
        // The first one (sequence 1) is older than the second (2): dropped.
        assert_eq!(
            c.decode(&Raw::V4(all[0].clone())),
            Err(DropReason::AhReplay { seq: 1, last: 2 })
        );
        assert_eq!(DropReason::AhReplay { seq: 1, last: 2 }.kind(), "ah_replay");
        // The same one again: dropped.
        assert!(matches!(
            c.decode(&Raw::V4(all[1].clone())),
            Err(DropReason::AhReplay { seq: 2, last: 2 })
        ));
        c.decode(&Raw::V4(all[2].clone())).unwrap();
        // Our next advert goes above what was accepted (keepalived's synchronisation).
        let out = c.encode(100, ip(LBD), &[ip(GROUP)]);
        let seq = u32::from_be_bytes(out[0].1[28..32].try_into().unwrap());
        assert_eq!(seq, 4, "vrid {vrid}");
    }
}

#[test]
fn wrong_or_missing_authentication_is_auth_mismatch() {
    let cfg = fsm(Version::V2, 51, 100, &["192.0.2.10", "192.0.2.11"]);
    let pass = of_vrid(51).remove(0);
    let ah = of_vrid(52).remove(0);
    for (auth, datagram, failure) in [
        (
            Auth::Pass(Password::new("secret99")),
            &pass,
            AuthFailure::Password,
        ),
        (
            Auth::Ah(Password::new("secret12345")),
            &pass,
            AuthFailure::MissingAh,
        ),
        (Auth::None, &ah, AuthFailure::UnexpectedAh),
        (
            Auth::Pass(Password::new("secret12345")),
            &ah,
            AuthFailure::UnexpectedAh,
        ),
    ] {
        let got = Codec::new(&cfg, auth, false).decode(&Raw::V4(datagram.clone()));
        assert_eq!(got, Err(DropReason::AuthMismatch(failure)));
        assert_eq!(got.unwrap_err().kind(), "auth_mismatch");
    }
    let mut wrong = fixture_codec(52);
    wrong.v2.as_mut().unwrap().auth = Auth::Ah(Password::new("other"));
    assert_eq!(
        wrong.decode(&Raw::V4(ah.clone())),
        Err(DropReason::AuthMismatch(AuthFailure::Icv))
    );
    // Another router's VRID with the same password keeps its own sequence numbers.
    let mut c = fixture_codec(52);
    c.vrid = 9;
    assert_eq!(c.decode(&Raw::V4(ah)), Err(DropReason::OtherVrid(52)));
    assert!(c.v2.unwrap().last_seq.is_empty());
}

#[test]
fn v2_and_v3_never_accept_each_other() {
    let addrs = ["192.0.2.10"];
    let v3_datagram = {
        let mut v3 = Codec::new(&fsm(Version::V3, 51, 100, &addrs), Auth::None, false);
        let msg = v3.encode(100, ip(KA), &[ip(GROUP)]).remove(0).1;
        let meta = IpMeta {
            src: ip(KA),
            dst: ip(GROUP),
            ttl: 255,
        };
        packet::emit_ipv4(&meta, &msg, 7)
    };
    for auth in [
        Auth::None,
        Auth::Pass(Password::new("x")),
        Auth::Ah(Password::new("x")),
    ] {
        let mut v2 = Codec::new(&fsm(Version::V2, 51, 100, &addrs), auth, false);
        assert_eq!(
            v2.decode(&Raw::V4(v3_datagram.clone())),
            Err(DropReason::BadVersion(3))
        );
    }
    let mut v3 = Codec::new(&fsm(Version::V3, 51, 100, &addrs), Auth::None, false);
    let v2_datagram = of_vrid(53).remove(0);
    assert_eq!(
        v3.decode(&Raw::V4(v2_datagram)),
        Err(DropReason::BadVersion(2))
    );
}

#[test]
fn v3_is_the_message_alone_as_before() {
    let cfg = fsm(Version::V3, 51, 10, &["192.0.2.10"]);
    let mut c = Codec::new(&cfg, Auth::None, false);
    assert!(!c.header_included() && !c.receives_ah());
    let dsts = [ip(GROUP), ip(LBD)];
    let out = c.encode(150, ip(KA), &dsts);
    let advert = Advert {
        vrid: 51,
        priority: 150,
        max_adver_int: 10,
        addrs: vec![ip("192.0.2.10")],
    };
    for (dst, bytes) in &out {
        assert_eq!(*bytes, advert.encode(ip(KA), *dst));
    }
    let meta = IpMeta {
        src: ip(KA),
        dst: ip(GROUP),
        ttl: 255,
    };
    let datagram = packet::emit_ipv4(&meta, &out[0].1, 1);
    assert_eq!(c.decode(&Raw::V4(datagram)), Ok((meta, advert.clone())));
    let v6 = IpMeta {
        src: ip("fe80::2"),
        dst: ip("ff02::12"),
        ttl: 255,
    };
    let a6 = Advert {
        addrs: vec![ip("2001:db8::10")],
        ..advert
    };
    let msg = a6.encode(v6.src, v6.dst);
    assert_eq!(c.decode(&Raw::V6(v6, msg)), Ok((v6, a6)));
}

#[test]
fn v2_round_trips_with_keepalived_counters() {
    let addrs = ["192.0.2.10", "192.0.2.11"];
    for (auth, unicast) in [
        (Auth::None, false),
        (Auth::Pass(Password::new("secret12345")), false),
        (Auth::Ah(Password::new("secret12345")), false),
        (Auth::Ah(Password::new("secret12345")), true),
    ] {
        let cfg = fsm(Version::V2, 51, 300, &addrs);
        let mut tx = Codec::new(&cfg, auth.clone(), unicast);
        let mut rx = Codec::new(&cfg, auth.clone(), unicast);
        assert!(tx.header_included() && tx.receives_ah());
        let dsts = if unicast {
            vec![ip(LBD), ip("192.0.2.4")]
        } else {
            vec![ip(GROUP)]
        };
        for n in 1..=3u16 {
            let out = tx.encode(120, ip(KA), &dsts);
            assert_eq!(out.len(), dsts.len());
            for (dst, d) in &out {
                // keepalived's header: identification and (AH) sequence count from 1, one
                // per advert, the same to every peer.
                assert_eq!(u16::from_be_bytes([d[4], d[5]]), n, "{auth:?}");
                assert_eq!(&d[16..20], &ip_octets(*dst));
                if let Auth::Ah(_) = auth {
                    assert_eq!(d[9], IPPROTO_AH);
                    assert_eq!(d[28..32], u32::from(n).to_be_bytes());
                } else {
                    assert_eq!(d[9], IPPROTO_VRRP);
                }
            }
            let (meta, a) = rx.decode(&Raw::V4(out[0].1.clone())).unwrap();
            assert_eq!(meta.src, ip(KA));
            assert_eq!((a.vrid, a.priority, a.max_adver_int), (51, 120, 300));
            assert_eq!(a.addrs, vec![ip(addrs[0]), ip(addrs[1])]);
        }
    }
    // The identification skips 0 when it wraps (the kernel would fill its own in).
    let mut c = fixture_codec(53);
    c.v2.as_mut().unwrap().ident = u16::MAX;
    let d = c.encode(100, ip(KA), &[ip(GROUP)]).remove(0).1;
    assert_eq!(u16::from_be_bytes([d[4], d[5]]), 1);
}

fn ip_octets(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(_) => [0; 4],
    }
}

#[test]
fn a_restarted_peer_counting_from_one_is_not_locked_out() {
    // keepalived (KA) was master for a long while: lbd accepted its sequence 1000.
    let cfg = fsm(Version::V2, 51, 100, &["192.0.2.10"]);
    let auth = Auth::Ah(Password::new("pw"));
    let mut lbd = Codec::new(&cfg, auth.clone(), false);
    let mut ka_old = Codec::new(&cfg, auth.clone(), false);
    ka_old.v2.as_mut().unwrap().seq = 999;
    let d = ka_old.encode(150, ip(KA), &[ip(GROUP)]).remove(0).1;
    lbd.decode(&Raw::V4(d)).unwrap();
    // KA restarts and sends from 1 at once (keepalived's `state MASTER`): a replay to lbd.
    let mut ka = Codec::new(&cfg, auth.clone(), false);
    let d = ka.encode(150, ip(KA), &[ip(GROUP)]).remove(0).1;
    assert_eq!(
        lbd.decode(&Raw::V4(d)),
        Err(DropReason::AhReplay { seq: 1, last: 1000 })
    );
    // lbd's advert carries 1001: KA (here a codec in its place) accepts it and adopts the
    // number, so its next advert is 1002, which lbd accepts.
    let d = lbd.encode(100, ip(LBD), &[ip(GROUP)]).remove(0).1;
    assert_eq!(d[28..32], 1001u32.to_be_bytes());
    ka.decode(&Raw::V4(d)).unwrap();
    let d = ka.encode(150, ip(KA), &[ip(GROUP)]).remove(0).1;
    assert_eq!(d[28..32], 1002u32.to_be_bytes());
    let (_, a) = lbd.decode(&Raw::V4(d)).unwrap();
    assert_eq!(a.priority, 150);
    // A peer that starts as backup adopts the master's numbers before it sends: fine too.
    let mut fresh = Codec::new(&cfg, auth, false);
    let d = lbd.encode(100, ip(LBD), &[ip(GROUP)]).remove(0).1;
    fresh.decode(&Raw::V4(d)).unwrap();
    let d = fresh.encode(150, ip("192.0.2.4"), &[ip(GROUP)]).remove(0).1;
    assert!(lbd.decode(&Raw::V4(d)).is_ok());
}

#[test]
fn foreign_ah_is_told_apart_and_nothing_panics() {
    let mut ah = of_vrid(52).remove(0);
    assert!(!foreign_ah(&ah));
    ah[20] = 6; // AH protecting TCP.
    assert!(foreign_ah(&ah));
    assert!(!foreign_ah(&of_vrid(51)[0]));
    assert!(!foreign_ah(&[]));
    let mut c = fixture_codec(52);
    for n in 0..ah.len() {
        let _ = c.decode(&Raw::V4(ah[..n].to_vec()));
        assert!(!foreign_ah(&ah[..n]) || n > 20);
    }
}
