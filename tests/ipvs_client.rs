//! The IPVS client on a kernel without IPVS (the development and CI hosts): resolving the
//! family fails with a typed error that says what is missing, and `lbctl table` reports it
//! and exits 1. In the lab (`LBD_LAB=1`, IPVS loaded) the same calls succeed instead.

use std::process::Command;

use lbd::ipvs::{IpvsClient, IpvsError};

fn ipvs_loaded() -> bool {
    std::path::Path::new("/proc/net/ip_vs").exists()
}

#[test]
fn connect_reports_missing_ipvs_or_works() {
    match IpvsClient::connect() {
        Err(IpvsError::NotAvailable) => assert!(!ipvs_loaded()),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(mut c) => {
            assert!(ipvs_loaded());
            assert!(c.family_id() >= 16, "dynamic generic netlink id");
            assert_eq!(c.info().unwrap().version_string(), "1.2.1");
        }
    }
}

#[test]
fn lbctl_table_without_ipvs_says_so() {
    if ipvs_loaded() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lbctl"))
        .arg("table")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "lbctl: ipvs is not available in this kernel (no generic netlink family \"IPVS\"; is the ip_vs module loaded?)"
    );
    assert!(out.stdout.is_empty());
}
