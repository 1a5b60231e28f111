//! The built-in mail alert, keepalived's `smtp_alert`: a node's (real server's) failure and
//! recovery and a service's quorum changes mailed through an SMTP relay. The message
//! (`message.rs`) and the SMTP dialogue (`dialogue.rs`) are pure; `send.rs` is the tokio edge
//! that speaks the dialogue over one TCP connection under a connect and a whole-dialogue time
//! limit. A mail that fails is logged and counted, never retried.

pub mod dialogue;
pub mod message;
pub mod send;

#[cfg(test)]
mod dialogue_tests;
#[cfg(test)]
mod message_tests;
#[cfg(test)]
mod send_tests;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub use send::{send, MailError};

/// Where and how to mail one watch's (or one service's quorum) alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSpec {
    /// The SMTP relay's host name or address, and port.
    pub server: String,
    pub port: u16,
    /// Default `lbd@` the host name.
    pub from: Option<String>,
    pub to: Vec<String>,
    /// Sent in HELO; default the host name.
    pub helo: Option<String>,
    /// Limit on establishing the TCP connection.
    #[serde(with = "crate::duration::serde")]
    pub connect_timeout: Duration,
    /// Limit on the whole dialogue, connection included.
    #[serde(with = "crate::duration::serde")]
    pub timeout: Duration,
    /// The director's name, the subject's `[NAME]` (keepalived's router_id).
    pub director: String,
    /// The port of each node's real server, for the subject's `[ADDR]:PORT`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
}

impl MailSpec {
    /// The sender and the HELO name, the host name (`host`) filling in what is not set.
    pub fn from_and_helo(&self, host: &str) -> (String, String) {
        (
            self.from.clone().unwrap_or_else(|| format!("lbd@{host}")),
            self.helo.clone().unwrap_or_else(|| host.to_string()),
        )
    }
}
