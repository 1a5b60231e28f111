//! `udp`: send a datagram to the node and wait for a reply (containing `expect`, if given). No
//! reply ends in the check's timeout; an ICMP port unreachable shows as connection refused.

use super::contains;
use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::UdpCheck;
use std::net::{IpAddr, SocketAddr};
use tokio::net::UdpSocket;

pub async fn check(spec: &UdpCheck, addr: IpAddr, source: Option<IpAddr>) -> Outcome {
    let local = super::udp_local(addr, source)?;
    let sock = UdpSocket::bind(SocketAddr::new(local, 0))
        .await
        .map_err(io_error)?;
    sock.connect(SocketAddr::new(addr, spec.port))
        .await
        .map_err(io_error)?;
    sock.send(spec.send.as_bytes()).await.map_err(io_error)?;
    let mut buf = vec![0u8; 65536];
    let n = sock.recv(&mut buf).await.map_err(io_error)?;
    let reply = buf.get(..n).unwrap_or_default();
    match &spec.expect {
        Some(e) if !contains(reply, e.as_bytes()) => Err(CheckError::Expect(e.clone())),
        _ => Ok(Pass::default()),
    }
}
