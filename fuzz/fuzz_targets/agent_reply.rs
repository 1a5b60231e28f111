//! Fuzz target for the agent check's reply parser (`monitor::checks::parse_load`): any reply
//! gives a load of 0-100 or none, without panicking, and a load is the first word of the reply.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: the agent replies of the unit tests and of `tests/monitor_netns.rs`'s agents, written
//! by `fuzz/run` into `fuzz/corpus/agent_reply/`.
#![no_main]

use lbd::monitor::checks::parse_load;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(load) = parse_load(data) {
        assert!(load <= 100, "load {load}");
        let text = std::str::from_utf8(data).expect("a load comes from UTF-8");
        let word = text
            .split_whitespace()
            .next()
            .expect("a load comes from a word");
        assert_eq!(word.trim_end_matches('%').parse::<u8>().ok(), Some(load));
    }
});
