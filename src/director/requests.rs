//! Control requests: the views (`status` and `services` wait for connection counters less than
//! a second old), the event history, the operator's overrides (drain, disable, enable,
//! maintenance: persisted at once, answered once their batch is back), reload and diff (the
//! edge loads the directory), failover (carried out by the VRRP instances). Every operator
//! action that changed something is an `admin` event in the history.

use super::admin::Mode;
use super::io::{Effect, LoadFor};
use super::plan::desired_after;
use super::{Director, CONNS_FRESH_MS};
use crate::config::{Config, ConfigErrors, Diagnostic};
use crate::control::proto::{ErrorCode, EventKind, Request, Response};
use crate::monitor::WatchId;
use crate::node::Cadence;
use crate::reconcile::diff;

fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error {
        code,
        message: message.into(),
    }
}

impl Director {
    fn reply(&mut self, id: u64, response: Response) {
        self.emit(Effect::Reply { id, response });
    }

    pub(super) fn on_request(&mut self, id: u64, req: Request) {
        if req.is_mutating() {
            // What the operator does next (drain --wait) must see the connections as they are.
            self.conns_at = None;
        }
        match req {
            Request::Status | Request::Services => {
                let fresh = self
                    .conns_at
                    .is_some_and(|at| self.now.mono < at + CONNS_FRESH_MS);
                if fresh {
                    let r = self.view(&req);
                    self.reply(id, r);
                } else {
                    self.waiting.push((id, req));
                    self.dump_for_conns();
                }
            }
            Request::Nodes => {
                let r = self.view(&req);
                self.reply(id, r);
            }
            Request::Events { since, limit, .. } => {
                let events = self.history.query(since, limit);
                self.reply(id, Response::Events { events });
            }
            Request::Drain { node, service } => self.admin_set(id, node, service, Mode::Drain),
            Request::Disable { node, service } => self.admin_set(id, node, service, Mode::Disabled),
            Request::Enable { node, service } => self.admin_set(id, node, service, Mode::Enabled),
            Request::Maintenance { node, on } => self.maintenance(id, node, on),
            Request::Reload => self.emit(Effect::LoadConfig {
                purpose: LoadFor::Reload { request: Some(id) },
            }),
            Request::Diff => self.emit(Effect::LoadConfig {
                purpose: LoadFor::Diff { request: id },
            }),
            Request::Failover { instance, clear } => self.emit(Effect::Failover {
                id,
                instance,
                clear,
            }),
        }
    }

    /// Answers the status requests that waited for a dump: each kind of view is built once,
    /// however many clients asked (a busy director can have many waiting, and a view of a big
    /// table is not cheap).
    pub(super) fn answer_waiting(&mut self) {
        let mut built: Vec<(Request, Response)> = Vec::new();
        for (id, req) in std::mem::take(&mut self.waiting) {
            let r = match built.iter().find(|(q, _)| *q == req) {
                Some((_, r)) => r.clone(),
                None => {
                    let r = self.view(&req);
                    built.push((req, r.clone()));
                    r
                }
            };
            self.reply(id, r);
        }
    }

    fn admin_set(&mut self, id: u64, node: String, service: Option<String>, mode: Mode) {
        if !self.health.has_node(&node) {
            return self.reply(id, error(ErrorCode::NotFound, format!("no node `{node}`")));
        }
        if let Some(s) = &service {
            if !self.health.serves(&node, s) {
                let msg = format!("node `{node}` does not serve `{s}`");
                return self.reply(id, error(ErrorCode::NotFound, msg));
            }
        }
        let changed = self.admin.set(&node, service.as_deref(), mode);
        let what = match mode {
            Mode::Drain => "drain",
            Mode::Disabled => "disable",
            Mode::Enabled => "enable",
        };
        self.admin_done(id, &node, service, what, changed);
    }

    fn maintenance(&mut self, id: u64, node: String, on: bool) {
        if !self.health.has_node(&node) {
            return self.reply(id, error(ErrorCode::NotFound, format!("no node `{node}`")));
        }
        let changed = self.admin.set_maintenance(&node, on);
        if changed && !on {
            // Back from maintenance: look at everything again at once.
            let mut watches: Vec<WatchId> = self
                .watches
                .iter()
                .filter(|(_, (_, targets))| targets.iter().any(|t| t.node == node))
                .map(|(id, _)| id.clone())
                .collect();
            watches.sort();
            for watch in watches {
                self.emit(Effect::Cadence {
                    watch,
                    node: node.clone(),
                    cadence: Cadence::Now,
                });
            }
        }
        let what = if on {
            "maintenance on"
        } else {
            "maintenance off"
        };
        self.admin_done(id, &node, None, what, changed);
    }

    fn admin_done(
        &mut self,
        id: u64,
        node: &str,
        service: Option<String>,
        what: &str,
        changed: bool,
    ) {
        let scope = match &service {
            Some(s) => format!("{node} in {s}"),
            None => node.to_string(),
        };
        if !changed {
            return self.reply_done(id, format!("{what} {scope}: already so"));
        }
        let reason = format!("operator: {what} {scope}");
        tracing::info!(node, service = service.as_deref().unwrap_or(""), "{reason}");
        self.record(
            EventKind::Admin,
            reason.clone(),
            Some(node.to_string()),
            service,
        );
        self.persist(true);
        self.reply_after_pass(id, format!("{what} {scope}: "));
        self.pass(&reason);
    }

    pub(super) fn on_failover_done(&mut self, id: u64, clear: bool, response: Response) {
        if let Response::Done { message } = &response {
            let what = if clear {
                "failover --clear"
            } else {
                "failover"
            };
            self.record(
                EventKind::Admin,
                format!("operator: {what}: {message}"),
                None,
                None,
            );
        }
        self.reply(id, response);
    }

    pub(super) fn on_config(
        &mut self,
        purpose: LoadFor,
        result: Result<Box<Config>, Vec<Diagnostic>>,
    ) {
        match (purpose, result) {
            (LoadFor::Diff { request }, Ok(cfg)) => {
                let r = self.diff_view(&cfg);
                self.reply(request, r);
            }
            (LoadFor::Diff { request }, Err(errors)) => {
                let e = ConfigErrors {
                    errors,
                    warnings: Vec::new(),
                };
                self.reply(request, error(ErrorCode::ConfigInvalid, e.to_string()));
            }
            (LoadFor::Reload { request }, Ok(cfg)) => self.reload(*cfg, request),
            (LoadFor::Reload { request }, Err(errors)) => {
                for d in &errors {
                    tracing::error!("reload rejected: {d}");
                }
                let joined: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
                self.record(
                    EventKind::Reload,
                    format!(
                        "reload rejected, the running configuration stays: {}",
                        joined.join("; ")
                    ),
                    None,
                    None,
                );
                if let Some(id) = request {
                    let e = ConfigErrors {
                        errors,
                        warnings: Vec::new(),
                    };
                    self.reply(id, error(ErrorCode::ConfigInvalid, e.to_string()));
                }
            }
        }
    }

    /// `lbctl diff`: what applying `cfg` would send now.
    fn diff_view(&self, cfg: &Config) -> Response {
        let plan = desired_after(
            cfg,
            &self.health,
            &self.admin,
            &self.plan.in_table(),
            &self.plan,
        );
        let mut owned = self.owned();
        owned.extend(plan.services.values().filter_map(|s| s.key));
        let ops = diff(&plan.table, &self.mirror, &owned);
        Response::Diff {
            ops: ops.iter().map(|o| o.to_string()).collect(),
        }
    }
}
