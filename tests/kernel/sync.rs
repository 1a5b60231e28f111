//! The IPVS connection-sync daemon switched by VRRP roles (`vrrp::ipvs_sync`), checked with
//! `ipvsadm -L --daemon` in a scratch namespace.

use lbd::ipvs::{DaemonState, SyncDaemon};
use lbd::vrrp::ipvs_sync::IpvsSyncDaemon;
use lbd::vrrp::sync::SyncDaemonControl;
use libtest_mimic::{Failed, Trial};

use crate::netns::{in_netns, run, Netns};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "sync::roles_switch_the_sync_daemon",
        roles_switch_the_sync_daemon,
    )]
}

fn daemons(ns: &str) -> Result<String, Failed> {
    Ok(run(ns, &["ipvsadm", "-L", "--daemon"])?)
}

fn roles_switch_the_sync_daemon() -> Result<(), Failed> {
    let ns = Netns::new("lbd-sync")?;
    run(
        ns.name(),
        &["sh", "-c", "ip link add s0 type dummy && ip link set s0 up"],
    )?;
    let mut template = SyncDaemon::new(DaemonState::Backup, "s0", 51);
    template.port = Some(8848);
    let sync = IpvsSyncDaemon::new(template);
    let steps = in_netns(ns.name(), || -> Result<Vec<String>, String> {
        let mut seen = Vec::new();
        let show = || run(ns.name(), &["ipvsadm", "-L", "--daemon"]);
        sync.to_backup().map_err(|e| e.to_string())?;
        seen.push(show()?);
        sync.to_master().map_err(|e| e.to_string())?;
        seen.push(show()?);
        // Switching to the running role again changes nothing and is no error.
        sync.to_master().map_err(|e| e.to_string())?;
        seen.push(show()?);
        sync.to_backup().map_err(|e| e.to_string())?;
        seen.push(show()?);
        Ok(seen)
    })??;
    // The master keeps its backup daemon running (as keepalived does): stopping it at a
    // takeover would throw away the sync messages the old master sent just before it died,
    // and with them the connections they carried.
    let want = [(false, true), (true, true), (true, true), (false, true)];
    for (i, (shown, (master, backup))) in steps.iter().zip(want).enumerate() {
        let has_master = shown.contains("master sync daemon (mcast=s0, syncid=51");
        let has_backup = shown.contains("backup sync daemon (mcast=s0, syncid=51");
        if has_master != master || has_backup != backup {
            return Err(format!("step {i}: ipvsadm -L --daemon shows {shown:?}").into());
        }
    }
    // Leave nothing running in the namespace's IPVS.
    in_netns(ns.name(), || {
        run(ns.name(), &["ipvsadm", "--stop-daemon", "backup"])
    })??;
    if !daemons(ns.name())?.trim().is_empty() {
        return Err("a sync daemon is left".into());
    }
    Ok(())
}
