//! The state document: what the daemon must not forget across restarts, crashes and reboots.
//! The last known health of every (service, node) pair, every node's state and since when, the
//! operator's overrides and the event-history sequence number. The director builds it; the
//! edge writes it atomically (`daemon/persist.rs`).

use super::admin::Overrides;
use super::health::{Known, Pair};
use crate::node::NodeState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One node's last state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub state: NodeState,
    /// Unix time of the last change, milliseconds.
    pub since_ms: u64,
}

/// The state document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    #[serde(default)]
    pub version: u32,
    /// Decided health by service, then node.
    #[serde(default)]
    pub health: BTreeMap<String, BTreeMap<String, Known>>,
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeRecord>,
    #[serde(default)]
    pub admin: Overrides,
    /// The last event-history sequence number handed out.
    #[serde(default)]
    pub event_seq: u64,
}

impl StateDoc {
    /// The health by pair.
    pub fn known(&self) -> BTreeMap<Pair, Known> {
        self.health
            .iter()
            .flat_map(|(s, nodes)| nodes.iter().map(|(n, k)| ((s.clone(), n.clone()), *k)))
            .collect()
    }

    /// Sets the health from pairs.
    pub fn set_known(&mut self, known: &BTreeMap<Pair, Known>) {
        self.health.clear();
        for ((s, n), k) in known {
            self.health
                .entry(s.clone())
                .or_default()
                .insert(n.clone(), *k);
        }
    }
}
