//! Check and ping reports into the health of their pairs, and what the node machines ask for
//! in return: node transitions (history, observation), alerts (unless the node is in
//! maintenance), check cadences. A batch of reports that changed any pair's health ends in one
//! pass.

use super::health::{LastCheck, Pair};
use super::io::{AlertRun, Effect, Observation};
use super::Director;
use crate::control::proto::EventKind;
use crate::monitor::alert::{AlertCall, AlertRecord};
use crate::monitor::AlertSpec;
use crate::monitor::{CheckReport, WatchId};
use crate::node::{Action, AlertKind, NodeState, PING_WATCH};

impl Director {
    pub(super) fn on_checks(&mut self, reports: Vec<CheckReport>) {
        let mut dirty = false;
        for r in reports {
            dirty |= match r.watch {
                WatchId::Ping(_) => self.on_ping(r),
                WatchId::Service(_) => self.on_check(r),
            };
        }
        if dirty {
            self.persist_pending = true;
            self.pass(super::HEALTH_CAUSE);
        }
    }

    fn last_check(&self, r: &CheckReport, summary: String) -> LastCheck {
        LastCheck {
            ok: r.outcome.is_ok(),
            summary,
            latency_ms: r.duration_ms,
            at_ms: self.now.unix,
        }
    }

    /// One ping result for every pair of its node. Returns whether health changed.
    fn on_ping(&mut self, r: CheckReport) -> bool {
        let alive = r.outcome.is_ok();
        let summary = match &r.outcome {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        let last = self.last_check(&r, summary.clone());
        let rep = self.health.ping(self.now.mono, &r.node, alive, last);
        let failing: Vec<String> = self
            .health
            .failing(&r.node)
            .into_iter()
            .map(|(svc, why)| format!("{svc} check fails on {}: {why}", r.node))
            .collect();
        let reason = match (alive, rep.node) {
            // The ping that tells a failed service from a dead node: name the failure.
            (true, Some((_, crate::node::NodeState::Failed))) if !failing.is_empty() => {
                format!("{}; ping answers", failing.join("; "))
            }
            (true, _) => format!("ping answers on {}", r.node),
            (false, _) => format!("ping silent on {}: {summary}", r.node),
        };
        if let Some((old, new)) = rep.node {
            self.node_transition(&r.node, old, new, &reason);
        }
        self.act(rep.actions);
        rep.changed || rep.node.is_some()
    }

    /// One service check result. Most change nothing (the pair keeps passing): those cost a
    /// few lookups. Returns whether health changed.
    fn on_check(&mut self, r: CheckReport) -> bool {
        let WatchId::Service(service) = &r.watch else {
            return false;
        };
        let (pass, feedback, summary) = match &r.outcome {
            Ok(p) => (
                true,
                (p.load, p.weight),
                p.warning.clone().unwrap_or_default(),
            ),
            Err(e) => (false, (None, None), e.to_string()),
        };
        let last = self.last_check(&r, summary.clone());
        let pair: Pair = (service.clone(), r.node.clone());
        let rep = self
            .health
            .check(self.now.mono, &pair, pass, feedback, last);
        if let Some((old, new)) = rep.node {
            let reason = if pass {
                format!("{service} check passes on {}", r.node)
            } else {
                format!("{service} check fails on {}: {summary}", r.node)
            };
            self.node_transition(&r.node, old, new, &reason);
        }
        self.act(rep.actions);
        rep.changed || rep.node.is_some()
    }

    /// Carries out what the node machines asked for.
    pub(super) fn act(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                // The node's own transition is the aggregate of its pairs', recorded by the
                // caller.
                Action::StateChanged { .. } => self.persist_pending = true,
                Action::RunAlert {
                    node,
                    watch,
                    old,
                    new,
                    summary,
                    repeat,
                } => {
                    let kind = AlertKind::Alert;
                    self.alert(node, watch, kind, old, new, summary, repeat)
                }
                Action::RunUpalert {
                    node,
                    watch,
                    old,
                    new,
                } => self.alert(
                    node,
                    watch,
                    AlertKind::Upalert,
                    old,
                    new,
                    String::new(),
                    false,
                ),
                Action::ScheduleCheck {
                    node,
                    check,
                    cadence,
                } => {
                    if let Some(watch) = self.watch_for(&node, &check) {
                        self.emit(Effect::Cadence {
                            watch,
                            node,
                            cadence,
                        });
                    }
                }
            }
        }
    }

    pub(super) fn node_transition(
        &mut self,
        node: &str,
        old: NodeState,
        new: NodeState,
        why: &str,
    ) {
        tracing::info!(node, %old, %new, cause = why, "node transition");
        self.health.set_since(node, self.now.unix);
        self.persist_pending = true;
        self.emit(Effect::Observe(Observation::NodeTransition {
            node: node.to_string(),
            from: old,
            to: new,
        }));
        self.emit(Effect::Observe(Observation::NodeState {
            node: node.to_string(),
            state: new,
        }));
        self.record(
            EventKind::NodeTransition,
            format!("{node}: {old} → {new} ({why})"),
            Some(node.to_string()),
            None,
        );
    }

    /// Records and queues the alert (or upalert) scripts of `watch` for `node`; a ping alert
    /// runs the scripts of the ping watch that pings the node. Silent in maintenance. A
    /// `repeat`ed alert (Mon's, while the check stays down) is not mailed.
    #[allow(clippy::too_many_arguments)]
    fn alert(
        &mut self,
        node: String,
        watch: String,
        kind: AlertKind,
        old: NodeState,
        new: NodeState,
        summary: String,
        repeat: bool,
    ) {
        if self.admin.in_maintenance(&node) {
            return;
        }
        let word = kind.key();
        self.record(
            EventKind::Alert,
            format!("{word} {watch} on {node}: {old} → {new} {summary}")
                .trim_end()
                .to_string(),
            Some(node.clone()),
            Some(watch.clone()),
        );
        let id = if watch == PING_WATCH {
            super::watches::ping_watch_of(&self.watches, &node)
        } else {
            Some(WatchId::Service(watch.clone()))
        };
        let Some((spec, targets)) = id.and_then(|id| self.watches.get(&id)) else {
            return;
        };
        let mut alerts = match kind {
            AlertKind::Alert => spec.alert.clone(),
            AlertKind::Upalert => spec.upalert.clone(),
            AlertKind::QuorumDown | AlertKind::QuorumUp => return,
        };
        if repeat {
            alerts.retain(|a| !matches!(a, AlertSpec::Mail { .. }));
        }
        if alerts.is_empty() {
            return;
        }
        let address = targets
            .iter()
            .find(|t| t.node == node)
            .map(|t| t.addr.to_string())
            .unwrap_or_default();
        let run = AlertRun {
            alerts,
            call: AlertCall {
                node,
                address,
                group: spec.group.clone(),
                watch,
                kind,
                old,
                new,
                summary,
            },
            timeout: spec.alert_timeout,
        };
        self.emit(Effect::Alert(run));
    }

    /// An alert script ran: one history record with how it ended.
    pub(super) fn on_alert_done(&mut self, r: AlertRecord) {
        let status = match (r.exit_code, r.signal, r.timed_out, &r.error) {
            (_, _, _, Some(e)) if r.alert == "mail" => format!("not sent: {e}"),
            _ if r.alert == "mail" => "sent".to_string(),
            (_, _, _, Some(e)) => format!("could not run: {e}"),
            (_, _, true, _) => "timed out".to_string(),
            (Some(c), _, _, _) => format!("exit {c}"),
            (_, Some(s), _, _) => format!("signal {s}"),
            _ => "done".to_string(),
        };
        self.record(
            EventKind::Alert,
            format!("{} for {} on {}: {status}", r.alert, r.watch, r.node),
            Some(r.node),
            Some(r.watch),
        );
    }
}
