//! Fuzz target for the VRRP receive path: any IPv4 packet goes through the IP header parser
//! and the advert parser, and any payload through the IPv6 advert parser, without panicking.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: the keepalived adverts of `src/vrrp/packet_tests.rs` (`KA_*`), written by `fuzz/run`
//! into `fuzz/corpus/vrrp_packet/`. The proptests in `vrrp::packet_tests` (arbitrary bytes never
//! panic, encode → parse round trips) are the always-on, unguided part of this fuzzing.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use lbd::vrrp::packet::{parse_ipv4, Advert, IpMeta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((meta, payload)) = parse_ipv4(data) {
        let _ = Advert::parse(payload, &meta);
    }
    let meta = IpMeta {
        src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        dst: IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
        ttl: 255,
    };
    let _ = Advert::parse(data, &meta);
});
