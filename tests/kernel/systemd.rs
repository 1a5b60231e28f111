//! The packaged unit under real systemd: these trials run only in the lab boot whose PID 1 is
//! the host's systemd 252 (`vagrant/lab run --init systemd`, chosen by `main`), with the guest's
//! root namespace as the director. They install the Debian package (its maintainer scripts
//! enable and start the unit), give it a configuration with a service, a Mon-style external
//! monitor and a VRRP instance, and check what an operator relies on:
//! - `systemctl start` returns after READY=1, which follows the first reconcile (the table is
//!   there when it returns), under the unit's whole hardening (the checks, the VRRP raw socket,
//!   the VIP added over rtnetlink, the control socket all work);
//! - `systemctl reload` with a broken configuration is refused (the unit stays active, same
//!   pid, the table unchanged, the error in the journal), a good one is applied;
//! - the journal carries lbd's entries natively, with their fields (PRIORITY, NODE, ...);
//! - a stalled event loop (SIGSTOP) is killed by the watchdog and restarted over the kept
//!   table: 0 IPVS operations;
//! - `systemctl stop` ends within TimeoutStopSec and leaves the table; an upgrade restarts lbd
//!   over the converged table (0 operations); removing the package never flushes the table;
//! - `systemd-analyze security` scores the loaded unit at most [`EXPOSURE_LIMIT`];
//! - the failover demo (`vagrant/demo`) runs from the installed package's programs, monitors
//!   and example configuration (`LBD_INSTALLED=1`).

use super::daemon::{wait_for, write};
use super::package::{deb, sh};
use libtest_mimic::{Failed, Trial};
use std::path::Path;
use std::time::{Duration, Instant};

/// The exposure score the README records for the shipped unit (`systemd-analyze security`).
const EXPOSURE_LIMIT: f64 = 2.5;

/// The unit's settings the budgets below derive from (systemd/lbd.service).
const WATCHDOG: Duration = Duration::from_secs(10);
const TIMEOUT_STOP: Duration = Duration::from_secs(15);
const RESTART_SEC: Duration = Duration::from_secs(2);
/// A start under TCG: the first reconcile, the ExecStartPre check, systemd's own work.
const START: Duration = Duration::from_secs(60);

pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test(
            "systemd::start_waits_for_the_first_reconcile_and_reload_refuses_a_broken_config",
            || start_and_reload().map_err(Failed::from),
        ),
        Trial::test(
            "systemd::watchdog_restarts_a_stalled_lbd_over_the_kept_table",
            || watchdog().map_err(Failed::from),
        ),
        Trial::test("systemd::the_demo_runs_from_the_installed_package", || {
            demo_from_package().map_err(Failed::from)
        }),
        Trial::test(
            "systemd::stop_upgrade_and_removal_keep_the_table_and_the_unit_scores_ok",
            || stop_upgrade_remove().map_err(Failed::from),
        ),
    ]
}

/// Whether this process runs under the lab's systemd boot (PID 1 is systemd).
pub fn booted() -> bool {
    std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd")
        && Path::new("/run/systemd/system").is_dir()
}

const DIRECTOR: &str = "\
name: lab1
reconcile_interval: 2s
vrrp:
  - name: vi_51
    interface: lbv0
    vrid: 51
    priority: 150
    advert_interval: 1s
    vips: [203.0.113.10/32]
";

const HOSTGROUP: &str = "\
ping: false
nodes:
  - {name: rs1, address: 198.51.100.11}
  - {name: rs2, address: 198.51.100.12}
  - {name: rs3, address: 198.51.100.99}   # nothing there: fails its checks
";

const WEB: &str = "\
virtual: {address: 192.0.2.10, port: 80}
scheduler: rr
hostgroup: web
port: 8080
watch:
  monitor: tcp
  interval: 1s
";

/// Added by the good reload: the packaged Mon-style monitor, a shell script run by lbd.
const SCRIPTED: &str = "\
virtual: {address: 192.0.2.10, port: 81}
scheduler: wrr
hostgroup: web
port: 8080
watch:
  monitor: {external: tcp.monitor, args: [\"-p\", \"8080\", \"-t\", \"1\"]}
  interval: 4s
  timeout: 3s
";

/// Installed, configured, the real servers listening, lbd active: what every trial starts
/// from (each can run alone).
fn setup() -> Result<(), String> {
    if sh("dpkg-query -W -f='${Status}' lbd").map_or(true, |s| !s.contains("ok installed")) {
        // man-db's trigger (a whole mandb run, about a minute under TCG) is not the subject.
        let _ = std::fs::remove_file("/var/lib/man-db/auto-update");
        sh(&format!("dpkg -i {}", deb()?.display()))?;
        // The maintainer scripts enabled and started the unit (over the inert example).
        if !active()? || sh("systemctl is-enabled lbd")?.trim() != "enabled" {
            return Err(format!(
                "the package's installation did not enable and start lbd: {}",
                sh("systemctl status --no-pager lbd").unwrap_or_else(|e| e)
            ));
        }
    }
    if sh("ip link show lbr0").is_err() {
        sh("ip link add lbr0 type dummy && ip link set lbr0 up \
            && ip addr add 198.51.100.11/24 dev lbr0 && ip addr add 198.51.100.12/24 dev lbr0 \
            && ip link add lbv0 type veth peer name lbv1 && ip link set lbv1 up \
            && ip link set lbv0 up && ip addr add 203.0.113.2/24 dev lbv0")?;
        // The real servers: one listener on 8080 for both addresses, for the trials' lifetime.
        let listener = std::net::TcpListener::bind("0.0.0.0:8080").map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                drop(conn);
            }
        });
    }
    let etc = Path::new("/etc/lbd");
    if std::fs::read_to_string(etc.join("director.yaml"))
        .ok()
        .as_deref()
        != Some(DIRECTOR)
    {
        write(&etc.join("director.yaml"), DIRECTOR)?;
        write(&etc.join("hostgroups/web.yaml"), HOSTGROUP)?;
        write(&etc.join("services/web.yaml"), WEB)?;
        sh("systemctl restart lbd")?;
    }
    if !active()? {
        sh("systemctl start lbd")?;
    }
    Ok(())
}

fn active() -> Result<bool, String> {
    Ok(show("ActiveState")? == "active")
}

/// `systemctl show -p PROP --value lbd`.
fn show(prop: &str) -> Result<String, String> {
    Ok(sh(&format!("systemctl show -p {prop} --value lbd"))?
        .trim()
        .to_string())
}

fn table() -> Result<String, String> {
    sh("ipvsadm -S -n")
}

/// The real servers of `vip:port` in the kernel.
fn dests(service: &str) -> Result<usize, String> {
    let out = sh(&format!("ipvsadm -L -n -t {service}"))?;
    Ok(out.lines().filter(|l| l.trim().starts_with("-> 1")).count())
}

/// The IPVS write operations the running lbd made (`lbd_netlink_operations_total`).
fn operations() -> Result<u64, String> {
    let m = sh("curl -sS -m 5 http://127.0.0.1:9180/metrics")?;
    Ok(m.lines()
        .filter(|l| l.starts_with("lbd_netlink_operations_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum())
}

/// The journal's entries for lbd.service since `cursor` (or all), as JSON objects.
fn journal(since_cursor: Option<&str>) -> Result<Vec<serde_json::Value>, String> {
    let after = since_cursor.map_or(String::new(), |c| format!(" --after-cursor='{c}'"));
    let out = sh(&format!("journalctl -u lbd -o json --no-pager{after}"))?;
    Ok(out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn cursor() -> Result<String, String> {
    let last = journal(None)?;
    last.last()
        .and_then(|e| e["__CURSOR"].as_str())
        .map(str::to_string)
        .ok_or_else(|| "the journal has no entry of lbd.service".into())
}

fn field<'a>(e: &'a serde_json::Value, name: &str) -> &'a str {
    e[name].as_str().unwrap_or("")
}

fn start_and_reload() -> Result<(), String> {
    setup()?;
    // A start from nothing: no table, then `systemctl start`, which returns on READY=1.
    sh("systemctl stop lbd && ipvsadm -C")?;
    let t = Instant::now();
    sh("systemctl start lbd")?;
    let took = t.elapsed();
    if !table()?.contains("-A -t 192.0.2.10:80 -s rr") {
        return Err(format!(
            "systemctl start returned (after {took:?}) before the first reconcile:\n{}",
            table()?
        ));
    }
    eprintln!("systemd: start returned after {took:?}, the service already in the table");
    // Under the hardening: the built-in checks bring both real servers in, VRRP (a raw socket,
    // alone on its link) becomes master and adds the VIP over rtnetlink, lbctl answers.
    wait_for("both real servers of 192.0.2.10:80", START, || {
        Ok(dests("192.0.2.10:80")? == 2)
    })?;
    // Master after the master-down interval (3 × 1 s + skew), generous under TCG.
    wait_for("VRRP master with 203.0.113.10 on lbv0", START, || {
        Ok(sh("ip -o addr show dev lbv0")?.contains("203.0.113.10/32"))
    })?;
    let status = sh("lbctl status")?;
    if !status.contains("vi_51") || !status.contains("MASTER") && !status.contains("master") {
        return Err(format!("lbctl status under the unit: {status}"));
    }

    // A broken configuration: refused, nothing changes, the error in the journal.
    let pid = show("MainPID")?;
    let before = table()?;
    let mark = cursor()?;
    let bad = Path::new("/etc/lbd/services/bad.yaml");
    write(
        bad,
        "virtual: {address: 192.0.2.10, port: 99999}\nhostgroup: web\n",
    )?;
    sh("systemctl reload lbd")?;
    let rejected = wait_for("the refused reload in the journal", START, || {
        Ok(journal(Some(&mark))?
            .iter()
            .any(|e| field(e, "MESSAGE").contains("reload rejected")))
    });
    std::fs::remove_file(bad).map_err(|e| e.to_string())?;
    rejected?;
    let entry = journal(Some(&mark))?
        .into_iter()
        .find(|e| field(e, "MESSAGE").contains("reload rejected"))
        .ok_or("the entry went away")?;
    // Native entries: the level as PRIORITY (3 = error), lbd's own identifier and source.
    if field(&entry, "PRIORITY") != "3"
        || field(&entry, "SYSLOG_IDENTIFIER") != "lbd"
        || !field(&entry, "MESSAGE").contains("bad.yaml")
        || field(&entry, "CODE_FILE").is_empty()
    {
        return Err(format!("the refused reload's journal entry: {entry}"));
    }
    if !active()? || show("MainPID")? != pid || table()? != before {
        return Err("the refused reload changed the unit or the table".into());
    }

    // A good one: the new service appears, checked by the packaged shell monitor.
    write(Path::new("/etc/lbd/services/scripted.yaml"), SCRIPTED)?;
    sh("systemctl reload lbd")?;
    wait_for(
        "both real servers of 192.0.2.10:81 (tcp.monitor)",
        START,
        || Ok(table()?.contains("-A -t 192.0.2.10:81 -s wrr") && dests("192.0.2.10:81")? == 2),
    )
    .map_err(|e| {
        format!(
            "{e}\n{}\n{}\n{}",
            table().unwrap_or_else(|e| e),
            sh("lbctl status").unwrap_or_else(|e| e),
            sh("journalctl -u lbd --no-pager -n 30").unwrap_or_else(|e| e)
        )
    })?;
    if show("MainPID")? != pid {
        return Err("the good reload restarted lbd".into());
    }
    // The node transitions, as journal fields.
    let transitions: Vec<_> = journal(None)?
        .into_iter()
        .filter(|e| field(e, "MESSAGE") == "node transition")
        .collect();
    if !transitions
        .iter()
        .any(|e| field(e, "NODE") == "rs3" && field(e, "NEW") == "failed")
    {
        let messages: std::collections::BTreeSet<_> = journal(None)?
            .iter()
            .map(|e| field(e, "MESSAGE").to_string())
            .collect();
        return Err(format!(
            "no node transition of rs3 with NODE and NEW fields: {transitions:?}; \
             the messages: {messages:?}"
        ));
    }
    Ok(())
}

fn watchdog() -> Result<(), String> {
    setup()?;
    wait_for("the converged table", START, || {
        Ok(dests("192.0.2.10:80")? == 2)
    })?;
    let before = table()?;
    let pid = show("MainPID")?;
    let restarts: u32 = show("NRestarts")?
        .parse()
        .map_err(|e| format!("NRestarts: {e}"))?;
    // The event loop stops petting the watchdog; systemd sends SIGABRT (held while stopped),
    // then SIGKILL after TimeoutAbortSec (= TimeoutStopSec), then restarts after RestartSec.
    sh(&format!("kill -STOP {pid}"))?;
    let budget = (WATCHDOG + TIMEOUT_STOP + RESTART_SEC + START) * 2;
    let took = wait_for("a new lbd after the watchdog fired", budget, || {
        let now = show("MainPID")?;
        Ok(now != pid && now != "0" && active()?)
    })?;
    eprintln!("systemd: restarted {took:?} after SIGSTOP");
    let now: u32 = show("NRestarts")?
        .parse()
        .map_err(|e| format!("NRestarts: {e}"))?;
    if now != restarts + 1 {
        return Err(format!("NRestarts went from {restarts} to {now}"));
    }
    let log = sh("journalctl -u lbd --no-pager -o cat")?;
    if !log.contains("Watchdog timeout") {
        return Err(format!("the journal has no watchdog timeout:\n{log}"));
    }
    // The new lbd adopted the kept table: unchanged, without one IPVS operation.
    if table()? != before {
        return Err(format!(
            "the restart changed the table:\n{before}→\n{}",
            table()?
        ));
    }
    let ops = operations()?;
    if ops != 0 {
        return Err(format!(
            "the restarted lbd made {ops} IPVS operations over a kept table"
        ));
    }
    Ok(())
}

fn demo_from_package() -> Result<(), String> {
    setup()?;
    // The unit's own lbd has nothing to do with the demo's namespaces: out of the way.
    sh("systemctl stop lbd")?;
    let project = super::lab::project_dir();
    let out = std::process::Command::new(project.join("vagrant/demo"))
        .env("LBD_INSTALLED", "1")
        .current_dir(&project)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("vagrant/demo: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the demo failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // "   requests: 52 in all, 3 failed", as tests/lab_demo.rs reads it.
    let numbers: Vec<u32> = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("requests: "))
        .ok_or_else(|| format!("no summary in:\n{stdout}"))?
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let [all, failed] = numbers[..] else {
        return Err(format!("unexpected summary in:\n{stdout}"));
    };
    eprintln!("systemd: the demo from the package: {all} requests, {failed} failed");
    if all < 30 || failed * 5 > all || !stdout.contains("dir2 holds the VIP") {
        return Err(format!("the demo from the package:\n{stdout}"));
    }
    Ok(())
}

fn stop_upgrade_remove() -> Result<(), String> {
    setup()?;
    wait_for("the converged table", START, || {
        Ok(dests("192.0.2.10:80")? == 2)
    })?;
    let converged = table()?;

    // Stop: within TimeoutStopSec, a clean exit, the table left as it is.
    let t = Instant::now();
    sh("systemctl stop lbd")?;
    let took = t.elapsed();
    if took > TIMEOUT_STOP || show("Result")? != "success" {
        return Err(format!(
            "systemctl stop took {took:?} (TimeoutStopSec {TIMEOUT_STOP:?}), Result={}",
            show("Result")?
        ));
    }
    if table()? != converged {
        return Err("stopping lbd changed the table".into());
    }
    sh("systemctl start lbd")?;

    // The hardening's score, of the unit systemd loaded.
    let report = sh("systemd-analyze security --no-pager lbd.service")?;
    let score: f64 = report
        .lines()
        .find_map(|l| l.split("lbd.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no overall exposure level in:\n{report}"))?;
    eprintln!("systemd: exposure level {score}");
    if score > EXPOSURE_LIMIT {
        return Err(format!(
            "exposure level {score} above {EXPOSURE_LIMIT}:\n{report}"
        ));
    }

    // An upgrade (the same package again): the maintainer scripts restart lbd, which finds
    // the table converged.
    wait_for("the converged table", START, || {
        Ok(dests("192.0.2.10:80")? == 2)
    })?;
    let pid = show("MainPID")?;
    let before = table()?;
    sh(&format!("dpkg -i {}", deb()?.display()))?;
    wait_for("lbd restarted by the upgrade", START, || {
        Ok(show("MainPID")? != pid && active()?)
    })?;
    let ops = operations()?;
    if ops != 0 || table()? != before {
        return Err(format!(
            "the upgrade's restart made {ops} operations; table:\n{before}→\n{}",
            table()?
        ));
    }

    // Removal stops lbd and leaves the table; the purge takes the configuration.
    sh("dpkg -r lbd")?;
    if active()? {
        return Err("dpkg -r left lbd running".into());
    }
    if table()? != before {
        return Err("removing the package changed the table".into());
    }
    sh("dpkg -P lbd")?;
    if Path::new("/etc/lbd/director.yaml").exists() {
        return Err("dpkg -P left /etc/lbd/director.yaml".into());
    }
    Ok(())
}
