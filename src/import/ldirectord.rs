//! `lbctl import ldirectord`: an ldirectord.cf translated into lbd's configuration directory.
//! Global settings (`checkinterval`, `checktimeout` / `negotiatetimeout` / `connecttimeout`,
//! `failurecount`, `quiescent`, `fallback`) are the defaults of every `virtual=` block; each
//! block becomes a service, its `real=` lines a hostgroup, its `checktype` / `service` /
//! `request` / `receive` the service's watch. What lbd cannot carry is reported with its line,
//! as the keepalived importer does. Pure: text in, files and findings out.

use super::keepalived::values::address_name;
use super::keepalived::{Error, ErrorKind, Import, OutFile, Pos, Report};
use super::yaml_out::Y;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// Settings that a `virtual=` block inherits from the global part, and may override.
#[derive(Debug, Clone)]
struct Settings {
    checkinterval: u64,
    checktimeout: Option<u64>,
    negotiatetimeout: Option<u64>,
    connecttimeout: Option<u64>,
    failurecount: u32,
    quiescent: bool,
    fallback: Option<(IpAddr, Option<u16>)>,
}

impl Default for Settings {
    /// ldirectord's defaults: checks every 5 s, timeout 5 s, one failure, quiescent.
    fn default() -> Self {
        Settings {
            checkinterval: 5,
            checktimeout: None,
            negotiatetimeout: None,
            connecttimeout: None,
            failurecount: 1,
            quiescent: true,
            fallback: None,
        }
    }
}

#[derive(Debug)]
struct Virtual {
    at: Pos,
    last: u32,
    head: String,
    settings: Settings,
    reals: Vec<(Pos, IpAddr, Option<u16>, &'static str, i64)>,
    keys: Vec<(Pos, String, String)>,
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches('"').trim_matches('\'').to_string()
}

/// `IP:PORT`, `[IP6]:PORT` or `IP`.
fn endpoint(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (a, p) = rest.split_once(']')?;
        let port = match p.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        return Some((a.parse().ok()?, port));
    }
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some((a, None));
    }
    let (a, p) = s.rsplit_once(':')?;
    Some((a.parse().ok()?, Some(p.parse().ok()?)))
}

/// A global or virtual setting shared by both; false if `key` is none of them.
fn setting(s: &mut Settings, key: &str, value: &str, at: &Pos, report: &mut Report) -> bool {
    let secs = |v: &str| v.trim().parse::<u64>().ok().filter(|n| *n > 0);
    match key {
        "checkinterval" => match secs(value) {
            Some(n) => s.checkinterval = n,
            None => report.dropped(at, key, "not a number of seconds"),
        },
        "checktimeout" => s.checktimeout = secs(value),
        "negotiatetimeout" => s.negotiatetimeout = secs(value),
        "connecttimeout" => s.connecttimeout = secs(value),
        "failurecount" => match secs(value) {
            Some(n) => s.failurecount = n.min(100) as u32,
            None => report.dropped(at, key, "not a count"),
        },
        "quiescent" => s.quiescent = value.trim() == "yes",
        "fallback" => match value.split_whitespace().next().and_then(endpoint) {
            Some(e) => s.fallback = Some(e),
            None => report.dropped(at, key, "not an address"),
        },
        _ => return false,
    }
    true
}

/// Reads `text` (the file `path`); the director is named `name`.
pub fn import(path: &Path, text: &str, name: &str) -> Result<Import, Error> {
    let file: Arc<Path> = Arc::from(path);
    let mut report = Report::default();
    let mut global = Settings::default();
    let mut virtuals: Vec<Virtual> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = raw.split('#').next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let column = u32::try_from(line.len() - line.trim_start().len() + 1).unwrap_or(1);
        let at = Pos {
            file: file.clone(),
            line: line_no,
            column,
        };
        let Some((key, value)) = line.trim().split_once('=') else {
            return Err(Error::new(
                at,
                ErrorKind::Invalid(format!("`{}` is not KEY=VALUE", line.trim())),
            ));
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
        if key == "virtual" {
            virtuals.push(Virtual {
                at: at.clone(),
                last: line_no,
                head: value,
                settings: global.clone(),
                reals: Vec::new(),
                keys: Vec::new(),
            });
            continue;
        }
        match (indented, virtuals.last_mut()) {
            (true, Some(v)) => {
                v.last = line_no;
                if key == "real" {
                    let words: Vec<&str> = value.split_whitespace().collect();
                    let Some((addr, port)) = words.first().and_then(|w| endpoint(w)) else {
                        report.dropped(&at, "real", "not an address");
                        continue;
                    };
                    let method = match words.get(1).copied() {
                        Some("masq") => "nat",
                        Some("ipip") => "tunnel",
                        _ => "dr",
                    };
                    let weight = words
                        .get(2)
                        .and_then(|w| w.parse::<i64>().ok())
                        .unwrap_or(1);
                    if words.len() > 3 {
                        report.dropped(&at, "real", "lbd checks every real server of a service with the service's request and receive");
                    }
                    v.reals.push((at, addr, port, method, weight));
                } else if !setting(&mut v.settings, &key, &value, &at, &mut report) {
                    v.keys.push((at, key, value));
                }
            }
            (true, None) => {
                return Err(Error::new(
                    at,
                    ErrorKind::Invalid("an indented line before any virtual=".into()),
                ))
            }
            (false, _) => {
                if !setting(&mut global, &key, &value, &at, &mut report) {
                    match key.as_str() {
                        "autoreload" | "logfile" | "supervised" | "fork" | "cleanstop" | "readdquiescent" => report.ignored(&at, &key, "lbd reloads on SIGHUP or lbctl reload, logs to the journal and never flushes the table"),
                        "emailalert" | "emailalertfreq" | "emailalertstatus" | "emailalertfrom" | "smtp" => report.dropped(&at, &key, "lbd sends no mail itself: give the service watches an alert script (Mon's mail.alert)"),
                        "callback" => report.dropped(&at, &key, "give the service watches alert scripts instead"),
                        _ => report.dropped(&at, &key, "lbd has no equivalent of this ldirectord setting"),
                    }
                }
            }
        }
    }
    let mut files = vec![super::director_file(
        "ldirectord",
        &file,
        text,
        name,
        "ldirectord.cf",
    )];
    let mut names = std::collections::HashSet::new();
    for v in &virtuals {
        if let Some((svc, group)) = translate(v, &mut names, &mut report) {
            files.push(group);
            files.push(svc);
        }
    }
    report.findings.sort_by_key(|f| (f.at.line, f.at.column));
    Ok(Import {
        files,
        report,
        sources: vec![path.to_path_buf()],
    })
}

fn translate(
    v: &Virtual,
    names: &mut std::collections::HashSet<String>,
    report: &mut Report,
) -> Option<(OutFile, OutFile)> {
    let key = |k: &str| v.keys.iter().find(|(_, kk, _)| kk == k);
    let value = |k: &str| key(k).map(|(_, _, val)| unquote(val));
    let protocol = value("protocol").unwrap_or_else(|| "tcp".into());
    let mut virt = Y::map();
    let base = if protocol == "fwm" {
        let Ok(mark) = v.head.parse::<u32>() else {
            report.dropped(&v.at, "virtual", "protocol=fwm needs a firewall mark");
            return None;
        };
        virt.set("fwmark", Y::Int(i64::from(mark)));
        format!("fwmark-{mark}")
    } else {
        let Some((addr, Some(port))) = endpoint(&v.head) else {
            report.dropped(
                &v.at,
                "virtual",
                "not ADDRESS:PORT (ldirectord's names are not resolved here)",
            );
            return None;
        };
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            report.dropped(&v.at, "protocol", format!("unknown protocol {protocol}"));
            return None;
        }
        virt.set("protocol", Y::str(&protocol))
            .set("address", Y::str(addr.to_string()))
            .set("port", Y::Int(i64::from(port)));
        format!("{protocol}-{}-{port}", address_name(&addr))
    };
    let mut name = base.clone();
    let mut n = 2;
    while !names.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    let group = format!("{name}_nodes");
    let vport = match endpoint(&v.head) {
        Some((_, Some(p))) => p,
        _ => 0,
    };
    let mut y = Y::map();
    y.set("name", Y::str(&name)).set("virtual", virt);
    y.set(
        "scheduler",
        Y::str(value("scheduler").unwrap_or_else(|| "wrr".into())),
    );
    if let Some(p) = value("persistent") {
        let mut m = Y::map();
        m.set("timeout", Y::str(format!("{p}s")));
        if let Some(mask) = value("netmask") {
            m.set("netmask", Y::str(mask));
        }
        y.set("persistent", m);
    }
    let forwarding = v.reals.first().map_or("dr", |r| r.3);
    for r in v.reals.iter().skip(1) {
        if r.3 != forwarding {
            report.approximated(
                &r.0,
                "real",
                format!("lbd forwards a service one way: written with {forwarding}"),
            );
        }
    }
    y.set("forwarding", Y::str(forwarding));
    y.set("hostgroup", Y::str(&group));
    if v.settings.quiescent {
        y.set_commented(
            "on_failure",
            Y::str("inhibit"),
            Some("ldirectord's quiescent (its default)".into()),
        );
    }
    if let Some((addr, port)) = v.settings.fallback {
        let mut f = Y::map();
        f.set("address", Y::str(addr.to_string()));
        if let Some(p) = port {
            f.set("port", Y::Int(i64::from(p)));
        }
        y.set("sorry_server", f);
    }
    y.set("watch", watch(v, &value, report));
    for (at, k, _) in &v.keys {
        if !matches!(
            k.as_str(),
            "protocol"
                | "scheduler"
                | "persistent"
                | "netmask"
                | "checktype"
                | "service"
                | "request"
                | "receive"
                | "virtualhost"
                | "checkport"
                | "httpmethod"
        ) {
            report.dropped(at, k, "lbd has no equivalent of this ldirectord setting");
        }
    }
    let mut nodes = Vec::new();
    for (at, addr, port, method, weight) in &v.reals {
        let _ = at;
        let mut m = Y::map();
        m.set("name", Y::str(address_name(addr)))
            .set("address", Y::str(addr.to_string()));
        if *weight != 1 {
            m.set("weight", Y::Int(*weight));
        }
        if let (&"nat", Some(p)) = (method, port) {
            if *p != vport {
                m.set("port", Y::Int(i64::from(*p)));
            }
        }
        nodes.push(m);
    }
    let mut g = Y::map();
    g.set_commented(
        "ping",
        Y::Bool(false),
        Some("ldirectord has no separate liveness check".into()),
    );
    g.set("nodes", Y::Seq(nodes));
    let origin = vec![(v.at.clone(), v.last, format!("virtual={}", v.head))];
    report.translated(
        &v.at,
        format!(
            "virtual={} → services/{name}.yaml, hostgroups/{group}.yaml",
            v.head
        ),
    );
    Some((
        OutFile {
            tool: "ldirectord",
            path: format!("services/{name}.yaml"),
            origin: origin.clone(),
            body: y,
        },
        OutFile {
            tool: "ldirectord",
            path: format!("hostgroups/{group}.yaml"),
            origin,
            body: g,
        },
    ))
}

/// The service's watch from `checktype`, `service`, `request`, `receive`, `virtualhost`,
/// `checkport`, `httpmethod` and the timing settings.
fn watch(v: &Virtual, value: &dyn Fn(&str) -> Option<String>, report: &mut Report) -> Y {
    let s = &v.settings;
    let service = value("service").unwrap_or_else(|| "none".into());
    let checktype = value("checktype").unwrap_or_else(|| "negotiate".into());
    let at = |k: &str| {
        v.keys
            .iter()
            .find(|(_, kk, _)| kk == k)
            .map_or(v.at.clone(), |(p, _, _)| p.clone())
    };
    let port = value("checkport").and_then(|p| p.parse::<i64>().ok());
    let negotiate = checktype == "negotiate" || checktype.parse::<u32>().is_ok();
    if checktype.parse::<u32>().is_ok() {
        report.approximated(
            &at("checktype"),
            "checktype",
            "lbd negotiates at every check, not every Nth with connects between",
        );
    }
    let mut m = Y::map();
    let timeout = match (negotiate, checktype.as_str()) {
        (true, _) => s.negotiatetimeout.or(s.checktimeout),
        (false, "connect") => s.connecttimeout.or(s.checktimeout),
        _ => s.checktimeout,
    };
    match (checktype.as_str(), service.as_str()) {
        ("ping", _) => m = Y::str("ping"),
        ("off" | "on", _) => {
            report.dropped(&at("checktype"), "checktype", format!("lbd always checks (checktype={checktype}): the real servers get a TCP connect check"));
            m.set("type", Y::str("tcp"));
        }
        (_, "http" | "https") if negotiate => {
            m.set("type", Y::str(&service));
            let request = value("request").unwrap_or_default();
            let path = format!("/{}", request.trim_start_matches('/'));
            m.set("path", Y::str(path));
            if let Some(method) = value("httpmethod") {
                m.set("method", Y::str(method.to_ascii_uppercase()));
            }
            if let Some(h) = value("virtualhost") {
                m.set("host", Y::str(h));
            }
            if let Some(r) = value("receive") {
                if regex::Regex::new(&r).is_ok() {
                    m.set("body", Y::str(r));
                } else {
                    report.dropped(
                        &at("receive"),
                        "receive",
                        "not a regular expression lbd's regex engine takes",
                    );
                }
            }
            if service == "https" {
                m.set_commented(
                    "verify_tls",
                    Y::Bool(false),
                    Some("ldirectord does not verify certificates".into()),
                );
            }
        }
        (_, "smtp") if negotiate => {
            m.set("type", Y::str("smtp"));
        }
        (_, "none") | ("connect", _) => {
            m.set("type", Y::str("tcp"));
        }
        (_, other) => {
            report.approximated(
                &at("service"),
                "service",
                format!("lbd has no {other} negotiation: a TCP connect check"),
            );
            m.set("type", Y::str("tcp"));
        }
    }
    if let (Some(p), Y::Map(_)) = (port, &m) {
        m.set("port", Y::Int(p));
    }
    let mut w = Y::map();
    w.set("monitor", m);
    let interval = s.checkinterval.max(1) * 1000;
    let half = interval / 2;
    let timeout = match timeout {
        Some(t) if t * 1000 < interval => t * 1000,
        Some(_) => {
            report.approximated(
                &v.at,
                "checktimeout",
                format!(
                    "lbd needs a timeout shorter than checkinterval ({}s): {half}ms",
                    s.checkinterval
                ),
            );
            half
        }
        // ldirectord's default (5 s) where it fits, else half the interval.
        None if 5000 < interval => 5000,
        None => half,
    };
    w.set("interval", Y::str(format!("{}s", s.checkinterval.max(1))));
    w.set("timeout", Y::str(format!("{timeout}ms")));
    if s.failurecount > 1 {
        w.set("fall", Y::Int(i64::from(s.failurecount)));
    }
    w
}
