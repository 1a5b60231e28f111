//! The daemon: the tokio edge around the pure [`crate::director::Director`]. It owns every
//! socket, file, thread and clock; the director owns every decision.
//!
//! - [`start`]: start-up (configuration, state file, history, the kernel's table);
//!   [`run`]: the event loop and shutdown; [`effects`]: feeding the director and carrying out
//!   its effects;
//! - [`kernel`]: the IPVS table behind a trait (the real client, or a fake for tests) on the
//!   `lbd-kernel` thread: dumps and batches never block the loop;
//! - [`checks`]: the watches on the `lbd-checks` thread; [`vrrp`]: the VRRP instances on the
//!   `lbd-vrrp` thread;
//! - [`persist`]: the state file; [`history`]: the event-history file;
//! - [`observe`]: the metrics, from the director's observations and the edge's results;
//! - [`systemd`]: sd_notify (READY, WATCHDOG, RELOADING, STOPPING); [`memory`]: one malloc
//!   arena; [`handle`]: the control channel.

pub mod checks;
mod effects;
mod handle;
pub mod history;
pub mod kernel;
pub mod memory;
pub mod observe;
pub mod persist;
pub mod run;
mod start;
pub mod systemd;
pub mod vrrp;

#[cfg(test)]
mod run_tests;

pub use handle::ControlHandle;
pub use run::{control_channel, unix_ms, ControlInbox, Daemon, Signals};
pub use start::{Options, StartError};
