//! Control requests handled inside the event loop: the views (`status`, `nodes`, `services`,
//! `events`) built from the real state and the last kernel dump, and the mutating requests —
//! drain, disable, enable, maintenance (persisted at once), reload, diff, failover (each
//! operator action that changed something is an `admin` event in the history).

use super::admin::{Effective, Mode};
use super::desired::{desired, Check};
use super::event_loop::{unix_ms, Daemon};
use crate::config::Service;
use crate::control::proto::{
    CheckView, ErrorCode, EventKind, NodeServiceView, NodeView, RealServerView, Request, Response,
    ServiceView, StatusView,
};
use crate::ipvs::addr_port;
use crate::reconcile::diff;

fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error {
        code,
        message: message.into(),
    }
}

fn check_word(c: Check) -> &'static str {
    match c {
        Check::Up => "up",
        Check::Down => "down",
        Check::Offline => "offline",
        Check::Unknown => "unknown",
    }
}

impl Daemon {
    /// Answers one control request.
    pub fn request(&mut self, req: Request) -> Response {
        if req.is_mutating() {
            // What the operator does next (drain --wait) must see the connections as they are.
            self.conns_at = None;
        }
        match req {
            Request::Status => {
                self.refresh_conns();
                Response::Status(self.status_view())
            }
            Request::Nodes => Response::Nodes {
                nodes: self.node_views(),
            },
            Request::Services => {
                self.refresh_conns();
                Response::Services {
                    services: self.service_views(),
                }
            }
            Request::Events { since, limit, .. } => Response::Events {
                events: self.history.query(since, limit),
            },
            Request::Drain { node, service } => self.admin_set(node, service, Mode::Drain),
            Request::Disable { node, service } => self.admin_set(node, service, Mode::Disabled),
            Request::Enable { node, service } => self.admin_set(node, service, Mode::Enabled),
            Request::Maintenance { node, on } => {
                if !self.nodes.has_node(&node) {
                    return error(ErrorCode::NotFound, format!("no node `{node}`"));
                }
                let changed = self.admin.set_maintenance(&node, on);
                let what = if on {
                    "maintenance on"
                } else {
                    "maintenance off"
                };
                self.admin_done(&node, None, what, changed)
            }
            Request::Reload => match self.reload() {
                Ok(msg) => Response::Done { message: msg },
                Err(e) => error(ErrorCode::ConfigInvalid, e.to_string()),
            },
            Request::Diff => self.diff_view(),
            Request::Failover { instance, clear } => {
                let r = self.vrrp.failover(instance.as_deref(), clear);
                if let Response::Done { message } = &r {
                    let what = if clear {
                        "failover --clear"
                    } else {
                        "failover"
                    };
                    self.history.record(
                        unix_ms(),
                        EventKind::Admin,
                        format!("operator: {what}: {message}"),
                        None,
                        None,
                    );
                }
                r
            }
        }
    }

    fn admin_set(&mut self, node: String, service: Option<String>, mode: Mode) -> Response {
        if !self.nodes.has_node(&node) {
            return error(ErrorCode::NotFound, format!("no node `{node}`"));
        }
        if let Some(s) = &service {
            if !self.nodes.serves(&node, s) {
                return error(
                    ErrorCode::NotFound,
                    format!("node `{node}` does not serve `{s}`"),
                );
            }
        }
        let changed = self.admin.set(&node, service.as_deref(), mode);
        let what = match mode {
            Mode::Drain => "drain",
            Mode::Disabled => "disable",
            Mode::Enabled => "enable",
        };
        self.admin_done(&node, service, what, changed)
    }

    fn admin_done(
        &mut self,
        node: &str,
        service: Option<String>,
        what: &str,
        changed: bool,
    ) -> Response {
        let scope = match &service {
            Some(s) => format!("{node} in {s}"),
            None => node.to_string(),
        };
        if !changed {
            return Response::Done {
                message: format!("{what} {scope}: already so"),
            };
        }
        let reason = format!("operator: {what} {scope}");
        tracing::info!(node, service = service.as_deref().unwrap_or(""), "{reason}");
        self.history.record(
            unix_ms(),
            EventKind::Admin,
            reason.clone(),
            Some(node.to_string()),
            service.clone(),
        );
        self.persist_admin_change();
        let r = self.reconcile(&reason);
        Response::Done {
            message: format!("{what} {scope}: {} operation(s) sent", r.ops),
        }
    }

    fn persist_admin_change(&mut self) {
        self.persist(true);
    }

    fn diff_view(&mut self) -> Response {
        let cfg = match super::reload::load(&self.dir) {
            Ok((cfg, _)) => cfg,
            Err(e) => return error(ErrorCode::ConfigInvalid, e.to_string()),
        };
        let plan = desired(
            &cfg,
            &self.nodes.health(),
            &self.admin,
            &self.plan.in_table(),
        );
        let mut owned = self.owned();
        owned.extend(plan.services.values().filter_map(|s| s.key));
        let ops = diff(&plan.table, &self.actual, &owned);
        Response::Diff {
            ops: ops.iter().map(|o| o.to_string()).collect(),
        }
    }

    fn status_view(&self) -> StatusView {
        StatusView {
            director: self.cfg.director.name.clone(),
            at_ms: unix_ms(),
            vrrp: self.vrrp.views(),
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
        let kernel = key.and_then(|k| self.actual.services.get(&k));
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
                    .nodes
                    .state(&node.name)
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
                health: check_word(m.check).into(),
                admin: m.admin.as_str().into(),
                last_check: self.nodes.last.get(&pair).map(|l| CheckView {
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
        for name in self.nodes.names() {
            let Some(state) = self.nodes.state(name) else {
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
                    health: check_word(mem.check).into(),
                    in_table: mem.weight.is_some(),
                    admin: mem.admin.as_str().into(),
                })
                .collect();
            out.push(NodeView {
                name: name.clone(),
                address,
                hostgroups: groups,
                state: state.to_string(),
                since_ms: self.nodes.since_unix.get(name).copied().unwrap_or(0),
                admin: self.admin.node_word(name).into(),
                services,
            });
        }
        out
    }
}

impl Effective {
    /// Whether the real server is kept out by the operator.
    pub fn is_out(self) -> bool {
        matches!(self, Effective::Disabled | Effective::Maintenance)
    }
}
