//! Inputs to and actions out of the node state machine, all serializable so that tests can be
//! written as event scripts (JSON lines) and production traces replayed.

use super::{Millis, NodeState};
use serde::{Deserialize, Serialize};

/// The watch name used for a node's ping in alerts and check targets.
pub const PING_WATCH: &str = "ping";

/// One event for one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// The result of one ping check.
    Ping { alive: bool },
    /// The result of one check of a service on this node.
    Check {
        service: String,
        pass: bool,
        /// The load 0-100 an agent check reported (turns into the weight).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        load: Option<u8>,
        /// The weight a `misc` check with `dynamic` reported (replaces the node's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<u32>,
        /// Mon's summary line for a failure.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        summary: String,
    },
    /// Maintenance on: take the node out of every service and send no alerts.
    Maintenance { on: bool },
}

/// An input with its time, one line of an event script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedInput {
    pub at: Millis,
    #[serde(flatten)]
    pub input: Input,
}

/// Which check of a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckTarget {
    Ping,
    Service(String),
}

/// How the scheduler should run a check from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Run it as soon as possible, then keep the current interval.
    Now,
    /// Re-check at the watch's `failed_interval` (the service is down).
    Failed,
    /// Re-check at the watch's `retry_interval` (a failure of a passing service is being
    /// confirmed).
    Retry,
    /// Back to the normal interval.
    Normal,
}

/// Failure alert or recovery alert (Mon's `alert` / `upalert`), or a service's quorum
/// scripts (keepalived's `quorum_down` / `quorum_up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Alert,
    Upalert,
    QuorumDown,
    QuorumUp,
}

impl AlertKind {
    /// A recovery (`upalert`, `quorum_up`) rather than a failure.
    pub fn is_up(self) -> bool {
        matches!(self, AlertKind::Upalert | AlertKind::QuorumUp)
    }

    /// The configuration key that names the scripts.
    pub fn key(self) -> &'static str {
        match self {
            AlertKind::Alert => "alert",
            AlertKind::Upalert => "upalert",
            AlertKind::QuorumDown => "quorum_down",
            AlertKind::QuorumUp => "quorum_up",
        }
    }
}

/// What the state machine asks the director to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run the watch's `alert` scripts (watch is a service name or [`PING_WATCH`]).
    RunAlert {
        node: String,
        watch: String,
        old: NodeState,
        new: NodeState,
        summary: String,
        /// Not the first alert since the check (or ping) went down: Mon's repeated alert
        /// (`numalerts`), which the mail alert, like keepalived's, does not send.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        repeat: bool,
    },
    /// Run the watch's `upalert` scripts.
    RunUpalert {
        node: String,
        watch: String,
        old: NodeState,
        new: NodeState,
    },
    ScheduleCheck {
        node: String,
        check: CheckTarget,
        cadence: Cadence,
    },
    /// The node changed state (for the event history and the state file).
    StateChanged {
        node: String,
        old: NodeState,
        new: NodeState,
        cause: String,
    },
}
