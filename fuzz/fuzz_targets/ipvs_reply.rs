//! Fuzz target for the IPVS reply parser: any datagram goes through netlink framing,
//! attribute parsing and conversion to domain types without panicking.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: every datagram of the kernel capture `src/ipvs/fixtures/kernel-6.1.txt`, written by
//! `fuzz/run` into `fuzz/corpus/ipvs_reply/` (one file per `<`/`>` line). The proptests in
//! `ipvs::codec_tests` are the always-on, unguided part of this fuzzing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lbd::ipvs::wire::decode_everything(data);
});
