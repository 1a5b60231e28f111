//! `agent`: the node reports its load 0-100 (mod_cluster's busyness feedback) over TCP (it writes
//! the number and closes) or HTTP (GET path, the body is the number); the node state machine
//! turns it into the IPVS weight with [`crate::node::weight_from_load`].

use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::{AgentCheck, AgentProtocol, HttpCheck};
use std::net::{IpAddr, SocketAddr};
use tokio::io::AsyncReadExt;

/// Reads a load from an agent's reply: the first word, an integer 0-100, optionally with `%`
/// (`"35"`, `"35%\n"`, `"load 35"` is not accepted). Never panics.
pub fn parse_load(reply: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(reply).ok()?;
    let word = text.split_whitespace().next()?;
    let number = word.strip_suffix('%').unwrap_or(word);
    let load: u8 = number.parse().ok()?;
    (load <= 100).then_some(load)
}

pub async fn check(spec: &AgentCheck, addr: IpAddr, source: Option<IpAddr>) -> Outcome {
    let reply = match spec.protocol {
        AgentProtocol::Tcp => {
            let mut s = super::connect(SocketAddr::new(addr, spec.port), source).await?;
            let mut buf = Vec::new();
            (&mut s)
                .take(512)
                .read_to_end(&mut buf)
                .await
                .map_err(io_error)?;
            buf
        }
        AgentProtocol::Http => {
            let http = HttpCheck {
                port: Some(spec.port),
                path: spec.path.clone(),
                ..HttpCheck::default()
            };
            let prepared = super::http::PreparedHttp::new(&http, false)?;
            prepared.fetch(addr, source).await?.1
        }
    };
    match parse_load(&reply) {
        Some(load) => Ok(Pass {
            load: Some(load),
            warning: None,
            weight: None,
        }),
        None => Err(CheckError::Agent(
            String::from_utf8_lossy(reply.get(..64.min(reply.len())).unwrap_or_default())
                .into_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_load;

    #[test]
    fn loads_parse() {
        assert_eq!(parse_load(b"35\n"), Some(35));
        assert_eq!(parse_load(b" 100% "), Some(100));
        assert_eq!(parse_load(b"0"), Some(0));
        for bad in [&b""[..], b"101", b"-1", b"load 3", b"\xff\xfe", b"3.5"] {
            assert_eq!(parse_load(bad), None, "{bad:?}");
        }
    }
}
