//! The IPVS table as the reconciler sees it: services and real servers keyed by identity,
//! normalised so that a table built from configuration and one read from the kernel compare
//! equal when they mean the same thing.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use thiserror::Error;

use crate::ipvs::{normalise_dest_port, Dest, Service, ServiceEntry, ServiceKey, SvcFlags};

/// A problem building a table.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TableError {
    #[error("real server {dest} added to virtual service {service}, which is not in the table")]
    NoService { service: ServiceKey, dest: String },
    #[error("real server {dest} has a different address family than virtual service {service}")]
    FamilyMismatch { service: ServiceKey, dest: String },
}

/// One virtual service with its real servers, keyed by (address, normalised port).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableService {
    pub service: Service,
    pub dests: BTreeMap<(IpAddr, u16), Dest>,
}

/// A whole (desired or actual) IPVS table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, TableService>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a service, keeping real servers already there.
    pub fn insert_service(&mut self, mut service: Service) {
        service.flags = SvcFlags::from_kernel(service.flags.0);
        let key = service.key;
        self.services
            .entry(key)
            .and_modify(|s| s.service = service.clone())
            .or_insert(TableService {
                service,
                dests: BTreeMap::new(),
            });
    }

    /// Adds (or replaces) a real server of `key`, with its port normalised.
    pub fn insert_dest(&mut self, key: &ServiceKey, mut dest: Dest) -> Result<(), TableError> {
        let name = crate::ipvs::addr_port(&dest.addr, dest.port);
        let svc = self.services.get_mut(key).ok_or(TableError::NoService {
            service: *key,
            dest: name.clone(),
        })?;
        // Only tunnel destinations may mix families (IPv6 service over an IPv4 tunnel).
        if crate::ipvs::Family::of(&dest.addr) != key.family()
            && !matches!(dest.forward, crate::ipvs::ForwardMethod::Tunnel(_))
        {
            return Err(TableError::FamilyMismatch {
                service: *key,
                dest: name,
            });
        }
        dest.port = normalise_dest_port(key, dest.forward, dest.port);
        svc.dests.insert((dest.addr, dest.port), dest);
        Ok(())
    }

    /// The table the kernel reported (`IpvsClient::dump()`).
    pub fn from_entries(entries: &[ServiceEntry]) -> Self {
        let mut t = Table::new();
        for e in entries {
            t.insert_service(e.service.clone());
            if let Some(svc) = t.services.get_mut(&e.service.key) {
                for d in &e.dests {
                    // Kept as the kernel holds it: a port that is not normalised shows up
                    // as a difference and gets repaired.
                    svc.dests.insert((d.dest.addr, d.dest.port), d.dest.clone());
                }
            }
        }
        t
    }

    /// Number of real servers in the table.
    pub fn dest_count(&self) -> usize {
        self.services.values().map(|s| s.dests.len()).sum()
    }
}

/// Patches one operation the kernel accepted into `table` (the mirror between two dumps).
pub fn patch(table: &mut Table, op: &crate::ipvs::Op) {
    use crate::ipvs::Op;
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
