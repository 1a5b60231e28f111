//! Every node's state machine, fed by check reports, and the health snapshot the desired table
//! is computed from. Restoring (after a restart or a reload) replays the last known health into
//! fresh machines as check results, so the machines themselves end up where they were — the
//! node state machine stays the single source of truth.
//!
//! A node with a ping watch (its hostgroup's `ping:`) gets each ping result fed to every one of
//! its pair machines, so a silent node goes `offline` in all its services at once; it is
//! pinged once however many services it serves.

use super::desired::{Check, Health, Pair};
use crate::node::{weight_from_load, Action, Health as MHealth, Input, Millis, NodeConfig};
use crate::node::{CheckTarget, NodeMachine, NodeState, ServiceConfig, PING_WATCH};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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

/// What one check result did (see [`Nodes::report`]).
#[derive(Debug, Default)]
pub struct Reported {
    pub actions: Vec<Action>,
    /// The pair's health before and after.
    pub health: (Option<MHealth>, Option<MHealth>),
    /// The node's state before and after, when it changed.
    pub node: Option<(NodeState, NodeState)>,
}

/// The state machines of one configuration: one per (service, node) pair, so that a report
/// costs the same whatever the number of services a node serves (the machine walks all its
/// services on every input). A node's state is the aggregate of its pairs: `failed` when one
/// of its services fails, `offline` when all its pairs are (ping silent), else `online`.
#[derive(Debug, Default)]
pub struct Nodes {
    machines: BTreeMap<Pair, NodeMachine>,
    configs: BTreeMap<Pair, ServiceConfig>,
    /// Each node's ping settings (`ping`, `ping_rise`, `ping_fall`, `ping_numalerts`) as a
    /// node configuration without services.
    pings: BTreeMap<String, NodeConfig>,
    /// Nodes a ping decided (or a restore vouched for): before that an `offline` node is only
    /// not yet known, not down.
    pinged: BTreeSet<String>,
    /// Services of each node.
    services: BTreeMap<String, Vec<String>>,
    loads: BTreeMap<Pair, u8>,
    pub last: BTreeMap<Pair, LastCheck>,
    /// The last ping of each pinged node.
    pub last_ping: BTreeMap<String, LastCheck>,
    /// Unix time (ms) of each node's last state change.
    pub since_unix: BTreeMap<String, u64>,
}

/// The node's ping settings alone.
fn ping_part(c: &NodeConfig) -> NodeConfig {
    NodeConfig {
        services: Vec::new(),
        ..c.clone()
    }
}

fn machine_for(ping: &NodeConfig, sc: &ServiceConfig, now: Millis) -> NodeMachine {
    let nc = NodeConfig {
        services: vec![sc.clone()],
        ..ping.clone()
    };
    let mut m = NodeMachine::new(&nc);
    let _ = m.start(now);
    m
}

impl Nodes {
    /// Fresh machines for `configs`, started at `now`.
    pub fn new(configs: BTreeMap<String, NodeConfig>, now: Millis, unix_ms: u64) -> Self {
        let mut n = Nodes::default();
        n.reconfigure(configs, now, unix_ms);
        n
    }

    /// Whether the configuration has this node.
    pub fn has_node(&self, node: &str) -> bool {
        self.services.contains_key(node)
    }

    /// Whether `node` serves `service`.
    pub fn serves(&self, node: &str, service: &str) -> bool {
        self.services
            .get(node)
            .is_some_and(|s| s.iter().any(|x| x == service))
    }

    /// The node's state: `failed` if one of its services is, `offline` if all are, else
    /// `online`.
    pub fn state(&self, node: &str) -> Option<NodeState> {
        self.aggregate(node, None)
    }

    /// The node's state, taking the pair of service `instead.0` to be in state `instead.1`.
    fn aggregate(&self, node: &str, instead: Option<(&str, NodeState)>) -> Option<NodeState> {
        let svcs = self.services.get(node)?;
        let (mut any, mut failed, mut all_offline) = (false, false, true);
        for s in svcs {
            let state = match instead {
                Some((svc, st)) if svc == s => Some(st),
                _ => self
                    .machines
                    .get(&(s.clone(), node.to_string()))
                    .map(|m| m.state()),
            };
            if let Some(st) = state {
                any = true;
                failed |= st == NodeState::Failed;
                all_offline &= st == NodeState::Offline;
            }
        }
        Some(if failed {
            NodeState::Failed
        } else if any && all_offline {
            NodeState::Offline
        } else {
            NodeState::Online
        })
    }

    /// Node names.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.services.keys()
    }

    /// Replays known health into the machines (results are fed as checks; the actions they
    /// produce — alerts, schedules — are dropped: nothing happened, we only remember).
    pub fn restore(&mut self, now: Millis, known: &BTreeMap<Pair, Known>) {
        for (pair, k) in known {
            let (Some(m), Some(sc)) = (self.machines.get_mut(pair), self.configs.get(pair)) else {
                continue;
            };
            if m.state() == NodeState::Offline {
                // The node answered when this was known: replay its ping first (an offline
                // machine ignores service results); a silent ping will take it offline again.
                let rise = self.pings.get(&pair.1).map_or(1, |p| p.ping_rise).max(1);
                for _ in 0..rise {
                    let _ = m.handle(now, &Input::Ping { alive: true });
                }
            }
            self.pinged.insert(pair.1.clone());
            let times = if k.up { sc.rise } else { sc.fall }.max(1);
            for _ in 0..times {
                let _ = m.handle(
                    now,
                    &Input::Check {
                        service: pair.0.clone(),
                        pass: k.up,
                        load: k.load,
                        summary: "restored".into(),
                    },
                );
            }
            if let Some(l) = k.load {
                self.loads.insert(pair.clone(), l);
            }
        }
    }

    /// Feeds one check result of `pair` (service, node): the machine's actions, and what
    /// changed.
    pub fn report(
        &mut self,
        now: Millis,
        pair: &Pair,
        pass: bool,
        load: Option<u8>,
        summary: String,
    ) -> Reported {
        let Some(m) = self.machines.get_mut(pair) else {
            return Reported::default();
        };
        let (state0, health0) = (m.state(), m.health(&pair.0));
        let actions = m.handle(
            now,
            &Input::Check {
                service: pair.0.clone(),
                pass,
                load,
                summary,
            },
        );
        let (state1, health1) = (m.state(), m.health(&pair.0));
        match (pass, load) {
            (true, Some(l)) => match self.loads.get_mut(pair) {
                Some(have) => *have = l,
                None => {
                    self.loads.insert(pair.clone(), l);
                }
            },
            (true, None) => {
                self.loads.remove(pair);
            }
            _ => {}
        }
        // The node's state is the aggregate of its pairs': it changes only with this pair's.
        let node = if state0 == state1 {
            None
        } else {
            let before = self.aggregate(&pair.1, Some((&pair.0, state0)));
            before
                .zip(self.state(&pair.1))
                .filter(|(before, after)| before != after)
        };
        Reported {
            actions,
            health: (health0, health1),
            node,
        }
    }

    /// Puts a pinged node back offline, as the state file remembers it, unless one of its
    /// pairs is known to pass (the kernel's table wins: adopted servers stay). The actions are
    /// dropped, as in [`Nodes::restore`].
    pub fn restore_offline(&mut self, now: Millis, node: &str) {
        let Some(svcs) = self.services.get(node) else {
            return;
        };
        let Some(fall) = self.pings.get(node).filter(|p| p.ping).map(|p| p.ping_fall) else {
            return;
        };
        let pairs: Vec<Pair> = svcs.iter().map(|s| (s.clone(), node.to_string())).collect();
        if pairs
            .iter()
            .any(|p| self.pair_health(&p.0, &p.1) == Some(MHealth::Up))
        {
            return;
        }
        for p in &pairs {
            if let Some(m) = self.machines.get_mut(p) {
                for _ in 0..fall.max(1) {
                    let _ = m.handle(now, &Input::Ping { alive: false });
                }
            }
        }
        self.pinged.insert(node.to_string());
    }

    /// Whether `node` has a ping watch.
    pub fn is_pinged(&self, node: &str) -> bool {
        self.pings.get(node).is_some_and(|p| p.ping)
    }

    /// Feeds one ping result to every pair machine of `node`; their actions, with the node's
    /// own ping alerts and ping schedules given once (every pair machine asks for them).
    pub fn ping(&mut self, now: Millis, node: &str, alive: bool) -> Vec<Action> {
        let Some(svcs) = self.services.get(node) else {
            return Vec::new();
        };
        if !self.is_pinged(node) {
            return Vec::new();
        }
        self.pinged.insert(node.to_string());
        let mut out = Vec::new();
        let mut node_level_seen = BTreeSet::new();
        for svc in svcs {
            let Some(m) = self.machines.get_mut(&(svc.clone(), node.to_string())) else {
                continue;
            };
            for a in m.handle(now, &Input::Ping { alive }) {
                let node_level = match &a {
                    Action::RunAlert { watch, .. } | Action::RunUpalert { watch, .. } => {
                        (watch == PING_WATCH).then(|| format!("{a:?}"))
                    }
                    Action::ScheduleCheck {
                        check: CheckTarget::Ping,
                        ..
                    } => Some(format!("{a:?}")),
                    _ => None,
                };
                if node_level.is_none_or(|k| node_level_seen.insert(k)) {
                    out.push(a);
                }
            }
        }
        out
    }

    /// The debounced health of one pair.
    pub fn pair_health(&self, svc: &str, node: &str) -> Option<MHealth> {
        self.machines
            .get(&(svc.to_string(), node.to_string()))
            .and_then(|m| m.health(svc))
    }

    /// The health of every (service, node) pair.
    pub fn health(&self) -> BTreeMap<Pair, Health> {
        let mut out = BTreeMap::new();
        for (pair, m) in &self.machines {
            let Some(sc) = self.configs.get(pair) else {
                continue;
            };
            let check = match (m.state(), m.health(&pair.0)) {
                // Not pinged yet (just started): not known, rather than down.
                (NodeState::Offline, _) if !self.pinged.contains(&pair.1) => Check::Unknown,
                (NodeState::Offline, _) => Check::Offline,
                (_, Some(MHealth::Up)) => Check::Up,
                (_, Some(MHealth::Down)) => Check::Down,
                _ => Check::Unknown,
            };
            let weight = weight_from_load(sc.weight, self.loads.get(pair).copied());
            out.insert(pair.clone(), Health { check, weight });
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
                    Check::Down | Check::Offline => false,
                    Check::Unknown => return None,
                };
                let load = self.loads.get(&pair).copied();
                Some((pair, Known { up, load }))
            })
            .collect()
    }

    /// Machines for a new configuration: a pair whose configuration (rise, fall, weight,
    /// numalerts) is unchanged keeps its machine (health, counters); a changed or new pair gets
    /// a fresh machine, with the health it had replayed if it existed before. Returns the
    /// number of pairs kept as they were.
    pub fn reconfigure(
        &mut self,
        configs: BTreeMap<String, NodeConfig>,
        now: Millis,
        unix_ms: u64,
    ) -> usize {
        let known = self.known();
        let mut old_machines = std::mem::take(&mut self.machines);
        let old_configs = std::mem::take(&mut self.configs);
        let old_pings = std::mem::take(&mut self.pings);
        self.services.clear();
        let mut kept = 0;
        let mut replay = BTreeMap::new();
        for (name, c) in configs {
            let ping = ping_part(&c);
            let same_ping = old_pings.get(&name) == Some(&ping);
            if !same_ping {
                self.pinged.remove(&name);
            }
            for sc in c.services {
                let pair = (sc.name.clone(), name.clone());
                match (old_configs.get(&pair), old_machines.remove(&pair)) {
                    (Some(oc), Some(m)) if *oc == sc && same_ping => {
                        kept += 1;
                        self.machines.insert(pair.clone(), m);
                    }
                    _ => {
                        self.machines
                            .insert(pair.clone(), machine_for(&ping, &sc, now));
                        if let Some(k) = known.get(&pair) {
                            replay.insert(pair.clone(), *k);
                        }
                    }
                }
                self.services
                    .entry(name.clone())
                    .or_default()
                    .push(sc.name.clone());
                self.configs.insert(pair, sc);
            }
            self.since_unix.entry(name.clone()).or_insert(unix_ms);
            self.pings.insert(name, ping);
        }
        let services = &self.services;
        self.pinged.retain(|n| services.contains_key(n));
        self.last_ping.retain(|n, _| services.contains_key(n));
        let machines = &self.machines;
        self.since_unix.retain(|n, _| services.contains_key(n));
        self.loads.retain(|p, _| machines.contains_key(p));
        self.last.retain(|p, _| machines.contains_key(p));
        self.restore(now, &replay);
        kept
    }
}
