//! keepalived's `vrrp_sync_group NAME { group { A B } notify_master/backup/fault/stop, notify }`
//! → one entry of director.yaml's `vrrp_sync_groups`. Members are the instances the importer
//! wrote (under their lbd names); a group left with fewer than two is not written (lbd
//! refuses it, keepalived ignores it). Other sub-keywords are reported.

use super::findings::Report;
use super::tree::Node;
use super::values::lbd_name;
use super::vrrp::{hook, notify_yaml, NOTIFY_SLOTS};
use crate::import::yaml_out::Y;

/// The group as director.yaml writes it; `written`: the keepalived names of the instances
/// written.
pub fn group(n: &Node, written: &[String], report: &mut Report) -> Option<Y> {
    let Some(kname) = n.arg(0) else {
        report.dropped(&n.at, "vrrp_sync_group", "the group has no name");
        return None;
    };
    let mut members: Vec<String> = Vec::new();
    let mut notify: [Option<String>; 4] = Default::default();
    let mut generic = None;
    for c in n.children() {
        let k = c.keyword.as_str();
        match k {
            "group" => {
                for m in c.children() {
                    let names = std::iter::once(m.keyword.as_str())
                        .chain(m.args.iter().map(|a| a.text.as_str()));
                    for name in names {
                        if written.iter().any(|w| w == name) {
                            members.push(lbd_name(name, "vrrp"));
                        } else {
                            report.dropped(
                                &m.at,
                                name,
                                format!("sync group {kname}: no vrrp_instance {name} was written"),
                            );
                        }
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
            "notify" => generic = hook(c, report).map(|h| (h, c)),
            _ => report.dropped(
                &c.at,
                k,
                "lbd's sync groups take group, notify and notify_master/backup/fault/stop only",
            ),
        }
    }
    if members.len() < 2 {
        report.dropped(
            &n.at,
            "vrrp_sync_group",
            format!(
                "sync group {kname} has {} instance(s) lbd runs, it needs 2: not written",
                members.len()
            ),
        );
        return None;
    }
    let mut y = Y::map();
    y.set("name", Y::str(lbd_name(kname, "group")));
    y.set("instances", Y::Seq(members.iter().map(Y::str).collect()));
    if let Some(m) = notify_yaml(notify, generic, report) {
        y.set("notify", m);
    }
    report.translated(
        &n.at,
        format!("vrrp_sync_group {kname} → director.yaml vrrp_sync_groups"),
    );
    Some(y)
}
