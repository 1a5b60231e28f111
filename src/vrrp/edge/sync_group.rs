//! The coordinator of one sync group: a task on the VRRP thread that hears every member's
//! state (from [`Instance::join_group`](super::runner::Instance::join_group)), asks the pure
//! [`SyncGroup`] what follows, and carries it out: orders to the members through their
//! [`Control`], the group's notify hooks (once per group transition, `GROUP NAME STATE 0`) and
//! the IPVS sync daemon's role (the group's). Nothing here blocks: hooks run on their worker,
//! the sync daemon switches on the blocking pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::notify::{HookQueue, Subject};
use super::runner::{sync_worker, Control};
use crate::vrrp::config::NotifyHook;
use crate::vrrp::fsm::{State, Transition};
use crate::vrrp::sync::SyncDaemonControl;
use crate::vrrp::sync_group::{GroupState, MemberState, SyncGroup};

/// What a member sends its coordinator: its name and the state it entered.
pub type Report = (String, MemberState);

/// The group's state as [`Transition`] carries it (FAULT is Initialize).
fn as_state(g: GroupState) -> State {
    match g {
        GroupState::Init | GroupState::Fault => State::Initialize,
        GroupState::Backup => State::Backup,
        GroupState::Master => State::Master,
    }
}

/// A running coordinator's handle: its state for the status.
#[derive(Debug, Clone)]
pub struct GroupHandle {
    state: Arc<Mutex<GroupState>>,
}

impl GroupHandle {
    pub fn state(&self) -> GroupState {
        self.state.lock().map(|s| *s).unwrap_or(GroupState::Init)
    }
}

/// Runs group `name` over `members` until every member has dropped its sender (they stopped),
/// then lets the group's hooks finish. `sync`: the group drives the IPVS sync daemon.
pub async fn run_group(
    name: String,
    members: HashMap<String, Control>,
    mut rx: mpsc::UnboundedReceiver<Report>,
    hooks: Vec<NotifyHook>,
    sync: Option<Arc<dyn SyncDaemonControl>>,
    handle: GroupHandle,
) {
    let mut names: Vec<String> = members.keys().cloned().collect();
    names.sort();
    let mut group = SyncGroup::new(&name, &names);
    let mut queue = HookQueue::start_for(Subject::Group, &name, hooks);
    let worker = sync.map(|s| sync_worker(format!("group {name}"), s));
    while let Some((member, state)) = rx.recv().await {
        let d = group.report(&member, state);
        for (to, order) in &d.orders {
            tracing::info!(group = %name, member = %to, ?order, cause = %member,
                "vrrp sync group order");
            if let Some(c) = members.get(to) {
                c.group(*order);
            }
        }
        if let (Some((from, to)), Some(notify)) = (d.transition, d.notify()) {
            if let Ok(mut s) = handle.state.lock() {
                *s = to;
            }
            queue.push(Transition {
                from: as_state(from),
                to: as_state(to),
                notify,
                event: "sync-group",
                reason: format!("member {member} {state:?}"),
                priority: 0,
            });
        }
        if let (Some(role), Some((tx, _))) = (d.sync_role(), &worker) {
            let _ = tx.send(role);
        }
    }
    queue.finish(Duration::from_secs(10)).await;
    if let Some((tx, task)) = worker {
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
}

/// A new coordinator's channel and handle.
pub fn channel() -> (
    mpsc::UnboundedSender<Report>,
    mpsc::UnboundedReceiver<Report>,
    GroupHandle,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = GroupHandle {
        state: Arc::new(Mutex::new(GroupState::Init)),
    };
    (tx, rx, handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::fsm::NotifyState;
    use crate::vrrp::sync_group::Order;

    #[tokio::test]
    async fn the_coordinator_orders_members_and_notifies_once_per_group_transition() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let hook = NotifyHook {
            on: vec![NotifyState::Master, NotifyState::Backup, NotifyState::Fault],
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("echo \"$1 $2 $3 $4\" >> {}", out.display()),
                "sh".into(),
            ],
            timeout: Duration::from_secs(5),
        };
        let (public, mut public_orders) = Control::detached("public");
        let (inside, mut inside_orders) = Control::detached("inside");
        let members: HashMap<String, Control> = [
            ("public".to_string(), public),
            ("inside".to_string(), inside),
        ]
        .into();
        let (tx, rx, handle) = channel();
        let task = tokio::spawn(run_group(
            "g1".into(),
            members,
            rx,
            vec![hook],
            None,
            handle.clone(),
        ));
        let say = |m: &str, s: MemberState| tx.send((m.to_string(), s)).unwrap();
        say("public", MemberState::Backup);
        say("inside", MemberState::Backup);
        say("public", MemberState::Master);
        say("inside", MemberState::Master);
        say("inside", MemberState::Fault);
        say("public", MemberState::Backup);
        drop(tx);
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the coordinator ends when its members are gone")
            .unwrap();
        assert_eq!(inside_orders(), [Order::ToMaster]);
        assert_eq!(public_orders(), [Order::HoldOut]);
        assert_eq!(handle.state(), GroupState::Fault);
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "GROUP g1 BACKUP 0\nGROUP g1 MASTER 0\nGROUP g1 FAULT 0\n"
        );
    }
}
