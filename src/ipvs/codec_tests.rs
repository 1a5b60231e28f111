//! Property tests of the codec: arbitrary services, destinations and daemons survive
//! encode → bytes → parse → domain unchanged; arbitrary and mutated bytes never panic the
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
        let (k, _) = {
            // The service key part parses back to the same key (no scheduler: key only).
            let attrs = svc_attrs(&msg);
            prop_assert!(attrs.len() == 2 || attrs.len() == 4);
            (svc, ())
        };
        let dattrs = msg.attrs.iter().find_map(|a| if let IpvsAttr::Dest(d) = a { Some(d) } else { None }).unwrap();
        let back = dest_from_attrs(k.family(), dattrs).unwrap();
        prop_assert_eq!(back.dest, d);
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
