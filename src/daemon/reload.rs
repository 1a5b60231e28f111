//! Transactional reload: the new configuration is parsed and validated whole; an invalid one
//! leaves the running configuration in place and every diagnostic is reported
//! (`FILE:LINE:COL: message`). A valid one is applied as a difference: only the watches that
//! changed are restarted, unchanged nodes keep their machines (health, counters), and the
//! reconcile that follows sends only the operations of what changed.

use crate::config::{self, Config, ConfigErrors, Diagnostic};
use crate::monitor::{Target, WatchSpec};
use std::collections::BTreeMap;
use std::path::Path;

/// The watches of a configuration by service name, and the ping watches (`ping:GROUP`).
pub type Watches = BTreeMap<String, (WatchSpec, Vec<Target>)>;

/// The watches of `cfg`: one per service, one per pinging hostgroup.
pub fn watches(cfg: &Config) -> Watches {
    let mut w: Watches = cfg
        .services
        .iter()
        .map(|s| (s.name.clone(), super::watches::watch_of(cfg, s)))
        .collect();
    w.extend(super::watches::ping_watches(cfg));
    w
}

/// Which watches a reload stops and starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchChanges {
    /// Running watches to stop (removed or changed).
    pub stop: Vec<String>,
    /// Watches to start (new or changed).
    pub start: Vec<String>,
    /// Watches left running as they are.
    pub unchanged: usize,
}

/// Compares the running watches with the new ones.
pub fn watch_changes(old: &Watches, new: &Watches) -> WatchChanges {
    let mut c = WatchChanges::default();
    for (name, w) in old {
        match new.get(name) {
            Some(n) if n == w => c.unchanged += 1,
            _ => c.stop.push(name.clone()),
        }
    }
    for (name, w) in new {
        if old.get(name) != Some(w) {
            c.start.push(name.clone());
        }
    }
    c
}

/// Loads and validates `dir` whole: the new configuration with its warnings, or every error.
pub fn load(dir: &Path) -> Result<(Config, Vec<Diagnostic>), ConfigErrors> {
    config::load(dir).map(|l| (l.config, l.warnings))
}

/// Names of the services whose virtual-service settings or members differ between two
/// configurations (for the reload's log line).
pub fn changed_services(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for s in &new.services {
        let same = old
            .service(&s.name)
            .is_some_and(|o| o == s && old.hostgroup_of(o) == new.hostgroup_of(s));
        if !same {
            out.push(s.name.clone());
        }
    }
    for s in &old.services {
        if new.service(&s.name).is_none() {
            out.push(s.name.clone());
        }
    }
    out
}
