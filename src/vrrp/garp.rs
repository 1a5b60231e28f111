//! When an instance announces its VIPs (gratuitous ARP, unsolicited NA): the burst on becoming
//! master, the delayed second burst and the periodic refresh, as keepalived's
//! `garp_master_*` / `garp_interval` settings; the frames themselves are in `announce.rs`.

use super::config::ConfigError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Gratuitous ARP / unsolicited NA settings (keepalived's `garp_master_*`, `garp_interval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarpConfig {
    /// How many are sent on becoming master (at least 1; `garp_master_repeat`).
    pub count: u32,
    /// Spacing of the messages of a burst (`garp_interval` / `gna_interval`).
    #[serde(with = "crate::duration::serde")]
    pub interval: Duration,
    /// A second burst of `count` this long after becoming master; 0 = none
    /// (`garp_master_delay`).
    #[serde(with = "crate::duration::serde")]
    pub delay: Duration,
    /// Periodic refresh while master; 0 = off (`garp_master_refresh`).
    #[serde(with = "crate::duration::serde")]
    pub refresh: Duration,
    /// How many each refresh sends (at least 1; `garp_master_refresh_repeat`).
    pub refresh_count: u32,
}

impl Default for GarpConfig {
    fn default() -> GarpConfig {
        GarpConfig {
            count: 5,
            interval: Duration::from_millis(200),
            delay: Duration::from_secs(5),
            refresh: Duration::from_secs(60),
            refresh_count: 1,
        }
    }
}

/// The most messages one burst may send.
pub const GARP_MAX_COUNT: u32 = 100;
/// The longest spacing within a burst.
pub const GARP_MAX_INTERVAL: Duration = Duration::from_secs(10);

impl GarpConfig {
    /// Counts within 1-[`GARP_MAX_COUNT`], the interval at most [`GARP_MAX_INTERVAL`].
    pub fn check(&self) -> Result<(), ConfigError> {
        for (what, n) in [("count", self.count), ("refresh_count", self.refresh_count)] {
            if !(1..=GARP_MAX_COUNT).contains(&n) {
                return Err(ConfigError::GarpCount(what, n));
            }
        }
        if self.interval > GARP_MAX_INTERVAL {
            return Err(ConfigError::GarpInterval(self.interval));
        }
        Ok(())
    }
}
