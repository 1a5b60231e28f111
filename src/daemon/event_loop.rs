//! The one event loop: check reports → node state machines → desired table → reconcile against
//! the mirror of the kernel's table; a periodic drift pass (dump + diff + apply, owned services
//! only); SIGHUP reloads; SIGTERM/SIGINT stop the loop and leave the table as it is (never
//! flushed on exit); control requests; the systemd watchdog petted from here.
//!
//! Start-up adopts the kernel table: a configured real server the kernel already has counts as
//! passing until a check says otherwise (so restarting over a converged table sends nothing and
//! resets no weight, and a crash never removes a server that was healthy); the state file
//! restores what is known of the others (drained, failed, passing). A server never known is
//! added only after its first passing checks.

use super::admin::Overrides;
use super::desired::{desired, Pair, Plan};
use super::history::History;
use super::kernel::{conns_of, patch, Conns, Kernel};
use super::nodes::{Known, LastCheck, Nodes};
use super::persist::{NodeRecord, Persister, StateDoc};
use super::reload::{self, Watches};
use super::{systemd, watches};
use crate::config::{Config, ConfigErrors};
use crate::control::proto::{EventKind, EventRecord, Request, Response};
use crate::ipvs::{IpvsError, Op, ServiceKey};
use crate::monitor::alert::{AlertCall, AlertQueues, AlertRecord};
use crate::monitor::{CheckReport, CheckThread, Command, Runner};
use crate::node::{Action, AlertKind, CheckTarget, Millis};
use crate::reconcile::{diff, Table};
use crate::state::StateError;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Records kept in memory (and, up to twice that, in `events.jsonl`).
const HISTORY_CAP: usize = 10_000;
/// Above this many operations in one pass the history gets one summary record instead of one
/// record per operation (the log still has one line per operation).
const HISTORY_OPS_DETAIL: usize = 200;
/// A pass applies at most this many operations per call into the kernel, and pets the systemd
/// watchdog between calls: re-applying a flushed 50,000-server table is one long pass (15 s in
/// a debug build under emulation), longer than `WatchdogSec=`, but never a stalled loop.
pub const APPLY_CHUNK: usize = 2000;
/// Checks in flight per watch.
const CHECK_BUDGET: usize = 512;
/// The state file is rewritten at most this often for health changes that change nothing in the
/// table (admin changes, reloads and shutdown write at once). A pass that is about to change the
/// table writes first whatever is pending, however recent the last write: a crash after a
/// check-driven removal must not restart with a state file that still calls the server healthy
/// (the kernel no longer has it, and the stale file would restore it as passing).
const PERSIST_GAP: Duration = Duration::from_secs(1);

/// How to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_dir: PathBuf,
    /// Overrides the configuration's `state_dir`.
    pub state_dir: Option<PathBuf>,
    /// Start the health checks (tests driving reports by hand turn them off).
    pub run_checks: bool,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(ConfigErrors),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("cannot open the event history {path}: {source}")]
    History {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the IPVS table: {0}")]
    Kernel(#[from] IpvsError),
}

/// The receiving end of the control channel, owned by the loop.
pub struct ControlInbox {
    pub requests: mpsc::Receiver<(Request, oneshot::Sender<Response>)>,
}

/// A control handle and the inbox the loop reads.
pub fn control_channel() -> (super::ControlHandle, ControlInbox) {
    let (tx, rx) = mpsc::channel(64);
    let (events, _) = broadcast::channel(1024);
    (
        super::ControlHandle {
            requests: tx,
            events,
        },
        ControlInbox { requests: rx },
    )
}

/// SIGHUP, SIGTERM and SIGINT, taken over before start-up so that a signal arriving while the
/// table is being read is not lost (or fatal).
pub struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside a tokio runtime.
    pub fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// What one reconcile pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Operations sent.
    pub ops: usize,
    /// Operations the kernel refused.
    pub failed: usize,
    pub took: Duration,
    /// Operations applied, by service name.
    pub by_service: BTreeMap<String, u64>,
}

struct Watch {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<crate::monitor::Stats>,
}

/// The running daemon.
pub struct Daemon {
    pub(super) dir: PathBuf,
    pub(super) state_dir: PathBuf,
    pub(super) cfg: Config,
    pub(super) watches: Watches,
    pub(super) nodes: Nodes,
    pub(super) admin: Overrides,
    pub(super) plan: Plan,
    pub(super) kernel: Box<dyn Kernel>,
    pub(super) actual: Table,
    pub(super) conns: Conns,
    /// When `conns` was read from the kernel (None: to be re-read before the next use).
    pub(super) conns_at: Option<Instant>,
    pub(super) history: History,
    persister: Persister,
    last_persist: Option<Instant>,
    persist_pending: bool,
    running: BTreeMap<String, Watch>,
    /// Where the watches run (started with the first one).
    checks: Option<CheckThread>,
    reports_tx: mpsc::UnboundedSender<Vec<CheckReport>>,
    reports_rx: Option<mpsc::UnboundedReceiver<Vec<CheckReport>>>,
    alerts_tx: mpsc::UnboundedSender<AlertRecord>,
    alerts_rx: Option<mpsc::UnboundedReceiver<AlertRecord>>,
    alerts: Option<AlertQueues>,
    run_checks: bool,
    start: Instant,
    /// Why a pair last changed, used once by the next pass's log lines.
    reasons: BTreeMap<Pair, String>,
    /// Services removed from the configuration by a reload, deleted by the next pass.
    pub(super) removed: BTreeSet<ServiceKey>,
    /// Services whose mass-removal guard holds failing real servers, and how many.
    guard_tripped: BTreeMap<String, usize>,
    /// Drift passes run.
    pub drift_passes: u64,
    dirty: bool,
    pub(super) metrics: Option<crate::metrics::Metrics>,
    /// The VRRP instances (started by [`Daemon::run`]).
    pub(super) vrrp: super::vrrp::VrrpSet,
    /// Each VRRP instance's role last recorded in the history.
    pub(super) vrrp_roles: BTreeMap<String, String>,
    /// Passes run, and the first one's report.
    pub passes: u64,
    pub first_pass: PassReport,
    /// Called between two chunks of one pass's operations ([`APPLY_CHUNK`]): pets the systemd
    /// watchdog (tests count the calls).
    pub(super) between_chunks: fn(),
}

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Runs `f`, letting other tasks go on if we are on a multi-threaded runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl Daemon {
    /// Loads the configuration and the state, reads the kernel's table, adopts and restores,
    /// and runs the first reconcile. Health checks start with [`Daemon::run`].
    pub fn start(
        opts: Options,
        mut kernel: Box<dyn Kernel>,
        events: broadcast::Sender<EventRecord>,
    ) -> Result<Daemon, StartError> {
        let (cfg, warnings) = reload::load(&opts.config_dir).map_err(StartError::Config)?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        tracing::info!(dir = %opts.config_dir.display(), services = cfg.services.len(), "configuration loaded");
        let state_dir = opts
            .state_dir
            .clone()
            .unwrap_or_else(|| cfg.director.state_dir.clone());
        let (persister, doc) = Persister::open(&state_dir)?;
        let history =
            History::open(&state_dir, HISTORY_CAP, doc.event_seq, events).map_err(|source| {
                StartError::History {
                    path: state_dir.join(super::history::HISTORY_FILE),
                    source,
                }
            })?;
        let entries = blocking(|| kernel.dump())?;
        tracing::info!(services = entries.len(), "kernel table read");
        let actual = Table::from_entries(&entries);
        let conns = conns_of(&entries);
        let start = Instant::now();
        let now_unix = unix_ms();
        let mut nodes = Nodes::new(watches::node_configs(&cfg), 0, now_unix);
        let (known, previous, adopted) = adopt(&cfg, &actual, &doc);
        nodes.restore(0, &known);
        for (name, rec) in &doc.nodes {
            if rec.state == crate::node::NodeState::Offline {
                nodes.restore_offline(0, name);
            }
        }
        for (name, rec) in &doc.nodes {
            if nodes.state(name) == Some(rec.state) {
                nodes.since_unix.insert(name.clone(), rec.since_ms);
            }
        }
        let mut admin = doc.admin.clone();
        admin.retain(|n, s| nodes.has_node(n) && s.is_none_or(|s| cfg.service(s).is_some()));
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let (alerts_tx, alerts_rx) = mpsc::unbounded_channel();
        let mut d = Daemon {
            dir: opts.config_dir,
            state_dir,
            watches: reload::watches(&cfg),
            cfg,
            nodes,
            admin,
            plan: Plan::default(),
            kernel,
            actual,
            conns,
            conns_at: Some(Instant::now()),
            history,
            persister,
            last_persist: None,
            persist_pending: true,
            running: BTreeMap::new(),
            checks: None,
            reports_tx,
            reports_rx: Some(reports_rx),
            alerts_tx,
            alerts_rx: Some(alerts_rx),
            alerts: None,
            run_checks: opts.run_checks,
            start,
            reasons: BTreeMap::new(),
            removed: BTreeSet::new(),
            guard_tripped: BTreeMap::new(),
            drift_passes: 0,
            dirty: true,
            metrics: None,
            vrrp: Default::default(),
            vrrp_roles: BTreeMap::new(),
            passes: 0,
            first_pass: PassReport::default(),
            between_chunks: systemd::watchdog,
        };
        tracing::info!(
            services = d.cfg.services.len(),
            nodes = d.nodes.names().count(),
            adopted,
            restored = doc.health.values().map(|m| m.len()).sum::<usize>(),
            kernel_services = d.actual.services.len(),
            kernel_real_servers = d.actual.dest_count(),
            "starting: adopted the kernel table and the last known state"
        );
        d.plan = desired(&d.cfg, &d.nodes.health(), &d.admin, &previous);
        let report = d.reconcile("start-up");
        d.first_pass = report.clone();
        d.persist(true);
        // The IPVS client's own count of the mutating messages it sent, not the diff's length.
        tracing::info!(
            mutating_ops = d.kernel.mutating(),
            diff_ops = report.ops,
            failed = report.failed,
            took_ms = report.took.as_millis() as u64,
            "first reconcile done"
        );
        Ok(d)
    }

    /// Records into `metrics` from now on (node states, transitions, checks, netlink
    /// operations, reconcile passes, drift repairs, alert runs, real servers in the table).
    pub fn set_metrics(&mut self, metrics: crate::metrics::Metrics) {
        for name in self.nodes.names() {
            if let Some(st) = self.nodes.state(name) {
                metrics.node_state(name, st);
            }
        }
        for ((svc, node), m) in &self.plan.members {
            metrics.real_server_in_table(svc, node, m.weight.is_some());
        }
        super::rs_metrics::record_all(&metrics, &self.plan);
        for name in self.plan.services.keys() {
            metrics.guard_held(name, self.guard_tripped.get(name).copied().unwrap_or(0));
        }
        self.metrics = Some(metrics);
    }

    /// Milliseconds since start, the machines' clock.
    pub(super) fn now(&self) -> Millis {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The current plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The mirror of the kernel's table.
    pub fn mirror(&self) -> &Table {
        &self.actual
    }

    /// Mutating operations sent to the kernel since start.
    pub fn mutating_ops(&self) -> u64 {
        self.kernel.mutating()
    }

    /// The services this daemon may touch: the configuration's and the ones a reload removed.
    pub(super) fn owned(&self) -> BTreeSet<ServiceKey> {
        self.plan
            .services
            .values()
            .filter_map(|s| s.key)
            .chain(self.removed.iter().copied())
            .collect()
    }

    /// Feeds one ping report to every pair machine of its node and acts on what they say.
    fn on_ping_report(&mut self, r: CheckReport) {
        let now = self.now();
        let alive = r.outcome.is_ok();
        let node_before = self.nodes.state(&r.node);
        if let Some(m) = &self.metrics {
            m.check_result("ping", alive, Duration::from_millis(r.duration_ms));
        }
        let summary = match &r.outcome {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        self.nodes.last_ping.insert(
            r.node.clone(),
            LastCheck {
                ok: alive,
                summary: summary.clone(),
                latency_ms: r.duration_ms,
                at_ms: unix_ms(),
            },
        );
        let actions = self.nodes.ping(now, &r.node, alive);
        let reason = if alive {
            format!("ping answers on {}", r.node)
        } else {
            format!("ping silent on {}: {summary}", r.node)
        };
        if let (Some(old), Some(new)) = (node_before, self.nodes.state(&r.node)) {
            if old != new {
                self.node_transition(&r.node, old, new, &reason);
                self.dirty = true;
                self.persist_pending = true;
            }
        }
        self.act(actions, &reason);
    }

    /// Feeds one check report into its node's machine and acts on what it says. Most reports
    /// change nothing (the pair keeps passing): those cost a few lookups and no allocation
    /// beyond the report's own.
    pub fn on_report(&mut self, r: CheckReport) {
        if r.service.starts_with(watches::PING_PREFIX) {
            return self.on_ping_report(r);
        }
        let now = self.now();
        let CheckReport {
            service,
            node,
            outcome,
            duration_ms,
            ..
        } = r;
        let pair = (service, node);
        let (pass, load, summary) = match outcome {
            Ok(p) => (true, p.load, p.warning.unwrap_or_default()),
            Err(e) => (false, None, e.to_string()),
        };
        let last = LastCheck {
            ok: pass,
            summary: summary.clone(),
            latency_ms: duration_ms,
            at_ms: unix_ms(),
        };
        match self.nodes.last.get_mut(&pair) {
            Some(have) => *have = last,
            None => {
                self.nodes.last.insert(pair.clone(), last);
            }
        }
        if let Some(m) = &self.metrics {
            m.check_result(&pair.0, pass, Duration::from_millis(duration_ms));
        }
        let rep = self.nodes.report(now, &pair, pass, load, summary);
        let changed = rep.health.0 != rep.health.1 || load.is_some();
        if !changed && rep.node.is_none() && rep.actions.is_empty() {
            return;
        }
        let summary = self
            .nodes
            .last
            .get(&pair)
            .map_or("", |l| l.summary.as_str());
        let reason = reason_for(&pair.0, &pair.1, pass, summary);
        if let Some((old, new)) = rep.node {
            self.node_transition(&pair.1, old, new, &reason);
        }
        if changed {
            self.reasons.insert(pair, reason.clone());
            self.dirty = true;
            self.persist_pending = true;
        }
        self.act(rep.actions, &reason);
    }

    fn act(&mut self, actions: Vec<Action>, reason: &str) {
        for a in actions {
            match a {
                // Pair machines change state per service; the node's own transition is the
                // aggregate, recorded by `on_report`.
                Action::StateChanged { .. } => {
                    self.dirty = true;
                    self.persist_pending = true;
                }
                Action::RunAlert {
                    node,
                    watch,
                    old,
                    new,
                    summary,
                } => self.alert(node, watch, AlertKind::Alert, old, new, summary),
                Action::RunUpalert {
                    node,
                    watch,
                    old,
                    new,
                } => self.alert(node, watch, AlertKind::Upalert, old, new, String::new()),
                Action::ScheduleCheck {
                    node,
                    check: CheckTarget::Service(service),
                    cadence,
                } => {
                    if let Some(w) = self.running.get(&service) {
                        let _ = w.commands.try_send(Command::Cadence {
                            service,
                            node,
                            cadence,
                        });
                    }
                }
                Action::ScheduleCheck {
                    node,
                    check: CheckTarget::Ping,
                    cadence,
                } => {
                    let name = self.watches.iter().find_map(|(name, (_, targets))| {
                        (name.starts_with(watches::PING_PREFIX)
                            && targets.iter().any(|t| t.node == node))
                        .then(|| name.clone())
                    });
                    if let Some((w, service)) =
                        name.and_then(|n| self.running.get(&n).map(|w| (w, n)))
                    {
                        let _ = w.commands.try_send(Command::Cadence {
                            service,
                            node,
                            cadence,
                        });
                    }
                }
            }
        }
    }

    fn node_transition(
        &mut self,
        node: &str,
        old: crate::node::NodeState,
        new: crate::node::NodeState,
        cause: &str,
    ) {
        tracing::info!(node, %old, %new, cause, "node transition");
        if let Some(m) = &self.metrics {
            m.node_transition(old, new);
            m.node_state(node, new);
        }
        self.nodes.since_unix.insert(node.to_string(), unix_ms());
        self.history.record(
            unix_ms(),
            EventKind::NodeTransition,
            format!("{node}: {old} → {new} ({cause})"),
            Some(node.to_string()),
            None,
        );
    }

    fn alert(
        &mut self,
        node: String,
        watch: String,
        kind: AlertKind,
        old: crate::node::NodeState,
        new: crate::node::NodeState,
        summary: String,
    ) {
        if self.admin.in_maintenance(&node) {
            return;
        }
        let word = if kind == AlertKind::Alert {
            "alert"
        } else {
            "upalert"
        };
        self.history.record(
            unix_ms(),
            EventKind::Alert,
            format!("{word} {watch} on {node}: {old} → {new} {summary}")
                .trim_end()
                .to_string(),
            Some(node.clone()),
            Some(watch.clone()),
        );
        // A ping alert runs the scripts of the ping watch that pings the node.
        let spec_and_targets = if watch == crate::node::PING_WATCH {
            self.watches.iter().find_map(|(name, w)| {
                (name.starts_with(super::watches::PING_PREFIX)
                    && w.1.iter().any(|t| t.node == node))
                .then_some(w)
            })
        } else {
            self.watches.get(&watch)
        };
        let Some((spec, targets)) = spec_and_targets else {
            return;
        };
        let list = if kind == AlertKind::Alert {
            spec.alert.clone()
        } else {
            spec.upalert.clone()
        };
        if list.is_empty() {
            return;
        }
        let address = targets
            .iter()
            .find(|t| t.node == node)
            .map(|t| t.addr.to_string())
            .unwrap_or_default();
        let call = AlertCall {
            node,
            address,
            group: spec.group.clone(),
            watch,
            kind,
            old,
            new,
            summary,
        };
        let timeout = spec.alert_timeout;
        self.send_alerts(list, call, timeout);
    }

    /// Queues `list` for `call` on the alert runner (outside a runtime, as in some tests, the
    /// history record is all there is).
    fn send_alerts(
        &mut self,
        list: Vec<crate::monitor::AlertSpec>,
        call: AlertCall,
        timeout: Duration,
    ) {
        if tokio::runtime::Handle::try_current().is_ok() {
            let tx = self.alerts_tx.clone();
            self.alerts
                .get_or_insert_with(|| AlertQueues::new(tx))
                .send(list, call, timeout);
        }
    }

    fn on_alert_record(&mut self, r: AlertRecord) {
        if let Some(m) = &self.metrics {
            use crate::metrics::AlertExit;
            let exit = match (r.exit_code, r.signal, r.timed_out, &r.error) {
                (_, _, _, Some(_)) => AlertExit::SpawnFailed,
                (_, _, true, _) => AlertExit::Timeout,
                (Some(c), _, _, _) => AlertExit::Code(c),
                _ => AlertExit::Signal,
            };
            m.alert_run(&r.alert, exit);
        }
        let status = match (r.exit_code, r.signal, r.timed_out, &r.error) {
            (_, _, _, Some(e)) => format!("could not run: {e}"),
            (_, _, true, _) => "timed out".to_string(),
            (Some(c), _, _, _) => format!("exit {c}"),
            (_, Some(s), _, _) => format!("signal {s}"),
            _ => "done".to_string(),
        };
        self.history.record(
            unix_ms(),
            EventKind::Alert,
            format!("{} for {} on {}: {status}", r.alert, r.watch, r.node),
            Some(r.node),
            Some(r.watch),
        );
    }

    /// Recomputes the plan and sends what the mirror lacks. `cause` names the pass in the log
    /// lines of changes that have no more specific reason.
    pub fn reconcile(&mut self, cause: &str) -> PassReport {
        let t0 = Instant::now();
        let previous = self.plan.in_table();
        let new = desired(&self.cfg, &self.nodes.health(), &self.admin, &previous);
        let old = std::mem::replace(&mut self.plan, new);
        self.dirty = false;
        if let Some(m) = &self.metrics {
            for ((svc, node), mem) in &self.plan.members {
                let pair = (svc.clone(), node.clone());
                if mem.weight.is_some() != previous.contains_key(&pair) {
                    m.real_server_in_table(svc, node, mem.weight.is_some());
                }
            }
            super::rs_metrics::record_changes(m, &old, &self.plan);
        }
        drop(old);
        for e in &self.plan.errors {
            tracing::error!(error = %e, "real server left out of the desired table");
        }
        self.check_guard();
        let owned = self.owned();
        let ops = diff(&self.plan.table, &self.actual, &owned);
        self.passes += 1;
        if ops.is_empty() {
            self.forget_reasons();
            self.removed.clear();
            if let Some(m) = &self.metrics {
                m.reconcile_pass(t0.elapsed());
            }
            return PassReport {
                took: t0.elapsed(),
                ..PassReport::default()
            };
        }
        // The state goes to disk before the table changes (not rate-limited: one write at most
        // per pass, and only when something changed).
        if self.persist_pending {
            self.persist(true);
        }
        tracing::info!(ops = ops.len(), cause, "applying operations");
        let mut failed_idx = BTreeSet::new();
        for (c, chunk) in ops.chunks(APPLY_CHUNK).enumerate() {
            let base = c * APPLY_CHUNK;
            if c > 0 {
                (self.between_chunks)();
            }
            let result = {
                let kernel = &mut self.kernel;
                blocking(|| kernel.apply(chunk))
            };
            match result {
                Ok(r) => {
                    for f in &r.failures {
                        tracing::error!(op = %f.op, error = %f.error, "kernel refused an operation");
                        failed_idx.insert(base + f.index);
                    }
                }
                Err(e) => {
                    // The socket failed: what is left is not sent now; the next pass retries.
                    tracing::error!(error = %e, ops = ops.len() - base, "cannot apply operations");
                    failed_idx.extend(base..ops.len());
                    break;
                }
            }
        }
        let failed = failed_idx.len();
        let owners = self.owners();
        let names: BTreeMap<ServiceKey, String> = self
            .plan
            .services
            .iter()
            .filter_map(|(n, s)| s.key.map(|k| (k, n.clone())))
            .collect();
        let detail = ops.len() <= HISTORY_OPS_DETAIL;
        let mut by_service: BTreeMap<String, u64> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            if let Some(m) = &self.metrics {
                let error = failed_idx.contains(&i).then_some("refused");
                m.netlink_op(op_name(op), error);
            }
            if failed_idx.contains(&i) {
                continue;
            }
            patch(&mut self.actual, op);
            let (svc, node, why) = self.why(&owners, &names, op);
            *by_service.entry(svc.clone()).or_default() += 1;
            let pair = (svc.clone(), node.clone());
            let reason = self
                .reasons
                .get(&pair)
                .cloned()
                .unwrap_or_else(|| cause.to_string());
            tracing::info!(op = %op, service = svc, node = node, why = why, cause = reason, "table change");
            if detail {
                self.history.record(
                    unix_ms(),
                    EventKind::TableOp,
                    format!("{op} ({why}; {reason})"),
                    (!node.is_empty()).then_some(node),
                    (!svc.is_empty()).then_some(svc),
                );
            }
        }
        if !detail {
            self.history.record(
                unix_ms(),
                EventKind::TableOp,
                format!(
                    "{} operations ({cause}), {failed} refused",
                    ops.len() - failed
                ),
                None,
                None,
            );
        }
        self.forget_reasons();
        self.removed.clear();
        if let Some(m) = &self.metrics {
            m.reconcile_pass(t0.elapsed());
        }
        PassReport {
            ops: ops.len(),
            failed,
            took: t0.elapsed(),
            by_service,
        }
    }

    /// Forgets why pairs changed once a pass has used the reasons, except for the pairs the
    /// mass-removal guard holds: when the guard lets go of one, a later pass (caused by some
    /// other node's report) removes it, and its log line must still name the failing check.
    fn forget_reasons(&mut self) {
        let plan = &self.plan;
        self.reasons.retain(|(svc, node), _| {
            plan.services
                .get(svc)
                .is_some_and(|sp| sp.guard_held.iter().any(|n| n == node))
        });
    }

    /// Logs, records, alerts (the service watch's `alert` scripts, with the held nodes as
    /// `-h`) and counts in `lbd_mass_removal_guard_held` when a service's guard starts holding
    /// failing real servers in the table; logs when it lets go.
    fn check_guard(&mut self) {
        let mut tripped = BTreeMap::new();
        let mut new_trips = Vec::new();
        for (name, sp) in &self.plan.services {
            if !sp.guard_held.is_empty() {
                tripped.insert(name.clone(), sp.guard_held.len());
                if !self.guard_tripped.contains_key(name) {
                    new_trips.push((name.clone(), sp.guard_held.clone()));
                }
            }
        }
        if let Some(m) = &self.metrics {
            for (name, n) in &tripped {
                if self.guard_tripped.get(name) != Some(n) {
                    m.guard_held(name, *n);
                }
            }
            for name in self.guard_tripped.keys() {
                if !tripped.contains_key(name) {
                    m.guard_held(name, 0);
                }
            }
        }
        for (name, held) in new_trips {
            let msg = format!(
                "mass-removal guard: {name} keeps {} failing real server(s) in the table ({}): too many checks fail at once",
                held.len(),
                held.join(", ")
            );
            tracing::warn!(service = name, held = held.join(","), "{msg}");
            self.history.record(
                unix_ms(),
                EventKind::Alert,
                msg.clone(),
                None,
                Some(name.clone()),
            );
            self.guard_alert(&name, &held, msg);
        }
        for name in self.guard_tripped.keys() {
            if !tripped.contains_key(name) {
                tracing::info!(service = %name, "mass-removal guard released");
            }
        }
        self.guard_tripped = tripped;
    }

    /// Runs the `alert` list of `service`'s watch for the real servers its guard holds.
    fn guard_alert(&mut self, service: &str, held: &[String], summary: String) {
        let Some((spec, targets)) = self.watches.get(service) else {
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
        let call = AlertCall {
            node: held.join(" "),
            address: addresses.join(" "),
            group: spec.group.clone(),
            watch: service.to_string(),
            kind: AlertKind::Alert,
            old: crate::node::NodeState::Online,
            new: crate::node::NodeState::Failed,
            summary,
        };
        let (list, timeout) = (spec.alert.clone(), spec.alert_timeout);
        self.send_alerts(list, call, timeout);
    }

    /// (service key, address, port) → (service, node) of every configured real server, and
    /// the sorry servers.
    fn owners(&self) -> BTreeMap<(ServiceKey, IpAddr, u16), (String, String)> {
        let mut out = BTreeMap::new();
        for ((svc, node), m) in &self.plan.members {
            if let Some(key) = self.plan.services.get(svc).and_then(|s| s.key) {
                out.insert((key, m.addr, m.port), (svc.clone(), node.clone()));
            }
        }
        for svc in &self.cfg.services {
            if let (Some(sorry), Some(key)) = (
                svc.sorry_server,
                self.plan.services.get(&svc.name).and_then(|s| s.key),
            ) {
                out.entry((key, sorry.address, svc.sorry_port(&sorry)))
                    .or_insert((svc.name.clone(), "sorry-server".into()));
            }
        }
        out
    }

    fn why(
        &self,
        owners: &BTreeMap<(ServiceKey, IpAddr, u16), (String, String)>,
        names: &BTreeMap<ServiceKey, String>,
        op: &Op,
    ) -> (String, String, String) {
        let key = *op.service_key();
        let svc_name = names.get(&key).cloned().unwrap_or_default();
        let Some((addr, port)) = op.dest_addr() else {
            let why = match op {
                Op::DelService(_) => "service not in the configuration",
                Op::EditService(_) => "service settings differ from the configuration",
                _ => "service in the configuration",
            };
            return (svc_name, String::new(), why.into());
        };
        match owners.get(&(key, addr, port)) {
            Some((svc, node)) if node == "sorry-server" => {
                let sp = self.plan.services.get(svc);
                let why = if sp.is_some_and(|s| s.sorry_active) {
                    "below quorum: sorry server takes the traffic"
                } else {
                    "quorum met: sorry server not needed"
                };
                (svc.clone(), node.clone(), why.into())
            }
            Some((svc, node)) => {
                let why = self
                    .plan
                    .members
                    .get(&(svc.clone(), node.clone()))
                    .map(|m| m.why.clone())
                    .unwrap_or_default();
                (svc.clone(), node.clone(), why)
            }
            None => (svc_name, String::new(), "not in the configuration".into()),
        }
    }

    /// Re-reads the connection counters from the kernel when they are older than a second, so
    /// `lbctl status` and `drain --wait` see live counts (as `ipvsadm -Ln` would) without
    /// dumping more than once a second however often they ask. Every operator action marks
    /// them stale, so the first look after a drain sees every connection opened before it.
    /// A failed dump keeps the old counts.
    pub(super) fn refresh_conns(&mut self) {
        if self
            .conns_at
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        let result = {
            let kernel = &mut self.kernel;
            blocking(|| kernel.dump())
        };
        match result {
            Ok(entries) => {
                self.conns = conns_of(&entries);
                self.conns_at = Some(Instant::now());
            }
            Err(e) => tracing::warn!("cannot read connection counters: {e}"),
        }
    }

    /// Drift repair: reads the kernel's table and repairs what differs (owned services only).
    pub fn drift_pass(&mut self) -> PassReport {
        let result = {
            let kernel = &mut self.kernel;
            blocking(|| kernel.dump())
        };
        match result {
            Ok(entries) => {
                self.actual = Table::from_entries(&entries);
                self.conns = conns_of(&entries);
                self.conns_at = Some(Instant::now());
                // Not kept through the pass: at 10,000 real servers it is megabytes.
                drop(entries);
                let before = self.kernel.mutating();
                let r = self.reconcile("drift repair");
                self.drift_passes += 1;
                tracing::debug!(
                    mutating_ops = self.kernel.mutating() - before,
                    took_ms = r.took.as_millis() as u64,
                    "drift pass done"
                );
                crate::daemon::memory::trim();
                if let Some(m) = &self.metrics {
                    for (svc, n) in &r.by_service {
                        m.drift_repairs(svc, *n);
                    }
                }
                r
            }
            Err(e) => {
                tracing::error!(error = %e, "drift pass: cannot read the IPVS table");
                PassReport::default()
            }
        }
    }

    /// The state document of now.
    fn state_doc(&self) -> StateDoc {
        let mut doc = StateDoc {
            version: 1,
            admin: self.admin.clone(),
            event_seq: self.history.seq(),
            ..StateDoc::default()
        };
        doc.set_known(&self.nodes.known());
        for name in self.nodes.names() {
            if let Some(state) = self.nodes.state(name) {
                doc.nodes.insert(
                    name.clone(),
                    NodeRecord {
                        state,
                        since_ms: self.nodes.since_unix.get(name).copied().unwrap_or(0),
                    },
                );
            }
        }
        doc
    }

    /// Writes the state file if something changed (health changes at most once per
    /// [`PERSIST_GAP`] unless `force`).
    pub(super) fn persist(&mut self, force: bool) {
        if !force && !self.persist_pending {
            return;
        }
        if !force && self.last_persist.is_some_and(|t| t.elapsed() < PERSIST_GAP) {
            return;
        }
        let doc = self.state_doc();
        match self.persister.store(doc) {
            Ok(_) => {
                self.persist_pending = false;
                self.last_persist = Some(Instant::now());
            }
            Err(e) => tracing::error!(error = %e, "cannot save the state"),
        }
    }

    /// Re-reads the configuration directory. Invalid: every diagnostic is logged, the running
    /// configuration stays, the errors are returned. Valid: applied as a difference.
    pub fn reload(&mut self) -> Result<String, ConfigErrors> {
        systemd::reloading();
        let (cfg, warnings) = match reload::load(&self.dir) {
            Ok(x) => x,
            Err(e) => {
                for d in &e.errors {
                    tracing::error!("reload rejected: {d}");
                }
                self.history.record(
                    unix_ms(),
                    EventKind::Reload,
                    format!(
                        "reload rejected, the running configuration stays: {}",
                        e.errors
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    None,
                    None,
                );
                systemd::reloaded("reload rejected: the running configuration stays");
                return Err(e);
            }
        };
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let changed = reload::changed_services(&self.cfg, &cfg);
        // What the metrics knew, so that what leaves the configuration leaves them too.
        let old_pairs: Vec<_> = self.plan.members.keys().cloned().collect();
        let old_nodes: Vec<String> = self.nodes.names().cloned().collect();
        let old_services: Vec<String> = self.cfg.services.iter().map(|s| s.name.clone()).collect();
        let new_watches = reload::watches(&cfg);
        let wc = reload::watch_changes(&self.watches, &new_watches);
        let now = self.now();
        let kept = self
            .nodes
            .reconfigure(watches::node_configs(&cfg), now, unix_ms());
        // Services that leave the configuration are deleted by the next pass.
        let new_keys: BTreeSet<ServiceKey> = cfg
            .services
            .iter()
            .map(|s| crate::cli::apply::service_of(s).key)
            .collect();
        for k in self.owned() {
            if !new_keys.contains(&k) {
                self.removed.insert(k);
            }
        }
        self.cfg = cfg;
        self.watches = new_watches;
        let nodes = &self.nodes;
        let cfg = &self.cfg;
        self.admin
            .retain(|n, s| nodes.has_node(n) && s.is_none_or(|s| cfg.service(s).is_some()));
        if self.run_checks {
            for name in &wc.stop {
                self.stop_watch(name);
            }
            for name in &wc.start {
                self.start_watch(name);
            }
        }
        // Instances whose configuration changed restart; the others keep running.
        self.vrrp.apply(&self.cfg);
        let msg = format!(
            "reloaded: {} service(s) changed ({}), {} watch(es) restarted, {} unchanged, {} node(s) kept their state",
            changed.len(),
            changed.join(", "),
            wc.start.len(),
            wc.unchanged,
            kept
        );
        tracing::info!("{msg}");
        self.history
            .record(unix_ms(), EventKind::Reload, msg.clone(), None, None);
        let before = self.kernel.mutating();
        let r = self.reconcile("reload");
        if let Some(m) = &self.metrics {
            for pair in old_pairs
                .iter()
                .filter(|p| !self.plan.members.contains_key(*p))
            {
                m.forget_real_server(&pair.0, &pair.1);
            }
            for node in old_nodes.iter().filter(|n| !self.nodes.has_node(n)) {
                m.forget_node(node);
            }
            for service in old_services
                .iter()
                .filter(|s| self.cfg.service(s).is_none())
            {
                m.forget_service(service);
            }
        }
        tracing::info!(
            mutating_ops = self.kernel.mutating() - before,
            diff_ops = r.ops,
            failed = r.failed,
            "reload reconcile done"
        );
        self.persist(true);
        systemd::reloaded("running");
        Ok(format!("{msg}; {} operation(s) sent", r.ops))
    }

    fn start_watch(&mut self, name: &str) {
        let Some((spec, targets)) = self.watches.get(name) else {
            return;
        };
        let seed = unix_ms() ^ (self.running.len() as u64).wrapping_mul(0x9e37_79b9);
        let mut runner = Runner::new(CHECK_BUDGET, seed);
        if let Err(e) = runner.add_watch(spec, targets) {
            tracing::error!(service = name, error = %e, "cannot start the watch");
            return;
        }
        if let Some(m) = &self.metrics {
            runner.count_missed(m.missed_intervals(name));
        }
        let thread = match &mut self.checks {
            Some(t) => t,
            slot @ None => match CheckThread::start() {
                Ok(t) => slot.insert(t),
                Err(e) => {
                    tracing::error!(service = name, error = %e, "cannot start the check thread");
                    return;
                }
            },
        };
        let (tx, rx) = mpsc::channel(1024);
        let reports = self.reports_tx.clone();
        let task = thread.spawn(runner.run(rx, reports));
        self.running
            .insert(name.to_string(), Watch { commands: tx, task });
    }

    fn stop_watch(&mut self, name: &str) {
        if let Some(w) = self.running.remove(name) {
            let _ = w.commands.try_send(Command::Stop);
            drop(w.commands);
            drop(w.task);
        }
    }

    /// The event loop: runs until SIGTERM/SIGINT or `shutdown`; the IPVS table is left as it is.
    pub async fn run(
        mut self,
        mut inbox: ControlInbox,
        signals: Signals,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let Signals {
            mut hup,
            mut term,
            mut int,
        } = signals;
        if self.run_checks {
            let names: Vec<String> = self.watches.keys().cloned().collect();
            for n in names {
                self.start_watch(&n);
            }
        }
        let mut reports = self.reports_rx.take().unwrap_or_else(|| {
            let (_, rx) = mpsc::unbounded_channel();
            rx
        });
        let mut alert_records = self.alerts_rx.take().unwrap_or_else(|| {
            let (_, rx) = mpsc::unbounded_channel();
            rx
        });
        let drift_every = self.cfg.director.reconcile_interval;
        let mut drift =
            tokio::time::interval_at(tokio::time::Instant::now() + drift_every, drift_every);
        drift.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let wd = systemd::watchdog_tick();
        let mut watchdog = tokio::time::interval(wd.unwrap_or(Duration::from_secs(3600)));
        let mut persist_tick = tokio::time::interval(PERSIST_GAP);
        systemd::ready(&format!(
            "running: {} services, first reconcile sent {} operations",
            self.cfg.services.len(),
            self.first_pass.ops
        ));
        self.vrrp.start(&self.cfg);
        self.vrrp.track(&self.plan);
        let mut vrrp_tick = tokio::time::interval(Duration::from_millis(250));
        vrrp_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = term.recv() => { tracing::info!("SIGTERM: stopping, the IPVS table stays as it is"); break }
                _ = int.recv() => { tracing::info!("SIGINT: stopping, the IPVS table stays as it is"); break }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    let _ = self.reload();
                }
                Some(batch) = reports.recv() => {
                    for r in batch {
                        self.on_report(r);
                    }
                    while let Ok(batch) = reports.try_recv() {
                        for r in batch {
                            self.on_report(r);
                        }
                    }
                }
                Some(a) = alert_records.recv() => self.on_alert_record(a),
                Some((req, reply)) = inbox.requests.recv() => {
                    let resp = self.request(req);
                    let _ = reply.send(resp);
                }
                _ = drift.tick() => { self.drift_pass(); }
                _ = watchdog.tick(), if wd.is_some() => systemd::watchdog(),
                _ = persist_tick.tick() => self.persist(false),
                _ = vrrp_tick.tick() => self.observe_vrrp(),
            }
            if self.dirty {
                self.reconcile("health change");
            }
            self.vrrp.track(&self.plan);
        }
        systemd::stopping();
        self.vrrp.shutdown().await;
        for name in self.running.keys().cloned().collect::<Vec<_>>() {
            self.stop_watch(&name);
        }
        self.persist(true);
        tracing::info!(
            mutating_ops_total = self.kernel.mutating(),
            passes = self.passes,
            drift_passes = self.drift_passes,
            "stopped"
        );
        Ok(())
    }

    /// Where the state lives.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }
}

/// The netlink command of an operation, for the metrics.
fn op_name(op: &Op) -> &'static str {
    match op {
        Op::AddService(_) => "new_service",
        Op::EditService(_) => "set_service",
        Op::DelService(_) => "del_service",
        Op::AddDest { .. } => "new_dest",
        Op::EditDest { .. } => "set_dest",
        Op::DelDest { .. } => "del_dest",
    }
}

fn reason_for(service: &str, node: &str, pass: bool, summary: &str) -> String {
    if pass {
        format!("{service} check passes on {node}")
    } else {
        format!("{service} check fails on {node}: {summary}")
    }
}

/// What start-up knows of each pair: every configured real server the kernel has counts as
/// passing (with the load the state file remembered); the state file's health for the others.
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
        let key = crate::cli::apply::service_of(svc).key;
        let Some(have) = actual.services.get(&key) else {
            continue;
        };
        for node in cfg
            .hostgroup_of(svc)
            .map(|h| h.nodes.as_slice())
            .unwrap_or_default()
        {
            let port = crate::ipvs::normalise_dest_port(
                &key,
                crate::cli::apply::forward_of(svc),
                svc.real_port(node),
            );
            if let Some(d) = have.dests.get(&(node.address, port)) {
                let pair = (svc.name.clone(), node.name.clone());
                let load = known.get(&pair).and_then(|k| k.load);
                known.insert(pair.clone(), Known { up: true, load });
                previous.insert(pair, d.weight);
                adopted += 1;
            }
        }
    }
    (known, previous, adopted)
}
