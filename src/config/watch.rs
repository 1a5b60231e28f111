//! The Mon-style `watch` of a service: which monitor checks each node, how often (interval,
//! randskew, failed_interval), how long a check may take, how many results flip a node
//! (rise/fall), and the alert scripts run on transitions.

use super::alert::decode_alert;
pub use super::alert::{Alert, DEFAULT_ALERT_TIMEOUT};
use super::diagnostic::Sink;
use super::fields::Fields;
use super::scalars::{
    abs_path, boolean, duration, int_in, list, nonempty, port, positive, script_name, string, user,
    word,
};
use super::watch_http::decode_http;
pub use super::watch_http::{HttpCheck, StatusRange, TlsCheck};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::time::Duration;

/// Default check interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Upper bound of the default timeout (the default is half the interval, at most this).
pub const DEFAULT_TIMEOUT_MAX: Duration = Duration::from_secs(5);

/// How a service's nodes are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Watch {
    pub monitor: Monitor,
    /// Time between checks of one node. Default 10s.
    pub interval: Duration,
    /// Random extra delay, 0 to randskew, added to each interval. Default 0s.
    pub randskew: Duration,
    /// A check running longer fails. Default half the shorter of `interval` and
    /// `failed_interval`, at most 5s; always less than both.
    pub timeout: Duration,
    /// Passing checks in a row that bring a node up. Default 1.
    pub rise: u32,
    /// Failing checks in a row that take a node down. Default 1.
    pub fall: u32,
    /// Interval while a node is failed (faster re-check). Default `interval`.
    pub failed_interval: Duration,
    /// keepalived's `delay_before_retry`: after a failed check of a passing node, each check
    /// that confirms it (up to `fall`) starts this long after the previous one ended. `None`:
    /// at `interval`. Needs `fall` > 1.
    #[serde(default)]
    pub retry_interval: Option<Duration>,
    /// The local address the checks' sockets bind (keepalived's `bindto`). Default: the
    /// kernel's choice.
    #[serde(default)]
    pub source: Option<std::net::IpAddr>,
    /// Run when a node fails this service.
    pub alert: Vec<Alert>,
    /// Run when a node passes again.
    pub upalert: Vec<Alert>,
    /// At most this many alerts per failure; `None`: no limit.
    pub numalerts: Option<u32>,
    /// An alert script running longer is killed. Default 30s.
    pub alert_timeout: Duration,
}

/// The check itself. Network checks go to the real server's port unless given `port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Monitor {
    /// ICMP echo (the node-level liveness test).
    Ping,
    /// TCP connect, optionally send a string and expect a reply containing another.
    Tcp(TcpCheck),
    /// keepalived's SMTP_CHECK: greeting 220, HELO answered 250.
    Smtp(SmtpCheck),
    /// HTTP or, with `tls`, HTTPS.
    Http(Box<HttpCheck>),
    Dns(DnsCheck),
    Udp(UdpCheck),
    /// A feedback agent reporting load/weight (HAProxy agent-check style).
    Agent(AgentCheck),
    /// keepalived's MISC_CHECK: a program run per real server.
    Misc(MiscMonitor),
    /// A Mon-style script from the monitor directory, called with the node addresses.
    External(ExternalMonitor),
}

impl Monitor {
    /// The type word (`http`, `https`, `external`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Monitor::Ping => "ping",
            Monitor::Tcp(_) => "tcp",
            Monitor::Smtp(_) => "smtp",
            Monitor::Http(h) if h.tls.is_some() => "https",
            Monitor::Http(_) => "http",
            Monitor::Dns(_) => "dns",
            Monitor::Udp(_) => "udp",
            Monitor::Agent(_) => "agent",
            Monitor::Misc(_) => "misc",
            Monitor::External(_) => "external",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TcpCheck {
    pub port: Option<u16>,
    pub send: Option<String>,
    pub expect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SmtpCheck {
    /// Default the real server's port.
    pub port: Option<u16>,
    /// The name sent with HELO. Default `localhost`.
    pub helo: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DnsCheck {
    /// Default 53.
    pub port: Option<u16>,
    pub name: String,
    /// Default A.
    pub qtype: DnsType,
    /// Answers that must all be present (addresses or names); empty: any answer.
    pub expect: Vec<String>,
    /// Default NOERROR.
    pub rcode: DnsRcode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Ptr,
    Soa,
    Srv,
    Txt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UdpCheck {
    pub port: Option<u16>,
    pub send: String,
    /// A reply must contain this; without it any reply passes.
    pub expect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AgentCheck {
    pub port: u16,
    /// How the agent reports. Default tcp.
    pub protocol: AgentVia,
    /// The path GET asks for with `protocol: http`. Default `/`.
    pub path: String,
}

/// How an agent reports its load: it writes the number on a TCP connection and closes, or an
/// HTTP GET returns it as the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentVia {
    Tcp,
    Http,
}

/// `{type: misc, path, args, port, dynamic, user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MiscMonitor {
    /// The program, an absolute path.
    pub path: std::path::PathBuf,
    /// Its arguments; `{address}` and `{port}` become the real server's.
    pub args: Vec<String>,
    /// What `{port}` is. Default the real server's port.
    pub port: Option<u16>,
    /// keepalived's `misc_dynamic`: exit 2-255 passes with the weight exit − 2.
    pub dynamic: bool,
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExternalMonitor {
    pub script: String,
    pub args: Vec<String>,
    /// Run as this user (and its primary group) instead of root.
    #[serde(default)]
    pub user: Option<String>,
}

const TYPES: &[(&str, &str)] = &[
    ("ping", "ping"),
    ("tcp", "tcp"),
    ("smtp", "smtp"),
    ("http", "http"),
    ("https", "https"),
    ("dns", "dns"),
    ("udp", "udp"),
    ("agent", "agent"),
    ("misc", "misc"),
];

/// Which parameters belong to which monitor type, for hints on misplaced keys.
const PARAMS: &[(&str, &[&str])] = &[
    ("tcp", &["port", "send", "expect"]),
    ("smtp", &["port", "helo"]),
    (
        "http",
        &[
            "port",
            "method",
            "path",
            "host",
            "expect_status",
            "body",
            "body_not",
            "digest",
            "urls",
        ],
    ),
    (
        "https",
        &[
            "port",
            "method",
            "path",
            "host",
            "expect_status",
            "body",
            "body_not",
            "digest",
            "urls",
            "verify_tls",
            "sni",
            "cert_expiry_warn",
            "ca_file",
            "client_cert",
            "client_key",
        ],
    ),
    ("dns", &["port", "name", "qtype", "expect", "rcode"]),
    ("udp", &["port", "send", "expect"]),
    ("agent", &["port", "protocol", "path"]),
    ("misc", &["path", "args", "port", "dynamic", "user"]),
    ("external", &["args", "user"]),
];

/// Decodes a service's `watch`; `None` if anything in it is wrong (all of it reported).
pub(crate) fn decode(item: &Item, sink: &mut Sink) -> Option<Watch> {
    let mut f = Fields::of(item, "watch", sink)?;
    let monitor = f.req("monitor", sink, decode_monitor);
    let interval = f.or("interval", sink, DEFAULT_INTERVAL, positive);
    let randskew = f.or("randskew", sink, Duration::ZERO, duration);
    let timeout = f.opt("timeout", sink, positive);
    let rise = f.or("rise", sink, 1, int_in(1, 100, "rise"));
    let fall = f.or("fall", sink, 1, int_in(1, 100, "fall"));
    let failed_interval = f.opt("failed_interval", sink, positive);
    let retry_interval = f.opt("retry_interval", sink, positive);
    let source_pos = f.pos_of("source");
    let source = f.opt("source", sink, super::scalars::ip);
    let alert = f.or("alert", sink, Vec::new(), list(decode_alert));
    let upalert = f.or("upalert", sink, Vec::new(), list(decode_alert));
    let numalerts = f.opt("numalerts", sink, int_in(1, 1_000_000, "numalerts"));
    let alert_timeout = f.or("alert_timeout", sink, DEFAULT_ALERT_TIMEOUT, positive);
    let (timeout_pos, randskew_pos) = (f.pos_of("timeout"), f.pos_of("randskew"));
    let retry_pos = f.pos_of("retry_interval");
    f.finish(sink);
    let interval = interval?;
    let randskew = randskew?;
    let failed_interval = failed_interval?.unwrap_or(interval);
    let (retry_interval, fall) = (retry_interval?, fall?);
    let timeout =
        timeout?.unwrap_or_else(|| (interval.min(failed_interval) / 2).min(DEFAULT_TIMEOUT_MAX));
    let mut ok = true;
    let (monitor, source) = (monitor?, source?);
    if source.is_some()
        && matches!(
            monitor,
            Monitor::Ping | Monitor::Misc(_) | Monitor::External(_)
        )
    {
        sink.error_hint(
            source_pos,
            format!("`source` does not apply to {} monitors", monitor.kind()),
            "a source address binds the sockets of tcp, smtp, http(s), dns, udp and agent checks",
        );
        ok = false;
    }
    if retry_interval.is_some() && fall < 2 {
        sink.error_hint(
            retry_pos,
            "retry_interval needs fall above 1",
            "with fall 1 the first failed check takes the node down: nothing is retried",
        );
        ok = false;
    }
    if timeout >= interval {
        sink.error_hint(
            timeout_pos,
            format!(
                "timeout {} is not shorter than interval {}",
                super::format_duration(timeout),
                super::format_duration(interval)
            ),
            "a check must finish before the next one starts",
        );
        ok = false;
    } else if timeout >= failed_interval {
        sink.error_hint(
            timeout_pos,
            format!(
                "timeout {} is not shorter than failed_interval {}",
                super::format_duration(timeout),
                super::format_duration(failed_interval)
            ),
            "a check must finish before the next one starts",
        );
        ok = false;
    }
    if randskew >= interval {
        sink.error(
            randskew_pos,
            format!(
                "randskew {} is not shorter than interval {}",
                super::format_duration(randskew),
                super::format_duration(interval)
            ),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(Watch {
        monitor,
        source,
        interval,
        randskew,
        timeout,
        rise: rise?,
        fall,
        failed_interval,
        retry_interval,
        alert: alert?,
        upalert: upalert?,
        numalerts: numalerts?,
        alert_timeout: alert_timeout?,
    })
}

/// `script arg arg` (Mon's words) or a list `[script, arg, arg]`.
fn decode_monitor(item: &Item, sink: &mut Sink) -> Option<Monitor> {
    match &item.value {
        Value::Str(_) => {
            let kind = word("monitor type", TYPES)(item, sink)?;
            let empty = Item {
                value: Value::Map(Vec::new()),
                pos: item.pos,
            };
            let f = Fields::of(&empty, "monitor", sink)?;
            builtin(kind, f, item, sink)
        }
        Value::Map(_) => {
            let mut f = Fields::of(item, "monitor", sink)?;
            if f.has("external") {
                let script = f.req("external", sink, script_name);
                let args = f.or("args", sink, Vec::new(), list(string));
                let user = f.opt("user", sink, user);
                let kind_pos = f.key_pos("type");
                let has_type = f.has("type");
                f.known("type");
                f.finish_with(sink, |k| misplaced(k, "external"));
                if has_type {
                    sink.error_hint(
                        kind_pos,
                        "monitor has both `type` and `external`",
                        "a monitor is either built in (`type`) or a script (`external`)",
                    );
                    return None;
                }
                return Some(Monitor::External(ExternalMonitor {
                    script: script?,
                    args: args?,
                    user: user?,
                }));
            }
            let Some(kind) = f.req("type", sink, word("monitor type", TYPES)) else {
                f.finish(sink);
                return None;
            };
            builtin(kind, f, item, sink)
        }
        _ => {
            sink.error_hint(
                item.pos,
                format!("expected a monitor, found {}", item.kind()),
                "write a type (`monitor: http`) or a mapping (`monitor: {type: http, path: /}`)",
            );
            None
        }
    }
}

/// A HELO name: one word of printable ASCII (it goes on the wire as `HELO name`).
fn helo_name(item: &Item, sink: &mut Sink) -> Option<String> {
    let s = nonempty(item, sink)?;
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        sink.error_hint(
            item.pos,
            format!("invalid HELO name `{s}`"),
            "one word: the director's host name, e.g. lb1.example.com",
        );
        return None;
    }
    Some(s)
}

/// Explains a key that is a parameter of another monitor type than `kind`.
fn misplaced(key: &str, kind: &str) -> Option<String> {
    let owners: Vec<&str> = PARAMS
        .iter()
        .filter(|(_, keys)| keys.contains(&key))
        .map(|(t, _)| *t)
        .collect();
    if owners.is_empty() || owners.contains(&kind) {
        return None;
    }
    Some(format!(
        "`{key}` is a parameter of {} monitors, not {kind}",
        owners.join("/")
    ))
}

fn builtin(kind: &str, mut f: Fields, item: &Item, sink: &mut Sink) -> Option<Monitor> {
    f.known("type");
    let monitor = params(kind, &mut f, item, sink);
    f.finish_with(sink, |k| misplaced(k, kind));
    monitor
}

/// Reads the parameters of a built-in monitor (every key before the first `?`).
fn params(kind: &str, f: &mut Fields, item: &Item, sink: &mut Sink) -> Option<Monitor> {
    match kind {
        "ping" => Some(Monitor::Ping),
        "tcp" => {
            let port = f.opt("port", sink, port);
            let send = f.opt("send", sink, string);
            let expect = f.opt("expect", sink, string);
            Some(Monitor::Tcp(TcpCheck {
                port: port?,
                send: send?,
                expect: expect?,
            }))
        }
        "smtp" => {
            let port = f.opt("port", sink, port);
            let helo = f.or("helo", sink, "localhost".to_string(), helo_name);
            Some(Monitor::Smtp(SmtpCheck {
                port: port?,
                helo: helo?,
            }))
        }
        "http" | "https" => {
            decode_http(kind == "https", f, sink).map(|h| Monitor::Http(Box::new(h)))
        }
        "dns" => {
            let port = f.opt("port", sink, port);
            let name = f.req("name", sink, nonempty);
            let qtype = f.or("qtype", sink, DnsType::A, word("DNS query type", DNS_TYPES));
            let expect = f.or("expect", sink, Vec::new(), list(nonempty));
            let rcode = f.or(
                "rcode",
                sink,
                DnsRcode::NoError,
                word("DNS rcode", DNS_RCODES),
            );
            Some(Monitor::Dns(DnsCheck {
                port: port?,
                name: name?,
                qtype: qtype?,
                expect: expect?,
                rcode: rcode?,
            }))
        }
        "udp" => {
            let port = f.opt("port", sink, port);
            let send = f.req("send", sink, string);
            let expect = f.opt("expect", sink, string);
            Some(Monitor::Udp(UdpCheck {
                port: port?,
                send: send?,
                expect: expect?,
            }))
        }
        "misc" => {
            let path = f.req("path", sink, abs_path);
            let args = f.or("args", sink, Vec::new(), list(string));
            let port = f.opt("port", sink, port);
            let dynamic = f.or("dynamic", sink, false, boolean);
            let user = f.opt("user", sink, user);
            Some(Monitor::Misc(MiscMonitor {
                path: path?,
                args: args?,
                port: port?,
                dynamic: dynamic?,
                user: user?,
            }))
        }
        "agent" => {
            let port = f.req("port", sink, port);
            let protocol = f.or("protocol", sink, AgentVia::Tcp, agent_via);
            let (path_pos, has_path) = (f.pos_of("path"), f.has("path"));
            let path = f.or("path", sink, "/".to_string(), nonempty);
            let (port, protocol, path) = (port?, protocol?, path?);
            if protocol == AgentVia::Tcp && has_path {
                sink.error_hint(
                    path_pos,
                    "`path` needs `protocol: http`",
                    "a tcp agent writes its load and closes; nothing asks for a path",
                );
                return None;
            }
            Some(Monitor::Agent(AgentCheck {
                port,
                protocol,
                path,
            }))
        }
        _ => {
            sink.error(item.pos, format!("unknown monitor type `{kind}`"));
            None
        }
    }
}

const AGENT_PROTOCOLS: &[(&str, AgentVia)] = &[("tcp", AgentVia::Tcp), ("http", AgentVia::Http)];

/// An agent's `protocol`; `udp` is refused by name (no agent protocol runs over it).
fn agent_via(item: &Item, sink: &mut Sink) -> Option<AgentVia> {
    if matches!(&item.value, Value::Str(s) if s == "udp") {
        sink.error_hint(
            item.pos,
            "an agent does not report over udp",
            "use `protocol: tcp`, where the agent writes its load and closes, or `protocol: http` with `path`",
        );
        return None;
    }
    word("agent protocol", AGENT_PROTOCOLS)(item, sink)
}

const DNS_TYPES: &[(&str, DnsType)] = &[
    ("A", DnsType::A),
    ("AAAA", DnsType::Aaaa),
    ("CNAME", DnsType::Cname),
    ("MX", DnsType::Mx),
    ("NS", DnsType::Ns),
    ("PTR", DnsType::Ptr),
    ("SOA", DnsType::Soa),
    ("SRV", DnsType::Srv),
    ("TXT", DnsType::Txt),
];

const DNS_RCODES: &[(&str, DnsRcode)] = &[
    ("NOERROR", DnsRcode::NoError),
    ("FORMERR", DnsRcode::FormErr),
    ("SERVFAIL", DnsRcode::ServFail),
    ("NXDOMAIN", DnsRcode::NxDomain),
    ("NOTIMP", DnsRcode::NotImp),
    ("REFUSED", DnsRcode::Refused),
];
