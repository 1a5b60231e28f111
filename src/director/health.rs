//! The health of every (service, node) pair and of every node, fed by check and ping results.
//! One owner per fact: each pair has one [`NodeMachine`] (its debounced check, the agent's
//! load, the node's state as that pair sees it) and its last check; each node has its ping
//! settings, its last ping and since when it is in its state. The plan reads it through
//! [`HealthSource`].
//!
//! A node's state is the aggregate of its pairs: `failed` when one of its services fails,
//! `offline` when all its pairs are (ping silent), else `online`. A ping result is fed to every
//! pair of its node, so a silent node goes `offline` in all its services at once; it is pinged
//! once however many services it serves. Restoring (after a restart or a reload) replays the
//! last known health into fresh machines as check results, so the machines end up where they
//! were: the machine stays the single source of truth.

use super::plan::{Check, HealthSource, PairHealth};
use crate::node::{Action, Health as MHealth, Input, Millis, NodeConfig};
use crate::node::{CheckTarget, NodeMachine, NodeState, ServiceConfig, PING_WATCH};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// (service name, node name).
pub type Pair = (String, String);

/// The last check of a pair (or the last ping of a node), for views.
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
    /// A dynamic `misc` check's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// What one check result did (see [`Health::check`]).
#[derive(Debug, Default)]
pub struct Reported {
    pub actions: Vec<Action>,
    /// Whether the pair's health or weight changed (the plan must be recomputed).
    pub changed: bool,
    /// The node's state before and after, when it changed.
    pub node: Option<(NodeState, NodeState)>,
}

/// One (service, node) pair.
#[derive(Debug)]
struct PairState {
    machine: NodeMachine,
    config: ServiceConfig,
    last: Option<LastCheck>,
}

/// One node.
#[derive(Debug)]
struct NodeEntry {
    /// The ping settings (`ping`, `ping_rise`, `ping_fall`, `ping_numalerts`), no services.
    ping: NodeConfig,
    /// A ping decided (or a restore vouched for) the node: before that an `offline` node is
    /// only not yet known, not down.
    pinged: bool,
    last_ping: Option<LastCheck>,
    /// Unix time (ms) of the last state change.
    since_unix: u64,
    /// The services it serves, in configuration order.
    services: Vec<String>,
}

/// Every pair and node of one configuration.
#[derive(Debug, Default)]
pub struct Health {
    pairs: BTreeMap<Pair, PairState>,
    nodes: BTreeMap<String, NodeEntry>,
}

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

impl Health {
    /// Fresh machines for `configs` (node name → its configuration), started at `now`.
    pub fn new(configs: BTreeMap<String, NodeConfig>, now: Millis, unix_ms: u64) -> Self {
        let mut h = Health::default();
        h.reconfigure(configs, now, unix_ms);
        h
    }

    pub fn has_node(&self, node: &str) -> bool {
        self.nodes.contains_key(node)
    }

    /// Whether `node` serves `service`.
    pub fn serves(&self, node: &str, service: &str) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|n| n.services.iter().any(|s| s == service))
    }

    /// Node names, in order.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys()
    }

    /// The node's state: `failed` if one of its services is, `offline` if all are, else
    /// `online`.
    pub fn state(&self, node: &str) -> Option<NodeState> {
        self.aggregate(node, None)
    }

    /// The node's state, taking the pair of service `instead.0` to be in state `instead.1`.
    fn aggregate(&self, node: &str, instead: Option<(&str, NodeState)>) -> Option<NodeState> {
        let entry = self.nodes.get(node)?;
        let (mut any, mut failed, mut all_offline) = (false, false, true);
        for s in &entry.services {
            let state = match instead {
                Some((svc, st)) if svc == s => Some(st),
                _ => self
                    .pairs
                    .get(&(s.clone(), node.to_string()))
                    .map(|p| p.machine.state()),
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

    /// Unix time (ms) since which the node is in its state.
    pub fn since(&self, node: &str) -> u64 {
        self.nodes.get(node).map_or(0, |n| n.since_unix)
    }

    /// Records that the node changed state at `unix_ms` (or, after a restart, since when).
    pub fn set_since(&mut self, node: &str, unix_ms: u64) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.since_unix = unix_ms;
        }
    }

    /// The last check of a pair.
    pub fn last(&self, service: &str, node: &str) -> Option<&LastCheck> {
        self.pairs
            .get(&(service.to_string(), node.to_string()))
            .and_then(|p| p.last.as_ref())
    }

    /// The last ping of a node.
    pub fn last_ping(&self, node: &str) -> Option<&LastCheck> {
        self.nodes.get(node).and_then(|n| n.last_ping.as_ref())
    }

    /// The node's services whose last check failed, with its summary, in configuration order.
    pub fn failing(&self, node: &str) -> Vec<(&str, &str)> {
        let Some(entry) = self.nodes.get(node) else {
            return Vec::new();
        };
        entry
            .services
            .iter()
            .filter_map(|svc| {
                let p = self.pairs.get(&(svc.clone(), node.to_string()))?;
                let last = p.last.as_ref().filter(|l| !l.ok)?;
                Some((svc.as_str(), last.summary.as_str()))
            })
            .collect()
    }

    /// Whether `node` has a ping watch.
    pub fn is_pinged(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.ping.ping)
    }

    /// Replays known health into the machines (results are fed as checks; the actions they
    /// produce, alerts and schedules, are dropped: nothing happened, we only remember).
    pub fn restore(&mut self, now: Millis, known: &BTreeMap<Pair, Known>) {
        for (pair, k) in known {
            let Some(node) = self.nodes.get_mut(&pair.1) else {
                continue;
            };
            let Some(p) = self.pairs.get_mut(pair) else {
                continue;
            };
            if p.machine.state() == NodeState::Offline {
                // The node answered when this was known: replay its ping first (an offline
                // machine ignores service results); a silent ping will take it offline again.
                for _ in 0..node.ping.ping_rise.max(1) {
                    let _ = p.machine.handle(now, &Input::Ping { alive: true });
                }
            }
            node.pinged = true;
            let times = if k.up { p.config.rise } else { p.config.fall }.max(1);
            for _ in 0..times {
                let _ = p.machine.handle(
                    now,
                    &Input::Check {
                        service: pair.0.clone(),
                        pass: k.up,
                        load: k.load,
                        weight: k.weight,
                        summary: "restored".into(),
                    },
                );
            }
        }
    }

    /// Puts a pinged node back offline, as the state file remembers it, unless one of its
    /// pairs is known to pass (the kernel's table wins: adopted servers stay). The actions are
    /// dropped, as in [`Health::restore`].
    pub fn restore_offline(&mut self, now: Millis, node: &str) {
        let Some(entry) = self.nodes.get_mut(node) else {
            return;
        };
        if !entry.ping.ping {
            return;
        }
        let fall = entry.ping.ping_fall.max(1);
        let keys: Vec<Pair> = entry
            .services
            .iter()
            .map(|s| (s.clone(), node.to_string()))
            .collect();
        let any_up = keys.iter().any(|k| {
            self.pairs
                .get(k)
                .is_some_and(|p| p.machine.health(&k.0) == Some(MHealth::Up))
        });
        if any_up {
            return;
        }
        for k in &keys {
            if let Some(p) = self.pairs.get_mut(k) {
                for _ in 0..fall {
                    let _ = p.machine.handle(now, &Input::Ping { alive: false });
                }
            }
        }
        entry.pinged = true;
    }

    /// Feeds one check result of `pair`: the machine's actions and what changed.
    pub fn check(
        &mut self,
        now: Millis,
        pair: &Pair,
        pass: bool,
        (load, weight): (Option<u8>, Option<u32>),
        last: LastCheck,
    ) -> Reported {
        let Some(p) = self.pairs.get_mut(pair) else {
            return Reported::default();
        };
        let m = &mut p.machine;
        let before = (m.state(), m.health(&pair.0), m.weight(&pair.0));
        let actions = m.handle(
            now,
            &Input::Check {
                service: pair.0.clone(),
                pass,
                load,
                weight,
                summary: last.summary.clone(),
            },
        );
        let after = (m.state(), m.health(&pair.0), m.weight(&pair.0));
        p.last = Some(last);
        // The node's state is the aggregate of its pairs': it changes only with this pair's.
        let node = if before.0 == after.0 {
            None
        } else {
            self.aggregate(&pair.1, Some((&pair.0, before.0)))
                .zip(self.state(&pair.1))
                .filter(|(b, a)| b != a)
        };
        Reported {
            actions,
            changed: before != after,
            node,
        }
    }

    /// Feeds one ping result to every pair of `node`: their actions, with the node's own ping
    /// alerts and ping schedules given once (every pair machine asks for them), and the node's
    /// state change.
    pub fn ping(&mut self, now: Millis, node: &str, alive: bool, last: LastCheck) -> Reported {
        let before = self.state(node);
        let Some(entry) = self.nodes.get_mut(node) else {
            return Reported::default();
        };
        if !entry.ping.ping {
            return Reported::default();
        }
        entry.pinged = true;
        entry.last_ping = Some(last);
        let mut out = Vec::new();
        let mut changed = false;
        let mut node_level_seen = BTreeSet::new();
        for svc in &entry.services {
            let Some(p) = self.pairs.get_mut(&(svc.clone(), node.to_string())) else {
                continue;
            };
            let was = (p.machine.state(), p.machine.health(svc));
            for a in p.machine.handle(now, &Input::Ping { alive }) {
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
            changed |= was != (p.machine.state(), p.machine.health(svc));
        }
        let after = self.state(node);
        Reported {
            actions: out,
            changed,
            node: before.zip(after).filter(|(b, a)| b != a),
        }
    }

    /// Maintenance on or off for every pair of `node` (alerts silenced; off: everything is
    /// checked again at once). The schedules asked for, the ping's once.
    pub fn maintenance(&mut self, now: Millis, node: &str, on: bool) -> Vec<Action> {
        let Some(entry) = self.nodes.get(node) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for svc in &entry.services {
            if let Some(p) = self.pairs.get_mut(&(svc.clone(), node.to_string())) {
                for a in p.machine.handle(now, &Input::Maintenance { on }) {
                    let ping = matches!(
                        a,
                        Action::ScheduleCheck {
                            check: CheckTarget::Ping,
                            ..
                        }
                    );
                    if !(ping && out.contains(&a)) {
                        out.push(a);
                    }
                }
            }
        }
        out
    }

    /// The debounced health of one pair as the plan sees it.
    fn check_of(&self, pair: &Pair, p: &PairState) -> Check {
        let pinged = self.nodes.get(&pair.1).is_some_and(|n| n.pinged);
        match (p.machine.state(), p.machine.health(&pair.0)) {
            // Not pinged yet (just started): not known, rather than down.
            (NodeState::Offline, _) if !pinged => Check::Unknown,
            (NodeState::Offline, _) => Check::Offline,
            (_, Some(MHealth::Up)) => Check::Up,
            (_, Some(MHealth::Down)) => Check::Down,
            _ => Check::Unknown,
        }
    }

    /// What is known (decided) of every pair, for the state file and reloads.
    pub fn known(&self) -> BTreeMap<Pair, Known> {
        self.pairs
            .iter()
            .filter_map(|(pair, p)| {
                let up = match self.check_of(pair, p) {
                    Check::Up => true,
                    Check::Down | Check::Offline => false,
                    Check::Unknown => return None,
                };
                let load = p.machine.load(&pair.0);
                let weight = p.machine.dynamic_weight(&pair.0);
                Some((pair.clone(), Known { up, load, weight }))
            })
            .collect()
    }

    /// Machines for a new configuration: a pair whose configuration (rise, fall, weight,
    /// numalerts) and node ping settings are unchanged keeps its machine (health, counters); a
    /// changed or new pair gets a fresh machine, with the health it had replayed if it existed
    /// before. Returns the number of pairs kept as they were.
    pub fn reconfigure(
        &mut self,
        configs: BTreeMap<String, NodeConfig>,
        now: Millis,
        unix_ms: u64,
    ) -> usize {
        let known = self.known();
        let mut old_pairs = std::mem::take(&mut self.pairs);
        let mut old_nodes = std::mem::take(&mut self.nodes);
        let mut kept = 0;
        let mut replay = BTreeMap::new();
        for (name, c) in configs {
            let ping = ping_part(&c);
            let old = old_nodes.remove(&name);
            let same_ping = old.as_ref().is_some_and(|o| o.ping == ping);
            let mut entry = NodeEntry {
                ping: ping.clone(),
                pinged: same_ping && old.as_ref().is_some_and(|o| o.pinged),
                last_ping: old.as_ref().and_then(|o| o.last_ping.clone()),
                since_unix: old.as_ref().map_or(unix_ms, |o| o.since_unix),
                services: Vec::new(),
            };
            for sc in c.services {
                let pair = (sc.name.clone(), name.clone());
                match old_pairs.remove(&pair) {
                    Some(p) if p.config == sc && same_ping => {
                        kept += 1;
                        self.pairs.insert(pair.clone(), p);
                    }
                    old => {
                        let last = old.and_then(|p| p.last);
                        self.pairs.insert(
                            pair.clone(),
                            PairState {
                                machine: machine_for(&ping, &sc, now),
                                config: sc.clone(),
                                last,
                            },
                        );
                        if let Some(k) = known.get(&pair) {
                            replay.insert(pair.clone(), *k);
                        }
                    }
                }
                entry.services.push(sc.name.clone());
            }
            if !entry.ping.ping {
                entry.last_ping = None;
            }
            self.nodes.insert(name, entry);
        }
        self.restore(now, &replay);
        kept
    }
}

impl HealthSource for Health {
    fn pair(&self, service: &str, node: &str) -> Option<PairHealth<'_>> {
        let key = (service.to_string(), node.to_string());
        let p = self.pairs.get(&key)?;
        let check = self.check_of(&key, p);
        let failure = match check {
            Check::Down => p
                .last
                .as_ref()
                .filter(|l| !l.ok)
                .map(|l| l.summary.as_str()),
            Check::Offline => self
                .last_ping(node)
                .filter(|l| !l.ok)
                .map(|l| l.summary.as_str()),
            _ => None,
        };
        Some(PairHealth {
            check,
            weight: p.machine.weight(service).unwrap_or(p.config.weight),
            failure,
        })
    }
}
