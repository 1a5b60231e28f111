//! The daemon's view of the kernel's IPVS table: a [`Kernel`] (the real [`IpvsClient`], or a
//! fake for fast loop tests) and a mirror of the table — the last dump with every applied
//! operation patched in — so that event-driven passes diff against it without re-reading
//! 50,000 real servers; the periodic drift pass replaces the mirror with a fresh dump.

use crate::ipvs::{ApplyReport, IpvsClient, IpvsError, Op, ServiceEntry};
use crate::reconcile::{Table, TableService};
use std::collections::BTreeMap;

/// Something that holds an IPVS table.
pub trait Kernel: Send {
    /// The whole table.
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError>;
    /// Sends `ops` in order.
    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError>;
    /// Mutating operations sent so far.
    fn mutating(&self) -> u64;
}

impl Kernel for IpvsClient {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        IpvsClient::dump(self)
    }

    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        IpvsClient::apply(self, ops)
    }

    fn mutating(&self) -> u64 {
        self.counters().mutating
    }
}

/// Patches one applied operation into `table`.
pub fn patch(table: &mut Table, op: &Op) {
    match op {
        Op::AddService(s) | Op::EditService(s) => {
            let dests = table
                .services
                .remove(&s.key)
                .map(|t| t.dests)
                .unwrap_or_default();
            table.services.insert(
                s.key,
                TableService {
                    service: s.clone(),
                    dests,
                },
            );
        }
        Op::DelService(k) => {
            table.services.remove(k);
        }
        Op::AddDest { service, dest } | Op::EditDest { service, dest } => {
            if let Some(t) = table.services.get_mut(service) {
                t.dests.insert((dest.addr, dest.port), dest.clone());
            }
        }
        Op::DelDest {
            service,
            addr,
            port,
        } => {
            if let Some(t) = table.services.get_mut(service) {
                t.dests.remove(&(*addr, *port));
            }
        }
    }
}

/// A table in memory that behaves like the kernel's for the operations the daemon sends (for
/// fast event-loop tests; the kernel tests use the real thing).
#[derive(Debug, Default, Clone)]
pub struct FakeKernel {
    pub table: Table,
    pub mutating: u64,
    /// Every operation applied, in order.
    pub log: Vec<Op>,
    /// Active and inactive connections that dumps report, by real-server address and port.
    pub conns: BTreeMap<(std::net::IpAddr, u16), (u32, u32)>,
}

impl Kernel for FakeKernel {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        Ok(self
            .table
            .services
            .values()
            .map(|s| ServiceEntry {
                service: s.service.clone(),
                stats: Default::default(),
                dests: s
                    .dests
                    .values()
                    .map(|d| crate::ipvs::DestEntry {
                        dest: d.clone(),
                        active_conns: self.conns.get(&(d.addr, d.port)).map_or(0, |c| c.0),
                        inactive_conns: self.conns.get(&(d.addr, d.port)).map_or(0, |c| c.1),
                        persistent_conns: 0,
                        stats: Default::default(),
                    })
                    .collect(),
            })
            .collect())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        for op in ops {
            patch(&mut self.table, op);
            self.log.push(op.clone());
        }
        self.mutating += ops.len() as u64;
        Ok(ApplyReport {
            sent: ops.len(),
            sendmsgs: ops.len().div_ceil(256),
            failures: Vec::new(),
        })
    }

    fn mutating(&self) -> u64 {
        self.mutating
    }
}

/// Connection counters of the last dump, by (service, address, port).
pub type Conns = BTreeMap<(crate::ipvs::ServiceKey, std::net::IpAddr, u16), (u32, u32)>;

/// The connection counters of a dump.
pub fn conns_of(entries: &[ServiceEntry]) -> Conns {
    let mut out = Conns::new();
    for e in entries {
        for d in &e.dests {
            out.insert(
                (e.service.key, d.dest.addr, d.dest.port),
                (d.active_conns, d.inactive_conns),
            );
        }
    }
    out
}
