//! Kernel tests of VRRP inside the daemon: two real `lbd` daemons in `dir1` (priority 150) and
//! `dir2` (priority 100) on the lab topology without static VIPs, so VRRP moves them.
//!
//! Proves: dir1 holds the VIPs and `lbctl status` says master/backup; the sync daemon follows
//! the role (`ipvsadm -L --daemon`); `lbctl failover` on the master hands over to dir2 and dir1
//! stays backup (held, no preemption) until `lbctl failover --clear`, and the failover (an
//! `admin` event) and each role change (`vrrp` events) are in both histories; SIGKILL of the master's
//! lbd → dir2 holds the VIP; dir1 without a healthy http real server (its check made to fail by
//! a reload) lowers its priority and dir2 takes over, and back; a reload that does not touch
//! VRRP keeps the instance running, one that changes the priority restarts it.

use std::path::Path;
use std::time::Duration;

use libtest_mimic::{Failed, Trial};

use super::daemon::{lab_config, tail, tempdir, wait_for, Lbd};
use super::netns;
use super::topology::{Options, Topology};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test("vrrp::two_daemons_failover_and_sync", || {
        two_daemons().map_err(Failed::from)
    })]
}

const LBCTL: &str = env!("CARGO_BIN_EXE_lbctl");

pub(crate) fn director_extra(sock: &Path, priority: u8) -> String {
    format!(
        "control: {{socket: {}}}\n\
         vrrp:\n  - name: vi_51\n    interface: eth0\n    vrid: 51\n    priority: {priority}\n    advert_interval: 200ms\n\
         \x20   vips:\n      - 192.0.2.10/24\n      - {{address: 198.51.100.1/24, interface: eth1}}\n\
         sync_daemon: {{interface: eth1, sync_id: 51}}\n",
        sock.display()
    )
}

pub(crate) fn has_vip(ns: &str) -> Result<bool, String> {
    Ok(netns::run(ns, &["ip", "-o", "addr", "show", "dev", "eth0"])?.contains("192.0.2.10/"))
}

/// `lbctl status --json`'s state of vi_51 (the first instance).
pub(crate) fn role(sock: &Path) -> Result<String, String> {
    Ok(states(sock)?
        .into_iter()
        .next()
        .map(|(_, s)| s)
        .unwrap_or_default())
}

/// `lbctl status --json`'s VRRP instances as (name, state), in its order.
pub(crate) fn states(sock: &Path) -> Result<Vec<(String, String)>, String> {
    let text = |i: &serde_json::Value, key: &str| i[key].as_str().unwrap_or("").to_string();
    Ok(instances(sock)?
        .iter()
        .map(|i| (text(i, "instance"), text(i, "state")))
        .collect())
}

/// `lbctl status --json`'s VRRP instances, in its order.
pub(crate) fn instances(sock: &Path) -> Result<Vec<serde_json::Value>, String> {
    let out = std::process::Command::new(LBCTL)
        .arg("--socket")
        .arg(sock)
        .args(["status", "--json"])
        .output()
        .map_err(|e| format!("lbctl: {e}"))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "lbctl status: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    v.get("vrrp")
        .or_else(|| v.get("status").and_then(|s| s.get("vrrp")))
        .and_then(|x| x.as_array())
        .cloned()
        .ok_or_else(|| format!("no vrrp in {v}"))
}

fn lbctl(sock: &Path, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new(LBCTL)
        .arg("--socket")
        .arg(sock)
        .args(args)
        .output()
        .map_err(|e| format!("lbctl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "lbctl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `lbctl events --json`: one record a line.
fn events(sock: &Path) -> Result<Vec<serde_json::Value>, String> {
    let text = lbctl(sock, &["events", "--json"])?;
    text.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("lbctl events --json: {e}: {l}")))
        .collect()
}

/// Whether `ipvsadm -L --daemon` in `ns` shows the sync daemons of a director in role `role`:
/// a backup runs the backup daemon only, a master the master daemon and still the backup one.
pub(crate) fn sync_is(ns: &str, role: &str) -> Result<bool, String> {
    let out = netns::run(ns, &["ipvsadm", "-L", "--daemon"])?;
    let mut roles: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    roles.sort();
    Ok(match role {
        "master" => roles == ["backup", "master"],
        _ => roles == [role],
    })
}

fn two_daemons() -> Result<(), String> {
    let _topology = Topology::up(Options {
        real_servers: 5,
        static_gateway: false,
    })?;
    let tmp = tempdir()?;
    let (s1, s2) = (tmp.path().join("s1.sock"), tmp.path().join("s2.sock"));
    let (c1, c2) = (tmp.path().join("c1"), tmp.path().join("c2"));
    lab_config(&c1, "", &director_extra(&s1, 150))?;
    lab_config(&c2, "", &director_extra(&s2, 100))?;
    let d2 = c2.join("director.yaml");
    let text = std::fs::read_to_string(&d2).map_err(|e| e.to_string())?;
    std::fs::write(&d2, text.replace("name: dir1", "name: dir2")).map_err(|e| e.to_string())?;
    let lbd1 = Lbd::start("dir1", &c1, &tmp.path().join("st1"), &tmp.path().join("l1"))?;
    let lbd2 = Lbd::start("dir2", &c2, &tmp.path().join("st2"), &tmp.path().join("l2"))?;
    let logs = |a: &Lbd, b: &Lbd| format!("dir1:\n{}\ndir2:\n{}", tail(&a.log()), tail(&b.log()));

    let r = wait_for("dir1 master, dir2 backup", Duration::from_secs(20), || {
        Ok(role(&s1).unwrap_or_default() == "master"
            && role(&s2).unwrap_or_default() == "backup"
            && has_vip("dir1")?
            && !has_vip("dir2")?)
    });
    r.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    let r = wait_for(
        "sync daemon follows the role",
        Duration::from_secs(10),
        || Ok(sync_is("dir1", "master")? && sync_is("dir2", "backup")?),
    );
    r.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;

    // Operator failover: dir2 takes over at once and dir1 stays backup although it has the
    // higher priority.
    let out = lbctl(&s1, &["failover"])?;
    eprintln!("lbctl failover: {out}");
    let took = wait_for("dir2 master after failover", Duration::from_secs(5), || {
        Ok(has_vip("dir2")? && !has_vip("dir1")? && role(&s2).unwrap_or_default() == "master")
    })
    .map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    eprintln!("failover: dir2 holds the VIP after {took:?}");
    std::thread::sleep(Duration::from_secs(2));
    if has_vip("dir1")? || role(&s1)? != "backup" {
        return Err(format!(
            "dir1 preempted despite the hold\n{}",
            logs(&lbd1, &lbd2)
        ));
    }
    wait_for(
        "sync daemon follows the failover",
        Duration::from_secs(5),
        || Ok(sync_is("dir2", "master")? && sync_is("dir1", "backup")?),
    )?;
    // The operator's failover and both directors' role changes are in their event histories.
    let ev1 = events(&s1)?;
    let ev2 = events(&s2)?;
    for (ev, kind, want) in [
        (
            &ev1,
            "admin",
            "operator: failover: vi_51: master steps down (priority 0), held in backup",
        ),
        // (The priority in a record is the one of that moment, tracking included.)
        (&ev1, "vrrp", "vi_51: backup → master (priority "),
        (&ev1, "vrrp", "vi_51: master → backup (priority "),
        (&ev2, "vrrp", "vi_51: backup → master (priority "),
    ] {
        let found = ev.iter().any(|r| {
            r["kind"] == kind && r["message"].as_str().is_some_and(|m| m.starts_with(want))
        });
        if !found {
            return Err(format!("no {kind} event {want:?} in:\n{ev:#?}"));
        }
    }
    // Clearing the hold lets dir1 preempt again.
    lbctl(&s1, &["failover", "--clear"])?;
    wait_for(
        "dir1 master again after --clear",
        Duration::from_secs(5),
        || Ok(has_vip("dir1")? && !has_vip("dir2")?),
    )
    .map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;

    // Tracking: dir1's http check now fails everywhere (dir2's still passes), so http has no
    // healthy real server on dir1: 150 - 60 = 90 < 100 and dir2 preempts; fixed, dir1 is back.
    let http1 = c1.join("services/http.yaml");
    let good = std::fs::read_to_string(&http1).map_err(|e| e.to_string())?;
    std::fs::write(&http1, good.replace("^rs", "^nomatch")).map_err(|e| e.to_string())?;
    lbctl(&s1, &["reload"])?;
    let took = wait_for(
        "dir2 master while dir1 has no healthy http server",
        Duration::from_secs(15),
        || Ok(has_vip("dir2")? && !has_vip("dir1")?),
    )
    .map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    eprintln!("no healthy http real server on dir1: dir2 holds the VIP after {took:?}");
    if !lbd1
        .log()
        .contains("no healthy real server: lowering the vrrp priority instance=vi_51 service=http")
    {
        return Err(format!(
            "dir1 did not say why it lowered its priority\n{}",
            tail(&lbd1.log())
        ));
    }
    std::fs::write(&http1, &good).map_err(|e| e.to_string())?;
    lbctl(&s1, &["reload"])?;
    wait_for(
        "dir1 master again once http is healthy",
        Duration::from_secs(15),
        || Ok(has_vip("dir1")? && !has_vip("dir2")?),
    )
    .map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;

    // Reloads: a change outside VRRP keeps the instance running; a new priority restarts it.
    let from = lbd2.log().len();
    let text = std::fs::read_to_string(&d2).map_err(|e| e.to_string())?;
    let text = text.replace("reconcile_interval: 2s", "reconcile_interval: 3s");
    std::fs::write(&d2, &text).map_err(|e| e.to_string())?;
    lbctl(&s2, &["reload"])?;
    std::thread::sleep(Duration::from_millis(500));
    if lbd2.log()[from..].contains("vrrp instance stopping") {
        return Err(format!(
            "an unchanged instance was restarted\n{}",
            tail(&lbd2.log())
        ));
    }
    std::fs::write(&d2, text.replace("priority: 100", "priority: 110"))
        .map_err(|e| e.to_string())?;
    lbctl(&s2, &["reload"])?;
    wait_for(
        "dir2's instance restarted at 110",
        Duration::from_secs(5),
        || {
            let log = lbd2.log();
            let new = &log[from..];
            Ok(
                new.contains("vrrp instance stopping (configuration changed)")
                    && new.lines().any(|l| {
                        l.contains(
                            "vrrp instance starting instance=vi_51 interface=eth0 src=192.0.2.3",
                        ) && l.contains(" priority=110")
                    }),
            )
        },
    )
    .map_err(|e| format!("{e}\n{}", tail(&lbd2.log())))?;
    // dir1 stays master throughout.
    std::thread::sleep(Duration::from_secs(1));
    if !has_vip("dir1")? || has_vip("dir2")? {
        return Err(format!(
            "the VIP moved during dir2's reload\n{}",
            logs(&lbd1, &lbd2)
        ));
    }

    // SIGKILL the master's lbd: dir2 takes the VIP within the master down interval.
    lbd1.signal(libc::SIGKILL);
    let took = wait_for(
        "dir2 holds the VIP after SIGKILL",
        Duration::from_secs(5),
        || has_vip("dir2"),
    )
    .map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    eprintln!("SIGKILL of dir1: dir2 holds the VIP after {took:?}");
    drop(lbd1);
    let log = lbd2.stop()?;
    if !log.contains("vrrp instance stopped") {
        return Err(format!(
            "dir2 did not stop its instance cleanly:\n{}",
            tail(&log)
        ));
    }
    Ok(())
}
