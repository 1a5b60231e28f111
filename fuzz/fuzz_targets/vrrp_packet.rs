//! Fuzz target for the VRRP receive path: any IPv4 packet goes through the IP header parser
//! and the advert parser, and any payload through the IPv6 advert parser, without panicking.
//!
//!   cargo +nightly fuzz run vrrp_packet -- -max_total_time=60
//!
//! The bounded, always-on part of this fuzzing runs in `cargo test` (proptests in
//! `vrrp::packet_tests`: arbitrary bytes never panic, encode → parse round trips).
//! 2026-11-22: 7.0 million runs in 31 s from an empty corpus, no crash.
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
