//! VRRP version 3 (RFC 5798), and version 2 (RFC 3768) with keepalived's authentication: the
//! VIP fails over between master and backup directors.
//!
//! - [`packet`]: VRRPv3 advertisement encode/parse (pure), typed drop reasons and their counters.
//! - [`packet_v2`]: VRRPv2 (RFC 3768) IPv4 adverts with keepalived's PASS and AH authentication
//!   (pure).
//! - [`wire`]: one instance's codec between the state machine and the sockets (either
//!   version; VRRPv2's identification and AH counters and anti-replay) (pure).
//! - [`fsm`]: the Initialize/Backup/Master state machine (pure, caller-supplied clock), with
//!   its timer table in [`timers`].
//! - [`track`]: interfaces, services, scripts, files and processes whose state moves the
//!   priority.
//! - [`track_script`]: keepalived's `vrrp_script`: the definition and its rise/fall counting.
//! - [`track_file`]: keepalived's `track_file`: the definition, the value read, its effect.
//! - [`track_process`]: keepalived's `vrrp_track_process`: the definition, which processes
//!   match, quorum with its fork and terminate delays.
//! - [`track_refs`]: what an instance tracks, each reference resolved to its definition.
//! - [`announce`]: gratuitous ARP / unsolicited NA messages.
//! - [`config`]: [`InstanceConfig`], what the operator writes.
//! - [`vmac`]: keepalived's `use_vmac`: the VMAC's name, MAC, sysctls, and what to do with
//!   a left-over one (pure).
//! - [`sync`]: [`SyncDaemonControl`], the IPVS sync-daemon switch VRRP calls.
//! - [`sync_group`]: keepalived's `vrrp_sync_group`: which members follow, the group's state
//!   (pure).
//! - [`edge`]: the tokio shell: raw sockets, rtnetlink VIPs, GARP, notify hooks, the runner.

pub mod announce;
pub mod config;
pub mod edge;
pub mod fsm;
pub mod garp;
pub mod ipvs_sync;
pub mod packet;
pub mod packet_v2;
pub mod sync;
pub mod sync_group;
pub mod timers;
pub mod track;
pub mod track_file;
pub mod track_process;
pub mod track_refs;
pub mod track_script;
pub mod vmac;
pub mod wire;

#[cfg(test)]
mod fsm_tests;
#[cfg(test)]
mod packet_tests;

pub use config::{InstanceConfig, Track, TrackTarget, Vip};
pub use edge::runner::{run_instance, Control, Instance, Status};
pub use fsm::{Action, Event, NotifyState, State, Transition, Vrrp};
pub use sync::{NoSyncDaemon, SyncDaemonControl};
