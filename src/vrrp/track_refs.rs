//! What an instance tracks and with which weight: [`Track`] and [`TrackTarget`] (interfaces,
//! services, and the track scripts, files and processes defined in `track_scripts`,
//! `track_files` and `track_processes`), and the [`InstanceConfig`] methods that resolve a
//! reference to its definition and check them all (pure).

use serde::{Deserialize, Serialize};

use super::config::{ConfigError, InstanceConfig, MAX_FILE_WEIGHT};
use super::track_file::TrackFile;
use super::track_process::TrackProcess;
use super::track_script::TrackScript;

/// A tracked object and what its state does to the instance (keepalived's `track_interface`,
/// `track_script`, `track_file`, `track_process`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    #[serde(flatten)]
    pub target: TrackTarget,
    /// -253..253. Positive: added to the priority while the target is up; negative:
    /// subtracted while it is down (the priority stays within 1-254). None or 0: the instance
    /// is in FAULT while the target is down. A script or file without one takes its
    /// definition's weight; a file's (-254..254) multiplies its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i16>,
}

/// keepalived's bound on a `track_interface` weight.
pub const MAX_TRACK_WEIGHT: i16 = 253;

/// What is tracked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackTarget {
    /// An interface: down when not operationally up.
    Interface(String),
    /// A service: down when no real server of it is healthy (fed by the monitors).
    Service(String),
    /// A track script (one of `track_scripts`): up or down by its exit status, rise and fall.
    Script(String),
    /// A track file (one of `track_files`): the number it holds.
    File(String),
    /// A track process (one of `track_processes`): up while enough of it runs.
    Process(String),
}

impl InstanceConfig {
    /// The tracked targets with every weight given: a script or file reference without one
    /// takes its definition's. References to undefined names are left as they are
    /// ([`InstanceConfig::to_fsm`] refuses them).
    pub fn effective_track(&self) -> Vec<Track> {
        self.track
            .iter()
            .map(|t| {
                let default = match &t.target {
                    TrackTarget::Script(n) => self.script(n).map(|s| s.weight),
                    TrackTarget::File(n) => self.file(n).map(|f| f.weight),
                    TrackTarget::Process(n) => self.process(n).map(|p| p.weight),
                    _ => None,
                };
                Track {
                    target: t.target.clone(),
                    weight: t.weight.or(default),
                }
            })
            .collect()
    }

    /// The definition of track script `name`.
    pub fn script(&self, name: &str) -> Option<&TrackScript> {
        self.track_scripts.iter().find(|s| s.name == name)
    }

    /// The definition of track file `name`.
    pub fn file(&self, name: &str) -> Option<&TrackFile> {
        self.track_files.iter().find(|f| f.name == name)
    }

    /// The definition of track process `name`.
    pub fn process(&self, name: &str) -> Option<&TrackProcess> {
        self.track_processes.iter().find(|p| p.name == name)
    }

    /// The scripts the instance tracks (each run for it).
    pub fn tracked_scripts(&self) -> Vec<&TrackScript> {
        let mut out: Vec<&TrackScript> = Vec::new();
        for t in &self.track {
            if let TrackTarget::Script(n) = &t.target {
                if let Some(s) = self.script(n).filter(|s| !out.contains(s)) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// The files the instance tracks (polled for it).
    pub fn tracked_files(&self) -> Vec<&TrackFile> {
        let mut out: Vec<&TrackFile> = Vec::new();
        for t in &self.track {
            if let TrackTarget::File(n) = &t.target {
                if let Some(f) = self.file(n).filter(|f| !out.contains(f)) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// The processes the instance tracks (counted for it at each scan of /proc).
    pub fn tracked_processes(&self) -> Vec<&TrackProcess> {
        let mut out: Vec<&TrackProcess> = Vec::new();
        for t in &self.track {
            if let TrackTarget::Process(n) = &t.target {
                if let Some(p) = self.process(n).filter(|p| !out.contains(p)) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Weights in range, references defined, definitions unique and sound.
    pub(super) fn check_track(&self) -> Result<(), ConfigError> {
        for (i, s) in self.track_scripts.iter().enumerate() {
            if self.track_scripts[..i].iter().any(|o| o.name == s.name) {
                return Err(ConfigError::DuplicateTrack("script", s.name.clone()));
            }
            let bad = |why| Err(ConfigError::BadScript(s.name.clone(), why));
            if s.command.first().is_none_or(|p| !p.starts_with('/')) {
                return bad("the command must start with an absolute path");
            }
            if s.interval.is_zero() || s.timeout().is_zero() {
                return bad("interval and timeout must be greater than zero");
            }
            if s.rise == 0 || s.fall == 0 {
                return bad("rise and fall must be at least 1");
            }
            if s.weight.abs() > MAX_TRACK_WEIGHT {
                return Err(ConfigError::BadTrackWeight(s.weight));
            }
        }
        for (i, f) in self.track_files.iter().enumerate() {
            if self.track_files[..i].iter().any(|o| o.name == f.name) {
                return Err(ConfigError::DuplicateTrack("file", f.name.clone()));
            }
            if f.weight.abs() > MAX_FILE_WEIGHT {
                return Err(ConfigError::BadFileWeight(f.weight));
            }
        }
        for (i, p) in self.track_processes.iter().enumerate() {
            if self.track_processes[..i].iter().any(|o| o.name == p.name) {
                return Err(ConfigError::DuplicateTrack("process", p.name.clone()));
            }
            if let Some(why) = p.problem() {
                return Err(ConfigError::BadProcess(p.name.clone(), why));
            }
            if p.weight.abs() > MAX_TRACK_WEIGHT {
                return Err(ConfigError::BadTrackWeight(p.weight));
            }
        }
        for t in &self.track {
            let max = match &t.target {
                TrackTarget::Script(n) if self.script(n).is_none() => {
                    return Err(ConfigError::UnknownTrack("script", n.clone()))
                }
                TrackTarget::File(n) if self.file(n).is_none() => {
                    return Err(ConfigError::UnknownTrack("file", n.clone()))
                }
                TrackTarget::Process(n) if self.process(n).is_none() => {
                    return Err(ConfigError::UnknownTrack("process", n.clone()))
                }
                TrackTarget::File(_) => MAX_FILE_WEIGHT,
                _ => MAX_TRACK_WEIGHT,
            };
            match t.weight {
                Some(w) if w.abs() > max && max == MAX_FILE_WEIGHT => {
                    return Err(ConfigError::BadFileWeight(w))
                }
                Some(w) if w.abs() > max => return Err(ConfigError::BadTrackWeight(w)),
                _ => {}
            }
        }
        Ok(())
    }
}
