//! The event loop: the tokio edge around the [`Director`]. It reads the inputs (check reports,
//! kernel results, control requests, signals, alert results, VRRP views, timers), feeds each
//! to the director with the time, and carries out the effects: batches and dumps on the kernel
//! thread, the state file, the history file and its followers, alerts, watches, VRRP, replies,
//! metrics. SIGHUP reloads; SIGTERM/SIGINT stop: the table is left as it is (never flushed),
//! what a batch still had to send is not sent, checks, monitors and alerts are ended with
//! their process groups, the state is written, and the VRRP instances step down.

use super::checks::Checks;
use super::history::HistoryFile;
use super::kernel::{Done, Kernel, KernelThread};
use super::persist::Persister;
use super::vrrp::VrrpSet;
use super::{observe, systemd};
use crate::config::{ConfigErrors, Diagnostic};
use crate::control::proto::{EventRecord, Request, Response, VrrpView};
use crate::director::replay::Recorder;
use crate::director::{
    Batch, Director, Effect, Input, LoadFor, Now, Observation, Start, DRIFT_CAUSE, RELOAD_CAUSE,
    START_CAUSE,
};
use crate::ipvs::IpvsError;
use crate::monitor::alert::{AlertQueues, AlertRecord};
use crate::monitor::CheckReport;
use crate::state::StateError;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot};

/// How start-up goes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config_dir: PathBuf,
    /// Overrides the configuration's `state_dir`.
    pub state_dir: Option<PathBuf>,
    /// Run the health checks (tests that feed reports themselves turn them off).
    pub run_checks: bool,
    /// Record every input and effect into this file (`lbd --record FILE`).
    pub record: Option<PathBuf>,
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
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot record to {path}: {source}")]
    Record {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The receiving end of the control channel, owned by the loop.
pub struct ControlInbox {
    pub requests: mpsc::Receiver<(Request, oneshot::Sender<Response>)>,
    /// Inputs from outside (tests feed check reports here when the checks do not run).
    pub inputs: mpsc::UnboundedReceiver<Input>,
}

/// A control handle and the inbox the loop reads.
pub fn control_channel() -> (super::ControlHandle, ControlInbox) {
    let (tx, rx) = mpsc::channel(64);
    let (inputs_tx, inputs) = mpsc::unbounded_channel();
    let (events, _) = broadcast::channel(1024);
    (
        super::ControlHandle {
            requests: tx,
            events,
            inputs: inputs_tx,
        },
        ControlInbox {
            requests: rx,
            inputs,
        },
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

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A configuration loaded on its thread, for the purpose it was loaded for.
type Loaded = (LoadFor, Result<Box<crate::config::Config>, Vec<Diagnostic>>);

/// A batch out to the kernel: what the metrics and the log need when it comes back.
struct Out {
    batch: Batch,
    mutating_before: u64,
    /// When its pass started.
    since: Instant,
}

/// The running daemon.
pub struct Daemon {
    director: Director,
    opts: Options,
    started: Instant,
    kernel: KernelThread,
    kernel_done: Option<mpsc::UnboundedReceiver<Done>>,
    persister: Persister,
    history: HistoryFile,
    events: broadcast::Sender<EventRecord>,
    checks: Checks,
    reports: Option<mpsc::UnboundedReceiver<Vec<CheckReport>>>,
    alerts: Option<AlertQueues>,
    alerts_tx: mpsc::UnboundedSender<AlertRecord>,
    alerts_rx: Option<mpsc::UnboundedReceiver<AlertRecord>>,
    loads_tx: mpsc::UnboundedSender<Loaded>,
    loads_rx: Option<mpsc::UnboundedReceiver<Loaded>>,
    vrrp: VrrpSet,
    vrrp_seen: Vec<VrrpView>,
    metrics: Option<crate::metrics::Metrics>,
    replies: HashMap<u64, oneshot::Sender<Response>>,
    next_request: u64,
    recorder: Option<Recorder<BufWriter<File>>>,
    /// Batches out to the kernel, by id.
    out: BTreeMap<u64, Out>,
    /// Passes whose end the log reports (start-up, drift, reload), by batch id.
    passes_started: HashMap<u64, (String, Instant)>,
    /// Inputs produced while carrying out effects (a failover's result), fed next.
    queue: VecDeque<Input>,
    /// Whether the first pass is done (READY is sent then).
    ready: bool,
    /// `RELOADING=1` was sent: `READY=1` follows the reload's end.
    reloading: bool,
}

impl Daemon {
    /// Loads the configuration and the state, reads the kernel's table, and starts the
    /// director: the first batch is on its way when this returns (its end is logged as `first
    /// reconcile done`, and READY follows it).
    pub fn start(
        opts: Options,
        mut kernel: Box<dyn Kernel>,
        events: broadcast::Sender<EventRecord>,
    ) -> Result<Daemon, StartError> {
        let loaded = crate::config::load(&opts.config_dir).map_err(StartError::Config)?;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let cfg = loaded.config;
        tracing::info!(dir = %opts.config_dir.display(), services = cfg.services.len(), "configuration loaded");
        let state_dir = opts
            .state_dir
            .clone()
            .unwrap_or_else(|| cfg.director.state_dir.clone());
        let (persister, doc) = Persister::open(&state_dir)?;
        let (history, records) =
            HistoryFile::open(&state_dir).map_err(|source| StartError::History {
                path: state_dir.join(super::history::HISTORY_FILE),
                source,
            })?;
        let dump = kernel.dump()?;
        tracing::info!(services = dump.len(), "kernel table read");
        let start = Start {
            config: cfg,
            history_seq: doc.event_seq,
            state: doc,
            history: records,
            dump,
        };
        let started = Instant::now();
        let now = Now {
            mono: 0,
            unix: unix_ms(),
        };
        let mut recorder = match &opts.record {
            Some(path) => {
                let f = File::create(path).map_err(|source| StartError::Record {
                    path: path.clone(),
                    source,
                })?;
                Some(Recorder::new(BufWriter::new(f)))
            }
            None => None,
        };
        let start_line = recorder.as_ref().map(|_| start.clone());
        let (director, effects) = Director::new(now, start);
        if let (Some(r), Some(s)) = (recorder.as_mut(), start_line) {
            if let Err(e) = r.start(now, &s, &effects) {
                tracing::warn!("cannot record: {e}");
            }
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let kernel = KernelThread::start(kernel, done_tx).map_err(StartError::Thread)?;
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let (alerts_tx, alerts_rx) = mpsc::unbounded_channel();
        let (loads_tx, loads_rx) = mpsc::unbounded_channel();
        let mut d = Daemon {
            director,
            started,
            kernel,
            kernel_done: Some(done_rx),
            persister,
            history,
            events,
            checks: Checks::new(reports_tx, now.unix),
            reports: Some(reports_rx),
            alerts: None,
            alerts_tx,
            alerts_rx: Some(alerts_rx),
            loads_tx,
            loads_rx: Some(loads_rx),
            vrrp: VrrpSet::default(),
            vrrp_seen: Vec::new(),
            metrics: None,
            replies: HashMap::new(),
            next_request: 1,
            recorder,
            out: BTreeMap::new(),
            passes_started: HashMap::new(),
            queue: VecDeque::new(),
            ready: false,
            reloading: false,
            opts,
        };
        d.execute(effects);
        Ok(d)
    }

    /// Records into `metrics` from now on (what is known so far included).
    pub fn set_metrics(&mut self, metrics: crate::metrics::Metrics) {
        let d = &self.director;
        for name in d.health().names() {
            if let Some(st) = d.health().state(name) {
                metrics.node_state(name, st);
            }
        }
        for ((svc, node), m) in &d.plan().members {
            metrics.real_server_in_table(svc, node, m.weight.is_some());
            metrics.real_server(
                svc,
                node,
                match m.check {
                    crate::director::Check::Offline => 0,
                    crate::director::Check::Up => 1,
                    crate::director::Check::Down => 2,
                    crate::director::Check::Unknown => 3,
                },
                i64::from(m.weight.unwrap_or(0)),
                m.admin.number(),
            );
        }
        for (name, sp) in &d.plan().services {
            metrics.guard_held(name, sp.guard_held.len());
        }
        self.metrics = Some(metrics);
    }

    /// The director (for tests and views).
    pub fn director(&self) -> &Director {
        &self.director
    }

    /// Mutating operations the kernel client has sent since start.
    pub fn mutating_ops(&self) -> u64 {
        self.kernel.mutating()
    }

    fn now(&self) -> Now {
        Now {
            mono: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            unix: unix_ms(),
        }
    }

    /// Feeds one input (and those its effects produce).
    fn feed(&mut self, input: Input) {
        self.queue.push_back(input);
        while let Some(input) = self.queue.pop_front() {
            let now = self.now();
            if let Some(r) = self.recorder.as_mut() {
                if let Err(e) = r.input(now, &input) {
                    tracing::warn!("cannot record: {e}");
                }
            }
            let effects = self.director.handle(now, input);
            if let Some(r) = self.recorder.as_mut() {
                if let Err(e) = r.effects(&effects) {
                    tracing::warn!("cannot record: {e}");
                }
            }
            self.execute(effects);
        }
    }

    fn execute(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Apply(batch) => {
                    let since = self
                        .passes_started
                        .get(&batch.id)
                        .map_or_else(Instant::now, |(_, t)| *t);
                    self.out.insert(
                        batch.id,
                        Out {
                            batch: batch.clone(),
                            mutating_before: self.kernel.mutating(),
                            since,
                        },
                    );
                    self.kernel.apply(batch);
                }
                Effect::Dump => self.kernel.dump(),
                Effect::Persist(doc) => {
                    if let Err(e) = self.persister.store(doc) {
                        tracing::error!(error = %e, "cannot save the state");
                    }
                }
                Effect::Record(r) => {
                    self.history.append(&r);
                    let _ = self.events.send(r);
                }
                // Outside a runtime (never in the daemon) the history record is all there is.
                Effect::Alert(_) if tokio::runtime::Handle::try_current().is_err() => {}
                Effect::Alert(run) => {
                    let tx = self.alerts_tx.clone();
                    self.alerts
                        .get_or_insert_with(|| AlertQueues::new(tx))
                        .send(run.alerts, run.call, run.timeout);
                }
                Effect::StartWatch { id, spec, targets } => {
                    if self.opts.run_checks {
                        self.checks
                            .start(id, &spec, &targets, self.metrics.as_ref());
                    }
                }
                Effect::StopWatch { id } => self.checks.stop(&id),
                Effect::Cadence {
                    watch,
                    node,
                    cadence,
                } => self.checks.cadence(watch, node, cadence),
                Effect::Vrrp(setup) => self.vrrp.apply(setup),
                Effect::Track { service, up } => self.vrrp.track(&service, up),
                Effect::Failover {
                    id,
                    instance,
                    clear,
                } => {
                    let response = self.vrrp.failover(instance.as_deref(), clear);
                    self.queue.push_back(Input::FailoverDone { id, response });
                }
                Effect::LoadConfig { purpose } => self.load_config(purpose),
                Effect::Reply { id, response } => {
                    if let Some(tx) = self.replies.remove(&id) {
                        let _ = tx.send(response);
                    }
                }
                Effect::Observe(o) => {
                    if let Observation::Pass { cause, batch, .. } = &o {
                        self.pass_started(cause, *batch);
                    }
                    if let Some(m) = &self.metrics {
                        observe::observation(m, &o);
                    }
                }
            }
        }
    }

    /// Loads the configuration directory on a thread of its own (1,000 service files take a
    /// while; the loop goes on meanwhile, and a stop does not wait for it).
    fn load_config(&mut self, purpose: LoadFor) {
        if matches!(purpose, LoadFor::Reload { .. }) {
            systemd::reloading();
            self.reloading = true;
        }
        let dir = self.opts.config_dir.clone();
        let tx = self.loads_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("lbd-config".into())
            .spawn(move || {
                let result = crate::config::load(&dir)
                    .map(|l| {
                        for w in &l.warnings {
                            tracing::warn!("{w}");
                        }
                        Box::new(l.config)
                    })
                    .map_err(|e| e.errors);
                let _ = tx.send((purpose, result));
            });
        if let Err(e) = spawned {
            let d = Diagnostic {
                severity: crate::config::Severity::Error,
                file: self.opts.config_dir.clone(),
                line: 0,
                column: 0,
                message: format!("cannot start a thread to load it: {e}"),
                hint: None,
            };
            let _ = self.loads_tx.send((purpose, Err(vec![d])));
        }
    }

    /// A pass computed its plan: its end is logged now (nothing to send) or when its batch is
    /// back.
    fn pass_started(&mut self, cause: &str, batch: Option<u64>) {
        match batch {
            Some(id) => {
                self.passes_started
                    .insert(id, (cause.to_string(), Instant::now()));
            }
            None => self.pass_done(cause, 0, 0, 0, Duration::ZERO),
        }
    }

    /// Logs the end of a pass the tests and operators look for.
    fn pass_done(
        &mut self,
        cause: &str,
        diff_ops: usize,
        failed: usize,
        mutating: u64,
        took: Duration,
    ) {
        let took_ms = took.as_millis() as u64;
        match cause {
            START_CAUSE => {
                // The IPVS client's own count of the mutating messages it sent.
                tracing::info!(
                    mutating_ops = self.kernel.mutating(),
                    diff_ops,
                    failed,
                    took_ms,
                    "first reconcile done"
                );
            }
            DRIFT_CAUSE => {
                tracing::debug!(mutating_ops = mutating, took_ms, "drift pass done");
                super::memory::trim();
            }
            RELOAD_CAUSE => {
                tracing::info!(
                    mutating_ops = mutating,
                    diff_ops,
                    failed,
                    "reload reconcile done"
                );
            }
            _ => {}
        }
        if let Some(m) = &self.metrics {
            m.reconcile_pass(took);
        }
        if cause == START_CAUSE && !self.ready {
            self.ready = true;
            systemd::ready("running: first reconcile done");
        }
    }

    fn on_kernel(&mut self, done: Done) {
        match done {
            Done::Dumped(Ok(entries)) => self.feed(Input::Dumped { entries }),
            Done::Dumped(Err(error)) => self.feed(Input::DumpFailed { error }),
            Done::Applied {
                id,
                refused,
                unsent,
                error,
                errors,
                took: _,
            } => {
                if let Some(o) = self.out.remove(&id) {
                    let n = o.batch.changes.len();
                    let sent = unsent.unwrap_or(n);
                    if let Some(m) = &self.metrics {
                        observe::batch(m, &o.batch, sent, &errors);
                    }
                    let mutating = self.kernel.mutating() - o.mutating_before;
                    let failed = refused.len() + (n - sent.min(n));
                    let cause = self
                        .passes_started
                        .remove(&id)
                        .map(|(c, _)| c)
                        .unwrap_or(o.batch.cause.clone());
                    self.feed(Input::Applied {
                        id,
                        refused,
                        unsent,
                        error,
                    });
                    self.pass_done(&cause, n, failed, mutating, o.since.elapsed());
                } else {
                    self.feed(Input::Applied {
                        id,
                        refused,
                        unsent,
                        error,
                    });
                }
            }
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
        let mut reports = self
            .reports
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1);
        let mut alert_records = self
            .alerts_rx
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1);
        let mut kernel_done = self
            .kernel_done
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1);
        let mut loads = self
            .loads_rx
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1);
        let wd = systemd::watchdog_tick();
        let mut watchdog = tokio::time::interval(wd.unwrap_or(Duration::from_secs(3600)));
        let mut vrrp_tick = tokio::time::interval(Duration::from_millis(250));
        vrrp_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let timer = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(timer);
        tokio::pin!(shutdown);
        loop {
            let due = self
                .director
                .poll_timeout()
                .map(|ms| tokio::time::Instant::from_std(self.started + Duration::from_millis(ms)));
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            timer.as_mut().reset(due.unwrap_or(far));
            tokio::select! {
                _ = &mut shutdown => break,
                _ = term.recv() => { tracing::info!("SIGTERM: stopping, the IPVS table stays as it is"); break }
                _ = int.recv() => { tracing::info!("SIGINT: stopping, the IPVS table stays as it is"); break }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    self.load_config(LoadFor::Reload { request: None });
                }
                Some(done) = kernel_done.recv() => self.on_kernel(done),
                Some(batch) = reports.recv() => {
                    let mut all = batch;
                    while let Ok(more) = reports.try_recv() {
                        all.extend(more);
                    }
                    if let Some(m) = &self.metrics {
                        observe::checks(m, &all);
                    }
                    self.feed(Input::Checks { reports: all });
                }
                Some(a) = alert_records.recv() => {
                    if let Some(m) = &self.metrics {
                        observe::alert(m, &a);
                    }
                    self.feed(Input::AlertDone { record: a });
                }
                Some((request, reply)) = inbox.requests.recv() => {
                    let id = self.next_request;
                    self.next_request += 1;
                    self.replies.insert(id, reply);
                    self.feed(Input::Request { id, request });
                }
                Some(input) = inbox.inputs.recv() => {
                    if let (Some(m), Input::Checks { reports }) = (&self.metrics, &input) {
                        observe::checks(m, reports);
                    }
                    self.feed(input);
                }
                Some((purpose, result)) = loads.recv() => {
                    let reload = matches!(purpose, LoadFor::Reload { .. });
                    self.feed(Input::Config { purpose, result });
                    if reload && self.reloading {
                        self.reloading = false;
                        systemd::reloaded("running");
                    }
                }
                _ = &mut timer => self.feed(Input::Tick),
                _ = watchdog.tick(), if wd.is_some() => systemd::watchdog(),
                _ = vrrp_tick.tick() => {
                    self.vrrp.observe(self.metrics.as_ref());
                    let views = self.vrrp.views();
                    if views != self.vrrp_seen {
                        self.vrrp_seen = views.clone();
                        self.feed(Input::Vrrp { views });
                    }
                }
            }
        }
        self.stop().await;
        Ok(())
    }

    /// Everything a stop does, in order: no more operations after the current chunk, checks and
    /// alerts ended, the state written, the VRRP instances stepped down.
    async fn stop(&mut self) {
        let t0 = Instant::now();
        systemd::stopping();
        self.kernel.stopping();
        self.checks.stop_all();
        if let Some(a) = self.alerts.take() {
            a.shutdown();
        }
        self.feed(Input::Stop);
        self.vrrp.shutdown().await;
        let c = self.director.counters;
        tracing::info!(
            mutating_ops_total = self.kernel.mutating(),
            passes = c.passes,
            drift_passes = c.drift_passes,
            took_ms = t0.elapsed().as_millis() as u64,
            "stopped"
        );
    }
}
