//! VRRP as the configuration asks for it, in the runner's words: each `director.vrrp`
//! instance as a [`vrrp::InstanceConfig`], the IPVS sync-daemon template and the instance that
//! drives it, and the services each instance tracks. Pure; the edge's `daemon/vrrp.rs` runs
//! them on their own thread.
//!
//! Mapping rules:
//! - every VIP keeps its own interface; the instance advertises the VIPs of its first VIP's
//!   family on its interface, the others move with them (one RFC 5798 router per instance);
//! - `track.interfaces` move the priority by their own weight (keepalived's `track_interface
//!   IF weight W`: positive added while up, negative subtracted while down), else lower it by
//!   `priority_decrement` while down, or, without either, put the instance in FAULT while one
//!   is down (keepalived's unweighted `track_interface`): it leaves the VIPs, any backup takes
//!   over, and it rejoins the election when the interface is up again;
//! - `track.scripts`, `track.files` and `track.processes` name director-level
//!   `track_scripts` / `track_files` / `track_processes`; each reference becomes a tracked
//!   script, file or process with its own weight or the definition's, and the instance
//!   carries the definitions it names (it runs the scripts, polls the files and counts the
//!   processes itself);
//! - a service is *carried* by an instance when its virtual address is one of the instance's
//!   VIPs; "no healthy real server" for it lowers the priority by `priority_decrement`, or by
//!   [`DEFAULT_SERVICE_DECREMENT`] without one;
//! - notify scripts run on their transition (master, backup, fault, stop), each within
//!   `notify.timeout` (default 5 s), in its own process group, killed whole at the limit;
//! - the IPVS sync daemon follows one instance, `sync_daemon.instance` (default the first):
//!   only that instance switches it, so several instances never fight over the one kernel
//!   daemon;
//! - an address owner (priority 255) ignores tracking.

use std::time::Duration;

use super::io::{GroupSetup, VrrpSetup};
use crate::config::{self, Config, SyncDestination, Virtual, VrrpInstance};
use crate::control::proto::VrrpView;
use crate::ipvs::{self, DaemonState};
use crate::vrrp::config::NotifyHook;
use crate::vrrp::{InstanceConfig, NotifyState, Track, TrackTarget, Vip};
use std::collections::BTreeMap;

/// Priority lost while a carried service has no healthy real server, when the instance's
/// `track.priority_decrement` is not set: enough for the lab's master (150) to fall below its
/// backup (100), so the director that can still serve takes the VIP.
pub const DEFAULT_SERVICE_DECREMENT: u8 = 60;

/// How long a notify script may run when `notify.timeout` is not set.
const HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The services an instance carries: those whose virtual address is one of its VIPs.
pub fn carried_services(cfg: &Config, inst: &VrrpInstance) -> Vec<String> {
    cfg.services
        .iter()
        .filter(|s| match &s.virtual_service {
            Virtual::Address { address, .. } => inst.vips.iter().any(|v| v.address == *address),
            Virtual::Fwmark { .. } => false,
        })
        .map(|s| s.name.clone())
        .collect()
}

/// One configured instance as the VRRP runner wants it.
pub fn instance_config(cfg: &Config, inst: &VrrpInstance) -> InstanceConfig {
    let decrement = inst.track.as_ref().and_then(|t| t.priority_decrement);
    let mut track: Vec<Track> = inst
        .track
        .iter()
        .flat_map(|t| t.interfaces.iter())
        .map(|i| Track {
            target: TrackTarget::Interface(i.name.clone()),
            weight: i.weight.or(decrement.map(|d| -i16::from(d))),
        })
        .collect();
    track.extend(carried_services(cfg, inst).into_iter().map(|s| Track {
        target: TrackTarget::Service(s),
        weight: Some(-i16::from(decrement.unwrap_or(DEFAULT_SERVICE_DECREMENT))),
    }));
    let scripts = inst.track.iter().flat_map(|t| t.scripts.iter());
    let files = inst.track.iter().flat_map(|t| t.files.iter());
    let processes = inst.track.iter().flat_map(|t| t.processes.iter());
    let track_scripts: Vec<_> = cfg
        .director
        .track_scripts
        .iter()
        .filter(|d| scripts.clone().any(|r| r.name == d.name))
        .cloned()
        .collect();
    let track_files: Vec<_> = cfg
        .director
        .track_files
        .iter()
        .filter(|d| files.clone().any(|r| r.name == d.name))
        .cloned()
        .collect();
    track.extend(scripts.map(|r| Track {
        target: TrackTarget::Script(r.name.clone()),
        weight: r.weight,
    }));
    let track_processes: Vec<_> = cfg
        .director
        .track_processes
        .iter()
        .filter(|d| processes.clone().any(|r| r.name == d.name))
        .cloned()
        .collect();
    track.extend(files.map(|r| Track {
        target: TrackTarget::File(r.name.clone()),
        weight: r.weight,
    }));
    track.extend(processes.map(|r| Track {
        target: TrackTarget::Process(r.name.clone()),
        weight: r.weight,
    }));
    let notify = notify_hooks(&inst.notify);
    InstanceConfig {
        name: inst.name.clone(),
        interface: inst.interface.clone(),
        vrid: inst.vrid,
        version: inst.version,
        authentication: inst.authentication.clone(),
        priority: inst.priority,
        advert_interval: inst.advert_interval,
        preempt: inst.preempt,
        preempt_delay: inst.preempt_delay,
        lower_prio_no_advert: inst.lower_prio_no_advert,
        vips: inst
            .vips
            .iter()
            .map(|v| Vip {
                address: v.address,
                prefix: v.prefix,
                interface: v.interface.clone(),
                advertise: v.advertise,
                label: v.label.clone(),
            })
            .collect(),
        unicast_peers: inst.unicast_peers.clone(),
        unicast_src_ip: inst.unicast_src_ip,
        track,
        track_scripts,
        track_files,
        track_processes,
        notify,
        garp: inst.garp.clone(),
        use_vmac: inst.use_vmac.clone(),
        vmac_xmit_base: inst.vmac_xmit_base,
    }
}

/// The hooks of a `notify:` block, one per state with a script.
fn notify_hooks(n: &config::Notify) -> Vec<NotifyHook> {
    let hooks = [
        (NotifyState::Master, &n.master),
        (NotifyState::Backup, &n.backup),
        (NotifyState::Fault, &n.fault),
        (NotifyState::Stop, &n.stop),
    ];
    let timeout = n.timeout.unwrap_or(HOOK_TIMEOUT);
    hooks
        .into_iter()
        .filter_map(|(on, path)| {
            path.as_ref().map(|argv| NotifyHook {
                on: vec![on],
                command: argv.clone(),
                timeout,
            })
        })
        .collect()
}

/// The configured sync groups.
pub fn group_setups(cfg: &Config) -> Vec<GroupSetup> {
    cfg.director
        .vrrp_sync_groups
        .iter()
        .map(|g| GroupSetup {
            name: g.name.clone(),
            instances: g.instances.clone(),
            notify: notify_hooks(&g.notify),
        })
        .collect()
}

/// Every configured instance, in configuration order.
pub fn instance_configs(cfg: &Config) -> Vec<InstanceConfig> {
    cfg.director
        .vrrp
        .iter()
        .map(|i| instance_config(cfg, i))
        .collect()
}

/// The instance that drives the sync daemon and the daemon's settings, when one is configured.
pub fn sync_for(cfg: &Config) -> Option<(String, ipvs::SyncDaemon)> {
    let s = cfg.director.sync_daemon.as_ref()?;
    Some((s.instance.clone()?, sync_template(s)))
}

/// The sync daemon's settings (its state is set by VRRP on each transition). A unicast
/// `peer` is given to the kernel as the daemon's destination address.
pub fn sync_template(s: &config::SyncDaemon) -> ipvs::SyncDaemon {
    let mut d = ipvs::SyncDaemon::new(DaemonState::Backup, &s.interface, u32::from(s.sync_id));
    d.group = Some(match s.destination {
        SyncDestination::Multicast(g) | SyncDestination::Peer(g) => g,
    });
    d.port = Some(s.port);
    d.ttl = Some(s.ttl);
    d
}

/// Everything the VRRP edge needs of a configuration.
pub fn setup(cfg: &Config) -> VrrpSetup {
    VrrpSetup {
        instances: instance_configs(cfg),
        sync: sync_for(cfg),
        rt_priority: cfg.director.vrrp_rt_priority,
        groups: group_setups(cfg),
    }
}

/// Every service some instance tracks ("a healthy real server in the table").
pub fn tracked_services(cfg: &Config) -> Vec<String> {
    let mut out: Vec<String> = cfg
        .director
        .vrrp
        .iter()
        .flat_map(|i| carried_services(cfg, i))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One role change of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub instance: String,
    pub from: String,
    pub to: String,
    /// The priority it advertises now (after tracking; 0 while an operator failover holds it).
    pub priority: u8,
}

impl Transition {
    /// The history's message: `vi_51: master → backup (priority 0)`.
    pub fn message(&self) -> String {
        format!(
            "{}: {} → {} (priority {})",
            self.instance, self.from, self.to, self.priority
        )
    }
}

/// Compares `views` with the roles last seen (updating them): the changes, in view order.
pub fn transitions(seen: &mut BTreeMap<String, String>, views: &[VrrpView]) -> Vec<Transition> {
    seen.retain(|name, _| views.iter().any(|v| &v.instance == name));
    let mut out = Vec::new();
    for v in views {
        let before = seen.get(&v.instance).map_or("initialize", String::as_str);
        if before != v.state {
            out.push(Transition {
                instance: v.instance.clone(),
                from: before.to_string(),
                to: v.state.clone(),
                priority: v.effective_priority,
            });
            seen.insert(v.instance.clone(), v.state.clone());
        }
    }
    out
}

/// The repository's example configuration (`config/`), for tests.
#[cfg(test)]
pub(crate) fn example() -> Config {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    crate::config::load(&dir)
        .expect("example config loads")
        .config
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::path::Path;

    /// The example configuration with `director.yaml` edited by `edit`.
    fn example_edited(edit: impl Fn(String) -> String) -> Config {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    copy(&e.path(), &to.join(e.file_name()));
                } else {
                    std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
                }
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        copy(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
            tmp.path(),
        );
        let file = tmp.path().join("director.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, edit(text)).unwrap();
        match crate::config::load(tmp.path()) {
            Ok(l) => l.config,
            Err(e) => panic!("edited config does not load: {:?}", e.errors),
        }
    }

    #[test]
    fn track_scripts_files_and_processes_reach_the_instance_with_their_weights() {
        let cfg = example_edited(|t| {
            t.replace(
                "\nvrrp:\n",
                "\ntrack_scripts:\n  - {name: chk, script: /bin/true, weight: -30, fall: 2}\n  \
                 - {name: unused, script: /bin/false}\n\
                 track_files: [{name: maint, path: /run/maint, weight: 5}]\n\
                 track_processes:\n  - {name: proxy, process: haproxy, weight: -40, delay: 2s}\n  \
                 - {name: web, process: nginx, quorum: 2}\nvrrp:\n",
            )
            .replace(
                "    preempt_delay: 0s",
                "    track: {scripts: [chk], files: [{name: maint, weight: -2}], processes: [proxy]}\n    \
                 preempt_delay: 0s",
            )
        });
        let c = instance_config(&cfg, &cfg.director.vrrp[0]);
        assert!(c.to_fsm().is_ok());
        let names: Vec<&str> = c.track_scripts.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["chk"], "only the scripts it names");
        assert_eq!(c.track_files.len(), 1);
        let t = c.effective_track();
        let of = |target: TrackTarget| t.iter().find(|t| t.target == target).map(|t| t.weight);
        assert_eq!(of(TrackTarget::Script("chk".into())), Some(Some(-30)));
        assert_eq!(of(TrackTarget::File("maint".into())), Some(Some(-2)));
        assert_eq!(of(TrackTarget::Process("proxy".into())), Some(Some(-40)));
        let names: Vec<&str> = c.track_processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["proxy"], "only the processes it names");
        let p = &c.track_processes[0];
        assert_eq!(p.process, ["haproxy"]);
        assert_eq!(
            (p.fork_delay, p.terminate_delay),
            (Duration::from_secs(2), Duration::from_secs(2)),
            "delay sets both"
        );
    }

    #[test]
    fn each_tracked_interface_takes_its_own_weight_else_the_decrement_else_fault() {
        let with = |track: &str| {
            let track = track.to_string();
            let cfg = example_edited(move |t| {
                t.replace(
                    "    preempt_delay: 0s",
                    &format!("    track: {track}\n    preempt_delay: 0s"),
                )
            });
            let c = instance_config(&cfg, &cfg.director.vrrp[0]);
            assert!(c.to_fsm().is_ok());
            c.track
                .iter()
                .filter_map(|t| match &t.target {
                    TrackTarget::Interface(i) => Some((i.clone(), t.weight)),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let i = |n: &str, w: Option<i16>| (n.to_string(), w);
        assert_eq!(
            with("{interfaces: [eth1, {name: eth2, weight: 30}, {name: eth3, weight: -50}]}"),
            [i("eth1", None), i("eth2", Some(30)), i("eth3", Some(-50))]
        );
        assert_eq!(
            with("{interfaces: [eth1, {name: eth2, weight: 0}], priority_decrement: 20}"),
            [i("eth1", Some(-20)), i("eth2", Some(0))],
            "the decrement for the unweighted; an explicit 0 is the fault state"
        );
    }

    #[test]
    fn owner_and_stop_hook_with_timeout_from_director_yaml() {
        let cfg = example_edited(|t| {
            t.replace("priority: 150 ", "priority: 255 ").replace(
                "    preempt_delay: 0s",
                "    track: {interfaces: [eth1]}\n    \
                 notify: {master: /sbin/to-master, stop: /sbin/to-stop, timeout: 2s}\n    \
                 preempt_delay: 0s",
            )
        });
        let c = instance_config(&cfg, &cfg.director.vrrp[0]);
        assert_eq!(c.priority, 255);
        assert!(c.to_fsm().is_ok());
        let hooks: Vec<(Vec<NotifyState>, Vec<String>, Duration)> = c
            .notify
            .iter()
            .map(|h| (h.on.clone(), h.command.clone(), h.timeout))
            .collect();
        assert_eq!(
            hooks,
            vec![
                (
                    vec![NotifyState::Master],
                    vec!["/sbin/to-master".to_string()],
                    Duration::from_secs(2)
                ),
                (
                    vec![NotifyState::Stop],
                    vec!["/sbin/to-stop".to_string()],
                    Duration::from_secs(2)
                ),
            ]
        );
        // The owner keeps 255 with its tracked interface and its services down.
        let mut t = crate::vrrp::track::Tracker::new(c.priority, &c.track);
        for target in c.track.iter().map(|t| t.target.clone()) {
            assert_eq!(t.set(&target, false), None, "{target:?}");
        }
        assert_eq!(t.priority(), 255);
    }

    #[test]
    fn vrrpv2_and_its_password_reach_the_runner_and_no_view() {
        let cfg = example_edited(|t| {
            t.replace(
                "    preempt_delay: 0s",
                "    version: 2\n    authentication: {type: AH, password: hunter2secret}\n    \
                 preempt_delay: 0s",
            )
        });
        let c = instance_config(&cfg, &cfg.director.vrrp[0]);
        assert_eq!(c.version, 2);
        let f = c.to_fsm().unwrap();
        assert_eq!(f.version, crate::vrrp::fsm::Version::V2);
        assert_eq!(
            c.auth(),
            crate::vrrp::packet_v2::Auth::Ah(crate::vrrp::packet_v2::Password::new("hunter2s"))
        );
        // Debug (logs), the recorded trace's JSON of the configuration and of the VRRP setup:
        // never the password.
        let texts = [
            format!("{cfg:?}"),
            format!("{:?}", setup(&cfg)),
            serde_json::to_string(&cfg).unwrap(),
            serde_json::to_string(&setup(&cfg)).unwrap(),
        ];
        for t in &texts {
            assert!(!t.contains("hunter"), "{t}");
        }
        assert!(texts[2].contains(r#""password":"***""#));
    }

    #[test]
    fn example_instance_maps_to_the_runner_config() {
        let cfg = example();
        let all = instance_configs(&cfg);
        assert_eq!(all.len(), 1);
        let c = &all[0];
        assert_eq!((c.name.as_str(), c.interface.as_str()), ("vi_51", "eth0"));
        assert_eq!((c.vrid, c.priority), (51, 150));
        assert_eq!(c.advert_interval, Duration::from_secs(1));
        assert!(c.preempt);
        assert_eq!(c.preempt_delay, Duration::ZERO);
        let vips: Vec<String> = c.vips.iter().map(|v| format!("{v:?}")).collect();
        assert_eq!(c.vips.len(), 3, "{vips:?}");
        assert_eq!(c.vips[2].address, "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.vips[2].prefix, 24);
        assert_eq!(c.vips[2].interface.as_deref(), Some("eth1"));
        assert_eq!(c.vips[0].interface, None);
        // The runner accepts it; adverts carry the IPv4 VIP on eth0 only.
        let fsm = c.to_fsm().unwrap();
        assert_eq!(
            fsm.advert_addrs,
            vec!["192.0.2.10".parse::<IpAddr>().unwrap()]
        );
        // Both example services listen on the VIPs: they are tracked with the default weight.
        let carried = carried_services(&cfg, &cfg.director.vrrp[0]);
        assert!(!carried.is_empty());
        let services: Vec<(&TrackTarget, Option<i16>)> =
            c.track.iter().map(|t| (&t.target, t.weight)).collect();
        for s in &carried {
            assert!(services.contains(&(
                &TrackTarget::Service(s.clone()),
                Some(-i16::from(DEFAULT_SERVICE_DECREMENT))
            )));
        }
        assert_eq!(c.track.len(), carried.len());
        assert!(c.notify.is_empty());
        assert!(c.unicast_peers.is_empty());
    }

    #[test]
    fn tracking_notify_and_peers_are_carried_over() {
        let mut cfg = example();
        let inst = &mut cfg.director.vrrp[0];
        inst.track = Some(config::Track {
            interfaces: vec![config::TrackRef {
                name: "eth1".into(),
                weight: None,
            }],
            priority_decrement: Some(30),
            scripts: vec![],
            files: vec![],
            processes: vec![],
        });
        inst.notify.master = Some(vec!["/usr/local/sbin/to-master".into()]);
        inst.notify.fault = Some(vec!["/usr/local/sbin/to-fault".into(), "-q".into()]);
        inst.unicast_peers = vec!["192.0.2.3".parse().unwrap()];
        inst.preempt = false;
        inst.preempt_delay = Duration::from_secs(2);
        let c = instance_config(&cfg, &cfg.director.vrrp[0]);
        assert_eq!(c.track[0].target, TrackTarget::Interface("eth1".into()));
        assert!(c.track.iter().all(|t| t.weight == Some(-30)));
        assert_eq!(c.notify.len(), 2);
        assert_eq!(c.notify[0].on, vec![NotifyState::Master]);
        assert_eq!(
            c.notify[0].command,
            vec!["/usr/local/sbin/to-master".to_string()]
        );
        assert_eq!(c.notify[1].on, vec![NotifyState::Fault]);
        assert_eq!(
            c.unicast_peers,
            vec!["192.0.2.3".parse::<IpAddr>().unwrap()]
        );
        assert!(!c.preempt);
        assert_eq!(c.preempt_delay, Duration::from_secs(2));
        assert!(c.to_fsm().is_ok());
        // Without a decrement a lost interface is a FAULT (keepalived's unweighted
        // track_interface); the carried services still lower the priority by the default.
        cfg.director.vrrp[0]
            .track
            .as_mut()
            .unwrap()
            .priority_decrement = None;
        let c = instance_config(&cfg, &cfg.director.vrrp[0]);
        assert_eq!(c.track[0].weight, None);
        let eth1 = TrackTarget::Interface("eth1".into());
        let mut t = crate::vrrp::track::Tracker::new(c.priority, &c.track);
        assert_eq!(t.set(&eth1, false), None);
        assert_eq!(t.fault(), Some(&eth1));
        assert_eq!(t.set(&eth1, true), None);
        assert_eq!(t.fault(), None);
    }

    #[test]
    fn example_sync_daemon_template() {
        let cfg = example();
        let t = sync_template(cfg.director.sync_daemon.as_ref().unwrap());
        assert_eq!(t.mcast_ifn, "eth1");
        assert_eq!(t.sync_id, 51);
        assert_eq!(t.group, Some("224.0.0.81".parse().unwrap()));
        assert_eq!((t.port, t.ttl), (Some(8848), Some(1)));
    }

    fn view(instance: &str, state: &str, prio: u8) -> VrrpView {
        VrrpView {
            instance: instance.into(),
            interface: "eth0".into(),
            vrid: 51,
            state: state.into(),
            priority: 150,
            effective_priority: prio,
            vips: vec![],
            drops: Default::default(),
            sync_group: None,
        }
    }

    #[test]
    fn each_role_change_is_one_transition() {
        let mut seen = BTreeMap::new();
        // Not started yet: nothing to say.
        assert!(transitions(&mut seen, &[view("vi_51", "initialize", 150)]).is_empty());
        let t = transitions(&mut seen, &[view("vi_51", "backup", 150)]);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].message(), "vi_51: initialize → backup (priority 150)");
        // Same role: nothing.
        assert!(transitions(&mut seen, &[view("vi_51", "backup", 150)]).is_empty());
        let t = transitions(
            &mut seen,
            &[view("vi_51", "master", 150), view("vi_52", "backup", 100)],
        );
        let msgs: Vec<String> = t.iter().map(Transition::message).collect();
        assert_eq!(
            msgs,
            [
                "vi_51: backup → master (priority 150)",
                "vi_52: initialize → backup (priority 100)"
            ]
        );
        // An operator failover: priority 0 while held.
        let t = transitions(
            &mut seen,
            &[view("vi_51", "backup", 0), view("vi_52", "backup", 100)],
        );
        assert_eq!(t[0].message(), "vi_51: master → backup (priority 0)");
        // A removed instance is forgotten: when it comes back it starts from initialize.
        assert!(transitions(&mut seen, &[view("vi_51", "backup", 0)]).is_empty());
        let t = transitions(
            &mut seen,
            &[view("vi_51", "backup", 0), view("vi_52", "master", 100)],
        );
        assert_eq!(t[0].from, "initialize");
    }
}
