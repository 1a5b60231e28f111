//! The check scheduler's timing core, pure: no clock, no sockets, the caller passes `now` (ms).
//!
//! Each check has an interval, Mon's `randskew` (every run lands at its nominal time ± a random
//! skew), a timeout, a faster `failed_interval` used while it fails and a `retry_interval` used
//! while a failure of a passing node is being confirmed ([`Pace`]): each retry runs that long
//! after the previous run ended, as keepalived's `delay_before_retry`. Nominal times never drift:
//! the next one is the previous nominal time + interval, not `now` + interval. A global budget
//! caps the checks in flight; a check still running (or still waiting for budget) when its next
//! nominal time comes skips that interval, which is counted as missed, so a slow check never
//! piles up runs of itself. The shell sleeps until [`Scheduler::poll_timeout`] and takes due
//! checks from [`Scheduler::poll_due`].

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Millis;

/// When one check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub interval: Millis,
    /// The interval while the check fails (Mon's classic scripts re-check failed nodes faster).
    pub failed_interval: Millis,
    /// While a failure is being confirmed, the time from the end of one run to the start of
    /// the next (keepalived's `delay_before_retry`).
    pub retry_interval: Millis,
    /// Each run lands at its nominal time ± up to this much.
    pub randskew: Millis,
    pub timeout: Millis,
}

/// Which of its intervals a check runs at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pace {
    #[default]
    Normal,
    /// A failure of a passing node is being confirmed: `retry_interval` after each run ends.
    Retry,
    /// The check fails: `failed_interval`.
    Failed,
}

/// Handle of one scheduled check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CheckId(pub u32);

/// A check to start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch {
    pub id: CheckId,
    /// When the check must be given up.
    pub deadline: Millis,
    /// How late it starts compared with its (skewed) due time.
    pub lateness: Millis,
}

/// Counters for the benchmark and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub dispatched: u64,
    pub completed: u64,
    /// Nominal times skipped because the previous run was still going or never got budget.
    pub missed: u64,
    pub max_lateness: Millis,
    pub in_flight: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    timing: Timing,
    /// The next nominal (unskewed) time.
    nominal: Millis,
    /// When the next run is due (nominal ± skew).
    due: Millis,
    pace: Pace,
    running: bool,
    removed: bool,
    /// The first run is due before `nominal` (see [`Scheduler::add_soon`]): running it does not
    /// advance the cadence.
    early: bool,
    generation: u64,
}

/// A check added by [`Scheduler::add_soon`] first runs within this long (or its interval, if shorter).
pub const FIRST_RUN_WINDOW: Millis = 1_000;

/// The timing core of the check scheduler.
#[derive(Debug)]
pub struct Scheduler {
    entries: Vec<Entry>,
    heap: BinaryHeap<Reverse<(Millis, u32, u64)>>,
    rng: StdRng,
    budget: usize,
    stats: Stats,
}

impl Scheduler {
    /// A scheduler with at most `budget` checks in flight and a seeded skew generator.
    pub fn new(budget: usize, seed: u64) -> Self {
        Scheduler {
            entries: Vec::new(),
            heap: BinaryHeap::new(),
            rng: StdRng::seed_from_u64(seed),
            budget: budget.max(1),
            stats: Stats::default(),
        }
    }

    /// Adds a check; its first run is spread uniformly over the first interval so that a
    /// thousand checks added together do not all fire at once (for checks that cost a process
    /// each, such as external monitors).
    pub fn add(&mut self, timing: Timing, now: Millis) -> CheckId {
        let spread = if timing.interval > 0 {
            self.rng.random_range(0..timing.interval)
        } else {
            0
        };
        self.add_at(timing, now + spread)
    }

    /// Adds a cheap check (no process): its first run comes within [`FIRST_RUN_WINDOW`] (a cold
    /// start checks every node at once, not up to an interval later); its cadence afterwards
    /// has a phase spread uniformly over the interval, so that checks added together do not
    /// fire together again; the second run comes half an interval to one and a half after the
    /// first.
    pub fn add_soon(&mut self, timing: Timing, now: Millis) -> CheckId {
        let interval = timing.interval.max(1);
        let first = now + self.rng.random_range(0..interval.min(FIRST_RUN_WINDOW));
        // The nominal time of the run after the first, uniform over an interval (so the phases
        // spread) and not too close to the first run.
        let second = first + interval / 2 + self.rng.random_range(0..interval);
        let id = self.add_at(timing, first);
        if let Some(e) = self.entries.get_mut(id.0 as usize) {
            e.nominal = second;
            e.early = true;
        }
        id
    }

    /// Adds a check whose first nominal time is `first`.
    pub fn add_at(&mut self, timing: Timing, first: Millis) -> CheckId {
        let id = CheckId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        let timing = Timing {
            interval: timing.interval.max(1),
            failed_interval: timing.failed_interval.max(1),
            retry_interval: timing.retry_interval.max(1),
            ..timing
        };
        self.entries.push(Entry {
            timing,
            nominal: first,
            due: first,
            pace: Pace::Normal,
            running: false,
            removed: false,
            early: false,
            generation: 0,
        });
        self.push(id.0, first);
        id
    }

    /// Stops scheduling a check (a running one may still complete).
    pub fn remove(&mut self, id: CheckId) {
        if let Some(e) = self.entries.get_mut(id.0 as usize) {
            e.removed = true;
            e.generation += 1;
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            in_flight: self.stats.in_flight,
            ..self.stats
        }
    }

    pub fn timing(&self, id: CheckId) -> Option<Timing> {
        self.entries.get(id.0 as usize).map(|e| e.timing)
    }

    /// When the check runs next, if it is scheduled.
    pub fn next_due(&self, id: CheckId) -> Option<Millis> {
        self.entries
            .get(id.0 as usize)
            .filter(|e| !e.removed)
            .map(|e| e.due)
    }

    /// The earliest time something becomes due (the shell sleeps until then, or until a
    /// running check completes). None while the budget is full: only a completion can let the
    /// next check start, and a wake-up time in the past would make the shell spin.
    pub fn poll_timeout(&mut self) -> Option<Millis> {
        self.drop_stale();
        if self.stats.in_flight >= self.budget {
            return None;
        }
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The next check to start at `now`, if one is due and the budget allows.
    pub fn poll_due(&mut self, now: Millis) -> Option<Dispatch> {
        loop {
            self.drop_stale();
            let Reverse((due, idx, _)) = *self.heap.peek()?;
            if due > now {
                return None;
            }
            let running = self.entries.get(idx as usize).is_some_and(|e| e.running);
            if !running && self.stats.in_flight >= self.budget {
                return None;
            }
            self.heap.pop();
            let entry = &mut self.entries[idx as usize];
            if entry.running {
                // Still running from the previous interval: skip this one.
                self.stats.missed += 1;
                self.advance(idx, now);
                continue;
            }
            let lateness = now - due;
            let deadline = now + entry.timing.timeout;
            entry.running = true;
            self.stats.in_flight += 1;
            self.stats.dispatched += 1;
            self.stats.max_lateness = self.stats.max_lateness.max(lateness);
            self.advance(idx, now);
            return Some(Dispatch {
                id: CheckId(idx),
                deadline,
                lateness,
            });
        }
    }

    /// A dispatched check finished (passed, failed or timed out). In the retry pace the next
    /// run comes `retry_interval` from now.
    pub fn complete(&mut self, id: CheckId, now: Millis) {
        let Some(e) = self.entries.get_mut(id.0 as usize) else {
            return;
        };
        if !e.running {
            return;
        }
        e.running = false;
        self.stats.in_flight = self.stats.in_flight.saturating_sub(1);
        self.stats.completed += 1;
        if e.pace == Pace::Retry && !e.removed {
            self.retry_from(id.0, now);
        }
    }

    /// The next run `retry_interval` after `now`.
    fn retry_from(&mut self, idx: u32, now: Millis) {
        let e = &mut self.entries[idx as usize];
        e.nominal = now + e.timing.retry_interval;
        e.generation += 1;
        let nominal = e.nominal;
        let due = self.skewed(idx, nominal, now);
        self.entries[idx as usize].due = due;
        self.push(idx, due);
    }

    /// Switches a check to another of its intervals. A shorter one pulls the next run in to
    /// at most that interval after the last nominal time; a longer one puts it off; the retry
    /// pace runs next `retry_interval` after the last run ended (now, or when the one running
    /// completes).
    pub fn set_pace(&mut self, id: CheckId, pace: Pace, now: Millis) {
        let Some(e) = self.entries.get_mut(id.0 as usize) else {
            return;
        };
        if e.pace == pace || e.removed {
            return;
        }
        // The interval in force so far gives the previous nominal time; the new one follows it.
        let before = Self::interval(e);
        let previous = e.nominal.saturating_sub(before);
        e.pace = pace;
        if pace == Pace::Retry {
            // Asked for when a failure was reported: the run that reported it has ended.
            if !e.running {
                self.retry_from(id.0, now);
            }
            return;
        }
        let next = (previous + Self::interval(e)).max(now);
        if Self::interval(e) <= before && next >= e.nominal {
            return;
        }
        e.nominal = next;
        e.generation += 1;
        let due = self.skewed(id.0, next, now);
        self.entries[id.0 as usize].due = due;
        self.push(id.0, due);
    }

    /// Runs a check as soon as the budget allows and restarts its cadence from `now`.
    pub fn check_now(&mut self, id: CheckId, now: Millis) {
        let Some(e) = self.entries.get_mut(id.0 as usize) else {
            return;
        };
        if e.removed || e.running {
            return;
        }
        e.nominal = now;
        e.due = now;
        e.early = false;
        e.generation += 1;
        self.push(id.0, now);
    }

    fn interval(e: &Entry) -> Millis {
        match e.pace {
            Pace::Normal => e.timing.interval,
            Pace::Retry => e.timing.retry_interval,
            Pace::Failed => e.timing.failed_interval,
        }
    }

    /// Moves the entry to its next nominal time after `now` and queues it.
    fn advance(&mut self, idx: u32, now: Millis) {
        let e = &mut self.entries[idx as usize];
        let interval = Self::interval(e);
        if e.early {
            // The early first run: the cadence starts at the nominal time already set.
            e.early = false;
        } else {
            e.nominal += interval;
        }
        while e.nominal + interval <= now {
            // Intervals that passed entirely without a run (budget starvation): missed.
            e.nominal += interval;
            self.stats.missed += 1;
        }
        let nominal = e.nominal;
        let due = self.skewed(idx, nominal, now);
        let e = &mut self.entries[idx as usize];
        e.due = due;
        e.generation += 1;
        self.push(idx, due);
    }

    fn skewed(&mut self, idx: u32, nominal: Millis, now: Millis) -> Millis {
        let skew = self.entries[idx as usize].timing.randskew;
        let due = if skew == 0 {
            nominal
        } else {
            let offset = self.rng.random_range(0..=2 * skew);
            (nominal + offset).saturating_sub(skew)
        };
        due.max(now)
    }

    fn push(&mut self, idx: u32, due: Millis) {
        let generation = self.entries[idx as usize].generation;
        self.heap.push(Reverse((due, idx, generation)));
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse((_, idx, generation))) = self.heap.peek() {
            let stale = self
                .entries
                .get(*idx as usize)
                .is_none_or(|e| e.removed || e.generation != *generation);
            if stale {
                self.heap.pop();
            } else {
                break;
            }
        }
    }
}
