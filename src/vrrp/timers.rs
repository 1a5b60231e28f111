//! The VRRP state machine's timer table: one deadline slot per [`TimerKind`].
//!
//! Timers are plain data; the shell sleeps until [`Timers::next`] and then hands the current
//! time back to the state machine, which fires every expired slot in a fixed order.

use std::time::Instant;

use serde::Serialize;

/// The timers of one virtual router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TimerKind {
    /// RFC 5798 6.2 Master_Down_Timer: runs in Backup.
    MasterDown,
    /// RFC 5798 6.2 Adver_Timer: runs in Master.
    Adver,
    /// The next gratuitous ARP / NA of the burst sent on becoming master.
    GarpRepeat,
    /// The periodic gratuitous ARP / NA refresh while master.
    GarpRefresh,
    /// The second burst, a while after becoming master (keepalived's garp_master_delay).
    GarpDelay,
}

impl TimerKind {
    /// Every kind, in the order expired timers fire.
    pub const ALL: [TimerKind; 5] = [
        TimerKind::MasterDown,
        TimerKind::Adver,
        TimerKind::GarpRepeat,
        TimerKind::GarpRefresh,
        TimerKind::GarpDelay,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

/// Deadlines keyed by [`TimerKind`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timers([Option<Instant>; TimerKind::ALL.len()]);

impl Timers {
    /// Arms (or re-arms) a timer.
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.0[kind.slot()] = Some(at);
    }

    /// Disarms a timer.
    pub fn cancel(&mut self, kind: TimerKind) {
        self.0[kind.slot()] = None;
    }

    /// Disarms every timer.
    pub fn cancel_all(&mut self) {
        self.0 = [None; TimerKind::ALL.len()];
    }

    /// The deadline of one timer.
    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.0[kind.slot()]
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// Disarms and returns the first timer (in [`TimerKind::ALL`] order) due at `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimerKind> {
        let kind = TimerKind::ALL
            .into_iter()
            .find(|k| self.get(*k).is_some_and(|at| at <= now))?;
        self.cancel(kind);
        Some(kind)
    }
}
