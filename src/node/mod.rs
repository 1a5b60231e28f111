//! The node state machine: every node of a hostgroup is `online`, `failed` or `offline`, exactly
//! as the classic LVS cluster scripts (`node_up.alert`, `http_down.alert`) keep it, and each
//! (node, service) pair is in or out of the IPVS table accordingly.
//!
//! Pure and sans-IO: [`NodeMachine::handle`] takes the time and one [`Input`] (a ping result, a
//! service check result, maintenance) and returns [`Action`]s (a state change, run an alert,
//! schedule a check). Which real servers are in the IPVS table follows from the health it
//! keeps, in the director's plan. Inputs and actions are `Serialize`/`Deserialize`, so tests are
//! event scripts and production traces can be replayed.

mod config;
mod event;
mod machine;
mod state;

#[cfg(test)]
mod machine_tests;

pub use config::{NodeConfig, ServiceConfig};
pub use event::{Action, AlertKind, Cadence, CheckTarget, Input, TimedInput, PING_WATCH};
pub use machine::{weight_from_load, Health, NodeMachine};
pub use state::NodeState;

/// Milliseconds on the caller's clock (the daemon counts from its start; tests from zero).
pub type Millis = u64;
