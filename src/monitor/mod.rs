//! Mon-style monitoring: the check scheduler's pure timing core, the checks (built-in and
//! external Mon monitors), the alert runner, and the tokio shell that runs them.

pub mod schedule;

#[cfg(test)]
mod schedule_tests;

pub use crate::node::Millis;
pub use schedule::{CheckId, Dispatch, Pace, Scheduler, Stats, Timing};
pub mod checks;
pub mod outcome;
pub mod spec;
pub mod status;

pub use checks::{Pingers, Prepared};
pub use outcome::{CheckError, Outcome, Pass};
pub use spec::{AlertSpec, CheckSpec, WatchId, WatchSpec};
pub mod alert;
pub mod external;
pub mod mail;
pub mod process;
pub mod runner;
pub mod thread;

pub use runner::{CheckReport, Command, Runner, Target};
pub use thread::CheckThread;
