//! The metrics follow what happens instead of being pushed from a dozen places: the director's
//! [`Observation`]s (node states and transitions, each real server's health, weight, operator
//! state and table membership, the guard, what a reload removed), the inputs the edge feeds
//! (check results, alert runs) and the batches the kernel thread carried out (operations,
//! refusals, drift repairs, pass durations).

use crate::director::{Batch, Observation};
use crate::ipvs::Op;
use crate::metrics::{AlertExit, Metrics};
use crate::monitor::alert::AlertRecord;
use crate::monitor::{CheckReport, WatchId};
use std::collections::BTreeMap;
use std::time::Duration;

/// The netlink command of an operation, for the metrics.
pub fn op_name(op: &Op) -> &'static str {
    match op {
        Op::AddService(_) => "new_service",
        Op::EditService(_) => "set_service",
        Op::DelService(_) => "del_service",
        Op::AddDest { .. } => "new_dest",
        Op::EditDest { .. } => "set_dest",
        Op::DelDest { .. } => "del_dest",
    }
}

/// One observation into the metrics.
pub fn observation(m: &Metrics, o: &Observation) {
    match o {
        Observation::NodeState { node, state } => m.node_state(node, *state),
        Observation::NodeTransition { from, to, .. } => m.node_transition(*from, *to),
        Observation::RealServer {
            service,
            node,
            health,
            weight,
            admin,
            in_table,
        } => {
            m.real_server_in_table(service, node, *in_table);
            m.real_server(service, node, *health, *weight, *admin);
        }
        Observation::Guard { service, held } => m.guard_held(service, *held),
        Observation::Quorum {
            service,
            met,
            sorry,
        } => m.service_quorum(service, *met, *sorry),
        Observation::Forget {
            pairs,
            nodes,
            services,
        } => {
            for (s, n) in pairs {
                m.forget_real_server(s, n);
            }
            for n in nodes {
                m.forget_node(n);
            }
            for s in services {
                m.forget_service(s);
            }
        }
        Observation::Pass { .. } => {}
    }
}

/// Check and ping results.
pub fn checks(m: &Metrics, reports: &[CheckReport]) {
    for r in reports {
        let name = match &r.watch {
            WatchId::Service(s) => s.as_str(),
            WatchId::Ping(_) => "ping",
        };
        m.check_result(
            name,
            r.outcome.is_ok(),
            Duration::from_millis(r.duration_ms),
        );
    }
}

/// An alert run (a mail: `lbd_mails_total`).
pub fn alert(m: &Metrics, r: &AlertRecord) {
    if r.alert == "mail" {
        m.mail(match (r.timed_out, &r.error) {
            (true, _) => "timeout",
            (_, Some(_)) => "failed",
            _ => "sent",
        });
        return;
    }
    let exit = match (r.exit_code, r.signal, r.timed_out, &r.error) {
        (_, _, _, Some(_)) => AlertExit::SpawnFailed,
        (_, _, true, _) => AlertExit::Timeout,
        (Some(c), _, _, _) => AlertExit::Code(c),
        _ => AlertExit::Signal,
    };
    m.alert_run(&r.alert, exit);
}

/// A batch the kernel thread carried out: every operation sent (with the errno of those
/// refused), and, for a drift pass, the repairs by service.
pub fn batch(m: &Metrics, b: &Batch, sent: usize, errors: &[(usize, String)]) {
    let errors: BTreeMap<usize, &str> = errors.iter().map(|(i, e)| (*i, e.as_str())).collect();
    let mut repairs: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, c) in b.changes.iter().take(sent).enumerate() {
        let error = errors.get(&i).copied();
        m.netlink_op(op_name(&c.op), error);
        if error.is_none() && b.cause == crate::director::DRIFT_CAUSE {
            *repairs.entry(c.service.as_str()).or_default() += 1;
        }
    }
    for (svc, n) in repairs {
        m.drift_repairs(svc, n);
    }
}
