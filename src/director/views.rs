//! What `lbctl status`, `nodes` and `services` (and the status page) show, built from the plan,
//! the health, the mirror of the kernel's table and the last connection counters: the
//! `ipvsadm -Ln` view with the reasons.

use super::Director;
use crate::config::Service;
use crate::control::proto::{
    CheckView, NodeServiceView, NodeView, RealServerView, Request, Response, ServiceView,
    StatusView,
};
use crate::ipvs::addr_port;

impl Director {
    /// The answer to a view request.
    pub(super) fn view(&self, req: &Request) -> Response {
        match req {
            Request::Nodes => Response::Nodes {
                nodes: self.node_views(),
            },
            Request::Services => Response::Services {
                services: self.service_views(),
            },
            _ => Response::Status(self.status_view()),
        }
    }

    /// `lbctl status`.
    pub fn status_view(&self) -> StatusView {
        StatusView {
            director: self.cfg.director.name.clone(),
            at_ms: self.now.unix,
            vrrp: self.vrrp_views.clone(),
            services: self.service_views(),
        }
    }

    fn service_view(&self, svc: &Service) -> ServiceView {
        let sp = self
            .plan
            .services
            .get(&svc.name)
            .cloned()
            .unwrap_or_default();
        let key = sp.key;
        let kernel = key.and_then(|k| self.mirror.services.get(&k));
        let mut real_servers = Vec::new();
        for node in self
            .cfg
            .hostgroup_of(svc)
            .map(|h| h.nodes.as_slice())
            .unwrap_or_default()
        {
            let pair = (svc.name.clone(), node.name.clone());
            let Some(m) = self.plan.members.get(&pair) else {
                continue;
            };
            let kernel_dest = kernel.and_then(|k| k.dests.get(&(m.addr, m.port)));
            let conns = key
                .and_then(|k| self.conns.get(&(k, m.addr, m.port)))
                .copied()
                .unwrap_or((0, 0));
            real_servers.push(RealServerView {
                node: node.name.clone(),
                address: addr_port(&m.addr, m.port),
                node_state: self
                    .health
                    .state(&node.name)
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
                health: m.check.as_str().into(),
                admin: m.admin.as_str().into(),
                last_check: self.health.last(&svc.name, &node.name).map(|l| CheckView {
                    ok: l.ok,
                    summary: l.summary.clone(),
                    latency_ms: l.latency_ms,
                    at_ms: l.at_ms,
                }),
                weight: m.weight,
                kernel_weight: kernel_dest.map(|d| d.weight),
                active_conns: conns.0,
                inactive_conns: conns.1,
                why: m.why.clone(),
            });
        }
        ServiceView {
            name: svc.name.clone(),
            virtual_service: svc.virtual_service.to_string(),
            scheduler: svc.scheduler.name().into(),
            persistent: svc
                .persistent
                .map(|p| u32::try_from(p.timeout.as_secs()).unwrap_or(u32::MAX)),
            forwarding: match svc.forwarding {
                crate::config::Forwarding::Nat => "nat".into(),
                crate::config::Forwarding::Dr => "dr".into(),
                crate::config::Forwarding::Tunnel(_) => "tunnel".into(),
            },
            hostgroup: svc.hostgroup.clone(),
            quorum: svc.quorum,
            quorum_words: quorum_words(svc, &sp),
            healthy: sp.healthy,
            sorry_active: sp.sorry_active,
            in_kernel: kernel.is_some(),
            real_servers,
        }
    }

    fn service_views(&self) -> Vec<ServiceView> {
        self.cfg
            .services
            .iter()
            .map(|s| self.service_view(s))
            .collect()
    }

    fn node_views(&self) -> Vec<NodeView> {
        let mut out = Vec::new();
        for name in self.health.names() {
            let Some(state) = self.health.state(name) else {
                continue;
            };
            let mut groups = Vec::new();
            let mut address = String::new();
            for (g, h) in &self.cfg.hostgroups {
                if let Some(n) = h.nodes.iter().find(|n| &n.name == name) {
                    groups.push(g.clone());
                    if address.is_empty() {
                        address = n.address.to_string();
                    }
                }
            }
            let services = self
                .plan
                .members
                .iter()
                .filter(|((_, n), _)| n == name)
                .map(|((s, _), mem)| NodeServiceView {
                    service: s.clone(),
                    health: mem.check.as_str().into(),
                    in_table: mem.weight.is_some(),
                    admin: mem.admin.as_str().into(),
                })
                .collect();
            out.push(NodeView {
                name: name.clone(),
                address,
                hostgroups: groups,
                state: state.to_string(),
                since_ms: self.health.since(name),
                admin: self.admin.node_word(name).into(),
                services,
            });
        }
        out
    }
}

/// `quorum 2`, or `quorum weight 10 (hysteresis 2), 12 passing` for keepalived's kind.
fn quorum_words(svc: &crate::config::Service, sp: &super::plan::ServicePlan) -> String {
    let h = match svc.hysteresis {
        0 => String::new(),
        h => format!(" (hysteresis {h})"),
    };
    match svc.quorum_by {
        crate::config::QuorumBy::Count => format!("quorum {}{h}", svc.quorum),
        crate::config::QuorumBy::Weight => format!(
            "quorum weight {}{h}, {} passing",
            svc.quorum, sp.quorum_measure
        ),
    }
}
