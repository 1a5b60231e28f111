//! Rules across files: unique names and virtual services, hostgroups that exist, address
//! families that match, a reachable quorum; and the warnings for doubtful but legal setups.

use super::diagnostic::{Pos, Report, Severity};
use super::director::{Director, DirectorSpots};
use super::fields::suggest;
use super::hostgroup::{Hostgroup, HostgroupSpots};
use super::service::{Family, Forwarding, QuorumBy, Service, ServiceSpots, Virtual};
use super::watch::Monitor;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Everything decoded, with positions; broken hostgroups are known by file stem so that
/// services naming them get no second, misleading "unknown hostgroup".
pub(crate) struct Inputs<'a> {
    /// Other files are named relative to this in hints.
    pub config_dir: &'a Path,
    pub director_file: &'a Path,
    pub director: Option<&'a (Director, DirectorSpots)>,
    pub hostgroups: &'a [(Hostgroup, HostgroupSpots, PathBuf)],
    pub broken_hostgroups: &'a HashSet<String>,
    /// Every service file: the service if it decoded, and what could be read of it.
    pub services: &'a [(Option<Service>, ServiceSpots, PathBuf)],
    /// Whether a monitor or alert script is there (the disk, or the files in memory).
    pub is_file: &'a dyn Fn(&Path) -> bool,
}

pub(crate) fn check(inputs: &Inputs, report: &mut Report) {
    let mut groups: HashMap<&str, (&Hostgroup, &Path, Pos)> = HashMap::new();
    for (group, spots, file) in inputs.hostgroups {
        if let Some((_, first_file, _)) = groups.get(group.name.as_str()) {
            report.push(
                Severity::Error,
                file,
                spots.name,
                format!("duplicate hostgroup `{}`", group.name),
                Some(format!(
                    "already defined in {}",
                    rel(inputs.config_dir, first_file)
                )),
            );
            continue;
        }
        groups.insert(&group.name, (group, file, spots.name));
    }

    let mut names: HashMap<&str, &Path> = HashMap::new();
    let mut virtuals: HashMap<Virtual, (&Path, Pos)> = HashMap::new();
    let mut used: HashSet<&str> = HashSet::new();
    for (svc, spots, file) in inputs.services {
        if let Some(name) = &spots.name_value {
            if let Some(first) = names.insert(name, file) {
                report.push(
                    Severity::Error,
                    file,
                    spots.name,
                    format!("duplicate service name `{name}`"),
                    Some(format!("already used by {}", rel(inputs.config_dir, first))),
                );
            }
        }
        if let Some(virt) = spots.virtual_value {
            if let Some((first, pos)) = virtuals.get(&virt) {
                report.push(
                    Severity::Error,
                    file,
                    spots.virtual_service,
                    format!("duplicate virtual service {virt}"),
                    Some(format!(
                        "already defined at {}:{}:{}",
                        rel(inputs.config_dir, first),
                        pos.line,
                        pos.column
                    )),
                );
            } else {
                virtuals.insert(virt, (file, spots.virtual_service));
            }
        }
        let Some(hostgroup) = &spots.hostgroup_value else {
            continue;
        };
        used.insert(hostgroup);
        match groups.get(hostgroup.as_str()) {
            Some((group, _, _)) => {
                if let Some(svc) = svc {
                    check_members(svc, spots, file, group, report);
                }
            }
            None if inputs.broken_hostgroups.contains(hostgroup) => {}
            None => {
                let known: Vec<&str> = groups.keys().copied().collect();
                let hint = suggest(hostgroup, &known)
                    .filter(|h| h.starts_with("did you mean"))
                    .or_else(|| Some(format!("no file hostgroups/{hostgroup}.yaml")));
                report.push(
                    Severity::Error,
                    file,
                    spots.hostgroup,
                    format!("unknown hostgroup `{hostgroup}`"),
                    hint,
                );
            }
        }
    }

    // A service whose hostgroup could not be read may use any group.
    let all_refs_known = inputs
        .services
        .iter()
        .all(|(_, s, _)| s.hostgroup_value.is_some());
    for (group, spots, file) in inputs.hostgroups {
        if all_refs_known && !used.contains(group.name.as_str()) {
            report.push(
                Severity::Warning,
                file,
                spots.name,
                format!("hostgroup `{}` is not used by any service", group.name),
                None,
            );
        }
    }

    if let Some((director, dspots)) = inputs.director {
        check_vips(inputs, dspots, report);
        check_scripts(inputs, director, report);
    }
}

/// Address families (only tunnel forwarding may mix) and the quorum against the group size.
fn check_members(
    svc: &Service,
    spots: &ServiceSpots,
    file: &Path,
    group: &Hostgroup,
    report: &mut Report,
) {
    let family = svc.virtual_service.family();
    if !matches!(svc.forwarding, Forwarding::Tunnel(_)) {
        let mut mixed = group
            .nodes
            .iter()
            .filter(|n| Family::of(&n.address) != family);
        if let Some(node) = mixed.next() {
            let more = mixed.count();
            let others = match more {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            report.push(
                Severity::Error,
                file,
                spots.hostgroup,
                format!(
                    "node `{}` ({}){others} of hostgroup `{}` is {} but the virtual service is {}",
                    node.name,
                    node.address,
                    group.name,
                    Family::of(&node.address).name(),
                    family.name()
                ),
                Some("only tunnel forwarding may mix address families".into()),
            );
        }
    }
    let (have, what) = match svc.quorum_by {
        QuorumBy::Count => (group.nodes.len() as u64, "nodes"),
        QuorumBy::Weight => (
            group.nodes.iter().map(|n| u64::from(n.weight)).sum(),
            "total node weight",
        ),
    };
    let need = u64::from(svc.quorum) + u64::from(svc.hysteresis);
    if need > have {
        let by = match svc.quorum_by {
            QuorumBy::Count => "quorum",
            QuorumBy::Weight => "quorum weight",
        };
        let plus = match svc.hysteresis {
            0 => String::new(),
            h => format!(" + hysteresis {h}"),
        };
        report.push(
            Severity::Error,
            file,
            spots.quorum,
            format!(
                "{by} {}{plus} is more than the {have} {what} of hostgroup `{}`",
                svc.quorum, group.name
            ),
            (svc.hysteresis > 0)
                .then(|| "once lost, quorum comes back only at quorum + hysteresis".into()),
        );
    }
}

/// Warns about service addresses no VRRP instance carries.
fn check_vips(inputs: &Inputs, spots: &DirectorSpots, report: &mut Report) {
    let carried: HashSet<IpAddr> = spots.vips.iter().map(|(a, _)| *a).collect();
    let mut warned = HashSet::new();
    for (_, sspots, file) in inputs.services {
        if let Some(Virtual::Address { address, .. }) = sspots.virtual_value {
            if !carried.contains(&address) && warned.insert(address) {
                report.push(
                    Severity::Warning,
                    file,
                    sspots.address,
                    format!("virtual address {address} is not carried by any VRRP instance"),
                    Some(format!(
                        "add it to the vips of an instance in {}",
                        rel(inputs.config_dir, inputs.director_file)
                    )),
                );
            }
        }
    }
}

/// Warns about monitor and alert scripts missing from their directories, and https checks'
/// certificate and key files missing.
fn check_scripts(inputs: &Inputs, director: &Director, report: &mut Report) {
    let mut seen = HashSet::new();
    for (svc, spots, file) in inputs.services {
        let Some(svc) = svc else { continue };
        let mut scripts = Vec::new();
        if let Monitor::External(ext) = &svc.watch.monitor {
            scripts.push(("monitor", director.monitor_dir.join(&ext.script)));
        }
        if let Monitor::Misc(m) = &svc.watch.monitor {
            scripts.push(("misc", m.path.clone()));
        }
        if let Monitor::Http(h) = &svc.watch.monitor {
            if let Some(t) = &h.tls {
                for f in [&t.ca_file, &t.client_cert, &t.client_key]
                    .into_iter()
                    .flatten()
                {
                    scripts.push(("tls", f.clone()));
                }
            }
        }
        let alerts = (svc.watch.alert.iter().chain(&svc.watch.upalert))
            .chain(svc.quorum_up.iter().chain(&svc.quorum_down));
        for alert in alerts.filter(|a| a.script != "log") {
            scripts.push(("alert", director.alert_dir.join(&alert.script)));
        }
        for (what, path) in scripts {
            if !(inputs.is_file)(&path) && seen.insert(path.clone()) {
                report.push(
                    Severity::Warning,
                    file,
                    spots.watch,
                    if what == "tls" {
                        format!("tls file {} not found", path.display())
                    } else {
                        format!("{what} script {} not found", path.display())
                    },
                    None,
                );
            }
        }
    }
}

/// `file` relative to the configuration directory, for hints.
fn rel(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir).unwrap_or(file).display().to_string()
}
