//! VRRP transitions into the event history: the event loop looks at its instances' roles
//! (the views `lbctl status` shows) on each VRRP tick and records one `vrrp` event per role
//! change, with a log line. An instance is first seen as `initialize`; a restarted one (a
//! reload that changed it) goes back through `initialize`; a removed one is forgotten.

use super::event_loop::{unix_ms, Daemon};
use crate::control::proto::{EventKind, VrrpView};
use std::collections::BTreeMap;

/// One role change of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub instance: String,
    pub from: String,
    pub to: String,
    /// The priority it advertises now (after tracking; 0 while an operator failover holds it).
    pub priority: u8,
}

impl Transition {
    /// The history's message: `vi_51: master → backup (priority 0)`.
    pub fn message(&self) -> String {
        format!(
            "{}: {} → {} (priority {})",
            self.instance, self.from, self.to, self.priority
        )
    }
}

/// Compares `views` with the roles last seen (updating them): the changes, in view order.
pub fn transitions(seen: &mut BTreeMap<String, String>, views: &[VrrpView]) -> Vec<Transition> {
    seen.retain(|name, _| views.iter().any(|v| &v.instance == name));
    let mut out = Vec::new();
    for v in views {
        let before = seen.get(&v.instance).map_or("initialize", String::as_str);
        if before != v.state {
            out.push(Transition {
                instance: v.instance.clone(),
                from: before.to_string(),
                to: v.state.clone(),
                priority: v.effective_priority,
            });
            seen.insert(v.instance.clone(), v.state.clone());
        }
    }
    out
}

impl Daemon {
    /// The VRRP tick: metrics (in [`super::vrrp::VrrpSet::observe`]) and one history record
    /// per role change.
    pub(super) fn observe_vrrp(&mut self) {
        self.vrrp.observe(self.metrics.as_ref());
        let views = self.vrrp.views();
        for t in transitions(&mut self.vrrp_roles, &views) {
            let message = t.message();
            tracing::info!(instance = %t.instance, from = %t.from, to = %t.to, priority = t.priority, "vrrp transition");
            self.history
                .record(unix_ms(), EventKind::Vrrp, message, None, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(instance: &str, state: &str, prio: u8) -> VrrpView {
        VrrpView {
            instance: instance.into(),
            interface: "eth0".into(),
            vrid: 51,
            state: state.into(),
            priority: 150,
            effective_priority: prio,
            vips: vec![],
            drops: Default::default(),
        }
    }

    #[test]
    fn each_role_change_is_one_transition() {
        let mut seen = BTreeMap::new();
        // Not started yet: nothing to say.
        assert!(transitions(&mut seen, &[view("vi_51", "initialize", 150)]).is_empty());
        let t = transitions(&mut seen, &[view("vi_51", "backup", 150)]);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].message(), "vi_51: initialize → backup (priority 150)");
        // Same role: nothing.
        assert!(transitions(&mut seen, &[view("vi_51", "backup", 150)]).is_empty());
        let t = transitions(
            &mut seen,
            &[view("vi_51", "master", 150), view("vi_52", "backup", 100)],
        );
        let msgs: Vec<String> = t.iter().map(Transition::message).collect();
        assert_eq!(
            msgs,
            [
                "vi_51: backup → master (priority 150)",
                "vi_52: initialize → backup (priority 100)"
            ]
        );
        // An operator failover: priority 0 while held.
        let t = transitions(
            &mut seen,
            &[view("vi_51", "backup", 0), view("vi_52", "backup", 100)],
        );
        assert_eq!(t[0].message(), "vi_51: master → backup (priority 0)");
        // A removed instance is forgotten: when it comes back it starts from initialize.
        assert!(transitions(&mut seen, &[view("vi_51", "backup", 0)]).is_empty());
        let t = transitions(
            &mut seen,
            &[view("vi_51", "backup", 0), view("vi_52", "master", 100)],
        );
        assert_eq!(t[0].from, "initialize");
    }
}
