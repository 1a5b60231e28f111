//! [`SyncDaemonControl`] over the IPVS netlink client: on becoming master the director runs
//! the IPVS connection-sync daemon in master state (it sends the connection table) and keeps
//! its backup daemon (so nothing the old master sent last is thrown away); on becoming backup
//! it runs the backup daemon only (it receives the table). Established connections survive a
//! failover.
//!
//! Each switch reads the running daemons first and changes only what differs, so repeating a
//! switch (or switching to the state already running) sends nothing.

use std::sync::Mutex;

use super::sync::{SyncDaemonControl, SyncError};
use crate::ipvs::{DaemonState, IpvsClient, SyncDaemon};

/// Switches the kernel's sync daemon with `IPVS_CMD_NEW_DAEMON` / `IPVS_CMD_DEL_DAEMON`.
pub struct IpvsSyncDaemon {
    /// The daemon's settings; `state` is replaced by the role asked for.
    template: SyncDaemon,
    client: Mutex<Option<IpvsClient>>,
}

impl IpvsSyncDaemon {
    /// `template` gives interface, sync id, group, port, ttl; its `state` is ignored.
    pub fn new(template: SyncDaemon) -> Self {
        IpvsSyncDaemon {
            template,
            client: Mutex::new(None),
        }
    }

    fn switch(&self, want: DaemonState) -> Result<(), SyncError> {
        let other = match want {
            DaemonState::Master => DaemonState::Backup,
            DaemonState::Backup => DaemonState::Master,
        };
        let mut guard = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(IpvsClient::connect()?);
        }
        let Some(client) = guard.as_mut() else {
            return Err("no ipvs client".into());
        };
        let result = (|| -> Result<(), SyncError> {
            let running = client.daemons()?;
            // A backup runs the backup daemon only; a master runs the master daemon and keeps
            // the backup one (as keepalived does): stopping it at a takeover would discard the
            // sync messages the old master sent just before it died, and the connections in them.
            let keep: &[DaemonState] = match want {
                DaemonState::Master => &[DaemonState::Backup, DaemonState::Master],
                DaemonState::Backup => &[DaemonState::Backup],
            };
            if want == DaemonState::Backup && running.iter().any(|d| d.state == other) {
                client.stop_daemon(other)?;
            }
            for &state in keep {
                let mut wanted = self.template.clone();
                wanted.state = state;
                match running.iter().find(|d| d.state == state) {
                    Some(d) if same_settings(d, &wanted) => {}
                    Some(_) => {
                        client.stop_daemon(state)?;
                        client.start_daemon(&wanted)?;
                    }
                    None => client.start_daemon(&wanted)?,
                }
            }
            Ok(())
        })();
        if result.is_err() {
            // A broken socket must not stick: reconnect on the next switch.
            *guard = None;
        }
        result
    }
}

/// Whether a running daemon already has the settings asked for (unset = kernel default, so
/// only the settings that were asked for are compared).
fn same_settings(running: &SyncDaemon, wanted: &SyncDaemon) -> bool {
    running.mcast_ifn == wanted.mcast_ifn
        && running.sync_id == wanted.sync_id
        && (wanted.maxlen.is_none() || running.maxlen == wanted.maxlen)
        && (wanted.group.is_none() || running.group == wanted.group)
        && (wanted.port.is_none() || running.port == wanted.port)
        && (wanted.ttl.is_none() || running.ttl == wanted.ttl)
}

impl SyncDaemonControl for IpvsSyncDaemon {
    fn to_master(&self) -> Result<(), SyncError> {
        self.switch(DaemonState::Master)
    }
    fn to_backup(&self) -> Result<(), SyncError> {
        self.switch(DaemonState::Backup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_take_what_runs() {
        let mut running = SyncDaemon::new(DaemonState::Master, "eth1", 51);
        running.port = Some(8848);
        running.group = Some("224.0.0.81".parse().unwrap());
        let wanted = SyncDaemon::new(DaemonState::Master, "eth1", 51);
        assert!(same_settings(&running, &wanted));
        let mut other_port = wanted.clone();
        other_port.port = Some(9000);
        assert!(!same_settings(&running, &other_port));
        let other_id = SyncDaemon::new(DaemonState::Master, "eth1", 52);
        assert!(!same_settings(&running, &other_id));
    }
}
