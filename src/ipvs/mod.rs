//! IPVS over generic netlink: typed messages, pure encode/parse, and a socket client.
//!
//! Layers, bottom up:
//! - [`constants`]: numbers from `include/uapi/linux/ip_vs.h`.
//! - [`attr`]: one `#[non_exhaustive]` enum per attribute space (`IpvsAttr`, `SvcAttr`,
//!   `DestAttr`, `DaemonAttr`, `StatsAttr`), unknown attributes kept as `Other(DefaultNla)`.
//! - [`message`]: `IpvsMessage { cmd: IpvsCmd, attrs }`, a `GenlFamily` payload.
//! - [`wire`]: framing (encode a request; split and parse a datagram) — pure, never panics.
//! - [`types`]: the domain — [`ServiceKey`] (protocol+address+port or fwmark),
//!   [`Service`] (scheduler, [`SvcFlags`], persistence timeout, netmask as prefix length,
//!   persistence engine), [`Dest`] (address, port, [`ForwardMethod`], weight, thresholds),
//!   [`Stats`], [`Info`], [`Timeouts`], [`SyncDaemon`]; and [`normalise_dest_port`], the one
//!   rule for DR/tunnel destination ports (they take the service port).
//! - [`convert`]: domain ↔ attributes.
//! - [`ops`]: [`Op`], a change to the table, with its request and ipvsadm-like `Display`.
//! - [`error`]: [`IpvsError`], kernel errors in words that name the object and cause.
//! - [`client`]: [`IpvsClient`] — `connect()`, `dump()`, `apply(&[Op]) -> ApplyReport`,
//!   `info()`, `timeouts()/set_timeouts()`, `daemons()/start_daemon()/stop_daemon()`,
//!   `zero()`, `flush()`.
//!
//! Traps handled here: ports big-endian, fwmark/timeout host order, 16-byte addresses,
//! flags as `{flags, mask}` with the kernel's HASHED bit masked out, IPv4 netmask as a byte
//! mask but IPv6 netmask as a prefix length, the GET_INFO reply reusing attribute numbers.

pub mod attr;
pub mod client;
mod client_admin;
pub mod constants;
pub mod convert;
pub mod error;
pub mod message;
pub mod ops;
pub mod types;
pub mod wire;

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod fixture_tests;

pub use client::{ApplyReport, Captured, ClientCounters, IpvsClient, OpFailure};
pub use error::IpvsError;
pub use message::{IpvsCmd, IpvsMessage};
pub use ops::Op;
pub use types::*;
