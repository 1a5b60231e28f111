//! Diagnostics: an error or warning pointing at a file, line and column, and the collector the
//! decoders write them into while they keep going (every error is reported at once).

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Whether a diagnostic stops the configuration from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The configuration is rejected.
    Error,
    /// Doubtful but legal: the configuration loads.
    Warning,
}

/// One finding, displayed as `FILE:LINE:COLUMN: message (hint)`.
///
/// `line` and `column` count from 1; both are 0 when the finding concerns a whole file (for
/// example one that cannot be read), and the display is then `FILE: message (hint)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if self.line > 0 {
            write!(f, "{}:{}:", self.line, self.column)?;
        }
        if self.severity == Severity::Warning {
            write!(f, " warning:")?;
        }
        write!(f, " {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Why a configuration was rejected: every error found, plus the warnings seen on the way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A position in a YAML file, 1-based; `Pos::FILE` (0:0) means the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const FILE: Pos = Pos { line: 0, column: 0 };
}

/// Every diagnostic of one load, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    pub fn push(
        &mut self,
        severity: Severity,
        file: &Path,
        pos: Pos,
        message: String,
        hint: Option<String>,
    ) {
        let d = Diagnostic {
            severity,
            file: file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            message,
            hint,
        };
        match severity {
            Severity::Error => self.errors.push(d),
            Severity::Warning => self.warnings.push(d),
        }
    }
}

/// The decoders' view of the report: diagnostics for one file.
pub(crate) struct Sink<'r> {
    pub file: &'r Path,
    pub report: &'r mut Report,
}

impl Sink<'_> {
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.report
            .push(Severity::Error, self.file, pos, message.into(), None);
    }

    pub fn error_hint(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<String>) {
        self.report.push(
            Severity::Error,
            self.file,
            pos,
            message.into(),
            Some(hint.into()),
        );
    }

    pub fn error_opt(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.report
            .push(Severity::Error, self.file, pos, message.into(), hint);
    }

    pub fn warn(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.report
            .push(Severity::Warning, self.file, pos, message.into(), hint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(severity: Severity, line: u32, hint: Option<&str>) -> Diagnostic {
        Diagnostic {
            severity,
            file: PathBuf::from("services/http.yaml"),
            line,
            column: 3,
            message: "unknown scheduler `rrr`".into(),
            hint: hint.map(str::to_string),
        }
    }

    #[test]
    fn display_has_file_line_column_message_and_hint() {
        let d = diag(Severity::Error, 4, Some("did you mean `rr`?"));
        assert_eq!(
            d.to_string(),
            "services/http.yaml:4:3: unknown scheduler `rrr` (did you mean `rr`?)"
        );
    }

    #[test]
    fn warnings_and_whole_file_findings_display_without_position() {
        let d = diag(Severity::Warning, 0, None);
        assert_eq!(
            d.to_string(),
            "services/http.yaml: warning: unknown scheduler `rrr`"
        );
    }
}
