//! Tracking: interfaces and services whose state moves an instance's priority, or puts it in
//! FAULT, as keepalived's `track_interface` does.
//!
//! Pure: the edge reports "interface eth1 is down" or the daemon reports "no healthy real
//! server for service http"; [`Tracker::set`] returns the new effective priority when it
//! changes, which the caller feeds to the state machine as `Event::Priority`, and
//! [`Tracker::fault`] says whether an unweighted target is down (the caller then treats the
//! instance as if its own interface were down: FAULT).
//!
//! keepalived's weights: a positive weight is added to the priority while the target is up, a
//! negative one subtracted while it is down; no weight (or 0) means FAULT while it is down. The
//! effective priority stays within 1-254. The address owner (priority 255) ignores weights.

use std::collections::BTreeMap;

use super::config::{Track, TrackTarget};

/// The tracked objects of one instance and their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    base: u8,
    /// target → (summed weight, 0 = FAULT; up)
    items: BTreeMap<TrackTarget, (i32, bool)>,
}

impl Tracker {
    /// Everything starts up.
    pub fn new(base: u8, track: &[Track]) -> Tracker {
        let mut items = BTreeMap::new();
        for t in track {
            let w = items.entry(t.target.clone()).or_insert((0i32, true));
            w.0 += i32::from(t.weight.unwrap_or(0));
        }
        Tracker { base, items }
    }

    /// The tracked interfaces (the edge polls their state).
    pub fn interfaces(&self) -> Vec<String> {
        self.items
            .keys()
            .filter_map(|t| match t {
                TrackTarget::Interface(i) => Some(i.clone()),
                TrackTarget::Service(_) => None,
            })
            .collect()
    }

    /// The effective priority: the configured one plus the positive weights of what is up,
    /// less the negative weights of what is down, within 1-254. An address owner (255) is
    /// never moved: it holds the addresses for real (keepalived does the same).
    pub fn priority(&self) -> u8 {
        if self.base == 255 {
            return 255;
        }
        let delta: i32 = self
            .items
            .values()
            .map(|&(w, up)| match (w > 0, up) {
                (true, true) => w,
                (false, false) => w,
                _ => 0,
            })
            .sum();
        (i32::from(self.base) + delta).clamp(1, 254) as u8
    }

    /// The first unweighted target that is down: the instance is in FAULT while there is one.
    pub fn fault(&self) -> Option<&TrackTarget> {
        self.items
            .iter()
            .find(|(_, &(w, up))| w == 0 && !up)
            .map(|(t, _)| t)
    }

    /// Records a target's state; returns the new priority if it changed. Unknown targets are
    /// ignored (None).
    pub fn set(&mut self, target: &TrackTarget, up: bool) -> Option<u8> {
        let before = self.priority();
        let item = self.items.get_mut(target)?;
        item.1 = up;
        let after = self.priority();
        (after != before).then_some(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(target: &TrackTarget, weight: Option<i16>) -> Track {
        Track {
            target: target.clone(),
            weight,
        }
    }

    #[test]
    fn negative_weights_lower_while_down_and_never_reach_zero() {
        let eth1 = TrackTarget::Interface("eth1".into());
        let http = TrackTarget::Service("http".into());
        let mut t = Tracker::new(150, &[track(&eth1, Some(-60)), track(&http, Some(-100))]);
        assert_eq!(t.interfaces(), vec!["eth1".to_string()]);
        assert_eq!(t.priority(), 150);
        assert_eq!(t.set(&eth1, false), Some(90));
        assert_eq!(t.set(&eth1, false), None);
        assert_eq!(t.set(&http, false), Some(1));
        assert_eq!(t.set(&eth1, true), Some(50));
        assert_eq!(t.set(&TrackTarget::Service("other".into()), false), None);
        assert_eq!(t.set(&http, true), Some(150));
        assert_eq!(t.fault(), None);
    }

    #[test]
    fn positive_weights_add_while_up_and_stop_at_254() {
        // keepalived: "increased by the weight when the interface is up".
        let eth1 = TrackTarget::Interface("eth1".into());
        let eth2 = TrackTarget::Interface("eth2".into());
        let mut t = Tracker::new(100, &[track(&eth1, Some(50)), track(&eth2, Some(253))]);
        assert_eq!(t.priority(), 254);
        assert_eq!(t.set(&eth2, false), Some(150));
        assert_eq!(t.set(&eth1, false), Some(100));
        assert_eq!(t.set(&eth1, true), Some(150));
    }

    #[test]
    fn an_unweighted_target_down_is_a_fault_not_a_priority() {
        let eth1 = TrackTarget::Interface("eth1".into());
        let eth2 = TrackTarget::Interface("eth2".into());
        let mut t = Tracker::new(100, &[track(&eth1, None), track(&eth2, Some(0))]);
        assert_eq!(t.fault(), None);
        assert_eq!(t.set(&eth1, false), None);
        assert_eq!(t.fault(), Some(&eth1));
        assert_eq!(t.priority(), 100);
        assert_eq!(t.set(&eth2, false), None);
        assert_eq!(t.set(&eth1, true), None);
        assert_eq!(t.fault(), Some(&eth2), "weight 0 is keepalived's FAULT too");
        t.set(&eth2, true);
        assert_eq!(t.fault(), None);
    }

    #[test]
    fn an_address_owner_is_never_lowered() {
        // As in keepalived, tracking does not move an address owner: it answers for addresses
        // it really holds, so its priority stays 255 whatever is down.
        let eth1 = TrackTarget::Interface("eth1".into());
        let mut t = Tracker::new(255, &[track(&eth1, Some(-60))]);
        assert_eq!(t.set(&eth1, false), None);
        assert_eq!(t.priority(), 255);
        assert_eq!(t.set(&eth1, true), None);
        assert_eq!(t.priority(), 255);
    }
}
