//! `diff(desired, actual, owned)`: the minimal ordered list of operations that turns the
//! kernel's table into the desired one, touching only owned services.

use std::collections::BTreeSet;

use crate::ipvs::{Dest, ForwardMethod, Op, Service, ServiceKey};

use super::table::{Table, TableService};

/// Whether two services differ in anything SET_SERVICE changes.
fn service_differs(a: &Service, b: &Service) -> bool {
    a.scheduler != b.scheduler
        || a.flags != b.flags
        || a.timeout != b.timeout
        || a.netmask != b.netmask
        || a.pe_name != b.pe_name
}

/// Whether two real servers (same address and port) differ in anything SET_DEST changes.
/// Tunnel parameters count only for tunnel destinations.
fn dest_differs(a: &Dest, b: &Dest) -> bool {
    let fwd_differs = match (a.forward, b.forward) {
        (ForwardMethod::Tunnel(x), ForwardMethod::Tunnel(y)) => x != y,
        (x, y) => x.number() != y.number(),
    };
    fwd_differs
        || a.weight != b.weight
        || a.upper_threshold != b.upper_threshold
        || a.lower_threshold != b.lower_threshold
}

fn add_all(ops: &mut Vec<Op>, s: &TableService) {
    ops.push(Op::AddService(s.service.clone()));
    for d in s.dests.values() {
        ops.push(Op::AddDest {
            service: s.service.key,
            dest: d.clone(),
        });
    }
}

fn reconcile_dests(ops: &mut Vec<Op>, key: ServiceKey, want: &TableService, have: &TableService) {
    for (&(addr, port), _) in have
        .dests
        .iter()
        .filter(|(k, _)| !want.dests.contains_key(k))
    {
        ops.push(Op::DelDest {
            service: key,
            addr,
            port,
        });
    }
    for (k, d) in &want.dests {
        if let Some(h) = have.dests.get(k) {
            if dest_differs(d, h) {
                ops.push(Op::EditDest {
                    service: key,
                    dest: d.clone(),
                });
            }
        }
    }
    for (k, d) in &want.dests {
        if !have.dests.contains_key(k) {
            ops.push(Op::AddDest {
                service: key,
                dest: d.clone(),
            });
        }
    }
}

/// Operations turning `actual` into `desired`.
///
/// Every service of `desired` is owned. A service only in `actual` is deleted if `owned`
/// lists it and left alone otherwise (adopting what someone else configured). Order:
/// service deletions (their real servers go implicitly), then for kept services an edit if
/// needed followed by real-server deletions, edits and additions, then new services each
/// followed by its real servers. A changed key is a different service: delete + add.
pub fn diff(desired: &Table, actual: &Table, owned: &BTreeSet<ServiceKey>) -> Vec<Op> {
    let mut ops = Vec::new();
    for key in actual.services.keys() {
        if owned.contains(key) && !desired.services.contains_key(key) {
            ops.push(Op::DelService(*key));
        }
    }
    for (key, want) in &desired.services {
        if let Some(have) = actual.services.get(key) {
            if service_differs(&want.service, &have.service) {
                ops.push(Op::EditService(want.service.clone()));
            }
            reconcile_dests(&mut ops, *key, want, have);
        }
    }
    for (key, want) in &desired.services {
        if !actual.services.contains_key(key) {
            add_all(&mut ops, want);
        }
    }
    ops
}
