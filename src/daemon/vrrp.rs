//! The VRRP instances of the daemon, all on the `lbd-vrrp` thread (a current-thread runtime of
//! their own, optionally in SCHED_RR: `vrrp_rt_priority`): [`VrrpSet`] runs one instance per
//! configured one, tells them whether the services they track have a healthy real server,
//! restarts the changed ones on reload, carries out operator failovers and stops them on
//! shutdown. Nothing the event loop does (a dump of 50,000 real servers, a reconcile pass, a
//! state-file write, a slow control client) delays an advert or a timer. What to run comes
//! from the director (`director/vrrp.rs`, [`VrrpSetup`]). A sync group runs as one more task
//! on that thread, its coordinator ([`crate::vrrp::edge::sync_group`]); a reload that touches
//! a group or one of its members restarts the group with all its members.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::control::proto::{ErrorCode, Response, VrrpView};
use crate::director::io::GroupSetup;
use crate::director::VrrpSetup;
use crate::ipvs;
use crate::metrics::{Metrics, VrrpState};
use crate::runtime_thread::RuntimeThread;
use crate::vrrp::edge::sync_group::{self as group_edge, GroupHandle, Report};
use crate::vrrp::ipvs_sync::IpvsSyncDaemon;
use crate::vrrp::packet::DropCounters;
use crate::vrrp::{
    self, Control, InstanceConfig, NoSyncDaemon, State, Status, SyncDaemonControl, TrackTarget,
};

/// How long shutdown waits for the instances' priority-0 adverts and stop hooks.
const STOP_WAIT: Duration = Duration::from_secs(12);

/// Whether instance `name` switches the sync daemon (the one the setup names).
fn drives_sync(sync: &Option<(String, ipvs::SyncDaemon)>, name: &str) -> bool {
    sync.as_ref().is_some_and(|(owner, _)| owner == name)
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

/// A sync group's state as `lbd_vrrp_sync_group_state` numbers it.
fn group_metric_state(s: crate::vrrp::sync_group::GroupState) -> VrrpState {
    use crate::vrrp::sync_group::GroupState;
    match s {
        GroupState::Init => VrrpState::Initialize,
        GroupState::Backup => VrrpState::Backup,
        GroupState::Master => VrrpState::Master,
        GroupState::Fault => VrrpState::Fault,
    }
}

/// A sync group's state as `lbctl status` shows it.
fn group_word(s: crate::vrrp::sync_group::GroupState) -> &'static str {
    use crate::vrrp::sync_group::GroupState;
    match s {
        GroupState::Init => "initialize",
        GroupState::Backup => "backup",
        GroupState::Master => "master",
        GroupState::Fault => "fault",
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

impl Running {
    /// Reports `service`'s health if this instance tracks it and it changed.
    fn track(&mut self, service: &str, up: bool) {
        let tracks = self
            .cfg
            .track
            .iter()
            .any(|t| matches!(&t.target, TrackTarget::Service(s) if s == service));
        if !tracks || self.reported.get(service) == Some(&up) {
            return;
        }
        if !up {
            tracing::warn!(instance = %self.cfg.name, service = %service,
                "no healthy real server: lowering the vrrp priority");
        }
        self.control
            .track(TrackTarget::Service(service.to_string()), up);
        self.reported.insert(service.to_string(), up);
    }
}

/// One running sync group.
struct RunningGroup {
    setup: GroupSetup,
    handle: GroupHandle,
}

/// The sync groups a reload must (re)start: new and changed ones, and those with a member
/// that stops or starts; the names of the running groups to stop (removed, changed or
/// restarted).
fn group_restarts(
    running: &BTreeMap<String, GroupSetup>,
    wanted: &[GroupSetup],
    touched: &[String],
) -> (Vec<String>, Vec<GroupSetup>) {
    let hit = |g: &GroupSetup| g.instances.iter().any(|m| touched.contains(m));
    let stop: Vec<String> = running
        .iter()
        .filter(|(_, g)| hit(g) || !wanted.contains(g))
        .map(|(n, _)| n.clone())
        .collect();
    let start = wanted
        .iter()
        .filter(|w| hit(w) || running.get(&w.name) != Some(w))
        .cloned()
        .collect();
    (stop, start)
}

/// The daemon's running VRRP instances.
#[derive(Default)]
pub struct VrrpSet {
    /// The thread the instances run on (started with the first instance).
    thread: Option<RuntimeThread>,
    /// `vrrp_rt_priority` the thread was started with.
    rt_priority: Option<u8>,
    /// The instance that drives the sync daemon, and its settings.
    sync: Option<(String, ipvs::SyncDaemon)>,
    running: BTreeMap<String, Running>,
    /// The running sync groups.
    groups: BTreeMap<String, RunningGroup>,
    /// Instances replaced by a reload, still finishing their stop.
    stopping: Vec<JoinHandle<()>>,
    /// Whether each tracked service has a healthy real server, as the director said last
    /// (an instance started later is told at once).
    services: BTreeMap<String, bool>,
}

impl VrrpSet {
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

    /// Brings the running instances in line with `setup`: new ones start, removed ones stop,
    /// changed ones (or all, when the sync daemon changed) restart; the others keep running.
    /// The real-time priority is the one of the first setup (the thread's, for its life).
    pub fn apply(&mut self, setup: VrrpSetup) {
        if self.thread.is_none() {
            self.rt_priority = setup.rt_priority;
        }
        let sync_changed = setup.sync != self.sync;
        self.sync = setup.sync;
        let running: BTreeMap<String, InstanceConfig> = self
            .running
            .iter()
            .map(|(n, r)| (n.clone(), r.cfg.clone()))
            .collect();
        let wanted: BTreeMap<String, InstanceConfig> = setup
            .instances
            .iter()
            .map(|c| (c.name.clone(), c.clone()))
            .collect();
        let (mut stop, mut start) = restarts(&running, setup.instances, sync_changed);
        // A group restarts with all its members (their senders lead to its coordinator).
        let touched: Vec<String> = stop
            .iter()
            .cloned()
            .chain(start.iter().map(|c| c.name.clone()))
            .collect();
        let running_groups: BTreeMap<String, GroupSetup> = self
            .groups
            .iter()
            .map(|(n, g)| (n.clone(), g.setup.clone()))
            .collect();
        let (stop_groups, start_groups) = group_restarts(&running_groups, &setup.groups, &touched);
        let mut members: Vec<String> = stop_groups
            .iter()
            .filter_map(|n| running_groups.get(n))
            .chain(start_groups.iter())
            .flat_map(|g| g.instances.iter().cloned())
            .collect();
        members.sort();
        members.dedup();
        for m in members {
            if self.running.contains_key(&m) && !stop.contains(&m) {
                stop.push(m.clone());
            }
            if let Some(c) = wanted.get(&m) {
                if !start.iter().any(|s| s.name == m) {
                    start.push(c.clone());
                }
            }
        }
        for name in &stop_groups {
            // Its coordinator ends when the members it hears from have stopped.
            self.groups.remove(name);
        }
        for name in stop {
            if let Some(r) = self.running.remove(&name) {
                tracing::info!(instance = %name, "vrrp instance stopping (configuration changed)");
                r.control.shutdown();
                self.stopping.push(r.task);
            }
        }
        let mut channels: BTreeMap<String, _> = BTreeMap::new();
        for g in &start_groups {
            channels.insert(g.name.clone(), group_edge::channel());
        }
        for c in start {
            let tx = start_groups
                .iter()
                .find(|g| g.instances.contains(&c.name))
                .and_then(|g| channels.get(&g.name))
                .map(|(tx, _, _)| tx.clone());
            let in_group = setup.groups.iter().any(|g| g.instances.contains(&c.name));
            self.spawn(c, tx, in_group);
        }
        for g in start_groups {
            let Some((tx, rx, handle)) = channels.remove(&g.name) else {
                continue;
            };
            // Only the members hold senders now: the coordinator ends when they stop.
            drop(tx);
            self.spawn_group(g, rx, handle);
        }
    }

    /// Starts the coordinator of group `g` over its running members.
    fn spawn_group(
        &mut self,
        g: GroupSetup,
        rx: tokio::sync::mpsc::UnboundedReceiver<Report>,
        handle: GroupHandle,
    ) {
        let members = g
            .instances
            .iter()
            .filter_map(|m| self.running.get(m).map(|r| (m.clone(), r.control.clone())))
            .collect();
        // The group drives the sync daemon when the instance named for it is a member.
        let sync: Option<Arc<dyn SyncDaemonControl>> = match &self.sync {
            Some((owner, t)) if g.instances.contains(owner) => {
                Some(Arc::new(IpvsSyncDaemon::new(t.clone())))
            }
            _ => None,
        };
        let Some(thread) = self.thread() else {
            return;
        };
        tracing::info!(group = %g.name, members = ?g.instances, "vrrp sync group starting");
        let task = thread.spawn(group_edge::run_group(
            g.name.clone(),
            members,
            rx,
            g.notify.clone(),
            sync,
            handle.clone(),
        ));
        self.stopping.push(task);
        self.groups
            .insert(g.name.clone(), RunningGroup { setup: g, handle });
    }

    /// `sync_group`: the channel to the instance's group coordinator; `in_group`: a group
    /// (not the instance) switches the sync daemon.
    fn spawn(
        &mut self,
        cfg: InstanceConfig,
        sync_group: Option<tokio::sync::mpsc::UnboundedSender<Report>>,
        in_group: bool,
    ) {
        let sync: Arc<dyn SyncDaemonControl> = match &self.sync {
            Some((_, t)) if drives_sync(&self.sync, &cfg.name) && !in_group => {
                Arc::new(IpvsSyncDaemon::new(t.clone()))
            }
            _ => Arc::new(NoSyncDaemon),
        };
        let name = cfg.name.clone();
        let Some(thread) = self.thread() else {
            return;
        };
        match vrrp::run_instance(cfg.clone(), sync) {
            Ok((mut instance, control)) => {
                if let Some(tx) = sync_group {
                    instance.join_group(tx);
                }
                let task = thread.spawn(async move {
                    if let Err(e) = instance.run().await {
                        tracing::error!("vrrp instance stopped: {e}");
                    }
                });
                let mut r = Running {
                    cfg,
                    control,
                    task,
                    reported: BTreeMap::new(),
                    seen: None,
                    dropped: BTreeMap::new(),
                };
                let known: Vec<(String, bool)> =
                    self.services.iter().map(|(s, u)| (s.clone(), *u)).collect();
                for (service, up) in known {
                    r.track(&service, up);
                }
                self.running.insert(name, r);
            }
            Err(e) => tracing::error!("vrrp instance not started: {e}"),
        }
    }

    /// Tells the instances that track `service` whether it has a healthy real server.
    pub fn track(&mut self, service: &str, up: bool) {
        self.services.insert(service.to_string(), up);
        for r in self.running.values_mut() {
            r.track(service, up);
        }
    }

    /// Records state changes and dropped adverts in the metrics.
    pub fn observe(&mut self, metrics: Option<&Metrics>) {
        if let Some(m) = metrics {
            for g in self.groups.values() {
                m.vrrp_group_state(&g.setup.name, group_metric_state(g.handle.state()));
            }
        }
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
                    sync_group: self
                        .groups
                        .values()
                        .find(|g| g.setup.instances.contains(&r.cfg.name))
                        .map(|g| format!("{} ({})", g.setup.name, group_word(g.handle.state()))),
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
    use crate::config::Config;
    use crate::director::vrrp::{example, instance_config, instance_configs, setup};
    use std::path::Path;

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
        // VRRPv2's: a wrong password, an AH replay, another Adver Int.
        d.count(&DropReason::AuthMismatch(
            crate::vrrp::packet::AuthFailure::Password,
        ));
        d.count(&DropReason::AuthMismatch(
            crate::vrrp::packet::AuthFailure::Icv,
        ));
        d.count(&DropReason::AhReplay { seq: 1, last: 9 });
        d.count(&DropReason::IntervalMismatch {
            got_cs: 100,
            want_cs: 200,
        });
        for (r, n) in new_drops(&mut seen, &d) {
            m.vrrp_adverts_dropped("vi_51", r, n);
        }
        let text = m.encode();
        for line in [
            r#"lbd_vrrp_adverts_dropped_total{vrrp_instance="vi_51",reason="bad_ttl"} 3"#,
            r#"lbd_vrrp_adverts_dropped_total{vrrp_instance="vi_51",reason="other_vrid"} 1"#,
            r#"lbd_vrrp_adverts_dropped_total{vrrp_instance="vi_51",reason="bad_checksum"} 1"#,
            r#"lbd_vrrp_adverts_dropped_total{vrrp_instance="vi_51",reason="auth_mismatch"} 2"#,
            r#"lbd_vrrp_adverts_dropped_total{vrrp_instance="vi_51",reason="ah_replay"} 1"#,
            r#"lbd_vrrp_adverts_dropped_total{vrrp_instance="vi_51",reason="interval_mismatch"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    /// The example with a second instance (VRID 52, its own VIP) and `sync_daemon` lines.
    fn two_instances(sync_lines: &str) -> Result<Config, Vec<String>> {
        with_groups(sync_lines, "")
    }

    /// [`two_instances`] with `groups` (YAML) appended to director.yaml; errors as
    /// `LINE: message`.
    fn with_groups_at(groups: &str) -> Result<Config, Vec<String>> {
        with_groups("", groups)
    }

    fn with_groups(sync_lines: &str, groups: &str) -> Result<Config, Vec<String>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let text = std::fs::read_to_string(dir.join("director.yaml")).unwrap();
        let text = text
            .replace(
                "\n# The IPVS connection-sync daemon",
                "  - {name: vi_52, interface: eth0, vrid: 52, priority: 100, \
                 vips: [192.0.2.20/24]}\n\n# The IPVS connection-sync daemon",
            )
            .replace("sync_daemon:\n", &format!("sync_daemon:\n{sync_lines}"))
            + groups;
        let first_group_line = text.len() - groups.len();
        let base_line = text[..first_group_line].lines().count();
        let tmp = tempfile::tempdir().unwrap();
        for sub in ["hostgroups", "services"] {
            std::fs::create_dir_all(tmp.path().join(sub)).unwrap();
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), tmp.path().join(sub).join(e.file_name())).unwrap();
            }
        }
        std::fs::write(tmp.path().join("director.yaml"), text).unwrap();
        crate::config::load(tmp.path())
            .map(|l| l.config)
            .map_err(|e| {
                e.errors
                    .iter()
                    .map(|d| {
                        if groups.is_empty() {
                            d.message.clone()
                        } else {
                            // Lines counted from the first appended line (1).
                            let line = d.line as usize;
                            format!("{}: {}", line.saturating_sub(base_line), d.message)
                        }
                    })
                    .collect()
            })
    }

    const GROUP: &str = "vrrp_sync_groups:\n  - name: g1\n    instances: [vi_51, vi_52]\n    \
                         notify: {master: /usr/local/sbin/g-master}\n";

    #[test]
    fn a_sync_group_loads_with_its_notify_hooks() {
        let cfg = with_groups_at(GROUP).expect("loads");
        let s = setup(&cfg);
        assert_eq!(s.groups.len(), 1);
        assert_eq!(s.groups[0].instances, ["vi_51", "vi_52"]);
        assert_eq!(
            s.groups[0].notify[0].command,
            ["/usr/local/sbin/g-master".to_string()]
        );
        assert_eq!(s.groups[0].notify[0].on, [crate::vrrp::NotifyState::Master]);
    }

    #[test]
    fn sync_group_mistakes_name_their_line() {
        let err = |g: &str| with_groups_at(g).unwrap_err();
        assert_eq!(
            err("vrrp_sync_groups:\n  - name: g1\n    instances: [vi_51, vi_5]\n"),
            ["3: sync group `g1`: `vi_5` is not a VRRP instance"]
        );
        assert_eq!(
            err("vrrp_sync_groups:\n  - name: g1\n    instances: [vi_51]\n"),
            ["3: sync group `g1` has 1 instance(s), it needs at least 2"]
        );
        assert_eq!(
            err("vrrp_sync_groups:\n  - name: g1\n    instances: [vi_51, vi_51]\n"),
            ["3: instance `vi_51` is listed twice"]
        );
        assert_eq!(
            err(
                "vrrp_sync_groups:\n  - {name: g1, instances: [vi_51, vi_52]}\n  \
                 - {name: g1, instances: [vi_52, vi_51]}\n"
            ),
            [
                "3: duplicate sync group name `g1`",
                "3: instance `vi_52` is in two sync groups (`g1` and `g1`)",
                "3: instance `vi_51` is in two sync groups (`g1` and `g1`)"
            ]
        );
        assert_eq!(
            err(
                "vrrp_sync_groups:\n  - {name: g1, instances: [vi_51, vi_52]}\n  \
                 - {name: g2, instances: [vi_52, vi_51]}\n"
            ),
            [
                "3: instance `vi_52` is in two sync groups (`g1` and `g2`)",
                "3: instance `vi_51` is in two sync groups (`g1` and `g2`)"
            ]
        );
    }

    #[test]
    fn a_reload_restarts_a_group_with_its_members() {
        let g = |name: &str, members: &[&str]| GroupSetup {
            name: name.into(),
            instances: members.iter().map(|m| m.to_string()).collect(),
            notify: vec![],
        };
        let running: BTreeMap<String, GroupSetup> = [("g1".to_string(), g("g1", &["a", "b"]))]
            .into_iter()
            .collect();
        // Nothing changed.
        let (stop, start) = group_restarts(&running, &[g("g1", &["a", "b"])], &[]);
        assert!(stop.is_empty() && start.is_empty());
        // A member restarts: so does the group.
        let (stop, start) = group_restarts(&running, &[g("g1", &["a", "b"])], &["b".into()]);
        assert_eq!(
            (stop, start),
            (vec!["g1".to_string()], vec![g("g1", &["a", "b"])])
        );
        // A changed group restarts; a removed one stops; a new one starts.
        let (stop, start) = group_restarts(&running, &[g("g1", &["a", "c"])], &[]);
        assert_eq!((stop, start.len()), (vec!["g1".to_string()], 1));
        let (stop, start) = group_restarts(&running, &[g("g2", &["c", "d"])], &[]);
        assert_eq!(
            (stop, start),
            (vec!["g1".to_string()], vec![g("g2", &["c", "d"])])
        );
    }

    #[test]
    fn one_instance_drives_the_sync_daemon() {
        // Default: the first instance.
        let cfg = two_instances("").expect("loads");
        assert_eq!(cfg.director.vrrp.len(), 2);
        let sync = setup(&cfg).sync;
        assert_eq!(sync.as_ref().map(|(n, _)| n.as_str()), Some("vi_51"));
        assert!(drives_sync(&sync, "vi_51"));
        assert!(!drives_sync(&sync, "vi_52"));
        // Named.
        let cfg = two_instances("  instance: vi_52\n").expect("loads");
        let sync = setup(&cfg).sync;
        assert!(drives_sync(&sync, "vi_52"));
        assert!(!drives_sync(&sync, "vi_51"));
        // Following another instance restarts them all (the switch moves).
        let running: BTreeMap<String, InstanceConfig> = instance_configs(&cfg)
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        let before = setup(&two_instances("").unwrap()).sync;
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
        assert!(!drives_sync(&setup(&cfg).sync, "vi_51"));
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
}
