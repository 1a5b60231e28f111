//! The per-real-server gauges (`lbd_real_server_health`, `_weight`, `_admin`) from the plan:
//! every member when metrics start, then only the members a reconcile pass changed.

use super::admin::Effective;
use super::desired::{Check, Member, Plan};
use crate::metrics::Metrics;

/// offline 0, up 1, down 2, unknown 3 (the node state's numbering: offline 0, online 1, failed 2).
fn health(c: Check) -> i64 {
    match c {
        Check::Offline => 0,
        Check::Up => 1,
        Check::Down => 2,
        Check::Unknown => 3,
    }
}

/// enabled 0, drain 1, disabled 2, maintenance 3.
fn admin(e: Effective) -> i64 {
    match e {
        Effective::Enabled => 0,
        Effective::Drain => 1,
        Effective::Disabled => 2,
        Effective::Maintenance => 3,
    }
}

fn set(m: &Metrics, service: &str, node: &str, mem: &Member) {
    m.real_server(
        service,
        node,
        health(mem.check),
        i64::from(mem.weight.unwrap_or(0)),
        admin(mem.admin),
    );
}

/// Every member of `plan`.
pub(super) fn record_all(m: &Metrics, plan: &Plan) {
    for ((svc, node), mem) in &plan.members {
        set(m, svc, node, mem);
    }
}

/// The members whose health, weight or operator state differ from `old`'s.
pub(super) fn record_changes(m: &Metrics, old: &Plan, new: &Plan) {
    for (pair, mem) in &new.members {
        let same = old
            .members
            .get(pair)
            .is_some_and(|o| (o.check, o.weight, o.admin) == (mem.check, mem.weight, mem.admin));
        if !same {
            set(m, &pair.0, &pair.1, mem);
        }
    }
}
