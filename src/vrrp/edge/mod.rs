//! The tokio edge of VRRP: sockets, rtnetlink, announcements, notify hooks, track scripts and
//! files, and the runner that feeds the pure state machine and executes its actions.

pub mod announce;
pub mod netlink;
pub mod notify;
pub mod runner;
pub mod socket;
pub mod track;
