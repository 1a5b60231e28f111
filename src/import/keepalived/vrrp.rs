//! `vrrp_instance` → one entry of director.yaml's `vrrp:` list: interface, VRID, priority,
//! advert interval, preemption, VIPs (also the excluded ones), unicast peers, tracked
//! interfaces and notify scripts; the VRRP version and authentication as far as this lbd
//! takes them ([`Lbd`]).

use super::findings::Report;
use super::global::Globals;
use super::tree::Node;
use super::values::{cidr, int_in, lbd_name, timer, to_millis};
use super::Lbd;
use crate::config::format_duration;
use crate::import::yaml_out::Y;
use std::net::IpAddr;
use std::time::Duration;

pub(super) const NOTIFY_SLOTS: [&str; 4] = ["master", "backup", "fault", "stop"];

/// What the instances translated so far hold: lbd refuses a VIP in two instances, a VRID
/// twice on one interface and a name twice.
#[derive(Debug, Default)]
pub struct Seen {
    vips: std::collections::HashSet<IpAddr>,
    vrids: std::collections::HashSet<(String, i64)>,
    names: std::collections::HashSet<String>,
}

/// Translates one instance: its YAML and its VRID, or `None` (reported) when lbd cannot run
/// it at all.
pub fn instance(
    n: &Node,
    g: &Globals,
    lbd: &Lbd,
    defined: &super::track::Defined,
    seen: &mut Seen,
    report: &mut Report,
) -> Option<(Y, i64)> {
    let Some(kname) = n.arg(0) else {
        report.dropped(&n.at, "vrrp_instance", "the instance has no name");
        return None;
    };
    let name = lbd_name(kname, "vrrp");
    let mut interface = None;
    let mut vrid = None;
    let mut priority = 100;
    let mut advert = None;
    let mut preempt = true;
    let mut preempt_delay = None;
    let mut vips: Vec<Vip> = Vec::new();
    let mut peers = Vec::new();
    let mut src_ip: Option<(IpAddr, &Node)> = None;
    let mut garp = super::garp::Timing::default();
    let mut track: Vec<(String, Option<i64>, &Node)> = Vec::new();
    let mut track_node = None;
    let (mut scripts, mut files, mut processes) = (Vec::new(), Vec::new(), Vec::new());
    let mut notify: [Option<String>; 4] = Default::default();
    let mut generic_notify = None;
    let mut version = g.vrrp_version.as_ref().map(|(v, at)| (*v, at.clone()));
    let mut auth: Option<&Node> = None;
    let mut smtp_alert = None;
    let mut vmac = super::vmac::VmacStatements::default();
    for c in n.children() {
        let k = c.keyword.as_str();
        match k {
            "interface" => interface = c.arg(0).map(str::to_string),
            "virtual_router_id" => match c.arg(0).and_then(|v| int_in(v, 1, 255)) {
                Some(v) => vrid = Some(v),
                None => report.dropped(&c.at, k, "expected 1-255"),
            },
            "priority" => match c.arg(0).and_then(|v| int_in(v, 1, 255)) {
                Some(v) => priority = v,
                None => report.dropped(&c.at, k, "expected 1-255"),
            },
            "advert_int" => match c.arg(0).and_then(timer) {
                Some(d) => advert = Some((d, c)),
                None => report.dropped(&c.at, k, "not a time in seconds"),
            },
            "nopreempt" => preempt = false,
            "preempt" => preempt = true,
            "preempt_delay" => match c.arg(0).and_then(timer) {
                Some(d) => preempt_delay = Some(to_millis(d)),
                None => report.dropped(&c.at, k, "not a time in seconds"),
            },
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                for v in c.children() {
                    if let Some(vip) = vip(v, k == "virtual_ipaddress_excluded", report) {
                        vips.push(vip);
                    }
                }
            }
            "unicast_peer" => {
                for p in c.children() {
                    match p.keyword.parse::<IpAddr>() {
                        Ok(a) => peers.push(a),
                        Err(_) => report.dropped(&p.at, &p.keyword, "not an IP address"),
                    }
                    if !p.args.is_empty() {
                        report.dropped(
                            p.arg_at(0),
                            &p.args[0].text,
                            "lbd checks no TTL of unicast adverts",
                        );
                    }
                }
            }
            "track_interface" => {
                track_node = Some(c);
                for t in c.children() {
                    match (
                        t.arg(0),
                        t.arg(1).and_then(|w| int_in(w, -254, 254)),
                        t.arg(2),
                    ) {
                        (None, _, _) => track.push((t.keyword.clone(), None, t)),
                        (Some("weight"), Some(w), None) => {
                            track.push((t.keyword.clone(), Some(w), t))
                        }
                        _ => report.dropped(
                            &t.at,
                            &t.keyword,
                            "lbd takes `IFNAME` or `IFNAME weight -N` only",
                        ),
                    }
                }
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => {
                let slot = NOTIFY_SLOTS
                    .iter()
                    .position(|s| k.ends_with(s))
                    .unwrap_or(0);
                notify[slot] = hook(c, report);
            }
            "notify" => generic_notify = hook(c, report).map(|h| (h, c)),
            "version" => match c.arg(0).and_then(|v| int_in(v, 2, 3)) {
                Some(v) => version = Some((v as u8, c.at.clone())),
                None => report.dropped(&c.at, k, "expected 2 or 3"),
            },
            "authentication" => auth = Some(c),
            "state" => report.ignored(
                &c.at,
                k,
                "lbd starts every instance as backup and lets the priorities decide",
            ),
            "accept" => report.ignored(&c.at, k, "lbd always accepts packets to its VIPs"),
            "debug" | "native_ipv6" | "kernel_rx_buf_size" | "linkbeat_use_polling" => {
                report.ignored(&c.at, k, "no effect on what lbd does")
            }
            "track_script" => {
                scripts.extend(super::track::references(c, &defined.script_names, report))
            }
            "track_file" => files.extend(super::track::references(c, &defined.file_names, report)),
            "track_process" => {
                processes.extend(super::track::references(c, &defined.process_names, report))
            }
            "track_bfd" | "track_src_ip" => report.dropped(
                &c.at,
                k,
                "lbd's VRRP follows interfaces and lbd's own services only",
            ),
            _ if vmac.read(c) => {}
            "use_vmac_addr" | "use_ipvlan" => report.dropped(
                &c.at,
                k,
                "lbd makes a VMAC on the instance's interface only (use_vmac)",
            ),
            _ if garp.read(c, report) => {}
            k if k.starts_with("garp_") => report.dropped(&c.at, k, super::global::GARP),
            "smtp_alert" => smtp_alert = Some((super::values::boolean(c.arg(0)), &c.at)),
            "unicast_src_ip" | "mcast_src_ip" => match c.arg(0).map(str::parse::<IpAddr>) {
                Some(Ok(a)) => src_ip = Some((a, c)),
                _ => report.dropped(&c.at, k, "not an IP address"),
            },
            "virtual_routes" | "virtual_rules" => {
                report.dropped(&c.at, k, "lbd moves addresses only, no routes or rules")
            }
            _ => report.dropped(&c.at, k, "lbd has no equivalent of this instance setting"),
        }
    }
    if g.mail.active() {
        let at = smtp_alert.map_or(&n.at, |(_, at)| at);
        match smtp_alert.map_or(Some(g.mail.vrrp_default()), |(b, _)| b) {
            Some(true) => report.dropped(at, "smtp_alert", "lbd mails no VRRP transitions"),
            Some(false) if smtp_alert.is_some() => {
                report.ignored(at, "smtp_alert", "lbd mails no VRRP transitions either")
            }
            Some(false) => {}
            None => report.dropped(at, "smtp_alert", "expected yes or no"),
        }
    } else if let Some((_, at)) = smtp_alert {
        report.ignored(
            at,
            "smtp_alert",
            "no smtp_server and notification_email: keepalived mails nothing",
        );
    }
    let (Some(interface), Some(vrid)) = (interface, vrid) else {
        report.dropped(&n.at, "vrrp_instance", format!("instance {kname} lacks an interface or a virtual_router_id, which lbd needs: not written"));
        return None;
    };
    // The same address twice in one instance: keepalived adds it once.
    let mut mine = std::collections::BTreeSet::new();
    vips.retain(|(a, _, _, _, at, _)| {
        let once = mine.insert(*a);
        if !once {
            report.ignored(
                at,
                "virtual_ipaddress",
                format!("{a} is listed twice: added once"),
            );
        }
        once
    });
    vips.retain(|(a, _, _, _, at, _)| {
        let first = seen.vips.insert(*a);
        if !first {
            report.dropped(
                at,
                "virtual_ipaddress",
                format!("{a} is carried by another instance: lbd carries a VIP in one place"),
            );
        }
        first
    });
    if !seen.vrids.insert((interface.clone(), vrid)) {
        report.dropped(
            &n.at,
            "virtual_router_id",
            format!("VRID {vrid} is used twice on {interface}: instance {kname} not written"),
        );
        return None;
    }
    let mut name = name;
    let base = name.clone();
    let mut i = 2;
    while !seen.names.insert(name.clone()) {
        name = format!("{base}-{i}");
        i += 1;
    }
    if vips.is_empty() {
        report.dropped(
            &n.at,
            "vrrp_instance",
            format!("instance {kname} has no virtual_ipaddress, which lbd needs: not written"),
        );
        return None;
    }
    let mut y = Y::map();
    y.set("name", Y::str(&name))
        .set("interface", Y::str(&interface))
        .set("vrid", Y::Int(vrid))
        .set("priority", Y::Int(priority));
    let ipv4 = vips[0].0.is_ipv4();
    let v2 = ipv4 && version.as_ref().is_none_or(|(v, _)| *v == 2);
    if let Some((d, c)) = advert {
        // VRRPv2 carries whole seconds (keepalived rounds a fraction with a warning);
        // VRRPv3 centiseconds.
        let (rounded, rule) = if v2 && lbd.vrrp_v2 {
            let s = (d.as_millis() + 500) / 1000;
            let secs = u64::try_from(s.clamp(1, 255)).unwrap_or(1);
            (
                Duration::from_secs(secs),
                "VRRPv2's advert interval is whole seconds, 1s-255s",
            )
        } else {
            let cs = (d.as_micros() + 5_000) / 10_000;
            let ms = u64::try_from(cs.clamp(1, 4095) * 10).unwrap_or(1000);
            (
                Duration::from_millis(ms),
                "lbd's advert interval is 10ms-40.95s in steps of 10ms",
            )
        };
        if rounded != d {
            report.approximated(
                &c.at,
                "advert_int",
                format!("{rule}: {}", format_duration(rounded)),
            );
        }
        y.set("advert_interval", Y::str(format_duration(rounded)));
    }
    if !preempt {
        y.set("preempt", Y::Bool(false));
    }
    if let Some(d) = preempt_delay {
        y.set("preempt_delay", Y::str(format_duration(d)));
    }
    // keepalived advertises every `virtual_ipaddress` of the instance's family, whatever its
    // `dev`, and none of `virtual_ipaddress_excluded`: lbd's default (the VIPs on the
    // instance's interface) is told where it differs, so both list the same addresses.
    let vip_list = vips
        .iter()
        .map(|(a, p, dev, excluded, _, label)| {
            let text = format!("{a}/{p}");
            let other = dev.as_deref().filter(|d| *d != interface);
            let advertise = match (a.is_ipv4() == ipv4, *excluded, other) {
                (true, false, Some(_)) => Some(true),
                (true, true, None) => Some(false),
                _ => None,
            };
            if other.is_none() && advertise.is_none() && label.is_none() {
                return Y::str(text);
            }
            let mut m = Y::map();
            m.set("address", Y::str(text));
            if let Some(l) = label {
                m.set("label", Y::str(l));
            }
            if let Some(d) = other {
                m.set("interface", Y::str(d));
            }
            if let Some(adv) = advertise {
                m.set("advertise", Y::Bool(adv));
            }
            m
        })
        .collect();
    y.set("vips", Y::Seq(vip_list));
    peers.retain(|p| {
        let same = p.is_ipv4() == ipv4;
        if !same {
            report.dropped(
                &n.at,
                "unicast_peer",
                format!(
                    "{p} is not of the family of the instance's first VIP, which lbd advertises in"
                ),
            );
        }
        same
    });
    if !peers.is_empty() {
        if !g.check_unicast_src {
            report.ignored(&n.at, "unicast_peer", "lbd drops adverts from addresses not in unicast_peers (keepalived does with vrrp_check_unicast_src only): list every peer");
        }
        y.set(
            "unicast_peers",
            Y::Seq(peers.iter().map(|p| Y::str(p.to_string())).collect()),
        );
    }
    if let Some((a, c)) = src_ip {
        let why = if a.is_ipv4() != ipv4 {
            Some("is not of the family of the instance's first VIP, which lbd advertises in")
        } else if vips.iter().any(|v| v.0 == a) {
            Some("is one of the instance's VIPs: lbd sends from an address it keeps as backup")
        } else if !crate::vrrp::config::link_local_or_v4(&a) {
            Some(
                "is not link-local: lbd sends IPv6 adverts from fe80::/10 only (RFC 5798, 5.1.2.1)",
            )
        } else {
            None
        };
        match why {
            Some(w) => report.dropped(&c.at, &c.keyword, format!("{a} {w}")),
            None => {
                y.set("unicast_src_ip", Y::str(a.to_string()));
            }
        }
    }
    let mut track_map = match track_node.filter(|_| !track.is_empty()) {
        Some(_) => track_yaml(&track, report),
        None => Y::map(),
    };
    if !scripts.is_empty() {
        track_map.set("scripts", Y::Seq(scripts));
    }
    if !files.is_empty() {
        track_map.set("files", Y::Seq(files));
    }
    if !processes.is_empty() {
        track_map.set("processes", Y::Seq(processes));
    }
    if !matches!(&track_map, Y::Map(e) if e.is_empty()) {
        y.set("track", track_map);
    }
    if let Some(m) = notify_yaml(notify, generic_notify, report) {
        y.set("notify", m);
    }
    let both = vips.iter().any(|v| v.0.is_ipv4() != ipv4);
    y.set(
        "garp",
        super::garp::yaml(&garp, &g.garp, !ipv4, both, &n.at, report),
    );
    if super::garp::Timing::lower_prio_no_advert(&garp, &g.garp) {
        y.set("lower_prio_no_advert", Y::Bool(true));
    }
    let others: Vec<String> = vips
        .iter()
        .filter(|v| v.0.is_ipv4() != ipv4 && v.2.as_deref().is_none_or(|d| d == interface))
        .map(|v| v.0.to_string())
        .collect();
    let prefix = g.vmac_prefix.as_deref();
    vmac.yaml(&mut y, vrid, !peers.is_empty(), &others, prefix, report);
    versions(
        &mut y,
        n,
        v2,
        version.as_ref().map(|(_, at)| at),
        auth,
        lbd,
        report,
    );
    report.translated(
        &n.at,
        format!("vrrp_instance {kname} → director.yaml vrrp {name}"),
    );
    Some((y, vrid))
}

/// VRRPv2 (keepalived's default for IPv4) and its authentication, as far as this lbd goes.
fn versions(
    y: &mut Y,
    n: &Node,
    v2: bool,
    set_at: Option<&super::pos::Pos>,
    auth: Option<&Node>,
    lbd: &Lbd,
    report: &mut Report,
) {
    let at = set_at.unwrap_or(&n.at);
    if v2 && lbd.vrrp_v2 {
        y.set("version", Y::Int(2));
    } else if v2 {
        report.dropped(at, "vrrp_version", "keepalived runs this instance as VRRPv2 (its default for IPv4) but this lbd has no VRRPv2: it speaks VRRPv3 and cannot peer with an unchanged keepalived (set vrrp_version 3 there first)");
    }
    let Some(a) = auth else { return };
    if !v2 {
        report.ignored(
            &a.at,
            "authentication",
            "keepalived ignores authentication with VRRPv3",
        );
        return;
    }
    let kind = a
        .children()
        .iter()
        .find(|c| c.keyword == "auth_type")
        .and_then(|c| c.arg(0));
    let pass = a
        .children()
        .iter()
        .find(|c| c.keyword == "auth_pass")
        .and_then(|c| c.arg(0));
    let kind = match kind.map(str::to_ascii_uppercase).as_deref() {
        Some("PASS") | None => "pass",
        Some("AH") => "ah",
        Some(_) => {
            report.dropped(&a.at, "auth_type", "expected PASS or AH");
            return;
        }
    };
    if !(lbd.vrrp_v2 && lbd.vrrp_auth) {
        report.dropped(
            &a.at,
            "authentication",
            "this lbd has no VRRPv2 authentication",
        );
        return;
    }
    let mut m = Y::map();
    m.set("type", Y::str(kind));
    if let Some(p) = pass {
        // keepalived uses the first eight characters.
        m.set("password", Y::str(p.chars().take(8).collect::<String>()));
    }
    y.set("authentication", m);
}

/// A VIP: address, prefix, `dev`, whether it is excluded from adverts, where it was written,
/// its `label`.
type Vip = (
    IpAddr,
    u8,
    Option<String>,
    bool,
    super::pos::Pos,
    Option<String>,
);

/// One line of virtual_ipaddress: `ADDR[/MASK] [dev IF] [options]`.
fn vip(v: &Node, excluded: bool, report: &mut Report) -> Option<Vip> {
    let Some((a, p)) = cidr(&v.keyword) else {
        report.dropped(&v.at, &v.keyword, "not an address with an optional /prefix");
        return None;
    };
    let mut dev = None;
    let mut label = None;
    let mut i = 0;
    while let Some(word) = v.arg(i) {
        match (word, v.arg(i + 1)) {
            ("dev", Some(d)) => {
                dev = Some(d.to_string());
                i += 2;
            }
            ("label", Some(l)) => {
                match crate::vrrp::config::label_problem(&a, l) {
                    Some(why) => report.dropped(v.arg_at(i), "label", why),
                    None => label = Some(l.to_string()),
                }
                i += 2;
            }
            (w, _) => {
                report.dropped(
                    v.arg_at(i),
                    w,
                    "lbd adds VIPs with address, prefix, interface and label only",
                );
                let takes_value = matches!(
                    w,
                    "brd" | "scope" | "label" | "peer" | "preferred_lft" | "track_group"
                );
                i += if takes_value { 2 } else { 1 };
            }
        }
    }
    Some((a, p, dev, excluded, v.at.clone(), label))
}

/// The `notify:` block of an instance or a sync group from keepalived's `notify_STATE` scripts
/// and its generic `notify`, which lbd calls with keepalived's four arguments too: it fills
/// each state no `notify_STATE` took (reported where one did: lbd runs one script a state).
pub(super) fn notify_yaml(
    mut notify: [Option<String>; 4],
    generic: Option<(String, &Node)>,
    report: &mut Report,
) -> Option<Y> {
    if let Some((h, c)) = generic {
        let mut taken = Vec::new();
        for (slot, word) in notify.iter_mut().zip(NOTIFY_SLOTS) {
            match slot {
                None => *slot = Some(h.clone()),
                Some(_) => taken.push(word),
            }
        }
        if taken.is_empty() {
            report.translated(&c.at, format!("notify {h} → notify master/backup/fault/stop (called with keepalived's four arguments)"));
        } else {
            report.approximated(&c.at, "notify", format!("not run on {}: lbd runs one script per state and notify_{} takes it (keepalived runs both)", taken.join("/"), taken.join("/notify_")));
        }
    }
    if notify.iter().all(Option::is_none) {
        return None;
    }
    let mut m = Y::map();
    for (slot, word) in notify.iter().zip(NOTIFY_SLOTS) {
        if let Some(h) = slot {
            m.set(word, Y::str(h));
        }
    }
    Some(m)
}

/// A notify script: an absolute program with its arguments (split at blanks, as lbd's
/// `notify:` is; quotes inside it are reported), without a user, else reported.
pub(super) fn hook(c: &Node, report: &mut Report) -> Option<String> {
    let Some(cmd) = c.arg(0) else {
        report.dropped(&c.at, &c.keyword, "no script given");
        return None;
    };
    let path = cmd.split_whitespace().next().unwrap_or("");
    if cmd.contains(['"', '\'', '\\']) {
        report.dropped(
            &c.at,
            &c.keyword,
            "lbd splits a notify command at blanks and knows no quoting: write a wrapper script",
        );
        return None;
    }
    if !path.starts_with('/') {
        report.dropped(
            &c.at,
            &c.keyword,
            "lbd needs an absolute path for a notify script",
        );
        return None;
    }
    if c.args.len() > 1 {
        report.dropped(
            c.arg_at(1),
            &c.keyword,
            "lbd runs notify scripts as its own user",
        );
        return None;
    }
    Some(cmd.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// track_interface → `track: {interfaces}`: each interface with its keepalived weight, or
/// unweighted (the fault state while it is down, in both).
fn track_yaml(track: &[(String, Option<i64>, &Node)], report: &mut Report) -> Y {
    let mut m = Y::map();
    let mut interfaces = Vec::new();
    for (name, w, node) in track {
        match w {
            None => interfaces.push(Y::str(name)),
            Some(w) if w.abs() <= 253 => {
                let mut i = Y::map();
                i.set("name", Y::str(name)).set("weight", Y::Int(*w));
                interfaces.push(i);
            }
            Some(_) => report.dropped(&node.at, &node.keyword, "a weight must be -253..253"),
        }
    }
    m.set("interfaces", Y::Seq(interfaces));
    m
}
