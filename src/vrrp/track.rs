//! Tracking: interfaces, services, track scripts, files and processes whose state moves an
//! instance's priority, or puts it in FAULT, as keepalived's `track_interface`,
//! `track_script`, `track_file` and `track_process` do.
//!
//! Pure: the edge reports "interface eth1 is down", "script chk_proxy is down" (after its
//! rise/fall counting, `track_script.rs`) or "file maint holds 5", or the daemon reports "no
//! healthy real server for service http", or "process haproxy is down" (after its quorum
//! and delays, `track_process.rs`); [`Tracker::set`] and [`Tracker::set_level`] return
//! the new effective priority when it changes, which the caller feeds to the state machine as
//! `Event::Priority`, and [`Tracker::fault`] says whether something faults the instance (the
//! caller then treats it as if its own interface were down: FAULT).
//!
//! keepalived's weights: a positive weight is added to the priority while the target is up, a
//! negative one subtracted while it is down; no weight (or 0) means FAULT while it is down. A
//! script that has not run yet (or a process not yet counted) counts neither way, and
//! unweighted it keeps the instance out of the election until its first result
//! ([`Tracker::pending`]). A file adds value × weight
//! (`track_file.rs`). The effective priority stays within 1-254. The address owner (priority
//! 255) ignores weights.

use std::collections::BTreeMap;

use super::config::{Track, TrackTarget};
use super::track_file::{self, Effect};

/// What the edge last learned of a tracked target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A track script that has not finished its first run (keepalived's init state): its
    /// weight counts neither way; unweighted, it holds the instance out of the election.
    Pending,
    Up,
    Down,
    /// The number in a track file.
    Value(i64),
}

/// The tracked objects of one instance and their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    base: u8,
    /// target → (summed weight, 0 = FAULT; state)
    items: BTreeMap<TrackTarget, (i32, Level)>,
}

impl Tracker {
    /// Interfaces and services start up, scripts and processes pending, files at 0.
    pub fn new(base: u8, track: &[Track]) -> Tracker {
        let mut items = BTreeMap::new();
        for t in track {
            let start = match t.target {
                TrackTarget::Interface(_) | TrackTarget::Service(_) => Level::Up,
                TrackTarget::Script(_) | TrackTarget::Process(_) => Level::Pending,
                TrackTarget::File(_) => Level::Value(0),
            };
            let w = items.entry(t.target.clone()).or_insert((0i32, start));
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
                _ => None,
            })
            .collect()
    }

    /// Every tracked target with its summed weight and state.
    pub fn items(&self) -> impl Iterator<Item = (&TrackTarget, i32, Level)> {
        self.items.iter().map(|(t, &(w, l))| (t, w, l))
    }

    /// The effective priority: the configured one plus the positive weights of what is up,
    /// less the negative weights of what is down, plus each file's value × weight, within
    /// 1-254. An address owner (255) is never moved: it holds the addresses for real
    /// (keepalived does the same).
    pub fn priority(&self) -> u8 {
        if self.base == 255 {
            return 255;
        }
        let delta: i32 = self
            .items
            .values()
            .map(|&(w, level)| match level {
                Level::Up if w > 0 => w,
                Level::Down if w < 0 => w,
                Level::Value(v) => match track_file::effect(v, w) {
                    Effect::Priority(p) => p,
                    Effect::Fault => 0,
                },
                _ => 0,
            })
            .sum();
        (i32::from(self.base) + delta).clamp(1, 254) as u8
    }

    /// The first target that faults the instance: an unweighted one down, or a file whose
    /// value is a fault. The instance is in FAULT while there is one.
    pub fn fault(&self) -> Option<&TrackTarget> {
        self.items
            .iter()
            .find(|(_, &(w, level))| match level {
                Level::Down => w == 0,
                Level::Value(v) => track_file::effect(v, w) == Effect::Fault,
                Level::Up | Level::Pending => false,
            })
            .map(|(t, _)| t)
    }

    /// The first unweighted script still waiting for its first result: the instance stays
    /// out of the election (Initialize) until it has one, as keepalived's does.
    pub fn pending(&self) -> Option<&TrackTarget> {
        self.items
            .iter()
            .find(|(_, &(w, level))| w == 0 && level == Level::Pending)
            .map(|(t, _)| t)
    }

    /// Records a target's state; returns the new priority if it changed. Unknown targets are
    /// ignored (None).
    pub fn set(&mut self, target: &TrackTarget, up: bool) -> Option<u8> {
        self.set_level(target, if up { Level::Up } else { Level::Down })
    }

    /// Records a target's state (or a file's value); returns the new priority if it changed.
    pub fn set_level(&mut self, target: &TrackTarget, level: Level) -> Option<u8> {
        let before = self.priority();
        let item = self.items.get_mut(target)?;
        item.1 = level;
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

    #[test]
    fn a_script_counts_neither_way_until_its_first_result() {
        let up = TrackTarget::Script("chk_up".into());
        let down = TrackTarget::Script("chk_down".into());
        let mut t = Tracker::new(100, &[track(&up, Some(20)), track(&down, Some(-30))]);
        assert_eq!(t.priority(), 100, "pending: no weight either way");
        assert_eq!(t.pending(), None, "weighted scripts hold nothing");
        assert_eq!(t.set(&up, true), Some(120));
        assert_eq!(t.set(&down, false), Some(90));
        assert_eq!(t.set(&down, true), Some(120));
        assert_eq!(t.set(&up, false), Some(100));
        assert_eq!(t.fault(), None);
    }

    #[test]
    fn an_unweighted_script_holds_the_instance_until_it_runs_then_faults_while_down() {
        let chk = TrackTarget::Script("chk".into());
        let mut t = Tracker::new(100, &[track(&chk, None)]);
        assert_eq!(t.pending(), Some(&chk));
        assert_eq!(t.fault(), None);
        t.set(&chk, false);
        assert_eq!((t.pending(), t.fault()), (None, Some(&chk)));
        t.set(&chk, true);
        assert_eq!((t.pending(), t.fault()), (None, None));
        assert_eq!(t.priority(), 100);
    }

    #[test]
    fn a_file_adds_its_value_times_its_weight_and_faults_at_minus_254() {
        let maint = TrackTarget::File("maint".into());
        let flag = TrackTarget::File("flag".into());
        let mut t = Tracker::new(100, &[track(&maint, Some(10)), track(&flag, Some(0))]);
        assert_eq!(t.priority(), 100, "files start at 0");
        assert_eq!(t.set_level(&maint, Level::Value(-3)), Some(70));
        assert_eq!(t.set_level(&maint, Level::Value(2)), Some(120));
        assert_eq!(t.set_level(&maint, Level::Value(100)), Some(254));
        assert_eq!(t.fault(), None);
        assert_eq!(t.set_level(&maint, Level::Value(-26)), Some(100));
        assert_eq!(t.fault(), Some(&maint), "-260 is below -253: FAULT");
        t.set_level(&maint, Level::Value(0));
        assert_eq!(t.fault(), None);
        assert_eq!(t.set_level(&flag, Level::Value(1)), None);
        assert_eq!(
            t.fault(),
            Some(&flag),
            "weight 0: any non-zero value is FAULT"
        );
        t.set_level(&flag, Level::Value(0));
        assert_eq!(t.fault(), None);
    }
}
