//! What one node's state machine needs to know: its name, how ping and each service's checks
//! count (rise/fall), the real server weight and how many alerts to send per failure.

use serde::{Deserialize, Serialize};

/// One service (a watch of the node's hostgroup) the node serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The watch/service name, e.g. `http`.
    pub name: String,
    /// Consecutive passes before a down (or unknown) service counts as up.
    #[serde(default = "one")]
    pub rise: u32,
    /// Consecutive failures before an up (or unknown) service counts as down.
    #[serde(default = "one")]
    pub fall: u32,
    /// The real server's configured weight (an agent check scales it by the node's load).
    #[serde(default = "one")]
    pub weight: u32,
    /// Alerts sent per failure period (Mon's `numalerts`); 0 means one per failed check.
    #[serde(default = "one")]
    pub numalerts: u32,
    /// The watch confirms a failure at its `retry_interval` (the machine asks for it).
    #[serde(default)]
    pub retry: bool,
}

impl ServiceConfig {
    /// A service with rise = fall = 1, weight 1 and one alert per failure.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceConfig {
            name: name.into(),
            rise: 1,
            fall: 1,
            weight: 1,
            numalerts: 1,
            retry: false,
        }
    }
}

/// One node of a hostgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node name (host name or address as written in the hostgroup).
    pub name: String,
    /// Whether a ping watch checks the node. Without one the node counts as always reachable.
    #[serde(default = "yes")]
    pub ping: bool,
    /// Consecutive answered pings before an offline node comes online.
    #[serde(default = "one")]
    pub ping_rise: u32,
    /// Consecutive silent pings before a node counts as offline.
    #[serde(default = "one")]
    pub ping_fall: u32,
    /// Alerts sent per ping failure period.
    #[serde(default = "one")]
    pub ping_numalerts: u32,
    /// The services the node belongs to.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
}

impl NodeConfig {
    /// A pinged node with rise = fall = 1 and the given services.
    pub fn new(name: impl Into<String>, services: Vec<ServiceConfig>) -> Self {
        NodeConfig {
            name: name.into(),
            ping: true,
            ping_rise: 1,
            ping_fall: 1,
            ping_numalerts: 1,
            services,
        }
    }
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}
