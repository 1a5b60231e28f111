//! Every node's state machine, fed by check reports, and the health snapshot the desired table
//! is computed from. Restoring (after a restart or a reload) replays the last known health into
//! fresh machines as check results, so the machines themselves end up where they were — the
//! node state machine stays the single source of truth.

use super::desired::{Check, Health, Pair};
use crate::node::{weight_from_load, Action, Health as MHealth, Input, Millis, NodeConfig};
use crate::node::{NodeMachine, NodeState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The last check of a pair, for views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastCheck {
    pub ok: bool,
    pub summary: String,
    pub latency_ms: u64,
    /// Unix time, milliseconds.
    pub at_ms: u64,
}

/// What is known of one pair, to be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    pub up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<u8>,
}

/// The node machines of one configuration.
#[derive(Debug, Default)]
pub struct Nodes {
    machines: BTreeMap<String, NodeMachine>,
    configs: BTreeMap<String, NodeConfig>,
    loads: BTreeMap<Pair, u8>,
    pub last: BTreeMap<Pair, LastCheck>,
    /// Unix time (ms) of each node's last state change.
    pub since_unix: BTreeMap<String, u64>,
}

impl Nodes {
    /// Fresh machines for `configs`, started at `now`.
    pub fn new(configs: BTreeMap<String, NodeConfig>, now: Millis, unix_ms: u64) -> Self {
        let mut n = Nodes::default();
        for (name, c) in configs {
            let mut m = NodeMachine::new(&c);
            let _ = m.start(now);
            n.since_unix.insert(name.clone(), unix_ms);
            n.machines.insert(name.clone(), m);
            n.configs.insert(name, c);
        }
        n
    }

    /// The machine of `node`.
    pub fn machine(&self, node: &str) -> Option<&NodeMachine> {
        self.machines.get(node)
    }

    /// Node names.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.machines.keys()
    }

    /// Replays known health into the machines (results are fed as checks; the actions they
    /// produce — alerts, schedules — are dropped: nothing happened, we only remember).
    pub fn restore(&mut self, now: Millis, known: &BTreeMap<Pair, Known>) {
        for ((svc, node), k) in known {
            let (Some(m), Some(c)) = (self.machines.get_mut(node), self.configs.get(node)) else {
                continue;
            };
            let Some(sc) = c.services.iter().find(|s| &s.name == svc) else {
                continue;
            };
            let times = if k.up { sc.rise } else { sc.fall }.max(1);
            for _ in 0..times {
                let _ = m.handle(
                    now,
                    &Input::Check {
                        service: svc.clone(),
                        pass: k.up,
                        load: k.load,
                        summary: "restored".into(),
                    },
                );
            }
            if let Some(l) = k.load {
                self.loads.insert((svc.clone(), node.clone()), l);
            }
        }
    }

    /// Feeds one check result; the machine's actions.
    pub fn report(
        &mut self,
        now: Millis,
        svc: &str,
        node: &str,
        pass: bool,
        load: Option<u8>,
        summary: String,
    ) -> Vec<Action> {
        let Some(m) = self.machines.get_mut(node) else {
            return Vec::new();
        };
        let pair = (svc.to_string(), node.to_string());
        match (pass, load) {
            (true, Some(l)) => {
                self.loads.insert(pair, l);
            }
            (true, None) => {
                self.loads.remove(&pair);
            }
            _ => {}
        }
        m.handle(
            now,
            &Input::Check {
                service: svc.to_string(),
                pass,
                load,
                summary,
            },
        )
    }

    /// The health of every (service, node) pair.
    pub fn health(&self) -> BTreeMap<Pair, Health> {
        let mut out = BTreeMap::new();
        for (name, c) in &self.configs {
            let Some(m) = self.machines.get(name) else {
                continue;
            };
            for sc in &c.services {
                let pair = (sc.name.clone(), name.clone());
                let check = match (m.state(), m.health(&sc.name)) {
                    (NodeState::Offline, _) => Check::Down,
                    (_, Some(MHealth::Up)) => Check::Up,
                    (_, Some(MHealth::Down)) => Check::Down,
                    _ => Check::Unknown,
                };
                let weight = weight_from_load(sc.weight, self.loads.get(&pair).copied());
                out.insert(pair, Health { check, weight });
            }
        }
        out
    }

    /// What is known (decided) of every pair, for the state file and reloads.
    pub fn known(&self) -> BTreeMap<Pair, Known> {
        self.health()
            .into_iter()
            .filter_map(|(pair, h)| {
                let up = match h.check {
                    Check::Up => true,
                    Check::Down => false,
                    Check::Unknown => return None,
                };
                let load = self.loads.get(&pair).copied();
                Some((pair, Known { up, load }))
            })
            .collect()
    }

    /// Machines for a new configuration: a node whose configuration is unchanged keeps its
    /// machine (health, counters, since); a changed or new node gets a fresh machine with the
    /// health of its pairs that exist in both configurations replayed. Returns the number of
    /// nodes kept as they were.
    pub fn reconfigure(
        &mut self,
        configs: BTreeMap<String, NodeConfig>,
        now: Millis,
        unix_ms: u64,
    ) -> usize {
        let known = self.known();
        let mut old_machines = std::mem::take(&mut self.machines);
        let old_configs = std::mem::take(&mut self.configs);
        let mut kept = 0;
        let mut replay = BTreeMap::new();
        for (name, c) in configs {
            match (old_configs.get(&name), old_machines.remove(&name)) {
                (Some(oc), Some(m)) if *oc == c => {
                    kept += 1;
                    self.machines.insert(name.clone(), m);
                }
                _ => {
                    let mut m = NodeMachine::new(&c);
                    let _ = m.start(now);
                    for sc in &c.services {
                        let pair = (sc.name.clone(), name.clone());
                        if let Some(k) = known.get(&pair) {
                            replay.insert(pair, *k);
                        }
                    }
                    self.since_unix.entry(name.clone()).or_insert(unix_ms);
                    self.machines.insert(name.clone(), m);
                }
            }
            self.configs.insert(name, c);
        }
        let machines = &self.machines;
        self.since_unix.retain(|n, _| machines.contains_key(n));
        self.loads.retain(|(_, n), _| machines.contains_key(n));
        self.last.retain(|(_, n), _| machines.contains_key(n));
        self.restore(now, &replay);
        kept
    }
}
