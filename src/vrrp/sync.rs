//! The hook through which VRRP switches the IPVS connection-sync daemon.
//!
//! On becoming master the director's sync daemon must run in master state (it multicasts the
//! connection table); on becoming backup, in backup state (it receives it), so that
//! established connections survive a failover. The IPVS client implements
//! [`SyncDaemonControl`] with IPVS_CMD_NEW_DAEMON / IPVS_CMD_DEL_DAEMON; VRRP only calls it.

use std::error::Error;

/// Error type of a sync-daemon switch.
pub type SyncError = Box<dyn Error + Send + Sync>;

/// Switches the IPVS sync daemon between master and backup state.
pub trait SyncDaemonControl: Send + Sync {
    /// Run the sync daemon as master (stop the backup daemon, start the master one).
    fn to_master(&self) -> Result<(), SyncError>;
    /// Run the sync daemon as backup (stop the master daemon, start the backup one).
    fn to_backup(&self) -> Result<(), SyncError>;
}

/// For instances that do not carry IPVS services (and for the standalone runner).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSyncDaemon;

impl SyncDaemonControl for NoSyncDaemon {
    fn to_master(&self) -> Result<(), SyncError> {
        Ok(())
    }
    fn to_backup(&self) -> Result<(), SyncError> {
        Ok(())
    }
}
