//! `tcp`: connect, optionally send a string and wait for a substring in the reply. The socket is
//! closed with a reset (zero linger) so that thousands of checks a second leave no TIME_WAIT.

use super::contains;
use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::TcpCheck;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX_REPLY: usize = 64 * 1024;

pub async fn check(spec: &TcpCheck, addr: IpAddr, source: Option<IpAddr>) -> Outcome {
    let mut stream = super::connect(SocketAddr::new(addr, spec.port), source).await?;
    let _ = stream.set_zero_linger();
    if let Some(send) = &spec.send {
        stream.write_all(send.as_bytes()).await.map_err(io_error)?;
    }
    if let Some(expect) = &spec.expect {
        let mut buf = Vec::new();
        // On the heap: a buffer on the stack would be part of every TCP check's future.
        let mut chunk = vec![0u8; 4096];
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(n) => n,
                // The peer gave up on us: what it said did not contain the string.
                Err(_) if !buf.is_empty() => 0,
                Err(e) => return Err(io_error(e)),
            };
            if n == 0 {
                return Err(CheckError::Expect(expect.clone()));
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if contains(&buf, expect.as_bytes()) {
                break;
            }
            if buf.len() > MAX_REPLY {
                return Err(CheckError::Expect(expect.clone()));
            }
        }
    }
    Ok(Pass::default())
}
