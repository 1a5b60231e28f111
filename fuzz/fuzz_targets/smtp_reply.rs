//! Fuzz target for the smtp check's reply parser (`monitor::checks::smtp_reply`, one whole
//! reply, possibly of several `250-` lines, at the start of a buffer): any bytes give "not
//! complete yet", an error, or a code of 200-599 and the length of the reply, without
//! panicking; that length ends a line within the buffer, and the reply alone parses the same.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: the replies of `monitor::checks::smtp`'s tests and `tests/monitor_netns.rs`'s
//! server, written by `fuzz/run` into `fuzz/corpus/smtp_reply/`.
#![no_main]

use lbd::monitor::checks::smtp_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match smtp_reply(data) {
        Some(Ok((code, used))) => {
            assert!((200..600).contains(&code), "code {code}");
            assert!(used >= 2 && used <= data.len(), "{used} of {}", data.len());
            assert!(data[..used].ends_with(b"\r\n"));
            assert_eq!(smtp_reply(&data[..used]), Some(Ok((code, used))));
        }
        Some(Err(text)) => assert!(text.chars().count() <= 64, "{text:?}"),
        None => {}
    }
});
