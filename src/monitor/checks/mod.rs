//! The built-in checks, run in-process with no fork: each is prepared once from its
//! [`CheckSpec`] (regexes compiled, TLS configured) and then run against a node's address.

mod agent;
mod dns;
mod http;
mod misc;
mod ping;
mod smtp;
mod tcp;
mod tls;
mod udp;

pub use agent::parse_load;
pub use dns::PreparedDns;
pub use http::PreparedHttp;
pub use ping::Pingers;
pub use smtp::reply as smtp_reply;

use super::outcome::{CheckError, Outcome};
use super::spec::{AgentCheck, CheckSpec, ExternalCheck, MiscCheck, SmtpCheck, TcpCheck, UdpCheck};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A check ready to run: everything that can be worked out before the first run is.
#[derive(Debug, Clone)]
pub enum Prepared {
    Ping {
        count: u16,
    },
    Tcp(TcpCheck),
    Smtp(SmtpCheck),
    Http(Arc<http::PreparedHttp>),
    Dns(Arc<dns::PreparedDns>),
    Udp(UdpCheck),
    Agent(AgentCheck),
    Misc(MiscCheck),
    /// Run by [`crate::monitor::external`], once for all nodes of the watch.
    External(ExternalCheck),
}

impl Prepared {
    pub fn new(spec: &CheckSpec) -> Result<Self, CheckError> {
        Ok(match spec {
            CheckSpec::Ping(p) => Prepared::Ping {
                count: p.count.max(1),
            },
            CheckSpec::Tcp(t) => Prepared::Tcp(t.clone()),
            CheckSpec::Smtp(m) => Prepared::Smtp(m.clone()),
            CheckSpec::Http(h) => Prepared::Http(Arc::new(http::PreparedHttp::new(h, false)?)),
            CheckSpec::Https(h) => Prepared::Http(Arc::new(http::PreparedHttp::new(h, true)?)),
            CheckSpec::Dns(d) => Prepared::Dns(Arc::new(dns::PreparedDns::new(d)?)),
            CheckSpec::Udp(u) => Prepared::Udp(u.clone()),
            CheckSpec::Agent(a) => Prepared::Agent(a.clone()),
            CheckSpec::Misc(m) => Prepared::Misc(m.clone()),
            CheckSpec::External(e) => Prepared::External(e.clone()),
        })
    }

    /// Checks one node; gives up with [`CheckError::Timeout`] after `timeout`.
    pub async fn run(&self, pingers: &Pingers, addr: IpAddr, timeout: Duration) -> Outcome {
        self.run_from(pingers, addr, None, timeout).await
    }

    /// [`Prepared::run`] with the check's sockets bound to `source` (the watch's `source`,
    /// keepalived's `bindto`); pings and programs ignore it.
    pub async fn run_from(
        &self,
        pingers: &Pingers,
        addr: IpAddr,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> Outcome {
        // A future is as large as its largest variant, and every check in flight holds one:
        // the large ones (HTTP/TLS, DNS, agent) are boxed, so that thousands of TCP checks in flight
        // do not each carry an HTTP client's state (8 KB, against a few hundred bytes).
        let work = async {
            match self {
                Prepared::Ping { count } => ping::check(pingers, addr, *count, timeout).await,
                Prepared::Tcp(t) => tcp::check(t, addr, source).await,
                Prepared::Smtp(m) => Box::pin(smtp::check(m, addr, source)).await,
                Prepared::Http(h) => Box::pin(h.check_from(addr, source)).await,
                Prepared::Dns(d) => Box::pin(d.check_from(addr, source)).await,
                Prepared::Udp(u) => udp::check(u, addr, source).await,
                Prepared::Agent(a) => Box::pin(agent::check(a, addr, source)).await,
                Prepared::Misc(m) => Box::pin(misc::check(m, addr, timeout)).await,
                Prepared::External(_) => Err(CheckError::Spec(
                    "external monitors run per watch, not per node".into(),
                )),
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(CheckError::Timeout(
                u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            )),
        }
    }
}

/// A TCP connection to `addr`, from `source` when given.
async fn connect(
    addr: std::net::SocketAddr,
    source: Option<IpAddr>,
) -> Result<tokio::net::TcpStream, CheckError> {
    let Some(src) = source else {
        return tokio::net::TcpStream::connect(addr)
            .await
            .map_err(super::outcome::io_error);
    };
    same_family(src, addr.ip())?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(super::outcome::io_error)?;
    socket
        .bind(std::net::SocketAddr::new(src, 0))
        .map_err(|e| CheckError::Io(format!("cannot bind to source {src}: {e}")))?;
    socket.connect(addr).await.map_err(super::outcome::io_error)
}

/// The local address a UDP check binds: `source`, or any of the node's family.
fn udp_local(addr: IpAddr, source: Option<IpAddr>) -> Result<IpAddr, CheckError> {
    match source {
        Some(src) => same_family(src, addr).map(|()| src),
        None => Ok(match addr {
            IpAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        }),
    }
}

fn same_family(src: IpAddr, addr: IpAddr) -> Result<(), CheckError> {
    if src.is_ipv4() == addr.is_ipv4() {
        return Ok(());
    }
    Err(CheckError::Spec(format!(
        "source {src} and the node's address {addr} are of different families"
    )))
}

/// `true` when `haystack` contains `needle` (bytes).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
