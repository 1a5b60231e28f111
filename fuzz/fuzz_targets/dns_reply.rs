//! Fuzz target for the DNS check's reply handling (`PreparedDns::judge_datagram`: hickory-proto's
//! decoder, then the rcode and expected answers): any datagram is ignored (not an answer to the
//! query) or judged, without panicking; an answer with another id is always ignored.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! The query type judged (A, AAAA, MX, ...) follows the datagram's length, so that every
//! record type's text form is reached. Seeds: the answers of `monitor::checks::dns`'s tests
//! (`DNS_*`, what `tests/monitor_netns.rs`'s server sends), written by `fuzz/run` into
//! `fuzz/corpus/dns_reply/`.
#![no_main]

use std::sync::OnceLock;

use lbd::monitor::checks::PreparedDns;
use lbd::monitor::spec::DnsCheck;
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 10] = [
    "A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR", "NS", "SOA", "CAA",
];

fn checks() -> &'static Vec<PreparedDns> {
    static CHECKS: OnceLock<Vec<PreparedDns>> = OnceLock::new();
    CHECKS.get_or_init(|| {
        TYPES
            .iter()
            .map(|t| {
                PreparedDns::new(&DnsCheck {
                    port: 53,
                    name: "www.example.test".into(),
                    qtype: (*t).into(),
                    expect: vec!["192.0.2.80".into()],
                    rcode: "NOERROR".into(),
                })
                .expect("a valid check")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let check = &checks()[data.len() % TYPES.len()];
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let _ = check.judge_datagram(id, data);
    assert_eq!(
        check.judge_datagram(!id, data),
        None,
        "another query's answer"
    );
});
