//! Property tests of the codec: arbitrary services, destinations (with their service key),
//! daemons, statistics, info and timeouts survive encode → bytes → parse → domain unchanged; arbitrary and mutated bytes never panic the
//! reply parser (the bounded, always-on part of fuzzing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST};
use proptest::prelude::*;

use super::attr::IpvsAttr;
use super::convert::*;
use super::wire::*;
use super::*;

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::Ipv4), Just(Family::Ipv6)]
}

fn addr(f: Family) -> BoxedStrategy<IpAddr> {
    match f {
        Family::Ipv4 => any::<[u8; 4]>()
            .prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)))
            .boxed(),
        Family::Ipv6 => any::<[u8; 16]>()
            .prop_map(|b| IpAddr::V6(Ipv6Addr::from(b)))
            .boxed(),
    }
}

fn key() -> impl Strategy<Value = ServiceKey> {
    family().prop_flat_map(|f| {
        prop_oneof![
            (
                prop_oneof![
                    Just(Protocol::Tcp),
                    Just(Protocol::Udp),
                    Just(Protocol::Sctp)
                ],
                addr(f),
                any::<u16>()
            )
                .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                    protocol,
                    addr,
                    port
                }),
            (1u32..).prop_map(move |mark| ServiceKey::Fwmark { family: f, mark }),
        ]
    })
}

fn service() -> impl Strategy<Value = Service> {
    (
        key(),
        "[a-z]{1,15}",
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        proptest::option::of("[a-z]{1,15}"),
    )
        .prop_map(
            |(key, scheduler, flags, timeout, netmask, pe_name)| Service {
                netmask: netmask % (key.family().max_prefix() + 1),
                key,
                scheduler,
                flags: SvcFlags::from_kernel(flags),
                timeout,
                pe_name,
            },
        )
}

fn forward() -> impl Strategy<Value = ForwardMethod> {
    prop_oneof![
        Just(ForwardMethod::Masq),
        Just(ForwardMethod::Route),
        Just(ForwardMethod::Local),
        Just(ForwardMethod::Bypass),
        (0u8..3, any::<u16>(), any::<u16>()).prop_map(|(k, port, flags)| {
            ForwardMethod::Tunnel(Tunnel {
                kind: TunnelType::from_number(k),
                port,
                flags,
            })
        }),
    ]
}

fn dest(f: Family) -> impl Strategy<Value = Dest> {
    (
        addr(f),
        any::<u16>(),
        forward(),
        any::<i32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(addr, port, forward, weight, upper_threshold, lower_threshold)| Dest {
                addr,
                port,
                forward,
                weight,
                upper_threshold,
                lower_threshold,
            },
        )
}

fn stats() -> impl Strategy<Value = Stats> {
    any::<[u64; 10]>().prop_map(|v| Stats {
        conns: v[0],
        inpkts: v[1],
        outpkts: v[2],
        inbytes: v[3],
        outbytes: v[4],
        cps: v[5],
        inpps: v[6],
        outpps: v[7],
        inbps: v[8],
        outbps: v[9],
    })
}

/// Statistics as the 32-bit STATS attribute can carry them (byte counts stay 64-bit).
fn stats32() -> impl Strategy<Value = Stats> {
    (any::<[u32; 8]>(), any::<[u64; 2]>()).prop_map(|(v, b)| Stats {
        conns: v[0].into(),
        inpkts: v[1].into(),
        outpkts: v[2].into(),
        inbytes: b[0],
        outbytes: b[1],
        cps: v[3].into(),
        inpps: v[4].into(),
        outpps: v[5].into(),
        inbps: v[6].into(),
        outbps: v[7].into(),
    })
}

/// The STATS (`wide == false`: u32 counters and rates, u64 byte counts) or STATS64
/// attribute list of `s`.
fn stats_attrs(s: &Stats, wide: bool) -> Vec<attr::StatsAttr> {
    use attr::{Counter, StatsAttr::*};
    let c = |v: u64| {
        if wide {
            Counter::U64(v)
        } else {
            Counter::U32(u32::try_from(v).expect("fits the 32-bit stats"))
        }
    };
    vec![
        Conns(c(s.conns)),
        InPkts(c(s.inpkts)),
        OutPkts(c(s.outpkts)),
        InBytes(Counter::U64(s.inbytes)),
        OutBytes(Counter::U64(s.outbytes)),
        Cps(c(s.cps)),
        InPps(c(s.inpps)),
        OutPps(c(s.outpps)),
        InBps(c(s.inbps)),
        OutBps(c(s.outbps)),
    ]
}

/// The key of a key-only service attribute list, parsed by the reply parser (completed
/// with the settings it requires, which do not touch the key).
fn key_from_attrs(attrs: &[attr::SvcAttr]) -> ServiceKey {
    let mut full = attrs.to_vec();
    full.extend([
        attr::SvcAttr::SchedName("rr".into()),
        attr::SvcAttr::Flags(attr::FlagsMask { flags: 0, mask: !0 }),
        attr::SvcAttr::Timeout(0),
        attr::SvcAttr::Netmask(0),
    ]);
    service_from_attrs(&full).expect("key parses").0.key
}

/// Encodes `op`, parses the bytes back and returns the IPVS message.
fn through_bytes(op: &Op) -> IpvsMessage {
    let bytes = encode_request(op.to_message(), 0x1d, NLM_F_REQUEST | NLM_F_ACK, 7);
    let parsed = parse_message(&bytes).expect("own bytes parse");
    assert_eq!(parsed.header.sequence_number, 7);
    assert_eq!(parsed.header.message_type, 0x1d);
    match parsed.payload {
        NetlinkPayload::InnerMessage(genl) => {
            assert_eq!(genl.header.version, 1);
            genl.payload
        }
        other => panic!("unexpected payload {other:?}"),
    }
}

fn svc_attrs(msg: &IpvsMessage) -> &[attr::SvcAttr] {
    msg.attrs
        .iter()
        .find_map(|a| {
            if let IpvsAttr::Service(s) = a {
                Some(s.as_slice())
            } else {
                None
            }
        })
        .expect("service attribute")
}

proptest! {
    /// Captured kernel replies with bytes flipped or cut: never a panic.
    #[test]
    fn mutated_kernel_replies_never_panic(
        pick in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let replies: Vec<Vec<u8>> = include_str!("fixtures/kernel-6.1.txt")
            .lines()
            .filter_map(|l| l.strip_prefix("< "))
            .map(|h| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect())
            .collect();
        let mut bytes = pick.get(&replies).clone();
        for (i, v) in &flips {
            let at = i.index(bytes.len());
            bytes[at] = *v;
        }
        let cut = cut.index(bytes.len() + 1);
        let _ = decode_everything(&bytes);
        let _ = decode_everything(&bytes[..cut]);
    }

    #[test]
    fn service_round_trips(svc in service()) {
        let op = Op::AddService(svc.clone());
        let msg = through_bytes(&op);
        prop_assert_eq!(&msg, &op.to_message());
        let (back, _) = service_from_attrs(svc_attrs(&msg)).unwrap();
        prop_assert_eq!(back, svc);
    }

    #[test]
    fn dest_round_trips((svc, d) in key().prop_flat_map(|k| (Just(k), dest(k.family())))) {
        let op = Op::AddDest { service: svc, dest: d.clone() };
        let msg = through_bytes(&op);
        prop_assert_eq!(&msg, &op.to_message());
        // The service part is the key only (af + fwmark, or af + protocol + address + port)
        // and parses back to the same key.
        let attrs = svc_attrs(&msg);
        let key_attrs = service_key_attrs(&svc);
        prop_assert_eq!(attrs, key_attrs.as_slice());
        let k = key_from_attrs(attrs);
        prop_assert_eq!(k, svc);
        let dattrs = msg.attrs.iter().find_map(|a| if let IpvsAttr::Dest(d) = a { Some(d) } else { None }).unwrap();
        let back = dest_from_attrs(k.family(), dattrs).unwrap();
        prop_assert_eq!(back.dest, d);
    }

    /// Statistics in a service reply: STATS64 alone, STATS alone (32-bit counters, 64-bit
    /// byte counts, as the kernel sends them) and both (STATS64 wins) parse back unchanged.
    #[test]
    fn stats_round_trip(svc in service(), s64 in stats(), s32 in stats32()) {
        for (with32, with64, want) in [(false, true, s64), (true, false, s32), (true, true, s64)] {
            let mut attrs = service_attrs(&svc);
            if with32 {
                attrs.push(attr::SvcAttr::Stats(stats_attrs(&s32, false)));
            }
            if with64 {
                attrs.push(attr::SvcAttr::Stats64(stats_attrs(&s64, true)));
            }
            let msg = IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(attrs)]);
            let bytes = encode_request(msg.clone(), 0x1d, 0, 1);
            let NetlinkPayload::InnerMessage(genl) = parse_message(&bytes).unwrap().payload else {
                panic!("no inner message")
            };
            prop_assert_eq!(&genl.payload, &msg);
            let (back, st) = service_from_attrs(svc_attrs(&genl.payload)).unwrap();
            prop_assert_eq!(back, svc.clone());
            prop_assert_eq!(st, want);
        }
    }

    /// GET_INFO's reply (SET_INFO, reusing attribute numbers) through bytes.
    #[test]
    fn info_round_trips(version in any::<u32>(), size in any::<u32>()) {
        let msg = IpvsMessage::new(
            IpvsCmd::SetInfo,
            vec![IpvsAttr::InfoVersion(version), IpvsAttr::InfoConnTabSize(size)],
        );
        let bytes = encode_request(msg.clone(), 0x1d, 0, 1);
        let NetlinkPayload::InnerMessage(genl) = parse_message(&bytes).unwrap().payload else {
            panic!("no inner message")
        };
        prop_assert_eq!(&genl.payload, &msg);
        let info = Info { version, conn_tab_size: size };
        prop_assert_eq!(
            info.version_string(),
            format!("{}.{}.{}", version >> 16 & 0xff, version >> 8 & 0xff, version & 0xff)
        );
    }

    /// SET_CONFIG / GET_CONFIG timeouts through bytes.
    #[test]
    fn timeouts_round_trip(tcp in any::<u32>(), tcp_fin in any::<u32>(), udp in any::<u32>()) {
        let t = Timeouts { tcp, tcp_fin, udp };
        let msg = IpvsMessage::new(
            IpvsCmd::SetConfig,
            vec![IpvsAttr::TimeoutTcp(t.tcp), IpvsAttr::TimeoutTcpFin(t.tcp_fin), IpvsAttr::TimeoutUdp(t.udp)],
        );
        let bytes = encode_request(msg.clone(), 0x1d, NLM_F_REQUEST | NLM_F_ACK, 3);
        let NetlinkPayload::InnerMessage(genl) = parse_message(&bytes).unwrap().payload else {
            panic!("no inner message")
        };
        prop_assert_eq!(&genl.payload, &msg);
        let mut back = Timeouts::default();
        for a in &genl.payload.attrs {
            match a {
                IpvsAttr::TimeoutTcp(v) => back.tcp = *v,
                IpvsAttr::TimeoutTcpFin(v) => back.tcp_fin = *v,
                IpvsAttr::TimeoutUdp(v) => back.udp = *v,
                other => panic!("unexpected {other:?}"),
            }
        }
        prop_assert_eq!(back, t);
    }

    #[test]
    fn daemon_round_trips(
        master in any::<bool>(), ifn in "[a-z0-9]{1,15}", id in any::<u32>(),
        maxlen in proptest::option::of(any::<u16>()),
        group in proptest::option::of(family().prop_flat_map(addr)),
        port in proptest::option::of(any::<u16>()), ttl in proptest::option::of(any::<u8>()),
    ) {
        let state = if master { DaemonState::Master } else { DaemonState::Backup };
        let d = SyncDaemon { state, mcast_ifn: ifn, sync_id: id, maxlen, group, port, ttl };
        let msg = IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(daemon_attrs(&d))]);
        let bytes = encode_request(msg.clone(), 0x1d, NLM_F_REQUEST, 1);
        let NetlinkPayload::InnerMessage(genl) = parse_message(&bytes).unwrap().payload else {
            panic!("no inner message")
        };
        prop_assert_eq!(&genl.payload, &msg);
        let IpvsAttr::Daemon(attrs) = &genl.payload.attrs[0] else { panic!("no daemon") };
        prop_assert_eq!(daemon_from_attrs(attrs).unwrap(), d);
    }

    /// Arbitrary bytes: the parser returns Ok or Err, never panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_everything(&bytes);
    }

    /// Valid messages with bytes flipped, cut or patched: never a panic.
    #[test]
    fn mutated_messages_never_panic(
        svc in service(),
        d in dest(Family::Ipv4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode_request(Op::AddService(svc.clone()).to_message(), 0x1d, 0, 1);
        bytes.extend(encode_request(Op::AddDest { service: svc.key, dest: d }.to_message(), 0x1d, 0, 2));
        for (i, v) in &flips {
            let at = i.index(bytes.len());
            bytes[at] = *v;
        }
        let cut = cut.index(bytes.len() + 1);
        for slice in [&bytes[..], &bytes[..cut]] {
            let _ = decode_everything(slice);
        }
    }
}

#[test]
fn netmask_encodings() {
    // IPv4: byte mask in network order; IPv6: the prefix length as a host-order integer.
    assert_eq!(
        netmask_raw(Family::Ipv4, 24).to_ne_bytes(),
        [255, 255, 255, 0]
    );
    assert_eq!(netmask_raw(Family::Ipv4, 32).to_ne_bytes(), [255; 4]);
    assert_eq!(netmask_raw(Family::Ipv4, 0), 0);
    assert_eq!(netmask_raw(Family::Ipv6, 64), 64);
    for p in 0..=32 {
        assert_eq!(
            netmask_prefix(Family::Ipv4, netmask_raw(Family::Ipv4, p)),
            p
        );
    }
}

#[test]
fn port_is_big_endian_and_fwmark_host_order() {
    let key = ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80);
    let mut buf = vec![0u8; 64];
    let attrs = service_key_attrs(&key);
    let port = attrs
        .iter()
        .find(|a| matches!(a, attr::SvcAttr::Port(_)))
        .unwrap();
    netlink_packet_core::Emitable::emit(port, &mut buf);
    assert_eq!(&buf[..8], &[6, 0, 4, 0, 0, 80, 0, 0]);
    let fw = service_key_attrs(&ServiceKey::Fwmark {
        family: Family::Ipv4,
        mark: 0x0102,
    });
    netlink_packet_core::Emitable::emit(&fw[1], &mut buf);
    assert_eq!(&buf[..8], &[8, 0, 5, 0, 0x02, 0x01, 0, 0]);
}

#[test]
fn hashed_flag_is_masked_out() {
    let (svc, _) = service_from_attrs(&[
        attr::SvcAttr::Af(constants::AF_INET),
        attr::SvcAttr::Fwmark(3),
        attr::SvcAttr::SchedName("rr".into()),
        attr::SvcAttr::Flags(attr::FlagsMask {
            flags: 0x3,
            mask: !0,
        }),
        attr::SvcAttr::Timeout(300),
        attr::SvcAttr::Netmask(u32::MAX),
    ])
    .unwrap();
    assert_eq!(svc.flags, SvcFlags(SvcFlags::PERSISTENT));
    assert_eq!(svc.netmask, 32);
    assert_eq!(
        svc.key,
        ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark: 3
        }
    );
}

#[test]
fn missing_mandatory_attribute_is_an_error() {
    let err = service_from_attrs(&[
        attr::SvcAttr::Af(constants::AF_INET),
        attr::SvcAttr::Fwmark(3),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("missing service flags"), "{err}");
    let err = dest_from_attrs(Family::Ipv4, &[attr::DestAttr::Port(80)]).unwrap_err();
    assert!(
        err.to_string()
            .contains("missing destination forwarding method"),
        "{err}"
    );
}

#[test]
fn unknown_attributes_are_kept() {
    let msg = IpvsMessage::new(
        IpvsCmd::GetService,
        vec![IpvsAttr::Service(vec![
            attr::SvcAttr::Af(2),
            attr::SvcAttr::Other(netlink_packet_core::DefaultNla::new(99, vec![1, 2, 3, 4])),
        ])],
    );
    let bytes = encode_request(msg.clone(), 0x1d, 0, 1);
    let NetlinkPayload::InnerMessage(genl) = parse_message(&bytes).unwrap().payload else {
        panic!("no inner message")
    };
    assert_eq!(genl.payload, msg);
}

#[test]
fn info_reply_reuses_attribute_numbers() {
    let msg = IpvsMessage::new(
        IpvsCmd::SetInfo,
        vec![
            IpvsAttr::InfoVersion(0x010201),
            IpvsAttr::InfoConnTabSize(4096),
        ],
    );
    let bytes = encode_request(msg.clone(), 0x1d, 0, 1);
    let NetlinkPayload::InnerMessage(genl) = parse_message(&bytes).unwrap().payload else {
        panic!("no inner message")
    };
    assert_eq!(genl.payload, msg);
    assert_eq!(
        Info {
            version: 0x010201,
            conn_tab_size: 4096
        }
        .version_string(),
        "1.2.1"
    );
}

#[test]
fn split_rejects_bad_lengths() {
    assert!(split_messages(&[1, 2, 3]).is_err());
    let mut m = vec![0u8; 16];
    m[0] = 200; // length beyond the buffer
    assert!(split_messages(&m).is_err());
    m[0] = 4; // shorter than a header
    assert!(split_messages(&m).is_err());
    m[0] = 16;
    assert_eq!(split_messages(&m).unwrap().len(), 1);
}
