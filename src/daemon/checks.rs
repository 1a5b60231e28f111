//! The watches the director asked for, running on the check thread (`lbd-checks`): one
//! [`Runner`] per watch, started and stopped as [`crate::director::Effect::StartWatch`] /
//! `StopWatch` say, steered by `Cadence`, its reports batched into one channel the event loop
//! reads. Stopping them all (dropping the thread) kills every external monitor still running,
//! with its process group.

use crate::metrics::Metrics;
use crate::monitor::{CheckReport, CheckThread, Command, Runner, Target, WatchId, WatchSpec};
use crate::node::Cadence;
use std::collections::BTreeMap;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Checks in flight per watch.
const CHECK_BUDGET: usize = 512;

struct Watch {
    commands: mpsc::Sender<Command>,
    _task: JoinHandle<crate::monitor::Stats>,
}

/// The running watches.
pub struct Checks {
    thread: Option<CheckThread>,
    running: BTreeMap<WatchId, Watch>,
    reports: mpsc::UnboundedSender<Vec<CheckReport>>,
    /// Seeds the runners' randskew and first spread.
    seed: u64,
}

impl Checks {
    /// Reports of every watch go to `reports`.
    pub fn new(reports: mpsc::UnboundedSender<Vec<CheckReport>>, seed: u64) -> Self {
        Checks {
            thread: None,
            running: BTreeMap::new(),
            reports,
            seed,
        }
    }

    /// Starts watch `id` (replacing one of the same id).
    pub fn start(
        &mut self,
        id: WatchId,
        spec: &WatchSpec,
        targets: &[Target],
        metrics: Option<&Metrics>,
    ) {
        self.stop(&id);
        let seed = self.seed ^ (self.running.len() as u64 + 1).wrapping_mul(0x9e37_79b9);
        let mut runner = Runner::new(CHECK_BUDGET, seed);
        if let Err(e) = runner.add_watch(&id, spec, targets) {
            tracing::error!(watch = %id, error = %e, "cannot start the watch");
            return;
        }
        if let (Some(m), WatchId::Service(name)) = (metrics, &id) {
            runner.count_missed(m.missed_intervals(name));
        }
        let thread = match &mut self.thread {
            Some(t) => t,
            slot @ None => match CheckThread::start() {
                Ok(t) => slot.insert(t),
                Err(e) => {
                    tracing::error!(watch = %id, error = %e, "cannot start the check thread");
                    return;
                }
            },
        };
        let (tx, rx) = mpsc::channel(1024);
        let task = thread.spawn(runner.run(rx, self.reports.clone()));
        self.running.insert(
            id,
            Watch {
                commands: tx,
                _task: task,
            },
        );
    }

    pub fn stop(&mut self, id: &WatchId) {
        if let Some(w) = self.running.remove(id) {
            let _ = w.commands.try_send(Command::Stop);
        }
    }

    pub fn cadence(&self, watch: WatchId, node: String, cadence: Cadence) {
        if let Some(w) = self.running.get(&watch) {
            let _ = w.commands.try_send(Command::Cadence {
                watch,
                node,
                cadence,
            });
        }
    }

    /// Stops every watch and the thread: checks in flight are dropped, monitors killed.
    pub fn stop_all(&mut self) {
        let ids: Vec<WatchId> = self.running.keys().cloned().collect();
        for id in &ids {
            self.stop(id);
        }
        self.thread = None;
    }
}
