//! The result of one check of one node: a pass (with an agent's load or a warning such as a
//! certificate about to expire) or a typed failure that says why.

use serde::{Deserialize, Serialize};

/// A passing check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    /// The load 0-100 an agent reported.
    pub load: Option<u8>,
    /// Something to look at although the check passed (certificate expiry).
    pub warning: Option<String>,
    /// The weight a `misc` check with `dynamic` reported (keepalived's exit code − 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum CheckError {
    #[error("connection refused")]
    Refused,
    #[error("timed out after {0} ms")]
    Timeout(u64),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("i/o error: {0}")]
    Io(String),
    #[error("no echo reply")]
    NoEchoReply,
    #[error("unexpected status {got} (want {want})")]
    Status { got: u16, want: String },
    #[error("body does not match {0:?}")]
    Body(String),
    #[error("body matches {0:?}")]
    BodyRefused(String),
    #[error("body digest {got} (want {want})")]
    Digest { got: String, want: String },
    /// One URL of several failed.
    #[error("{path}: {error}")]
    Url {
        path: String,
        error: Box<CheckError>,
    },
    #[error("reply does not contain {0:?}")]
    Expect(String),
    #[error("smtp: {0}")]
    Smtp(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("http: {0}")]
    Http(String),
    #[error("dns rcode {got} (want {want})")]
    DnsRcode { got: String, want: String },
    #[error("dns answer lacks {missing} (got [{got}])")]
    DnsAnswer { missing: String, got: String },
    #[error("dns: {0}")]
    Dns(String),
    #[error("agent reply {0:?} is not a load 0-100")]
    Agent(String),
    #[error("monitor failed: {0}")]
    Monitor(String),
    #[error("invalid check: {0}")]
    Spec(String),
}

/// What one check of one node came to.
pub type Outcome = Result<Pass, CheckError>;

/// Maps a socket error onto the failure reasons operators know.
pub fn io_error(e: std::io::Error) -> CheckError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => CheckError::Refused,
        K::HostUnreachable | K::NetworkUnreachable => CheckError::Unreachable(e.to_string()),
        _ => CheckError::Io(e.to_string()),
    }
}
