//! The VRRP instances inside the daemon: the pure mapping from the configuration
//! (`director.vrrp`, `director.sync_daemon`) to [`vrrp::InstanceConfig`] and the IPVS
//! sync-daemon template, and [`VrrpSet`], which runs one instance per configured one, feeds
//! them service health, restarts the changed ones on reload and stops them on shutdown.
//!
//! Mapping rules:
//! - every VIP keeps its own interface; the instance advertises the VIPs of its first VIP's
//!   family on its interface, the others move with them (one RFC 5798 router per instance);
//! - `track.interfaces` lower the priority by `priority_decrement`, or, without one, by
//!   [`INTERFACE_FAULT_WEIGHT`] (the priority drops to 1: any backup takes over);
//! - a service is *carried* by an instance when its virtual address is one of the instance's
//!   VIPs; "no healthy real server" for it lowers the priority by `priority_decrement`, or by
//!   [`DEFAULT_SERVICE_DECREMENT`] without one;
//! - notify scripts run on their transition (master, backup, fault, stop), each within
//!   `notify.timeout` (default 5 s), in its own process group, killed whole at the limit;
//! - the IPVS sync daemon follows one instance, `sync_daemon.instance` (default the first):
//!   only that instance switches it, so several instances never fight over the one kernel
//!   daemon;
//! - an address owner (priority 255) ignores tracking.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::desired::Plan;
use crate::config::{self, Config, SyncDestination, Virtual, VrrpInstance};
use crate::control::proto::{ErrorCode, Response, VrrpView};
use crate::ipvs::{self, DaemonState};
use crate::metrics::{Metrics, VrrpState};
use crate::runtime_thread::RuntimeThread;
use crate::vrrp::config::{GarpConfig, NotifyHook};
use crate::vrrp::ipvs_sync::IpvsSyncDaemon;
use crate::vrrp::packet::DropCounters;
use crate::vrrp::{
    self, Control, InstanceConfig, NoSyncDaemon, NotifyState, State, Status, SyncDaemonControl,
    Track, TrackTarget, Vip,
};

/// Priority lost while a carried service has no healthy real server, when the instance's
/// `track.priority_decrement` is not set: enough for the lab's master (150) to fall below its
/// backup (100), so the director that can still serve takes the VIP.
pub const DEFAULT_SERVICE_DECREMENT: u8 = 60;

/// Priority lost with a tracked interface down when no `priority_decrement` is set: the
/// priority drops to 1 (the tracker never goes below), so any backup takes over.
pub const INTERFACE_FAULT_WEIGHT: u8 = 255;

/// How long a notify script may run when `notify.timeout` is not set.
const HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// How long shutdown waits for the instances' priority-0 adverts and stop hooks.
const STOP_WAIT: Duration = Duration::from_secs(12);

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
            target: TrackTarget::Interface(i.clone()),
            weight: decrement.unwrap_or(INTERFACE_FAULT_WEIGHT),
        })
        .collect();
    track.extend(carried_services(cfg, inst).into_iter().map(|s| Track {
        target: TrackTarget::Service(s),
        weight: decrement.unwrap_or(DEFAULT_SERVICE_DECREMENT),
    }));
    let hooks = [
        (NotifyState::Master, &inst.notify.master),
        (NotifyState::Backup, &inst.notify.backup),
        (NotifyState::Fault, &inst.notify.fault),
        (NotifyState::Stop, &inst.notify.stop),
    ];
    let timeout = inst.notify.timeout.unwrap_or(HOOK_TIMEOUT);
    let notify = hooks
        .into_iter()
        .filter_map(|(on, path)| {
            path.as_ref().map(|p| NotifyHook {
                on: vec![on],
                command: vec![p.display().to_string()],
                timeout,
            })
        })
        .collect();
    InstanceConfig {
        name: inst.name.clone(),
        interface: inst.interface.clone(),
        vrid: inst.vrid,
        priority: inst.priority,
        advert_interval: inst.advert_interval,
        preempt: inst.preempt,
        preempt_delay: inst.preempt_delay,
        vips: inst
            .vips
            .iter()
            .map(|v| Vip {
                address: v.address,
                prefix: v.prefix,
                interface: v.interface.clone(),
            })
            .collect(),
        unicast_peers: inst.unicast_peers.clone(),
        track,
        notify,
        garp: GarpConfig::default(),
    }
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

/// Whether instance `name` switches the sync daemon (the one `sync_for` names).
fn drives_sync(sync: &Option<(String, ipvs::SyncDaemon)>, name: &str) -> bool {
    sync.as_ref().is_some_and(|(owner, _)| owner == name)
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

/// What a reload does to the running instances: the names to stop and the configurations to
/// start. Removed and changed instances stop, new and changed ones start, unchanged ones keep
/// running; a changed sync daemon (or another instance driving it) restarts them all.
pub fn restarts(
    running: &BTreeMap<String, InstanceConfig>,
    wanted: Vec<InstanceConfig>,
    sync_changed: bool,
) -> (Vec<String>, Vec<InstanceConfig>) {
    let wanted: BTreeMap<String, InstanceConfig> =
        wanted.into_iter().map(|c| (c.name.clone(), c)).collect();
    let stop: Vec<String> = running
        .iter()
        .filter(|(n, c)| sync_changed || wanted.get(*n) != Some(*c))
        .map(|(n, _)| n.clone())
        .collect();
    let start = wanted
        .into_values()
        .filter(|c| !running.contains_key(&c.name) || stop.contains(&c.name))
        .collect();
    (stop, start)
}

/// The state as `lbd_vrrp_state` numbers it: Initialize with the interface down is fault.
fn metric_state(s: &Status) -> VrrpState {
    match s.state {
        State::Initialize if s.fault => VrrpState::Fault,
        State::Initialize => VrrpState::Initialize,
        State::Backup => VrrpState::Backup,
        State::Master => VrrpState::Master,
    }
}

/// The drops counted since `seen` (which is brought up to date), by reason.
fn new_drops(
    seen: &mut BTreeMap<&'static str, u64>,
    now: &DropCounters,
) -> Vec<(&'static str, u64)> {
    now.iter()
        .filter_map(|(reason, n)| {
            let before = seen.insert(reason, n).unwrap_or(0);
            (n > before).then(|| (reason, n - before))
        })
        .collect()
}

/// One running instance.
struct Running {
    cfg: InstanceConfig,
    control: Control,
    task: JoinHandle<()>,
    /// Service health last reported to it.
    reported: BTreeMap<String, bool>,
    /// State last recorded in the metrics.
    seen: Option<VrrpState>,
    /// Drop counts already added to the metrics, by reason.
    dropped: BTreeMap<&'static str, u64>,
}

/// The daemon's running VRRP instances, all on the `lbd-vrrp` thread: nothing the event loop
/// does (a dump of 50,000 real servers, a reconcile pass, a state-file write) delays an advert
/// or a timer.
#[derive(Default)]
pub struct VrrpSet {
    /// Set once the event loop runs: before it nothing is spawned.
    active: bool,
    /// The thread the instances run on (started with the first instance).
    thread: Option<RuntimeThread>,
    /// `vrrp_rt_priority` the thread was started with.
    rt_priority: Option<u8>,
    /// The instance that drives the sync daemon, and its settings.
    sync: Option<(String, ipvs::SyncDaemon)>,
    running: BTreeMap<String, Running>,
    /// Instances replaced by a reload, still finishing their stop.
    stopping: Vec<JoinHandle<()>>,
}

impl VrrpSet {
    /// Starts every configured instance (from the event loop).
    pub fn start(&mut self, cfg: &Config) {
        self.active = true;
        self.rt_priority = cfg.director.vrrp_rt_priority;
        self.apply(cfg);
    }

    /// The VRRP thread, started when first needed.
    fn thread(&mut self) -> Option<&RuntimeThread> {
        if self.thread.is_none() {
            match RuntimeThread::start("lbd-vrrp", self.rt_priority) {
                Ok((t, prio_err)) => {
                    match (prio_err, self.rt_priority) {
                        (Some(e), _) => tracing::warn!(
                            "{e}; the VRRP thread runs at the normal priority (grant CAP_SYS_NICE)"
                        ),
                        (None, Some(p)) => {
                            tracing::info!(priority = p, "vrrp thread runs in SCHED_RR")
                        }
                        (None, None) => {}
                    }
                    self.thread = Some(t);
                }
                Err(e) => tracing::error!("cannot start the vrrp thread: {e}"),
            }
        }
        self.thread.as_ref()
    }

    /// Brings the running instances in line with `cfg`: new ones start, removed ones stop,
    /// changed ones (or all, when the sync daemon changed) restart; the others keep running.
    pub fn apply(&mut self, cfg: &Config) {
        if !self.active {
            return;
        }
        let sync = sync_for(cfg);
        let sync_changed = sync != self.sync;
        self.sync = sync;
        let running: BTreeMap<String, InstanceConfig> = self
            .running
            .iter()
            .map(|(n, r)| (n.clone(), r.cfg.clone()))
            .collect();
        let (stop, start) = restarts(&running, instance_configs(cfg), sync_changed);
        for name in stop {
            if let Some(r) = self.running.remove(&name) {
                tracing::info!(instance = %name, "vrrp instance stopping (configuration changed)");
                r.control.shutdown();
                self.stopping.push(r.task);
            }
        }
        for c in start {
            self.spawn(c);
        }
    }

    fn spawn(&mut self, cfg: InstanceConfig) {
        let sync: Arc<dyn SyncDaemonControl> = match &self.sync {
            Some((_, t)) if drives_sync(&self.sync, &cfg.name) => {
                Arc::new(IpvsSyncDaemon::new(t.clone()))
            }
            _ => Arc::new(NoSyncDaemon),
        };
        let name = cfg.name.clone();
        let Some(thread) = self.thread() else {
            return;
        };
        match vrrp::run_instance(cfg.clone(), sync) {
            Ok((instance, control)) => {
                let task = thread.spawn(async move {
                    if let Err(e) = instance.run().await {
                        tracing::error!("vrrp instance stopped: {e}");
                    }
                });
                self.running.insert(
                    name,
                    Running {
                        cfg,
                        control,
                        task,
                        reported: BTreeMap::new(),
                        seen: None,
                        dropped: BTreeMap::new(),
                    },
                );
            }
            Err(e) => tracing::error!("vrrp instance not started: {e}"),
        }
    }

    /// Reports the carried services' health ("a healthy real server in the table") to the
    /// instances, only what changed.
    pub fn track(&mut self, plan: &Plan) {
        for r in self.running.values_mut() {
            for t in &r.cfg.track {
                let TrackTarget::Service(svc) = &t.target else {
                    continue;
                };
                let up = plan.services.get(svc).is_some_and(|s| s.healthy > 0);
                if r.reported.get(svc) != Some(&up) {
                    if !up {
                        tracing::warn!(instance = %r.cfg.name, service = %svc,
                            "no healthy real server: lowering the vrrp priority");
                    }
                    r.control.track(t.target.clone(), up);
                    r.reported.insert(svc.clone(), up);
                }
            }
        }
    }

    /// Records state changes and dropped adverts in the metrics.
    pub fn observe(&mut self, metrics: Option<&Metrics>) {
        for r in self.running.values_mut() {
            let Some(st) = r.control.status() else {
                continue;
            };
            let state = metric_state(&st);
            if r.seen != Some(state) {
                if let Some(m) = metrics {
                    match r.seen {
                        Some(from) => m.vrrp_transition(&r.cfg.name, from, state),
                        None => m.vrrp_state(&r.cfg.name, state),
                    }
                }
                r.seen = Some(state);
            }
            for (reason, n) in new_drops(&mut r.dropped, &st.drops) {
                if let Some(m) = metrics {
                    m.vrrp_adverts_dropped(&r.cfg.name, reason, n);
                }
            }
        }
    }

    /// `lbctl status`: the real role of each instance.
    pub fn views(&self) -> Vec<VrrpView> {
        self.running
            .values()
            .map(|r| {
                let st = r.control.status();
                VrrpView {
                    instance: r.cfg.name.clone(),
                    interface: r.cfg.interface.clone(),
                    vrid: r.cfg.vrid,
                    state: st.as_ref().map_or("initialize", Status::role).to_string(),
                    priority: r.cfg.priority,
                    effective_priority: st.as_ref().map_or(r.cfg.priority, |s| s.priority),
                    vips: r
                        .cfg
                        .vips
                        .iter()
                        .map(|v| match &v.interface {
                            Some(i) => format!("{}/{}@{i}", v.address, v.prefix),
                            None => format!("{}/{}", v.address, v.prefix),
                        })
                        .collect(),
                    drops: st
                        .as_ref()
                        .map(|s| s.drops.iter().map(|(k, n)| (k.to_string(), n)).collect())
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// `lbctl failover`: the masters among the chosen instances step down and stay backup
    /// until `lbctl failover --clear` (or a restart); `clear` ends the hold instead.
    pub fn failover(&self, instance: Option<&str>, clear: bool) -> Response {
        let chosen: Vec<&Running> = self
            .running
            .values()
            .filter(|r| instance.is_none_or(|i| i == r.cfg.name))
            .collect();
        if chosen.is_empty() {
            return Response::Error {
                code: ErrorCode::NotFound,
                message: match instance {
                    Some(i) => format!("no vrrp instance `{i}`"),
                    None => "no vrrp instance runs in this daemon".to_string(),
                },
            };
        }
        let mut words = Vec::new();
        for r in chosen {
            let state = r.control.status().map(|s| s.state);
            if clear {
                r.control.resume();
                words.push(format!("{}: hold cleared", r.cfg.name));
            } else {
                r.control.step_down(true);
                let what = if state == Some(State::Master) {
                    "master steps down (priority 0), held in backup"
                } else {
                    "not master, held in backup"
                };
                words.push(format!("{}: {what}", r.cfg.name));
                tracing::info!(instance = %r.cfg.name, "operator failover: {what}");
            }
        }
        Response::Done {
            message: words.join("; "),
        }
    }

    /// Stops every instance cleanly (priority-0 advert, VIPs removed, stop hooks) and waits.
    pub async fn shutdown(&mut self) {
        let mut tasks = std::mem::take(&mut self.stopping);
        for (_, r) in std::mem::take(&mut self.running) {
            r.control.shutdown();
            tasks.push(r.task);
        }
        // One deadline for all: the instances stop side by side on their thread.
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        for t in tasks {
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                tracing::warn!("a vrrp instance did not stop in time");
            }
        }
        // Stops the thread's runtime (what is left of it) and joins it.
        self.thread = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::path::Path;

    fn example() -> Config {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        super::super::reload::load(&dir)
            .expect("example config loads")
            .0
    }

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
        match super::super::reload::load(tmp.path()) {
            Ok((cfg, _)) => cfg,
            Err(e) => panic!("edited config does not load: {:?}", e.errors),
        }
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
        let mut t = vrrp::track::Tracker::new(c.priority, &c.track);
        for target in c.track.iter().map(|t| t.target.clone()) {
            assert_eq!(t.set(&target, false), None, "{target:?}");
        }
        assert_eq!(t.priority(), 255);
    }

    fn status(state: State, fault: bool) -> Status {
        Status {
            state,
            fault,
            ..Status::new("vi_51", 150)
        }
    }

    #[test]
    fn an_interface_fault_is_reported_as_fault() {
        let faulty = status(State::Initialize, true);
        assert_eq!(metric_state(&faulty), VrrpState::Fault);
        assert_eq!(metric_state(&faulty).number(), 3);
        assert_eq!(faulty.role(), "fault");
        let starting = status(State::Initialize, false);
        assert_eq!(metric_state(&starting), VrrpState::Initialize);
        assert_eq!(starting.role(), "initialize");
        assert_eq!(
            metric_state(&status(State::Master, false)),
            VrrpState::Master
        );
        assert_eq!(status(State::Backup, false).role(), "backup");
    }

    #[test]
    fn drops_reach_the_metric_once_each() {
        use crate::vrrp::packet::DropReason;
        let mut seen = BTreeMap::new();
        let mut d = DropCounters::default();
        assert!(new_drops(&mut seen, &d).is_empty());
        d.count(&DropReason::BadTtl(64));
        d.count(&DropReason::BadTtl(64));
        assert_eq!(new_drops(&mut seen, &d), vec![("bad_ttl", 2)]);
        d.count(&DropReason::BadTtl(1));
        d.count(&DropReason::OtherVrid(52));
        assert_eq!(
            new_drops(&mut seen, &d),
            vec![("bad_ttl", 1), ("other_vrid", 1)]
        );
        assert!(new_drops(&mut seen, &d).is_empty());
        // Through the registry: the counter holds the sum.
        let m = Metrics::new("dir1");
        let mut seen = BTreeMap::new();
        for (r, n) in new_drops(&mut seen, &d) {
            m.vrrp_adverts_dropped("vi_51", r, n);
        }
        d.count(&DropReason::BadChecksum);
        for (r, n) in new_drops(&mut seen, &d) {
            m.vrrp_adverts_dropped("vi_51", r, n);
        }
        let text = m.encode();
        for line in [
            r#"lbd_vrrp_adverts_dropped_total{instance="vi_51",reason="bad_ttl"} 3"#,
            r#"lbd_vrrp_adverts_dropped_total{instance="vi_51",reason="other_vrid"} 1"#,
            r#"lbd_vrrp_adverts_dropped_total{instance="vi_51",reason="bad_checksum"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    /// The example with a second instance (VRID 52, its own VIP) and `sync_daemon` lines.
    fn two_instances(sync_lines: &str) -> Result<Config, Vec<String>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let text = std::fs::read_to_string(dir.join("director.yaml")).unwrap();
        let text = text
            .replace(
                "\n# The IPVS connection-sync daemon",
                "  - {name: vi_52, interface: eth0, vrid: 52, priority: 100, \
                 vips: [192.0.2.20/24]}\n\n# The IPVS connection-sync daemon",
            )
            .replace("sync_daemon:\n", &format!("sync_daemon:\n{sync_lines}"));
        let tmp = tempfile::tempdir().unwrap();
        for sub in ["hostgroups", "services"] {
            std::fs::create_dir_all(tmp.path().join(sub)).unwrap();
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), tmp.path().join(sub).join(e.file_name())).unwrap();
            }
        }
        std::fs::write(tmp.path().join("director.yaml"), text).unwrap();
        super::super::reload::load(tmp.path())
            .map(|(c, _)| c)
            .map_err(|e| e.errors.iter().map(|d| d.message.clone()).collect())
    }

    #[test]
    fn one_instance_drives_the_sync_daemon() {
        // Default: the first instance.
        let cfg = two_instances("").expect("loads");
        assert_eq!(cfg.director.vrrp.len(), 2);
        let sync = sync_for(&cfg);
        assert_eq!(sync.as_ref().map(|(n, _)| n.as_str()), Some("vi_51"));
        assert!(drives_sync(&sync, "vi_51"));
        assert!(!drives_sync(&sync, "vi_52"));
        // Named.
        let cfg = two_instances("  instance: vi_52\n").expect("loads");
        let sync = sync_for(&cfg);
        assert!(drives_sync(&sync, "vi_52"));
        assert!(!drives_sync(&sync, "vi_51"));
        // Following another instance restarts them all (the switch moves).
        let running: BTreeMap<String, InstanceConfig> = instance_configs(&cfg)
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        let before = sync_for(&two_instances("").unwrap());
        let (stop, _) = restarts(&running, instance_configs(&cfg), before != sync);
        assert_eq!(stop.len(), 2);
        // An unknown instance is a configuration error.
        let errors = two_instances("  instance: vi_99\n").unwrap_err();
        assert_eq!(
            errors,
            vec!["sync_daemon instance `vi_99` is not a VRRP instance".to_string()]
        );
        // Without sync_daemon nobody drives it.
        let mut cfg = cfg;
        cfg.director.sync_daemon = None;
        assert!(!drives_sync(&sync_for(&cfg), "vi_51"));
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
        let services: Vec<(&TrackTarget, u8)> =
            c.track.iter().map(|t| (&t.target, t.weight)).collect();
        for s in &carried {
            assert!(
                services.contains(&(&TrackTarget::Service(s.clone()), DEFAULT_SERVICE_DECREMENT))
            );
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
            interfaces: vec!["eth1".into()],
            priority_decrement: Some(30),
        });
        inst.notify.master = Some("/usr/local/sbin/to-master".into());
        inst.notify.fault = Some("/usr/local/sbin/to-fault".into());
        inst.unicast_peers = vec!["192.0.2.3".parse().unwrap()];
        inst.preempt = false;
        inst.preempt_delay = Duration::from_secs(2);
        let c = instance_config(&cfg, &cfg.director.vrrp[0]);
        assert_eq!(c.track[0].target, TrackTarget::Interface("eth1".into()));
        assert!(c.track.iter().all(|t| t.weight == 30));
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
        // Without a decrement a lost interface drops the priority to the floor.
        cfg.director.vrrp[0]
            .track
            .as_mut()
            .unwrap()
            .priority_decrement = None;
        let c = instance_config(&cfg, &cfg.director.vrrp[0]);
        assert_eq!(c.track[0].weight, INTERFACE_FAULT_WEIGHT);
        let t = vrrp::track::Tracker::new(c.priority, &c.track);
        let mut t2 = t.clone();
        assert_eq!(
            t2.set(&TrackTarget::Interface("eth1".into()), false),
            Some(1)
        );
    }

    #[test]
    fn reload_restarts_only_changed_instances() {
        let cfg = example();
        let a = instance_config(&cfg, &cfg.director.vrrp[0]);
        let mut b = a.clone();
        b.name = "vi_52".into();
        b.vrid = 52;
        let running: BTreeMap<String, InstanceConfig> = [a.clone(), b.clone()]
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        // Same configuration: nothing happens.
        let (stop, start) = restarts(&running, vec![a.clone(), b.clone()], false);
        assert!(stop.is_empty() && start.is_empty());
        // One priority changed, one instance removed, one added.
        let mut a2 = a.clone();
        a2.priority = 110;
        let mut c = a.clone();
        c.name = "vi_53".into();
        let (stop, start) = restarts(&running, vec![a2.clone(), c.clone()], false);
        assert_eq!(stop, vec!["vi_51".to_string(), "vi_52".to_string()]);
        assert_eq!(start, vec![a2, c]);
        // A new sync daemon restarts everything.
        let (stop, start) = restarts(&running, vec![a.clone(), b.clone()], true);
        assert_eq!(stop.len(), 2);
        assert_eq!(start, vec![a, b]);
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
}
