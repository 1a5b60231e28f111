//! Fuzz target for the external monitor's output (`monitor::external::judge`, Mon's summary
//! line and detail): any output gives one outcome per host without panicking; exit 0 passes
//! every host, a failure fails at least one (the failure is never lost), and a host passes a
//! failure only when the summary names another host.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Input: the first byte's low bit is the exit status (1: exit 0), the rest is the output.
//! Seeds: the monitor outputs of `monitor::external`'s tests and `tests/monitor_netns.rs`,
//! written by `fuzz/run` into `fuzz/corpus/external_summary/`.
#![no_main]

use lbd::monitor::external::judge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, output)) = data.split_first() else {
        return;
    };
    let exit_ok = flags & 1 == 1;
    let hosts: Vec<Vec<String>> = (1..=3)
        .map(|i| vec![format!("rs{i}"), format!("198.51.100.1{i}")])
        .collect();
    let outcomes = judge(exit_ok, output, &hosts);
    assert_eq!(outcomes.len(), hosts.len());
    if exit_ok {
        assert!(outcomes.iter().all(|o| o.is_ok()));
    } else {
        assert!(outcomes.iter().any(|o| o.is_err()), "a failure was lost");
        let summary = String::from_utf8_lossy(output);
        let words: Vec<&str> = summary
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        for (o, names) in outcomes.iter().zip(&hosts) {
            if o.is_ok() {
                assert!(!names.iter().any(|n| words.contains(&n.as_str())));
                assert!(hosts.iter().flatten().any(|n| words.contains(&n.as_str())));
            }
        }
    }
});
