//! A director in a test, in the manner of quinn's simulated pairs: a virtual clock, a fake
//! kernel that carries out batches and dumps at once (or on demand, to test what happens while
//! one is out), a configuration directory for reloads, and everything the effects did kept for
//! the test to assert: operations applied, history records, alerts, cadences, replies, state
//! files, VRRP tracking. Optionally the metrics, through the edge's observer.

use super::io::{AlertRun, Effect, Input, LoadFor, Now, Start};
use super::state::StateDoc;
use super::Director;
use crate::config::Config;
use crate::control::proto::{EventRecord, Request, Response};
use crate::daemon::kernel::{FakeKernel, Kernel};
use crate::ipvs::Op;
use crate::metrics::Metrics;
use crate::monitor::{CheckError, CheckReport, Pass, WatchId};
use crate::node::Cadence;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

/// The unix time the virtual clock starts at.
pub const EPOCH: u64 = 1_795_000_000_000;

/// A simulated director and its world.
pub struct Sim {
    pub d: Director,
    pub now: Now,
    pub kernel: FakeKernel,
    /// Where reloads read the configuration.
    pub config_dir: Option<PathBuf>,
    /// Carry kernel effects out at once (else they wait in `kernel_queue`).
    pub auto_kernel: bool,
    pub kernel_queue: VecDeque<Effect>,
    /// Operations the kernel applied (taken by [`Sim::ops`]).
    applied: Vec<Op>,
    pub records: Vec<EventRecord>,
    pub alerts: Vec<AlertRun>,
    pub cadences: Vec<(WatchId, String, Cadence)>,
    pub replies: BTreeMap<u64, Response>,
    pub persisted: Vec<StateDoc>,
    pub watches: BTreeSet<WatchId>,
    pub tracks: Vec<(String, bool)>,
    pub batches: usize,
    pub dumps: usize,
    pub metrics: Option<Metrics>,
    /// Every effect, in order.
    pub effects: Vec<Effect>,
    next_request: u64,
}

/// A configuration directory loaded.
pub fn load(dir: &std::path::Path) -> Config {
    crate::config::load(dir)
        .unwrap_or_else(|e| panic!("test configuration: {e}"))
        .config
}

impl Sim {
    /// Starts a director over `kernel` with `state` (the state file) at [`EPOCH`].
    pub fn start(cfg: Config, state: StateDoc, kernel: FakeKernel) -> Sim {
        Self::start_at(
            Now {
                mono: 0,
                unix: EPOCH,
            },
            cfg,
            state,
            kernel,
        )
    }

    pub fn start_at(now: Now, cfg: Config, state: StateDoc, mut kernel: FakeKernel) -> Sim {
        let dump = kernel.dump().expect("fake dump");
        let (d, effects) = Director::new(
            now,
            Start {
                config: cfg,
                history_seq: state.event_seq,
                state,
                history: Vec::new(),
                dump,
            },
        );
        let mut sim = Sim {
            d,
            now,
            kernel,
            config_dir: None,
            auto_kernel: true,
            kernel_queue: VecDeque::new(),
            applied: Vec::new(),
            records: Vec::new(),
            alerts: Vec::new(),
            cadences: Vec::new(),
            replies: BTreeMap::new(),
            persisted: Vec::new(),
            watches: BTreeSet::new(),
            tracks: Vec::new(),
            batches: 0,
            dumps: 0,
            metrics: None,
            effects: Vec::new(),
            next_request: 1,
        };
        sim.run(effects);
        sim
    }

    /// A restart over the same kernel with the last state file written (a clean stop writes
    /// one first: call [`Sim::stop`]; a crash does not).
    pub fn restart(self) -> Sim {
        let state = self.persisted.last().cloned().unwrap_or_default();
        let now = self.now.after(1000);
        let mut sim = Self::start_at(now, self.d.cfg.clone(), state, self.kernel);
        sim.config_dir = self.config_dir;
        sim
    }

    /// Feeds `input`, carries out its effects (and those of the results they bring back).
    pub fn feed(&mut self, input: Input) {
        let effects = self.d.handle(self.now, input);
        self.run(effects);
    }

    fn run(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Input> = VecDeque::new();
        for e in effects {
            self.effects.push(e.clone());
            if let (Some(m), Effect::Observe(o)) = (&self.metrics, &e) {
                crate::daemon::observe::observation(m, o);
            }
            match e {
                Effect::Apply(_) | Effect::Dump if !self.auto_kernel => {
                    self.kernel_queue.push_back(e);
                }
                Effect::Apply(b) => queue.push_back(self.apply(b)),
                Effect::Dump => queue.push_back(self.dump()),
                Effect::Persist(doc) => self.persisted.push(doc),
                Effect::Record(r) => self.records.push(r),
                Effect::Alert(a) => self.alerts.push(a),
                Effect::StartWatch { id, .. } => {
                    self.watches.insert(id);
                }
                Effect::StopWatch { id } => {
                    self.watches.remove(&id);
                }
                Effect::Cadence {
                    watch,
                    node,
                    cadence,
                } => self.cadences.push((watch, node, cadence)),
                Effect::Vrrp(_) => {}
                Effect::Track { service, up } => self.tracks.push((service, up)),
                Effect::Failover { id, clear, .. } => queue.push_back(Input::FailoverDone {
                    id,
                    clear,
                    response: Response::Done {
                        message: "vi_51: master steps down (priority 0), held in backup".into(),
                    },
                }),
                Effect::LoadConfig { purpose } => {
                    let dir = self.config_dir.clone().expect("a config_dir for reloads");
                    let result = crate::config::load(&dir)
                        .map(|l| Box::new(l.config))
                        .map_err(|e| e.errors);
                    queue.push_back(Input::Config { purpose, result });
                }
                Effect::Reply { id, response } => {
                    self.replies.insert(id, response);
                }
                Effect::Observe(_) => {}
            }
        }
        for input in queue {
            self.feed(input);
        }
    }

    fn apply(&mut self, b: super::Batch) -> Input {
        self.batches += 1;
        let ops: Vec<Op> = b.changes.iter().map(|c| c.op.clone()).collect();
        self.kernel.apply(&ops).expect("fake apply");
        self.applied.extend(ops);
        Input::Applied {
            id: b.id,
            refused: Vec::new(),
            unsent: None,
            error: None,
        }
    }

    fn dump(&mut self) -> Input {
        self.dumps += 1;
        Input::Dumped {
            entries: self.kernel.dump().expect("fake dump"),
        }
    }

    /// Carries out the kernel effects that waited (with `auto_kernel` off), in order.
    pub fn release_kernel(&mut self) {
        while let Some(e) = self.kernel_queue.pop_front() {
            let input = match e {
                Effect::Apply(b) => self.apply(b),
                _ => self.dump(),
            };
            self.feed(input);
        }
    }

    /// The operations applied since the last call.
    pub fn ops(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.applied)
    }

    /// Moves the clock `ms` on and lets the timers run.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now.mono + ms;
        while let Some(t) = self.d.poll_timeout().filter(|t| *t <= until) {
            let step = t.max(self.now.mono) - self.now.mono;
            self.now = self.now.after(step);
            self.feed(Input::Tick);
            if self.d.poll_timeout() == Some(t) {
                break;
            }
        }
        let rest = until.saturating_sub(self.now.mono);
        self.now = self.now.after(rest);
    }

    /// One service check result.
    pub fn check(&mut self, service: &str, node: &str, pass: bool) {
        self.checks(service, &[(node, pass)]);
    }

    /// Several results of one service's watch, as one batch.
    pub fn checks(&mut self, service: &str, results: &[(&str, bool)]) {
        let reports = results
            .iter()
            .map(|(node, pass)| CheckReport {
                watch: WatchId::Service(service.into()),
                node: (*node).into(),
                outcome: if *pass {
                    Ok(Pass::default())
                } else {
                    Err(CheckError::Refused)
                },
                started: 0,
                duration_ms: 1,
            })
            .collect();
        self.feed(Input::Checks { reports });
    }

    /// One ping result of `group`'s ping watch.
    pub fn ping(&mut self, group: &str, node: &str, alive: bool) {
        let report = CheckReport {
            watch: WatchId::Ping(group.into()),
            node: node.into(),
            outcome: if alive {
                Ok(Pass::default())
            } else {
                Err(CheckError::NoEchoReply)
            },
            started: 0,
            duration_ms: 1,
        };
        self.feed(Input::Checks {
            reports: vec![report],
        });
    }

    /// Sends a request; its answer if it came (with the kernel released, it always does).
    pub fn ask(&mut self, request: Request) -> Option<Response> {
        let id = self.next_request;
        self.next_request += 1;
        self.feed(Input::Request { id, request });
        self.replies.remove(&id)
    }

    /// [`Sim::ask`], answered.
    pub fn request(&mut self, request: Request) -> Response {
        let what = format!("{request:?}");
        self.ask(request)
            .unwrap_or_else(|| panic!("no answer to {what}"))
    }

    /// SIGTERM: the last state written.
    pub fn stop(&mut self) {
        self.feed(Input::Stop);
    }

    /// A reload through the configuration directory (as SIGHUP).
    pub fn reload(&mut self) {
        let dir = self.config_dir.clone().expect("a config_dir for reloads");
        let result = crate::config::load(&dir)
            .map(|l| Box::new(l.config))
            .map_err(|e| e.errors);
        self.feed(Input::Config {
            purpose: LoadFor::Reload { request: None },
            result,
        });
    }

    /// History messages.
    pub fn messages(&self) -> Vec<&str> {
        self.records.iter().map(|r| r.message.as_str()).collect()
    }
}
