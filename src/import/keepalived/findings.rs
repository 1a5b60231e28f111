//! What an import could not carry over faithfully, keyword by keyword, with the position and
//! the reason; and the lines of the summary saying what was translated into what. A finding
//! is either a drop (lbd has nothing for it), an approximation (written, but lbd behaves
//! differently) or a note (no effect worth an error, listed so nothing vanishes silently).

use super::pos::Pos;
use std::fmt;

/// How a keyword fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Not written: lbd has no equivalent. Changes behaviour.
    Dropped,
    /// Written as the nearest lbd setting, which behaves differently. Changes behaviour.
    Approximated,
    /// Not written, and nothing an operator would miss (say, keepalived's start state).
    Ignored,
}

impl Kind {
    /// Whether the finding means lbd would behave differently from keepalived.
    pub fn is_lossy(self) -> bool {
        matches!(self, Kind::Dropped | Kind::Approximated)
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Dropped => "not translated",
            Kind::Approximated => "approximated",
            Kind::Ignored => "ignored",
        }
    }
}

/// One keyword that was not carried over as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub at: Pos,
    pub keyword: String,
    pub kind: Kind,
    pub reason: String,
}

impl fmt::Display for Finding {
    /// `FILE:LINE:COLUMN: not translated: reason (keyword)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} ({})",
            self.at,
            self.kind.word(),
            self.reason,
            self.keyword
        )
    }
}

/// The findings and summary lines of one import, as they are collected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// "FILE:LINE: vrrp_instance VI_1 → director.yaml vrrp VI_1".
    pub translated: Vec<String>,
    /// Remarks that concern the whole import.
    pub notes: Vec<String>,
}

impl Report {
    pub fn push(&mut self, at: &Pos, keyword: &str, kind: Kind, reason: impl Into<String>) {
        self.findings.push(Finding {
            at: at.clone(),
            keyword: keyword.to_string(),
            kind,
            reason: reason.into(),
        });
    }

    pub fn dropped(&mut self, at: &Pos, keyword: &str, reason: impl Into<String>) {
        self.push(at, keyword, Kind::Dropped, reason);
    }

    pub fn approximated(&mut self, at: &Pos, keyword: &str, reason: impl Into<String>) {
        self.push(at, keyword, Kind::Approximated, reason);
    }

    pub fn ignored(&mut self, at: &Pos, keyword: &str, reason: impl Into<String>) {
        self.push(at, keyword, Kind::Ignored, reason);
    }

    pub fn translated(&mut self, at: &Pos, what: impl fmt::Display) {
        self.translated.push(format!("{at}: {what}"));
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The findings that change behaviour.
    pub fn lossy(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.kind.is_lossy())
    }
}
