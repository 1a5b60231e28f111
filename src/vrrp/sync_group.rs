//! keepalived's `vrrp_sync_group` as a pure decision: given the state each member instance
//! reports, which members must follow (the orders), when the group itself changes state
//! (its notify hooks run once per group transition) and which role the IPVS sync daemon takes
//! (the group's, not a member's).
//!
//! keepalived 2.2.7 (`vrrp_sync.c`): `vrrp_sync_backup` forces the other masters to backup when
//! one member leaves master for backup; `vrrp_sync_fault` puts the group in FAULT when one
//! member faults and forces the others out of master; `vrrp_sync_can_goto_master` keeps every
//! member out of master while another one is in FAULT; `vrrp_sync_master` takes the other
//! members to master once one becomes master. lbd keeps the other members in BACKUP (held out
//! of master, [`Order::HoldOut`]) instead of putting them in FAULT, so they keep following the
//! peer's adverts; the group reports FAULT.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fsm::{NotifyState, SyncRole};

/// A member instance's state as the group sees it (keepalived's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MemberState {
    /// Not started yet, or stopped.
    Init,
    Backup,
    Master,
    Fault,
}

impl MemberState {
    /// The state a notify transition enters.
    pub fn of(notify: NotifyState) -> MemberState {
        match notify {
            NotifyState::Master => MemberState::Master,
            NotifyState::Backup => MemberState::Backup,
            NotifyState::Fault => MemberState::Fault,
            NotifyState::Stop => MemberState::Init,
        }
    }
}

/// The group's own state; its transitions run the group's notify hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GroupState {
    Init,
    Backup,
    Master,
    Fault,
}

/// What the group tells one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Order {
    /// A master leaves for backup now (priority-0 advert, so the peer takes over at once).
    ToBackup,
    /// A backup becomes master now (another member did).
    ToMaster,
    /// Stay out of master (a member is in FAULT); a master leaves for backup.
    HoldOut,
    /// The fault is over: the election as usual.
    Release,
}

/// The outcome of one member report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Orders to members, in member order.
    pub orders: Vec<(String, Order)>,
    /// The group's transition, if it changed: (from, to).
    pub transition: Option<(GroupState, GroupState)>,
}

impl Decision {
    /// What the group's notify hooks are told about its transition.
    pub fn notify(&self) -> Option<NotifyState> {
        self.transition.map(|(_, to)| match to {
            GroupState::Master => NotifyState::Master,
            GroupState::Backup => NotifyState::Backup,
            GroupState::Fault => NotifyState::Fault,
            GroupState::Init => NotifyState::Stop,
        })
    }

    /// The IPVS sync-daemon role the group's transition asks for.
    pub fn sync_role(&self) -> Option<SyncRole> {
        match self.transition? {
            (_, GroupState::Master) => Some(SyncRole::Master),
            (GroupState::Master, _) => Some(SyncRole::Backup),
            (GroupState::Init, GroupState::Backup | GroupState::Fault) => Some(SyncRole::Backup),
            _ => None,
        }
    }
}

/// One sync group: its members' last reported states and its own.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    name: String,
    members: BTreeMap<String, MemberState>,
    state: GroupState,
}

impl SyncGroup {
    /// A group of `members`, all in Init.
    pub fn new(name: &str, members: &[String]) -> SyncGroup {
        SyncGroup {
            name: name.to_string(),
            members: members
                .iter()
                .map(|m| (m.clone(), MemberState::Init))
                .collect(),
            state: GroupState::Init,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    fn others(&self, member: &str, in_state: MemberState) -> Vec<String> {
        self.members
            .iter()
            .filter(|(m, s)| m.as_str() != member && **s == in_state)
            .map(|(m, _)| m.clone())
            .collect()
    }

    fn change(&mut self, to: GroupState, d: &mut Decision) {
        if self.state != to {
            tracing::info!(group = %self.name, "vrrp sync group {:?} -> {to:?}", self.state);
            d.transition = Some((self.state, to));
            self.state = to;
        }
    }

    /// Member `member` entered `now`: the orders for the others and the group's transition.
    /// A name that is not a member changes nothing.
    pub fn report(&mut self, member: &str, now: MemberState) -> Decision {
        let mut d = Decision::default();
        let Some(slot) = self.members.get_mut(member) else {
            return d;
        };
        let before = std::mem::replace(slot, now);
        if before == now {
            return d;
        }
        let faults = self.members.values().any(|s| *s == MemberState::Fault);
        match now {
            // vrrp_sync_fault: the group in FAULT, every other member out of master.
            MemberState::Fault => {
                if self.state != GroupState::Fault {
                    for m in self.members.keys() {
                        if m != member {
                            d.orders.push((m.clone(), Order::HoldOut));
                        }
                    }
                    self.change(GroupState::Fault, &mut d);
                }
            }
            // vrrp_sync_can_goto_master: no master while a member is in FAULT (the order
            // repeats the hold in case it crossed the member's own transition).
            MemberState::Master if faults => {
                d.orders.push((member.to_string(), Order::HoldOut));
            }
            // vrrp_sync_master: the other members follow to master.
            MemberState::Master => {
                for m in self.others(member, MemberState::Backup) {
                    d.orders.push((m, Order::ToMaster));
                }
                self.change(GroupState::Master, &mut d);
            }
            MemberState::Backup | MemberState::Init => {
                if before == MemberState::Fault && !faults {
                    // The last fault is over: the members hold no more, the group is backup
                    // until one of them wins an election.
                    for m in self.members.keys() {
                        if m != member {
                            d.orders.push((m.clone(), Order::Release));
                        }
                    }
                    self.change(GroupState::Backup, &mut d);
                } else if before == MemberState::Master && self.state == GroupState::Master {
                    // vrrp_sync_backup: the other masters follow to backup.
                    for m in self.others(member, MemberState::Master) {
                        d.orders.push((m, Order::ToBackup));
                    }
                    self.change(GroupState::Backup, &mut d);
                } else if now == MemberState::Backup && self.state == GroupState::Init {
                    self.change(GroupState::Backup, &mut d);
                }
                if self.members.values().all(|s| *s == MemberState::Init) {
                    // Every member stopped: the group stops.
                    self.change(GroupState::Init, &mut d);
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberState::*;

    fn group() -> SyncGroup {
        SyncGroup::new("g1", &["public".to_string(), "inside".to_string()])
    }

    fn orders(d: &Decision) -> Vec<(&str, Order)> {
        d.orders.iter().map(|(m, o)| (m.as_str(), *o)).collect()
    }

    #[test]
    fn startup_makes_the_group_backup_once() {
        let mut g = group();
        let d = g.report("public", Backup);
        assert_eq!(d.transition, Some((GroupState::Init, GroupState::Backup)));
        assert_eq!(d.notify(), Some(NotifyState::Backup));
        assert_eq!(d.sync_role(), Some(SyncRole::Backup));
        assert!(d.orders.is_empty());
        // The second member's backup changes nothing.
        assert_eq!(g.report("inside", Backup), Decision::default());
        // Nor does a repeated report, or a stranger's.
        assert_eq!(g.report("inside", Backup), Decision::default());
        assert_eq!(g.report("other", Fault), Decision::default());
    }

    #[test]
    fn one_master_takes_the_others_to_master_and_the_group_notifies_once() {
        let mut g = group();
        g.report("public", Backup);
        g.report("inside", Backup);
        let d = g.report("public", Master);
        assert_eq!(orders(&d), [("inside", Order::ToMaster)]);
        assert_eq!(d.notify(), Some(NotifyState::Master));
        assert_eq!(d.sync_role(), Some(SyncRole::Master));
        // The member that followed: no second group transition.
        assert_eq!(g.report("inside", Master), Decision::default());
        assert_eq!(g.state(), GroupState::Master);
    }

    #[test]
    fn one_member_back_to_backup_takes_the_other_masters_along() {
        let mut g = group();
        g.report("public", Backup);
        g.report("inside", Backup);
        g.report("public", Master);
        g.report("inside", Master);
        // A peer with a higher priority took "inside" over.
        let d = g.report("inside", Backup);
        assert_eq!(orders(&d), [("public", Order::ToBackup)]);
        assert_eq!(d.transition, Some((GroupState::Master, GroupState::Backup)));
        assert_eq!(d.sync_role(), Some(SyncRole::Backup));
        assert_eq!(g.report("public", Backup), Decision::default());
    }

    #[test]
    fn a_fault_holds_the_group_out_of_master_until_it_clears() {
        let mut g = group();
        g.report("public", Backup);
        g.report("inside", Backup);
        g.report("public", Master);
        g.report("inside", Master);
        let d = g.report("public", Fault);
        assert_eq!(orders(&d), [("inside", Order::HoldOut)]);
        assert_eq!(d.notify(), Some(NotifyState::Fault));
        assert_eq!(d.sync_role(), Some(SyncRole::Backup));
        // The held member leaves master: no further group transition.
        assert_eq!(g.report("inside", Backup), Decision::default());
        // A member that becomes master anyway (its order crossed) is held again.
        let d = g.report("inside", Master);
        assert_eq!(orders(&d), [("inside", Order::HoldOut)]);
        assert_eq!(d.transition, None);
        g.report("inside", Backup);
        // The fault clears: the others are released, the group is backup.
        let d = g.report("public", Backup);
        assert_eq!(orders(&d), [("inside", Order::Release)]);
        assert_eq!(d.transition, Some((GroupState::Fault, GroupState::Backup)));
        assert_eq!(d.sync_role(), None);
        // Then an election is won as usual.
        let d = g.report("inside", Master);
        assert_eq!(orders(&d), [("public", Order::ToMaster)]);
    }

    #[test]
    fn two_faults_clear_only_when_both_have() {
        let mut g = group();
        g.report("public", Fault);
        assert_eq!(g.state(), GroupState::Fault);
        assert_eq!(g.report("inside", Fault), Decision::default());
        assert_eq!(g.report("public", Backup), Decision::default());
        assert_eq!(g.state(), GroupState::Fault);
        let d = g.report("inside", Backup);
        assert_eq!(orders(&d), [("public", Order::Release)]);
        assert_eq!(g.state(), GroupState::Backup);
    }

    #[test]
    fn the_group_stops_when_every_member_has() {
        let mut g = group();
        g.report("public", Backup);
        g.report("inside", Backup);
        g.report("public", Master);
        g.report("inside", Master);
        // The first stop leaves master: the other master follows to backup.
        let d = g.report("public", Init);
        assert_eq!(orders(&d), [("inside", Order::ToBackup)]);
        assert_eq!(d.notify(), Some(NotifyState::Backup));
        g.report("inside", Backup);
        let d = g.report("inside", Init);
        assert_eq!(d.notify(), Some(NotifyState::Stop));
        assert_eq!(g.state(), GroupState::Init);
    }
}
