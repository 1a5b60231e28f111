//! The configuration's watches as the monitor runner wants them, each under its typed
//! [`WatchId`]: one [`WatchSpec`] per service with its targets (the nodes of the service's
//! hostgroup), one ping watch per hostgroup with a `ping:` block (each node pinged once, by the
//! first such group that holds it); which of them a reload restarts; and one [`NodeConfig`]
//! per node for its state machine. director.yaml's `mail:` adds the built-in mail alert to the
//! watches (and quorum changes) it covers.

use crate::config::{self, Config, Monitor, PingWatch, Service};
use crate::monitor::spec::{self as m, AlertSpec, CheckSpec, WatchId, WatchSpec};
use crate::monitor::status::StatusRanges;
use crate::monitor::Target;
use crate::node::{NodeConfig, ServiceConfig};
use std::collections::BTreeMap;

/// The port a network check goes to when the monitor names none: the service's real-server
/// port for a node without its own.
fn check_port(svc: &Service, own: Option<u16>) -> u16 {
    own.or(svc.port).unwrap_or(svc.virtual_service.port())
}

fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn check_spec(cfg: &Config, svc: &Service) -> CheckSpec {
    match &svc.watch.monitor {
        Monitor::Ping => CheckSpec::Ping(m::PingCheck { count: 1 }),
        Monitor::Tcp(t) => CheckSpec::Tcp(m::TcpCheck {
            port: check_port(svc, t.port),
            send: t.send.clone(),
            expect: t.expect.clone(),
        }),
        Monitor::Smtp(t) => CheckSpec::Smtp(m::SmtpCheck {
            port: check_port(svc, t.port),
            helo: t.helo.clone(),
        }),
        Monitor::Http(h) => {
            let spec = m::HttpCheck {
                port: Some(check_port(svc, h.port)),
                method: h.method.clone(),
                path: h.path.clone(),
                host: h.host.clone(),
                status: statuses(&h.expect_status),
                body: h.body.clone(),
                body_not: h.body_not.clone(),
                digest: h.digest.clone(),
                more_urls: (h.more_urls.iter())
                    .map(|u| m::HttpUrl {
                        path: u.path.clone(),
                        status: statuses(&u.expect_status),
                        body: u.body.clone(),
                        body_not: u.body_not.clone(),
                        digest: u.digest.clone(),
                    })
                    .collect(),
                verify: h.tls.as_ref().is_none_or(|t| t.verify),
                sni: h.tls.as_ref().and_then(|t| t.sni.clone()),
                ca_file: h.tls.as_ref().and_then(|t| t.ca_file.clone()),
                client_cert: h.tls.as_ref().and_then(|t| t.client_cert.clone()),
                client_key: h.tls.as_ref().and_then(|t| t.client_key.clone()),
                cert_expiry_warn_days: h
                    .tls
                    .as_ref()
                    .and_then(|t| t.cert_expiry_warn)
                    .map(|d| u32::try_from(d.as_secs() / 86_400).unwrap_or(u32::MAX))
                    .unwrap_or(14),
            };
            if h.tls.is_some() {
                CheckSpec::Https(spec)
            } else {
                CheckSpec::Http(spec)
            }
        }
        Monitor::Dns(d) => CheckSpec::Dns(m::DnsCheck {
            port: d.port.unwrap_or(53),
            name: d.name.clone(),
            qtype: word(&d.qtype),
            expect: d.expect.clone(),
            rcode: word(&d.rcode),
        }),
        Monitor::Udp(u) => CheckSpec::Udp(m::UdpCheck {
            port: check_port(svc, u.port),
            send: u.send.clone(),
            expect: u.expect.clone(),
        }),
        Monitor::Agent(a) => CheckSpec::Agent(m::AgentCheck {
            port: a.port,
            protocol: match a.protocol {
                config::AgentVia::Tcp => m::AgentProtocol::Tcp,
                config::AgentVia::Http => m::AgentProtocol::Http,
            },
            path: a.path.clone(),
        }),
        Monitor::Misc(x) => CheckSpec::Misc(m::MiscCheck {
            path: x.path.clone(),
            args: x.args.clone(),
            port: check_port(svc, x.port),
            dynamic: x.dynamic,
            user: x.user.clone(),
        }),
        Monitor::External(e) => CheckSpec::External(m::ExternalCheck {
            monitor: e.script.clone(),
            args: e.args.clone(),
            dir: cfg.director.monitor_dir.clone(),
            user: e.user.clone(),
        }),
    }
}

/// What a mail alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MailFor<'a> {
    /// The nodes of a service (or, without one, of a ping watch).
    Nodes(Option<&'a Service>),
    Quorum(&'a Service),
}

/// The mail alert director.yaml's `mail:` asks for, if it does: `mail.on` says which events,
/// a service's own `smtp_alert` wins for its nodes and quorum.
pub(super) fn mail_alert(cfg: &Config, about: MailFor) -> Option<AlertSpec> {
    let mail = cfg.director.mail.as_ref()?;
    let (wanted, svc) = match about {
        MailFor::Nodes(svc) => (mail.on.node, svc),
        MailFor::Quorum(svc) => (mail.on.quorum, Some(svc)),
    };
    if !svc.and_then(|s| s.smtp_alert).unwrap_or(wanted) {
        return None;
    }
    let ports = match about {
        MailFor::Nodes(Some(svc)) => cfg
            .hostgroup_of(svc)
            .map(|h| {
                h.nodes
                    .iter()
                    .map(|n| (n.name.clone(), svc.real_port(n)))
                    .collect()
            })
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    };
    Some(AlertSpec::Mail {
        mail: Box::new(crate::monitor::mail::MailSpec {
            server: mail.smtp_server.clone(),
            port: mail.port,
            from: mail.from.clone(),
            to: mail.to.clone(),
            helo: mail.helo_name.clone(),
            connect_timeout: mail.connect_timeout,
            timeout: mail.timeout,
            director: cfg.director.name.clone(),
            ports,
        }),
    })
}

/// The alerts of a list, and the mail alert if `mail:` covers them.
fn alerts_and_mail(
    cfg: &Config,
    list: &[config::Alert],
    mail: &Option<AlertSpec>,
) -> Vec<AlertSpec> {
    let mut v = alerts(cfg, list);
    v.extend(mail.iter().cloned());
    v
}

pub(super) fn alerts(cfg: &Config, list: &[config::Alert]) -> Vec<AlertSpec> {
    list.iter()
        .map(|a| {
            if a.script == "log" {
                AlertSpec::Log
            } else {
                AlertSpec::Script {
                    path: cfg.director.alert_dir.join(&a.script),
                    args: a.args.clone(),
                    user: a.user.clone(),
                }
            }
        })
        .collect()
}

fn statuses(ranges: &[config::StatusRange]) -> StatusRanges {
    StatusRanges(ranges.iter().map(|r| (r.low, r.high)).collect())
}

/// The watch of one service and the nodes it checks.
pub fn watch_of(cfg: &Config, svc: &Service) -> (WatchSpec, Vec<Target>) {
    let w = &svc.watch;
    let mail = mail_alert(cfg, MailFor::Nodes(Some(svc)));
    let spec = WatchSpec {
        service: svc.name.clone(),
        group: svc.hostgroup.clone(),
        monitor: check_spec(cfg, svc),
        interval: w.interval,
        randskew: w.randskew,
        timeout: w.timeout,
        failed_interval: Some(w.failed_interval),
        retry_interval: w.retry_interval,
        source: w.source,
        rise: w.rise,
        fall: w.fall,
        alert: alerts_and_mail(cfg, &w.alert, &mail),
        upalert: alerts_and_mail(cfg, &w.upalert, &mail),
        numalerts: w.numalerts.unwrap_or(0),
        alert_timeout: w.alert_timeout,
    };
    let targets = cfg
        .hostgroup_of(svc)
        .map(|h| {
            h.nodes
                .iter()
                .map(|n| Target {
                    node: n.name.clone(),
                    addr: n.address,
                })
                .collect()
        })
        .unwrap_or_default();
    (spec, targets)
}

/// [`Config::pinged_nodes`], owned: node name → (group, settings, address).
fn pinged_nodes(cfg: &Config) -> BTreeMap<String, (String, PingWatch, std::net::IpAddr)> {
    cfg.pinged_nodes()
        .into_iter()
        .map(|(node, (group, p, n))| (node.to_owned(), (group.to_owned(), p.clone(), n.address)))
        .collect()
}

/// The ping watches: one per pinging hostgroup with the nodes it pings (each node in one watch
/// only, so a node serving two services is pinged once). Debouncing (rise/fall) is the node
/// machine's, so the watch itself counts every result.
pub fn ping_watches(cfg: &Config) -> BTreeMap<WatchId, (WatchSpec, Vec<Target>)> {
    let mut out: BTreeMap<WatchId, (WatchSpec, Vec<Target>)> = BTreeMap::new();
    for (node, (group, p, addr)) in pinged_nodes(cfg) {
        let id = WatchId::Ping(group.clone());
        let entry = out.entry(id).or_insert_with(|| {
            let mut spec = WatchSpec::new(
                crate::node::PING_WATCH,
                group.clone(),
                CheckSpec::Ping(m::PingCheck { count: 1 }),
            );
            spec.interval = p.interval;
            spec.timeout = p.timeout;
            spec.failed_interval = Some(p.interval);
            // The node machine limits ping alerts (`ping_numalerts`); the watch runs each one.
            spec.numalerts = 0;
            let mail = mail_alert(cfg, MailFor::Nodes(None));
            spec.alert = alerts_and_mail(cfg, &p.alert, &mail);
            spec.upalert = alerts_and_mail(cfg, &p.upalert, &mail);
            spec.alert_timeout = p.alert_timeout;
            (spec, Vec::new())
        });
        entry.1.push(Target { node, addr });
    }
    out
}

/// The watches of a configuration: one per service, one per pinging hostgroup.
pub type Watches = BTreeMap<WatchId, (WatchSpec, Vec<Target>)>;

/// The watches of `cfg`.
pub fn watches(cfg: &Config) -> Watches {
    let mut w: Watches = cfg
        .services
        .iter()
        .map(|s| (WatchId::Service(s.name.clone()), watch_of(cfg, s)))
        .collect();
    w.extend(ping_watches(cfg));
    w
}

/// The ping watch that pings `node`.
pub fn ping_watch_of(watches: &Watches, node: &str) -> Option<WatchId> {
    watches.iter().find_map(|(id, (_, targets))| {
        (matches!(id, WatchId::Ping(_)) && targets.iter().any(|t| t.node == node))
            .then(|| id.clone())
    })
}

/// Which watches a reload stops and starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchChanges {
    /// Running watches to stop (removed or changed).
    pub stop: Vec<WatchId>,
    /// Watches to start (new or changed).
    pub start: Vec<WatchId>,
    /// Watches left running as they are.
    pub unchanged: usize,
}

/// Compares the running watches with the new ones.
pub fn watch_changes(old: &Watches, new: &Watches) -> WatchChanges {
    let mut c = WatchChanges::default();
    for (id, w) in old {
        match new.get(id) {
            Some(n) if n == w => c.unchanged += 1,
            _ => c.stop.push(id.clone()),
        }
    }
    for (id, w) in new {
        if old.get(id) != Some(w) {
            c.start.push(id.clone());
        }
    }
    c
}

/// One state machine configuration per node name, with every service whose hostgroup holds
/// the node, and the node's ping settings (see [`ping_watches`]); a node no hostgroup pings
/// (`ping: false`) counts as always reachable, so a failing service check makes it `failed`.
pub fn node_configs(cfg: &Config) -> BTreeMap<String, NodeConfig> {
    let pinged = pinged_nodes(cfg);
    let mut out: BTreeMap<String, NodeConfig> = BTreeMap::new();
    for svc in &cfg.services {
        for node in cfg
            .hostgroup_of(svc)
            .map(|h| h.nodes.as_slice())
            .unwrap_or_default()
        {
            let nc = out.entry(node.name.clone()).or_insert_with(|| {
                let mut nc = NodeConfig::new(node.name.clone(), Vec::new());
                match pinged.get(&node.name) {
                    Some((_, p, _)) => {
                        nc.ping_rise = p.rise;
                        nc.ping_fall = p.fall;
                        nc.ping_numalerts = p.numalerts.unwrap_or(1);
                    }
                    None => nc.ping = false,
                }
                nc
            });
            nc.services.push(ServiceConfig {
                name: svc.name.clone(),
                rise: svc.watch.rise,
                fall: svc.watch.fall,
                weight: node.weight,
                numalerts: svc.watch.numalerts.unwrap_or(0),
                retry: svc.watch.retry_interval.is_some(),
            });
        }
    }
    out
}
