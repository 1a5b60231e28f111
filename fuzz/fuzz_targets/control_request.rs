//! Fuzz target for the control protocol's requests: any bytes go through the server's line
//! framing (`control::lines::read_line`, a limit of 256 bytes here) and every line through
//! `control::proto::parse_request` without panicking; a line that does not parse is an error
//! with a message (the `bad_request` answer), and one that does parse encodes back to JSON
//! that parses into the same request.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: one line per command of the protocol, as `lbctl` sends them, and all of them in one
//! input, written by `fuzz/run` into `fuzz/corpus/control_request/`.
#![no_main]

use std::sync::OnceLock;

use lbd::control::lines::{read_line, Line};
use lbd::control::proto::parse_request;
use libfuzzer_sys::fuzz_target;

const MAX: usize = 256;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fn check(line: &[u8]) {
    match parse_request(line) {
        Ok(request) => {
            let wire = serde_json::to_string(&request).expect("a request encodes");
            assert_eq!(
                parse_request(wire.as_bytes()).as_ref(),
                Ok(&request),
                "{wire}"
            );
        }
        Err(message) => assert!(!message.is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    runtime().block_on(async {
        // A small buffer makes lines span several reads, as on a socket.
        let mut r = tokio::io::BufReader::with_capacity(7, data);
        loop {
            match read_line(&mut r, MAX).await.expect("reading memory") {
                Line::Complete(line) => {
                    assert!(line.len() <= MAX);
                    check(&line);
                }
                Line::Partial(line) => {
                    assert!(line.len() <= MAX && data.ends_with(&line));
                    return;
                }
                Line::TooLong | Line::Eof => return,
            }
        }
    });
});
