//! Feeding the director and carrying out what it says: each input goes in with the time (and
//! into the recording, with `--record`); each effect goes to its part of the edge: batches and
//! dumps to the kernel thread, the state file, the history file and its followers, alerts,
//! watches, VRRP, replies, the metrics.

use super::run::{unix_ms, Daemon, Out};
use super::{observe, systemd};
use crate::config::Diagnostic;
use crate::director::{Effect, Input, LoadFor, Now, Observation};
use crate::monitor::alert::AlertQueues;
use std::time::Instant;

impl Daemon {
    pub(super) fn now(&self) -> Now {
        Now {
            mono: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            unix: unix_ms(),
        }
    }

    /// Feeds one input (and those its effects produce).
    pub(super) fn feed(&mut self, input: Input) {
        self.queue.push_back(input);
        while let Some(input) = self.queue.pop_front() {
            let now = self.now();
            if let Some(r) = self.recorder.as_mut() {
                if let Err(e) = r.input(now, &input) {
                    tracing::warn!("cannot record: {e}");
                }
            }
            self.handling = Instant::now();
            let effects = self.director.handle(now, input);
            if let Some(r) = self.recorder.as_mut() {
                if let Err(e) = r.effects(&effects) {
                    tracing::warn!("cannot record: {e}");
                }
            }
            self.execute(effects);
        }
    }

    pub(super) fn execute(&mut self, effects: Vec<Effect>) {
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
                    tracing::info!(ops = batch.changes.len(), cause = %batch.cause, "applying operations");
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
                    self.queue.push_back(Input::FailoverDone {
                        id,
                        clear,
                        response,
                    });
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
    pub(super) fn load_config(&mut self, purpose: LoadFor) {
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
}
