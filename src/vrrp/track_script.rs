//! Track scripts, keepalived's `vrrp_script`: a program run every `interval`, whose exit status
//! moves the priority of the instances that track it (or puts them in FAULT).
//!
//! Pure: [`TrackScript`] is the definition (serde), [`ScriptCounter`] the rise/fall counting of
//! keepalived's `vrrp_script_child_thread` (`vrrp_scheduler.c`). The edge
//! (`vrrp/edge/track.rs`) runs the program and feeds each result to the counter.
//!
//! keepalived's counting: a script starts in *init*: neither up nor down, so its weight counts
//! neither way and, unweighted, it holds the instance out of the election until it has a
//! result. The first result decides at once (one success: up; one failure: down). After that
//! `rise` consecutive successes bring it up and `fall` consecutive failures take it down. A run
//! that times out (its process group is killed) or cannot start is a failure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A track script as defined once (director level) and run for each instance that tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackScript {
    pub name: String,
    /// Program (absolute path) and arguments.
    pub command: Vec<String>,
    /// Time between the starts of two runs. Default 1 s.
    #[serde(default = "default_interval", with = "crate::duration::serde")]
    pub interval: Duration,
    /// A run still going after this long is killed (its whole process group) and counts as a
    /// failure. Default: the interval.
    #[serde(
        default,
        with = "crate::duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// -253..253, used when the instance's reference gives none. Default 0: FAULT while down.
    #[serde(default)]
    pub weight: i16,
    /// Consecutive successes that bring a down script up. Default 1.
    #[serde(default = "one")]
    pub rise: u32,
    /// Consecutive failures that take an up script down. Default 1.
    #[serde(default = "one")]
    pub fall: u32,
    /// Run as this user and its primary group (default: lbd's own user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}
fn one() -> u32 {
    1
}

impl TrackScript {
    /// The time limit of one run.
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.interval)
    }
}

/// keepalived's `vscript->result`: 0..rise+fall-1, up from `rise` on; it starts at `rise - 1`
/// (down by the count, but in init, where one success is enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCounter {
    rise: u32,
    fall: u32,
    result: u32,
    init: bool,
}

impl ScriptCounter {
    /// A script that has not run yet (`rise` and `fall` at least 1).
    pub fn new(rise: u32, fall: u32) -> ScriptCounter {
        let (rise, fall) = (rise.max(1), fall.max(1));
        ScriptCounter {
            rise,
            fall,
            result: rise - 1,
            init: true,
        }
    }

    /// `None` before the first result, then whether the script is up.
    pub fn up(&self) -> Option<bool> {
        (!self.init).then_some(self.result >= self.rise)
    }

    /// Records one run; returns the new state when it changes (the first result always does).
    pub fn record(&mut self, success: bool) -> Option<bool> {
        let full = self.rise + self.fall - 1;
        let mut change = None;
        if success {
            if self.result + 1 < self.rise {
                self.result += 1;
            } else if self.result != full {
                if self.result < self.rise {
                    change = Some(true);
                }
                self.result = full;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else {
            if self.result == self.rise || self.init {
                change = Some(false);
            }
            self.result = 0;
        }
        self.init = false;
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `runs` (`+` success, `-` failure) and returns the changes, `.` for none.
    fn changes(rise: u32, fall: u32, runs: &str) -> String {
        let mut c = ScriptCounter::new(rise, fall);
        runs.chars()
            .map(|r| match c.record(r == '+') {
                Some(true) => 'U',
                Some(false) => 'D',
                None => '.',
            })
            .collect()
    }

    #[test]
    fn the_first_result_decides_at_once_whatever_rise_and_fall() {
        let c = ScriptCounter::new(3, 4);
        assert_eq!(c.up(), None, "init: neither up nor down");
        assert_eq!(changes(3, 4, "+"), "U");
        assert_eq!(changes(3, 4, "-"), "D");
        assert_eq!(changes(1, 1, "+"), "U");
        assert_eq!(changes(1, 1, "-"), "D");
    }

    #[test]
    fn fall_consecutive_failures_take_it_down_and_a_success_resets_the_count() {
        // Up at once, then two failures are not enough with fall 3; a success refills.
        assert_eq!(changes(2, 3, "+--+---"), "U.....D");
        let mut c = ScriptCounter::new(2, 3);
        c.record(true);
        assert_eq!(c.up(), Some(true));
        c.record(false);
        c.record(false);
        assert_eq!(c.up(), Some(true), "two of three failures: still up");
    }

    #[test]
    fn rise_consecutive_successes_bring_it_up_and_a_failure_restarts_the_count() {
        // Down at once; with rise 3 it needs three successes in a row.
        assert_eq!(changes(3, 2, "-++-+++"), "D.....U");
        assert_eq!(changes(3, 2, "-+++--"), "D..U.D");
    }

    #[test]
    fn rise_and_fall_of_one_follow_every_result() {
        assert_eq!(changes(1, 1, "+-+--++"), "UDUD.U.");
    }

    #[test]
    fn the_timeout_defaults_to_the_interval() {
        let s: TrackScript =
            serde_saphyr::from_str("name: chk\ncommand: [/bin/true]\ninterval: 2s\nweight: -20\n")
                .unwrap();
        assert_eq!(s.timeout(), Duration::from_secs(2));
        assert_eq!((s.rise, s.fall, s.user.as_deref()), (1, 1, None));
        let s = TrackScript {
            timeout: Some(Duration::from_millis(300)),
            ..s
        };
        assert_eq!(s.timeout(), Duration::from_millis(300));
    }
}
