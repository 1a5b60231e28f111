//! Runtime specifications of watches and checks, serde-deserializable with Mon-like defaults.
//! The configuration loader maps its YAML types onto these. Durations are written in
//! [`crate::duration`]'s grammar (`"10s"`, `"1.5s"`) or as a number of seconds.

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
    #[serde(default = "d_interval", with = "crate::duration::serde")]
    pub interval: Duration,
    #[serde(default, with = "crate::duration::serde")]
    pub randskew: Duration,
    #[serde(default = "d_timeout", with = "crate::duration::serde")]
    pub timeout: Duration,
    /// The interval while the check fails; defaults to the interval.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub failed_interval: Option<Duration>,
    /// The interval while a failure of a passing node is confirmed (up to `fall`); defaults
    /// to the interval.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub retry_interval: Option<Duration>,
    /// The local address the checks' sockets bind (keepalived's `bindto`).
    #[serde(default)]
    pub source: Option<std::net::IpAddr>,
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
    #[serde(default = "d_alert_timeout", with = "crate::duration::serde")]
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
            retry_interval: None,
            source: None,
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
            retry_interval: ms(self.retry_interval.unwrap_or(self.interval)),
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
    Smtp(SmtpCheck),
    Http(HttpCheck),
    Https(HttpCheck),
    Dns(DnsCheck),
    Udp(UdpCheck),
    Agent(AgentCheck),
    Misc(MiscCheck),
    External(ExternalCheck),
}

/// keepalived's MISC_CHECK: `path args...` run per real server (`{address}`, `{port}` in the
/// arguments replaced); exit 0 passes; with `dynamic`, 2-255 pass with the weight exit − 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiscCheck {
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    pub port: u16,
    #[serde(default)]
    pub dynamic: bool,
    /// Run as this user (and its primary group) instead of root.
    #[serde(default)]
    pub user: Option<String>,
}

/// ICMP echo (v4 or v6 by the node's address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PingCheck {
    /// Echo requests sent; one answer is enough.
    #[serde(default = "one_u16")]
    pub count: u16,
}

/// keepalived's SMTP_CHECK: the greeting (220), `HELO helo` answered 250, `QUIT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpCheck {
    pub port: u16,
    pub helo: String,
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
    /// A regular expression the body must not match (keepalived's `regex_no_match`).
    #[serde(default)]
    pub body_not: Option<String>,
    /// The body's MD5, lowercase hex, as keepalived's `genhash` prints it.
    #[serde(default)]
    pub digest: Option<String>,
    /// More URLs asked for after the first one, the same way; every one must pass.
    #[serde(default)]
    pub more_urls: Vec<HttpUrl>,
    /// A PEM client certificate (chain) and its key, for servers that ask for one (https).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

/// One more URL of an http(s) check: its path and what its answer must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpUrl {
    pub path: String,
    #[serde(default)]
    pub status: StatusRanges,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub body_not: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
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
            body_not: None,
            digest: None,
            more_urls: Vec::new(),
            client_cert: None,
            client_key: None,
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

/// One alert: the built-in log alert, the built-in mail alert, or a script in Mon's alert
/// convention.
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
    /// Mailed through an SMTP relay (director.yaml's `mail:`).
    Mail { mail: Box<super::mail::MailSpec> },
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
        #[serde(deny_unknown_fields)]
        struct Mail {
            mail: Box<super::mail::MailSpec>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Word(String),
            Full(Full),
            Mail(Mail),
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
            Repr::Mail(m) => AlertSpec::Mail { mail: m.mail },
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
                retry_interval: 5_000,
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
        let watch = |fields: &str| {
            serde_json::from_str::<WatchSpec>(&format!(
                r#"{{"service":"x","group":"g","monitor":{{"type":"ping"}},{fields}}}"#
            ))
        };
        let w = watch(r#""interval":"1.5s","timeout":0.5,"failed_interval":"2m""#).unwrap();
        assert_eq!(w.interval, Duration::from_millis(1500));
        assert_eq!(w.timeout, Duration::from_millis(500));
        assert_eq!(w.failed_interval, Some(Duration::from_secs(120)));
        let text = serde_json::to_value(&w).unwrap();
        assert_eq!(
            (&text["interval"], &text["failed_interval"]),
            (&"1s500ms".into(), &"2m".into())
        );
        for bad in [
            r#""""#, r#""s""#, r#""5x""#, r#""-1s""#, r#""1.5""#, "-1", r#""ten""#,
        ] {
            let e = watch(&format!(r#""interval":{bad}"#)).expect_err(bad);
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
        let e = serde_json::from_str::<CheckSpec>(r#"{"type":"tcp","port":80,"bogus":1}"#)
            .expect_err("unknown field");
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
