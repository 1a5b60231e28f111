//! Fuzz target for the http check's answer parsing (`PreparedHttp::exchange`, hyper's client
//! and the check's status ranges and body limit, then `judge_body`): any bytes a node answers,
//! then its hang-up, on an in-memory stream, give a body or an error, without a panic or a
//! hang; a body comes only with an HTTP/1.x status line (after empty lines or interim 1xx
//! answers, if any) whose code the check accepts (200-399).
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: the answers of `monitor::checks::http`'s tests (`HTTP_*`, as `tests/monitor_netns.rs`'s
//! server and common servers give them), written by `fuzz/run` into
//! `fuzz/corpus/http_check_reply/`.
#![no_main]

use std::sync::OnceLock;

use lbd::monitor::checks::PreparedHttp;
use lbd::monitor::spec::HttpCheck;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    rt: tokio::runtime::Runtime,
    check: PreparedHttp,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| World {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime"),
        check: PreparedHttp::new(
            &HttpCheck {
                body: Some("^rs[0-9]".into()),
                ..HttpCheck::default()
            },
            false,
        )
        .expect("a valid check"),
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let reply = data.to_vec();
    let outcome = w.rt.block_on(async {
        let (client, mut node) = tokio::io::duplex(64 * 1024);
        let answer = async move {
            // The node reads the request head, answers, hangs up.
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match node.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = node.write_all(&reply).await;
            let _ = node.shutdown().await;
        };
        let (outcome, ()) = tokio::join!(w.check.exchange(client, "192.0.2.1:80"), answer);
        outcome
    });
    if let Ok(body) = outcome {
        // hyper skips empty lines before a status line (RFC 9112 section 2.2) and interim 1xx
        // answers before the final one (RFC 9110 section 15.2): one of the lines is the final
        // status line.
        let accepted = data.split(|&b| b == b'\n').any(|line| {
            line.strip_prefix(b"HTTP/1.")
                .and_then(|rest| rest.get(2..5))
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(|c| c.parse::<u16>().ok())
                .is_some_and(|c| (200..=399).contains(&c))
        });
        assert!(accepted, "a body from {data:?}");
        assert!(body.len() <= 1024 * 1024);
        let _ = w.check.judge_body(&body);
    }
});
