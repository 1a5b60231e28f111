//! The three node states of the classic cluster scripts, with Mon's numbers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a node stands. The numbers are the ones the classic scripts wrote to their state files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Not pingable: none of its real servers are in the table (0).
    Offline,
    /// Pingable and every service passes: all its real servers are in the table (1).
    Online,
    /// Pingable but at least one service fails: out of that service only (2).
    Failed,
}

impl NodeState {
    /// The state number of the classic scripts: offline 0, online 1, failed 2.
    pub fn number(self) -> u8 {
        match self {
            NodeState::Offline => 0,
            NodeState::Online => 1,
            NodeState::Failed => 2,
        }
    }

    /// The lowercase name used in logs, alert environments and state files.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Offline => "offline",
            NodeState::Online => "online",
            NodeState::Failed => "failed",
        }
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
