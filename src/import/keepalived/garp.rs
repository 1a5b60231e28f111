//! keepalived's gratuitous ARP / NA timing (`garp_master_delay`, `garp_master_repeat`,
//! `garp_master_refresh`, `garp_master_refresh_repeat`, `garp_lower_prio_delay`,
//! `garp_lower_prio_repeat`, `garp_interval`, `gna_interval`, in global_defs with a `vrrp_`
//! prefix as instance defaults) → an instance's `garp:` block; `lower_prio_no_advert` (and
//! `vrrp_lower_prio_no_advert`) → the instance's `lower_prio_no_advert`;
//! `higher_prio_send_advert` is noted as ignored: lbd always sends that advert.
//! keepalived's defaults apply where nothing is set, so the block is always written: lbd's own
//! defaults differ (200 ms spacing, a refresh every 60 s).

use super::findings::Report;
use super::tree::Node;
use super::values::{int_in, timer, to_millis};
use crate::config::format_duration;
use crate::import::yaml_out::Y;
use crate::vrrp::config::{GARP_MAX_COUNT, GARP_MAX_INTERVAL};
use std::time::Duration;

/// The settings one level (global_defs or an instance) gives; `None` where it is silent.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    repeat: Option<u32>,
    delay: Option<Duration>,
    refresh: Option<Duration>,
    refresh_repeat: Option<u32>,
    garp_interval: Option<Duration>,
    gna_interval: Option<Duration>,
    lower_prio_repeat: Option<u32>,
    lower_prio_delay: Option<Duration>,
    lower_prio_no_advert: Option<bool>,
}

impl Timing {
    /// Takes `n` if it is one of these keywords (without the `vrrp_` prefix); reports a value
    /// lbd cannot carry. `false` when the keyword is none of them.
    pub fn read(&mut self, n: &Node, report: &mut Report) -> bool {
        let k = n.keyword.as_str();
        let bare = k.strip_prefix("vrrp_").unwrap_or(k);
        let arg = n.arg(0).unwrap_or("");
        let count = || int_in(arg, 1, i64::from(GARP_MAX_COUNT)).map(|v| v as u32);
        let spacing = || {
            timer(arg)
                .map(to_millis)
                .filter(|d| *d <= GARP_MAX_INTERVAL)
        };
        let ok = match bare {
            "higher_prio_send_advert" => {
                report.ignored(
                    &n.at,
                    k,
                    "lbd always sends one advert before it yields to a higher-priority master",
                );
                Some(())
            }
            "lower_prio_no_advert" => {
                super::values::boolean(n.arg(0)).map(|v| self.lower_prio_no_advert = Some(v))
            }
            "garp_lower_prio_repeat" => int_in(arg, 0, i64::from(GARP_MAX_COUNT))
                .map(|v| self.lower_prio_repeat = Some(v as u32)),
            "garp_lower_prio_delay" => {
                timer(arg).map(|d| self.lower_prio_delay = Some(to_millis(d)))
            }
            "garp_master_repeat" => count().map(|v| self.repeat = Some(v)),
            "garp_master_refresh_repeat" => count().map(|v| self.refresh_repeat = Some(v)),
            "garp_master_delay" => timer(arg).map(|d| self.delay = Some(to_millis(d))),
            "garp_master_refresh" => timer(arg).map(|d| self.refresh = Some(to_millis(d))),
            "garp_interval" => spacing().map(|d| self.garp_interval = Some(d)),
            "gna_interval" => spacing().map(|d| self.gna_interval = Some(d)),
            _ => return false,
        };
        if ok.is_none() {
            let why = if bare == "lower_prio_no_advert" {
                "expected a boolean".to_string()
            } else if bare.ends_with("repeat") {
                format!("lbd sends 1-{GARP_MAX_COUNT} messages per burst")
            } else if bare.ends_with("interval") {
                format!(
                    "expected seconds, at most {} between the messages of a burst",
                    format_duration(GARP_MAX_INTERVAL)
                )
            } else {
                "not a time in seconds".to_string()
            };
            report.dropped(&n.at, k, why);
        }
        true
    }

    /// This level over `defaults` (the global one).
    fn over(&self, defaults: &Timing) -> Timing {
        Timing {
            repeat: self.repeat.or(defaults.repeat),
            delay: self.delay.or(defaults.delay),
            refresh: self.refresh.or(defaults.refresh),
            refresh_repeat: self.refresh_repeat.or(defaults.refresh_repeat),
            garp_interval: self.garp_interval.or(defaults.garp_interval),
            gna_interval: self.gna_interval.or(defaults.gna_interval),
            lower_prio_repeat: self.lower_prio_repeat.or(defaults.lower_prio_repeat),
            lower_prio_delay: self.lower_prio_delay.or(defaults.lower_prio_delay),
            lower_prio_no_advert: self.lower_prio_no_advert.or(defaults.lower_prio_no_advert),
        }
    }

    /// keepalived's `lower_prio_no_advert` for an instance: its own, else the global one.
    pub fn lower_prio_no_advert(instance: &Timing, global: &Timing) -> bool {
        instance.over(global).lower_prio_no_advert.unwrap_or(false)
    }
}

/// The `garp:` block of an instance advertising in IPv6 (`v6`) or IPv4, with keepalived's
/// defaults (5 messages, no spacing, a second burst after 5 s, no refresh) where neither
/// level sets a value. lbd spaces both families' messages alike: when the instance also
/// carries VIPs of the other family and the two intervals differ, that is reported.
pub fn yaml(
    instance: &Timing,
    global: &Timing,
    v6: bool,
    both_families: bool,
    at: &super::pos::Pos,
    report: &mut Report,
) -> Y {
    let t = instance.over(global);
    let (garp, gna) = (
        t.garp_interval.unwrap_or_default(),
        t.gna_interval.unwrap_or_default(),
    );
    let interval = if v6 { gna } else { garp };
    if both_families && garp != gna {
        report.approximated(
            at,
            if v6 { "garp_interval" } else { "gna_interval" },
            format!(
                "lbd spaces an instance's gratuitous ARPs and NAs alike: {} (its advert family's) for both",
                format_duration(interval)
            ),
        );
    }
    let mut y = Y::map();
    y.set("count", Y::Int(i64::from(t.repeat.unwrap_or(5))))
        .set("interval", Y::str(format_duration(interval)))
        .set(
            "delay",
            Y::str(format_duration(t.delay.unwrap_or(Duration::from_secs(5)))),
        )
        .set(
            "refresh",
            Y::str(format_duration(t.refresh.unwrap_or_default())),
        )
        .set(
            "refresh_count",
            Y::Int(i64::from(t.refresh_repeat.unwrap_or(1))),
        );
    // keepalived's lower-priority bursts default to the master ones, as lbd's do.
    if let Some(n) = t.lower_prio_repeat {
        y.set("lower_prio_count", Y::Int(i64::from(n)));
    }
    if let Some(d) = t.lower_prio_delay {
        y.set("lower_prio_delay", Y::str(format_duration(d)));
    }
    y
}
