//! Fuzz target for the status listener (`control::http::serve_connection`, hyper and lbd's
//! routing): any bytes a client sends, then its hang-up, on an in-memory stream, end the
//! connection without a panic or a hang, and every answer is a well-formed HTTP/1.1 (or 1.0,
//! to a 1.0 request) status line: 200, 404, 405 or 503 (`/` and `/status.json` with no daemon behind the handle) for a
//! request, a 4xx for a malformed one, never a 500.
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: requests as Prometheus, curl and browsers send them, and malformed ones, written by
//! `fuzz/run` into `fuzz/corpus/http_request/`.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

use lbd::control::http::serve_connection;
use lbd::control::server::Handle;
use lbd::metrics::Metrics;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    rt: tokio::runtime::Runtime,
    /// A daemon that has stopped: its request channel is closed, so the page answers 503 at
    /// once instead of waiting for the status timeout.
    handle: Handle,
    metrics: Metrics,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let (requests, _) = tokio::sync::mpsc::channel(1);
        let (events, _) = tokio::sync::broadcast::channel(1);
        World {
            rt,
            handle: Handle { requests, events },
            metrics: Metrics::new("fuzz"),
        }
    })
}

/// The status code of a well-formed answer's status line.
fn status(answer: &[u8]) -> u16 {
    let line = answer.split(|&b| b == b'\n').next().expect("a status line");
    let line = std::str::from_utf8(line).expect("a UTF-8 status line");
    let code = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|c| c.parse().ok());
    code.unwrap_or_else(|| panic!("not an HTTP/1.x status line: {line:?}"))
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40000));
    let answer = w.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let served = serve_connection(server, peer, &w.handle, &w.metrics, || {});
        let talk = async {
            // The server may answer and close before reading everything: a failed write is
            // the client's problem, not the server's.
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let mut answer = Vec::new();
            let _ = client.read_to_end(&mut answer).await;
            answer
        };
        let (_, answer) = tokio::join!(served, talk);
        answer
    });
    if answer.is_empty() {
        return;
    }
    let code = status(&answer);
    assert!(
        matches!(code, 200 | 404 | 405 | 503) || (400..500).contains(&code),
        "status {code} for {data:?}"
    );
    // The head ends at an empty line; a bare LF ends a line too (RFC 9112 section 2.2).
    let complete_head =
        data.windows(2).any(|w| w == b"\n\n") || data.windows(3).any(|w| w == b"\n\r\n");
    assert!(
        complete_head || code >= 400,
        "status {code} without a request head: {data:?}"
    );
});
