//! `global_defs`: the router id becomes the director's name, `vrrp_version` the default
//! VRRP version of the instances, `vrrp_rt_priority` and `lvs_sync_daemon` their lbd keys,
//! the mail settings (notification_email, notification_email_from, smtp_server,
//! smtp_helo_name, smtp_connect_timeout, smtp_alert / smtp_alert_checker) the `mail:` block;
//! script users, GARP timing and the rest are reported.

use super::findings::Report;
use super::pos::Pos;
use super::tree::Node;
use super::values::{boolean, int_in, lbd_name, timer};
use crate::import::yaml_out::Y;
use std::net::IpAddr;

/// What the translators need from global_defs.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    pub router_id: Option<(String, Pos)>,
    /// `vrrp_version`, and where it was set.
    pub vrrp_version: Option<(u8, Pos)>,
    pub rt_priority: Option<i64>,
    /// The `lvs_sync_daemon` statement.
    pub sync_daemon: Option<Node>,
    /// The global_defs blocks (for the header of director.yaml).
    pub origin: Vec<(Pos, u32, String)>,
    pub mail: MailGlobals,
    /// `vrrp_check_unicast_src`: keepalived then drops unicast adverts from non-peers, as lbd
    /// always does.
    pub check_unicast_src: bool,
    /// The `vrrp_garp_*` / `vrrp_gna_interval` defaults of every instance.
    pub garp: super::garp::Timing,
    /// `vmac_prefix`: the default VMAC names are `PREFIX.VRID`.
    pub vmac_prefix: Option<String>,
}

/// global_defs' mail settings.
#[derive(Debug, Clone, Default)]
pub struct MailGlobals {
    pub to: Vec<String>,
    pub from: Option<String>,
    /// Host and port (keepalived: `smtp_server ADDR [PORT]`).
    pub server: Option<(String, Option<u16>)>,
    pub helo: Option<String>,
    pub connect_timeout: Option<std::time::Duration>,
    pub alert: Option<bool>,
    pub alert_checker: Option<bool>,
    pub alert_vrrp: Option<bool>,
    /// Where the settings are (for the findings).
    pub at: Option<Pos>,
}

impl MailGlobals {
    /// keepalived mails only with a server and at least one recipient.
    pub fn active(&self) -> bool {
        self.server.is_some() && !self.to.is_empty()
    }

    /// What a real server mails unless it says otherwise (keepalived: yes, unless the global
    /// smtp_alert_checker / smtp_alert say otherwise).
    pub fn node_default(&self) -> bool {
        self.alert_checker.or(self.alert).unwrap_or(true)
    }

    /// What a virtual server's quorum mails unless it says otherwise (keepalived: no, unless
    /// the global smtp_alert_checker / smtp_alert say otherwise).
    pub fn quorum_default(&self) -> bool {
        self.alert_checker.or(self.alert).unwrap_or(false)
    }

    /// What a VRRP instance mails unless it says otherwise (keepalived: no, unless the global
    /// smtp_alert_vrrp / smtp_alert say otherwise).
    pub fn vrrp_default(&self) -> bool {
        self.alert_vrrp.or(self.alert).unwrap_or(false)
    }
}

const NO_VRRP_MAIL: &str = "lbd mails no VRRP transitions";
pub(super) const GARP: &str = "lbd has no equivalent of this gratuitous ARP / NA setting";
const SCRIPTS: &str =
    "lbd runs hooks and monitors as its own user and checks no script permissions";

/// Reads every global_defs block.
pub fn read(statements: &[Node], report: &mut Report) -> Globals {
    let mut g = Globals::default();
    for block in statements.iter().filter(|n| n.keyword == "global_defs") {
        g.origin
            .push((block.at.clone(), block.last_line(), "global_defs".into()));
        for n in block.children() {
            let k = n.keyword.as_str();
            match k {
                "router_id" | "lvs_id" => match n.arg(0) {
                    Some(id) => {
                        report.translated(&n.at, format!("router_id {id} → director.yaml name"));
                        g.router_id = Some((id.to_string(), n.at.clone()));
                    }
                    None => report.dropped(&n.at, k, "no value"),
                },
                "vrrp_version" => match n.arg(0).and_then(|v| int_in(v, 2, 3)) {
                    Some(v) => g.vrrp_version = Some((v as u8, n.at.clone())),
                    None => report.dropped(&n.at, k, "expected 2 or 3"),
                },
                "vrrp_rt_priority" => match n.arg(0).and_then(|v| int_in(v, 1, 99)) {
                    Some(v) => {
                        report.translated(
                            &n.at,
                            format!("vrrp_rt_priority {v} → director.yaml vrrp_rt_priority"),
                        );
                        g.rt_priority = Some(v);
                    }
                    None => report.dropped(&n.at, k, "lbd takes a real-time priority of 1-99"),
                },
                "lvs_sync_daemon" => g.sync_daemon = Some(n.clone()),
                "notification_email"
                | "notification_email_from"
                | "smtp_server"
                | "smtp_helo_name"
                | "smtp_connect_timeout"
                | "smtp_alert"
                | "smtp_alert_vrrp"
                | "smtp_alert_checker" => read_mail(n, &mut g.mail, report),
                "no_email_faults" => report.ignored(&n.at, k, NO_VRRP_MAIL),
                "email_faults" => report.dropped(&n.at, k, NO_VRRP_MAIL),
                "script_user" | "enable_script_security" => report.dropped(&n.at, k, SCRIPTS),
                k if g.garp.read(n, report) => match k {
                    "vrrp_higher_prio_send_advert" => {}
                    "vrrp_lower_prio_no_advert" => report.translated(
                        &n.at,
                        format!("{k} → every instance's lower_prio_no_advert"),
                    ),
                    _ => report.translated(&n.at, format!("{k} → every instance's garp")),
                },
                k if k.starts_with("vrrp_garp_") || k == "vrrp_min_garp" => {
                    report.dropped(&n.at, k, GARP)
                }
                "vrrp_mcast_group4" if n.arg(0) == Some("224.0.0.18") => {
                    report.ignored(&n.at, k, "the default group, lbd's too")
                }
                "vrrp_mcast_group6" if n.arg(0) == Some("ff02::12") => {
                    report.ignored(&n.at, k, "the default group, lbd's too")
                }
                "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
                    report.dropped(&n.at, k, "lbd advertises to 224.0.0.18 / ff02::12 only")
                }
                "vrrp_strict" => report.dropped(&n.at, k, "lbd has no strict RFC mode"),
                "vmac_prefix" => match n.arg(0) {
                    Some(p) => {
                        report.translated(&n.at, format!("vmac_prefix {p} → use_vmac: {p}.VRID"));
                        g.vmac_prefix = Some(p.to_string());
                    }
                    None => report.dropped(&n.at, k, "no value"),
                },
                "lvs_timeouts" => {
                    report.dropped(&n.at, k, "lbd leaves the IPVS timeouts as they are")
                }
                "lvs_flush" | "lvs_flush_on_stop" => report.dropped(
                    &n.at,
                    k,
                    "lbd never flushes the IPVS table: it adopts what is there and repairs drift",
                ),
                "vrrp_check_unicast_src" => {
                    g.check_unicast_src = true;
                    report.ignored(&n.at, k, "lbd always drops adverts from addresses not in an instance's unicast_peers");
                }
                "checker_log_all_failures" | "log_unknown_vrids" => {
                    report.dropped(&n.at, k, "lbd has no equivalent of this setting")
                }
                _ => report.dropped(&n.at, k, "lbd has no equivalent of this global setting"),
            }
        }
    }
    g
}

/// One mail setting of global_defs.
fn read_mail(n: &Node, m: &mut MailGlobals, report: &mut Report) {
    let k = n.keyword.as_str();
    m.at.get_or_insert_with(|| n.at.clone());
    // A value mail headers and SMTP commands can carry: no spaces, brackets or line ends.
    let plain = |a: &str| {
        a.matches('@').count() <= 1
            && !a.starts_with('@')
            && !a.ends_with('@')
            && !a
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
    };
    match k {
        "notification_email" => {
            let mut addresses: Vec<(&str, &Pos)> = Vec::new();
            for c in n.children() {
                addresses.push((c.keyword.as_str(), &c.at));
                addresses.extend((0..).map_while(|i| c.arg(i).map(|a| (a, &c.at))));
            }
            if addresses.is_empty() {
                addresses = (0..).map_while(|i| n.arg(i).map(|a| (a, &n.at))).collect();
            }
            for (a, at) in addresses {
                if plain(a) {
                    m.to.push(a.to_string());
                } else {
                    report.dropped(at, k, format!("`{a}` is not a plain mail address"));
                }
            }
            if !m.to.is_empty() {
                report.translated(&n.at, "notification_email → director.yaml mail.to");
            }
        }
        "notification_email_from" => match n.arg(0) {
            Some(a) if plain(a) => {
                m.from = Some(a.to_string());
                report.translated(&n.at, "notification_email_from → director.yaml mail.from");
            }
            _ => report.dropped(&n.at, k, "not a plain mail address"),
        },
        "smtp_server" => {
            let host = n.arg(0).filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
            });
            let port = match n.arg(1) {
                None => Some(None),
                Some(p) => int_in(p, 1, 65535).map(|p| Some(p as u16)),
            };
            match (host, port) {
                (Some(h), Some(p)) => {
                    m.server = Some((h.to_string(), p));
                    report.translated(&n.at, "smtp_server → director.yaml mail.smtp_server");
                }
                _ => report.dropped(&n.at, k, "expected ADDRESS [PORT]"),
            }
        }
        "smtp_helo_name" => match n.arg(0) {
            Some(h) if !h.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                m.helo = Some(h.to_string());
                report.translated(&n.at, "smtp_helo_name → director.yaml mail.helo_name");
            }
            _ => report.dropped(&n.at, k, "expected one name"),
        },
        "smtp_connect_timeout" => match n.arg(0).and_then(timer).filter(|d| !d.is_zero()) {
            Some(d) => {
                m.connect_timeout = Some(d);
                report.translated(
                    &n.at,
                    "smtp_connect_timeout → director.yaml mail.connect_timeout",
                );
            }
            None => report.dropped(&n.at, k, "expected a time in seconds above 0"),
        },
        "smtp_alert" | "smtp_alert_checker" | "smtp_alert_vrrp" => match boolean(n.arg(0)) {
            Some(b) => {
                match k {
                    "smtp_alert" => m.alert = Some(b),
                    "smtp_alert_checker" => m.alert_checker = Some(b),
                    _ => m.alert_vrrp = Some(b),
                }
                if k == "smtp_alert_vrrp" {
                    report.ignored(&n.at, k, "each vrrp_instance's mail is decided there");
                } else {
                    report.translated(&n.at, format!("{k} → director.yaml mail.on"));
                }
            }
            None => report.dropped(&n.at, k, "expected yes or no"),
        },
        _ => {}
    }
}

/// director.yaml's `mail:` block, when keepalived would mail (a server and a recipient; the
/// settings of one without the other are reported, as keepalived ignores them).
pub fn mail(g: &Globals, report: &mut Report) -> Option<Y> {
    let m = &g.mail;
    if !m.active() {
        if let Some(at) = &m.at {
            report.ignored(
                at,
                "smtp_server",
                "keepalived mails nothing without both smtp_server and notification_email",
            );
        }
        return None;
    }
    let (host, port) = m.server.as_ref()?;
    let mut y = Y::map();
    let server = match (port, host.contains(':')) {
        (None, _) => host.clone(),
        (Some(p), true) => format!("[{host}]:{p}"),
        (Some(p), false) => format!("{host}:{p}"),
    };
    y.set("smtp_server", Y::str(server));
    y.set(
        "to",
        Y::Seq(m.to.iter().map(|a| Y::str(a.clone())).collect()),
    );
    if let Some(f) = &m.from {
        y.set("from", Y::str(f.clone()));
    }
    if let Some(h) = &m.helo {
        y.set("helo_name", Y::str(h.clone()));
    }
    if let Some(d) = m.connect_timeout {
        y.set(
            "connect_timeout",
            Y::str(crate::duration::format_duration(d)),
        );
        // lbd's whole-dialogue limit must be at least the connection's.
        if d > crate::config::DEFAULT_MAIL_TIMEOUT {
            y.set("timeout", Y::str(crate::duration::format_duration(d)));
        }
    }
    let mut on = Vec::new();
    if m.node_default() {
        on.push(Y::str("node"));
    }
    if m.quorum_default() {
        on.push(Y::str("quorum"));
    }
    y.set("on", Y::Seq(on));
    Some(y)
}

/// The director.yaml mapping before the VRRP instances are added.
pub fn director(g: &Globals, default_name: &str) -> Y {
    let name = match &g.router_id {
        Some((id, _)) => lbd_name(id, "director"),
        None => lbd_name(default_name, "director"),
    };
    let mut d = Y::map();
    d.set_commented(
        "name",
        Y::str(name),
        g.router_id
            .is_none()
            .then(|| "no router_id in global_defs: the host name, as keepalived".to_string()),
    );
    if let Some(p) = g.rt_priority {
        d.set("vrrp_rt_priority", Y::Int(p));
    }
    d
}

/// `lvs_sync_daemon IF [INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group ADDR]` →
/// `sync_daemon`. The sync id defaults to the instance's VRID, as in keepalived.
pub fn sync_daemon(g: &Globals, vrids: &[(String, i64)], report: &mut Report) -> Option<Y> {
    let n = g.sync_daemon.as_ref()?;
    let Some(iface) = n.arg(0) else {
        report.dropped(&n.at, "lvs_sync_daemon", "no interface given");
        return None;
    };
    let mut s = Y::map();
    s.set("interface", Y::str(iface));
    let (mut instance, mut id, mut port, mut ttl, mut group) = (None, None, None, None, None);
    let mut i = 1;
    while let Some(word) = n.arg(i) {
        let value = n.arg(i + 1);
        match word {
            "id" => id = value.and_then(|v| int_in(v, 0, 255)),
            "port" => port = value.and_then(|v| int_in(v, 1, 65535)),
            "ttl" => ttl = value.and_then(|v| int_in(v, 1, 255)),
            "group" => group = value.and_then(|v| v.parse::<IpAddr>().ok()),
            "maxlen" => report.dropped(
                n.arg_at(i),
                "lvs_sync_daemon maxlen",
                "lbd leaves the sync message size to the kernel",
            ),
            other if instance.is_none() => {
                instance = Some(other.to_string());
                i += 1;
                continue;
            }
            other => report.dropped(n.arg_at(i), other, "not an lvs_sync_daemon option"),
        }
        i += 2;
    }
    let inst = match &instance {
        Some(name) => vrids.iter().find(|(n, _)| n == name),
        None => vrids.first(),
    };
    let sync_id = id.or(inst.map(|(_, v)| *v));
    let Some(sync_id) = sync_id.filter(|v| (0..=255).contains(v)) else {
        report.dropped(
            &n.at,
            "lvs_sync_daemon",
            "no sync id: give `id N` or a VRRP instance",
        );
        return None;
    };
    s.set("sync_id", Y::Int(sync_id));
    if let Some(g) = group {
        s.set("multicast_group", Y::str(g.to_string()));
    }
    if let Some(p) = port {
        s.set("port", Y::Int(p));
    }
    if let Some(t) = ttl {
        s.set("ttl", Y::Int(t));
    }
    if let Some((name, _)) = inst {
        s.set("instance", Y::str(lbd_name(name, "vrrp")));
    }
    report.translated(
        &n.at,
        format!("lvs_sync_daemon {iface} → director.yaml sync_daemon"),
    );
    Some(s)
}
