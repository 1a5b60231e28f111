//! The state file, `state.json` in the state directory: the director's [`StateDoc`], replaced
//! atomically through [`crate::state::JsonFile`], and only when it changed. A missing file is a
//! fresh start; a corrupt one stops the start-up with an error naming it (the daemon will not
//! guess what an operator had drained).

use crate::director::StateDoc;
use crate::state::{JsonFile, StateError};
use std::path::Path;

/// The file name in the state directory.
pub const STATE_FILE: &str = "state.json";

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
    use crate::director::{Known, Mode};
    use std::collections::BTreeMap;

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
                weight: None,
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
