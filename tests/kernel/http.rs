//! A minimal HTTP/1.0 GET from inside a network namespace, for traffic through the VIP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GETs `/` from `addr` out of namespace `ns`; the body of a `200` answer.
pub fn get(ns: &str, addr: SocketAddr) -> Result<String, String> {
    let fetch = move || -> std::io::Result<String> {
        let timeout = Duration::from_secs(5);
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply).into_owned())
    };
    let reply = super::netns::in_netns(ns, fetch)
        .and_then(|r| r)
        .map_err(|e| format!("GET http://{addr}/ from {ns}: {e}"))?;
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET http://{addr}/ from {ns}: no header end in {reply:?}"))?;
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(format!("GET http://{addr}/ from {ns}: {status_line}"));
    }
    Ok(body.to_owned())
}
