//! The shipped unit file, checked by systemd itself: `systemd-analyze verify` of
//! `systemd/lbd.service` with its `ExecStart=` paths pointed at the binaries this build made
//! (verify insists that they exist). Skipped, saying why, where systemd-analyze is missing.
//! Also the settings the daemon's behaviour relies on are still there.

use std::process::Command;

const UNIT: &str = include_str!("../systemd/lbd.service");

fn settings() -> Vec<(&'static str, &'static str)> {
    UNIT.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect()
}

fn value(key: &str) -> Option<&'static str> {
    settings()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = UNIT
        .replace("/usr/bin/lbctl", env!("CARGO_BIN_EXE_lbctl"))
        .replace("/usr/sbin/lbd", env!("CARGO_BIN_EXE_lbd"));
    let path = dir.path().join("lbd.service");
    std::fs::write(&path, unit).unwrap();
    // The man pages the unit documents come with the package (packaging/build-deb), not with
    // a build tree: their existence is not verify's to check here.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on warnings too ("Failed to parse ..., ignoring"): every line counts.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

#[test]
fn the_unit_keeps_what_the_daemon_relies_on() {
    // Documentation: the pages the package installs (packaging/build-deb).
    assert_eq!(
        value("Documentation"),
        Some("man:lbd(8) man:lbctl(1) man:lbd.yaml(5)")
    );
    let build_deb = include_str!("../packaging/build-deb");
    for page in ["lbd.8", "lbctl", "lbd.yaml.5"] {
        assert!(
            build_deb.contains(page),
            "packaging/build-deb makes no {page}"
        );
    }
    assert_eq!(
        value("Type"),
        Some("notify"),
        "READY after the first reconcile"
    );
    assert_eq!(value("NotifyAccess"), Some("main"));
    assert!(value("WatchdogSec").is_some());
    assert_eq!(value("ExecReload"), Some("/bin/kill -HUP $MAINPID"));
    assert_eq!(
        value("CapabilityBoundingSet"),
        Some("CAP_NET_ADMIN CAP_NET_RAW")
    );
    assert_eq!(value("ProtectKernelTunables"), Some("yes"));
    assert_eq!(value("ProtectSystem"), Some("strict"));
    assert_eq!(value("PrivateTmp"), Some("yes"));
    assert_eq!(value("TimeoutStartSec"), Some("5min"));
    // The drop-in for control.group is documented where an operator reads the unit.
    assert!(UNIT.contains("SupplementaryGroups="));
}
