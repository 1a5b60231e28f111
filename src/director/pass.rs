//! A reconcile pass: the plan recomputed from health, overrides and the previous plan; the
//! difference with the mirror of the kernel's table as one batch, each operation with the
//! plan's reason; and, when the batch comes back, the mirror patched with what the kernel
//! accepted and one history record per table change. Also the mass-removal guard's alerts and
//! the observations the metrics follow.

use super::health::Pair;
use super::io::{AlertRun, Batch, Change, Effect, Observation, Refused};
use super::plan::{self, Check, Member, Owner};
use super::{Director, HISTORY_OPS_DETAIL};
use crate::control::proto::{EventKind, Response};
use crate::ipvs::Op;
use crate::monitor::alert::AlertCall;
use crate::monitor::WatchId;
use crate::node::{AlertKind, NodeState};
use crate::reconcile::{diff, patch};
use std::collections::{BTreeMap, BTreeSet};

/// offline 0, up 1, down 2, unknown 3 (the node state's numbering: offline 0, online 1, failed 2).
fn health_number(c: Check) -> i64 {
    match c {
        Check::Offline => 0,
        Check::Up => 1,
        Check::Down => 2,
        Check::Unknown => 3,
    }
}

/// The observation of one member.
fn observe(pair: &Pair, m: &Member) -> Observation {
    Observation::RealServer {
        service: pair.0.clone(),
        node: pair.1.clone(),
        health: health_number(m.check),
        weight: i64::from(m.weight.unwrap_or(0)),
        admin: m.admin.number(),
        in_table: m.weight.is_some(),
    }
}

impl Director {
    /// Recomputes the plan from `previous` (the weights of the pairs in the table) and
    /// observes the members that changed (all of them with `all`).
    pub(super) fn plan_from(&mut self, previous: &BTreeMap<Pair, i32>, all: bool) {
        let new = plan::desired_after(&self.cfg, &self.health, &self.admin, previous, &self.plan);
        let old = std::mem::replace(&mut self.plan, new);
        for e in &self.plan.errors {
            tracing::error!(error = %e, "real server left out of the desired table");
        }
        let changed: Vec<Observation> =
            self.plan
                .members
                .iter()
                .filter(|(pair, m)| {
                    all || old.members.get(*pair).is_none_or(|o| {
                        (o.check, o.weight, o.admin) != (m.check, m.weight, m.admin)
                    })
                })
                .map(|(pair, m)| observe(pair, m))
                .collect();
        for o in changed {
            self.emit(Effect::Observe(o));
        }
        self.quorum_changes(&old);
        self.observe_quorum(&old, all);
        self.check_guard(all);
        self.track_services();
    }

    /// A pass: the plan recomputed, then the difference sent (after the batch in flight, if
    /// one is out).
    pub(super) fn pass(&mut self, cause: &str) {
        let previous = self.plan.in_table();
        self.plan_from(&previous, false);
        self.pass_with_plan(cause);
    }

    /// Sends what the mirror lacks of the current plan as one batch.
    pub(super) fn pass_with_plan(&mut self, cause: &str) {
        self.counters.passes += 1;
        if self.flight.batch.is_some() {
            self.flight.again.get_or_insert_with(|| cause.to_string());
            return;
        }
        let ops = diff(&self.plan.table, &self.mirror, &self.owned());
        if ops.is_empty() {
            self.removed.clear();
            self.emit(Effect::Observe(Observation::Pass {
                cause: cause.to_string(),
                ops: 0,
                batch: None,
            }));
            for (id, msg) in std::mem::take(&mut self.flight.later) {
                self.reply_done(id, format!("{msg}0 operation(s) sent"));
            }
            return;
        }
        // The state goes to disk before the table changes.
        if self.persist_pending {
            self.persist(true);
        }
        let owners = self.plan.owners(&self.cfg);
        let changes: Vec<Change> = ops
            .into_iter()
            .map(|op| {
                let (service, node, why) = self.why(&owners, &op);
                Change {
                    op,
                    service,
                    node,
                    why,
                }
            })
            .collect();
        let id = self.next_batch;
        self.next_batch += 1;
        self.counters.batches += 1;
        self.emit(Effect::Observe(Observation::Pass {
            cause: cause.to_string(),
            ops: changes.len(),
            batch: Some(id),
        }));
        let batch = Batch {
            id,
            cause: cause.to_string(),
            changes,
        };
        self.flight.replies = std::mem::take(&mut self.flight.later);
        self.flight.batch = Some(batch.clone());
        self.emit(Effect::Apply(batch));
    }

    /// After the pass that follows, reply `Done` to request `id` with `prefix` and the number of
    /// operations it sent (`drain rs1: ` → `drain rs1: 1 operation(s) sent`).
    pub(super) fn reply_after_pass(&mut self, id: u64, prefix: String) {
        self.flight.later.push((id, prefix));
    }

    pub(super) fn reply_done(&mut self, id: u64, message: String) {
        self.emit(Effect::Reply {
            id,
            response: Response::Done { message },
        });
    }

    /// The batch in flight came back.
    pub(super) fn on_applied(
        &mut self,
        id: u64,
        refused: Vec<Refused>,
        unsent: Option<usize>,
        error: Option<String>,
    ) {
        let Some(batch) = self.flight.batch.take_if(|b| b.id == id) else {
            tracing::warn!(
                batch = id,
                "result of a batch that is not in flight ignored"
            );
            return;
        };
        let n = batch.changes.len();
        let sent = unsent.unwrap_or(n).min(n);
        if let Some(e) = &error {
            // The socket failed (or the daemon is stopping): the rest waits for the next pass.
            tracing::error!(error = %e, ops = n - sent, "cannot apply operations");
        }
        let refused: BTreeMap<usize, String> =
            refused.into_iter().map(|r| (r.index, r.error)).collect();
        let detail = n <= HISTORY_OPS_DETAIL;
        for (i, c) in batch.changes.iter().take(sent).enumerate() {
            if let Some(e) = refused.get(&i) {
                tracing::error!(op = %c.op, error = %e, "kernel refused an operation");
                continue;
            }
            patch(&mut self.mirror, &c.op);
            tracing::info!(op = %c.op, service = c.service, node = c.node, why = c.why,
                cause = batch.cause, "table change");
            if detail {
                self.record(
                    EventKind::TableOp,
                    format!("{} ({}; {})", c.op, c.why, batch.cause),
                    (!c.node.is_empty()).then(|| c.node.clone()),
                    (!c.service.is_empty()).then(|| c.service.clone()),
                );
            }
        }
        if !detail {
            let failed = refused.len() + (n - sent);
            self.record(
                EventKind::TableOp,
                format!(
                    "{} operations ({}), {failed} refused",
                    n - failed,
                    batch.cause
                ),
                None,
                None,
            );
        }
        self.removed.clear();
        for (rid, msg) in std::mem::take(&mut self.flight.replies) {
            self.reply_done(rid, format!("{msg}{n} operation(s) sent"));
        }
        if let Some(cause) = self.flight.again.take() {
            self.pass_with_plan(&cause);
        }
    }

    /// (service, node, why) of one operation.
    fn why(
        &self,
        owners: &BTreeMap<(crate::ipvs::ServiceKey, std::net::IpAddr, u16), Owner>,
        op: &Op,
    ) -> (String, String, String) {
        let key = *op.service_key();
        let svc_name = self.plan.service_name(&key).unwrap_or_default().to_string();
        let Some((addr, port)) = op.dest_addr() else {
            let why = match op {
                Op::DelService(_) => "service not in the configuration",
                Op::EditService(_) => "service settings differ from the configuration",
                _ => "service in the configuration",
            };
            return (svc_name, String::new(), why.into());
        };
        match owners.get(&(key, addr, port)) {
            Some(Owner::Sorry { service }) => {
                let active = self
                    .plan
                    .services
                    .get(service)
                    .is_some_and(|s| s.sorry_active);
                let why = if active {
                    "below quorum: sorry server takes the traffic"
                } else {
                    "quorum met: sorry server not needed"
                };
                (service.clone(), "sorry-server".into(), why.into())
            }
            Some(Owner::Member { service, node }) => {
                let why = self
                    .plan
                    .members
                    .get(&(service.clone(), node.clone()))
                    .map(|m| m.why.clone())
                    .unwrap_or_default();
                (service.clone(), node.clone(), why)
            }
            None => (svc_name, String::new(), "not in the configuration".into()),
        }
    }

    /// Logs, records, alerts (the service watch's `alert` scripts, with the held nodes as
    /// `-h`) and observes when a service's guard starts holding failing real servers in the
    /// table; logs when it lets go. With `all`, every service's count is observed.
    fn check_guard(&mut self, all: bool) {
        let mut tripped = BTreeMap::new();
        let mut new_trips = Vec::new();
        for (name, sp) in &self.plan.services {
            if !sp.guard_held.is_empty() {
                tripped.insert(name.clone(), sp.guard_held.len());
                if !self.guard.contains_key(name) {
                    new_trips.push((name.clone(), sp.guard_held.clone()));
                }
            }
        }
        let mut observed: Vec<(String, usize)> = Vec::new();
        for name in self.plan.services.keys() {
            let now = tripped.get(name).copied().unwrap_or(0);
            let before = self.guard.get(name).copied().unwrap_or(0);
            if all || now != before {
                observed.push((name.clone(), now));
            }
        }
        for (service, held) in observed {
            self.emit(Effect::Observe(Observation::Guard { service, held }));
        }
        for (name, held) in new_trips {
            let msg = format!(
                "mass-removal guard: {name} keeps {} failing real server(s) in the table ({}): too many checks fail at once",
                held.len(),
                held.join(", ")
            );
            tracing::warn!(service = name, held = held.join(","), "{msg}");
            self.record(EventKind::Alert, msg.clone(), None, Some(name.clone()));
            self.guard_alert(&name, &held, msg);
        }
        for name in self.guard.keys() {
            if !tripped.contains_key(name) {
                tracing::info!(service = %name, "mass-removal guard released");
            }
        }
        self.guard = tripped;
    }

    /// Runs the `alert` list of `service`'s watch for the real servers its guard holds.
    fn guard_alert(&mut self, service: &str, held: &[String], summary: String) {
        let Some((spec, targets)) = self.watches.get(&WatchId::Service(service.to_string())) else {
            return;
        };
        if spec.alert.is_empty() {
            return;
        }
        let addresses: Vec<String> = held
            .iter()
            .filter_map(|n| targets.iter().find(|t| &t.node == n))
            .map(|t| t.addr.to_string())
            .collect();
        let run = AlertRun {
            alerts: spec.alert.clone(),
            call: AlertCall {
                node: held.join(" "),
                address: addresses.join(" "),
                group: spec.group.clone(),
                watch: service.to_string(),
                kind: AlertKind::Alert,
                old: NodeState::Online,
                new: NodeState::Failed,
                summary,
            },
            timeout: spec.alert_timeout,
        };
        self.emit(Effect::Alert(run));
    }

    /// Services whose removal a reload asked for, as owned keys.
    pub(super) fn forget_removed(&mut self, keep: &BTreeSet<crate::ipvs::ServiceKey>) {
        for k in self.owned() {
            if !keep.contains(&k) {
                self.removed.insert(k);
            }
        }
    }
}
