//! `lbctl import`: configurations of other load-balancer tools translated into lbd's
//! configuration directory. Each importer is pure (text in, files and findings out); reading
//! the source files and writing the directory happen in `cli/import.rs`.

pub mod ipvsadm;
#[cfg(test)]
mod ipvsadm_tests;
pub mod keepalived;
pub mod yaml_out;
