//! What goes into the [`super::Director`] and what comes out: every input and every effect is
//! a serializable value, so a running daemon's input stream can be recorded and replayed
//! against the core (`lbd --record FILE`, [`super::replay`]), and director tests are scripts
//! of inputs and expected effects on a virtual clock.

use super::state::StateDoc;
use crate::config::{Config, Diagnostic};
use crate::control::proto::{EventRecord, Request, Response, VrrpView};
use crate::ipvs::{Op, ServiceEntry, SyncDaemon};
use crate::monitor::alert::{AlertCall, AlertRecord};
use crate::monitor::{AlertSpec, CheckReport, Target, WatchId, WatchSpec};
use crate::node::{Cadence, Millis, NodeState};
use crate::vrrp::InstanceConfig;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The time of an input: a monotonic clock for timers (milliseconds since the daemon
/// started) and the wall clock for what people read (history, "since").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Now {
    pub mono: Millis,
    /// Unix time, milliseconds.
    pub unix: u64,
}

impl Now {
    /// `ms` later on both clocks.
    pub fn after(self, ms: Millis) -> Now {
        Now {
            mono: self.mono + ms,
            unix: self.unix + ms,
        }
    }
}

/// What the director starts from: the validated configuration, the state file, the event
/// history on disk and the kernel's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    pub config: Config,
    pub state: StateDoc,
    /// The records kept on disk (oldest first) and the last sequence number handed out.
    pub history: Vec<EventRecord>,
    pub history_seq: u64,
    pub dump: Vec<ServiceEntry>,
}

/// Why a configuration is being loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadFor {
    /// A reload (SIGHUP, or `lbctl reload` when `request` is set).
    Reload { request: Option<u64> },
    /// `lbctl diff`: what a reload would change.
    Diff { request: u64 },
}

/// A kernel refusal of one operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// Index in the batch.
    pub index: usize,
    pub error: String,
}

/// One input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// Check and ping results, as the runners batch them.
    Checks { reports: Vec<CheckReport> },
    /// A timer may be due (see [`super::Director::poll_timeout`]).
    Tick,
    /// The kernel's table, read as asked by [`Effect::Dump`].
    Dumped { entries: Vec<ServiceEntry> },
    /// The dump failed.
    DumpFailed { error: String },
    /// Batch `id` went to the kernel: the operations refused, and (when the socket failed or
    /// the daemon is stopping) the index from which nothing was sent.
    Applied {
        id: u64,
        refused: Vec<Refused>,
        unsent: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A control request; answered by [`Effect::Reply`] with the same id.
    Request { id: u64, request: Request },
    /// A configuration was loaded (or refused) for [`Effect::LoadConfig`] or SIGHUP.
    Config {
        purpose: LoadFor,
        result: Result<Box<Config>, Vec<Diagnostic>>,
    },
    /// An alert script ran.
    AlertDone { record: AlertRecord },
    /// The VRRP instances' views changed.
    Vrrp { views: Vec<VrrpView> },
    /// An operator failover (or, with `clear`, the end of its hold) was carried out by the
    /// VRRP instances.
    FailoverDone {
        id: u64,
        clear: bool,
        response: Response,
    },
    /// The daemon stops: the last state to write.
    Stop,
}

/// One IPVS operation of a batch and why it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub op: Op,
    /// The service and node it concerns (empty when none: a foreign service, the sorry server
    /// has `sorry-server`).
    pub service: String,
    pub node: String,
    /// The plan's reason: `http check fails on rs2: connection refused`.
    pub why: String,
}

/// Operations to send to the kernel, in order; the result comes back as [`Input::Applied`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub id: u64,
    /// What started the pass: `health change`, `drift repair`, `operator: drain rs1`, ...
    pub cause: String,
    pub changes: Vec<Change>,
}

/// An alert run to queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRun {
    pub alerts: Vec<AlertSpec>,
    pub call: AlertCall,
    #[serde(with = "crate::duration::serde")]
    pub timeout: Duration,
}

/// The VRRP instances to run (a reload restarts the changed ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpSetup {
    pub instances: Vec<InstanceConfig>,
    /// The instance that drives the sync daemon, with the daemon's settings.
    pub sync: Option<(String, SyncDaemon)>,
    pub rt_priority: Option<u8>,
    /// The sync groups (instances that fail over together).
    #[serde(default)]
    pub groups: Vec<GroupSetup>,
}

/// One sync group to run: its members and its notify hooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSetup {
    pub name: String,
    pub instances: Vec<String>,
    pub notify: Vec<crate::vrrp::config::NotifyHook>,
}

/// A fact the metrics (and anyone else watching) follow; the core says what changed, the
/// observer keeps its series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Observation {
    /// A node's state (at start for every node, then on each change).
    NodeState { node: String, state: NodeState },
    NodeTransition {
        node: String,
        from: NodeState,
        to: NodeState,
    },
    /// A real server's health (offline 0, up 1, down 2, unknown 3), weight wanted (0 when out
    /// or drained), operator state (enabled 0, drain 1, disabled 2, maintenance 3) and whether
    /// the plan has it in the table.
    RealServer {
        service: String,
        node: String,
        health: i64,
        weight: i64,
        admin: i64,
        in_table: bool,
    },
    /// How many failing real servers the service's mass-removal guard holds.
    Guard { service: String, held: usize },
    /// Whether the service has its quorum and whether its sorry server is in use (at start
    /// for every service, then on each change).
    Quorum {
        service: String,
        met: bool,
        sorry: bool,
    },
    /// A reload removed these from the configuration.
    Forget {
        pairs: Vec<(String, String)>,
        nodes: Vec<String>,
        services: Vec<String>,
    },
    /// A reconcile pass computed the plan; `ops` operations went out in batch `batch`.
    Pass {
        cause: String,
        ops: usize,
        batch: Option<u64>,
    },
}

/// One effect for the edge to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Send these operations to the kernel.
    Apply(Batch),
    /// Read the kernel's table ([`Input::Dumped`] or [`Input::DumpFailed`] comes back).
    Dump,
    /// Write the state file (before any table change that follows it).
    Persist(StateDoc),
    /// Append to the event history (and tell the followers).
    Record(EventRecord),
    Alert(AlertRun),
    /// Start a watch (a reload restarts a changed one: stop, then start).
    StartWatch {
        id: WatchId,
        spec: Box<WatchSpec>,
        targets: Vec<Target>,
    },
    StopWatch {
        id: WatchId,
    },
    /// How the runner should check a node from now on.
    Cadence {
        watch: WatchId,
        node: String,
        cadence: Cadence,
    },
    /// Bring the VRRP instances in line with this.
    Vrrp(VrrpSetup),
    /// Whether a service the instances track has a healthy real server.
    Track {
        service: String,
        up: bool,
    },
    /// An operator failover for the instances ([`Input::FailoverDone`] comes back).
    Failover {
        id: u64,
        instance: Option<String>,
        clear: bool,
    },
    /// Load the configuration directory ([`Input::Config`] comes back).
    LoadConfig {
        purpose: LoadFor,
    },
    /// The answer to a control request.
    Reply {
        id: u64,
        response: Response,
    },
    Observe(Observation),
}
