//! Who may do what on the control socket: a pure decision from the peer's credentials
//! (SO_PEERCRED plus its supplementary groups), the configured control group and the access
//! granted to everyone else.
//!
//! Root and members of the control group may change things; others may only read, or do
//! nothing at all (`control.others: read | none`).

use super::proto::Request;
use crate::config::ControlOthers;

/// The credentials of a connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
    /// Supplementary groups (from `/proc/PID/status`), empty when unknown.
    pub groups: Vec<u32>,
}

/// What a peer may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Every request.
    Full,
    /// Read-only requests (`status`, `nodes`, `services`, `events`, `diff`).
    Read,
    /// Nothing.
    None,
}

/// The access of `peer`, given the control group's id (if one is configured) and what others
/// may do.
pub fn access(peer: &Peer, control_gid: Option<u32>, others: ControlOthers) -> Access {
    if peer.uid == 0 {
        return Access::Full;
    }
    if let Some(gid) = control_gid {
        if peer.gid == gid || peer.groups.contains(&gid) {
            return Access::Full;
        }
    }
    match others {
        ControlOthers::Read => Access::Read,
        ControlOthers::None => Access::None,
    }
}

/// Whether `access` allows `request`; the reason in words when not.
pub fn allows(access: Access, request: &Request) -> Result<(), &'static str> {
    match access {
        Access::Full => Ok(()),
        Access::Read if !request.is_mutating() => Ok(()),
        Access::Read => Err("read-only access: changes need root or the control group"),
        Access::None => Err("no access: the control socket is for root and the control group"),
    }
}

/// The supplementary groups on the `Groups:` line of a `/proc/PID/status` text.
pub fn parse_proc_groups(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> Peer {
        Peer {
            uid,
            gid,
            pid: Some(1),
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn root_group_members_and_others() {
        let drain = Request::Drain {
            node: "rs1".into(),
            service: None,
        };
        let cases = [
            // (peer, group, others, expected access)
            (peer(0, 0, &[]), None, ControlOthers::None, Access::Full),
            (
                peer(1000, 1000, &[]),
                None,
                ControlOthers::None,
                Access::None,
            ),
            (
                peer(1000, 1000, &[]),
                None,
                ControlOthers::Read,
                Access::Read,
            ),
            (
                peer(1000, 990, &[]),
                Some(990),
                ControlOthers::None,
                Access::Full,
            ),
            (
                peer(1000, 1000, &[4, 990]),
                Some(990),
                ControlOthers::None,
                Access::Full,
            ),
            (
                peer(1000, 1000, &[4]),
                Some(990),
                ControlOthers::Read,
                Access::Read,
            ),
        ];
        for (p, g, o, want) in cases {
            assert_eq!(access(&p, g, o), want, "{p:?} {g:?} {o:?}");
        }
        assert!(allows(Access::Full, &drain).is_ok());
        assert!(allows(Access::Read, &Request::Status).is_ok());
        assert!(allows(Access::Read, &Request::Diff).is_ok());
        assert!(allows(Access::Read, &drain).is_err());
        assert!(allows(Access::Read, &Request::Reload).is_err());
        assert!(allows(Access::None, &Request::Status).is_err());
    }

    #[test]
    fn proc_groups_line() {
        let text = "Name:\tlbctl\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 990 \nNgid:\t0\n";
        assert_eq!(parse_proc_groups(text), vec![4, 24, 990]);
        assert_eq!(parse_proc_groups("Groups:\t\n"), Vec::<u32>::new());
        assert_eq!(parse_proc_groups("garbage"), Vec::<u32>::new());
    }
}
