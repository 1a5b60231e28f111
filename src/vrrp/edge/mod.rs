//! The tokio edge of VRRP: sockets, rtnetlink, announcements, notify hooks, track scripts and
//! files, the runner that feeds the pure state machine and executes its actions, the sync
//! groups' coordinators, and the VMACs (`use_vmac`).

pub mod announce;
pub mod netlink;
pub mod notify;
pub mod runner;
pub mod socket;
pub mod sync_group;
pub mod track;
pub mod vmac;
