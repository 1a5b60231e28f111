//! The director: every decision of the daemon, as a pure core in the manner of quinn-proto and
//! `vrrp/fsm.rs`. No sockets, no files, no clock: [`Director::handle`] takes the time and one
//! [`Input`] (check and ping reports, kernel dumps and apply results, control requests, a
//! loaded configuration, alert results, VRRP views, timer ticks) and returns the [`Effect`]s to
//! carry out (IPVS batches with the reason of each operation, dumps, the state file, history
//! records, alerts, check cadences, VRRP setup and tracking, replies, observations for the
//! metrics). The tokio edge (`daemon/`) runs the effects and feeds their results back.
//!
//! A failed check reaches the table in four hops, one file each:
//! `monitor/runner.rs` (the report) → [`health`] (the node machine decides the pair is down)
//! → [`plan`] (the desired table without it, and why) → `reconcile/diff.rs` (the operation) →
//! `ipvs/client.rs` (sent by the edge's kernel thread, `daemon/kernel.rs`).
//!
//! Invariants: level-triggered (the plan is recomputed from health, never patched from
//! remembered deltas); one batch in flight at a time, a pass asked for meanwhile runs when it
//! is back; the state file is written before any table change; start-up adopts what the
//! kernel has (nothing flushed, ever); only services the configuration owns are touched.

pub mod admin;
mod checks;
pub mod health;
mod history;
pub mod io;
pub mod mapping;
mod pass;
pub mod plan;
mod quorum;
mod reload;
pub mod replay;
mod requests;
mod start;
pub mod state;
mod views;
pub mod vrrp;
pub mod watches;

#[cfg(test)]
mod director_tests;
#[cfg(test)]
mod mail_tests;
#[cfg(test)]
mod on_failure_tests;
#[cfg(test)]
pub(crate) mod plan_tests;
#[cfg(test)]
mod quorum_tests;
#[cfg(test)]
pub(crate) mod sim;

pub use admin::{Effective, Mode, NodeAdmin, Overrides};
pub use health::{Health, Known, LastCheck, Pair};
pub use history::HISTORY_CAP;
pub use io::{
    AlertRun, Batch, Change, Effect, Input, LoadFor, Now, Observation, Refused, Start, VrrpSetup,
};
pub use plan::{Check, Member, Plan, ServicePlan};
pub use state::{NodeRecord, StateDoc};

use crate::config::Config;
use crate::control::proto::{EventKind, Request, VrrpView};
use crate::ipvs::ServiceKey;
use crate::monitor::WatchId;
use crate::node::Millis;
use crate::reconcile::Table;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The state file is rewritten at most this often for health changes that change nothing in the
/// table (admin changes, reloads and shutdown write at once). A pass that is about to change the
/// table writes first whatever is pending, however recent the last write.
pub const PERSIST_GAP_MS: Millis = 1000;

/// Connection counters older than this are read again before a status is answered.
pub const CONNS_FRESH_MS: Millis = 1000;

/// Above this many operations in one batch the history gets one summary record instead of one
/// record per operation (the log still has one line per operation).
pub const HISTORY_OPS_DETAIL: usize = 200;

/// The cause of the pass start-up runs.
pub const START_CAUSE: &str = "start-up";
/// The cause of the pass a drift dump runs.
pub const DRIFT_CAUSE: &str = "drift repair";
/// The cause of the pass a reload runs.
pub const RELOAD_CAUSE: &str = "reload";
/// The cause of the pass check results run.
pub const HEALTH_CAUSE: &str = "health change";

/// Active and inactive connections of each real server, by (service, address, port).
pub type Conns = BTreeMap<(ServiceKey, IpAddr, u16), (u32, u32)>;

/// What is waiting for the batch in flight to come back.
#[derive(Debug, Default)]
struct InFlight {
    batch: Option<Batch>,
    /// A pass asked for while the batch was out (its cause).
    again: Option<String>,
    /// Replies to send when the batch is back: (request id, message before the count).
    replies: Vec<(u64, String)>,
    /// Replies waiting for the pass that is asked for again.
    later: Vec<(u64, String)>,
}

/// Counters for the log and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub passes: u64,
    pub drift_passes: u64,
    pub batches: u64,
}

/// The director.
#[derive(Debug)]
pub struct Director {
    cfg: Config,
    watches: watches::Watches,
    health: Health,
    admin: Overrides,
    plan: Plan,
    /// The kernel's table as the director knows it: the last dump, patched with every
    /// operation the kernel accepted since.
    mirror: Table,
    conns: Conns,
    /// When `conns` was read (monotonic); `None`: read again before it is shown.
    conns_at: Option<Millis>,
    /// Services a reload removed from the configuration, deleted by the next pass.
    removed: BTreeSet<ServiceKey>,
    /// Services whose mass-removal guard holds failing real servers, and how many.
    guard: BTreeMap<String, usize>,
    history: history::History,
    vrrp_views: Vec<VrrpView>,
    /// Each instance's role last recorded in the history.
    vrrp_roles: BTreeMap<String, String>,
    /// What the VRRP instances were last told of each tracked service.
    tracked: BTreeMap<String, bool>,
    flight: InFlight,
    /// A dump is out; `true` when a drift pass waits for it.
    dumping: Option<bool>,
    next_batch: u64,
    drift_at: Millis,
    persist_pending: bool,
    last_persist: Option<Millis>,
    /// Status requests waiting for fresh connection counters.
    waiting: Vec<(u64, Request)>,
    /// The time of the input being handled.
    now: Now,
    /// Effects gathered while handling it.
    out: Vec<Effect>,
    pub counters: Counters,
}

impl Director {
    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, now: Now, input: Input) -> Vec<Effect> {
        self.now = now;
        match input {
            Input::Checks { reports } => self.on_checks(reports),
            Input::Tick => self.on_tick(),
            Input::Dumped { entries } => self.on_dump(Ok(entries)),
            Input::DumpFailed { error } => self.on_dump(Err(error)),
            Input::Applied {
                id,
                refused,
                unsent,
                error,
            } => self.on_applied(id, refused, unsent, error),
            Input::Request { id, request } => self.on_request(id, request),
            Input::Config { purpose, result } => self.on_config(purpose, result),
            Input::AlertDone { record } => self.on_alert_done(record),
            Input::Vrrp { views } => self.on_vrrp(views),
            Input::FailoverDone {
                id,
                clear,
                response,
            } => self.on_failover_done(id, clear, response),
            // A stop writes what is pending, at once; a file that is current is not written
            // again (at 1,000 x 50 the document takes seconds in a debug build under emulation).
            Input::Stop if self.persist_pending => self.persist(true),
            Input::Stop => {}
        }
        std::mem::take(&mut self.out)
    }

    /// When the next timer is due (monotonic ms): the drift pass, a rate-limited state write.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let persist = self
            .persist_pending
            .then(|| self.last_persist.map_or(0, |t| t + PERSIST_GAP_MS));
        Some(persist.map_or(self.drift_at, |p| p.min(self.drift_at)))
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The current plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The kernel's table as the director knows it.
    pub fn mirror(&self) -> &Table {
        &self.mirror
    }

    /// The health of every pair and node.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Whether a batch is out to the kernel.
    pub fn applying(&self) -> bool {
        self.flight.batch.is_some()
    }

    /// The watches of the configuration in force.
    pub fn watches(&self) -> &watches::Watches {
        &self.watches
    }

    fn emit(&mut self, e: Effect) {
        self.out.push(e);
    }

    /// Numbers a history record and emits it.
    fn record(
        &mut self,
        kind: EventKind,
        message: String,
        node: Option<String>,
        service: Option<String>,
    ) {
        let r = self
            .history
            .record(self.now.unix, kind, message, node, service);
        self.emit(Effect::Record(r));
    }

    /// The state document of now.
    fn state_doc(&self) -> StateDoc {
        let mut doc = StateDoc {
            version: 1,
            admin: self.admin.clone(),
            event_seq: self.history.seq(),
            ..StateDoc::default()
        };
        doc.set_known(&self.health.known());
        for name in self.health.names() {
            if let Some(state) = self.health.state(name) {
                doc.nodes.insert(
                    name.clone(),
                    NodeRecord {
                        state,
                        since_ms: self.health.since(name),
                    },
                );
            }
        }
        doc
    }

    /// Emits the state file if something changed (health changes at most once per
    /// [`PERSIST_GAP_MS`] unless `force`).
    fn persist(&mut self, force: bool) {
        if !force && !self.persist_pending {
            return;
        }
        let now = self.now.mono;
        if !force && self.last_persist.is_some_and(|t| now < t + PERSIST_GAP_MS) {
            return;
        }
        let doc = self.state_doc();
        self.emit(Effect::Persist(doc));
        self.persist_pending = false;
        self.last_persist = Some(now);
    }

    fn on_tick(&mut self) {
        self.persist(false);
        if self.now.mono >= self.drift_at {
            self.drift_at = self.now.mono + interval_ms(self.cfg.director.reconcile_interval);
            match self.dumping {
                Some(_) => self.dumping = Some(true),
                None => {
                    self.dumping = Some(true);
                    self.emit(Effect::Dump);
                }
            }
        }
    }

    /// Asks for a dump for the connection counters (unless one is out already).
    fn dump_for_conns(&mut self) {
        if self.dumping.is_none() {
            self.dumping = Some(false);
            self.emit(Effect::Dump);
        }
    }

    fn on_dump(&mut self, result: Result<Vec<crate::ipvs::ServiceEntry>, String>) {
        let drift = self.dumping.take().unwrap_or(false);
        match result {
            Ok(entries) => {
                self.conns = conns_of(&entries);
                self.conns_at = Some(self.now.mono);
                if drift {
                    self.mirror = Table::from_entries(&entries);
                    drop(entries);
                    self.counters.drift_passes += 1;
                    self.pass(DRIFT_CAUSE);
                }
            }
            Err(e) => {
                if drift {
                    tracing::error!(error = %e, "drift pass: cannot read the IPVS table");
                } else {
                    tracing::warn!("cannot read connection counters: {e}");
                }
            }
        }
        self.answer_waiting();
    }

    fn on_vrrp(&mut self, views: Vec<VrrpView>) {
        for t in vrrp::transitions(&mut self.vrrp_roles, &views) {
            tracing::info!(instance = %t.instance, from = %t.from, to = %t.to, priority = t.priority, "vrrp transition");
            self.record(EventKind::Vrrp, t.message(), None, None);
        }
        self.vrrp_views = views;
    }

    /// Tells the VRRP instances which tracked services lost (or regained) their last healthy
    /// real server.
    fn track_services(&mut self) {
        for svc in vrrp::tracked_services(&self.cfg) {
            let up = self.plan.services.get(&svc).is_some_and(|s| s.healthy > 0);
            if self.tracked.get(&svc) != Some(&up) {
                self.tracked.insert(svc.clone(), up);
                self.emit(Effect::Track { service: svc, up });
            }
        }
    }

    /// The services this director may touch: the configuration's and the ones a reload removed.
    fn owned(&self) -> BTreeSet<ServiceKey> {
        self.plan
            .services
            .values()
            .filter_map(|s| s.key)
            .chain(self.removed.iter().copied())
            .collect()
    }

    /// The ping watch or service watch a node machine's schedule is about.
    fn watch_for(&self, node: &str, check: &crate::node::CheckTarget) -> Option<WatchId> {
        match check {
            crate::node::CheckTarget::Service(s) => Some(WatchId::Service(s.clone())),
            crate::node::CheckTarget::Ping => watches::ping_watch_of(&self.watches, node),
        }
    }
}

fn interval_ms(d: std::time::Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The connection counters of a dump.
pub fn conns_of(entries: &[crate::ipvs::ServiceEntry]) -> Conns {
    let mut out = Conns::new();
    for e in entries {
        for d in &e.dests {
            out.insert(
                (e.service.key, d.dest.addr, d.dest.port),
                (d.active_conns, d.inactive_conns),
            );
        }
    }
    out
}
