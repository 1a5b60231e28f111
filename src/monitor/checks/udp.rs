//! `udp`: send a datagram to the node and wait for a reply (containing `expect`, if given). No
//! reply ends in the check's timeout; an ICMP port unreachable shows as connection refused.

use super::contains;
use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::UdpCheck;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::net::UdpSocket;

pub async fn check(spec: &UdpCheck, addr: IpAddr) -> Outcome {
    let local: IpAddr = match addr {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
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
