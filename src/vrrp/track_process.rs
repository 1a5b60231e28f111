//! Track processes, keepalived's `vrrp_track_process`: a process that must be running (at
//! least `quorum`, at most `quorum_max` of it) for the instances that track it to keep their
//! priority, or to stay out of FAULT.
//!
//! Pure: [`TrackProcess`] is the definition (serde), [`TrackProcess::matches`] says whether a
//! process is one of it, and [`Quorum`] turns the counts the edge takes of `/proc` into up and
//! down with keepalived's `fork_delay` and `terminate_delay`, on a virtual clock. The edge
//! scans `/proc` (`vrrp/edge/track.rs`).
//!
//! keepalived's rules, followed here (`keepalived.conf(5)`, `vrrp_track_process`):
//! - `process` is a name, or a command and its parameters. A name alone is compared, exactly,
//!   with the process name the kernel keeps (`/proc/PID/comm`, at most 15 bytes): `ssh` is
//!   not `sshd` (pgrep's `^ssh$`). With parameters, `param_match` or `full_command`, the
//!   first word is compared with the command line's first (`/proc/PID/cmdline`);
//! - parameters: `exact` (the default when some are given) wants exactly these; `partial`
//!   wants these first and allows more; `initial` as partial, but the last one given need
//!   only begin the process's. `param_match` with no parameter wants none;
//! - zombies are not running processes and do not count;
//! - up while quorum ≤ count ≤ quorum_max; the first count decides at once; later, a gained
//!   quorum counts after `fork_delay`, a lost one after `terminate_delay` (a restart within
//!   the delay changes nothing);
//! - the weight works as a script's: positive, added while up; negative, subtracted while
//!   down; 0, FAULT while down. A definition's weight defaults to 1, as keepalived's.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The longest process name the kernel keeps (`TASK_COMM_LEN` less its NUL).
pub const COMM_LEN: usize = 15;

/// How the parameters of a process are compared (keepalived's `param_match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamMatch {
    /// Exactly the parameters given.
    Exact,
    /// The parameters given first, more allowed.
    Partial,
    /// As partial, the last one given a prefix of the process's.
    Initial,
}

/// A track process as defined once (director level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackProcess {
    pub name: String,
    /// The process name or command, then its parameters (never empty).
    pub process: Vec<String>,
    /// None: exact when parameters are given, else parameters are not looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param_match: Option<ParamMatch>,
    /// Compare the command line's first word, not the process name.
    #[serde(default)]
    pub full_command: bool,
    /// Fewest matching processes for up. Default 1.
    #[serde(default = "one")]
    pub quorum: u32,
    /// Most matching processes for up. Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_max: Option<u32>,
    /// -253..253, used when the instance's reference gives none. Default 1.
    #[serde(default = "weight_one")]
    pub weight: i16,
    /// How long a gained quorum must last before the process counts as up.
    #[serde(default, with = "crate::duration::serde")]
    pub fork_delay: Duration,
    /// How long a lost quorum must last before the process counts as down.
    #[serde(default, with = "crate::duration::serde")]
    pub terminate_delay: Duration,
}

fn one() -> u32 {
    1
}
fn weight_one() -> i16 {
    1
}

/// One process as the edge read it from `/proc/PID/stat` and, when asked, `/proc/PID/cmdline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The name the kernel keeps (`comm`).
    pub comm: Vec<u8>,
    /// Its arguments (NUL-separated in `/proc`), empty when not read or a kernel thread.
    pub args: Vec<Vec<u8>>,
    /// State `Z` (or `X`): not running.
    pub zombie: bool,
}

impl TrackProcess {
    /// `process` (name or command, then parameters) under `name`, with keepalived's defaults:
    /// quorum 1, no quorum_max, weight 1, no delays, parameters compared exactly.
    pub fn new(name: &str, process: &[&str]) -> TrackProcess {
        TrackProcess {
            name: name.to_string(),
            process: process.iter().map(|s| s.to_string()).collect(),
            param_match: None,
            full_command: false,
            quorum: 1,
            quorum_max: None,
            weight: 1,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }

    /// Whether the command line, not only the process name, must be read.
    pub fn uses_cmdline(&self) -> bool {
        self.full_command || self.process.len() > 1 || self.param_match.is_some()
    }

    /// Whether `p` is one of the processes this tracks.
    pub fn matches(&self, p: &ProcessInfo) -> bool {
        if p.zombie {
            return false;
        }
        let Some((first, params)) = self.process.split_first() else {
            return false;
        };
        if !self.uses_cmdline() {
            return p.comm == first.as_bytes();
        }
        let Some((arg0, args)) = p.args.split_first() else {
            return false;
        };
        if arg0.as_slice() != first.as_bytes() {
            return false;
        }
        let mode = match (self.param_match, params.is_empty()) {
            (None, true) => return true,
            (None, false) => ParamMatch::Exact,
            (Some(m), _) => m,
        };
        let same = |a: &[u8], b: &str| a == b.as_bytes();
        match mode {
            ParamMatch::Exact => {
                args.len() == params.len() && args.iter().zip(params).all(|(a, b)| same(a, b))
            }
            ParamMatch::Partial => {
                args.len() >= params.len() && args.iter().zip(params).all(|(a, b)| same(a, b))
            }
            ParamMatch::Initial => {
                let Some((last, head)) = params.split_last() else {
                    return true;
                };
                args.len() >= params.len()
                    && args.iter().zip(head).all(|(a, b)| same(a, b))
                    && args[head.len()].starts_with(last.as_bytes())
            }
        }
    }

    /// How many of `procs` are this one's.
    pub fn count(&self, procs: &[ProcessInfo]) -> u32 {
        procs.iter().filter(|p| self.matches(p)).count() as u32
    }

    /// Whether `count` processes make a quorum.
    pub fn quorate(&self, count: u32) -> bool {
        count >= self.quorum && self.quorum_max.is_none_or(|m| count <= m)
    }

    /// What is wrong with the definition, if anything.
    pub fn problem(&self) -> Option<String> {
        let first = self.process.first()?;
        if first.is_empty() {
            return Some("the process name is empty".into());
        }
        if !self.uses_cmdline() && first.len() > COMM_LEN {
            return Some(format!(
                "the process name `{first}` is longer than the {COMM_LEN} bytes the kernel keeps \
                 (/proc/PID/comm): set full_command to compare the command line"
            ));
        }
        if let Some(max) = self.quorum_max.filter(|&m| m < self.quorum) {
            return Some(format!(
                "quorum_max {max} is below quorum {}: it could never be up",
                self.quorum
            ));
        }
        None
    }
}

/// The state of one tracked process over time: the counts in, up or down out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quorum {
    /// None before the first count.
    up: Option<bool>,
    /// The state the counts point to and since when, while it waits for its delay.
    pending: Option<(bool, Instant)>,
}

impl Quorum {
    pub fn new() -> Quorum {
        Quorum::default()
    }

    /// Up or down now, None before the first count.
    pub fn up(&self) -> Option<bool> {
        self.up
    }

    /// Records a count taken at `now`; returns the new state when it changes.
    pub fn observe(&mut self, def: &TrackProcess, count: u32, now: Instant) -> Option<bool> {
        let want = def.quorate(count);
        let Some(up) = self.up else {
            self.up = Some(want);
            return Some(want);
        };
        if want == up {
            self.pending = None;
            return None;
        }
        let delay = if want {
            def.fork_delay
        } else {
            def.terminate_delay
        };
        let since = match self.pending {
            Some((w, since)) if w == want => since,
            _ => {
                self.pending = Some((want, now));
                now
            }
        };
        if now.saturating_duration_since(since) >= delay {
            self.up = Some(want);
            self.pending = None;
            return Some(want);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(process: &[&str]) -> TrackProcess {
        TrackProcess::new("p", process)
    }

    fn proc(comm: &str, args: &[&str]) -> ProcessInfo {
        ProcessInfo {
            comm: comm.into(),
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            zombie: false,
        }
    }

    #[test]
    fn a_name_alone_is_the_exact_process_name() {
        let d = def(&["ssh"]);
        assert!(!d.uses_cmdline());
        assert!(d.matches(&proc("ssh", &[])));
        assert!(
            !d.matches(&proc("sshd", &["/usr/sbin/sshd", "-D"])),
            "not pgrep"
        );
        assert!(
            !d.matches(&proc("sh", &["ssh"])),
            "the name, not the command line"
        );
        let mut z = proc("ssh", &[]);
        z.zombie = true;
        assert!(!d.matches(&z), "a zombie is not running");
    }

    #[test]
    fn parameters_compare_the_command_line_exactly_by_default() {
        let d = def(&["/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg"]);
        assert!(d.uses_cmdline());
        let hp = |args: &[&str]| proc("haproxy", args);
        assert!(d.matches(&hp(&[
            "/usr/sbin/haproxy",
            "-f",
            "/etc/haproxy/haproxy.cfg"
        ])));
        assert!(!d.matches(&hp(&["/usr/sbin/haproxy", "-f"])));
        assert!(!d.matches(&hp(&[
            "/usr/sbin/haproxy",
            "-f",
            "/etc/haproxy/haproxy.cfg",
            "-q"
        ])));
        assert!(!d.matches(&hp(&["haproxy", "-f", "/etc/haproxy/haproxy.cfg"])));
        assert!(!d.matches(&hp(&[])), "a kernel thread has no command line");
    }

    #[test]
    fn partial_and_initial_allow_more_and_a_longer_last_parameter() {
        let mut d = def(&["/bin/sleep", "86"]);
        d.param_match = Some(ParamMatch::Partial);
        assert!(d.matches(&proc("sleep", &["/bin/sleep", "86", "x"])));
        assert!(!d.matches(&proc("sleep", &["/bin/sleep", "8600"])));
        d.param_match = Some(ParamMatch::Initial);
        assert!(d.matches(&proc("sleep", &["/bin/sleep", "8600"])));
        assert!(d.matches(&proc("sleep", &["/bin/sleep", "8600", "x"])));
        assert!(!d.matches(&proc("sleep", &["/bin/sleep", "7"])));
        assert!(!d.matches(&proc("sleep", &["/bin/sleep"])));
    }

    #[test]
    fn param_match_without_parameters_wants_none_and_full_command_alone_any() {
        let mut d = def(&["/bin/sleep"]);
        d.param_match = Some(ParamMatch::Exact);
        assert!(d.matches(&proc("sleep", &["/bin/sleep"])));
        assert!(!d.matches(&proc("sleep", &["/bin/sleep", "5"])));
        d.param_match = None;
        d.full_command = true;
        assert!(d.matches(&proc("sleep", &["/bin/sleep", "5"])));
        assert!(!d.matches(&proc("sleep", &["sleep", "5"])));
    }

    #[test]
    fn quorum_and_quorum_max_bound_the_count() {
        let mut d = def(&["nginx"]);
        d.quorum = 2;
        d.quorum_max = Some(3);
        let procs = vec![proc("nginx", &[]), proc("nginx", &[]), proc("bash", &[])];
        assert_eq!(d.count(&procs), 2);
        assert!(!d.quorate(1));
        assert!(d.quorate(2) && d.quorate(3));
        assert!(!d.quorate(4));
        d.quorum = 0;
        d.quorum_max = Some(0);
        assert!(
            d.quorate(0) && !d.quorate(1),
            "quorum_max 0: up while none runs"
        );
    }

    #[test]
    fn bad_definitions_say_why() {
        assert_eq!(def(&["nginx"]).problem(), None);
        let long = def(&["a-very-long-daemon-name"]);
        assert!(long.problem().unwrap().contains("15 bytes"), "{long:?}");
        let mut full = long.clone();
        full.full_command = true;
        assert_eq!(full.problem(), None);
        let mut q = def(&["nginx"]);
        q.quorum = 3;
        q.quorum_max = Some(2);
        assert!(q.problem().unwrap().contains("quorum_max 2"));
        assert!(def(&[""]).problem().is_some());
    }

    #[test]
    fn the_first_count_decides_at_once_then_the_delays_hold_changes() {
        let mut d = def(&["nginx"]);
        d.fork_delay = Duration::from_secs(2);
        d.terminate_delay = Duration::from_secs(5);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_millis(s * 500);
        let mut q = Quorum::new();
        assert_eq!(q.up(), None);
        assert_eq!(
            q.observe(&d, 1, at(0)),
            Some(true),
            "no delay at the first count"
        );
        assert_eq!(q.observe(&d, 0, at(1)), None, "lost: wait 5 s");
        assert_eq!(q.observe(&d, 0, at(8)), None);
        assert_eq!(
            q.observe(&d, 1, at(9)),
            None,
            "back within the delay: nothing"
        );
        assert_eq!(q.observe(&d, 0, at(10)), None, "the wait starts again");
        assert_eq!(q.observe(&d, 0, at(19)), None);
        assert_eq!(q.observe(&d, 0, at(20)), Some(false), "5 s after 10");
        assert_eq!(q.up(), Some(false));
        assert_eq!(q.observe(&d, 1, at(21)), None, "gained: wait 2 s");
        assert_eq!(q.observe(&d, 1, at(25)), Some(true));
        d.terminate_delay = Duration::ZERO;
        assert_eq!(q.observe(&d, 0, at(26)), Some(false), "no delay: at once");
    }
}
