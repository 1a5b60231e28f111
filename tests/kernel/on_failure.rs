//! `on_failure: inhibit` and the sorry server's `mode: replace` against the real IPVS: a
//! failing real server stays in the table with weight 0 and its established connection keeps
//! flowing while new ones go elsewhere; below quorum the sorry server replaces the servers
//! still passing; quorum back undoes it, and the `quorum_down` / `quorum_up` scripts run once
//! each; a restart over inhibited servers sends nothing and runs no quorum script.

use super::daemon::{lab_config, mutating_ops, real_servers, tail, tempdir, wait_for, write, Lbd};
use super::echo::{connect, echo, Echo};
use super::topology::{Options, Topology};
use libtest_mimic::{Failed, Trial};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "on_failure::inhibit_keeps_connections_and_the_sorry_server_replaces",
        || inhibit_and_replace().map_err(Failed::from),
    )]
}

const SERVICE: &str = "192.0.2.10:7000";
/// The check's interval; every wait below is a multiple of it with room for a loaded TCG guest.
const INTERVAL: Duration = Duration::from_secs(1);

fn budget() -> Duration {
    // fall 1: one failed check, one batch; 20 intervals of headroom.
    INTERVAL * 20
}

/// (weight, active connections) of each real server of the echo service, by address:port.
fn table() -> Result<BTreeMap<String, (i64, u64)>, String> {
    let mut out = BTreeMap::new();
    for line in real_servers("dir1", Some(SERVICE))? {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(addr), Some(w), Some(a)) = (f.get(1), f.get(3), f.get(4)) else {
            return Err(format!("unexpected ipvsadm line {line:?}"));
        };
        let parse = |s: &str| s.parse::<i64>().map_err(|e| format!("{line:?}: {e}"));
        out.insert(addr.to_string(), (parse(w)?, parse(a)? as u64));
    }
    Ok(out)
}

fn rs(i: u8) -> String {
    format!("198.51.100.1{i}:7000")
}

fn weights() -> Result<Vec<(String, i64)>, String> {
    Ok(table()?.into_iter().map(|(k, (w, _))| (k, w)).collect())
}

fn want(pairs: &[(u8, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|&(i, w)| (rs(i), w)).collect()
}

/// The quorum scripts append `KIND NODES` to `out`.
fn configure(config: &std::path::Path, out: &std::path::Path) -> Result<(), String> {
    let alert_dir = config.join("alert.d");
    lab_config(
        config,
        "",
        &format!(
            "mass_removal_guard: 100%\nalert_dir: {}\n",
            alert_dir.display()
        ),
    )?;
    let script = alert_dir.join("quorum.alert");
    write(
        &script,
        &format!(
            "#!/bin/sh\necho \"$LBD_ALERT $LBD_QUORUM $LBD_NODE\" >> {}\n",
            out.display()
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", script.display()))?;
    write(
        &config.join("hostgroups/echo_nodes.yaml"),
        "ping: false\nnodes:\n  - {name: rs1, address: 198.51.100.11}\n  \
         - {name: rs2, address: 198.51.100.12}\n  - {name: rs3, address: 198.51.100.13}\n",
    )?;
    // Checked on 7001, so that a check can fail while the echo on 7000 still serves.
    write(
        &config.join("services/echo.yaml"),
        "virtual: {address: 192.0.2.10, port: 7000}\nscheduler: rr\nhostgroup: echo_nodes\n\
         on_failure: inhibit\nquorum: 2\nquorum_down: [quorum.alert]\nquorum_up: [quorum.alert]\n\
         sorry_server: {address: 198.51.100.14, port: 7000, mode: replace}\n\
         watch:\n  monitor: {type: tcp, port: 7001}\n  interval: 1s\n  timeout: 500ms\n  \
         rise: 1\n  fall: 1\n",
    )
}

fn inhibit_and_replace() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    let runs = tmp.path().join("quorum-runs");
    configure(&config, &runs)?;
    let quorum_runs = || std::fs::read_to_string(&runs).unwrap_or_default();
    let _echoes = (1..=4)
        .map(|i| Echo::start_on(&format!("rs{i}"), 7000))
        .collect::<Result<Vec<_>, _>>()?;
    let mut checked: BTreeMap<u8, Echo> = BTreeMap::new();
    for i in 1..=3 {
        checked.insert(i, Echo::start_on(&format!("rs{i}"), 7001)?);
    }
    let state = tmp.path().join("state");
    let lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd.log"))?;
    let all_in = want(&[(1, 1), (2, 1), (3, 1)]);
    wait_for("rs1-rs3 in at weight 1", budget() * 2, || {
        Ok(weights()? == all_in)
    })?;

    // One long-lived connection; the server it landed on is the one whose check fails.
    let vip = SERVICE.parse().map_err(|_| "vip")?;
    let mut held = connect(vip)?;
    echo(&mut held, "before")?;
    let t = table()?;
    let Some((landed, _)) = t.iter().find(|(_, (_, active))| *active == 1) else {
        return Err(format!("the connection shows on no real server: {t:?}"));
    };
    let x: u8 = landed.as_bytes()[landed.find(':').unwrap() - 1] - b'0';
    checked.remove(&x);
    let mut expect: Vec<(u8, i64)> = (1..=3).map(|i| (i, i64::from(i != x))).collect();
    wait_for(&format!("rs{x} inhibited (weight 0)"), budget(), || {
        Ok(weights()? == want(&expect))
    })?;
    // Still listed with its connection, which keeps flowing.
    if table()?[&rs(x)] != (0, 1) {
        return Err(format!("rs{x} after inhibit: {:?}", table()?));
    }
    echo(&mut held, "after the check failed")?;
    // New connections go to the two still passing, none to rs{x}.
    let fresh = (0..4)
        .map(|_| connect(vip))
        .collect::<Result<Vec<_>, _>>()?;
    let t = table()?;
    if t[&rs(x)].1 != 1 || t.values().map(|(_, a)| a).sum::<u64>() != 5 {
        return Err(format!(
            "new connections reached the inhibited server: {t:?}"
        ));
    }
    drop(fresh);
    let log = lbd.log();
    if !log.contains("inhibited: weight 0") {
        return Err(format!("no inhibit reason in the log:\n{}", tail(&log)));
    }

    // A second failure: 1 passing < quorum 2. The sorry server replaces the one left (weight 0).
    let z = (1..=3).find(|&i| i != x).unwrap();
    checked.remove(&z);
    expect = (1..=3).map(|i| (i, 0)).collect();
    expect.push((4, 1));
    wait_for(
        "the sorry server alone takes new connections",
        budget(),
        || Ok(weights()? == want(&expect)),
    )?;
    let mut to_sorry = connect(vip)?;
    echo(&mut to_sorry, "sorry")?;
    if table()?[&rs(4)].1 != 1 {
        return Err(format!(
            "a new connection missed the sorry server: {:?}",
            table()?
        ));
    }
    echo(&mut held, "while the sorry server serves")?;
    let y = (1..=3).find(|&i| i != x && i != z).unwrap();
    let lost = format!("quorum_down lost rs{y}\n");
    wait_for("quorum_down ran with the passing server", budget(), || {
        Ok(quorum_runs() == lost)
    })?;

    // rs{x}'s check passes again: quorum is back, the sorry server leaves.
    checked.insert(x, Echo::start_on(&format!("rs{x}"), 7001)?);
    expect = (1..=3).map(|i| (i, i64::from(i != z))).collect();
    wait_for("quorum back: sorry server out", budget(), || {
        Ok(weights()? == want(&expect))
    })?;
    echo(&mut held, "after quorum returned")?;
    let (a, b) = (x.min(y), x.max(y));
    let back = format!("{lost}quorum_up met rs{a} rs{b}\n");
    wait_for("quorum_up ran once", budget(), || Ok(quorum_runs() == back))?;

    // A restart over the table with rs{z} inhibited sends no operation.
    lbd.stop()?;
    let mut lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd2.log"))?;
    let line = lbd.wait_line("first reconcile done", 0, budget() * 3)?;
    if mutating_ops(&line)? != 0 {
        return Err(format!(
            "restart over inhibited servers changed the table: {line}"
        ));
    }
    std::thread::sleep(INTERVAL * 3);
    if weights()? != want(&expect) {
        return Err(format!("after the restart: {:?}", table()?));
    }
    echo(&mut held, "after the restart")?;
    if quorum_runs() != back {
        return Err(format!("a quorum script ran at start: {:?}", quorum_runs()));
    }
    lbd.stop()?;
    Ok(())
}
