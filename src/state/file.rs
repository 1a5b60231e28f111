//! A typed JSON document in the state directory. A missing file reads as the default value; a
//! file that cannot be read or parsed is an error that names it (the daemon refuses to guess
//! what an operator had drained rather than silently forgetting it).

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use super::atomic::write_atomic;

/// Errors reading or writing a state document.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("state file {path} is corrupt: {source} (move it aside to start from scratch)")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write state file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// One JSON document of type `T` at a fixed path.
#[derive(Debug, Clone)]
pub struct JsonFile<T> {
    path: PathBuf,
    _t: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned + Default> JsonFile<T> {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonFile {
            path: path.into(),
            _t: PhantomData,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the document; a missing file gives `T::default()`.
    pub fn load(&self) -> Result<T, StateError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StateError::Parse {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
            Err(source) => Err(StateError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Replaces the document atomically.
    pub fn store(&self, value: &T) -> Result<(), StateError> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StateError::Write {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes).map_err(|source| StateError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn missing_file_is_default_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let f: JsonFile<BTreeMap<String, u32>> = JsonFile::new(dir.path().join("x.json"));
        assert!(f.load().unwrap().is_empty());
        let mut m = BTreeMap::new();
        m.insert("rs1".to_string(), 2);
        f.store(&m).unwrap();
        assert_eq!(f.load().unwrap(), m);
    }

    #[test]
    fn corrupt_file_is_an_error_naming_it_and_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        std::fs::write(&p, b"{not json").unwrap();
        let f: JsonFile<BTreeMap<String, u32>> = JsonFile::new(&p);
        let err = f.load().unwrap_err().to_string();
        assert!(err.contains("x.json") && err.contains("corrupt"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"{not json");
    }
}
