//! Reconciliation: the desired IPVS table versus the kernel's, as a pure function.
//!
//! - [`Table`] holds virtual services and their real servers keyed by identity, already
//!   normalised (HASHED masked out, DR/tunnel destination ports set to the service port by
//!   [`crate::ipvs::normalise_dest_port`]). `lbctl apply` and the daemon fill one from the
//!   configuration; [`Table::from_entries`] builds one from `IpvsClient::dump()`.
//! - [`diff`]`(desired, actual, owned) -> Vec<Op>` gives the minimal ordered operations:
//!   deletions of owned services first (their real servers go with them), then edits and
//!   real-server changes of kept services, then new services with their real servers.
//!   Services the kernel has but `owned` does not list are never touched.

mod diff;
mod table;

pub use diff::diff;
pub use table::{patch, Table, TableError, TableService};

#[cfg(test)]
mod tests;
