//! The real servers of a virtual_server: their addresses, ports and weights as hostgroup
//! nodes, their checkers merged into the service's one watch (reported where they differ),
//! connection limits, and the quorum and sorry server that depend on them.

use super::checker::{self, Check, Defaults, CHECKERS};
use super::findings::Report;
use super::lvs::lvs_method;
use super::pos::Pos;
use super::tree::Node;
use super::values::{boolean, int_in};
use crate::import::yaml_out::Y;
use std::net::IpAddr;

/// A real server as lbd will hold it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Member {
    pub address: IpAddr,
    /// The node's own port (NAT, when it differs from the virtual port).
    pub port: Option<u16>,
    pub weight: i64,
    /// Its own `inhibit_on_failure`: `inhibit` or `remove` (`None`: the service's).
    pub on_failure: Option<&'static str>,
}

/// `inhibit_on_failure [<BOOL>]` as lbd's `on_failure` word; reported when not a boolean.
pub(super) fn on_failure(c: &Node, report: &mut Report) -> Option<&'static str> {
    match boolean(c.arg(0)) {
        Some(true) => Some("inhibit"),
        Some(false) => Some("remove"),
        None => {
            report.dropped(&c.at, &c.keyword, "expected a boolean (on, off, true, ...)");
            None
        }
    }
}

/// A real server's uthreshold and lthreshold.
type Thresholds = (Option<i64>, Option<i64>);

pub(super) fn real_servers(
    real: &[&Node],
    vs: &Defaults,
    forwarding: &str,
    vport: Option<u16>,
    v6: bool,
    s: &mut Y,
    report: &mut Report,
) -> Vec<Member> {
    let mut members: Vec<Member> = Vec::new();
    let mut chosen: Option<Check> = None;
    let mut unchecked: Vec<&Pos> = Vec::new();
    let mut thresholds: Option<(Thresholds, &Pos)> = None;
    for rs in real {
        let Some(Ok(address)) = rs.arg(0).map(str::parse::<IpAddr>) else {
            report.dropped(&rs.at, "real_server", "not an IP address");
            continue;
        };
        let port = rs
            .arg(1)
            .and_then(|p| int_in(p, 1, 65535))
            .map(|p| p as u16);
        if forwarding != "tunnel" && address.is_ipv6() != v6 {
            report.dropped(&rs.at, "real_server", "its address family differs from the virtual server's (only tunnel forwarding may mix)");
            continue;
        }
        let mut d = vs.clone();
        let mut weight = 1;
        let mut inhibit = None;
        let mut upper = None;
        let mut lower = None;
        let mut checks = Vec::new();
        for c in rs.children() {
            let k = c.keyword.as_str();
            if CHECKERS.contains(&k) {
                checks.push(c);
                continue;
            }
            if d.take(c, report) {
                continue;
            }
            match k {
                "weight" => match c.arg(0).and_then(|w| int_in(w, 0, 65535)) {
                    Some(w) => weight = w,
                    None => report.dropped(&c.at, k, "lbd takes weights 0-65535"),
                },
                "inhibit_on_failure" => inhibit = on_failure(c, report),
                "notify_up" | "notify_down" => report.dropped(
                    &c.at,
                    k,
                    "lbd's alerts are Mon-style scripts from alert_dir, set on the service's watch",
                ),
                "uthreshold" => upper = c.arg(0).and_then(|v| int_in(v, 0, i64::from(u32::MAX))),
                "lthreshold" => lower = c.arg(0).and_then(|v| int_in(v, 0, i64::from(u32::MAX))),
                "lvs_method"
                    if lvs_method(c, &mut Report::default())
                        .is_some_and(|(f, _)| f == forwarding) => {}
                "lvs_method" => report.dropped(
                    &c.at,
                    k,
                    "lbd forwards all real servers of a service the same way",
                ),
                "smtp_alert" => match (vs.mail, super::values::boolean(c.arg(0))) {
                    (None, _) => report.ignored(
                        &c.at,
                        k,
                        "no smtp_server and notification_email: keepalived mails nothing",
                    ),
                    (Some(d), Some(b)) if b == d => {
                        report.ignored(&c.at, k, "the default of director.yaml's mail.on")
                    }
                    _ => report.dropped(
                        &c.at,
                        k,
                        "lbd mails every real server of a service or none (the service's smtp_alert)",
                    ),
                },
                "snmp_name" => report.ignored(&c.at, k, "lbd has no SNMP"),
                _ => report.dropped(
                    &c.at,
                    k,
                    "lbd has no equivalent of this real_server setting",
                ),
            }
        }
        let rs_port = port.or(vport);
        let translated: Vec<(Check, &Node)> = checks
            .iter()
            .filter_map(|c| checker::checker(c, &d, address, rs_port, report).map(|k| (k, *c)))
            .collect();
        let mut translated = translated.into_iter();
        match translated.next() {
            Some((check, _)) => {
                for (_, extra) in translated {
                    report.dropped(
                        &extra.at,
                        &extra.keyword,
                        "lbd runs one check per service: the first checker is used",
                    );
                }
                match &chosen {
                    None => chosen = Some(check),
                    Some(first) if !check.same_as(first) => report.approximated(&check.at, &rs.keyword, format!("lbd checks every real server of a service the same way: this one is checked like the one at {}", first.at)),
                    Some(_) => {}
                }
            }
            None => unchecked.push(&rs.at),
        }
        match &thresholds {
            None => thresholds = Some(((upper, lower), &rs.at)),
            Some((t, first)) if *t != (upper, lower) => report.approximated(&rs.at, "uthreshold/lthreshold", format!("lbd's connection limits are per service: those of the real server at {first} are used")),
            Some(_) => {}
        }
        let own_port = match forwarding {
            // Written even when it is the virtual port: two real servers may share an address.
            "nat" => port,
            _ => {
                if port.is_some() && port != vport {
                    report.ignored(
                        rs.arg_at(1),
                        "real_server port",
                        "with DR and TUN the real server gets the virtual port",
                    );
                }
                None
            }
        };
        let m = Member {
            address,
            port: own_port,
            weight,
            on_failure: inhibit,
        };
        if members.iter().any(|o| {
            o.address == m.address && (o.port.is_none() || m.port.is_none() || o.port == m.port)
        }) {
            report.dropped(&rs.at, "real_server", "the same real server twice");
            continue;
        }
        members.push(m);
    }
    if let Some(((upper, lower), _)) = thresholds {
        if let Some(u) = upper.filter(|u| *u > 0) {
            s.set("upper_threshold", Y::Int(u));
        }
        if let Some(l) = lower.filter(|l| *l > 0 && upper.is_none_or(|u| u == 0 || *l <= u)) {
            s.set("lower_threshold", Y::Int(l));
        }
    }
    let watch = match chosen {
        Some(c) => {
            for at in unchecked {
                report.approximated(
                    at,
                    "real_server",
                    format!("no checker lbd can run: checked like the one at {}", c.at),
                );
            }
            c.watch(report)
        }
        None => {
            if let Some(first) = real.first() {
                report.approximated(&first.at, "real_server", "no checker lbd can run (keepalived keeps unchecked real servers in the table): lbd pings them every delay_loop");
            }
            let c = Check {
                monitor: Y::str("ping"),
                interval: vs.delay_loop.unwrap_or(checker::DEFAULT_DELAY_LOOP),
                timeout: vs
                    .connect_timeout
                    .unwrap_or(checker::DEFAULT_CONNECT_TIMEOUT),
                fall: 1,
                retry_interval: None,
                source: None,
                at: real.first().map_or_else(
                    || Pos {
                        file: std::sync::Arc::from(std::path::Path::new("")),
                        line: 0,
                        column: 0,
                    },
                    |r| r.at.clone(),
                ),
            };
            c.watch(report)
        }
    };
    s.set("watch", watch);
    members.sort();
    members
}

/// keepalived's quorum is a least total weight of the passing real servers, with
/// `hysteresis`: `quorum: N` (lbd's count) when every real server weighs 1 and there is no
/// hysteresis, else `quorum: {weight: N, hysteresis: H}`.
pub(super) fn quorum_yaml(
    q: Option<&Node>,
    hysteresis: Option<&Node>,
    members: &[Member],
    s: &mut Y,
    report: &mut Report,
) {
    let max = i64::from(i32::MAX);
    let v = match q {
        None => 1,
        Some(q) => match q.arg(0).and_then(|v| int_in(v, 1, max)) {
            Some(v) => v,
            None => {
                report.dropped(&q.at, "quorum", format!("expected 1-{max}"));
                return;
            }
        },
    };
    let h = match hysteresis {
        None => 0,
        Some(h) => match h.arg(0).and_then(|v| int_in(v, 0, max)) {
            Some(0) => {
                report.ignored(&h.at, "hysteresis", "0, the default");
                0
            }
            Some(x) if x >= v => {
                report.dropped(
                    &h.at,
                    "hysteresis",
                    format!("{x} is not below the quorum {v}: the quorum could never be lost"),
                );
                return;
            }
            Some(x) => x,
            None => {
                report.dropped(&h.at, "hysteresis", format!("expected 0-{max}"));
                return;
            }
        },
    };
    let at = q.or(hysteresis).map(|n| &n.at);
    let total: i64 = members.iter().map(|m| m.weight).sum();
    if v + h > total {
        if let Some(at) = at {
            report.dropped(
                at,
                "quorum",
                format!(
                    "quorum {v} + hysteresis {h} is more than the real servers' total weight \
                     {total}: lbd refuses a quorum that could not come back"
                ),
            );
        }
    } else if members.iter().all(|m| m.weight == 1) && h == 0 {
        if v != 1 {
            s.set("quorum", Y::Int(v));
        }
    } else if (v, h) != (1, 0) {
        let mut m = Y::map();
        m.set("weight", Y::Int(v));
        if h > 0 {
            m.set("hysteresis", Y::Int(h));
        }
        s.set("quorum", m);
    }
}

pub(super) fn sorry_yaml(so: &Node, forwarding: &str, v6: bool, s: &mut Y, report: &mut Report) {
    let Some(Ok(a)) = so.arg(0).map(str::parse::<IpAddr>) else {
        report.dropped(&so.at, "sorry_server", "not an IP address");
        return;
    };
    if forwarding != "tunnel" && a.is_ipv6() != v6 {
        report.dropped(
            &so.at,
            "sorry_server",
            "its address family differs from the virtual server's",
        );
        return;
    }
    let mut m = Y::map();
    m.set("address", Y::str(a.to_string()));
    if let Some(p) = so.arg(1).and_then(|p| int_in(p, 1, 65535)) {
        m.set("port", Y::Int(p));
    }
    // Below quorum keepalived's sorry server replaces the real servers still passing.
    m.set("mode", Y::str("replace"));
    s.set("sorry_server", m);
    report.translated(
        &so.at,
        "sorry_server → the service's sorry_server (mode: replace)",
    );
}
