//! Configuration: YAML files (`director.yaml`, `hostgroups/*.yaml`, `services/*.yaml`) turned
//! into validated domain types, every error with file, line and column.
//!
//! [`load`] reads a whole directory ([`load_files`] the same files held in memory) and returns either a [`Config`] that passed every rule
//! (with the warnings found) or [`ConfigErrors`] listing every error at once; nothing
//! half-parsed is ever returned. The format is documented in `config/` (the lab's own
//! configuration, commented) and README.md.

mod alert;
mod diagnostic;
mod director;
mod fields;
mod hostgroup;
mod load;
mod mail;
#[cfg(test)]
mod mail_tests;
mod protocol;
mod rules;
mod scalars;
mod service;
mod service_parts;
mod summary;
mod vrrp_sync_group;
mod vrrp_track;
mod vrrp_vmac;
mod watch;
mod watch_http;
mod yaml;

pub use crate::duration::{format_duration, parse_duration, DurationError};
pub use diagnostic::{ConfigErrors, Diagnostic, Severity};
pub use director::{
    Control, ControlOthers, Director, GarpConfig, Notify, SyncDaemon, SyncDestination, Track,
    TrackFile, TrackRef, TrackScript, UseVmac, Vip, VrrpInstance, DEFAULT_ALERT_DIR,
    DEFAULT_CONTROL_SOCKET, DEFAULT_LISTEN, DEFAULT_MONITOR_DIR, DEFAULT_STATE_DIR,
    DEFAULT_SYNC_GROUP, DEFAULT_SYNC_PORT,
};
pub use hostgroup::{
    Hostgroup, Node, PingWatch, DEFAULT_PING_FALL, DEFAULT_PING_INTERVAL, DEFAULT_PING_RISE,
    DEFAULT_PING_TIMEOUT,
};
pub use load::{decode_director, load, load_files};
pub use mail::{Mail, MailOn, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAIL_TIMEOUT, DEFAULT_SMTP_PORT};
pub use service::{
    Family, Forwarding, OnFailure, Persistence, Protocol, QuorumBy, Scheduler, SchedulerFlags,
    Service, SorryMode, SorryServer, Tunnel, TunnelKind, Virtual, DEFAULT_PERSISTENCE_TIMEOUT,
};
pub use summary::Summary;
pub use vrrp_sync_group::SyncGroup;
pub use watch::{
    AgentCheck, AgentVia, Alert, DnsCheck, DnsRcode, DnsType, ExternalMonitor, HttpCheck,
    MiscMonitor, Monitor, SmtpCheck, StatusRange, TcpCheck, TlsCheck, UdpCheck, Watch,
    DEFAULT_ALERT_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_TIMEOUT_MAX,
};

use serde::Serialize;
use std::collections::BTreeMap;

/// The default configuration directory.
pub const DEFAULT_DIR: &str = "/etc/lbd";

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Config {
    pub director: Director,
    pub hostgroups: BTreeMap<String, Hostgroup>,
    /// In file-name order.
    pub services: Vec<Service>,
}

impl Config {
    /// The hostgroup a service is served by (always present in a loaded configuration).
    pub fn hostgroup_of(&self, service: &Service) -> Option<&Hostgroup> {
        self.hostgroups.get(&service.hostgroup)
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The nodes some service uses, each with the first hostgroup (in name order) that holds
    /// it and pings: node name → (group name, its ping watch, the node). A node in several
    /// services or groups is pinged once; nodes only `ping: false` groups hold are absent.
    pub fn pinged_nodes(&self) -> BTreeMap<&str, (&str, &PingWatch, &Node)> {
        let served: std::collections::BTreeSet<&str> = self
            .services
            .iter()
            .filter_map(|s| self.hostgroup_of(s))
            .flat_map(|h| h.nodes.iter().map(|n| n.name.as_str()))
            .collect();
        let mut out = BTreeMap::new();
        for (group, h) in &self.hostgroups {
            let Some(p) = &h.ping else { continue };
            for n in &h.nodes {
                if served.contains(n.name.as_str()) {
                    out.entry(n.name.as_str()).or_insert((group.as_str(), p, n));
                }
            }
        }
        out
    }
}

/// A configuration that loaded, and the warnings it raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}
