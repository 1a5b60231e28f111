//! A service's quorum changing between two plans: logged, one history record, and the
//! service's `quorum_down` / `quorum_up` scripts queued (keepalived's notify_quorum_*). Only a
//! change from a settled state counts: the previous plan had the service and a decided check
//! for each of its real servers. So nothing runs at start (while the first checks come in, or
//! when a reload adds the service): `lbctl status` shows the quorum then. Every change of a
//! service's quorum or sorry server use is also observed, for the metrics.

use super::io::{AlertRun, Effect, Observation};
use super::plan::{Check, Plan};
use super::Director;
use crate::config::QuorumBy;
use crate::control::proto::EventKind;
use crate::monitor::alert::AlertCall;
use crate::monitor::WatchId;
use crate::node::{AlertKind, NodeState};

impl Director {
    /// Handles every service whose quorum differs between `old` and the current plan.
    pub(super) fn quorum_changes(&mut self, old: &Plan) {
        let changed: Vec<(String, bool, u64)> = self
            .plan
            .services
            .iter()
            .filter_map(|(name, sp)| {
                let was = old.services.get(name)?.quorum_met;
                let settled = || {
                    (old.members.iter())
                        .filter(|((s, _), _)| s == name)
                        .all(|(_, m)| m.check != Check::Unknown)
                };
                (was != sp.quorum_met && settled())
                    .then(|| (name.clone(), sp.quorum_met, sp.quorum_measure))
            })
            .collect();
        for (service, met, measure) in changed {
            self.quorum_changed(&service, met, measure);
        }
    }

    /// Observes each service whose quorum or sorry server use changed (every one with `all`).
    pub(super) fn observe_quorum(&mut self, old: &Plan, all: bool) {
        let changed: Vec<Observation> = (self.plan.services.iter())
            .filter(|(name, sp)| {
                all || old.services.get(*name).is_none_or(|o| {
                    (o.quorum_met, o.sorry_active) != (sp.quorum_met, sp.sorry_active)
                })
            })
            .map(|(name, sp)| Observation::Quorum {
                service: name.clone(),
                met: sp.quorum_met,
                sorry: sp.sorry_active,
            })
            .collect();
        for o in changed {
            self.emit(Effect::Observe(o));
        }
    }

    fn quorum_changed(&mut self, service: &str, met: bool, measure: u64) {
        let Some(svc) = self.cfg.services.iter().find(|s| s.name == service) else {
            return;
        };
        let what = match svc.quorum_by {
            QuorumBy::Count => "passing real server(s)",
            QuorumBy::Weight => "total weight passing",
        };
        let mut summary = format!(
            "quorum {}: {measure} {what}, quorum {}",
            if met { "back" } else { "lost" },
            svc.quorum
        );
        if svc.hysteresis > 0 {
            summary.push_str(&format!(" (hysteresis {})", svc.hysteresis));
        }
        if met {
            tracing::info!(service, measure, "{summary}");
        } else {
            tracing::warn!(service, measure, "{summary}");
        }
        let (kind, scripts) = if met {
            (AlertKind::QuorumUp, &svc.quorum_up)
        } else {
            (AlertKind::QuorumDown, &svc.quorum_down)
        };
        let mut alerts = super::watches::alerts(&self.cfg, scripts);
        alerts.extend(super::watches::mail_alert(
            &self.cfg,
            super::watches::MailFor::Quorum(svc),
        ));
        let (group, timeout) = self
            .watches
            .get(&WatchId::Service(service.to_string()))
            .map(|(spec, _)| (spec.group.clone(), spec.alert_timeout))
            .unwrap_or((svc.hostgroup.clone(), svc.watch.alert_timeout));
        self.record(
            EventKind::Alert,
            format!("{service}: {summary}"),
            None,
            Some(service.to_string()),
        );
        if alerts.is_empty() {
            return;
        }
        let passing: Vec<(&str, String)> = self
            .plan
            .members
            .iter()
            .filter(|((s, _), m)| s == service && m.check == Check::Up)
            .map(|((_, node), m)| (node.as_str(), m.addr.to_string()))
            .collect();
        let call = AlertCall {
            node: passing.iter().map(|p| p.0).collect::<Vec<_>>().join(" "),
            address: passing
                .iter()
                .map(|p| p.1.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            group,
            watch: service.to_string(),
            kind,
            old: NodeState::Online,
            new: NodeState::Online,
            summary,
        };
        self.emit(Effect::Alert(AlertRun {
            alerts,
            call,
            timeout,
        }));
    }
}
