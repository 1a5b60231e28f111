//! keepalived's health checkers → lbd's watch monitors: TCP_CHECK → `tcp`, HTTP_GET and
//! SSL_GET → `http` / `https` (each url's path, status codes, regex or regex_no_match, digest;
//! the virtual host),
//! DNS_CHECK → `dns`, PING_CHECK → `ping`, SMTP_CHECK → `smtp` (helo_name); `delay_loop` → interval, `connect_timeout` →
//! timeout, `retry` → fall (retry + 1), `delay_before_retry` → retry_interval (keepalived's
//! default 3 s for HTTP_GET/SSL_GET, 1 s for the others). Settings on the virtual or real server are the defaults of their
//! checkers, as in keepalived. Checker options lbd lacks are reported.

use super::findings::Report;
use super::pos::Pos;
use super::tree::Node;
use super::values::{int_in, timer, to_millis};
use crate::config::format_duration;
use crate::import::yaml_out::Y;
use std::time::Duration;

/// keepalived's defaults: delay_loop 60 s, connect_timeout 5 s.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Timing and HTTP settings inherited from the virtual server, then the real server.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub delay_loop: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub virtualhost: Option<String>,
    /// The global `SSL` block's client certificate and key (for SSL_GET).
    pub ssl_client: Option<(String, String)>,
    /// Whether a real server mails by default (`None`: keepalived mails nothing).
    pub mail: Option<bool>,
}

impl Defaults {
    /// Reads a timing keyword into these defaults; false if `n` is none.
    pub fn take(&mut self, n: &Node, report: &mut Report) -> bool {
        let k = n.keyword.as_str();
        match k {
            "delay_loop" | "connect_timeout" => match n.arg(0).and_then(timer) {
                Some(d) if k == "delay_loop" => self.delay_loop = Some(d),
                Some(d) => self.connect_timeout = Some(d),
                None => report.dropped(&n.at, k, "not a time in seconds"),
            },
            "retry" | "nb_get_retry" => match n.arg(0).and_then(|v| int_in(v, 0, 99)) {
                Some(r) => self.retry = Some(r as u32),
                None => report.dropped(&n.at, k, "expected a count"),
            },
            "delay_before_retry" => match n.arg(0).and_then(timer) {
                Some(d) if !d.is_zero() => self.delay_before_retry = Some(d),
                _ => report.dropped(&n.at, k, "not a time in seconds above 0"),
            },
            "warmup" => report.ignored(&n.at, k, "lbd spreads the first checks over the first interval, like keepalived's default warmup"),
            "alpha" => report.ignored(&n.at, k, "lbd keeps a new real server out until its first check passes, as alpha does"),
            "virtualhost" => self.virtualhost = n.arg(0).map(str::to_string),
            "log_all_failures" => report.ignored(&n.at, k, "logging only"),
            _ => return false,
        }
        true
    }
}

/// Checker keywords (the ones keepalived has).
pub const CHECKERS: &[&str] = &[
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
    "BFD_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
];

/// A translated checker: the watch's `monitor` and timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub monitor: Y,
    pub interval: Duration,
    pub timeout: Duration,
    pub fall: u32,
    /// The delay before each retry (with `fall` > 1).
    pub retry_interval: Option<Duration>,
    /// keepalived's `bindto`: the checks' source address.
    pub source: Option<std::net::IpAddr>,
    pub at: Pos,
}

impl Check {
    /// The watch mapping.
    pub fn watch(&self, report: &mut Report) -> Y {
        let mut w = Y::map();
        w.set("monitor", self.monitor.clone());
        let interval = to_millis(self.interval).max(Duration::from_millis(1));
        let mut timeout = to_millis(self.timeout);
        if timeout >= interval || timeout.is_zero() {
            let half = to_millis(interval / 2).max(Duration::from_millis(1));
            report.approximated(
                &self.at,
                "connect_timeout",
                format!(
                    "lbd needs a timeout shorter than the interval ({}): {}",
                    format_duration(interval),
                    format_duration(half)
                ),
            );
            timeout = half;
        }
        if let Some(s) = self.source {
            w.set("source", Y::str(s.to_string()));
        }
        w.set("interval", Y::str(format_duration(interval)));
        w.set("timeout", Y::str(format_duration(timeout)));
        if self.fall > 1 {
            w.set("fall", Y::Int(i64::from(self.fall)));
            if let Some(r) = self.retry_interval {
                let r = to_millis(r).max(Duration::from_millis(1));
                w.set("retry_interval", Y::str(format_duration(r)));
            }
        }
        w
    }

    /// The same check, timing aside from where it was written.
    pub fn same_as(&self, other: &Check) -> bool {
        (&self.monitor, self.interval, self.timeout)
            == (&other.monitor, other.interval, other.timeout)
            && (self.fall, self.retry_interval) == (other.fall, other.retry_interval)
            && self.source == other.source
    }
}

/// A misc_path command line split into words (keepalived splits on blanks, with double
/// quotes grouping), the real server's address and port written `{address}` and `{port}` so
/// that one command serves every real server of the service.
fn misc_words(line: &str, addr: std::net::IpAddr, port: Option<u16>) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quoted, mut any) = (String::new(), false, false);
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    let (addr, port) = (addr.to_string(), port.map(|p| p.to_string()));
    words
        .into_iter()
        .map(|w| {
            let w = replace_bounded(&w, &addr, "{address}");
            match &port {
                Some(p) if w == *p => "{port}".to_string(),
                _ => w,
            }
        })
        .collect()
}

/// `text` with every `needle` not inside a longer address or number replaced (198.51.100.1
/// in `198.51.100.11` stays).
fn replace_bounded(text: &str, needle: &str, with: &str) -> String {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '.';
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(needle) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + needle.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(part) || after.is_some_and(part) {
            out.push_str(needle);
        } else {
            out.push_str(with);
        }
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// One `url` block: path, status codes (keepalived's default 200-299; any status with only a
/// digest), `regex` (with `regex_no_match`: the body must not match), `digest`.
fn url(u: &Node, host: &mut Option<String>, report: &mut Report) -> Y {
    let mut path = "/".to_string();
    let mut status = None;
    let (mut regex, mut negate, mut digest) = (None, false, None);
    for c in u.children() {
        let k = c.keyword.as_str();
        match k {
            "path" => path = c.arg(0).unwrap_or("/").to_string(),
            "status_code" => {
                status = Some(
                    c.args
                        .iter()
                        .map(|a| match a.text.parse::<i64>() {
                            Ok(code) => Y::Int(code),
                            Err(_) => Y::str(&a.text),
                        })
                        .collect(),
                )
            }
            "virtualhost" => *host = c.arg(0).map(str::to_string),
            "regex" => match c.arg(0) {
                Some(r) if regex::Regex::new(r).is_ok() => regex = Some(r.to_string()),
                _ => report.dropped(
                    &c.at,
                    k,
                    "not a regular expression lbd's regex engine takes",
                ),
            },
            "regex_no_match" => negate = true,
            "digest" => match c.arg(0) {
                Some(h) if h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    digest = Some(h.to_ascii_lowercase())
                }
                _ => report.dropped(&c.at, k, "not an MD5 digest (32 hex digits)"),
            },
            _ => report.dropped(&c.at, k, "lbd has no equivalent of this url option"),
        }
    }
    let status = status.unwrap_or_else(|| {
        vec![Y::str(if digest.is_some() {
            "100-599"
        } else {
            "200-299"
        })]
    });
    let mut m = Y::map();
    m.set("path", Y::str(path))
        .set("expect_status", Y::Seq(status));
    match (regex, negate) {
        (Some(r), false) => {
            m.set("body", Y::str(r));
        }
        (Some(r), true) => {
            m.set("body_not", Y::str(r));
        }
        (None, true) => report.ignored(&u.at, "regex_no_match", "no regex to negate"),
        (None, false) => {}
    }
    if let Some(d) = digest {
        m.set("digest", Y::str(d));
    }
    m
}

/// Translates one checker of a real server whose port is `rs_port`; `None` (reported) for a
/// checker lbd cannot run.
pub fn checker(
    n: &Node,
    inherited: &Defaults,
    rs_addr: std::net::IpAddr,
    rs_port: Option<u16>,
    report: &mut Report,
) -> Option<Check> {
    let kind = n.keyword.as_str();
    let mut d = inherited.clone();
    let mut port = None;
    let mut urls = Vec::new();
    let mut dns_type = "SOA".to_string();
    let mut dns_name = ".".to_string();
    let mut sni = false;
    let mut helo = None;
    let mut source = None;
    let mut misc: Option<(Vec<String>, bool, Option<String>)> = None;
    let mut misc_timeout: Option<Duration> = None;
    let unsupported = match kind {
        "UDP_CHECK" => Some("lbd's udp monitor sends text, not keepalived's hex payload"),
        "FILE_CHECK" => Some("lbd does not check files"),
        "BFD_CHECK" => Some("lbd has no BFD"),
        _ => None,
    };
    if let Some(why) = unsupported {
        report.dropped(&n.at, kind, why);
        return None;
    }
    for c in n.children() {
        let k = c.keyword.as_str();
        if d.take(c, report) {
            continue;
        }
        match k {
            "connect_port" => match c.arg(0).and_then(|p| int_in(p, 1, 65535)) {
                Some(p) => port = Some(p as u16),
                None => report.dropped(&c.at, k, "expected a port"),
            },
            "bindto" => match c.arg(0).map(str::parse::<std::net::IpAddr>) {
                Some(Ok(a)) => source = Some(a),
                _ => report.dropped(&c.at, k, "not an IP address"),
            },
            "connect_ip" | "bind_if" | "bind_port" | "fwmark" => report.dropped(
                &c.at,
                k,
                "lbd checks the real server's own address, from the director's default source",
            ),
            "url" if matches!(kind, "HTTP_GET" | "SSL_GET") => urls.push(c),
            "http_protocol" => report.dropped(&c.at, k, "lbd's http monitor speaks HTTP/1.1"),
            "fast_recovery" => report.ignored(&c.at, k, "lbd asks for every URL at each check"),
            "enable_sni" if kind == "SSL_GET" => sni = true,
            "helo_name" if kind == "SMTP_CHECK" => helo = c.arg(0).map(str::to_string),
            "misc_path" if kind == "MISC_CHECK" => {
                let words = c.arg(0).map(|p| misc_words(p, rs_addr, rs_port));
                let m = misc.get_or_insert((Vec::new(), false, None));
                m.0 = words.unwrap_or_default();
            }
            "misc_timeout" if kind == "MISC_CHECK" => match c.arg(0).and_then(timer) {
                Some(t) => misc_timeout = Some(t),
                None => report.dropped(&c.at, k, "not a time in seconds"),
            },
            "misc_dynamic" if kind == "MISC_CHECK" => {
                misc.get_or_insert((Vec::new(), false, None)).1 = true
            }
            "user" if kind == "MISC_CHECK" => {
                if c.args.len() > 1 {
                    report.approximated(&c.at, k, "lbd runs it with the user's primary group");
                }
                misc.get_or_insert((Vec::new(), false, None)).2 = c.arg(0).map(str::to_string);
            }
            "host" if kind == "SMTP_CHECK" => report.dropped(
                &c.at,
                k,
                "lbd checks the real server's own address, once per check",
            ),
            "type" if kind == "DNS_CHECK" => {
                dns_type = c.arg(0).unwrap_or("SOA").to_ascii_uppercase()
            }
            "name" if kind == "DNS_CHECK" => dns_name = c.arg(0).unwrap_or(".").to_string(),
            _ => report.dropped(
                &c.at,
                k,
                format!("lbd has no equivalent of this {kind} option"),
            ),
        }
    }
    let port = port.filter(|p| Some(*p) != rs_port);
    let default_retry = if kind == "DNS_CHECK" { 3 } else { 1 };
    let default_delay = Duration::from_secs(if kind.ends_with("_GET") { 3 } else { 1 });
    let monitor = match kind {
        "TCP_CHECK" => match port {
            Some(p) => {
                let mut m = Y::map();
                m.set("type", Y::str("tcp"))
                    .set("port", Y::Int(i64::from(p)));
                m
            }
            None => Y::str("tcp"),
        },
        "PING_CHECK" => Y::str("ping"),
        "MISC_CHECK" => {
            let (words, dynamic, user) = misc.unwrap_or_default();
            let Some((path, args)) = words.split_first() else {
                report.dropped(&n.at, kind, "no misc_path");
                return None;
            };
            if !path.starts_with('/') {
                report.dropped(&n.at, "misc_path", "lbd needs the program's absolute path");
                return None;
            }
            let mut m = Y::map();
            m.set("type", Y::str("misc")).set("path", Y::str(path));
            if !args.is_empty() {
                m.set("args", Y::Seq(args.iter().map(Y::str).collect()));
            }
            if dynamic {
                m.set("dynamic", Y::Bool(true));
            }
            if let Some(u) = user {
                m.set("user", Y::str(u));
            }
            m
        }
        "SMTP_CHECK" => {
            let mut m = Y::map();
            m.set("type", Y::str("smtp"));
            if let Some(p) = port {
                m.set("port", Y::Int(i64::from(p)));
            }
            // keepalived's default HELO name.
            m.set(
                "helo",
                Y::str(helo.unwrap_or_else(|| "smtpchecker.keepalived.org".into())),
            );
            m
        }
        "DNS_CHECK" => {
            const TYPES: &[&str] = &["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"];
            if !TYPES.contains(&dns_type.as_str()) {
                report.dropped(
                    &n.at,
                    "DNS_CHECK type",
                    format!("unknown query type {dns_type}"),
                );
                return None;
            }
            let mut m = Y::map();
            m.set("type", Y::str("dns"));
            if let Some(p) = port {
                m.set("port", Y::Int(i64::from(p)));
            }
            m.set("name", Y::str(dns_name))
                .set("qtype", Y::str(dns_type));
            m
        }
        _ => http(n, kind == "SSL_GET", &urls, &d, port, sni, report),
    };
    if source.is_some() && matches!(kind, "PING_CHECK" | "MISC_CHECK") {
        report.dropped(
            &n.at,
            "bindto",
            "lbd's pings and programs bind no source address",
        );
        source = None;
    }
    let interval = d.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    let timeout = match (kind, misc_timeout) {
        ("MISC_CHECK", Some(t)) => t,
        ("MISC_CHECK", None) => {
            report.note(format!("{}: keepalived lets a MISC_CHECK run for the whole delay_loop (no misc_timeout); lbd's timeout is 90 % of it", n.at));
            interval * 9 / 10
        }
        _ => d.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
    };
    Some(Check {
        monitor,
        interval,
        timeout,
        fall: d.retry.unwrap_or(default_retry) + 1,
        retry_interval: Some(d.delay_before_retry.unwrap_or(default_delay)),
        source,
        at: n.at.clone(),
    })
}

fn http(
    n: &Node,
    tls: bool,
    urls: &[&Node],
    d: &Defaults,
    port: Option<u16>,
    sni: bool,
    report: &mut Report,
) -> Y {
    let mut m = Y::map();
    m.set("type", Y::str(if tls { "https" } else { "http" }));
    if let Some(p) = port {
        m.set("port", Y::Int(i64::from(p)));
    }
    let mut host = d.virtualhost.clone();
    if urls.is_empty() {
        report.approximated(&n.at, &n.keyword, "no url: lbd checks GET /");
    }
    let mut entries: Vec<Y> = urls.iter().map(|u| url(u, &mut host, report)).collect();
    match entries.len() {
        0 => {
            m.set("path", Y::str("/"))
                .set("expect_status", Y::Seq(vec![Y::str("200-299")]));
        }
        1 => {
            if let Some(Y::Map(fields)) = entries.pop() {
                for e in fields {
                    m.set(&e.key, e.value);
                }
            }
        }
        _ => {
            m.set("urls", Y::Seq(entries));
        }
    }
    if let Some(h) = host {
        m.set("host", Y::str(&h));
        if tls && sni {
            m.set("sni", Y::str(h));
        }
    }
    if let (true, Some((cert, key))) = (tls, &d.ssl_client) {
        m.set("client_cert", Y::str(cert))
            .set("client_key", Y::str(key));
    }
    if tls {
        m.set_commented(
            "verify_tls",
            Y::Bool(false),
            Some("keepalived's SSL_GET does not verify certificates".into()),
        );
    }
    m
}
