//! The director daemon: one event loop that keeps the kernel's IPVS table equal to what the
//! configuration, the health of the nodes and the operator's overrides say.
//!
//! Where things happen:
//! - [`desired`]: the desired table, pure (quorum and sorry server, the mass-removal guard,
//!   drain/disable/maintenance, agent weights);
//! - [`event_loop`]: start-up (adopt the kernel table, restore the state), the loop, reconcile
//!   passes with one log line per table change, drift repair, shutdown;
//! - [`nodes`]: the node state machines and the health snapshot; [`watches`]: the
//!   configuration's watches as the monitor runner wants them;
//! - [`admin`]: operator overrides; [`persist`]: the state file; [`history`]: the event
//!   history; [`reload`]: transactional reload; [`control`]: control requests and views;
//! - [`rs_metrics`]: the per-real-server gauges from the plan;
//! - [`kernel`]: the IPVS table behind a trait (real client, or a fake for loop tests) and the
//!   mirror; [`systemd`]: sd_notify (READY, WATCHDOG, RELOADING, STATUS); [`memory`]: one
//!   malloc arena;
//! - [`vrrp`]: the VRRP instances (configuration mapping, service tracking, failover);
//!   [`vrrp_events`]: their role changes into the event history.

pub mod admin;
pub mod control;
pub mod desired;
pub mod event_loop;
mod handle;
pub mod history;
pub mod kernel;
pub mod memory;
pub mod nodes;
pub mod persist;
pub mod reload;
mod rs_metrics;
pub mod systemd;
pub mod vrrp;
pub mod vrrp_events;
pub mod watches;

#[cfg(test)]
mod desired_tests;
#[cfg(test)]
mod loop_tests;

pub use event_loop::{
    control_channel, ControlInbox, Daemon, Options, PassReport, Signals, StartError,
};
pub use handle::ControlHandle;
