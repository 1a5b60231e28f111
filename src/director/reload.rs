//! Transactional reload: the edge loads and validates the directory whole (an invalid one is
//! refused before it gets here, see `requests.rs`); a valid one is applied as a difference.
//! Only the watches that changed are restarted, unchanged pairs keep their machines (health,
//! counters), changed VRRP instances restart, services that left are deleted by the pass that
//! follows, and the metrics forget what left.

use super::health::Pair;
use super::io::{Effect, Observation};
use super::mapping::key_of;
use super::watches::{self, node_configs, watch_changes};
use super::Director;
use crate::config::Config;
use crate::control::proto::EventKind;
use std::collections::BTreeSet;

/// Names of the services whose virtual-service settings or members differ between two
/// configurations (for the reload's log line).
pub fn changed_services(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for s in &new.services {
        let same = old
            .service(&s.name)
            .is_some_and(|o| o == s && old.hostgroup_of(o) == new.hostgroup_of(s));
        if !same {
            out.push(s.name.clone());
        }
    }
    for s in &old.services {
        if new.service(&s.name).is_none() {
            out.push(s.name.clone());
        }
    }
    out
}

impl Director {
    /// Applies a new, valid configuration; `request` gets the answer once its pass is back.
    pub(super) fn reload(&mut self, cfg: Config, request: Option<u64>) {
        let changed = changed_services(&self.cfg, &cfg);
        let old_pairs: Vec<Pair> = self.plan.members.keys().cloned().collect();
        let old_nodes: Vec<String> = self.health.names().cloned().collect();
        let old_services: Vec<String> = self.cfg.services.iter().map(|s| s.name.clone()).collect();
        let new_watches = watches::watches(&cfg);
        let wc = watch_changes(&self.watches, &new_watches);
        let kept = self
            .health
            .reconfigure(node_configs(&cfg), self.now.mono, self.now.unix);
        let keys: BTreeSet<_> = cfg.services.iter().map(key_of).collect();
        self.forget_removed(&keys);
        let vrrp_before = super::vrrp::setup(&self.cfg);
        self.cfg = cfg;
        self.watches = new_watches;
        let health = &self.health;
        let cfg = &self.cfg;
        self.admin
            .retain(|n, s| health.has_node(n) && s.is_none_or(|s| cfg.service(s).is_some()));
        for id in &wc.stop {
            self.emit(Effect::StopWatch { id: id.clone() });
        }
        for id in &wc.start {
            if let Some((spec, targets)) = self.watches.get(id).cloned() {
                self.emit(Effect::StartWatch {
                    id: id.clone(),
                    spec: Box::new(spec),
                    targets,
                });
            }
        }
        let vrrp_after = super::vrrp::setup(&self.cfg);
        if vrrp_after != vrrp_before {
            // Instances whose configuration changed restart; the others keep running.
            self.emit(Effect::Vrrp(vrrp_after));
        }
        let services = match changed.len() {
            0 => "no service changed".to_string(),
            n => format!("{n} service(s) changed ({})", changed.join(", ")),
        };
        let msg = format!(
            "reloaded: {services}, {} watch(es) restarted, {} unchanged, {kept} node(s) kept their state",
            wc.start.len(),
            wc.unchanged,
        );
        tracing::info!("{msg}");
        self.record(EventKind::Reload, msg.clone(), None, None);
        self.persist_pending = true;
        if let Some(id) = request {
            self.reply_after_pass(id, format!("{msg}; "));
        }
        self.pass(super::RELOAD_CAUSE);
        let pairs: Vec<Pair> = old_pairs
            .into_iter()
            .filter(|p| !self.plan.members.contains_key(p))
            .collect();
        let nodes: Vec<String> = old_nodes
            .into_iter()
            .filter(|n| !self.health.has_node(n))
            .collect();
        let services: Vec<String> = old_services
            .into_iter()
            .filter(|s| self.cfg.service(s).is_none())
            .collect();
        if !(pairs.is_empty() && nodes.is_empty() && services.is_empty()) {
            self.emit(Effect::Observe(Observation::Forget {
                pairs,
                nodes,
                services,
            }));
        }
        self.persist(true);
    }
}
