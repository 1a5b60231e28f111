//! Tracking: interfaces and services whose failure lowers an instance's priority.
//!
//! Pure: the edge reports "interface eth1 is down" or the daemon reports "no healthy real
//! server for service http"; [`Tracker::set`] returns the new effective priority when it
//! changes, which the caller feeds to the state machine as `Event::Priority`. The address
//! owner (priority 255) ignores tracking.

use std::collections::BTreeMap;

use super::config::{Track, TrackTarget};

/// The tracked objects of one instance and their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    base: u8,
    /// target → (weight, up)
    items: BTreeMap<TrackTarget, (u8, bool)>,
}

impl Tracker {
    /// Everything starts up.
    pub fn new(base: u8, track: &[Track]) -> Tracker {
        let mut items = BTreeMap::new();
        for t in track {
            let w = items.entry(t.target.clone()).or_insert((0u8, true));
            w.0 = w.0.saturating_add(t.weight);
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

    /// The effective priority: the configured one less the weights of what is down, at least 1.
    /// An address owner (255) is never lowered: it holds the addresses for real (keepalived
    /// does the same).
    pub fn priority(&self) -> u8 {
        if self.base == 255 {
            return 255;
        }
        let down: u32 = self
            .items
            .values()
            .filter(|(_, up)| !up)
            .map(|(w, _)| u32::from(*w))
            .sum();
        u32::from(self.base).saturating_sub(down).max(1) as u8
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

    #[test]
    fn weights_add_up_and_never_reach_zero() {
        let eth1 = TrackTarget::Interface("eth1".into());
        let http = TrackTarget::Service("http".into());
        let mut t = Tracker::new(
            150,
            &[
                Track {
                    target: eth1.clone(),
                    weight: 60,
                },
                Track {
                    target: http.clone(),
                    weight: 100,
                },
            ],
        );
        assert_eq!(t.interfaces(), vec!["eth1".to_string()]);
        assert_eq!(t.set(&eth1, false), Some(90));
        assert_eq!(t.set(&eth1, false), None);
        assert_eq!(t.set(&http, false), Some(1));
        assert_eq!(t.set(&eth1, true), Some(50));
        assert_eq!(t.set(&TrackTarget::Service("other".into()), false), None);
        assert_eq!(t.set(&http, true), Some(150));
    }

    #[test]
    fn an_address_owner_is_never_lowered() {
        // As in keepalived, tracking does not move an address owner: it answers for addresses
        // it really holds, so its priority stays 255 whatever is down.
        let eth1 = TrackTarget::Interface("eth1".into());
        let mut t = Tracker::new(
            255,
            &[Track {
                target: eth1.clone(),
                weight: 60,
            }],
        );
        assert_eq!(t.set(&eth1, false), None);
        assert_eq!(t.priority(), 255);
        assert_eq!(t.set(&eth1, true), None);
        assert_eq!(t.priority(), 255);
    }
}
