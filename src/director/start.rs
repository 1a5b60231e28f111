//! Start-up: adopt the kernel's table, restore the last known state, start the watches and the
//! VRRP instances, and run the first pass.
//!
//! A configured real server the kernel already has counts as passing until a check says
//! otherwise, so restarting over a converged table sends nothing and resets no weight, and a
//! crash never removes a server that was healthy; the state file restores what is known of
//! the others (drained, failed, passing, offline). A server never known is added only after
//! its first passing checks.

use super::health::{Health, Known, Pair};
use super::io::{Effect, Now, Start};
use super::mapping::{key_of, real_port};
use super::state::StateDoc;
use super::{history, interval_ms, watches, Director, InFlight, Observation};
use crate::config::{Config, OnFailure};
use crate::node::NodeState;
use crate::reconcile::Table;
use std::collections::BTreeMap;

/// What start-up knows of each pair: every configured real server the kernel has counts as
/// passing (with the load the state file remembered), except an inhibiting one at weight 0;
/// the state file's health for the others.
/// Also the weights of the pairs in the kernel (the guard's `previous`) and how many were
/// adopted.
fn adopt(
    cfg: &Config,
    actual: &Table,
    doc: &StateDoc,
) -> (BTreeMap<Pair, Known>, BTreeMap<Pair, i32>, usize) {
    let mut known = doc.known();
    let mut previous = BTreeMap::new();
    let mut adopted = 0;
    for svc in &cfg.services {
        let Some(have) = actual.services.get(&key_of(svc)) else {
            continue;
        };
        for node in cfg
            .hostgroup_of(svc)
            .map(|h| h.nodes.as_slice())
            .unwrap_or_default()
        {
            if let Some(d) = have.dests.get(&(node.address, real_port(svc, node))) {
                let pair = (svc.name.clone(), node.name.clone());
                previous.insert(pair.clone(), d.weight);
                adopted += 1;
                // Weight 0 of an inhibiting node is how lbd left a failing one: what the
                // state file knows decides (unknown: kept at 0 until its check passes).
                let inhibited = d.weight == 0
                    && node.weight > 0
                    && svc.on_failure_of(node) == OnFailure::Inhibit;
                if !inhibited {
                    let (load, weight) = known
                        .get(&pair)
                        .map_or((None, None), |k| (k.load, k.weight));
                    known.insert(
                        pair,
                        Known {
                            up: true,
                            load,
                            weight,
                        },
                    );
                }
            }
        }
    }
    (known, previous, adopted)
}

impl Director {
    /// Starts from `start` at `now`: the director and its first effects (watches, VRRP, the
    /// state file, the first batch).
    pub fn new(now: Now, start: Start) -> (Director, Vec<Effect>) {
        let Start {
            config: cfg,
            state: doc,
            history,
            history_seq,
            dump,
        } = start;
        let mirror = Table::from_entries(&dump);
        let conns = super::conns_of(&dump);
        drop(dump);
        let mut health = Health::new(watches::node_configs(&cfg), now.mono, now.unix);
        let (known, previous, adopted) = adopt(&cfg, &mirror, &doc);
        health.restore(now.mono, &known);
        for (name, rec) in &doc.nodes {
            if rec.state == NodeState::Offline {
                health.restore_offline(now.mono, name);
            }
        }
        for (name, rec) in &doc.nodes {
            if health.state(name) == Some(rec.state) {
                health.set_since(name, rec.since_ms);
            }
        }
        let mut admin = doc.admin.clone();
        admin.retain(|n, s| health.has_node(n) && s.is_none_or(|s| cfg.service(s).is_some()));
        let drift_at = now.mono + interval_ms(cfg.director.reconcile_interval);
        let mut d = Director {
            watches: watches::watches(&cfg),
            health,
            admin,
            plan: Default::default(),
            mirror,
            conns,
            conns_at: Some(now.mono),
            removed: Default::default(),
            guard: Default::default(),
            history: history::History::new(
                history,
                history_seq.max(doc.event_seq),
                history::HISTORY_CAP,
            ),
            vrrp_views: Vec::new(),
            vrrp_roles: Default::default(),
            tracked: Default::default(),
            flight: InFlight::default(),
            dumping: None,
            next_batch: 1,
            drift_at,
            persist_pending: true,
            last_persist: None,
            waiting: Vec::new(),
            now,
            out: Vec::new(),
            counters: Default::default(),
            cfg,
        };
        tracing::info!(
            services = d.cfg.services.len(),
            nodes = d.health.names().count(),
            adopted,
            restored = doc.health.values().map(|m| m.len()).sum::<usize>(),
            kernel_services = d.mirror.services.len(),
            kernel_real_servers = d.mirror.dest_count(),
            "starting: adopted the kernel table and the last known state"
        );
        for name in d.health.names().cloned().collect::<Vec<_>>() {
            if let Some(state) = d.health.state(&name) {
                d.emit(Effect::Observe(Observation::NodeState {
                    node: name,
                    state,
                }));
            }
        }
        for (id, (spec, targets)) in d.watches.clone() {
            d.emit(Effect::StartWatch {
                id,
                spec: Box::new(spec),
                targets,
            });
        }
        d.emit(Effect::Vrrp(super::vrrp::setup(&d.cfg)));
        d.plan_from(&previous, true);
        d.persist(true);
        d.pass_with_plan(super::START_CAUSE);
        let out = std::mem::take(&mut d.out);
        (d, out)
    }
}
