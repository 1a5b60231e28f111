//! Runtime specifications of watches and checks, serde-deserializable with Mon-like defaults.
//! The configuration loader maps its YAML types onto these.

use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;
use std::time::Duration;

use super::schedule::Timing;
use super::status::StatusRanges;

/// Which watch a check belongs to: a service's own (named after the service), or the ping
/// watch of a hostgroup (node liveness, named after the group).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchId {
    Service(String),
    Ping(String),
}

impl std::fmt::Display for WatchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchId::Service(s) => f.write_str(s),
            WatchId::Ping(g) => write!(f, "ping of {g}"),
        }
    }
}

/// One watch: a service monitored on every node of a hostgroup (Mon's `watch`/`service`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSpec {
    /// The service name (`http`, `ping`, ...).
    pub service: String,
    /// The hostgroup name.
    pub group: String,
    pub monitor: CheckSpec,
    #[serde(default = "d_interval", with = "duration")]
    pub interval: Duration,
    #[serde(default, with = "duration")]
    pub randskew: Duration,
    #[serde(default = "d_timeout", with = "duration")]
    pub timeout: Duration,
    /// The interval while the check fails; defaults to the interval.
    #[serde(default, with = "opt_duration")]
    pub failed_interval: Option<Duration>,
    #[serde(default = "one")]
    pub rise: u32,
    #[serde(default = "one")]
    pub fall: u32,
    #[serde(default)]
    pub alert: Vec<AlertSpec>,
    #[serde(default)]
    pub upalert: Vec<AlertSpec>,
    #[serde(default = "one")]
    pub numalerts: u32,
    #[serde(default = "d_alert_timeout", with = "duration")]
    pub alert_timeout: Duration,
}

impl WatchSpec {
    /// A watch with Mon-like defaults: interval 10 s, timeout 5 s, no skew, rise = fall = 1.
    pub fn new(service: impl Into<String>, group: impl Into<String>, monitor: CheckSpec) -> Self {
        WatchSpec {
            service: service.into(),
            group: group.into(),
            monitor,
            interval: d_interval(),
            randskew: Duration::ZERO,
            timeout: d_timeout(),
            failed_interval: None,
            rise: 1,
            fall: 1,
            alert: Vec::new(),
            upalert: Vec::new(),
            numalerts: 1,
            alert_timeout: d_alert_timeout(),
        }
    }

    /// The scheduler's timing in milliseconds.
    pub fn timing(&self) -> Timing {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timing {
            interval: ms(self.interval),
            failed_interval: ms(self.failed_interval.unwrap_or(self.interval)),
            randskew: ms(self.randskew),
            timeout: ms(self.timeout),
        }
    }
}

/// What checks a service: a built-in check or an external Mon monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CheckSpec {
    Ping(PingCheck),
    Tcp(TcpCheck),
    Http(HttpCheck),
    Https(HttpCheck),
    Dns(DnsCheck),
    Udp(UdpCheck),
    Agent(AgentCheck),
    External(ExternalCheck),
}

/// ICMP echo (v4 or v6 by the node's address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PingCheck {
    /// Echo requests sent; one answer is enough.
    #[serde(default = "one_u16")]
    pub count: u16,
}

/// TCP connect, optionally sending a string and expecting a substring in the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub port: u16,
    #[serde(default)]
    pub send: Option<String>,
    #[serde(default)]
    pub expect: Option<String>,
}

/// HTTP or HTTPS request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// Defaults to 80 (http) or 443 (https).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "d_method")]
    pub method: String,
    #[serde(default = "d_path")]
    pub path: String,
    /// The Host header; defaults to the node's address.
    #[serde(default)]
    pub host: Option<String>,
    /// Accepted statuses: `200`, `"200-399"`, `"200,301,302"` or a list of those.
    #[serde(default)]
    pub status: StatusRanges,
    /// A regular expression the body must match.
    #[serde(default)]
    pub body: Option<String>,
    /// Verify the server certificate (https).
    #[serde(default = "yes")]
    pub verify: bool,
    /// The TLS server name; defaults to `host`, then the node's address.
    #[serde(default)]
    pub sni: Option<String>,
    /// PEM CA certificates to trust instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Warn when the certificate expires within this many days.
    #[serde(default = "d_expiry_days")]
    pub cert_expiry_warn_days: u32,
}

impl Default for HttpCheck {
    fn default() -> Self {
        HttpCheck {
            port: None,
            method: d_method(),
            path: d_path(),
            host: None,
            status: StatusRanges::default(),
            body: None,
            verify: true,
            sni: None,
            ca_file: None,
            cert_expiry_warn_days: d_expiry_days(),
        }
    }
}

/// A DNS query sent over UDP to the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsCheck {
    #[serde(default = "d_dns_port")]
    pub port: u16,
    pub name: String,
    #[serde(default = "d_qtype")]
    pub qtype: String,
    /// Answers that must all be present (record data as text, e.g. `192.0.2.80`).
    #[serde(default)]
    pub expect: Vec<String>,
    /// The expected response code.
    #[serde(default = "d_rcode")]
    pub rcode: String,
}

/// A UDP datagram and the reply expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpCheck {
    pub port: u16,
    #[serde(default)]
    pub send: String,
    /// A substring the reply must contain; any reply passes without it.
    #[serde(default)]
    pub expect: Option<String>,
}

/// How an agent reports its load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AgentProtocol {
    /// Connect; the node writes its load and closes.
    #[default]
    Tcp,
    /// GET `path`; the body is the load.
    Http,
}

/// The node reports its load 0-100 (mod_cluster busyness style); lbd turns it into the weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentCheck {
    pub port: u16,
    #[serde(default)]
    pub protocol: AgentProtocol,
    #[serde(default = "d_path")]
    pub path: String,
}

/// An external monitor in Mon's mon.d convention: `DIR/NAME ARGS... HOST...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalCheck {
    /// The monitor's file name (`http.monitor`) or an absolute path.
    pub monitor: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Where monitors live (Mon's `mondir`).
    #[serde(default = "d_monitor_dir")]
    pub dir: PathBuf,
    /// Run as this user (and its primary group) instead of root.
    #[serde(default)]
    pub user: Option<String>,
}

/// One alert: the built-in log alert, or a script in Mon's alert convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AlertSpec {
    /// Written to the log (and the event history) only: `log`.
    Log,
    Script {
        path: PathBuf,
        args: Vec<String>,
        user: Option<String>,
    },
}

impl<'de> Deserialize<'de> for AlertSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            script: PathBuf,
            #[serde(default)]
            args: Vec<String>,
            #[serde(default)]
            user: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Word(String),
            Full(Full),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Word(w) if w == "log" => AlertSpec::Log,
            Repr::Word(w) => AlertSpec::Script {
                path: w.into(),
                args: Vec::new(),
                user: None,
            },
            Repr::Full(f) => AlertSpec::Script {
                path: f.script,
                args: f.args,
                user: f.user,
            },
        })
    }
}

fn one() -> u32 {
    1
}
fn one_u16() -> u16 {
    1
}
fn yes() -> bool {
    true
}
fn d_interval() -> Duration {
    Duration::from_secs(10)
}
fn d_timeout() -> Duration {
    Duration::from_secs(5)
}
fn d_alert_timeout() -> Duration {
    Duration::from_secs(30)
}
fn d_method() -> String {
    "GET".into()
}
fn d_path() -> String {
    "/".into()
}
fn d_expiry_days() -> u32 {
    14
}
fn d_dns_port() -> u16 {
    53
}
fn d_qtype() -> String {
    "A".into()
}
fn d_rcode() -> String {
    "NOERROR".into()
}
fn d_monitor_dir() -> PathBuf {
    "/usr/lib/lbd/monitors".into()
}

/// Parses `"10s"`, `"500ms"`, `"2m"`, `"1h"` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let secs = n * scale;
    (secs.is_finite() && (0.0..1e12).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationRepr {
    Secs(f64),
    Text(String),
}

fn to_duration<E: serde::de::Error>(r: DurationRepr) -> Result<Duration, E> {
    match r {
        DurationRepr::Secs(s) if s.is_finite() && (0.0..1e12).contains(&s) => {
            Ok(Duration::from_secs_f64(s))
        }
        DurationRepr::Secs(s) => Err(E::custom(format!("invalid duration {s}"))),
        DurationRepr::Text(t) => parse_duration(&t)
            .ok_or_else(|| E::custom(format!("invalid duration {t:?} (use e.g. 10s, 500ms, 2m)"))),
    }
}

/// Serde for `Duration` as `"10s"` / `"500ms"` / seconds.
pub mod duration {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        to_duration(DurationRepr::deserialize(d)?)
    }
}

/// Serde for `Option<Duration>`.
pub mod opt_duration {
    use super::*;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format!("{}ms", d.as_millis())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<DurationRepr>::deserialize(d)? {
            Some(r) => to_duration(r).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_deserializes_with_defaults() {
        let w: WatchSpec = serde_json::from_str(
            r#"{"service":"http","group":"http_nodes",
                "monitor":{"type":"http","path":"/health","status":"200-299,301","body":"ok"},
                "interval":"5s","randskew":2,"failed_interval":"1s",
                "alert":["log",{"script":"/etc/lbd/alert.d/mail.alert","args":["-x"]}],
                "upalert":["/etc/lbd/alert.d/up.alert"]}"#,
        )
        .expect("valid watch");
        assert_eq!(w.interval, Duration::from_secs(5));
        assert_eq!(w.randskew, Duration::from_secs(2));
        assert_eq!(w.timeout, Duration::from_secs(5));
        assert_eq!(w.rise, 1);
        assert_eq!(
            w.timing(),
            Timing {
                interval: 5_000,
                failed_interval: 1_000,
                randskew: 2_000,
                timeout: 5_000
            }
        );
        let CheckSpec::Http(h) = &w.monitor else {
            panic!("not http: {:?}", w.monitor)
        };
        assert!(h.status.contains(301) && h.status.contains(250) && !h.status.contains(302));
        assert!(h.verify);
        assert_eq!(w.alert[0], AlertSpec::Log);
        assert_eq!(w.alert.len(), 2);
        assert!(matches!(&w.upalert[0], AlertSpec::Script { args, .. } if args.is_empty()));
    }

    #[test]
    fn durations_parse_and_reject() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        for bad in ["", "s", "5x", "-1s", "1e400", "NaN"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let e = serde_json::from_str::<WatchSpec>(
            r#"{"service":"x","group":"g","monitor":{"type":"ping"},"interval":"ten"}"#,
        )
        .expect_err("bad interval");
        assert!(e.to_string().contains("invalid duration"), "{e}");
        let e = serde_json::from_str::<CheckSpec>(r#"{"type":"tcp","port":80,"bogus":1}"#)
            .expect_err("unknown field");
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
