//! Runs one VRRP instance: feeds adverts, timers, tracking (interfaces, services, track
//! scripts and files) and shutdown into [`Vrrp`] and executes its actions (adverts, VIPs over
//! rtnetlink, GARP/NA, sync daemon, notify hooks).
//!
//! The daemon spawns one [`run_instance`] per instance and keeps its [`Control`] to report
//! tracked services and to stop it; `lbd vrrp` runs one as its own process.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtnetlink::Handle;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::announce::{send_garp, send_na};
use super::netlink::{self, LinkInfo, NetlinkError};
use super::notify::{HookQueue, HookRun};
use super::socket::{AdvertSocket, Received, SocketMode};
use super::track::{read_file, spawn_script, ProcessWatch, ScriptRun};
use crate::vrrp::config::{link_local_or_v4, InstanceConfig, TrackTarget};
use crate::vrrp::fsm::{Action, Event, State, SyncRole, Vrrp};
use crate::vrrp::packet::{DropCounters, Family};
use crate::vrrp::sync::SyncDaemonControl;
use crate::vrrp::sync_group::{MemberState, Order};
use crate::vrrp::track::{Level, Tracker};
use crate::vrrp::track_script::ScriptCounter;
use crate::vrrp::wire::Codec;

/// How often interface states (own and tracked) and track files are polled.
const LINK_POLL: Duration = Duration::from_millis(500);

/// At most this many queued packets are read before a late timer is handled.
const DRAIN_LATE: usize = 64;

/// Messages from the daemon to a running instance.
#[derive(Debug, Clone)]
enum ControlMsg {
    Track(TrackTarget, bool),
    StepDown(bool),
    Resume,
    Group(Order),
    Shutdown,
}

/// A snapshot of a running instance.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub state: State,
    /// In Initialize because the instance's own interface is down, or a tracked target
    /// faults it (keepalived's FAULT).
    pub fault: bool,
    pub priority: u8,
    /// An operator failover holds this instance in backup (no preemption).
    pub held: bool,
    pub master: Option<IpAddr>,
    pub adverts_sent: u64,
    pub adverts_accepted: u64,
    pub drops: DropCounters,
    pub hooks: Vec<HookRun>,
    /// Every tracked target: what it is, its weight and its state.
    pub tracked: Vec<TrackedStatus>,
}

/// One tracked target as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackedStatus {
    /// `interface eth1`, `service http`, `script chk_proxy`, `file maint`, `process haproxy`.
    pub target: String,
    /// The summed weight (0: FAULT while down).
    pub weight: i32,
    /// `up`, `down`, `init` (a script before its first result, a process before its first
    /// count) or a file's number.
    pub state: String,
}

impl TrackedStatus {
    fn of(target: &TrackTarget, weight: i32, level: Level) -> TrackedStatus {
        let target = match target {
            TrackTarget::Interface(n) => format!("interface {n}"),
            TrackTarget::Service(n) => format!("service {n}"),
            TrackTarget::Script(n) => format!("script {n}"),
            TrackTarget::File(n) => format!("file {n}"),
            TrackTarget::Process(n) => format!("process {n}"),
        };
        let state = match level {
            Level::Pending => "init".to_string(),
            Level::Up => "up".to_string(),
            Level::Down => "down".to_string(),
            Level::Value(v) => v.to_string(),
        };
        TrackedStatus {
            target,
            weight,
            state,
        }
    }
}

impl Status {
    /// An instance that has not started: Initialize, nothing sent or seen.
    pub fn new(name: &str, priority: u8) -> Status {
        Status {
            name: name.to_owned(),
            state: State::Initialize,
            fault: false,
            priority,
            held: false,
            master: None,
            adverts_sent: 0,
            adverts_accepted: 0,
            drops: DropCounters::default(),
            hooks: Vec::new(),
            tracked: Vec::new(),
        }
    }

    /// The role as operators read it: `initialize`, `backup`, `master` or `fault`.
    pub fn role(&self) -> &'static str {
        match self.state {
            State::Initialize if self.fault => "fault",
            State::Initialize => "initialize",
            State::Backup => "backup",
            State::Master => "master",
        }
    }
}

/// The daemon's handle on a running instance.
#[derive(Debug, Clone)]
pub struct Control {
    tx: mpsc::UnboundedSender<ControlMsg>,
    status: Arc<Mutex<Status>>,
}

impl Control {
    /// Reports a tracked target up or down (e.g. "no healthy real server for service http").
    pub fn track(&self, target: TrackTarget, up: bool) {
        let _ = self.tx.send(ControlMsg::Track(target, up));
    }

    /// Operator failover: a master steps down at once (priority-0 advert) so the backup takes
    /// over; with `hold` the instance then stays backup (no preemption) until [`Control::resume`].
    pub fn step_down(&self, hold: bool) {
        let _ = self.tx.send(ControlMsg::StepDown(hold));
    }

    /// Clears a failover hold: preemption as configured again.
    pub fn resume(&self) {
        let _ = self.tx.send(ControlMsg::Resume);
    }

    /// A sync group's order: follow the other members.
    pub fn group(&self, order: Order) {
        let _ = self.tx.send(ControlMsg::Group(order));
    }

    /// Asks for a clean stop: a priority-0 advert, VIPs removed, `stop` hooks run.
    pub fn shutdown(&self) {
        let _ = self.tx.send(ControlMsg::Shutdown);
    }

    /// The latest status.
    pub fn status(&self) -> Option<Status> {
        self.status.lock().ok().map(|s| s.clone())
    }

    /// A handle on no instance, for tests of what is sent through it: the sync-group orders
    /// received so far.
    #[cfg(test)]
    pub(crate) fn detached(name: &str) -> (Control, impl FnMut() -> Vec<Order>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let control = Control {
            tx,
            status: Arc::new(Mutex::new(Status::new(name, 100))),
        };
        let orders = move || {
            let mut out = Vec::new();
            while let Ok(m) = rx.try_recv() {
                if let ControlMsg::Group(o) = m {
                    out.push(o);
                }
            }
            out
        };
        (control, orders)
    }
}

/// Errors that stop an instance.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("instance {0}: {1}")]
    Config(String, crate::vrrp::config::ConfigError),
    #[error("instance {0}: {1}")]
    Netlink(String, NetlinkError),
    #[error("instance {0}: cannot open vrrp sockets on {1}: {2}")]
    Socket(String, String, std::io::Error),
    #[error("instance {0}: {1}")]
    Vmac(String, super::vmac::VmacError),
}

/// A prepared instance: call [`Instance::run`] to drive it.
pub struct Instance {
    cfg: InstanceConfig,
    fsm: Vrrp,
    tracker: Tracker,
    sync: Arc<dyn SyncDaemonControl>,
    rx: mpsc::UnboundedReceiver<ControlMsg>,
    status: Arc<Mutex<Status>>,
    /// The sync group's coordinator, told every state this instance enters.
    group: Option<mpsc::UnboundedSender<(String, MemberState)>>,
    /// The state last told to it.
    told: Option<MemberState>,
}

/// Validates `cfg` and returns the instance and its control handle.
pub fn run_instance(
    cfg: InstanceConfig,
    sync: Arc<dyn SyncDaemonControl>,
) -> Result<(Instance, Control), RunError> {
    let fsm_cfg = cfg
        .to_fsm()
        .map_err(|e| RunError::Config(cfg.name.clone(), e))?;
    for w in cfg.warnings() {
        tracing::warn!(instance = %cfg.name, "{w}");
    }
    let fsm = Vrrp::new(fsm_cfg);
    let tracker = Tracker::new(cfg.priority, &cfg.effective_track());
    let (tx, rx) = mpsc::unbounded_channel();
    let status = Arc::new(Mutex::new(Status::new(&cfg.name, cfg.priority)));
    let control = Control {
        tx,
        status: status.clone(),
    };
    Ok((
        Instance {
            cfg,
            fsm,
            tracker,
            sync,
            rx,
            status,
            group: None,
            told: None,
        },
        control,
    ))
}

/// Facts about one interface the instance uses.
struct Iface {
    info: LinkInfo,
    link_local: Option<Ipv6Addr>,
}

/// Everything the action executor needs.
struct Edge {
    handle: Handle,
    sock: AdvertSocket,
    /// The instance's advert codec (VRRPv3, or VRRPv2 with its counters).
    codec: Codec,
    ifaces: HashMap<String, Iface>,
    hooks: HookQueue,
    adverts_sent: u64,
    /// Roles for the sync-daemon worker (switching can block for seconds in the kernel while
    /// it stops a sync thread: never on this task, or adverts and timers would stall).
    sync_tx: mpsc::UnboundedSender<SyncRole>,
}

/// Applies sync-daemon roles in order on the blocking pool, skipping to the latest queued one.
pub(crate) fn sync_worker(
    name: String,
    sync: Arc<dyn SyncDaemonControl>,
) -> (mpsc::UnboundedSender<SyncRole>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<SyncRole>();
    let task = tokio::spawn(async move {
        while let Some(mut role) = rx.recv().await {
            while let Ok(later) = rx.try_recv() {
                role = later;
            }
            let s = sync.clone();
            let res = tokio::task::spawn_blocking(move || match role {
                SyncRole::Master => s.to_master(),
                SyncRole::Backup => s.to_backup(),
            })
            .await;
            match res {
                Ok(Ok(())) => tracing::debug!(instance = %name, ?role, "sync daemon switched"),
                Ok(Err(e)) => {
                    tracing::warn!(instance = %name, ?role, "sync daemon switch failed: {e}")
                }
                Err(e) => tracing::warn!(instance = %name, ?role, "sync daemon switch failed: {e}"),
            }
        }
    });
    (tx, task)
}

impl Instance {
    /// Makes this instance a member of a sync group: its states go to `coordinator`, which
    /// answers through [`Control::group`].
    pub fn join_group(&mut self, coordinator: mpsc::UnboundedSender<(String, MemberState)>) {
        self.group = Some(coordinator);
    }

    /// Tells the sync group the state this instance is in, when it changed.
    fn tell_group(&mut self) {
        let Some(tx) = &self.group else {
            return;
        };
        let now = match (self.fsm.state(), self.fsm.fault()) {
            (State::Initialize, true) => MemberState::Fault,
            (State::Initialize, false) => MemberState::Init,
            (State::Backup, _) => MemberState::Backup,
            (State::Master, _) => MemberState::Master,
        };
        if self.told != Some(now) {
            self.told = Some(now);
            let _ = tx.send((self.cfg.name.clone(), now));
        }
    }

    fn is_shutdown(&mut self) -> bool {
        matches!(self.rx.try_recv(), Ok(ControlMsg::Shutdown))
    }

    /// Finds our source address: `unicast_src_ip` once it is on the interface, or else the
    /// first non-VIP IPv4 address, or the link-local IPv6 address once duplicate address
    /// detection is over. Waits for it (or for shutdown).
    async fn source_addr(
        &mut self,
        handle: &Handle,
        index: u32,
    ) -> Result<Option<IpAddr>, RunError> {
        let family = self.cfg.family();
        let wanted = self.cfg.unicast_src_ip;
        let vips: Vec<IpAddr> = self.cfg.vips.iter().map(|v| v.address).collect();
        let mut logged = false;
        loop {
            let addrs = netlink::addresses(handle, index)
                .await
                .map_err(|e| RunError::Netlink(self.cfg.name.clone(), e))?;
            let found = addrs.iter().find(|a| {
                !a.tentative
                    && match wanted {
                        Some(w) => a.addr == w,
                        None => {
                            Family::of(&a.addr) == family
                                && !vips.contains(&a.addr)
                                && link_local_or_v4(&a.addr)
                        }
                    }
            });
            if let Some(a) = found {
                return Ok(Some(a.addr));
            }
            if !logged {
                match wanted {
                    Some(w) => tracing::warn!(instance = %self.cfg.name,
                        interface = %self.cfg.interface, unicast_src_ip = %w,
                        "waiting for unicast_src_ip to be on the interface"),
                    None => tracing::warn!(instance = %self.cfg.name,
                        interface = %self.cfg.interface, "waiting for a usable source address"),
                }
                logged = true;
            }
            if self.is_shutdown() {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn iface(handle: &Handle, name: &str) -> Result<Iface, NetlinkError> {
        let info = netlink::link(handle, name).await?;
        let link_local = netlink::addresses(handle, info.index)
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V6(v) if v.is_unicast_link_local() && !a.tentative => Some(v),
                _ => None,
            });
        Ok(Iface { info, link_local })
    }

    /// Drives the instance until [`Control::shutdown`] (or the control handle is dropped).
    pub async fn run(mut self) -> Result<(), RunError> {
        let name = self.cfg.name.clone();
        let nl = |e| RunError::Netlink(name.clone(), e);
        let handle = netlink::connect().map_err(nl)?;
        let mut ifaces = HashMap::new();
        let mut names = vec![self.cfg.interface.clone()];
        names.extend(self.cfg.vips.iter().filter_map(|v| v.interface.clone()));
        names.extend(self.tracker.interfaces());
        for n in names {
            if let std::collections::hash_map::Entry::Vacant(slot) = ifaces.entry(n) {
                let i = Self::iface(&handle, slot.key()).await.map_err(nl)?;
                slot.insert(i);
            }
        }
        let main = self.cfg.interface.clone();
        let index = ifaces.get(&main).map(|i| i.info.index).unwrap_or(0);
        let Some(src) = self.source_addr(&handle, index).await? else {
            return Ok(());
        };
        // The VMAC carries the VIPs, and the adverts unless vmac_xmit_base.
        let vmac = self.cfg.vmac();
        let (mut sock_if, mut sock_index) = (main.clone(), index);
        if let Some(v) = &vmac {
            super::vmac::set_up(&handle, v, &main, index, src)
                .await
                .map_err(|e| RunError::Vmac(name.clone(), e))?;
            let i = Self::iface(&handle, &v.name).await.map_err(nl)?;
            if !v.xmit_base {
                (sock_if, sock_index) = (v.name.clone(), i.info.index);
            }
            ifaces.insert(v.name.clone(), i);
        }
        let codec = Codec::new(
            self.fsm.config(),
            self.cfg.auth(),
            !self.cfg.unicast_peers.is_empty(),
        );
        let mode = SocketMode {
            header_included: codec.header_included(),
            ah: codec.receives_ah(),
        };
        let sock = AdvertSocket::open(&sock_if, sock_index, src, mode)
            .map_err(|e| RunError::Socket(name.clone(), sock_if.clone(), e))?;
        self.fsm.set_local_addr(src);
        tracing::info!(instance = %name, interface = %main, %src, vrid = self.cfg.vrid,
            version = self.cfg.version, priority = self.cfg.priority, "vrrp instance starting");
        let (sync_tx, sync_task) = sync_worker(name.clone(), self.sync.clone());
        let mut edge = Edge {
            handle,
            sock,
            codec,
            ifaces,
            hooks: HookQueue::start(&name, self.cfg.notify.clone()),
            adverts_sent: 0,
            sync_tx,
        };
        let mut accepted = 0u64;
        let mut drops = DropCounters::default();
        // Interfaces tracked but absent count as down.
        for i in self.tracker.interfaces() {
            let up = edge.ifaces.get(&i).is_some_and(|f| f.info.up);
            if let Some(p) = self.tracker.set(&TrackTarget::Interface(i), up) {
                let acts = self.fsm.handle(now(), Event::Priority(p));
                self.execute(&mut edge, acts).await;
            }
        }
        // Track files are read and processes counted before the first election; scripts
        // start now and count neither way until their first result.
        self.read_files(&mut edge).await;
        let tracked: Vec<_> = self.cfg.tracked_processes().into_iter().cloned().collect();
        let mut processes = ProcessWatch::new(tracked);
        self.count_processes(&mut edge, &mut processes).await;
        let (script_tx, mut script_rx) = mpsc::unbounded_channel::<ScriptRun>();
        let mut counters: HashMap<String, ScriptCounter> = HashMap::new();
        let mut script_tasks = Vec::new();
        for sc in self.cfg.tracked_scripts() {
            counters.insert(sc.name.clone(), ScriptCounter::new(sc.rise, sc.fall));
            script_tasks.push(spawn_script(name.clone(), sc.clone(), script_tx.clone()));
        }
        // A previous run that was killed may have left the VIPs behind: a backup must not
        // hold them.
        self.vips(&mut edge, false).await;
        // Our own interface down, or an unweighted tracked one: FAULT (keepalived's
        // track_interface without a weight).
        let mut main_up = self.electable(&edge);
        if let Some(t) = self.tracker.fault() {
            tracing::warn!(instance = %name, tracked = ?t, "{}", fault_words(t));
        } else if let Some(t) = self.tracker.pending() {
            tracing::info!(instance = %name, tracked = ?t,
                "waiting for the first result of a track script without weight");
        }
        let first = if main_up {
            Event::Startup
        } else {
            Event::InterfaceDown
        };
        let acts = self.fsm.handle(now(), first);
        self.execute(&mut edge, acts).await;
        let mut poll = tokio::time::interval(LINK_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut late_drained: Option<Instant> = None;
        loop {
            self.publish(&edge, accepted, &drops);
            self.tell_group();
            let deadline = self
                .fsm
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    // The timer fired, perhaps late (a machine too busy to run us on time,
                    // or the select woke with both ready): adverts already queued arrived
                    // before it and count first, so a backup does not take over from a
                    // master whose advert is waiting in the socket. Once per deadline, so a
                    // flood of packets cannot hold the timer off.
                    if late_drained != Some(deadline) {
                        late_drained = Some(deadline);
                        if self.drain_queued(&mut edge, &mut accepted, &mut drops).await {
                            continue;
                        }
                    }
                    let acts = self.fsm.handle_timeout(now());
                    self.execute(&mut edge, acts).await;
                }
                pkt = edge.sock.recv() => {
                    if !self.on_packet(&mut edge, pkt, &mut accepted, &mut drops).await {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                Some(run) = script_rx.recv() => {
                    let Some(counter) = counters.get_mut(&run.script) else { continue };
                    if let Some(up) = counter.record(run.success) {
                        if up {
                            tracing::info!(instance = %name, script = %run.script,
                                "track script up ({})", run.detail);
                        } else {
                            tracing::warn!(instance = %name, script = %run.script,
                                "track script down ({})", run.detail);
                        }
                        let level = if up { Level::Up } else { Level::Down };
                        let p = self.tracker.set_level(&TrackTarget::Script(run.script), level);
                        self.retrack(&mut edge, p, &mut main_up).await;
                    }
                }
                msg = self.rx.recv() => match msg {
                    Some(ControlMsg::Track(target, up)) => {
                        let p = self.tracker.set(&target, up);
                        self.retrack(&mut edge, p, &mut main_up).await;
                    }
                    Some(ControlMsg::StepDown(hold)) => {
                        let acts = self.fsm.handle(now(), Event::StepDown { hold });
                        self.execute(&mut edge, acts).await;
                    }
                    Some(ControlMsg::Resume) => {
                        let acts = self.fsm.handle(now(), Event::Resume);
                        self.execute(&mut edge, acts).await;
                    }
                    Some(ControlMsg::Group(order)) => {
                        let acts = self.fsm.handle(now(), Event::Group(order));
                        self.execute(&mut edge, acts).await;
                    }
                    Some(ControlMsg::Shutdown) | None => break,
                },
                _ = poll.tick() => {
                    let names: Vec<String> = edge.ifaces.keys().cloned().collect();
                    for n in names {
                        let Ok(fresh) = Self::iface(&edge.handle, &n).await else { continue };
                        let up = fresh.info.up;
                        edge.ifaces.insert(n.clone(), fresh);
                        if let Some(p) = self.tracker.set(&TrackTarget::Interface(n.clone()), up) {
                            let acts = self.fsm.handle(now(), Event::Priority(p));
                            self.execute(&mut edge, acts).await;
                        }
                    }
                    self.read_files(&mut edge).await;
                    self.count_processes(&mut edge, &mut processes).await;
                    self.retrack(&mut edge, None, &mut main_up).await;
                }
            }
        }
        // A script run in progress is killed with its process group.
        for t in script_tasks {
            t.abort();
        }
        drop(script_tx);
        let acts = self.fsm.handle(now(), Event::Shutdown);
        self.execute(&mut edge, acts).await;
        self.tell_group();
        if let Some(v) = &vmac {
            super::vmac::remove(&edge.handle, v, &main).await;
        }
        edge.hooks.finish(Duration::from_secs(10)).await;
        self.publish(&edge, accepted, &drops);
        // Closing the channel lets the worker apply the last role (backup) and end.
        drop(edge);
        if tokio::time::timeout(Duration::from_secs(10), sync_task)
            .await
            .is_err()
        {
            tracing::warn!(instance = %name, "sync daemon switch still running at stop");
        }
        tracing::info!(instance = %name, "vrrp instance stopped");
        Ok(())
    }

    /// Whether the instance may take part in the election: its interface up, nothing tracked
    /// faulting it and no unweighted script still waiting for its first result.
    fn electable(&self, edge: &Edge) -> bool {
        let own_up = edge
            .ifaces
            .get(&self.cfg.interface)
            .is_some_and(|f| f.info.up);
        own_up && self.tracker.fault().is_none() && self.tracker.pending().is_none()
    }

    /// After a tracked target changed: the new priority (if it moved) to the machine, then
    /// FAULT entered or left when the instance's electability changed.
    async fn retrack(&mut self, edge: &mut Edge, priority: Option<u8>, main_up: &mut bool) {
        if let Some(p) = priority {
            let acts = self.fsm.handle(now(), Event::Priority(p));
            self.execute(edge, acts).await;
        }
        let ok = self.electable(edge);
        if ok == *main_up {
            return;
        }
        *main_up = ok;
        if let Some(t) = self.tracker.fault() {
            tracing::warn!(instance = %self.cfg.name, tracked = ?t, "{}", fault_words(t));
        }
        let ev = if ok {
            Event::Startup
        } else {
            Event::InterfaceDown
        };
        let acts = self.fsm.handle(now(), ev);
        self.execute(edge, acts).await;
    }

    /// Reads every tracked file and feeds the changed values to the tracker and the machine
    /// (the FAULT check is the caller's, [`Instance::retrack`]).
    async fn read_files(&mut self, edge: &mut Edge) {
        let files: Vec<(String, std::path::PathBuf)> = self
            .cfg
            .tracked_files()
            .into_iter()
            .map(|f| (f.name.clone(), f.path.clone()))
            .collect();
        for (file, path) in files {
            let target = TrackTarget::File(file.clone());
            let Some(value) = read_file(&path).await else {
                tracing::warn!(instance = %self.cfg.name, file = %path.display(),
                    "track file holds a number out of range: ignored");
                continue;
            };
            let before = self
                .tracker
                .items()
                .find(|(t, _, _)| **t == target)
                .map(|i| i.2);
            if before == Some(Level::Value(value)) {
                continue;
            }
            tracing::info!(instance = %self.cfg.name, track_file = %file, value,
                "track file value");
            if let Some(p) = self.tracker.set_level(&target, Level::Value(value)) {
                let acts = self.fsm.handle(now(), Event::Priority(p));
                self.execute(edge, acts).await;
            }
        }
    }

    /// Counts the tracked processes and feeds the changed states to the tracker and the
    /// machine (the FAULT check is the caller's, [`Instance::retrack`]).
    async fn count_processes(&mut self, edge: &mut Edge, processes: &mut ProcessWatch) {
        for (name, up, count) in processes.poll(&self.cfg.name).await {
            tracing::info!(instance = %self.cfg.name, track_process = %name, count,
                "track process {}", if up { "up" } else { "down" });
            if let Some(p) = self.tracker.set(&TrackTarget::Process(name), up) {
                let acts = self.fsm.handle(now(), Event::Priority(p));
                self.execute(edge, acts).await;
            }
        }
    }

    /// Reads up to [`DRAIN_LATE`] packets already queued in the socket, without waiting;
    /// `true` when there was any.
    async fn drain_queued(
        &mut self,
        edge: &mut Edge,
        accepted: &mut u64,
        drops: &mut DropCounters,
    ) -> bool {
        let mut any = false;
        for _ in 0..DRAIN_LATE {
            let Some(pkt) = edge.sock.try_recv() else {
                break;
            };
            any = true;
            if !self.on_packet(edge, pkt, accepted, drops).await {
                break;
            }
        }
        any
    }

    /// One received packet: parsed, fed to the machine, counted. `false` when the socket
    /// failed (the caller backs off).
    async fn on_packet(
        &mut self,
        edge: &mut Edge,
        pkt: std::io::Result<Received>,
        accepted: &mut u64,
        drops: &mut DropCounters,
    ) -> bool {
        let parsed = match pkt {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(instance = %self.cfg.name, "vrrp receive failed: {e}");
                return false;
            }
        };
        let res = parsed
            .and_then(|raw| edge.codec.decode(&raw))
            .and_then(|(meta, a)| self.fsm.receive(now(), meta.src, a));
        match res {
            Ok(acts) => {
                *accepted += 1;
                self.execute(edge, acts).await;
            }
            Err(reason) => {
                tracing::debug!(instance = %self.cfg.name, "advert dropped: {reason}");
                drops.count(&reason);
            }
        }
        true
    }

    fn publish(&self, edge: &Edge, accepted: u64, drops: &DropCounters) {
        if let Ok(mut s) = self.status.lock() {
            s.state = self.fsm.state();
            // Waiting for a script's first result is Initialize, not FAULT (keepalived's INIT).
            let own_up = edge
                .ifaces
                .get(&self.cfg.interface)
                .is_some_and(|f| f.info.up);
            let waiting =
                own_up && self.tracker.fault().is_none() && self.tracker.pending().is_some();
            s.fault = self.fsm.fault() && s.state == State::Initialize && !waiting;
            s.priority = self.fsm.priority();
            s.held = self.fsm.held();
            s.master = self.fsm.master();
            s.adverts_sent = edge.adverts_sent;
            s.adverts_accepted = accepted;
            s.drops = drops.clone();
            s.hooks = edge.hooks.records();
            s.tracked = self
                .tracker
                .items()
                .map(|(t, w, l)| TrackedStatus::of(t, w, l))
                .collect();
        }
    }

    async fn execute(&self, edge: &mut Edge, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::SendAdvert { priority } => self.send_advert(edge, priority),
                Action::AddVips => self.vips(edge, true).await,
                Action::DelVips => self.vips(edge, false).await,
                Action::SendGarp => self.announce(edge),
                Action::Sync(role) => {
                    let _ = edge.sync_tx.send(role);
                }
                Action::Notify(t) => edge.hooks.push(t),
            }
        }
    }

    fn send_advert(&self, edge: &mut Edge, priority: u8) {
        let dsts = if self.cfg.unicast_peers.is_empty() {
            vec![self.cfg.family().multicast_group()]
        } else {
            self.cfg.unicast_peers.clone()
        };
        let src = edge.sock.src();
        for (dst, bytes) in edge.codec.encode(priority, src, &dsts) {
            match edge.sock.send(&bytes, dst) {
                Ok(()) => edge.adverts_sent += 1,
                Err(e) => {
                    tracing::warn!(instance = %self.cfg.name, %dst, "advert send failed: {e}")
                }
            }
        }
    }

    async fn vips(&self, edge: &mut Edge, add: bool) {
        for v in &self.cfg.vips {
            let ifname = self.cfg.vip_interface(v);
            let Some(index) = edge.ifaces.get(&ifname).map(|i| i.info.index) else {
                continue;
            };
            let res = if add {
                netlink::add_address(&edge.handle, index, v.address, v.prefix, v.label.as_deref())
                    .await
                    .map(|()| true)
            } else {
                netlink::del_address(&edge.handle, index, v.address).await
            };
            match res {
                Ok(true) => tracing::info!(instance = %self.cfg.name, vip = %v.address,
                    interface = %ifname, "{} vip", if add { "added" } else { "removed" }),
                Ok(false) => {}
                Err(e) => tracing::warn!(instance = %self.cfg.name, vip = %v.address,
                    "vip {} failed: {e}", if add { "add" } else { "removal" }),
            }
        }
    }

    fn announce(&self, edge: &Edge) {
        for v in &self.cfg.vips {
            let ifname = self.cfg.vip_interface(v);
            let Some(i) = edge.ifaces.get(&ifname) else {
                continue;
            };
            let res = match v.address {
                IpAddr::V4(a) => send_garp(i.info.index, i.info.mac, a),
                IpAddr::V6(a) => match i.link_local {
                    Some(ll) => send_na(&ifname, i.info.index, ll, i.info.mac, a),
                    None => Err(std::io::Error::other("no link-local address yet")),
                },
            };
            if let Err(e) = res {
                tracing::warn!(instance = %self.cfg.name, vip = %v.address, "announce failed: {e}");
            }
        }
    }
}

/// The log line of a tracked target that faults the instance.
fn fault_words(t: &TrackTarget) -> &'static str {
    match t {
        TrackTarget::Interface(_) => "tracked interface down: fault",
        TrackTarget::Service(_) => "tracked service down: fault",
        TrackTarget::Script(_) => "tracked script down: fault",
        TrackTarget::File(_) => "tracked file value is a fault",
        TrackTarget::Process(_) => "tracked process down: fault",
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}
