//! The real `lbctl check` binary: exit codes, the summary, the JSON form, and errors on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lbctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbctl"))
        .args(args)
        .env_remove("LBD_CONFIG")
        .output()
        .expect("run lbctl")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_passes_the_example_with_a_summary() {
    let dir = example();
    let out = lbctl(&["check", "-c", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        format!(
            "{}: configuration ok\n\
             director dir1: 1 VRRP instance, 3 VIPs\n\
             2 services, 2 hostgroups, 5 nodes, 5 real servers, 2.5 checks/s, 1.0 pings/s\n",
            dir.display()
        )
    );
}

#[test]
fn check_json_is_machine_readable() {
    let dir = example();
    // -c may come before the subcommand too.
    let out = lbctl(&["-c", dir.to_str().expect("utf-8 path"), "check", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["summary"]["services"], 2);
    assert_eq!(v["summary"]["nodes"], 5);
    assert_eq!(v["summary"]["real_servers"], 5);
    assert_eq!(v["summary"]["checks_per_second"], 2.5);
    // 5 nodes pinged every 5s (each once, though none is in two groups here).
    assert_eq!(v["summary"]["pings_per_second"], 1.0);
    assert_eq!(v["errors"], serde_json::json!([]));
}

/// A configuration directory of three files: director.yaml, hostgroups/web.yaml and
/// services/web.yaml.
fn config_dir(director: &str, hostgroup: &str, service: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("hostgroups")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("services")).expect("mkdir");
    for (file, text) in [
        ("director.yaml", director),
        ("hostgroups/web.yaml", hostgroup),
        ("services/web.yaml", service),
    ] {
        std::fs::write(dir.path().join(file), text).expect("write");
    }
    dir
}

fn broken() -> tempfile::TempDir {
    config_dir(
        "name: dir1\nvrrp:\n  - name: v\n    interface: eth0\n    vrid: 51\n    priority: 100\n    vips: [192.0.2.10]\n",
        "nodes:\n  - name: a\n    address: 198.51.100.11\n",
        "virtual: {address: 192.0.2.10, port: 80}\nscheduler: rrr\nhostgroup: webs\nwatch:\n  monitor: tcp\n",
    )
}

#[test]
fn check_reports_every_error_on_stderr_and_exits_2() {
    let dir = broken();
    let out = lbctl(&["check", "-c", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let file = dir.path().join("services/web.yaml");
    assert_eq!(
        text(&out.stderr),
        format!(
            "{f}:2:12: unknown scheduler `rrr` (did you mean `rr`?)\n\
             {f}:3:12: unknown hostgroup `webs` (did you mean `web`?)\n\
             {g}: warning: hostgroup `web` is not used by any service\n\
             {d}: 2 errors, configuration not valid\n",
            f = file.display(),
            g = dir.path().join("hostgroups/web.yaml").display(),
            d = dir.path().display()
        )
    );
}

#[test]
fn check_json_lists_errors_and_exits_2() {
    let dir = broken();
    let out = lbctl(&[
        "check",
        "--json",
        "-c",
        dir.path().to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["summary"], serde_json::Value::Null);
    let errors = v["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[0]["column"], 12);
    assert_eq!(errors[0]["message"], "unknown scheduler `rrr`");
    assert_eq!(errors[0]["hint"], "did you mean `rr`?");
}

#[test]
fn missing_directory_and_usage_errors_exit_2() {
    let out = lbctl(&["check", "-c", "/nonexistent/lbd-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with(
        "/nonexistent/lbd-config/director.yaml: cannot read file: No such file or directory"
    ));
    let out = lbctl(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = lbctl(&["check", "--jsn"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Doubtful but legal: a VIP no VRRP instance carries is a warning on stderr, exit 0.
#[test]
fn check_with_only_warnings_exits_0() {
    let dir = config_dir(
        "name: dir1\nvrrp:\n  - {name: v, interface: eth0, vrid: 51, priority: 100, vips: [192.0.2.10]}\n",
        "nodes:\n  - name: a\n    address: 198.51.100.11\n",
        "virtual: {address: 192.0.2.20, port: 80}\nhostgroup: web\nwatch:\n  monitor: tcp\n",
    );
    let out = lbctl(&["check", "-c", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:1:20: warning: virtual address 192.0.2.20 is not carried by any VRRP instance \
             (add it to the vips of an instance in director.yaml)\n",
            dir.path().join("services/web.yaml").display()
        )
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains(": configuration ok\n"), "{stdout}");
    assert!(stdout.ends_with("\n1 warning\n"), "{stdout}");
}

/// `user:` needs CAP_SETUID and CAP_SETGID, which the packaged unit leaves out: `lbctl check`
/// (the unit's ExecStartPre, under the same capabilities) refuses the configuration rather
/// than letting the daemon's scripts fail at their first run. Needs root and setpriv(1).
#[test]
fn check_refuses_a_script_user_it_could_not_switch_to() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (to drop CAP_SETUID as the unit does)");
        return;
    }
    let dir = config_dir(
        "name: dir1\n",
        "nodes:\n  - name: a\n    address: 198.51.100.11\n",
        "virtual: {address: 192.0.2.10, port: 80}\nhostgroup: web\nwatch:\n  monitor: {external: x.monitor, user: nobody}\n",
    );
    let path = dir.path().to_str().expect("utf-8 path");
    assert_eq!(lbctl(&["check", "-c", path]).status.code(), Some(0));
    let out = Command::new("setpriv")
        .args(["--bounding-set", "-setuid,-setgid", "--"])
        .arg(env!("CARGO_BIN_EXE_lbctl"))
        .args(["check", "-c", path])
        .output()
        .expect("run setpriv");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("services/web.yaml:4:")
            && stderr.contains("user `nobody`: this process lacks CAP_SETUID and CAP_SETGID"),
        "{stderr}"
    );
}
