//! The VRRPv3 state machine (RFC 5798 section 6), pure: no sockets, no clock. It also runs
//! VRRPv2 (RFC 3768 section 6, the same states and events): [`FsmConfig::version`] changes
//! only the Skew_Time and one receive check (a VRRPv2 advert's Adver Int must be ours).
//!
//! The caller passes `now` with every input and executes the returned [`Action`]s. Timers
//! live in one table ([`Timers`]); [`Vrrp::poll_timeout`] says when to call
//! [`Vrrp::handle_timeout`] next. Every state change goes through [`Vrrp::change_state`],
//! which runs the entry actions and logs `(instance, event, old → new, reason)` in one line.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::packet::{Advert, DropReason, Family};
use super::sync_group::Order;
use super::timers::{TimerKind, Timers};

/// RFC 5798 6.4: the three states of a virtual router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    /// "The purpose of this state is to wait for a Startup event."
    Initialize,
    /// "monitor the availability and state of the Master Router."
    Backup,
    /// "functioning as the forwarding router for the IPvX address(es)".
    Master,
}

/// Inputs of the state machine other than timers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Event {
    /// RFC 5798 6.4.1 Startup (also: our interface came back).
    Startup,
    /// RFC 5798 6.4.2/6.4.3 Shutdown: a clean stop.
    Shutdown,
    /// Our own interface went down: leave the VIPs, notify `fault`.
    InterfaceDown,
    /// A checked advert from `src` (its primary address).
    Advert { src: IpAddr, advert: Advert },
    /// Tracking changed the effective priority.
    Priority(u8),
    /// Operator failover: a master leaves at once with a priority-0 advert so the backup takes
    /// over within Skew_Time. With `hold`, this router then stays backup: it follows any
    /// master, whatever its priority (no preemption), until [`Event::Resume`]; it still takes
    /// over when no master is heard at all.
    StepDown { hold: bool },
    /// Ends a failover hold: preemption as configured again.
    Resume,
    /// A sync group's order ([`super::sync_group`]): follow the other members.
    Group(Order),
    /// A timer expired.
    Timer(TimerKind),
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Startup => "startup",
            Event::Shutdown => "shutdown",
            Event::InterfaceDown => "interface-down",
            Event::Advert { .. } => "advert",
            Event::Priority(_) => "priority",
            Event::StepDown { .. } => "step-down",
            Event::Resume => "resume",
            Event::Group(Order::ToBackup) => "sync-group-backup",
            Event::Group(Order::ToMaster) => "sync-group-master",
            Event::Group(Order::HoldOut) => "sync-group-hold",
            Event::Group(Order::Release) => "sync-group-release",
            Event::Timer(TimerKind::MasterDown) => "master-down-timer",
            Event::Timer(TimerKind::Adver) => "adver-timer",
            Event::Timer(TimerKind::GarpRepeat) => "garp-timer",
            Event::Timer(TimerKind::GarpRefresh) => "garp-refresh-timer",
            Event::Timer(TimerKind::GarpDelay) => "garp-delay-timer",
        }
    }
}

/// What notify hooks are told (keepalived's words: master, backup, fault, stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
}

/// The IPVS connection-sync daemon role that goes with a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyncRole {
    Master,
    Backup,
}

/// One state change, as logged and handed to notify hooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub notify: NotifyState,
    pub event: &'static str,
    pub reason: String,
    pub priority: u8,
}

/// Outputs for the shell to execute, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Action {
    /// Send an ADVERTISEMENT with this priority (0 = we are stopping).
    SendAdvert { priority: u8 },
    /// Add the virtual addresses to their interfaces.
    AddVips,
    /// Remove the virtual addresses.
    DelVips,
    /// Gratuitous ARP for IPv4 VIPs, unsolicited neighbour advertisement for IPv6 VIPs.
    SendGarp,
    /// Switch the IPVS sync daemon.
    Sync(SyncRole),
    /// Run the notify hooks for this transition.
    Notify(Transition),
}

/// The protocol version a virtual router speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    /// RFC 3768 (IPv4 only; Adver Int in whole seconds).
    V2,
    /// RFC 5798.
    V3,
}

/// The parameters of one virtual router (RFC 5798 6.1), already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsmConfig {
    /// Instance name, for logs.
    pub name: String,
    /// VRRPv3, or VRRPv2 (whose Advertisement_Interval is whole seconds).
    pub version: Version,
    pub vrid: u8,
    /// Configured priority (255 = address owner).
    pub priority: u8,
    /// Advertisement_Interval in centiseconds.
    pub advert_interval_cs: u16,
    /// Preempt_Mode.
    pub preempt: bool,
    /// How long a lower-priority master is tolerated before preempting it.
    pub preempt_delay: Duration,
    /// The addresses carried in adverts (the instance's family).
    pub advert_addrs: Vec<IpAddr>,
    /// Gratuitous ARPs sent after the first one on becoming master.
    pub garp_repeat: u32,
    /// Spacing of that burst.
    pub garp_interval: Duration,
    /// Periodic refresh while master (None = off).
    pub garp_refresh: Option<Duration>,
    /// Gratuitous ARPs sent after the first one of each refresh.
    pub garp_refresh_repeat: u32,
    /// A second burst this long after becoming master (None = off).
    pub garp_delay: Option<Duration>,
    /// Gratuitous ARPs sent, as master, on an advert of lower priority (0 = none;
    /// keepalived's `garp_lower_prio_repeat`).
    pub garp_lower_prio_count: u32,
    /// A second such burst this long after (None = off; `garp_lower_prio_delay`).
    pub garp_lower_prio_delay: Option<Duration>,
    /// No advert of ours in reply to one of lower priority (keepalived's
    /// `lower_prio_no_advert`, RFC behaviour).
    pub lower_prio_no_advert: bool,
    /// With unicast peers, adverts are accepted only from these addresses (empty: from any).
    pub peers: Vec<IpAddr>,
}

impl FsmConfig {
    /// The family of the advertised addresses.
    pub fn family(&self) -> Family {
        self.advert_addrs
            .first()
            .map(Family::of)
            .unwrap_or(Family::V4)
    }
}

/// One VRRP virtual router.
#[derive(Debug, Clone)]
pub struct Vrrp {
    cfg: FsmConfig,
    state: State,
    /// Effective priority (configured, lowered by tracking).
    priority: u8,
    /// Our primary address on the interface (IPv6: link-local), for the tie-break.
    local_addr: Option<IpAddr>,
    /// RFC 5798 6.1 Master_Adver_Interval (centiseconds).
    master_adver_int: u16,
    /// The master we last accepted an advert from.
    master: Option<IpAddr>,
    timers: Timers,
    garp_left: u32,
    /// The size of the burst the GarpDelay timer sends: `garp_repeat` after becoming master,
    /// the lower-priority count after a lower-priority advert.
    garp_delayed_count: u32,
    /// End of the preempt delay that started when a lower-priority master was first seen.
    preempt_deadline: Option<Instant>,
    /// Our interface is down.
    fault: bool,
    /// An operator failover holds us in backup (preemption off) until resumed.
    hold: bool,
    /// Our sync group holds us out of master (another member is in FAULT).
    group_hold: bool,
}

/// centiseconds → Duration.
fn cs(v: u32) -> Duration {
    Duration::from_millis(u64::from(v) * 10)
}

impl Vrrp {
    /// A virtual router in Initialize, waiting for [`Event::Startup`].
    pub fn new(cfg: FsmConfig) -> Vrrp {
        Vrrp {
            priority: cfg.priority,
            master_adver_int: cfg.advert_interval_cs,
            cfg,
            state: State::Initialize,
            local_addr: None,
            master: None,
            timers: Timers::default(),
            garp_left: 0,
            garp_delayed_count: 0,
            preempt_deadline: None,
            fault: false,
            hold: false,
            group_hold: false,
        }
    }

    /// Whether a sync group holds this router out of master.
    pub fn group_held(&self) -> bool {
        self.group_hold
    }

    /// Whether an operator failover holds this router in backup.
    pub fn held(&self) -> bool {
        self.hold
    }

    pub fn config(&self) -> &FsmConfig {
        &self.cfg
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Whether this router left for Initialize because its interface went down (fault), and
    /// has not started again since.
    pub fn fault(&self) -> bool {
        self.fault
    }

    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Master_Adver_Interval in centiseconds (learnt from the master in Backup).
    pub fn master_adver_int(&self) -> u16 {
        self.master_adver_int
    }

    /// The address of the master we follow, when Backup.
    pub fn master(&self) -> Option<IpAddr> {
        self.master
    }

    /// Sets our primary address (the sender address of our adverts).
    pub fn set_local_addr(&mut self, addr: IpAddr) {
        self.local_addr = Some(addr);
    }

    /// The deadline of one timer (for tests and status).
    pub fn timer(&self, kind: TimerKind) -> Option<Instant> {
        self.timers.get(kind)
    }

    /// RFC 5798 6.1: "Skew_Time: Time to skew Master_Down_Interval in seconds. Calculated as
    /// (((256 - priority) * Master_Adver_Interval) / 256)". Kept exact (microseconds), not
    /// rounded to centiseconds.
    ///
    /// RFC 3768 6.1 (VRRPv2): "Skew_Time: Time to skew Master_Down_Interval in seconds.
    /// Calculated as: ( (256 - Priority) / 256 )", whatever the interval.
    pub fn skew_time(&self) -> Duration {
        let prio = 256 - u64::from(self.priority);
        let us = match self.cfg.version {
            Version::V2 => prio * 1_000_000 / 256,
            Version::V3 => prio * u64::from(self.master_adver_int) * 10_000 / 256,
        };
        Duration::from_micros(us)
    }

    /// RFC 5798 6.1: "Master_Down_Interval: Time interval for Backup to declare Master down
    /// (seconds). Calculated as (3 * Master_Adver_Interval) + Skew_time".
    pub fn master_down_interval(&self) -> Duration {
        cs(3 * u32::from(self.master_adver_int)) + self.skew_time()
    }

    fn advert_interval(&self) -> Duration {
        cs(u32::from(self.cfg.advert_interval_cs))
    }

    /// When the shell should call [`Vrrp::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(kind) = self.timers.pop_expired(now) {
            out.extend(self.handle(now, Event::Timer(kind)));
        }
        out
    }

    /// RFC 5798 7.1 checks that need this router's configuration, then the advert event.
    ///
    /// "MUST verify that the VRID is configured on the receiving interface and the local router
    /// is not the IPvX address owner (Priority = 255 (decimal))." ... "MAY verify that "Count
    /// IPvX Addrs" and the list of IPvX address(es) matches the IPvX Address(es) configured for
    /// the VRID. If the above check fails, the receiver SHOULD log the event ... If the packet
    /// was not generated by the address owner (Priority does not equal 255 (decimal)), the
    /// receiver MUST drop the packet, otherwise, continue processing."
    pub fn receive(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: Advert,
    ) -> Result<Vec<Action>, DropReason> {
        if advert.vrid != self.cfg.vrid {
            return Err(DropReason::OtherVrid(advert.vrid));
        }
        if Some(src) == self.local_addr {
            return Err(DropReason::OwnPacket);
        }
        if !self.cfg.peers.is_empty() && !self.cfg.peers.contains(&src) {
            return Err(DropReason::UnknownPeer(src));
        }
        // RFC 3768 7.1: "MUST verify that the Adver Interval in the packet is the same as the
        // locally configured for this virtual router. If the above check fails, the receiver
        // MUST discard the packet".
        if self.cfg.version == Version::V2 && advert.max_adver_int != self.cfg.advert_interval_cs {
            return Err(DropReason::IntervalMismatch {
                got_cs: advert.max_adver_int,
                want_cs: self.cfg.advert_interval_cs,
            });
        }
        if self.priority == 255 {
            return Err(DropReason::LocalOwner);
        }
        if advert.priority != 255 && !same_set(&advert.addrs, &self.cfg.advert_addrs) {
            return Err(DropReason::AddressMismatch);
        }
        Ok(self.handle(now, Event::Advert { src, advert }))
    }

    /// Feeds one event; returns the actions to execute in order.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state, &event) {
            (_, Event::Priority(p)) => self.set_priority(now, *p, &mut out),
            (_, Event::StepDown { hold }) => {
                self.hold = *hold;
                if self.state == State::Master {
                    // 6.4.3's hand-over, without leaving the protocol: priority 0 makes the
                    // backup's Master_Down_Timer fire after Skew_Time.
                    out.push(Action::SendAdvert { priority: 0 });
                    self.change_state(now, State::Backup, &event, "operator failover", &mut out);
                }
            }
            (_, Event::Resume) => {
                if self.hold {
                    tracing::info!(instance = %self.cfg.name, vrid = self.cfg.vrid,
                        "failover hold cleared, preemption as configured");
                }
                self.hold = false;
            }
            // 6.4.1 Initialize: "If a Startup event is received, then: If the Priority = 255
            // ... Send an ADVERTISEMENT ... Broadcast a gratuitous ARP request ... Set the
            // Adver_Timer to Advertisement_Interval; Transition to the {Master} state; else: Set
            // Master_Adver_Interval to Advertisement_Interval; Set the Master_Down_Timer to
            // Master_Down_Interval; Transition to the {Backup} state".
            // keepalived's vrrp_sync_backup / vrrp_sync_fault: a master leaves at once, with
            // a priority-0 advert so the peer's member takes over within Skew_Time.
            (_, Event::Group(order @ (Order::ToBackup | Order::HoldOut))) => {
                if *order == Order::HoldOut {
                    self.group_hold = true;
                }
                if self.state == State::Master {
                    out.push(Action::SendAdvert { priority: 0 });
                    self.change_state(now, State::Backup, &event, "sync group", &mut out);
                }
            }
            (_, Event::Group(Order::Release)) => self.group_hold = false,
            // keepalived's vrrp_sync_master: a backup follows the member that became master
            // (an operator hold or a group hold keeps it backup).
            (State::Backup, Event::Group(Order::ToMaster)) => {
                if !self.hold && !self.group_hold {
                    self.change_state(now, State::Master, &event, "sync group", &mut out);
                }
            }
            (_, Event::Group(Order::ToMaster)) => {}
            (State::Initialize, Event::Startup) => {
                self.fault = false;
                if self.priority == 255 {
                    self.change_state(now, State::Master, &event, "address owner", &mut out);
                } else {
                    self.master_adver_int = self.cfg.advert_interval_cs;
                    self.change_state(now, State::Backup, &event, "startup", &mut out);
                }
            }
            // Not started because the interface is down: nothing to leave, but a fault.
            (State::Initialize, Event::InterfaceDown) => self.fault = true,
            (State::Initialize, _) => {}
            // 6.4.2 Backup: "If a Shutdown event is received, then: Cancel the
            // Master_Down_Timer; Transition to the {Initialize} state".
            (State::Backup | State::Master, Event::Shutdown) => {
                self.change_state(now, State::Initialize, &event, "shutdown", &mut out);
            }
            (State::Backup | State::Master, Event::InterfaceDown) => {
                self.fault = true;
                self.change_state(now, State::Initialize, &event, "interface down", &mut out);
            }
            (_, Event::Startup) => {}
            // 6.4.2: "If the Master_Down_Timer fires, then: Send an ADVERTISEMENT; Broadcast a
            // gratuitous ARP request ... Set the Adver_Timer to Advertisement_Interval;
            // Transition to the {Master} state".
            // Held by the sync group: no master while another member is in FAULT.
            (State::Backup, Event::Timer(TimerKind::MasterDown)) if self.group_hold => {
                self.timers
                    .set(TimerKind::MasterDown, now + self.master_down_interval());
            }
            (State::Backup, Event::Timer(TimerKind::MasterDown)) => {
                let reason = match self.master {
                    Some(m) => format!("no advert from master {m}"),
                    None => "no master seen".to_string(),
                };
                self.change_state(now, State::Master, &event, &reason, &mut out);
            }
            (State::Backup, Event::Advert { src, advert }) => {
                self.backup_advert(now, *src, advert, &event, &mut out)
            }
            (State::Backup, Event::Timer(_)) => {}
            // 6.4.3: "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the
            // Adver_Timer to Advertisement_Interval".
            (State::Master, Event::Timer(TimerKind::Adver)) => {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                self.timers
                    .set(TimerKind::Adver, now + self.advert_interval());
            }
            (State::Master, Event::Timer(TimerKind::GarpRepeat)) => {
                out.push(Action::SendGarp);
                self.garp_left = self.garp_left.saturating_sub(1);
                if self.garp_left > 0 {
                    self.timers
                        .set(TimerKind::GarpRepeat, now + self.cfg.garp_interval);
                }
            }
            (State::Master, Event::Timer(TimerKind::GarpRefresh)) => {
                self.garp_burst(now, self.cfg.garp_refresh_repeat, &mut out);
                if let Some(every) = self.cfg.garp_refresh {
                    self.timers.set(TimerKind::GarpRefresh, now + every);
                }
            }
            (State::Master, Event::Timer(TimerKind::GarpDelay)) => {
                let count = self.garp_delayed_count;
                if count > 0 {
                    self.garp_burst(now, count - 1, &mut out);
                }
            }
            (State::Master, Event::Timer(TimerKind::MasterDown)) => {}
            (State::Master, Event::Advert { src, advert }) => {
                self.master_advert(now, *src, advert, &event, &mut out)
            }
        }
        out
    }

    /// One gratuitous ARP / NA now and `more` after it, `garp_interval` apart.
    fn garp_burst(&mut self, now: Instant, more: u32, out: &mut Vec<Action>) {
        out.push(Action::SendGarp);
        self.garp_left = more;
        if more > 0 {
            self.timers
                .set(TimerKind::GarpRepeat, now + self.cfg.garp_interval);
        } else {
            self.timers.cancel(TimerKind::GarpRepeat);
        }
    }

    fn backup_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: &Advert,
        event: &Event,
        out: &mut Vec<Action>,
    ) {
        let _ = (event, out);
        // "If the Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer to
        // Skew_Time".
        if advert.priority == 0 {
            self.timers
                .set(TimerKind::MasterDown, now + self.skew_time());
            return;
        }
        // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater than or
        // equal to the local Priority, then: Set Master_Adver_Interval to Adver Interval
        // contained in the ADVERTISEMENT; Recompute the Master_Down_Interval; Reset the
        // Master_Down_Timer to Master_Down_Interval; else: Discard the ADVERTISEMENT".
        let accept = if !self.cfg.preempt || self.hold || advert.priority >= self.priority {
            self.preempt_deadline = None;
            true
        } else if self.cfg.preempt_delay.is_zero() {
            false
        } else {
            // Preempt delay: follow the lower-priority master for a while before letting the
            // Master_Down_Timer run out.
            let deadline = *self
                .preempt_deadline
                .get_or_insert(now + self.cfg.preempt_delay);
            now < deadline
        };
        if accept {
            self.master = Some(src);
            self.master_adver_int = advert.max_adver_int;
            self.timers
                .set(TimerKind::MasterDown, now + self.master_down_interval());
        }
    }

    fn master_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: &Advert,
        event: &Event,
        out: &mut Vec<Action>,
    ) {
        // 6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT;
        // Reset the Adver_Timer to Advertisement_Interval".
        if advert.priority == 0 {
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            self.timers
                .set(TimerKind::Adver, now + self.advert_interval());
            return;
        }
        // "If the Priority in the ADVERTISEMENT is greater than the local Priority or the
        // Priority in the ADVERTISEMENT is equal to the local Priority and the primary IPvX
        // Address of the sender is greater than the local primary IPvX Address (based on an
        // unsigned integer comparison of the IPvX address in network byte order), then: Cancel
        // Adver_Timer; Set Master_Adver_Interval to Adver Interval contained in the
        // ADVERTISEMENT; Recompute the Skew_Time; Recompute the Master_Down_Interval; Set
        // Master_Down_Timer to Master_Down_Interval; Transition to the {Backup} state".
        let sender_wins = advert.priority > self.priority
            || (advert.priority == self.priority
                && self.local_addr.is_none_or(|local| addr_gt(src, local)));
        if sender_wins {
            // Beyond the RFC: one last advert of ours before yielding. Two masters that meet
            // again (a healed split brain) may hear the winner first; without this the winner
            // never sees a lower-priority master, never re-announces the VIPs, and hosts that
            // followed us keep our MAC. With it the winner reasserts (advert + GARP/NA, below).
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            self.master = Some(src);
            self.master_adver_int = advert.max_adver_int;
            let reason = format!("higher priority master {src} ({})", advert.priority);
            self.change_state(now, State::Backup, event, &reason, out);
        } else {
            // "else: Discard ADVERTISEMENT". Beyond the RFC (as keepalived does): another
            // master of lower priority is a split brain healing; assert ourselves at once
            // (unless lower_prio_no_advert) and refresh the neighbours' caches so traffic comes
            // back to us: keepalived's garp_lower_prio_repeat now, again after
            // garp_lower_prio_delay.
            tracing::info!(
                instance = %self.cfg.name, vrid = self.cfg.vrid, %src,
                their_priority = advert.priority, "lower-priority master seen, reasserting"
            );
            if !self.cfg.lower_prio_no_advert {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                self.timers
                    .set(TimerKind::Adver, now + self.advert_interval());
            }
            let count = self.cfg.garp_lower_prio_count;
            if count > 0 {
                self.garp_burst(now, count - 1, out);
                if let Some(after) = self.cfg.garp_lower_prio_delay {
                    self.garp_delayed_count = count;
                    self.timers.set(TimerKind::GarpDelay, now + after);
                }
            }
        }
    }

    fn set_priority(&mut self, now: Instant, p: u8, out: &mut Vec<Action>) {
        let p = p.max(1);
        if p == self.priority {
            return;
        }
        tracing::info!(instance = %self.cfg.name, vrid = self.cfg.vrid,
            old = self.priority, new = p, "priority changed");
        self.priority = p;
        if self.state == State::Master {
            // Tell the backups now rather than at the next Adver_Timer: a lowered priority
            // lets a preempting backup take over within one interval.
            out.push(Action::SendAdvert { priority: p });
            self.timers
                .set(TimerKind::Adver, now + self.advert_interval());
        }
    }

    /// The one place where the state changes: runs the exit and entry actions of RFC 5798 6.4,
    /// logs the transition and queues the notify hooks and sync-daemon switch.
    pub fn change_state(
        &mut self,
        now: Instant,
        to: State,
        event: &Event,
        reason: &str,
        out: &mut Vec<Action>,
    ) {
        let from = self.state;
        if from == to {
            return;
        }
        self.timers.cancel_all();
        self.preempt_deadline = None;
        if from == State::Master {
            if to == State::Initialize && !self.fault {
                // 6.4.3: "Send an ADVERTISEMENT with Priority = 0".
                out.push(Action::SendAdvert { priority: 0 });
            }
            out.push(Action::DelVips);
        }
        let notify = match to {
            State::Master => {
                self.master = None;
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                out.push(Action::AddVips);
                self.timers
                    .set(TimerKind::Adver, now + self.advert_interval());
                self.garp_burst(now, self.cfg.garp_repeat, out);
                if let Some(every) = self.cfg.garp_refresh {
                    self.timers.set(TimerKind::GarpRefresh, now + every);
                }
                if let Some(after) = self.cfg.garp_delay {
                    self.garp_delayed_count = self.cfg.garp_repeat + 1;
                    self.timers.set(TimerKind::GarpDelay, now + after);
                }
                out.push(Action::Sync(SyncRole::Master));
                NotifyState::Master
            }
            State::Backup => {
                self.timers
                    .set(TimerKind::MasterDown, now + self.master_down_interval());
                out.push(Action::Sync(SyncRole::Backup));
                NotifyState::Backup
            }
            State::Initialize => {
                self.master = None;
                if from == State::Master {
                    out.push(Action::Sync(SyncRole::Backup));
                }
                if self.fault {
                    NotifyState::Fault
                } else {
                    NotifyState::Stop
                }
            }
        };
        tracing::info!(
            instance = %self.cfg.name, vrid = self.cfg.vrid, event = event.name(),
            priority = self.priority, "vrrp transition {from:?} -> {to:?}: {reason}"
        );
        self.state = to;
        out.push(Action::Notify(Transition {
            from,
            to,
            notify,
            event: event.name(),
            reason: reason.to_string(),
            priority: self.priority,
        }));
    }
}

/// Unsigned comparison of two addresses in network byte order (RFC 5798 6.4.3).
fn addr_gt(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets() > b.octets(),
        (IpAddr::V6(a), IpAddr::V6(b)) => a.octets() > b.octets(),
        _ => false,
    }
}

fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}
