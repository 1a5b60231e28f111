//! Where a piece of keepalived configuration came from (file, line, column), and the errors
//! that stop an import: broken syntax, an include that cannot be read, an unknown top-level
//! block. Every error names its position; none is ever a panic.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A position in a keepalived file: 1-based line and column; column 0 means the whole line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub file: Arc<Path>,
    pub line: u32,
    pub column: u32,
}

impl Pos {
    /// The same line, another column.
    pub fn at_column(&self, column: u32) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            column,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.line > 0 && self.column > 0 {
            write!(f, ":{}", self.column)?;
        }
        Ok(())
    }
}

/// Why the configuration could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("include `{pattern}`: {reason}")]
    BadInclude { pattern: String, reason: String },
    #[error("include `{0}` nests more than 32 files deep (does a file include itself?)")]
    IncludeLoop(String),
    #[error("`}}` closes no block")]
    UnbalancedClose,
    #[error("block opened here is not closed ({0} unclosed at the end of the configuration)")]
    UnclosedBlock(usize),
    #[error("blocks nest more than 64 deep")]
    TooDeep,
    #[error("`{{` follows no keyword")]
    OpenWithoutKeyword,
    #[error("quoted string is not closed on this line")]
    UnterminatedQuote,
    #[error("multi-line definition of ${0} is not finished at the end of the file")]
    UnterminatedDefinition(String),
    #[error("substitution of ${0} does not end (a parameter defined through itself?)")]
    EndlessSubstitution(String),
    #[error("conditional line `@{0}` but no --router-id given (keepalived would use its -i option or the host name; ids used in this configuration: {1})")]
    NoConfigId(String, String),
    #[error("`{0}` is not supported by the importer: expand it by hand")]
    Unsupported(String),
    #[error("unknown top-level keyword `{0}`")]
    UnknownTopLevel(String),
    #[error("`{0}` needs {1}")]
    MissingArgument(String, &'static str),
    /// A line another importer cannot read (`lbctl import ipvsadm`).
    #[error("{0}")]
    Invalid(String),
}

/// An error with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {kind}")]
pub struct Error {
    pub at: Pos,
    pub kind: ErrorKind,
}

impl Error {
    pub fn new(at: Pos, kind: ErrorKind) -> Error {
        Error { at, kind }
    }
}
