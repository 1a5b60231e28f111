//! The `misc` monitor (keepalived's MISC_CHECK) with `dynamic` against the real IPVS: the
//! script's exit sets each real server's weight in the kernel (exit − 2), exit 1 takes it out,
//! and a restart over the table sends nothing.

use super::daemon::{lab_config, mutating_ops, real_servers, tempdir, wait_for, write, Lbd};
use super::topology::{Options, Topology};
use libtest_mimic::{Failed, Trial};
use std::time::Duration;

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "misc::dynamic_exit_codes_set_the_kernel_weights",
        || dynamic_weights().map_err(Failed::from),
    )]
}

const SERVICE: &str = "192.0.2.10:7100";
/// The check's interval; every wait is a multiple of it with room for a loaded TCG guest.
const INTERVAL: Duration = Duration::from_secs(1);

/// (real server, weight) of the misc service.
fn weights() -> Result<Vec<(String, i64)>, String> {
    let mut out = Vec::new();
    for line in real_servers("dir1", Some(SERVICE))? {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(addr), Some(w)) = (f.get(1), f.get(3)) else {
            return Err(format!("unexpected ipvsadm line {line:?}"));
        };
        out.push((
            addr.to_string(),
            w.parse().map_err(|e| format!("{line:?}: {e}"))?,
        ));
    }
    Ok(out)
}

fn want(pairs: &[(u8, i64)]) -> Vec<(String, i64)> {
    pairs
        .iter()
        .map(|&(i, w)| (format!("198.51.100.1{i}:7100"), w))
        .collect()
}

fn dynamic_weights() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    let codes = tmp.path().join("codes");
    lab_config(&config, "", "mass_removal_guard: 100%\n")?;
    write(
        &config.join("hostgroups/misc_nodes.yaml"),
        "ping: false\nnodes:\n  - {name: rs1, address: 198.51.100.11}\n  \
         - {name: rs2, address: 198.51.100.12}\n",
    )?;
    let script = tmp.path().join("check");
    write(
        &script,
        &format!("#!/bin/sh\nexit $(cat {}/$1)\n", codes.display()),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod: {e}"))?;
    write(
        &config.join("services/misc.yaml"),
        &format!(
            "virtual: {{address: 192.0.2.10, port: 7100}}\nscheduler: wrr\nhostgroup: misc_nodes\n\
             watch:\n  monitor: {{type: misc, path: {}, args: ['{{address}}'], dynamic: true}}\n  \
             interval: 1s\n  timeout: 500ms\n",
            script.display()
        ),
    )?;
    let code = |addr: &str, c: &str| write(&codes.join(addr), c);
    code("198.51.100.11", "12")?;
    code("198.51.100.12", "0")?;
    let budget = INTERVAL * 20;
    let state = tmp.path().join("state");
    let lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd.log"))?;
    wait_for("rs1 at weight 10, rs2 at its own 1", budget * 2, || {
        Ok(weights()? == want(&[(1, 10), (2, 1)]))
    })?;
    // Exit 2: weight 0, kept; exit 1: out.
    code("198.51.100.11", "2")?;
    code("198.51.100.12", "1")?;
    wait_for("rs1 at weight 0, rs2 out", budget, || {
        Ok(weights()? == want(&[(1, 0)]))
    })?;
    code("198.51.100.11", "7")?;
    wait_for("rs1 at weight 5", budget, || {
        Ok(weights()? == want(&[(1, 5)]))
    })?;
    // A restart over that table: the state file has the weight, nothing is sent.
    lbd.stop()?;
    let mut lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd2.log"))?;
    let line = lbd.wait_line("first reconcile done", 0, budget * 3)?;
    if mutating_ops(&line)? != 0 {
        return Err(format!("a restart changed the table: {line}"));
    }
    if weights()? != want(&[(1, 5)]) {
        return Err(format!("after the restart: {:?}", weights()?));
    }
    lbd.stop()?;
    Ok(())
}
