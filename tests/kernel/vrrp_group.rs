//! A VRRP sync group against keepalived 2.2.7: keepalived in `dir1` with `vrrp_sync_group G {
//! VI_PUB VI_IN }` (VRID 51 on the public net, 52 on the inside one, VRRPv2, keepalived's
//! default for IPv4), the real `lbd` daemon in `dir2` with `vrrp_sync_groups` of the same two
//! instances. Both directions:
//!
//! 1. keepalived master (150 over lbd's 100): its inside link goes down, so its VI_IN faults
//!    and its group takes VI_PUB out too; lbd takes both VIDs (both VIPs on dir2, none on
//!    dir1). The link back: keepalived preempts both back.
//! 2. lbd master (keepalived restarted at 50): lbd's inside link goes down, so lbd's vi_in
//!    faults and its group sends vi_pub to backup; keepalived takes both. The link back: lbd
//!    preempts both back.
//!
//! Budgets derive from the 1 s adverts: a takeover needs Master_Down_Interval (3 s + skew)
//! after the master's last advert or at once on a priority-0 one; each wait allows 30 s
//! (about 8 intervals) for the noisy 2-core CI machines under TCG.

use std::path::Path;
use std::time::Duration;

use libtest_mimic::{Failed, Trial};

use super::daemon::{lab_config, tail, tempdir, wait_for, Lbd};
use super::keepalived::{Keepalived, Subsystems};
use super::netns;
use super::topology::{Options, Topology};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "vrrp::sync_group_fails_over_together_with_keepalived_both_ways",
        || sync_group().map_err(Failed::from),
    )]
}

const WAIT: Duration = Duration::from_secs(30);
const PUB_VIP: &str = "192.0.2.10/";
const IN_VIP: &str = "198.51.100.1/";

/// keepalived in `dir1` (VRRP only) with the sync group at `priority`.
fn start_keepalived(dir: &Path, priority: u8) -> Result<Keepalived, String> {
    let instance = |name: &str, ifname: &str, vrid: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface {ifname}\n  \
             virtual_router_id {vrid}\n  priority {priority}\n  advert_int 1\n  \
             virtual_ipaddress {{\n    {vip}/24\n  }}\n}}\n"
        )
    };
    let text = format!(
        "global_defs {{\n  router_id dir1\n}}\n\
         vrrp_sync_group G {{\n  group {{\n    VI_PUB\n    VI_IN\n  }}\n}}\n{}{}",
        instance("VI_PUB", "eth0", 51, "192.0.2.10"),
        instance("VI_IN", "eth1", 52, "198.51.100.1"),
    );
    Keepalived::start("dir1", dir, &text, Subsystems::Vrrp)
}

/// Which of the two VIPs `ns` holds: (public, inside).
pub(crate) fn vips(ns: &str) -> Result<(bool, bool), String> {
    let addrs = netns::run(ns, &["ip", "-o", "addr"])?;
    Ok((addrs.contains(PUB_VIP), addrs.contains(IN_VIP)))
}

/// lbd's states of (vi_pub, vi_in), from `lbctl status --json`.
fn lbd_states(sock: &Path) -> Result<(String, String), String> {
    let all = super::vrrp::states(sock)?;
    let state = |name: &str| {
        (all.iter())
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    Ok((state("vi_pub"), state("vi_in")))
}

fn link(ns: &str, up: bool) -> Result<(), String> {
    let state = if up { "up" } else { "down" };
    netns::run(ns, &["ip", "link", "set", "eth1", state]).map(|_| ())
}

fn sync_group() -> Result<(), String> {
    let _topology = Topology::up(Options {
        real_servers: 3,
        static_gateway: false,
    })?;
    let tmp = tempdir()?;
    let sock = tmp.path().join("dir2.sock");
    let config = tmp.path().join("c2");
    let instance = |name: &str, ifname: &str, vrid: u8, vip: &str| {
        format!(
            "  - name: {name}\n    interface: {ifname}\n    vrid: {vrid}\n    version: 2\n    \
             priority: 100\n    advert_interval: 1s\n    vips: [{vip}/24]\n"
        )
    };
    lab_config(
        &config,
        "",
        &format!(
            "control: {{socket: {}}}\nvrrp:\n{}{}vrrp_sync_groups:\n  - name: g\n    instances: [vi_pub, vi_in]\n",
            sock.display(),
            instance("vi_pub", "eth0", 51, "192.0.2.10"),
            instance("vi_in", "eth1", 52, "198.51.100.1"),
        ),
    )?;
    let d = config.join("director.yaml");
    let text = std::fs::read_to_string(&d).map_err(|e| e.to_string())?;
    std::fs::write(&d, text.replace("name: dir1", "name: dir2")).map_err(|e| e.to_string())?;

    // 1. keepalived the master.
    let mut ka = start_keepalived(tmp.path(), 150)?;
    let lbd = Lbd::start(
        "dir2",
        &config,
        &tmp.path().join("st2"),
        &tmp.path().join("l2"),
    )?;
    let logs = |ka: &Keepalived, lbd: &Lbd| {
        format!(
            "seen: dir1 VIPs {:?}, dir2 VIPs {:?}, lbd (vi_pub, vi_in) {:?}\nkeepalived:\n{}\nlbd:\n{}",
            vips("dir1"),
            vips("dir2"),
            lbd_states(&sock),
            tail(&ka.log()),
            tail(&lbd.log())
        )
    };
    let both = |want1: (bool, bool), want2: (bool, bool), states: (&'static str, &'static str)| {
        let sock = sock.clone();
        move || -> Result<bool, String> {
            // Not answering yet (starting): not there yet.
            let s = lbd_states(&sock).unwrap_or_default();
            Ok(vips("dir1")? == want1
                && vips("dir2")? == want2
                && (s.0.as_str(), s.1.as_str()) == states)
        }
    };
    wait_for(
        "keepalived master of both, lbd backup of both",
        WAIT,
        both((true, true), (false, false), ("backup", "backup")),
    )
    .map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    link("dir1", false)?;
    let r = wait_for(
        "keepalived's inside link down: lbd takes both",
        WAIT,
        both((false, false), (true, true), ("master", "master")),
    );
    link("dir1", true)?;
    r.map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    wait_for(
        "keepalived's link back: keepalived preempts both back",
        WAIT,
        both((true, true), (false, false), ("backup", "backup")),
    )
    .map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;

    // 2. lbd the master: keepalived again at a lower priority.
    ka.stop().map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    wait_for(
        "keepalived gone: lbd master of both",
        WAIT,
        both((false, false), (true, true), ("master", "master")),
    )
    .map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    let ka = start_keepalived(tmp.path(), 50)?;
    wait_for(
        "keepalived at 50 stays backup",
        WAIT,
        both((false, false), (true, true), ("master", "master")),
    )
    .map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    // keepalived has joined as backup of both: it logged entering BACKUP for each.
    wait_for("keepalived backup of both", WAIT, || {
        let log = ka.log();
        Ok(log.contains("(VI_PUB) Entering BACKUP STATE")
            && log.contains("(VI_IN) Entering BACKUP STATE"))
    })
    .map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    link("dir2", false)?;
    let r = wait_for(
        "lbd's inside link down: keepalived takes both",
        WAIT,
        || {
            let s = lbd_states(&sock).unwrap_or_default();
            Ok(vips("dir1")? == (true, true)
                && vips("dir2")? == (false, false)
                && s.0 == "backup"
                && s.1 != "master")
        },
    );
    link("dir2", true)?;
    r.map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    wait_for(
        "lbd's link back: lbd preempts both back",
        WAIT,
        both((false, false), (true, true), ("master", "master")),
    )
    .map_err(|e| format!("{e}\n{}", logs(&ka, &lbd)))?;
    Ok(())
}
