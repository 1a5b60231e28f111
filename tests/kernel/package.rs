//! The Debian package in the lab guest (whose root is a copy-on-write view of the host's, so
//! nothing here reaches the host): `dpkg -i` of the package `packaging/build-deb` built
//! (`tests/run` builds it before the suite; `LBD_DEB` names another), its files, the `lbd`
//! group, the inert example configuration passing `lbctl check`; the installed `lbd` started in
//! a namespace of its own next to a service made by hand with ipvsadm: it serves `/metrics`
//! and `lbctl status`, programs nothing, moves no address, stops on SIGTERM within the unit's
//! `TimeoutStopSec`; an upgrade (`dpkg -i` again) and `dpkg -r` leave the table alone, a
//! purge removes the configuration. The guest has no systemd (the unit is proven elsewhere),
//! so the maintainer scripts' `deb-systemd-invoke` steps are skipped as on any system
//! without systemd running; `systemd::` runs the same package under systemd.

use super::netns::{self, Netns};
use libtest_mimic::{Failed, Trial};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "package::deb_installs_starts_inert_and_removes_without_touching_the_table",
        || installs_and_removes().map_err(Failed::from),
    )]
}

/// The package to install: `LBD_DEB`, else the one `packaging/build-deb` writes.
pub(crate) fn deb() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("LBD_DEB") {
        return Ok(p.into());
    }
    let path = PathBuf::from(format!(
        "{}/target/debian/lbd_{}-1_amd64.deb",
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO_PKG_VERSION")
    ));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build it with packaging/build-deb (tests/run does)",
            path.display()
        ))
    }
}

pub(crate) fn sh(cmd: &str) -> Result<String, String> {
    let t = Instant::now();
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("package: `{cmd}`: {:.1} s", t.elapsed().as_secs_f64());
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("`{cmd}` failed ({}): {text}", out.status))
    }
}

fn installs_and_removes() -> Result<(), String> {
    let deb = deb()?;
    let deb = deb.display();
    // man-db's dpkg trigger (a whole mandb run, about a minute per dpkg call under TCG) is
    // not what this trial is about: switched off in the guest's copy-on-write root only.
    let _ = std::fs::remove_file("/var/lib/man-db/auto-update");
    sh(&format!("dpkg -i {deb}"))?;
    let files = sh("dpkg -L lbd")?;
    for want in [
        "/usr/sbin/lbd",
        "/usr/bin/lbctl",
        "/usr/lib/systemd/system/lbd.service",
        "/usr/lib/lbd/monitors/tcp.monitor",
        "/etc/lbd/director.yaml",
        "/usr/share/man/man1/lbctl.1.gz",
        "/usr/share/man/man8/lbd.8.gz",
        "/usr/share/man/man5/lbd.yaml.5.gz",
        "/usr/share/bash-completion/completions/lbctl",
        "/usr/share/zsh/vendor-completions/_lbctl",
        "/usr/share/fish/vendor_completions.d/lbctl.fish",
        "/usr/share/lbd/sysctl.d/60-lbd-director.conf",
        "/usr/share/lbd/monitoring/lbd.rules.yml",
        "/usr/share/doc/lbd/examples/config/director.yaml",
    ] {
        if !files.lines().any(|l| l == want) {
            return Err(format!("the package lacks {want}:\n{files}"));
        }
    }
    sh("getent group lbd")?;
    let conffiles = sh("dpkg-query -W -f='${Conffiles}' lbd")?;
    if !conffiles.contains("/etc/lbd/director.yaml") {
        return Err(format!(
            "/etc/lbd/director.yaml is no conffile: {conffiles}"
        ));
    }
    let page = sh("zcat /usr/share/man/man5/lbd.yaml.5.gz")?;
    if !page.contains(".SH \"director.yaml\"") || !page.contains("reconcile_interval") {
        return Err(format!(
            "lbd.yaml(5) lacks the annotated director.yaml:\n{page}"
        ));
    }
    let check = sh("/usr/bin/lbctl check -c /etc/lbd")?;
    if !check.contains("0 VRRP instances") || !check.contains("0 services") {
        return Err(format!("the shipped configuration is not inert: {check}"));
    }
    // The unit names the installed programs.
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/lbd.service")
        .map_err(|e| e.to_string())?;
    if !unit.contains("ExecStart=/usr/sbin/lbd -c /etc/lbd") {
        return Err(format!("the unit does not run /usr/sbin/lbd:\n{unit}"));
    }

    // The installed daemon, in a namespace of its own, beside a service made by hand.
    let ns = Netns::new("pkg")?;
    let n = ns.name();
    netns::run(n, &["ipvsadm", "-A", "-t", "203.0.113.5:80", "-s", "rr"])?;
    netns::run(
        n,
        &[
            "ipvsadm",
            "-a",
            "-t",
            "203.0.113.5:80",
            "-r",
            "203.0.113.6:80",
            "-g",
        ],
    )?;
    let table_before = netns::run(n, &["ipvsadm", "-S", "-n"])?;
    let addrs_before = netns::run(n, &["ip", "-o", "addr"])?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::create_dir_all("/run/lbd").map_err(|e| e.to_string())?;
    let state_dir = state.path().display().to_string();
    let mut lbd = netns::spawn(
        n,
        &["/usr/sbin/lbd", "-c", "/etc/lbd", "--state-dir", &state_dir],
    )?;
    // Up once its listener answers (the first reconcile precedes it); generous under TCG.
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        match netns::run(
            n,
            &["curl", "-sS", "-m", "5", "http://127.0.0.1:9180/metrics"],
        ) {
            Ok(m) if m.contains("lbd_info{director=\"director\"") => break m,
            _ if Instant::now() > deadline || !lbd.is_running() => {
                return Err("the installed lbd never served /metrics".into())
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    if metrics.contains("# EOF") {
        return Err(format!("curl got OpenMetrics:\n{metrics}"));
    }
    let status = netns::run(n, &["/usr/bin/lbctl", "-c", "/etc/lbd", "status"])?;
    if !status.contains("director") {
        return Err(format!("lbctl status: {status}"));
    }
    let table = netns::run(n, &["ipvsadm", "-S", "-n"])?;
    let addrs = netns::run(n, &["ip", "-o", "addr"])?;
    if table != table_before || addrs != addrs_before {
        return Err(format!(
            "the inert configuration changed the namespace:\n{table_before}→\n{table}\n{addrs_before}→\n{addrs}"
        ));
    }
    // Stops on SIGTERM within the unit's TimeoutStopSec (15 s).
    let pid = i32::try_from(lbd.id()).map_err(|e| e.to_string())?;
    // SAFETY: signalling the daemon this test started, by its pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let stop = Instant::now();
    while lbd.is_running() {
        if stop.elapsed() > Duration::from_secs(15) {
            return Err("the installed lbd did not stop within 15 s of SIGTERM".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // An upgrade (the same package again), then removal: the table stays as it was.
    sh(&format!("dpkg -i {deb}"))?;
    sh("dpkg -r lbd")?;
    if std::path::Path::new("/usr/sbin/lbd").exists() {
        return Err("dpkg -r left /usr/sbin/lbd".into());
    }
    if !std::path::Path::new("/etc/lbd/director.yaml").exists() {
        return Err("dpkg -r removed the conffile (only a purge should)".into());
    }
    let table = netns::run(n, &["ipvsadm", "-S", "-n"])?;
    if table != table_before {
        return Err(format!("removing the package changed the table:\n{table}"));
    }
    sh("dpkg -P lbd")?;
    if std::path::Path::new("/etc/lbd/director.yaml").exists() {
        return Err("dpkg -P left /etc/lbd/director.yaml".into());
    }
    Ok(())
}
