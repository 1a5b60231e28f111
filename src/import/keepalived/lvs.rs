//! `virtual_server` → `services/NAME.yaml` and its real servers → `hostgroups/NAME.yaml`
//! (one group per distinct set of real servers, shared by the services that have the same
//! set). The real servers' checkers become the service's one watch when they agree; what
//! lbd's model has no room for (per-real-server differences) is reported.

use super::checker::Defaults;
use super::findings::Report;
use super::pos::Pos;
use super::real_server::{on_failure, quorum_yaml, real_servers, sorry_yaml, Member};
use super::tree::Node;
use super::values::{address_name, int_in, lbd_name};
use super::OutFile;
use crate::config::{format_duration, Scheduler};
use crate::import::yaml_out::Y;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

struct Group {
    name: String,
    members: Vec<Member>,
    origin: Vec<(Pos, u32, String)>,
}

/// Translates every virtual_server: the hostgroup files, then the service files.
pub fn translate(
    statements: &[Node],
    mail: &super::global::MailGlobals,
    report: &mut Report,
) -> Vec<OutFile> {
    let ssl = ssl_client(statements, report);
    let mut groups: Vec<Group> = Vec::new();
    let mut services = Vec::new();
    let mut names = std::collections::HashSet::new();
    let mut virtuals = std::collections::HashSet::new();
    for n in statements.iter().filter(|n| n.keyword == "virtual_server") {
        let Some((base, mut service, members)) = virtual_server(n, &ssl, mail, report) else {
            continue;
        };
        let key = service.get("virtual").map(|v| v.render());
        if !virtuals.insert(key) {
            report.dropped(
                &n.at,
                "virtual_server",
                "the same virtual service is defined before: lbd takes one definition",
            );
            continue;
        }
        let mut name = base.clone();
        let mut i = 2;
        while !names.insert(name.clone()) {
            name = format!("{base}-{i}");
            i += 1;
        }
        let label = format!(
            "virtual_server {}",
            n.args
                .iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let origin = (n.at.clone(), n.last_line(), label.clone());
        let group = match groups.iter_mut().find(|g| g.members == members) {
            Some(g) => {
                g.origin.push(origin.clone());
                g.name.clone()
            }
            None => {
                groups.push(Group {
                    name: name.clone(),
                    members,
                    origin: vec![origin.clone()],
                });
                name.clone()
            }
        };
        if let Y::Map(entries) = &mut service {
            let at = entries
                .iter()
                .position(|e| e.key == "forwarding")
                .map_or(entries.len(), |i| i + 1);
            entries.insert(
                at.min(entries.len()),
                crate::import::yaml_out::Entry {
                    key: "hostgroup".into(),
                    value: Y::str(&group),
                    comment: None,
                },
            );
        }
        report.translated(
            &n.at,
            format!("{label} → services/{name}.yaml, hostgroups/{group}.yaml"),
        );
        services.push(OutFile {
            tool: "keepalived",
            path: format!("services/{name}.yaml"),
            origin: vec![origin],
            body: service,
        });
    }
    let mut out: Vec<OutFile> = groups.into_iter().map(hostgroup).collect();
    out.extend(services);
    out
}

fn hostgroup(g: Group) -> OutFile {
    let mut nodes = Vec::new();
    for m in &g.members {
        let twice = g.members.iter().filter(|o| o.address == m.address).count() > 1;
        let mut name = address_name(&m.address);
        if let (true, Some(p)) = (twice, m.port) {
            name = format!("{name}-{p}");
        }
        let mut y = Y::map();
        y.set("name", Y::str(name))
            .set("address", Y::str(m.address.to_string()));
        if m.weight != 1 {
            y.set("weight", Y::Int(m.weight));
        }
        if let Some(p) = m.port {
            y.set("port", Y::Int(i64::from(p)));
        }
        if let Some(word) = m.on_failure {
            y.set("on_failure", Y::str(word));
        }
        nodes.push(y);
    }
    let mut body = Y::map();
    body.set_commented(
        "ping",
        Y::Bool(false),
        Some("keepalived has no ping liveness: only the service's checks decide".into()),
    );
    body.set("nodes", Y::Seq(nodes));
    OutFile {
        tool: "keepalived",
        path: format!("hostgroups/{}.yaml", g.name),
        origin: g.origin,
        body,
    }
}

/// What a virtual server header says.
enum Head {
    Address(IpAddr, u16),
    Fwmark(i64),
}

/// The service (without `hostgroup`), its name and its real servers; `None` if lbd cannot
/// hold it at all (reported).
/// The global `SSL` block: the client certificate and key SSL_GET checkers send.
fn ssl_client(statements: &[Node], report: &mut Report) -> Option<(String, String)> {
    let block = statements.iter().find(|n| n.keyword == "SSL")?;
    let (mut cert, mut key) = (None, None);
    for c in block.children() {
        let k = c.keyword.as_str();
        let path = c.arg(0).filter(|p| p.starts_with('/')).map(str::to_string);
        match k {
            "certificate" | "key" if path.is_none() => {
                report.dropped(&c.at, k, "lbd needs an absolute path")
            }
            "certificate" => cert = path,
            "key" => key = path,
            "ca" => report.ignored(
                &c.at,
                k,
                "keepalived's SSL_GET does not verify the server; neither does the import",
            ),
            "password" => report.dropped(&c.at, k, "lbd reads unencrypted PEM keys only"),
            _ => report.dropped(&c.at, k, "lbd has no equivalent of this SSL option"),
        }
    }
    match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => {
            report.dropped(
                &block.at,
                "SSL",
                "a client certificate needs both certificate and key",
            );
            None
        }
    }
}

fn virtual_server(
    n: &Node,
    ssl: &Option<(String, String)>,
    mail: &super::global::MailGlobals,
    report: &mut Report,
) -> Option<(String, Y, Vec<Member>)> {
    let head = match (n.arg(0), n.arg(1)) {
        (Some("group"), _) => {
            report.dropped(
                &n.at,
                "virtual_server group",
                "lbd has no virtual server groups: write one virtual_server per address",
            );
            return None;
        }
        (Some("fwmark"), Some(m)) => match int_in(m, 1, i64::from(u32::MAX)) {
            Some(m) => Head::Fwmark(m),
            None => {
                report.dropped(
                    n.arg_at(1),
                    "virtual_server fwmark",
                    "expected a mark 1-4294967295",
                );
                return None;
            }
        },
        (Some(a), port) => {
            let Ok(addr) = a.parse::<IpAddr>() else {
                report.dropped(n.arg_at(0), "virtual_server", "not an IP address");
                return None;
            };
            match port.and_then(|p| int_in(p, 1, 65535)) {
                Some(p) => Head::Address(addr, p as u16),
                None => {
                    report.dropped(
                        &n.at,
                        "virtual_server",
                        "lbd needs a port 1-65535 (it has no all-ports persistent service)",
                    );
                    return None;
                }
            }
        }
        (None, _) => {
            report.dropped(&n.at, "virtual_server", "no address or fwmark");
            return None;
        }
    };
    let mut d = Defaults {
        ssl_client: ssl.clone(),
        mail: mail.active().then(|| mail.node_default()),
        ..Defaults::default()
    };
    let mut smtp_alert: Option<&Node> = None;
    let mut scheduler = None;
    let mut flags: Vec<(&str, &Pos)> = Vec::new();
    let mut method: Option<(&'static str, Option<Y>)> = None;
    let mut persistence: Option<Duration> = None;
    let mut granularity: Option<&Node> = None;
    let mut protocol = None;
    let mut one_packet: Option<&Node> = None;
    let mut sorry: Option<&Node> = None;
    let mut quorum: Option<&Node> = None;
    let mut hysteresis: Option<&Node> = None;
    let mut inet6 = false;
    let mut inhibit = None;
    let mut real: Vec<&Node> = Vec::new();
    for c in n.children() {
        let k = c.keyword.as_str();
        if d.take(c, report) {
            continue;
        }
        match k {
            "lb_algo" | "lvs_sched" => match c.arg(0).map(str::to_ascii_lowercase) {
                Some(s) if Scheduler::ALL.iter().any(|(name, _)| *name == s) => scheduler = Some(s),
                _ => report.dropped(&c.at, k, "not a scheduler lbd knows"),
            },
            "lb_kind" | "lvs_method" => method = lvs_method(c, report),
            "persistence_timeout" => match c.arg(0) {
                None => persistence = Some(Duration::from_secs(360)),
                Some(t) => match int_in(t, 1, i64::from(u32::MAX)) {
                    Some(t) => persistence = Some(Duration::from_secs(t as u64)),
                    None => report.dropped(&c.at, k, "expected whole seconds"),
                },
            },
            "persistence_granularity" => granularity = Some(c),
            "persistence_engine" => report.dropped(&c.at, k, "lbd has no persistence engines"),
            "protocol" => match c.arg(0).map(str::to_ascii_uppercase).as_deref() {
                Some("TCP") => protocol = Some("tcp"),
                Some("UDP") => protocol = Some("udp"),
                Some("SCTP") => protocol = Some("sctp"),
                _ => report.dropped(&c.at, k, "expected TCP, UDP or SCTP"),
            },
            "ops" => one_packet = Some(c),
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => flags.push((k, &c.at)),
            "flag-1" | "flag-2" | "flag-3" | "hashed" => report.dropped(
                &c.at,
                k,
                "lbd sets only sh-port, sh-fallback, mh-port and mh-fallback",
            ),
            "sorry_server" => sorry = Some(c),
            "sorry_server_inhibit" | "sorry_server_lvs_method" => report.dropped(
                &c.at,
                k,
                "lbd's sorry server has the service's forwarding and is removed, not inhibited",
            ),
            "quorum" => quorum = Some(c),
            "hysteresis" => hysteresis = Some(c),
            "quorum_up" | "quorum_down" => report.dropped(
                &c.at,
                k,
                "lbd's quorum_up/quorum_down are alert scripts in alert_dir called with Mon's arguments, not a command line",
            ),
            "ha_suspend" => report.dropped(
                &c.at,
                k,
                "lbd checks real servers whether or not it holds the VIP",
            ),
            "omega" => report.dropped(
                &c.at,
                k,
                "lbd runs no quorum or notify scripts when it stops",
            ),
"smtp_alert" => smtp_alert = Some(c),
            "snmp_name" => report.ignored(&c.at, k, "lbd has no SNMP"),
            "ip_family" => inet6 = c.arg(0) == Some("inet6"),
            "inhibit_on_failure" => inhibit = on_failure(c, report),
            "real_server" => real.push(c),
            _ => report.dropped(
                &c.at,
                k,
                "lbd has no equivalent of this virtual_server setting",
            ),
        }
    }
    let (forwarding, tunnel) = method.unwrap_or(("nat", None));
    if protocol.is_none() && matches!(head, Head::Address(..)) {
        report.note(format!(
            "{}: virtual_server without `protocol`: keepalived 2.2 defaults to UDP, so the service is written as udp",
            n.at
        ));
    }
    let protocol = protocol.unwrap_or("udp");
    let (vport, v6, name, virtual_y) = match head {
        Head::Address(a, p) => {
            let mut v = Y::map();
            v.set("protocol", Y::str(protocol))
                .set("address", Y::str(a.to_string()))
                .set("port", Y::Int(i64::from(p)));
            (
                Some(p),
                a.is_ipv6(),
                format!("{protocol}-{}-{p}", address_name(&a)),
                v,
            )
        }
        Head::Fwmark(m) => {
            let mut v = Y::map();
            v.set("fwmark", Y::Int(m));
            if inet6 {
                v.set("family", Y::str("ipv6"));
            }
            (
                None,
                inet6,
                format!("fwmark-{m}{}", if inet6 { "-ipv6" } else { "" }),
                v,
            )
        }
    };
    let mut s = Y::map();
    s.set("virtual", virtual_y);
    if let Some(sched) = &scheduler {
        s.set("scheduler", Y::str(sched));
        let ok: Vec<Y> = flags
            .iter()
            .filter_map(|(f, at)| {
                if f.starts_with(sched.as_str()) && f.as_bytes().get(sched.len()) == Some(&b'-') {
                    Some(Y::str(*f))
                } else {
                    report.dropped(at, f, format!("does not apply to scheduler {sched}"));
                    None
                }
            })
            .collect();
        if !ok.is_empty() {
            s.set("scheduler_flags", Y::Seq(ok));
        }
    } else {
        for (f, at) in &flags {
            report.dropped(
                at,
                f,
                "no lb_algo: lbd's default scheduler wlc takes no flags",
            );
        }
    }
    if let Some(t) = persistence {
        let mut p = Y::map();
        p.set("timeout", Y::str(format_duration(t)));
        if let Some(g) = granularity {
            match g.arg(0).filter(|m| netmask_ok(m, v6)) {
                Some(m) => {
                    p.set("netmask", Y::str(m));
                }
                None => report.dropped(&g.at, "persistence_granularity", "not a netmask lbd takes"),
            }
        }
        s.set("persistent", p);
    } else if let Some(g) = granularity {
        report.dropped(
            &g.at,
            "persistence_granularity",
            "no persistence_timeout: the service is not persistent",
        );
    }
    if let Some(o) = one_packet {
        if protocol == "udp" && matches!(head, Head::Address(..)) {
            s.set("one_packet", Y::Bool(true));
        } else {
            report.dropped(
                &o.at,
                "ops",
                "one-packet scheduling is for UDP services only",
            );
        }
    }
    s.set("forwarding", Y::str(forwarding));
    if let Some(t) = tunnel {
        s.set("tunnel", t);
    }
    if let Some(word) = inhibit.filter(|w| *w != "remove") {
        s.set("on_failure", Y::str(word));
    }
    if let Some(c) = smtp_alert {
        vs_smtp_alert(c, mail, &mut s, report);
    }
    let members = real_servers(&real, &d, forwarding, vport, v6, &mut s, report);
    if members.is_empty() {
        report.dropped(
            &n.at,
            "virtual_server",
            "no real server lbd can hold: the service is not written",
        );
        return None;
    }
    if quorum.is_some() || hysteresis.is_some() {
        quorum_yaml(quorum, hysteresis, &members, &mut s, report);
    }
    if let Some(so) = sorry {
        sorry_yaml(so, forwarding, v6, &mut s, report);
    }
    let watch = s.get("watch").cloned();
    if let (Some(w), Y::Map(entries)) = (watch, &mut s) {
        // The watch goes last, after the keys added above.
        entries.retain(|e| e.key != "watch");
        entries.push(crate::import::yaml_out::Entry {
            key: "watch".into(),
            value: w,
            comment: None,
        });
    }
    Some((lbd_name(&name, "service"), s, members))
}

/// A virtual_server's `smtp_alert` (its quorum's mail) → the service's `smtp_alert`, which
/// lbd applies to the real servers' mail too: written where that agrees with what keepalived
/// mails for them, reported otherwise.
fn vs_smtp_alert(c: &Node, mail: &super::global::MailGlobals, s: &mut Y, report: &mut Report) {
    let k = "smtp_alert";
    let Some(want) = super::values::boolean(c.arg(0)) else {
        report.dropped(&c.at, k, "expected yes or no");
        return;
    };
    if !mail.active() {
        report.ignored(
            &c.at,
            k,
            "no smtp_server and notification_email: keepalived mails nothing",
        );
    } else if want == mail.quorum_default() {
        report.ignored(&c.at, k, "the default of director.yaml's mail.on");
    } else if want == mail.node_default() {
        s.set(k, Y::Bool(want));
        report.translated(&c.at, format!("smtp_alert → service smtp_alert: {want}"));
    } else {
        report.dropped(
            &c.at,
            k,
            "lbd's service smtp_alert covers its real servers too, which keepalived mails otherwise",
        );
    }
}

fn netmask_ok(m: &str, v6: bool) -> bool {
    let m = m.trim_start_matches('/');
    match m.parse::<u32>() {
        Ok(p) => (1..=if v6 { 128 } else { 32 }).contains(&p),
        Err(_) if !v6 => m.parse::<Ipv4Addr>().is_ok_and(|a| {
            let b = u32::from(a);
            b != 0 && b.leading_ones() + b.trailing_zeros() == 32
        }),
        Err(_) => false,
    }
}

/// `NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
pub(super) fn lvs_method(c: &Node, report: &mut Report) -> Option<(&'static str, Option<Y>)> {
    match c.arg(0).map(str::to_ascii_uppercase).as_deref() {
        Some("NAT") => Some(("nat", None)),
        Some("DR") => Some(("dr", None)),
        Some("TUN") => {
            let mut t = Y::map();
            let mut i = 1;
            while let Some(w) = c.arg(i) {
                match (w, c.arg(i + 1)) {
                    ("type", Some(kind @ ("ipip" | "gue" | "gre"))) => {
                        t.set("type", Y::str(kind));
                        i += 2;
                    }
                    ("port", Some(p)) if int_in(p, 1, 65535).is_some() => {
                        t.set("port", Y::Int(int_in(p, 1, 65535).unwrap_or(0)));
                        i += 2;
                    }
                    (other, _) => {
                        report.dropped(
                            c.arg_at(i),
                            other,
                            "lbd's tunnels have no checksum options",
                        );
                        i += 1;
                    }
                }
            }
            let t = (t != Y::map()).then_some(t);
            Some(("tunnel", t))
        }
        _ => {
            report.dropped(&c.at, &c.keyword, "expected NAT, DR or TUN");
            None
        }
    }
}
