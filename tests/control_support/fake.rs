//! A small stand-in for the daemon's request handling, until the daemon lands: it answers
//! control requests from realistic views of the lab cluster (dir1, VRRP vi_51, services http
//! and myapp on 192.0.2.10, nodes rs1..rs5) and applies drain/disable/enable/maintenance/
//! failover to them, publishing an event for each change. A drained node loses one active
//! connection per status request (connections closing one by one), except rs3, whose
//! long-lived connection never closes.

use lbd::control::proto::*;
use tokio::sync::broadcast;

pub struct Fake {
    pub status: StatusView,
    pub history: Vec<EventRecord>,
    pub next_seq: u64,
    /// Whether a reload finds the configuration invalid.
    pub reload_invalid: bool,
}

/// The last check: (passed, summary, latency in ms).
type Check<'a> = (bool, &'a str, u64);

fn rs(
    (node, addr): (&str, &str),
    (state, health): (&str, &str),
    (ok, summary, latency_ms): Check,
    (active, inactive): (u32, u32),
) -> RealServerView {
    let in_table = state == "online" && health == "up";
    RealServerView {
        node: node.into(),
        address: addr.into(),
        node_state: state.into(),
        health: health.into(),
        admin: "enabled".into(),
        last_check: Some(CheckView {
            ok,
            summary: summary.into(),
            latency_ms,
            at_ms: 1_795_000_000_000 - 2_000,
        }),
        weight: in_table.then_some(1),
        kernel_weight: in_table.then_some(1),
        active_conns: active,
        inactive_conns: inactive,
        why: if in_table {
            "in table: node online, check passing".into()
        } else if state == "offline" {
            "out: node offline (no ping reply)".into()
        } else {
            format!("out: check failing ({summary})")
        },
    }
}

impl Fake {
    /// The lab cluster: rs2 failed (HTTP 500), rs5 offline.
    pub fn lab() -> Fake {
        let http = ServiceView {
            name: "http".into(),
            virtual_service: "tcp 192.0.2.10:80".into(),
            scheduler: "wlc".into(),
            persistent: None,
            forwarding: "nat".into(),
            hostgroup: "http_nodes".into(),
            quorum: 1,
            healthy: 2,
            sorry_active: false,
            in_kernel: true,
            real_servers: vec![
                rs(
                    ("rs1", "198.51.100.11:80"),
                    ("online", "up"),
                    (true, "HTTP 200", 2),
                    (3, 10),
                ),
                rs(
                    ("rs2", "198.51.100.12:80"),
                    ("failed", "down"),
                    (false, "HTTP 500", 5),
                    (0, 0),
                ),
                rs(
                    ("rs3", "198.51.100.13:80"),
                    ("online", "up"),
                    (true, "HTTP 200", 3),
                    (1, 4),
                ),
            ],
        };
        let myapp = ServiceView {
            name: "myapp".into(),
            virtual_service: "tcp 192.0.2.10:5000".into(),
            scheduler: "rr".into(),
            persistent: Some(300),
            forwarding: "nat".into(),
            hostgroup: "myapp_nodes".into(),
            quorum: 1,
            healthy: 1,
            sorry_active: false,
            in_kernel: true,
            real_servers: vec![
                rs(
                    ("rs4", "198.51.100.14:5000"),
                    ("online", "up"),
                    (true, "connected", 1),
                    (2, 0),
                ),
                rs(
                    ("rs5", "198.51.100.15:5000"),
                    ("offline", "unknown"),
                    (false, "no ping reply", 1000),
                    (0, 0),
                ),
            ],
        };
        let mut f = Fake {
            status: StatusView {
                director: "dir1".into(),
                at_ms: 1_795_000_000_000,
                vrrp: vec![VrrpView {
                    instance: "vi_51".into(),
                    interface: "eth0".into(),
                    vrid: 51,
                    state: "master".into(),
                    priority: 150,
                    effective_priority: 150,
                    drops: Default::default(),
                    vips: vec![
                        "192.0.2.10/24".into(),
                        "2001:db8::10/64".into(),
                        "198.51.100.1/24".into(),
                    ],
                }],
                services: vec![http, myapp],
            },
            history: Vec::new(),
            next_seq: 1,
            reload_invalid: false,
        };
        f.record(
            EventKind::NodeTransition,
            "online -> failed: http check failed (HTTP 500)",
            Some("rs2"),
            Some("http"),
        );
        f.record(
            EventKind::NodeTransition,
            "online -> offline: no ping reply",
            Some("rs5"),
            None,
        );
        f
    }

    pub fn record(
        &mut self,
        kind: EventKind,
        message: &str,
        node: Option<&str>,
        service: Option<&str>,
    ) -> EventRecord {
        let e = EventRecord {
            seq: self.next_seq,
            at_ms: 1_795_000_000_000 + self.next_seq * 1000,
            kind,
            message: message.into(),
            node: node.map(String::from),
            service: service.map(String::from),
        };
        self.next_seq += 1;
        self.history.push(e.clone());
        e
    }

    fn nodes(&self) -> Vec<NodeView> {
        let mut out: Vec<NodeView> = Vec::new();
        for s in &self.status.services {
            for rs in &s.real_servers {
                let svc = NodeServiceView {
                    service: s.name.clone(),
                    health: rs.health.clone(),
                    in_table: rs.kernel_weight.is_some(),
                    admin: rs.admin.clone(),
                };
                match out.iter_mut().find(|n| n.name == rs.node) {
                    Some(n) => n.services.push(svc),
                    None => out.push(NodeView {
                        name: rs.node.clone(),
                        address: rs.address.split(':').next().unwrap_or("").into(),
                        hostgroups: vec![s.hostgroup.clone()],
                        state: rs.node_state.clone(),
                        since_ms: 1_795_000_000_000 - 60_000,
                        admin: rs.admin.clone(),
                        services: vec![svc],
                    }),
                }
            }
        }
        out
    }

    /// Applies `f` to the node's real servers (in `service` or all); NotFound when none.
    fn admin(
        &mut self,
        node: &str,
        service: Option<&str>,
        f: impl Fn(&mut RealServerView),
    ) -> Result<usize, Response> {
        if let Some(s) = service {
            if !self.status.services.iter().any(|v| v.name == s) {
                return Err(Response::error(
                    ErrorCode::NotFound,
                    format!("no service `{s}`"),
                ));
            }
        }
        let mut n = 0;
        for s in &mut self.status.services {
            if service.is_some_and(|x| x != s.name) {
                continue;
            }
            for rs in s.real_servers.iter_mut().filter(|r| r.node == node) {
                f(rs);
                n += 1;
            }
        }
        if n == 0 {
            return Err(Response::error(
                ErrorCode::NotFound,
                format!("no node `{node}`"),
            ));
        }
        Ok(n)
    }

    pub fn answer(&mut self, req: Request, events: &broadcast::Sender<EventRecord>) -> Response {
        match req {
            Request::Status => {
                // Drained connections close one per look, except rs3's.
                for s in &mut self.status.services {
                    for rs in &mut s.real_servers {
                        if rs.admin == "drain" && rs.node != "rs3" && rs.active_conns > 0 {
                            rs.active_conns -= 1;
                        }
                    }
                }
                Response::Status(self.status.clone())
            }
            Request::Nodes => Response::Nodes { nodes: self.nodes() },
            Request::Services => Response::Services {
                services: self.status.services.clone(),
            },
            Request::Events { since, limit, .. } => {
                let mut ev: Vec<EventRecord> = self
                    .history
                    .iter()
                    .filter(|e| since.is_none_or(|s| e.seq > s))
                    .cloned()
                    .collect();
                if let Some(l) = limit {
                    let skip = ev.len().saturating_sub(l);
                    ev.drain(..skip);
                }
                Response::Events { events: ev }
            }
            Request::Drain { node, service } => self.change(&node, service.as_deref(), "drain", |rs| {
                rs.admin = "drain".into();
                if rs.kernel_weight.is_some() {
                    rs.weight = Some(0);
                    rs.kernel_weight = Some(0);
                }
                rs.why = "draining: weight 0, established connections go on".into();
            }, events),
            Request::Disable { node, service } => self.change(&node, service.as_deref(), "disable", |rs| {
                rs.admin = "disabled".into();
                rs.weight = None;
                rs.kernel_weight = None;
                rs.why = "out: disabled by lbctl".into();
            }, events),
            Request::Enable { node, service } => self.change(&node, service.as_deref(), "enable", |rs| {
                rs.admin = "enabled".into();
                if rs.node_state == "online" && rs.health == "up" {
                    rs.weight = Some(1);
                    rs.kernel_weight = Some(1);
                    rs.why = "in table: node online, check passing".into();
                }
            }, events),
            Request::Maintenance { node, on } => {
                let word = if on { "maintenance on" } else { "maintenance off" };
                self.change(&node, None, word, |rs| {
                    rs.admin = if on { "maintenance" } else { "enabled" }.into();
                    if on {
                        rs.weight = None;
                        rs.kernel_weight = None;
                        rs.why = "out: maintenance".into();
                    }
                }, events)
            }
            Request::Reload if self.reload_invalid => Response::error(
                ErrorCode::ConfigInvalid,
                "services/http.yaml:4:12: unknown scheduler `wlcx` (did you mean `wlc`?); the running configuration stays",
            ),
            Request::Reload => {
                let e = self.record(EventKind::Reload, "configuration reloaded: no change", None, None);
                let _ = events.send(e);
                Response::Done {
                    message: "configuration reloaded: 2 services, 5 nodes, no change to the table".into(),
                }
            }
            Request::Diff => Response::Diff {
                ops: vec![
                    "-a -t 192.0.2.10:80 -r 198.51.100.16:80 -m -w 1".into(),
                    "-e -t 192.0.2.10:5000 -r 198.51.100.14:5000 -m -w 2".into(),
                ],
            },
            Request::Failover { instance, .. } => {
                if instance.as_deref().is_some_and(|i| i != "vi_51") {
                    return Response::error(
                        ErrorCode::NotFound,
                        format!("no VRRP instance `{}`", instance.unwrap_or_default()),
                    );
                }
                // The daemon's words: its answer, an admin event, then the role change.
                let message = "vi_51: master steps down (priority 0), held in backup";
                self.status.vrrp[0].state = "backup".into();
                let e = self.record(EventKind::Admin, &format!("operator: failover: {message}"), None, None);
                let _ = events.send(e);
                let e = self.record(EventKind::Vrrp, "vi_51: master → backup (priority 0)", None, None);
                let _ = events.send(e);
                Response::Done {
                    message: message.into(),
                }
            }
        }
    }

    fn change(
        &mut self,
        node: &str,
        service: Option<&str>,
        what: &str,
        f: impl Fn(&mut RealServerView),
        events: &broadcast::Sender<EventRecord>,
    ) -> Response {
        match self.admin(node, service, f) {
            // The daemon's words (src/daemon/control.rs): one operation per real server here.
            Ok(n) => {
                let scope = service.map_or(node.to_string(), |s| format!("{node} in {s}"));
                let e = self.record(
                    EventKind::Admin,
                    &format!("operator: {what} {scope}"),
                    Some(node),
                    service,
                );
                let _ = events.send(e);
                Response::Done {
                    message: format!("{what} {scope}: {n} operation(s) sent"),
                }
            }
            Err(r) => r,
        }
    }
}
