//! Mon-style monitoring: the check scheduler's pure timing core, the checks (built-in and
//! external Mon monitors), the alert runner, and the tokio shell that runs them.

pub mod schedule;

#[cfg(test)]
mod schedule_tests;

pub use crate::node::Millis;
pub use schedule::{CheckId, Dispatch, Scheduler, Stats, Timing};
