//! What the daemon must not forget, in the state directory (`state.json`, replaced atomically
//! through [`crate::state::JsonFile`] after every change): the last known health of every
//! (service, node) pair, every node's state, the operator's overrides and the event-history
//! sequence number. A missing file is a fresh start; a corrupt one stops the start-up with an
//! error naming it (the daemon will not guess what an operator had drained).

use super::admin::Overrides;
use super::desired::Pair;
use super::nodes::Known;
use crate::node::NodeState;
use crate::state::{JsonFile, StateError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The file name in the state directory.
pub const STATE_FILE: &str = "state.json";

/// One node's last state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub state: NodeState,
    /// Unix time of the last change, milliseconds.
    pub since_ms: u64,
}

/// The state document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    #[serde(default)]
    pub version: u32,
    /// Decided health by service, then node.
    #[serde(default)]
    pub health: BTreeMap<String, BTreeMap<String, Known>>,
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeRecord>,
    #[serde(default)]
    pub admin: Overrides,
    /// The last event-history sequence number handed out.
    #[serde(default)]
    pub event_seq: u64,
}

impl StateDoc {
    /// The health by pair.
    pub fn known(&self) -> BTreeMap<Pair, Known> {
        self.health
            .iter()
            .flat_map(|(s, nodes)| nodes.iter().map(|(n, k)| ((s.clone(), n.clone()), *k)))
            .collect()
    }

    /// Sets the health from pairs.
    pub fn set_known(&mut self, known: &BTreeMap<Pair, Known>) {
        self.health.clear();
        for ((s, n), k) in known {
            self.health
                .entry(s.clone())
                .or_default()
                .insert(n.clone(), *k);
        }
    }
}

/// Writes the state document only when it changed.
#[derive(Debug)]
pub struct Persister {
    file: JsonFile<StateDoc>,
    last: Option<StateDoc>,
    /// Documents written (for tests and the log).
    pub writes: u64,
}

impl Persister {
    /// The state file of `state_dir` (created if missing).
    pub fn open(state_dir: &Path) -> Result<(Self, StateDoc), StateError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StateError::Write {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let file: JsonFile<StateDoc> = JsonFile::new(state_dir.join(STATE_FILE));
        let doc = file.load()?;
        let last = file.path().exists().then(|| doc.clone());
        Ok((
            Persister {
                file,
                last,
                writes: 0,
            },
            doc,
        ))
    }

    /// Stores `doc` if it differs from what was stored last.
    pub fn store(&mut self, doc: StateDoc) -> Result<bool, StateError> {
        if self.last.as_ref() == Some(&doc) {
            return Ok(false);
        }
        self.file.store(&doc)?;
        self.writes += 1;
        self.last = Some(doc);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::admin::Mode;

    #[test]
    fn round_trip_and_unchanged_documents_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let (mut p, doc) = Persister::open(dir.path()).unwrap();
        assert_eq!(doc, StateDoc::default());
        let mut doc = StateDoc {
            version: 1,
            event_seq: 7,
            ..StateDoc::default()
        };
        let mut known = BTreeMap::new();
        known.insert(
            ("http".to_string(), "rs1".to_string()),
            Known {
                up: true,
                load: Some(20),
            },
        );
        doc.set_known(&known);
        doc.admin.set("rs2", None, Mode::Drain);
        assert!(p.store(doc.clone()).unwrap());
        assert!(!p.store(doc.clone()).unwrap());
        assert_eq!(p.writes, 1);
        let (_, again) = Persister::open(dir.path()).unwrap();
        assert_eq!(again, doc);
        assert_eq!(again.known(), known);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), b"{\"health\": 3").unwrap();
        let err = Persister::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("state.json") && err.contains("corrupt"),
            "{err}"
        );
    }
}
