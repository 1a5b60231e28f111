//! When an instance announces its VIPs (gratuitous ARP, unsolicited NA): the burst on becoming
//! master, the delayed second burst, the periodic refresh and the bursts a master sends on an
//! advert of lower priority, as keepalived's `garp_master_*`, `garp_lower_prio_*` and
//! `garp_interval` settings; the frames themselves are in `announce.rs`.

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
    /// How many are sent, as master, on an advert of lower priority (a healed split brain);
    /// 0 = none. None: `count` (keepalived's `garp_lower_prio_repeat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_prio_count: Option<u32>,
    /// A second such burst this long after; 0 = none. None: `delay`
    /// (`garp_lower_prio_delay`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::duration::serde_opt"
    )]
    pub lower_prio_delay: Option<Duration>,
}

impl Default for GarpConfig {
    fn default() -> GarpConfig {
        GarpConfig {
            count: 5,
            interval: Duration::from_millis(200),
            delay: Duration::from_secs(5),
            refresh: Duration::from_secs(60),
            refresh_count: 1,
            lower_prio_count: None,
            lower_prio_delay: None,
        }
    }
}

/// The most messages one burst may send.
pub const GARP_MAX_COUNT: u32 = 100;
/// The longest spacing within a burst.
pub const GARP_MAX_INTERVAL: Duration = Duration::from_secs(10);

impl GarpConfig {
    /// The burst on a lower-priority advert (0 = none).
    pub fn lower_prio_count(&self) -> u32 {
        self.lower_prio_count.unwrap_or(self.count)
    }

    /// The delay of the second lower-priority burst (None = none).
    pub fn lower_prio_delay(&self) -> Option<Duration> {
        Some(self.lower_prio_delay.unwrap_or(self.delay)).filter(|d| !d.is_zero())
    }

    /// Counts within 1-[`GARP_MAX_COUNT`], the interval at most [`GARP_MAX_INTERVAL`].
    pub fn check(&self) -> Result<(), ConfigError> {
        for (what, n) in [("count", self.count), ("refresh_count", self.refresh_count)] {
            if !(1..=GARP_MAX_COUNT).contains(&n) {
                return Err(ConfigError::GarpCount(what, n));
            }
        }
        if let Some(n) = self.lower_prio_count.filter(|&n| n > GARP_MAX_COUNT) {
            return Err(ConfigError::GarpCount("lower_prio_count", n));
        }
        if self.interval > GARP_MAX_INTERVAL {
            return Err(ConfigError::GarpInterval(self.interval));
        }
        Ok(())
    }
}
