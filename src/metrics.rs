//! Prometheus metrics of the director (`GET /metrics`): one cloneable [`Metrics`] that owns the
//! registry; the daemon calls its recording methods, the HTTP listener calls
//! [`Metrics::encode_as`] in the [`format::Format`] the scraper negotiated (OpenMetrics or the
//! classic text 0.0.4).
//!
//! Names (all prefixed `lbd_`; counters get OpenMetrics' `_total` suffix when encoded):
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `lbd_info` | gauge (1) | `director`, `version` |
//! | `lbd_node_state` | gauge: offline 0, online 1, failed 2 (the classic scripts' numbers) | `node` |
//! | `lbd_node_transitions_total` | counter | `from`, `to` |
//! | `lbd_real_server_in_table` | gauge 0/1 | `service`, `node` |
//! | `lbd_real_server_health` | gauge: offline 0, up 1, down 2, unknown 3 | `service`, `node` |
//! | `lbd_real_server_weight` | gauge: the weight in the table (0 when out) | `service`, `node` |
//! | `lbd_real_server_admin` | gauge: enabled 0, drain 1, disabled 2, maintenance 3 | `service`, `node` |
//! | `lbd_checks_total` | counter | `service`, `result` (`ok`, `fail`) |
//! | `lbd_check_latency_seconds` | histogram | `service` |
//! | `lbd_check_intervals_missed_total` | counter: a check's interval skipped (its previous run still going, or no budget) | `service` |
//! | `lbd_vrrp_state` | gauge: initialize 0, backup 1, master 2, fault 3 | `vrrp_instance` |
//! | `lbd_vrrp_sync_group_state` | gauge: initialize 0, backup 1, master 2, fault 3 | `vrrp_sync_group` |
//! | `lbd_vrrp_transitions_total` | counter | `vrrp_instance`, `from`, `to` |
//! | `lbd_vrrp_adverts_dropped_total` | counter: received VRRP packets dropped | `vrrp_instance`, `reason` |
//! | `lbd_netlink_operations_total` | counter | `op` |
//! | `lbd_netlink_errors_total` | counter | `op`, `error` |
//! | `lbd_reconcile_duration_seconds` | histogram | |
//! | `lbd_drift_repairs_total` | counter | `service` |
//! | `lbd_alert_runs_total` | counter | `alert`, `exit` |
//! | `lbd_mass_removal_guard_held` | gauge: failing real servers the guard keeps | `service` |
//! | `lbd_service_quorum` | gauge: quorum met 1, lost 0 | `service` |
//! | `lbd_service_sorry_server_active` | gauge: the sorry server in use 1, not 0 | `service` |
//! | `lbd_mails_total` | counter: mail alerts (director.yaml `mail:`), never retried | `result` (`sent`, `failed`, `timeout`) |

use crate::node::NodeState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub mod format;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = format::OPENMETRICS_CONTENT_TYPE;

/// Check latency buckets, seconds: 1 ms to 10 s.
const CHECK_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Reconcile pass buckets, seconds: 1 ms to 30 s.
const RECONCILE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0, 30.0,
];

/// A VRRP instance's state, as the metric encodes it (keepalived's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VrrpState {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl VrrpState {
    /// initialize 0, backup 1, master 2, fault 3.
    pub fn number(self) -> i64 {
        match self {
            VrrpState::Initialize => 0,
            VrrpState::Backup => 1,
            VrrpState::Master => 2,
            VrrpState::Fault => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VrrpState::Initialize => "initialize",
            VrrpState::Backup => "backup",
            VrrpState::Master => "master",
            VrrpState::Fault => "fault",
        }
    }
}

/// How an alert script ended, for `lbd_alert_runs_total{exit}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertExit {
    /// Exit status 0-255.
    Code(i32),
    /// Killed by a signal.
    Signal,
    /// Killed at its timeout.
    Timeout,
    /// Could not be started.
    SpawnFailed,
}

impl AlertExit {
    fn label(self) -> String {
        match self {
            AlertExit::Code(c) => c.to_string(),
            AlertExit::Signal => "signal".into(),
            AlertExit::Timeout => "timeout".into(),
            AlertExit::SpawnFailed => "spawn_failed".into(),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    director: String,
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    from: String,
    to: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceNodeLabels {
    service: String,
    node: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    service: String,
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    vrrp_instance: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    vrrp_sync_group: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VrrpTransitionLabels {
    vrrp_instance: String,
    from: String,
    to: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VrrpDropLabels {
    vrrp_instance: String,
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpErrorLabels {
    op: String,
    error: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabels {
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    alert: String,
    exit: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn check_histogram() -> Histogram {
    Histogram::new(CHECK_BUCKETS)
}

/// Every metric of the director. Cloning is cheap and every clone records into the same
/// registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    node_state: Family<NodeLabels, Gauge>,
    node_transitions: Family<TransitionLabels, Counter>,
    in_table: Family<ServiceNodeLabels, Gauge>,
    rs_health: Family<ServiceNodeLabels, Gauge>,
    rs_weight: Family<ServiceNodeLabels, Gauge>,
    rs_admin: Family<ServiceNodeLabels, Gauge>,
    checks: Family<CheckLabels, Counter>,
    check_latency: HistogramFamily<ServiceLabels>,
    check_missed: Family<ServiceLabels, Counter>,
    vrrp_state: Family<InstanceLabels, Gauge>,
    vrrp_group_state: Family<GroupLabels, Gauge>,
    vrrp_transitions: Family<VrrpTransitionLabels, Counter>,
    vrrp_drops: Family<VrrpDropLabels, Counter>,
    netlink_ops: Family<OpLabels, Counter>,
    netlink_errors: Family<OpErrorLabels, Counter>,
    reconcile_duration: Histogram,
    drift_repairs: Family<ServiceLabels, Counter>,
    alert_runs: Family<AlertLabels, Counter>,
    mails: Family<MailLabels, Counter>,
    guard_held: Family<ServiceLabels, Gauge>,
    quorum_met: Family<ServiceLabels, Gauge>,
    sorry_active: Family<ServiceLabels, Gauge>,
    /// Each service's check counters and histogram, looked up once: a check result is
    /// recorded thousands of times a second, and a family lookup builds its labels each time.
    check_handles: Mutex<HashMap<String, CheckHandles>>,
}

/// Clones of one service's check metrics (they share their values with the registry's).
struct CheckHandles {
    ok: Counter,
    fail: Counter,
    latency: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with every metric registered; `director` names this director in `lbd_info`.
    pub fn new(director: &str) -> Metrics {
        let mut registry = Registry::with_prefix("lbd");
        let info = Family::<InfoLabels, Gauge>::default();
        info.get_or_create(&InfoLabels {
            director: director.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
        .set(1);
        registry.register("info", "This director and the lbd version (always 1)", info);
        let node_state = Family::<NodeLabels, Gauge>::default();
        registry.register(
            "node_state",
            "Node state as the classic cluster scripts number it: offline 0, online 1, failed 2",
            node_state.clone(),
        );
        let node_transitions = Family::<TransitionLabels, Counter>::default();
        registry.register(
            "node_transitions",
            "Node state transitions",
            node_transitions.clone(),
        );
        let in_table = Family::<ServiceNodeLabels, Gauge>::default();
        registry.register(
            "real_server_in_table",
            "Whether the node is a real server of the service in the IPVS table (1) or not (0)",
            in_table.clone(),
        );
        let rs_health = Family::<ServiceNodeLabels, Gauge>::default();
        registry.register(
            "real_server_health",
            "The real server's debounced check result: offline 0, up 1, down 2, unknown 3",
            rs_health.clone(),
        );
        let rs_weight = Family::<ServiceNodeLabels, Gauge>::default();
        registry.register(
            "real_server_weight",
            "The real server's weight in the IPVS table (0 when drained or out of the table)",
            rs_weight.clone(),
        );
        let rs_admin = Family::<ServiceNodeLabels, Gauge>::default();
        registry.register(
            "real_server_admin",
            "The operator's state of the real server: enabled 0, drain 1, disabled 2, maintenance 3",
            rs_admin.clone(),
        );
        let checks = Family::<CheckLabels, Counter>::default();
        registry.register("checks", "Service check results by outcome", checks.clone());
        let check_latency: HistogramFamily<ServiceLabels> =
            Family::new_with_constructor(check_histogram);
        registry.register_with_unit(
            "check_latency",
            "Service check latency",
            Unit::Seconds,
            check_latency.clone(),
        );
        let check_missed = Family::<ServiceLabels, Counter>::default();
        registry.register(
            "check_intervals_missed",
            "Check intervals skipped because the previous run was still going or no budget was free",
            check_missed.clone(),
        );
        let vrrp_state = Family::<InstanceLabels, Gauge>::default();
        registry.register(
            "vrrp_state",
            "VRRP instance state: initialize 0, backup 1, master 2, fault 3",
            vrrp_state.clone(),
        );
        let vrrp_group_state = Family::<GroupLabels, Gauge>::default();
        registry.register(
            "vrrp_sync_group_state",
            "VRRP sync group state: initialize 0, backup 1, master 2, fault 3",
            vrrp_group_state.clone(),
        );
        let vrrp_transitions = Family::<VrrpTransitionLabels, Counter>::default();
        registry.register(
            "vrrp_transitions",
            "VRRP state transitions",
            vrrp_transitions.clone(),
        );
        let vrrp_drops = Family::<VrrpDropLabels, Counter>::default();
        registry.register(
            "vrrp_adverts_dropped",
            "Received VRRP packets dropped, by reason (bad_ttl, bad_checksum, other_vrid, ...)",
            vrrp_drops.clone(),
        );
        let netlink_ops = Family::<OpLabels, Counter>::default();
        registry.register(
            "netlink_operations",
            "IPVS netlink operations sent",
            netlink_ops.clone(),
        );
        let netlink_errors = Family::<OpErrorLabels, Counter>::default();
        registry.register(
            "netlink_errors",
            "IPVS netlink operations the kernel refused, by errno name",
            netlink_errors.clone(),
        );
        let reconcile_duration = Histogram::new(RECONCILE_BUCKETS);
        registry.register_with_unit(
            "reconcile_duration",
            "Duration of a reconcile pass (dump, diff, apply)",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        let drift_repairs = Family::<ServiceLabels, Counter>::default();
        registry.register(
            "drift_repairs",
            "Operations a reconcile pass sent to repair drift in the kernel table",
            drift_repairs.clone(),
        );
        let alert_runs = Family::<AlertLabels, Counter>::default();
        registry.register(
            "alert_runs",
            "Alert script runs by exit status",
            alert_runs.clone(),
        );
        let mails = Family::<MailLabels, Counter>::default();
        registry.register(
            "mails",
            "Mail alerts by result: sent, failed (refused, connection or protocol error), timeout",
            mails.clone(),
        );
        let guard_held = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "mass_removal_guard_held",
            "Failing real servers the mass-removal guard keeps in the table (0: the guard holds none)",
            guard_held.clone(),
        );
        let quorum_met = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "service_quorum",
            "Whether the service has its quorum (1) or lost it (0)",
            quorum_met.clone(),
        );
        let sorry_active = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "service_sorry_server_active",
            "Whether the service's sorry server is in use (1) or not (0)",
            sorry_active.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                node_state,
                node_transitions,
                in_table,
                rs_health,
                rs_weight,
                rs_admin,
                checks,
                check_latency,
                check_missed,
                vrrp_state,
                vrrp_group_state,
                vrrp_transitions,
                vrrp_drops,
                netlink_ops,
                netlink_errors,
                reconcile_duration,
                drift_repairs,
                alert_runs,
                mails,
                guard_held,
                quorum_met,
                sorry_active,
                check_handles: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A node's current state.
    pub fn node_state(&self, node: &str, state: NodeState) {
        self.inner
            .node_state
            .get_or_create(&NodeLabels { node: node.into() })
            .set(i64::from(state.number()));
    }

    /// A node moved from one state to another.
    pub fn node_transition(&self, from: NodeState, to: NodeState) {
        self.inner
            .node_transitions
            .get_or_create(&TransitionLabels {
                from: from.as_str().into(),
                to: to.as_str().into(),
            })
            .inc();
    }

    /// Whether `node` is a real server of `service` in the kernel table.
    pub fn real_server_in_table(&self, service: &str, node: &str, in_table: bool) {
        self.inner
            .in_table
            .get_or_create(&ServiceNodeLabels {
                service: service.into(),
                node: node.into(),
            })
            .set(i64::from(in_table));
    }

    /// A real server's health (offline 0, up 1, down 2, unknown 3), its weight in the table (0
    /// when out) and its operator state (enabled 0, drain 1, disabled 2, maintenance 3).
    pub fn real_server(&self, service: &str, node: &str, health: i64, weight: i64, admin: i64) {
        let labels = ServiceNodeLabels {
            service: service.into(),
            node: node.into(),
        };
        let inner = &self.inner;
        inner.rs_health.get_or_create(&labels).set(health);
        inner.rs_weight.get_or_create(&labels).set(weight);
        inner.rs_admin.get_or_create(&labels).set(admin);
    }

    /// The counter of a service's missed check intervals, for its runner to increment.
    pub fn missed_intervals(&self, service: &str) -> Counter {
        self.inner
            .check_missed
            .get_or_create(&ServiceLabels {
                service: service.into(),
            })
            .clone()
    }

    /// A service check finished.
    pub fn check_result(&self, service: &str, ok: bool, latency: Duration) {
        let inner = &*self.inner;
        let mut cache = inner
            .check_handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !cache.contains_key(service) {
            let counter = |result: &str| {
                inner
                    .checks
                    .get_or_create(&CheckLabels {
                        service: service.into(),
                        result: result.into(),
                    })
                    .clone()
            };
            let handles = CheckHandles {
                ok: counter("ok"),
                fail: counter("fail"),
                latency: inner
                    .check_latency
                    .get_or_create(&ServiceLabels {
                        service: service.into(),
                    })
                    .clone(),
            };
            cache.insert(service.to_string(), handles);
        }
        if let Some(h) = cache.get(service) {
            if ok { &h.ok } else { &h.fail }.inc();
            h.latency.observe(latency.as_secs_f64());
        }
    }

    /// A VRRP instance's current state.
    pub fn vrrp_state(&self, instance: &str, state: VrrpState) {
        self.inner
            .vrrp_state
            .get_or_create(&InstanceLabels {
                vrrp_instance: instance.into(),
            })
            .set(state.number());
    }

    /// A VRRP sync group's current state.
    pub fn vrrp_group_state(&self, group: &str, state: VrrpState) {
        self.inner
            .vrrp_group_state
            .get_or_create(&GroupLabels {
                vrrp_sync_group: group.into(),
            })
            .set(state.number());
    }

    /// A VRRP instance changed state (also sets [`Metrics::vrrp_state`]).
    pub fn vrrp_transition(&self, instance: &str, from: VrrpState, to: VrrpState) {
        self.inner
            .vrrp_transitions
            .get_or_create(&VrrpTransitionLabels {
                vrrp_instance: instance.into(),
                from: from.as_str().into(),
                to: to.as_str().into(),
            })
            .inc();
        self.vrrp_state(instance, to);
    }

    /// `n` more VRRP packets dropped by `instance` for `reason` (a `DropReason::kind`).
    pub fn vrrp_adverts_dropped(&self, instance: &str, reason: &str, n: u64) {
        self.inner
            .vrrp_drops
            .get_or_create(&VrrpDropLabels {
                vrrp_instance: instance.into(),
                reason: reason.into(),
            })
            .inc_by(n);
    }

    /// One IPVS netlink operation (`new_service`, `del_dest`, ...) and the errno name the
    /// kernel answered with, if any (`ENOENT`).
    pub fn netlink_op(&self, op: &str, error: Option<&str>) {
        self.inner
            .netlink_ops
            .get_or_create(&OpLabels { op: op.into() })
            .inc();
        if let Some(error) = error {
            self.inner
                .netlink_errors
                .get_or_create(&OpErrorLabels {
                    op: op.into(),
                    error: error.into(),
                })
                .inc();
        }
    }

    /// A reconcile pass took `duration`.
    pub fn reconcile_pass(&self, duration: Duration) {
        self.inner
            .reconcile_duration
            .observe(duration.as_secs_f64());
    }

    /// A reconcile pass repaired `operations` drifted entries of `service`.
    pub fn drift_repairs(&self, service: &str, operations: u64) {
        self.inner
            .drift_repairs
            .get_or_create(&ServiceLabels {
                service: service.into(),
            })
            .inc_by(operations);
    }

    /// An alert script ran.
    pub fn alert_run(&self, alert: &str, exit: AlertExit) {
        self.inner
            .alert_runs
            .get_or_create(&AlertLabels {
                alert: alert.into(),
                exit: exit.label(),
            })
            .inc();
    }

    /// A mail alert was sent or failed (`sent`, `failed`, `timeout`).
    pub fn mail(&self, result: &str) {
        self.inner
            .mails
            .get_or_create(&MailLabels {
                result: result.into(),
            })
            .inc();
    }

    /// How many failing real servers of `service` the mass-removal guard keeps in the table.
    pub fn guard_held(&self, service: &str, held: usize) {
        self.inner
            .guard_held
            .get_or_create(&ServiceLabels {
                service: service.into(),
            })
            .set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// A service's quorum (met or lost) and whether its sorry server is in use.
    pub fn service_quorum(&self, service: &str, met: bool, sorry: bool) {
        let labels = ServiceLabels {
            service: service.into(),
        };
        self.inner
            .quorum_met
            .get_or_create(&labels)
            .set(i64::from(met));
        self.inner
            .sorry_active
            .get_or_create(&labels)
            .set(i64::from(sorry));
    }

    /// Drops the series of a node that left the configuration.
    pub fn forget_node(&self, node: &str) {
        self.inner
            .node_state
            .remove(&NodeLabels { node: node.into() });
        // Families cannot be filtered by one label; the daemon forgets each (service, node)
        // pair it knew through `forget_real_server`.
    }

    /// Drops the series of a service that left the configuration (its real servers' go
    /// through [`Metrics::forget_real_server`]).
    pub fn forget_service(&self, service: &str) {
        let inner = &*self.inner;
        let labels = ServiceLabels {
            service: service.into(),
        };
        for result in ["ok", "fail"] {
            inner.checks.remove(&CheckLabels {
                service: service.into(),
                result: result.into(),
            });
        }
        inner.check_latency.remove(&labels);
        inner.check_missed.remove(&labels);
        inner.drift_repairs.remove(&labels);
        inner.guard_held.remove(&labels);
        inner.quorum_met.remove(&labels);
        inner.sorry_active.remove(&labels);
        inner
            .check_handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(service);
    }

    /// Drops the series of a real server that left the configuration.
    pub fn forget_real_server(&self, service: &str, node: &str) {
        let labels = ServiceNodeLabels {
            service: service.into(),
            node: node.into(),
        };
        self.inner.in_table.remove(&labels);
        self.inner.rs_health.remove(&labels);
        self.inner.rs_weight.remove(&labels);
        self.inner.rs_admin.remove(&labels);
    }

    /// The registry in OpenMetrics text format (see [`CONTENT_TYPE`]), ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    /// The registry in the given format (its content type: [`format::Format::content_type`]).
    pub fn encode_as(&self, format: format::Format) -> String {
        match format {
            format::Format::OpenMetrics => self.encode(),
            format::Format::Text004 => format::to_text_004(&self.encode()),
        }
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
