//! One node's explicit state machine. Every transition goes through [`NodeMachine::change_state`],
//! which logs (node, event, old, new) in one line. The machine decides the node's state and the
//! debounced health of each of its services; whether a real server is in the IPVS table is not
//! its business: the director's plan derives that, level-triggered, from this health, the
//! operator's overrides and the guard (`director/plan.rs`).
//!
//! The transitions are those of the classic cluster scripts (DESIGN.md):
//! - `offline` → ping answers → `online`, then every service is checked at once: pass → real
//!   server added; fail → `failed`.
//! - `online` → a service check fails → that real server leaves the table; then one ping decides:
//!   answers → `failed`, silent → `offline` (as `http_down.alert` does).
//! - `failed` → re-checked at the faster interval: ping silent → `offline`; the service passes →
//!   back in the table and, when nothing else fails, `online`; still failing → stays `failed`.
//! - any state but `offline` → ping silent (`fall` times) → `offline`, out of every service.
//!
//! Rise/fall counts debounce both ping and service results; maintenance silences alerts, and
//! ending it checks everything again at once.

use super::{
    Action, AlertKind, Cadence, CheckTarget, Input, Millis, NodeConfig, NodeState, ServiceConfig,
    PING_WATCH,
};
use serde::{Deserialize, Serialize};

/// The debounced health of a ping or a service check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No decision yet (after start or after the node came back online).
    Unknown,
    Up,
    Down,
}

/// Rise/fall debouncing of one stream of pass/fail results.
#[derive(Debug, Clone)]
struct Debounce {
    health: Health,
    passes: u32,
    fails: u32,
    rise: u32,
    fall: u32,
    /// Alerts sent in the current failure period.
    alerts_sent: u32,
}

impl Debounce {
    fn new(rise: u32, fall: u32) -> Self {
        Debounce {
            health: Health::Unknown,
            passes: 0,
            fails: 0,
            rise: rise.max(1),
            fall: fall.max(1),
            alerts_sent: 0,
        }
    }

    /// Counts one result; returns the new health when it changed.
    fn record(&mut self, pass: bool) -> Option<Health> {
        if pass {
            self.passes = self.passes.saturating_add(1);
            self.fails = 0;
            if self.health != Health::Up && self.passes >= self.rise {
                self.health = Health::Up;
                return Some(Health::Up);
            }
        } else {
            self.fails = self.fails.saturating_add(1);
            self.passes = 0;
            if self.health != Health::Down && self.fails >= self.fall {
                self.health = Health::Down;
                return Some(Health::Down);
            }
        }
        None
    }

    fn reset(&mut self) {
        self.health = Health::Unknown;
        self.passes = 0;
        self.fails = 0;
    }
}

#[derive(Debug, Clone)]
struct ServiceSlot {
    cfg: ServiceConfig,
    debounce: Debounce,
    load: Option<u8>,
    /// The weight the last passing check reported (a dynamic `misc` check).
    dynamic: Option<u32>,
    /// The summary of the last failed check (for the alert sent after the verification ping).
    summary: String,
    /// A failure is being confirmed at the watch's `retry_interval` (`cfg.retry`).
    retrying: bool,
}

/// The state machine of one node and the services it serves.
#[derive(Debug, Clone)]
pub struct NodeMachine {
    name: String,
    ping_monitored: bool,
    ping_numalerts: u32,
    state: NodeState,
    since: Millis,
    ping: Debounce,
    /// Services that went down while online, waiting for the verification ping.
    verify: Vec<usize>,
    maintenance: bool,
    services: Vec<ServiceSlot>,
}

/// The IPVS weight for a node reporting `load` (0-100): `base × (100 − load) / 100`; no report
/// (or a plain check) keeps the base weight, load 0 gives the full weight, load 100 gives 0.
pub fn weight_from_load(base: u32, load: Option<u8>) -> u32 {
    match load {
        None => base,
        Some(load) => {
            let idle = 100 - u64::from(load.min(100));
            u32::try_from(u64::from(base) * idle / 100).unwrap_or(u32::MAX)
        }
    }
}

impl NodeMachine {
    /// A node in state `offline`, as the classic scripts start; call [`NodeMachine::start`].
    pub fn new(cfg: &NodeConfig) -> Self {
        NodeMachine {
            name: cfg.name.clone(),
            ping_monitored: cfg.ping,
            ping_numalerts: cfg.ping_numalerts,
            state: NodeState::Offline,
            since: 0,
            ping: Debounce::new(cfg.ping_rise, cfg.ping_fall),
            verify: Vec::new(),
            maintenance: false,
            services: cfg
                .services
                .iter()
                .map(|s| ServiceSlot {
                    cfg: s.clone(),
                    debounce: Debounce::new(s.rise, s.fall),
                    load: None,
                    dynamic: None,
                    retrying: false,
                    summary: String::new(),
                })
                .collect(),
        }
    }

    /// Starts the machine: ping the node now, or, without a ping watch, treat it as reachable
    /// and check its services at once.
    pub fn start(&mut self, now: Millis) -> Vec<Action> {
        let mut out = Vec::new();
        if self.ping_monitored {
            out.push(self.schedule(CheckTarget::Ping, Cadence::Now));
        } else {
            self.ping.health = Health::Up;
            self.go_online(now, "start without ping watch", &mut out);
        }
        out
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> NodeState {
        self.state
    }

    /// When the node entered its current state.
    pub fn since(&self) -> Millis {
        self.since
    }

    pub fn in_maintenance(&self) -> bool {
        self.maintenance
    }

    /// The debounced health of a service on this node, if the node serves it.
    pub fn health(&self, service: &str) -> Option<Health> {
        self.slot(service).map(|i| self.services[i].debounce.health)
    }

    /// The load 0-100 the last passing check of `service` reported (an agent check).
    pub fn load(&self, service: &str) -> Option<u8> {
        self.slot(service).and_then(|i| self.services[i].load)
    }

    /// The weight the last passing check of `service` reported (a dynamic `misc` check).
    pub fn dynamic_weight(&self, service: &str) -> Option<u32> {
        self.slot(service).and_then(|i| self.services[i].dynamic)
    }

    /// The weight `service`'s real server should have when it is in the table: the weight a
    /// dynamic check reported, else the configured weight scaled by the agent's load.
    pub fn weight(&self, service: &str) -> Option<u32> {
        self.slot(service).map(|i| {
            let s = &self.services[i];
            s.dynamic
                .unwrap_or_else(|| weight_from_load(s.cfg.weight, s.load))
        })
    }

    /// Feeds one event; returns what to do.
    pub fn handle(&mut self, now: Millis, input: &Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Ping { alive } => self.on_ping(now, *alive, &mut out),
            Input::Check {
                service,
                pass,
                load,
                weight,
                summary,
            } => {
                if let Some(i) = self.slot(service) {
                    self.on_check(now, i, *pass, (*load, *weight), summary, &mut out);
                } else {
                    tracing::debug!(node = %self.name, service, "check result for a service the node does not serve");
                }
            }
            Input::Maintenance { on } => {
                if self.maintenance && !*on {
                    // Back from maintenance: look again at everything at once.
                    if self.ping_monitored {
                        out.push(self.schedule(CheckTarget::Ping, Cadence::Now));
                    }
                    for i in 0..self.services.len() {
                        let svc = self.services[i].cfg.name.clone();
                        out.push(self.schedule(CheckTarget::Service(svc), Cadence::Now));
                    }
                }
                self.maintenance = *on;
            }
        }
        out
    }

    fn slot(&self, service: &str) -> Option<usize> {
        self.services.iter().position(|s| s.cfg.name == service)
    }

    fn on_ping(&mut self, now: Millis, alive: bool, out: &mut Vec<Action>) {
        if !self.verify.is_empty() {
            // http_down.alert: the service failed, one ping tells failed from offline.
            let failed: Vec<usize> = std::mem::take(&mut self.verify);
            let old = self.state;
            if alive {
                self.ping.record(true);
                self.change_state(
                    now,
                    "service check failed, ping answers",
                    NodeState::Failed,
                    out,
                );
            } else {
                self.ping.health = Health::Down;
                self.ping.passes = 0;
                self.ping.fails = self.ping.fall;
                self.change_state(
                    now,
                    "service check failed, ping silent",
                    NodeState::Offline,
                    out,
                );
                self.reset_services(out);
            }
            for i in failed {
                let watch = self.services[i].cfg.name.clone();
                let summary = self.services[i].summary.clone();
                self.alert(i, AlertKind::Alert, watch, old, summary, out);
            }
            if !alive {
                // The node is down too: node_down.alert, so that node_up.alert has a pair.
                self.ping_alert(old, out);
            }
            return;
        }
        match self.ping.record(alive) {
            Some(Health::Up) => {
                if self.state == NodeState::Offline {
                    self.go_online(now, "ping answers", out);
                }
            }
            Some(Health::Down) => {
                let old = self.state;
                if old != NodeState::Offline {
                    self.change_state(now, "ping silent", NodeState::Offline, out);
                    self.reset_services(out);
                }
                self.ping_alert(old, out);
            }
            Some(Health::Unknown) => {}
            None => {
                if !alive && self.ping.health == Health::Down {
                    self.ping_alert(NodeState::Offline, out);
                }
            }
        }
    }

    fn ping_alert(&mut self, old: NodeState, out: &mut Vec<Action>) {
        if self.maintenance {
            return;
        }
        let limit = self.ping_numalerts;
        if limit == 0 || self.ping.alerts_sent < limit {
            let repeat = self.ping.alerts_sent > 0;
            self.ping.alerts_sent = self.ping.alerts_sent.saturating_add(1);
            out.push(Action::RunAlert {
                node: self.name.clone(),
                watch: PING_WATCH.to_string(),
                old,
                new: self.state,
                summary: format!("{} does not answer ping", self.name),
                repeat,
            });
        }
    }

    fn go_online(&mut self, now: Millis, cause: &str, out: &mut Vec<Action>) {
        self.change_state(now, cause, NodeState::Online, out);
        if self.ping.alerts_sent > 0 {
            self.ping.alerts_sent = 0;
            if !self.maintenance {
                out.push(Action::RunUpalert {
                    node: self.name.clone(),
                    watch: PING_WATCH.to_string(),
                    old: NodeState::Offline,
                    new: NodeState::Online,
                });
            }
        }
        self.reset_services(out);
        for i in 0..self.services.len() {
            let svc = self.services[i].cfg.name.clone();
            out.push(self.schedule(CheckTarget::Service(svc), Cadence::Now));
        }
    }

    /// Forgets every service's results (the node went offline or came back); a retry in
    /// progress goes back to the normal interval.
    fn reset_services(&mut self, out: &mut Vec<Action>) {
        self.verify.clear();
        for i in 0..self.services.len() {
            let s = &mut self.services[i];
            s.debounce.reset();
            s.load = None;
            s.dynamic = None;
            if std::mem::take(&mut s.retrying) {
                let watch = s.cfg.name.clone();
                out.push(self.schedule(CheckTarget::Service(watch), Cadence::Normal));
            }
        }
    }

    fn on_check(
        &mut self,
        now: Millis,
        i: usize,
        pass: bool,
        (load, weight): (Option<u8>, Option<u32>),
        summary: &str,
        out: &mut Vec<Action>,
    ) {
        if self.state == NodeState::Offline {
            // The classic scripts only ping an offline node; its services wait for it.
            return;
        }
        if pass {
            self.services[i].load = load;
            self.services[i].dynamic = weight;
        } else {
            self.services[i].summary = summary.to_string();
        }
        let before = self.services[i].debounce.health;
        let watch = self.services[i].cfg.name.clone();
        match self.services[i].debounce.record(pass) {
            Some(Health::Up) => {
                if std::mem::take(&mut self.services[i].retrying) || before == Health::Down {
                    out.push(self.schedule(CheckTarget::Service(watch.clone()), Cadence::Normal));
                }
                let old = self.state;
                if self.state == NodeState::Failed && !self.any_down() {
                    self.change_state(now, &format!("{watch} passes"), NodeState::Online, out);
                }
                if self.services[i].debounce.alerts_sent > 0 {
                    self.services[i].debounce.alerts_sent = 0;
                    if !self.maintenance {
                        out.push(Action::RunUpalert {
                            node: self.name.clone(),
                            watch,
                            old,
                            new: self.state,
                        });
                    }
                }
            }
            Some(Health::Down) => {
                self.services[i].retrying = false;
                out.push(self.schedule(CheckTarget::Service(watch.clone()), Cadence::Failed));
                let old = self.state;
                match self.state {
                    NodeState::Online if before == Health::Up && self.ping_monitored => {
                        // Out of the table now (derived), the ping decides failed vs offline.
                        if self.verify.is_empty() {
                            out.push(self.schedule(CheckTarget::Ping, Cadence::Now));
                        }
                        self.verify.push(i);
                    }
                    NodeState::Online => {
                        let cause = format!("{watch} fails");
                        self.change_state(now, &cause, NodeState::Failed, out);
                        self.alert(i, AlertKind::Alert, watch, old, summary.to_string(), out);
                    }
                    _ => {
                        if !self.verify.contains(&i) {
                            self.alert(i, AlertKind::Alert, watch, old, summary.to_string(), out);
                        }
                    }
                }
            }
            Some(Health::Unknown) => {}
            None => {
                let slot = &mut self.services[i];
                let down = slot.debounce.health == Health::Down;
                let cadence = if !pass && !down && slot.cfg.retry && !slot.retrying {
                    slot.retrying = true;
                    Some(Cadence::Retry)
                } else if pass && slot.retrying {
                    slot.retrying = false;
                    Some(Cadence::Normal)
                } else {
                    None
                };
                if let Some(c) = cadence {
                    out.push(self.schedule(CheckTarget::Service(watch.clone()), c));
                }
                if !pass && down && !self.verify.contains(&i) {
                    let old = self.state;
                    self.alert(i, AlertKind::Alert, watch, old, summary.to_string(), out);
                }
            }
        }
    }

    /// Sends a failure alert if numalerts allows it (and not in maintenance).
    fn alert(
        &mut self,
        i: usize,
        kind: AlertKind,
        watch: String,
        old: NodeState,
        summary: String,
        out: &mut Vec<Action>,
    ) {
        if self.maintenance || kind != AlertKind::Alert {
            return;
        }
        let limit = self.services[i].cfg.numalerts;
        let d = &mut self.services[i].debounce;
        if limit == 0 || d.alerts_sent < limit {
            let repeat = d.alerts_sent > 0;
            d.alerts_sent = d.alerts_sent.saturating_add(1);
            out.push(Action::RunAlert {
                node: self.name.clone(),
                watch,
                old,
                new: self.state,
                summary,
                repeat,
            });
        }
    }

    fn any_down(&self) -> bool {
        self.services
            .iter()
            .any(|s| s.debounce.health == Health::Down)
    }

    fn schedule(&self, check: CheckTarget, cadence: Cadence) -> Action {
        Action::ScheduleCheck {
            node: self.name.clone(),
            check,
            cadence,
        }
    }

    /// The one place a node changes state; logs (node, event, old, new) in one line.
    fn change_state(&mut self, now: Millis, event: &str, new: NodeState, out: &mut Vec<Action>) {
        let old = self.state;
        if old == new {
            return;
        }
        tracing::info!(node = %self.name, event, %old, %new, at_ms = now, "node state change");
        self.state = new;
        self.since = now;
        out.push(Action::StateChanged {
            node: self.name.clone(),
            old,
            new,
            cause: event.to_string(),
        });
    }
}
