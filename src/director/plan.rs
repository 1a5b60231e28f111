//! The desired IPVS table as a pure function of the configuration, the health of every
//! (service, node) pair (with the weight an agent check reported), the operator's overrides and
//! the previous plan (for the mass-removal guard). The one owner of "is this real server in the
//! table, with what weight, and why": every table change's reason is the plan's `why`.
//!
//! Rules, per service:
//! - a node is in the table when its check passes and the operator has not disabled it or put
//!   it in maintenance; drain keeps it with weight 0; a failing, offline or not yet checked
//!   node is removed, or with `on_failure: inhibit` kept with weight 0 (its connections stay);
//! - the mass-removal guard: at most `mass_removal_guard` percent of the service's eligible
//!   nodes may be out for failing checks. Failing nodes that were in the previous plan beyond
//!   that share stay in (fail open) with their previous weight, and the plan reports the trip;
//! - quorum: when fewer than `quorum` passing real servers with a weight above 0 are in the
//!   table, the sorry server (if any) is added; it leaves when quorum returns. With the sorry
//!   server's `mode: replace` (keepalived's) the passing servers leave meanwhile (or go to
//!   weight 0 with `on_failure: inhibit`).

use super::admin::{Effective, Overrides};
use super::health::Pair;
use super::mapping::{forward_of, service_of};
use crate::config::{Config, OnFailure, QuorumBy, Service, SorryMode};
use crate::ipvs::{Dest, ServiceKey};
use crate::reconcile::{Table, TableError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The debounced result of a (service, node) check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Not decided yet: out of the table unless it already was (guard) or adopted.
    Unknown,
    Up,
    Down,
    /// The node's ping is silent: out of every service, whatever its checks said.
    Offline,
}

impl Check {
    /// The word views use.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Up => "up",
            Check::Down => "down",
            Check::Offline => "offline",
            Check::Unknown => "unknown",
        }
    }
}

/// What the plan needs to know of one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairHealth<'a> {
    pub check: Check,
    /// The weight it should have when in: the node's weight scaled by an agent's load.
    pub weight: u32,
    /// Why it is down (the last failed check's summary) or offline (the last ping's).
    pub failure: Option<&'a str>,
}

/// Where the plan reads health from: the director's [`super::health::Health`], or a map in
/// tests and `lbctl apply`. A pair it does not know is `Unknown` with the node's weight.
pub trait HealthSource {
    fn pair(&self, service: &str, node: &str) -> Option<PairHealth<'_>>;
}

/// The simple source: (check, weight) by pair.
impl HealthSource for BTreeMap<Pair, (Check, u32)> {
    fn pair(&self, service: &str, node: &str) -> Option<PairHealth<'_>> {
        self.get(&(service.to_string(), node.to_string()))
            .map(|&(check, weight)| PairHealth {
                check,
                weight,
                failure: None,
            })
    }
}

/// One (service, node) real server in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub addr: IpAddr,
    pub port: u16,
    /// `None`: not in the table.
    pub weight: Option<i32>,
    pub admin: Effective,
    pub check: Check,
    /// Why it is (or is not) in the table: `http check fails on rs2: connection refused`.
    pub why: String,
}

/// What the plan says of one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePlan {
    pub key: Option<ServiceKey>,
    /// Passing real servers in the table with a weight above 0.
    pub healthy: u32,
    /// What quorum is measured in: `healthy`, or the sum of those servers' weights.
    pub quorum_measure: u64,
    /// Quorum held (after hysteresis); while false the sorry server (if any) is in.
    pub quorum_met: bool,
    pub sorry_active: bool,
    /// Nodes kept in by the mass-removal guard although their check fails.
    pub guard_held: Vec<String>,
}

/// The desired state.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub table: Table,
    pub members: BTreeMap<Pair, Member>,
    pub services: BTreeMap<String, ServicePlan>,
    /// Real servers that could not be put in the table (the configuration rules prevent these).
    pub errors: Vec<TableError>,
}

/// Who a table destination belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Member { service: String, node: String },
    Sorry { service: String },
}

impl Plan {
    /// Weights of the members in the table, the `previous` of the next plan.
    pub fn in_table(&self) -> BTreeMap<Pair, i32> {
        self.members
            .iter()
            .filter_map(|(k, m)| m.weight.map(|w| (k.clone(), w)))
            .collect()
    }

    /// The service name of a kernel key.
    pub fn service_name(&self, key: &ServiceKey) -> Option<&str> {
        self.services
            .iter()
            .find(|(_, s)| s.key.as_ref() == Some(key))
            .map(|(n, _)| n.as_str())
    }

    /// (service key, address, port) → whom that destination belongs to: every configured real
    /// server, and the sorry servers.
    pub fn owners(&self, cfg: &Config) -> BTreeMap<(ServiceKey, IpAddr, u16), Owner> {
        let mut out = BTreeMap::new();
        for ((svc, node), m) in &self.members {
            if let Some(key) = self.services.get(svc).and_then(|s| s.key) {
                out.insert(
                    (key, m.addr, m.port),
                    Owner::Member {
                        service: svc.clone(),
                        node: node.clone(),
                    },
                );
            }
        }
        for svc in &cfg.services {
            if let (Some(sorry), Some(key)) = (
                svc.sorry_server,
                self.services.get(&svc.name).and_then(|s| s.key),
            ) {
                out.entry((key, sorry.address, svc.sorry_port(&sorry)))
                    .or_insert(Owner::Sorry {
                        service: svc.name.clone(),
                    });
            }
        }
        out
    }
}

fn weight_i32(w: u32) -> i32 {
    i32::try_from(w).unwrap_or(i32::MAX)
}

/// The desired plan with no quorum history (every service's quorum judged without
/// hysteresis). `previous` holds the weights of the pairs the last plan (or, at start, the
/// kernel) had in the table.
pub fn desired(
    cfg: &Config,
    health: &dyn HealthSource,
    admin: &Overrides,
    previous: &BTreeMap<Pair, i32>,
) -> Plan {
    desired_after(cfg, health, admin, previous, &Plan::default())
}

/// The desired plan after `before`, whose services' quorum state the hysteresis starts from
/// (a service it does not have is judged without hysteresis).
pub fn desired_after(
    cfg: &Config,
    health: &dyn HealthSource,
    admin: &Overrides,
    previous: &BTreeMap<Pair, i32>,
    before: &Plan,
) -> Plan {
    let mut plan = Plan::default();
    let guard = u64::from(cfg.director.mass_removal_guard.min(100));
    let inputs = Inputs {
        cfg,
        health,
        admin,
        previous,
        guard,
    };
    for svc in &cfg.services {
        let had = before.services.get(&svc.name).map(|s| s.quorum_met);
        plan_service(&inputs, svc, had, &mut plan);
    }
    plan
}

/// What every service's plan reads.
struct Inputs<'a> {
    cfg: &'a Config,
    health: &'a dyn HealthSource,
    admin: &'a Overrides,
    previous: &'a BTreeMap<Pair, i32>,
    guard: u64,
}

/// keepalived's quorum with hysteresis: met before → held down to `quorum - hysteresis`;
/// lost before → back at `quorum + hysteresis`; unknown → `quorum`.
pub fn quorum_met(measure: u64, quorum: u32, hysteresis: u32, before: Option<bool>) -> bool {
    let (q, h) = (u64::from(quorum), u64::from(hysteresis));
    match before {
        Some(true) => measure >= q.saturating_sub(h),
        Some(false) => measure >= q + h,
        None => measure >= q,
    }
}

/// Why a member is (or is not) in the table, before the guard. `failed` is where a node that
/// is not passing goes: out (`None`) or weight 0 (inhibit).
fn member_why(
    svc: &str,
    node: &str,
    eff: Effective,
    h: &PairHealth<'_>,
    on_failure: OnFailure,
) -> (Option<i32>, String) {
    let with = |base: String| match h.failure {
        Some(f) if !f.is_empty() => format!("{base}: {f}"),
        _ => base,
    };
    let (failed, inhibited) = match on_failure {
        OnFailure::Remove => (None, ""),
        OnFailure::Inhibit => (Some(0), " (inhibited: weight 0)"),
    };
    match (eff, h.check) {
        (Effective::Maintenance, _) => (None, "node in maintenance".to_string()),
        (Effective::Disabled, _) => (None, "disabled by the operator".to_string()),
        (_, Check::Down) => (
            failed,
            with(format!("{svc} check fails on {node}{inhibited}")),
        ),
        (_, Check::Offline) => (failed, with(format!("ping silent on {node}{inhibited}"))),
        (_, Check::Unknown) => (
            failed,
            format!("{svc} check has not passed yet on {node}{inhibited}"),
        ),
        (Effective::Drain, Check::Up) => (Some(0), "drained by the operator".to_string()),
        (Effective::Enabled, Check::Up) => (
            Some(weight_i32(h.weight)),
            format!("{svc} check passes on {node}"),
        ),
    }
}

fn plan_service(inputs: &Inputs<'_>, svc: &Service, before: Option<bool>, plan: &mut Plan) {
    let Inputs {
        cfg,
        health,
        admin,
        previous,
        guard,
    } = *inputs;
    let service = service_of(svc);
    let key = service.key;
    plan.table.insert_service(service);
    let forward = forward_of(svc);
    let nodes = cfg
        .hostgroup_of(svc)
        .map(|h| h.nodes.as_slice())
        .unwrap_or_default();
    let mut sp = ServicePlan {
        key: Some(key),
        ..ServicePlan::default()
    };
    // First pass: what each node would be without the guard.
    let mut eligible = 0u64;
    // (node, still serving in the previous plan) of each eligible node not passing.
    let mut out_for_health: Vec<(&str, bool)> = Vec::new();
    let mut members: Vec<(String, Member)> = Vec::new();
    for node in nodes {
        let h = health.pair(&svc.name, &node.name).unwrap_or(PairHealth {
            check: Check::Unknown,
            weight: node.weight,
            failure: None,
        });
        let eff = admin.effective(&node.name, &svc.name);
        let on_failure = svc.on_failure_of(node);
        let (weight, why) = member_why(&svc.name, &node.name, eff, &h, on_failure);
        if matches!(eff, Effective::Enabled | Effective::Drain) {
            eligible += 1;
            if h.check != Check::Up {
                // Still serving in the last plan: the guard may hold it. An inhibited node
                // at weight 0 (and not drained) was already out.
                let pair = (svc.name.clone(), node.name.clone());
                let serving = previous.get(&pair).is_some_and(|&w| {
                    on_failure == OnFailure::Remove || w > 0 || eff == Effective::Drain
                });
                out_for_health.push((&node.name, serving));
            }
        }
        members.push((
            node.name.clone(),
            Member {
                addr: node.address,
                port: svc.real_port(node),
                weight,
                admin: eff,
                check: h.check,
                why,
            },
        ));
    }
    // The guard: how many may be out for health, and who is already out.
    let allowed = eligible * guard / 100;
    let out_count = out_for_health.len() as u64;
    if out_count > allowed {
        let newly: Vec<&str> = out_for_health
            .iter()
            .filter(|(_, serving)| *serving)
            .map(|(n, _)| *n)
            .collect();
        let already_out = out_count - newly.len() as u64;
        let may_remove = allowed.saturating_sub(already_out) as usize;
        for n in newly.into_iter().skip(may_remove) {
            let pair = (svc.name.clone(), n.to_string());
            if let Some((_, m)) = members.iter_mut().find(|(name, _)| name == n) {
                let w = previous.get(&pair).copied().unwrap_or(0);
                m.weight = Some(if m.admin == Effective::Drain { 0 } else { w });
                m.why = format!(
                    "{} kept by the mass-removal guard ({} of {} nodes failing, limit {}%)",
                    m.why, out_count, eligible, guard
                );
                sp.guard_held.push(n.to_string());
            }
        }
    }
    let serving = || {
        members
            .iter()
            .filter_map(|(_, m)| m.weight.filter(|&w| m.check == Check::Up && w > 0))
    };
    sp.healthy = serving().count() as u32;
    sp.quorum_measure = match svc.quorum_by {
        QuorumBy::Count => u64::from(sp.healthy),
        QuorumBy::Weight => serving().map(|w| w as u64).sum(),
    };
    sp.quorum_met = quorum_met(sp.quorum_measure, svc.quorum, svc.hysteresis, before);
    let sorry = svc.sorry_server.filter(|_| !sp.quorum_met);
    if let Some(sorry) = sorry.filter(|s| s.mode == SorryMode::Replace) {
        replace_by_sorry(svc, nodes, &mut members, sp.quorum_measure, &sorry);
    }
    for (name, m) in members {
        if let Some(w) = m.weight {
            let mut d = Dest::new(m.addr, m.port, forward);
            d.weight = w;
            d.upper_threshold = svc.upper_threshold;
            d.lower_threshold = svc.lower_threshold;
            if let Err(e) = plan.table.insert_dest(&key, d) {
                plan.errors.push(e);
            }
        }
        plan.members.insert((svc.name.clone(), name), m);
    }
    if let Some(sorry) = sorry {
        let mut d = Dest::new(sorry.address, svc.sorry_port(&sorry), forward);
        d.weight = weight_i32(sorry.weight);
        if let Err(e) = plan.table.insert_dest(&key, d) {
            plan.errors.push(e);
        } else {
            sp.sorry_active = true;
        }
    }
    plan.services.insert(svc.name.clone(), sp);
}

/// The sorry server's `mode: replace`: the members still in the table leave it (an inhibited
/// one stays with weight 0) while the sorry server takes the traffic, as keepalived does.
fn replace_by_sorry(
    svc: &Service,
    nodes: &[crate::config::Node],
    members: &mut [(String, Member)],
    measure: u64,
    sorry: &crate::config::SorryServer,
) {
    let (by, what) = match svc.quorum_by {
        QuorumBy::Count => ("passing", "quorum"),
        QuorumBy::Weight => ("weight passing", "quorum weight"),
    };
    for (name, m) in members.iter_mut() {
        if m.weight.is_none() {
            continue;
        }
        let inhibit = nodes
            .iter()
            .find(|n| &n.name == name)
            .is_some_and(|n| svc.on_failure_of(n) == OnFailure::Inhibit);
        m.weight = inhibit.then_some(0);
        m.why = format!(
            "{}; replaced by the sorry server {} ({measure} {by}, {what} {})",
            m.why, sorry.address, svc.quorum
        );
    }
}

/// Every (service, node) pair of the configuration passing its check with the node's weight.
pub fn all_healthy(cfg: &Config) -> BTreeMap<Pair, (Check, u32)> {
    let mut out = BTreeMap::new();
    for svc in &cfg.services {
        for node in cfg
            .hostgroup_of(svc)
            .map(|h| h.nodes.as_slice())
            .unwrap_or_default()
        {
            out.insert(
                (svc.name.clone(), node.name.clone()),
                (Check::Up, node.weight),
            );
        }
    }
    out
}

/// The table `lbctl apply` programs: the plan with every check passing and no override. If
/// fewer nodes than the quorum have a weight above 0, the sorry server (if any) is in too.
pub fn all_healthy_table(cfg: &Config) -> Result<Table, TableError> {
    let plan = desired(
        cfg,
        &all_healthy(cfg),
        &Overrides::default(),
        &BTreeMap::new(),
    );
    match plan.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(plan.table),
    }
}
