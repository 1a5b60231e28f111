//! lbd: a control plane for Linux Virtual Server directors.
//!
//! The library holds every part of the director; the two binaries (`lbd`, the daemon, and
//! `lbctl`, the operator's tool) are thin shells over it. I/O lives at the edges: packet
//! formats, state machines, the check scheduler's timing and the reconciler's diff are pure
//! and driven by events and a caller-supplied clock; the director's decisions too
//! ([`director`]), with the tokio edge in [`daemon`]. See `ARCHITECTURE.md` for the layers.

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod director;
pub mod duration;
pub mod import;
pub mod ipvs;
pub mod metrics;
pub mod monitor;
pub mod node;
pub mod reconcile;
pub mod runtime_thread;
pub mod secret;
pub mod state;
pub mod vrrp;

#[cfg(test)]
mod duration_tests;
