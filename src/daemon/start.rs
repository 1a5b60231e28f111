//! Start-up: the configuration loaded and validated, the state file and the event history
//! read, the kernel's table dumped, the director started over them, the kernel thread started,
//! and the director's first effects carried out (its first batch is on its way when
//! [`Daemon::start`] returns; READY follows its end).

use super::checks::Checks;
use super::history::HistoryFile;
use super::kernel::{Kernel, KernelThread};
use super::persist::Persister;
use super::run::{unix_ms, Daemon};
use super::vrrp::VrrpSet;
use crate::config::ConfigErrors;
use crate::control::proto::EventRecord;
use crate::director::replay::Recorder;
use crate::director::{Director, Now, Start};
use crate::ipvs::IpvsError;
use crate::state::StateError;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;
use tokio::sync::{broadcast, mpsc};

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
    /// The process ends when [`Daemon::run`] returns (the `lbd` binary): the director's maps
    /// (a plan, a mirror and the health of 50,000 pairs at 1,000 × 50) are left to the
    /// operating system instead of being freed one allocation at a time on the way out.
    pub exit_after_run: bool,
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
        let handling = Instant::now();
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
            metrics_fill: None,
            replies: HashMap::new(),
            next_request: 1,
            recorder,
            out: BTreeMap::new(),
            passes_started: HashMap::new(),
            queue: VecDeque::new(),
            ready: false,
            handling,
            reloading: false,
            opts,
        };
        d.execute(effects);
        Ok(d)
    }

    /// Records into `metrics` from now on. What is known so far is filled in by the loop, a
    /// chunk at a time when nothing else waits ([`Daemon::fill_metrics`]): at 1,000 × 50 the
    /// per-real-server series take seconds to create in a debug build under emulation, and a
    /// stop must not wait for them.
    pub fn set_metrics(&mut self, metrics: crate::metrics::Metrics) {
        let d = &self.director;
        for name in d.health().names() {
            if let Some(st) = d.health().state(name) {
                metrics.node_state(name, st);
            }
        }
        for (name, sp) in &d.plan().services {
            metrics.guard_held(name, sp.guard_held.len());
            metrics.service_quorum(name, sp.quorum_met, sp.sorry_active);
        }
        self.metrics = Some(metrics);
        self.metrics_fill = Some(None);
    }

    /// Sets the series of up to `n` more real servers, from the plan as it is now (so a
    /// change observed meanwhile is never overwritten by an older value). `false` when done.
    pub(super) fn fill_metrics(&mut self, n: usize) -> bool {
        use std::ops::Bound;
        let (Some(metrics), Some(cursor)) = (&self.metrics, self.metrics_fill.take()) else {
            return false;
        };
        let members = &self.director.plan().members;
        let range = match &cursor {
            Some(k) => members.range((Bound::Excluded(k.clone()), Bound::Unbounded)),
            None => members.range::<(String, String), _>(..),
        };
        let mut last = None;
        for ((svc, node), m) in range.take(n) {
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
            last = Some((svc.clone(), node.clone()));
        }
        match last {
            Some(k) => {
                self.metrics_fill = Some(Some(k));
                true
            }
            None => false,
        }
    }

    /// The director (for tests and views).
    pub fn director(&self) -> &Director {
        &self.director
    }

    /// Mutating operations the kernel client has sent since start.
    pub fn mutating_ops(&self) -> u64 {
        self.kernel.mutating()
    }
}
