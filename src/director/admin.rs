//! Administrative overrides set by the operator (`lbctl drain|disable|enable|maintenance`):
//! drain keeps a real server with weight 0 (existing connections finish), disable takes it out,
//! maintenance takes a node out of every service and silences its alerts. Per node or per
//! (node, service); persisted in the state file ([`super::state`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the operator asked for one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Explicitly enabled (wins over a node-wide drain or disable).
    Enabled,
    /// In the table with weight 0.
    Drain,
    /// Out of the table; checks go on.
    Disabled,
}

/// The overrides of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAdmin {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maintenance: bool,
    /// For every service of the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Mode>,
    /// For one service, winning over `all`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Mode>,
}

/// What finally applies to one (node, service) real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    Enabled,
    Drain,
    Disabled,
    Maintenance,
}

impl Effective {
    /// The number `lbd_real_server_admin` gives it: enabled 0, drain 1, disabled 2,
    /// maintenance 3.
    pub fn number(self) -> i64 {
        match self {
            Effective::Enabled => 0,
            Effective::Drain => 1,
            Effective::Disabled => 2,
            Effective::Maintenance => 3,
        }
    }

    /// Whether the real server is kept out by the operator.
    pub fn is_out(self) -> bool {
        matches!(self, Effective::Disabled | Effective::Maintenance)
    }

    /// The word used in views and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Effective::Enabled => "enabled",
            Effective::Drain => "drain",
            Effective::Disabled => "disabled",
            Effective::Maintenance => "maintenance",
        }
    }
}

/// Every override, by node name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeAdmin>,
}

impl Overrides {
    /// What applies to `node` in `service`.
    pub fn effective(&self, node: &str, service: &str) -> Effective {
        let Some(a) = self.nodes.get(node) else {
            return Effective::Enabled;
        };
        if a.maintenance {
            return Effective::Maintenance;
        }
        match a.services.get(service).copied().or(a.all) {
            Some(Mode::Drain) => Effective::Drain,
            Some(Mode::Disabled) => Effective::Disabled,
            Some(Mode::Enabled) | None => Effective::Enabled,
        }
    }

    /// Whether the node is in maintenance.
    pub fn in_maintenance(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|a| a.maintenance)
    }

    /// The node-wide word for views: `maintenance`, `drain`, `disabled` or `enabled`.
    pub fn node_word(&self, node: &str) -> &'static str {
        match self.nodes.get(node) {
            Some(a) if a.maintenance => "maintenance",
            Some(a) => match a.all {
                Some(Mode::Drain) => "drain",
                Some(Mode::Disabled) => "disabled",
                _ => "enabled",
            },
            None => "enabled",
        }
    }

    /// Sets `mode` for the node (all services) or one service; `Enabled` for the whole node
    /// clears every per-service override too. Returns whether anything changed.
    pub fn set(&mut self, node: &str, service: Option<&str>, mode: Mode) -> bool {
        let before = self.clone();
        let a = self.nodes.entry(node.to_string()).or_default();
        match (service, mode) {
            (None, Mode::Enabled) => {
                a.all = None;
                a.services.clear();
            }
            (None, m) => a.all = Some(m),
            (Some(s), Mode::Enabled) if a.all.is_none() => {
                a.services.remove(s);
            }
            (Some(s), m) => {
                a.services.insert(s.to_string(), m);
            }
        }
        self.prune();
        *self != before
    }

    /// Maintenance on or off. Returns whether it changed.
    pub fn set_maintenance(&mut self, node: &str, on: bool) -> bool {
        let a = self.nodes.entry(node.to_string()).or_default();
        let changed = a.maintenance != on;
        a.maintenance = on;
        self.prune();
        changed
    }

    /// Forgets overrides of nodes (and services) the configuration no longer has.
    pub fn retain(&mut self, known: impl Fn(&str, Option<&str>) -> bool) {
        self.nodes.retain(|n, _| known(n, None));
        for (n, a) in self.nodes.iter_mut() {
            a.services.retain(|s, _| known(n, Some(s)));
        }
        self.prune();
    }

    fn prune(&mut self) {
        self.nodes.retain(|_, a| *a != NodeAdmin::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_service_wins_over_node_and_maintenance_wins_over_all() {
        let mut o = Overrides::default();
        assert_eq!(o.effective("rs1", "http"), Effective::Enabled);
        assert!(o.set("rs1", None, Mode::Drain));
        assert_eq!(o.effective("rs1", "http"), Effective::Drain);
        assert!(o.set("rs1", Some("http"), Mode::Enabled));
        assert_eq!(o.effective("rs1", "http"), Effective::Enabled);
        assert_eq!(o.effective("rs1", "myapp"), Effective::Drain);
        assert!(o.set("rs1", Some("myapp"), Mode::Disabled));
        assert_eq!(o.effective("rs1", "myapp"), Effective::Disabled);
        assert!(o.set_maintenance("rs1", true));
        assert_eq!(o.effective("rs1", "http"), Effective::Maintenance);
        assert!(!o.set_maintenance("rs1", true));
        assert!(o.set_maintenance("rs1", false));
        assert!(o.set("rs1", None, Mode::Enabled));
        assert_eq!(o.effective("rs1", "myapp"), Effective::Enabled);
        assert!(o.nodes.is_empty(), "cleared overrides leave nothing behind");
        assert!(!o.set("rs1", Some("http"), Mode::Enabled));
    }

    #[test]
    fn retain_drops_unknown_nodes_and_services() {
        let mut o = Overrides::default();
        o.set("rs1", Some("http"), Mode::Drain);
        o.set("rs1", Some("gone"), Mode::Drain);
        o.set("rs9", None, Mode::Disabled);
        o.retain(|n, s| n == "rs1" && s.is_none_or(|s| s == "http"));
        assert_eq!(o.nodes.len(), 1);
        assert_eq!(o.nodes["rs1"].services.len(), 1);
    }
}
