//! The tokio shell around the scheduler: it sleeps until the next due check, starts each check
//! as its own task under the check's timeout (so a slow or hung check never delays the others
//! or this loop), and reports every node's outcome, in batches gathered over at most
//! [`REPORT_BATCH`] (one wake-up of the daemon per batch, not per check). The concurrency
//! budget lives in the pure
//! [`Scheduler`]; the daemon steers cadences (failed / now / normal) through [`Command`]s.

use super::checks::{Pingers, Prepared};
use super::external;
use super::outcome::{CheckError, Outcome};
use super::schedule::{CheckId, Pace, Scheduler, Stats};
use super::spec::{WatchId, WatchSpec};
use super::Millis;
use crate::node::Cadence;
use prometheus_client::metrics::counter::Counter;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long finished checks are gathered before they are reported together.
pub const REPORT_BATCH: Duration = Duration::from_millis(10);

/// One node a watch checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub node: String,
    pub addr: IpAddr,
}

/// The outcome of one check of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The service's watch, or the hostgroup's ping watch.
    pub watch: WatchId,
    pub node: String,
    pub outcome: Outcome,
    /// When the check started (ms since the runner started).
    pub started: Millis,
    pub duration_ms: u64,
}

/// Steering from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The node state machine's `ScheduleCheck` for (watch, node).
    Cadence {
        watch: WatchId,
        node: String,
        cadence: Cadence,
    },
    Stop,
}

struct Job {
    watch: WatchId,
    group: String,
    service: String,
    check: Prepared,
    targets: Vec<Target>,
    timeout: Duration,
    /// The local address the check's sockets bind (the watch's `source`).
    source: Option<IpAddr>,
}

/// The check runner.
pub struct Runner {
    scheduler: Scheduler,
    jobs: Vec<Arc<Job>>,
    lookup: HashMap<(WatchId, String), CheckId>,
    start: Instant,
    pingers: Arc<Pingers>,
    /// Incremented with the scheduler's missed intervals as they happen.
    missed: Option<Counter>,
}

impl Runner {
    /// At most `budget` checks in flight; `seed` drives randskew and the initial spread.
    pub fn new(budget: usize, seed: u64) -> Self {
        Runner {
            scheduler: Scheduler::new(budget, seed),
            jobs: Vec::new(),
            lookup: HashMap::new(),
            start: Instant::now(),
            pingers: Arc::new(Pingers::default()),
            missed: None,
        }
    }

    /// Counts the intervals this runner misses into `counter` (a metric) while it runs.
    pub fn count_missed(&mut self, counter: Counter) {
        self.missed = Some(counter);
    }

    fn now(&self) -> Millis {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Adds watch `id` over its nodes: one check per node, or one run per interval for all
    /// nodes for an external monitor.
    pub fn add_watch(
        &mut self,
        id: &WatchId,
        watch: &WatchSpec,
        targets: &[Target],
    ) -> Result<(), CheckError> {
        let check = Prepared::new(&watch.monitor)?;
        let per_group = matches!(check, Prepared::External(_));
        let groups: Vec<Vec<Target>> = if per_group {
            vec![targets.to_vec()]
        } else {
            targets.iter().map(|t| vec![t.clone()]).collect()
        };
        let now = self.now();
        for group in groups {
            // A built-in check costs no process: every node is checked within a second of the
            // start; external monitors fork, so their first runs spread over the interval.
            let check_id = if per_group {
                self.scheduler.add(watch.timing(), now)
            } else {
                self.scheduler.add_soon(watch.timing(), now)
            };
            for t in &group {
                self.lookup.insert((id.clone(), t.node.clone()), check_id);
            }
            debug_assert_eq!(check_id.0 as usize, self.jobs.len());
            self.jobs.push(Arc::new(Job {
                watch: id.clone(),
                group: watch.group.clone(),
                service: watch.service.clone(),
                check: check.clone(),
                targets: group,
                timeout: watch.timeout,
                source: watch.source,
            }));
        }
        Ok(())
    }

    /// Runs until `Stop` or until the command channel closes; returns the scheduler's counters.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        reports: mpsc::UnboundedSender<Vec<CheckReport>>,
    ) -> Stats {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(CheckId, Vec<CheckReport>)>();
        let far = || Instant::now() + Duration::from_secs(3600);
        let sleep = tokio::time::sleep_until(far().into());
        tokio::pin!(sleep);
        let mut armed: Option<Millis> = None;
        // Reports gathered since the first one, sent when `flush` fires.
        let mut batch: Vec<CheckReport> = Vec::new();
        let flush = tokio::time::sleep_until(far().into());
        tokio::pin!(flush);
        let mut missed = 0;
        loop {
            self.report_missed(&mut missed);
            let now = self.now();
            while let Some(d) = self.scheduler.poll_due(now) {
                let Some(job) = self.jobs.get(d.id.0 as usize).cloned() else {
                    self.scheduler.complete(d.id, now);
                    continue;
                };
                let done = done_tx.clone();
                let pingers = self.pingers.clone();
                tokio::spawn(async move {
                    let reports = run_job(&job, &pingers, now).await;
                    let _ = done.send((d.id, reports));
                });
            }
            // Re-arm the timer only when the next due time changed.
            let next = self.scheduler.poll_timeout();
            if next != armed {
                armed = next;
                let at = next
                    .map(|t| self.start + Duration::from_millis(t))
                    .unwrap_or_else(far);
                sleep.as_mut().reset(at.into());
            }
            tokio::select! {
                // Fired: force a re-arm (to the next due time, or far away).
                _ = &mut sleep => armed = Some(Millis::MAX),
                _ = &mut flush, if !batch.is_empty() => {
                    let _ = reports.send(std::mem::take(&mut batch));
                }
                Some((id, done)) = done_rx.recv() => {
                    if batch.is_empty() {
                        flush.as_mut().reset((Instant::now() + REPORT_BATCH).into());
                    }
                    let now = self.now();
                    self.scheduler.complete(id, now);
                    batch.extend(done);
                    // Take every other completion that is already waiting in one go.
                    while let Ok((id, done)) = done_rx.try_recv() {
                        self.scheduler.complete(id, now);
                        batch.extend(done);
                    }
                }
                cmd = commands.recv() => match cmd {
                    None | Some(Command::Stop) => break,
                    Some(Command::Cadence { watch, node, cadence }) => {
                        if let Some(&id) = self.lookup.get(&(watch, node)) {
                            let now = self.now();
                            match cadence {
                                Cadence::Now => self.scheduler.check_now(id, now),
                                Cadence::Failed => self.scheduler.set_pace(id, Pace::Failed, now),
                                Cadence::Retry => self.scheduler.set_pace(id, Pace::Retry, now),
                                Cadence::Normal => self.scheduler.set_pace(id, Pace::Normal, now),
                            }
                        }
                    }
                },
            }
        }
        if !batch.is_empty() {
            let _ = reports.send(batch);
        }
        self.report_missed(&mut missed);
        self.scheduler.stats()
    }

    /// Adds the intervals missed since `counted` to the metric.
    fn report_missed(&self, counted: &mut u64) {
        if let Some(counter) = &self.missed {
            let missed = self.scheduler.stats().missed;
            if missed > *counted {
                counter.inc_by(missed - *counted);
                *counted = missed;
            }
        }
    }
}

async fn run_job(job: &Job, pingers: &Pingers, started: Millis) -> Vec<CheckReport> {
    let t0 = Instant::now();
    let outcomes: Vec<Outcome> = match &job.check {
        Prepared::External(spec) => {
            let hosts: Vec<Vec<String>> = job
                .targets
                .iter()
                .map(|t| vec![t.addr.to_string(), t.node.clone()])
                .collect();
            external::check(spec, &job.group, &job.service, &hosts, job.timeout).await
        }
        check => {
            let mut v = Vec::with_capacity(job.targets.len());
            for t in &job.targets {
                v.push(
                    check
                        .run_from(pingers, t.addr, job.source, job.timeout)
                        .await,
                );
            }
            v
        }
    };
    let duration_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
    job.targets
        .iter()
        .zip(outcomes)
        .map(|(t, outcome)| CheckReport {
            watch: job.watch.clone(),
            node: t.node.clone(),
            outcome,
            started,
            duration_ms,
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::spec::TcpCheck;

    /// Every check in flight holds its future: at 10,000 nodes up to the budget (4,096) of them.
    /// A TCP check carried 8 KB (the agent check's and its own read buffers) before the large
    /// checks were boxed.
    #[test]
    fn a_tcp_check_in_flight_is_small() {
        let job = Job {
            watch: WatchId::Service(String::new()),
            group: String::new(),
            service: String::new(),
            check: Prepared::Tcp(TcpCheck {
                port: 80,
                send: None,
                expect: None,
            }),
            targets: vec![],
            timeout: Duration::from_secs(1),
            source: None,
        };
        let pingers = Pingers::default();
        let future = run_job(&job, &pingers, 0);
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1536, "a TCP check's future is {size} bytes");
    }
}
