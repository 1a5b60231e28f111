//! The event loop: the tokio edge around the [`Director`]. It reads the inputs (check reports,
//! kernel results, control requests, signals, alert results, VRRP views, timers), feeds each
//! to the director with the time, and carries out the effects: batches and dumps on the kernel
//! thread, the state file, the history file and its followers, alerts, watches, VRRP, replies,
//! metrics. SIGHUP reloads; SIGTERM/SIGINT stop: the table is left as it is (never flushed),
//! what a batch still had to send is not sent, checks, monitors and alerts are ended with
//! their process groups, the state is written, and the VRRP instances step down.

use super::checks::Checks;
use super::history::HistoryFile;
use super::kernel::{Done, KernelThread};
use super::persist::Persister;
use super::start::Options;
use super::vrrp::VrrpSet;
use super::{observe, systemd};
use crate::config::Diagnostic;
use crate::control::proto::{EventRecord, Request, Response, VrrpView};
use crate::director::replay::Recorder;
use crate::director::{Batch, Director, Input, LoadFor, DRIFT_CAUSE, RELOAD_CAUSE, START_CAUSE};
use crate::monitor::alert::{AlertQueues, AlertRecord};
use crate::monitor::CheckReport;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot};

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
    /// The same stop signals, for the watcher that tells the kernel thread at once.
    early: (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
}

impl Signals {
    /// Must be called inside a tokio runtime.
    pub fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            early: (
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ),
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

/// Real servers whose metric series one turn of the loop sets after start.
const METRICS_CHUNK: usize = 1000;

/// A batch out to the kernel: what the metrics and the log need when it comes back.
pub(super) struct Out {
    pub(super) batch: Batch,
    pub(super) mutating_before: u64,
    /// When its pass started.
    pub(super) since: Instant,
}

/// The running daemon.
pub struct Daemon {
    pub(super) director: Director,
    pub(super) opts: Options,
    pub(super) started: Instant,
    pub(super) kernel: KernelThread,
    pub(super) kernel_done: Option<mpsc::UnboundedReceiver<Done>>,
    pub(super) persister: Persister,
    pub(super) history: HistoryFile,
    pub(super) events: broadcast::Sender<EventRecord>,
    pub(super) checks: Checks,
    pub(super) reports: Option<mpsc::UnboundedReceiver<Vec<CheckReport>>>,
    pub(super) alerts: Option<AlertQueues>,
    pub(super) alerts_tx: mpsc::UnboundedSender<AlertRecord>,
    pub(super) alerts_rx: Option<mpsc::UnboundedReceiver<AlertRecord>>,
    pub(super) loads_tx: mpsc::UnboundedSender<Loaded>,
    pub(super) loads_rx: Option<mpsc::UnboundedReceiver<Loaded>>,
    pub(super) vrrp: VrrpSet,
    pub(super) vrrp_seen: Vec<VrrpView>,
    pub(super) metrics: Option<crate::metrics::Metrics>,
    /// The real servers' series still to set since [`Daemon::set_metrics`]: `Some(after)`,
    /// the last pair set (`None`: from the first).
    pub(super) metrics_fill: Option<Option<(String, String)>>,
    pub(super) replies: HashMap<u64, oneshot::Sender<Response>>,
    pub(super) next_request: u64,
    pub(super) recorder: Option<Recorder<BufWriter<File>>>,
    /// Batches out to the kernel, by id.
    pub(super) out: BTreeMap<u64, Out>,
    /// Passes whose end the log reports (start-up, drift, reload), by batch id.
    pub(super) passes_started: HashMap<u64, (String, Instant)>,
    /// Inputs produced while carrying out effects (a failover's result), fed next.
    pub(super) queue: VecDeque<Input>,
    /// When the director started handling the current input (a pass's duration starts there).
    pub(super) handling: Instant,
    /// Whether the first pass is done (READY is sent then).
    pub(super) ready: bool,
    /// `RELOADING=1` was sent: `READY=1` follows the reload's end.
    pub(super) reloading: bool,
}

impl Daemon {
    /// A pass computed its plan: its end is logged now (nothing to send) or when its batch is
    /// back.
    pub(super) fn pass_started(&mut self, cause: &str, batch: Option<u64>) {
        match batch {
            Some(id) => {
                self.passes_started
                    .insert(id, (cause.to_string(), self.handling));
            }
            None => self.pass_done(cause, 0, 0, 0, self.handling.elapsed()),
        }
    }

    /// Logs the end of a pass the tests and operators look for.
    pub(super) fn pass_done(
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

    pub(super) fn on_kernel(&mut self, done: Done) {
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
            early: (mut early_term, mut early_int),
        } = signals;
        // A stop reaches the kernel thread at once, even while the loop is inside a long pass
        // (a pass over 1,000 x 50 takes seconds in a debug build under emulation): it sends no
        // further chunk of a batch. The loop does the rest of the stop when it gets there.
        let flag = self.kernel.stop_flag();
        let early = tokio::spawn(async move {
            tokio::select! {
                _ = early_term.recv() => {}
                _ = early_int.recv() => {}
            }
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        });
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
            // In this order: signals, the kernel's results, operators' requests and the other
            // inputs, timers, and the check reports last (a burst of them must not keep a
            // status or a SIGTERM waiting).
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = term.recv() => { tracing::info!("SIGTERM: stopping, the IPVS table stays as it is"); break }
                _ = int.recv() => { tracing::info!("SIGINT: stopping, the IPVS table stays as it is"); break }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    self.load_config(LoadFor::Reload { request: None });
                }
                Some(done) = kernel_done.recv() => self.on_kernel(done),
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
                // READY first: the watchdog is petted once the first pass is done (systemd
                // enforces it from READY on; TimeoutStartSec covers the start-up).
                _ = watchdog.tick(), if wd.is_some() && self.ready => systemd::watchdog(),
                _ = vrrp_tick.tick() => {
                    self.vrrp.observe(self.metrics.as_ref());
                    let views = self.vrrp.views();
                    if views != self.vrrp_seen {
                        self.vrrp_seen = views.clone();
                        self.feed(Input::Vrrp { views });
                    }
                }
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
                // Last: the start-up metrics, a chunk when nothing else waits.
                _ = std::future::ready(()), if self.metrics_fill.is_some() => {
                    self.fill_metrics(METRICS_CHUNK);
                }
            }
        }
        early.abort();
        self.stop().await;
        if self.opts.exit_after_run {
            // The trace is flushed; the rest is the operating system's to free.
            drop(self.recorder.take());
            std::mem::forget(self);
        }
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
        let checks_ms = t0.elapsed().as_millis() as u64;
        self.feed(Input::Stop);
        let state_ms = t0.elapsed().as_millis() as u64 - checks_ms;
        self.vrrp.shutdown().await;
        let c = self.director.counters;
        tracing::info!(
            mutating_ops_total = self.kernel.mutating(),
            passes = c.passes,
            drift_passes = c.drift_passes,
            checks_ms,
            state_ms,
            took_ms = t0.elapsed().as_millis() as u64,
            "stopped"
        );
    }
}
