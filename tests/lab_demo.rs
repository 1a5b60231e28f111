//! The README's first command, the failover demo, as a test: `vagrant/demo` in the qemu lab (as
//! `vagrant/lab demo` runs it, with this build's binaries) builds the cluster, stops a web
//! server, powers the master off and brings it back, and must reach its summary with exit 0
//! and few failed client requests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[test]
fn the_demo_runs_to_its_summary_with_few_failed_requests() {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_lbd"))
        .parent()
        .expect("the binaries' directory");
    let out = Command::new(project.join("vagrant/lab"))
        .args(["run", "--", "vagrant/demo"])
        .env("LBD_BIN_DIR", bin)
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .expect("vagrant/lab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the demo failed:\n{stdout}\n{stderr}");
    // "   requests: 52 in all, 3 failed"
    let summary = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("requests: "))
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    let numbers: Vec<u32> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let [all, failed] = numbers[..] else {
        panic!("unexpected summary {summary:?}")
    };
    eprintln!("demo: {all} requests, {failed} failed");
    assert!(all >= 30, "too few requests: {summary}\n{stdout}");
    assert!(
        failed * 5 <= all,
        "more than a fifth of the requests failed: {summary}\n{stdout}"
    );
    for step in [
        "dir1 holds the VIP",
        "dir2 holds the VIP",
        "dir1 is VRRP master again",
    ] {
        assert!(stdout.contains(step), "no `{step}` in:\n{stdout}");
    }
}
