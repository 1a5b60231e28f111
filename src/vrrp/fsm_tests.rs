//! Table-driven tests of the VRRP state machine on a virtual clock, one table per paragraph
//! of RFC 5798 section 6.4 (Initialize, Backup, Master), plus preempt delay, tracking,
//! faults, the GARP burst and the receive checks of section 7.1.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::fsm::*;
use super::packet::{Advert, DropReason};
use super::timers::TimerKind;

const LOCAL: &str = "192.0.2.2";
const VIP: &str = "192.0.2.10";

/// One input at a virtual time (ms since start).
#[derive(Debug, Clone)]
enum In {
    Startup,
    Shutdown,
    IfDown,
    /// Advert from `src` with priority and interval (cs).
    Adv(&'static str, u8, u16),
    /// Let timers fire.
    Tick,
    Prio(u8),
    /// Operator failover, with or without the hold.
    StepDown(bool),
    Resume,
    /// A sync group's order.
    Group(super::sync_group::Order),
}

/// One row: at `ms`, feed `input`; expect `state` and exactly these actions.
struct Row(u64, In, State, &'static [&'static str]);

/// Priority 100 starts as backup and becomes master at 3,610 ms (3 intervals + skew).
fn backup_then_master() -> Vec<Row> {
    vec![
        Row(
            0,
            In::Startup,
            State::Backup,
            &["sync-backup", "notify-backup"][..],
        ),
        Row(3610, In::Tick, State::Master, TO_MASTER),
    ]
}

fn cfg(priority: u8) -> FsmConfig {
    FsmConfig {
        name: "t".into(),
        version: Version::V3,
        vrid: 51,
        priority,
        advert_interval_cs: 100,
        preempt: true,
        preempt_delay: Duration::ZERO,
        advert_addrs: vec![VIP.parse().unwrap()],
        garp_repeat: 0,
        garp_interval: Duration::from_millis(200),
        garp_refresh: None,
        garp_delay: None,
        garp_refresh_repeat: 0,
        garp_lower_prio_count: 1,
        garp_lower_prio_delay: None,
        lower_prio_no_advert: false,
        peers: vec![],
    }
}

fn name(a: &Action) -> String {
    match a {
        Action::SendAdvert { priority } => format!("advert({priority})"),
        Action::AddVips => "add-vips".into(),
        Action::DelVips => "del-vips".into(),
        Action::SendGarp => "garp".into(),
        Action::Sync(SyncRole::Master) => "sync-master".into(),
        Action::Sync(SyncRole::Backup) => "sync-backup".into(),
        Action::Notify(t) => format!("notify-{:?}", t.notify).to_lowercase(),
    }
}

fn run(mut fsm: Vrrp, rows: &[Row]) -> Vrrp {
    let t0 = Instant::now();
    fsm.set_local_addr(LOCAL.parse().unwrap());
    for (i, Row(ms, input, state, want)) in rows.iter().enumerate() {
        let now = t0 + Duration::from_millis(*ms);
        let acts = match input {
            In::Startup => fsm.handle(now, Event::Startup),
            In::Shutdown => fsm.handle(now, Event::Shutdown),
            In::IfDown => fsm.handle(now, Event::InterfaceDown),
            In::Prio(p) => fsm.handle(now, Event::Priority(*p)),
            In::StepDown(hold) => fsm.handle(now, Event::StepDown { hold: *hold }),
            In::Resume => fsm.handle(now, Event::Resume),
            In::Group(o) => fsm.handle(now, Event::Group(*o)),
            In::Tick => fsm.handle_timeout(now),
            In::Adv(src, priority, int) => {
                let advert = Advert {
                    vrid: 51,
                    priority: *priority,
                    max_adver_int: *int,
                    addrs: vec![VIP.parse().unwrap()],
                };
                fsm.receive(now, src.parse().unwrap(), advert)
                    .unwrap_or_else(|e| panic!("row {i}: dropped: {e}"))
            }
        };
        let got: Vec<String> = acts.iter().map(name).collect();
        assert_eq!(got, *want, "row {i} at {ms} ms ({input:?})");
        assert_eq!(fsm.state(), *state, "row {i} at {ms} ms ({input:?})");
    }
    fsm
}

const TO_MASTER: &[&str] = &[
    "advert(100)",
    "add-vips",
    "garp",
    "sync-master",
    "notify-master",
];

#[test]
fn timers_follow_section_6_1() {
    // Priority 100, 1 s: Skew_Time = 156/256 s = 609.375 ms, Master_Down = 3.609375 s.
    let fsm = Vrrp::new(cfg(100));
    assert_eq!(fsm.skew_time(), Duration::from_micros(609_375));
    assert_eq!(fsm.master_down_interval(), Duration::from_micros(3_609_375));
    let fsm = Vrrp::new(FsmConfig {
        advert_interval_cs: 10,
        ..cfg(150)
    });
    // 100 ms at priority 150: 300 ms + 106*10/256 ms.
    assert_eq!(fsm.master_down_interval(), Duration::from_micros(341_406));
}

#[test]
fn initialize_6_4_1() {
    // "If the Priority = 255 ... Transition to the {Master} state"
    run(
        Vrrp::new(cfg(255)),
        &[
            Row(0, In::Tick, State::Initialize, &[]),
            Row(0, In::Shutdown, State::Initialize, &[]),
            Row(
                0,
                In::Startup,
                State::Master,
                &[
                    "advert(255)",
                    "add-vips",
                    "garp",
                    "sync-master",
                    "notify-master",
                ],
            ),
            Row(1000, In::Tick, State::Master, &["advert(255)"]),
        ],
    );
    // "else: ... Set the Master_Down_Timer to Master_Down_Interval; Transition to {Backup}"
    let fsm = run(
        Vrrp::new(cfg(100)),
        &[Row(
            0,
            In::Startup,
            State::Backup,
            &["sync-backup", "notify-backup"],
        )],
    );
    assert!(fsm.timer(TimerKind::MasterDown).is_some());
    assert!(fsm.timer(TimerKind::Adver).is_none());
}

#[test]
fn backup_6_4_2_master_down_timer() {
    // "If the Master_Down_Timer fires, then: Send an ADVERTISEMENT; Broadcast a gratuitous
    // ARP ...; Transition to the {Master} state". 3.609375 s at priority 100.
    run(
        Vrrp::new(cfg(100)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(3609, In::Tick, State::Backup, &[]),
            Row(3610, In::Tick, State::Master, TO_MASTER),
            Row(4609, In::Tick, State::Master, &[]),
            Row(4610, In::Tick, State::Master, &["advert(100)"]),
        ],
    );
}

#[test]
fn backup_6_4_2_adverts_reset_the_timer_and_the_interval_is_learnt() {
    // "Set Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT; Recompute
    // the Master_Down_Interval; Reset the Master_Down_Timer".
    let fsm = run(
        Vrrp::new(cfg(100)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(3000, In::Adv("192.0.2.3", 150, 100), State::Backup, &[]),
            Row(6000, In::Adv("192.0.2.3", 150, 100), State::Backup, &[]),
            Row(9000, In::Tick, State::Backup, &[]),
            // The master advertises 50 cs: 1.5 s + 156*50/256 cs = 1.8046875 s.
            Row(9000, In::Adv("192.0.2.3", 150, 50), State::Backup, &[]),
            Row(10804, In::Tick, State::Backup, &[]),
            Row(10805, In::Tick, State::Master, TO_MASTER),
        ],
    );
    assert_eq!(fsm.master_adver_int(), 50);
}

#[test]
fn backup_6_4_2_priority_zero_means_skew_time() {
    // "If the Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer to
    // Skew_Time" (609.375 ms).
    run(
        Vrrp::new(cfg(100)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(500, In::Adv("192.0.2.3", 150, 100), State::Backup, &[]),
            Row(1000, In::Adv("192.0.2.3", 0, 100), State::Backup, &[]),
            Row(1609, In::Tick, State::Backup, &[]),
            Row(1610, In::Tick, State::Master, TO_MASTER),
        ],
    );
}

#[test]
fn backup_6_4_2_preempt_discards_lower_priority_adverts() {
    // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater than or
    // equal to the local Priority, then: ... Reset the Master_Down_Timer ... else: Discard".
    // Priority 150: Master_Down_Interval = 3 s + 106/256 s = 3.4140625 s.
    let lower = |ms| Row(ms, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]);
    let mut rows = vec![Row(
        0,
        In::Startup,
        State::Backup,
        &["sync-backup", "notify-backup"],
    )];
    rows.extend([1000, 2000, 3000].map(lower));
    rows.push(Row(
        3415,
        In::Tick,
        State::Master,
        &[
            "advert(150)",
            "add-vips",
            "garp",
            "sync-master",
            "notify-master",
        ],
    ));
    run(Vrrp::new(cfg(150)), &rows);

    // nopreempt: the lower-priority master is followed for as long as it advertises.
    let mut rows = vec![Row(
        0,
        In::Startup,
        State::Backup,
        &["sync-backup", "notify-backup"],
    )];
    rows.extend([1000, 2000, 3000, 4000, 5000, 6000].map(lower));
    rows.push(Row(6000, In::Tick, State::Backup, &[]));
    let fsm = run(
        Vrrp::new(FsmConfig {
            preempt: false,
            ..cfg(150)
        }),
        &rows,
    );
    assert_eq!(fsm.master(), Some("192.0.2.3".parse().unwrap()));
}

#[test]
fn backup_preempt_delay_tolerates_a_lower_master_for_a_while() {
    // Delay 2 s: lower adverts accepted until 1000 + 2000 ms, discarded after; the master down
    // timer then runs out from the last accepted one (2999 + 3414.0625).
    let lower = |ms| Row(ms, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]);
    let mut rows = vec![Row(
        0,
        In::Startup,
        State::Backup,
        &["sync-backup", "notify-backup"],
    )];
    rows.extend([1000, 2000, 2999, 3500, 4500, 5500].map(lower));
    rows.push(Row(6413, In::Tick, State::Backup, &[]));
    rows.push(Row(
        6414,
        In::Tick,
        State::Master,
        &[
            "advert(150)",
            "add-vips",
            "garp",
            "sync-master",
            "notify-master",
        ],
    ));
    run(
        Vrrp::new(FsmConfig {
            preempt_delay: Duration::from_secs(2),
            ..cfg(150)
        }),
        &rows,
    );
}

#[test]
fn master_6_4_3() {
    // "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the Adver_Timer".
    // "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT; Reset".
    let mut rows = backup_then_master();
    rows.extend([
        Row(4610, In::Tick, State::Master, &["advert(100)"][..]),
        Row(
            5000,
            In::Adv("192.0.2.3", 0, 100),
            State::Master,
            &["advert(100)"],
        ),
        Row(5610, In::Tick, State::Master, &[]),
        Row(6000, In::Tick, State::Master, &["advert(100)"]),
        // Lower priority: discarded by the RFC; we reassert (advert + GARP), see fsm.rs.
        Row(
            6100,
            In::Adv("192.0.2.3", 50, 100),
            State::Master,
            &["advert(100)", "garp"],
        ),
        // Equal priority from a lower address: we stay master.
        Row(
            6200,
            In::Adv("192.0.2.1", 100, 100),
            State::Master,
            &["advert(100)", "garp"],
        ),
        // Equal priority, greater address: "Transition to the {Backup} state", after one last
        // advert of ours (beyond the RFC, see fsm.rs: the winner then re-announces the VIPs).
        Row(
            6300,
            In::Adv("192.0.2.3", 100, 100),
            State::Backup,
            &["advert(100)", "del-vips", "sync-backup", "notify-backup"],
        ),
    ]);
    let fsm = run(Vrrp::new(cfg(100)), &rows);
    assert_eq!(fsm.master(), Some("192.0.2.3".parse().unwrap()));

    // Higher priority takes over; its interval is learnt.
    let mut rows = backup_then_master();
    rows.push(Row(
        4000,
        In::Adv("192.0.2.1", 200, 25),
        State::Backup,
        &["advert(100)", "del-vips", "sync-backup", "notify-backup"],
    ));
    let fsm = run(Vrrp::new(cfg(100)), &rows);
    assert_eq!(fsm.master_adver_int(), 25);

    // "If a Shutdown event is received, then: Cancel the Adver_Timer; Send an ADVERTISEMENT
    // with Priority = 0; Transition to the {Initialize} state".
    let mut rows = backup_then_master();
    rows.extend([
        Row(
            4000,
            In::Shutdown,
            State::Initialize,
            &["advert(0)", "del-vips", "sync-backup", "notify-stop"][..],
        ),
        Row(9000, In::Tick, State::Initialize, &[]),
    ]);
    let fsm = run(Vrrp::new(cfg(100)), &rows);
    assert_eq!(fsm.poll_timeout(), None);
}

#[test]
fn backup_shutdown_and_interface_faults() {
    run(
        Vrrp::new(cfg(100)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(100, In::Shutdown, State::Initialize, &["notify-stop"]),
            Row(9000, In::Tick, State::Initialize, &[]),
        ],
    );
    // The interface going down drops the VIPs without a (hopeless) advert; up = Startup.
    run(
        Vrrp::new(cfg(100)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(3610, In::Tick, State::Master, TO_MASTER),
            Row(
                4000,
                In::IfDown,
                State::Initialize,
                &["del-vips", "sync-backup", "notify-fault"],
            ),
            Row(
                5000,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
        ],
    );
}

#[test]
fn tracking_lowers_priority_and_a_master_says_so_at_once() {
    let fsm = run(
        Vrrp::new(cfg(150)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(
                3415,
                In::Tick,
                State::Master,
                &[
                    "advert(150)",
                    "add-vips",
                    "garp",
                    "sync-master",
                    "notify-master",
                ],
            ),
            Row(3500, In::Prio(90), State::Master, &["advert(90)"]),
            Row(3600, In::Prio(90), State::Master, &[]),
            Row(4499, In::Tick, State::Master, &[]),
            Row(4500, In::Tick, State::Master, &["advert(90)"]),
            // The preempting backup (100) now outranks us.
            Row(
                4550,
                In::Adv("192.0.2.3", 100, 100),
                State::Backup,
                &["advert(90)", "del-vips", "sync-backup", "notify-backup"],
            ),
        ],
    );
    assert_eq!(fsm.priority(), 90);
}

#[test]
fn garp_burst_then_refresh() {
    let fsm = Vrrp::new(FsmConfig {
        garp_repeat: 2,
        garp_interval: Duration::from_millis(200),
        garp_refresh: Some(Duration::from_secs(60)),
        peers: vec![],
        ..cfg(255)
    });
    run(
        fsm,
        &[
            Row(
                0,
                In::Startup,
                State::Master,
                &[
                    "advert(255)",
                    "add-vips",
                    "garp",
                    "sync-master",
                    "notify-master",
                ],
            ),
            Row(200, In::Tick, State::Master, &["garp"]),
            Row(400, In::Tick, State::Master, &["garp"]),
            Row(600, In::Tick, State::Master, &[]),
            Row(1000, In::Tick, State::Master, &["advert(255)"]),
            Row(60_000, In::Tick, State::Master, &["advert(255)", "garp"]),
        ],
    );
}

/// keepalived's garp_master_delay (a second burst) and garp_master_refresh_repeat (a burst
/// at each refresh), spaced by garp_interval like the first.
#[test]
fn garp_second_burst_after_the_delay_and_refresh_bursts() {
    let fsm = Vrrp::new(FsmConfig {
        garp_repeat: 1,
        garp_interval: Duration::from_millis(100),
        garp_delay: Some(Duration::from_secs(5)),
        garp_refresh: Some(Duration::from_secs(30)),
        garp_refresh_repeat: 2,
        ..cfg(255)
    });
    let masters = &[
        "advert(255)",
        "add-vips",
        "garp",
        "sync-master",
        "notify-master",
    ];
    run(
        fsm.clone(),
        &[
            Row(0, In::Startup, State::Master, masters),
            Row(100, In::Tick, State::Master, &["garp"]),
            Row(200, In::Tick, State::Master, &[]),
            Row(5_000, In::Tick, State::Master, &["advert(255)", "garp"]),
            Row(5_100, In::Tick, State::Master, &["garp"]),
            Row(5_200, In::Tick, State::Master, &[]),
            Row(30_000, In::Tick, State::Master, &["advert(255)", "garp"]),
            Row(30_100, In::Tick, State::Master, &["garp"]),
            Row(30_200, In::Tick, State::Master, &["garp"]),
            Row(30_300, In::Tick, State::Master, &[]),
            Row(60_000, In::Tick, State::Master, &["advert(255)", "garp"]),
        ],
    );
    // Leaving master before the delay cancels the second burst.
    run(
        fsm,
        &[
            Row(0, In::Startup, State::Master, masters),
            Row(100, In::Tick, State::Master, &["garp"]),
            Row(
                1_000,
                In::Shutdown,
                State::Initialize,
                &["advert(0)", "del-vips", "sync-backup", "notify-stop"],
            ),
            Row(5_000, In::Tick, State::Initialize, &[]),
        ],
    );
}

/// keepalived's garp_lower_prio_repeat and garp_lower_prio_delay: a master that hears a
/// lower-priority advert (a split brain healing) reasserts with a burst now and another after
/// the delay; lower_prio_no_advert leaves out the advert (the RFCs' behaviour).
#[test]
fn a_lower_priority_advert_brings_its_own_bursts_and_lower_prio_no_advert_keeps_quiet() {
    let lower = || In::Adv("192.0.2.3", 50, 100);
    let mut rows = backup_then_master();
    rows.extend([
        Row(4000, lower(), State::Master, &["advert(100)", "garp"][..]),
        Row(4100, In::Tick, State::Master, &["garp"]),
        Row(4200, In::Tick, State::Master, &[]),
        Row(5000, In::Tick, State::Master, &["advert(100)"]),
        Row(6000, In::Tick, State::Master, &["advert(100)"]),
        Row(7000, In::Tick, State::Master, &["advert(100)", "garp"]),
        Row(7100, In::Tick, State::Master, &["garp"]),
        Row(7200, In::Tick, State::Master, &[]),
    ]);
    run(
        Vrrp::new(FsmConfig {
            garp_interval: Duration::from_millis(100),
            garp_lower_prio_count: 2,
            garp_lower_prio_delay: Some(Duration::from_secs(3)),
            ..cfg(100)
        }),
        &rows,
    );
    let mut rows = backup_then_master();
    rows.extend([
        Row(4000, lower(), State::Master, &[][..]),
        Row(4610, In::Tick, State::Master, &["advert(100)"]),
    ]);
    run(
        Vrrp::new(FsmConfig {
            garp_lower_prio_count: 0,
            lower_prio_no_advert: true,
            ..cfg(100)
        }),
        &rows,
    );
}

#[test]
fn receive_checks_of_section_7_1() {
    let now = Instant::now();
    let src: IpAddr = "192.0.2.3".parse().unwrap();
    let advert = |vrid, priority, addr: &str| Advert {
        vrid,
        priority,
        max_adver_int: 100,
        addrs: vec![addr.parse().unwrap()],
    };
    let mut fsm = Vrrp::new(cfg(100));
    fsm.set_local_addr(LOCAL.parse().unwrap());
    fsm.handle(now, Event::Startup);
    assert_eq!(
        fsm.receive(now, src, advert(52, 100, VIP)),
        Err(DropReason::OtherVrid(52))
    );
    assert_eq!(
        fsm.receive(now, LOCAL.parse().unwrap(), advert(51, 100, VIP)),
        Err(DropReason::OwnPacket)
    );
    assert_eq!(
        fsm.receive(now, src, advert(51, 100, "192.0.2.99")),
        Err(DropReason::AddressMismatch)
    );
    // "If the packet was not generated by the address owner ... MUST drop; otherwise continue"
    assert!(fsm.receive(now, src, advert(51, 255, "192.0.2.99")).is_ok());
    // "... and the local router is not the IPvX address owner"
    let mut owner = Vrrp::new(cfg(255));
    owner.handle(now, Event::Startup);
    assert_eq!(
        owner.receive(now, src, advert(51, 100, VIP)),
        Err(DropReason::LocalOwner)
    );
}

/// With unicast peers, an advert from any other address is dropped as `unknown_peer` before
/// anything else about it counts: a stranger at priority 254 neither holds a backup (its
/// Master_Down_Timer fires as if it had heard nothing) nor makes a master step down; a peer's
/// advert is taken as usual.
#[test]
fn with_unicast_peers_only_a_peer_is_heard() {
    let t0 = Instant::now();
    let peer: IpAddr = "192.0.2.3".parse().unwrap();
    let stranger: IpAddr = "192.0.2.100".parse().unwrap();
    let advert = |priority| Advert {
        vrid: 51,
        priority,
        max_adver_int: 100,
        addrs: vec![VIP.parse().unwrap()],
    };
    let mut c = cfg(100);
    c.peers = vec![peer];
    let mut fsm = Vrrp::new(c);
    fsm.set_local_addr(LOCAL.parse().unwrap());
    fsm.handle(t0, Event::Startup);
    assert_eq!(fsm.state(), State::Backup);
    // Master_Down_Interval at priority 100: 3 s + 156/256 s = 3609.375 ms.
    for ms in (0..3600).step_by(500) {
        let now = t0 + Duration::from_millis(ms);
        assert_eq!(
            fsm.receive(now, stranger, advert(254)),
            Err(DropReason::UnknownPeer(stranger))
        );
        assert!(fsm.handle_timeout(now).is_empty());
    }
    let acts: Vec<String> = fsm
        .handle_timeout(t0 + Duration::from_millis(3610))
        .iter()
        .map(name)
        .collect();
    assert_eq!(acts, TO_MASTER);
    let now = t0 + Duration::from_millis(4000);
    assert_eq!(
        fsm.receive(now, stranger, advert(254)),
        Err(DropReason::UnknownPeer(stranger))
    );
    assert_eq!(fsm.state(), State::Master);
    // Another virtual router's advert is still `other_vrid`, whoever sends it.
    let mut other = advert(254);
    other.vrid = 52;
    assert_eq!(
        fsm.receive(now, stranger, other),
        Err(DropReason::OtherVrid(52))
    );
    // The peer at a higher priority is heard: the master steps down.
    assert!(fsm.receive(now, peer, advert(200)).is_ok());
    assert_eq!(fsm.state(), State::Backup);
}

/// Priority 150 at 1 s: Master_Down_Interval = 3 s + 106/256 s = 3414.0625 ms.
const STEPPED_DOWN: &[&str] = &["advert(0)", "del-vips", "sync-backup", "notify-backup"];

#[test]
fn failover_steps_down_with_priority_zero_and_holds_backup_until_resumed() {
    let to_master_150 = &[
        "advert(150)",
        "add-vips",
        "garp",
        "sync-master",
        "notify-master",
    ];
    let fsm = run(
        Vrrp::new(cfg(150)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(3415, In::Tick, State::Master, to_master_150),
            // The master leaves at once: priority 0 so the backup waits only Skew_Time.
            Row(5000, In::StepDown(true), State::Backup, STEPPED_DOWN),
            // Held: the lower-priority new master is followed, not preempted.
            Row(5600, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]),
            Row(6600, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]),
            Row(9000, In::Tick, State::Backup, &[]),
            Row(9500, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]),
            // A second failover request while backup changes nothing.
            Row(9600, In::StepDown(true), State::Backup, &[]),
            // Cleared: its adverts are discarded again, so the Master_Down_Timer set by the
            // 9500 advert fires and we preempt.
            Row(9700, In::Resume, State::Backup, &[]),
            Row(10_500, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]),
            Row(12_913, In::Tick, State::Backup, &[]),
            Row(12_915, In::Tick, State::Master, to_master_150),
        ],
    );
    assert!(!fsm.held());
}

#[test]
fn failover_hold_still_takes_over_when_no_master_is_heard() {
    let fsm = run(
        Vrrp::new(cfg(150)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(
                3415,
                In::Tick,
                State::Master,
                &[
                    "advert(150)",
                    "add-vips",
                    "garp",
                    "sync-master",
                    "notify-master",
                ],
            ),
            Row(4000, In::StepDown(true), State::Backup, STEPPED_DOWN),
            Row(4500, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]),
            // The new master dies: after Master_Down_Interval we take the VIPs back.
            Row(7914, In::Tick, State::Backup, &[]),
            Row(
                7915,
                In::Tick,
                State::Master,
                &[
                    "advert(150)",
                    "add-vips",
                    "garp",
                    "sync-master",
                    "notify-master",
                ],
            ),
        ],
    );
    // Still held: the hold is about preemption, not about refusing to serve.
    assert!(fsm.held());
}

#[test]
fn failover_without_hold_lets_preemption_take_the_vips_back() {
    run(
        Vrrp::new(cfg(150)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(
                3415,
                In::Tick,
                State::Master,
                &[
                    "advert(150)",
                    "add-vips",
                    "garp",
                    "sync-master",
                    "notify-master",
                ],
            ),
            Row(4000, In::StepDown(false), State::Backup, STEPPED_DOWN),
            // Lower priority: discarded (preempt), so the timer set at 4000 runs out.
            Row(4500, In::Adv("192.0.2.3", 100, 100), State::Backup, &[]),
            Row(
                7415,
                In::Tick,
                State::Master,
                &[
                    "advert(150)",
                    "add-vips",
                    "garp",
                    "sync-master",
                    "notify-master",
                ],
            ),
        ],
    );
}

#[test]
fn starting_with_the_interface_down_is_a_fault() {
    // The edge finds its interface down at start: no transition (nothing to leave), but the
    // router reports fault until the interface comes up.
    let fsm = run(
        Vrrp::new(cfg(100)),
        &[Row(0, In::IfDown, State::Initialize, &[])],
    );
    assert!(fsm.fault());
    let fsm = run(
        fsm,
        &[Row(
            1000,
            In::Startup,
            State::Backup,
            &["sync-backup", "notify-backup"],
        )],
    );
    assert!(!fsm.fault());
}

/// A VRRPv2 router at priority 100 with a 2 s interval.
fn v2_at_2s() -> FsmConfig {
    FsmConfig {
        version: Version::V2,
        advert_interval_cs: 200,
        ..cfg(100)
    }
}

#[test]
fn skew_time_v2_ignores_the_interval_v3_scales_with_it() {
    // RFC 3768 6.1: (256 - 100) / 256 s = 609.375 ms at any interval; 3 * 2 s + that.
    let v2 = Vrrp::new(v2_at_2s());
    assert_eq!(v2.skew_time(), Duration::from_micros(609_375));
    assert_eq!(v2.master_down_interval(), Duration::from_micros(6_609_375));
    // RFC 5798 6.1: 156 * 2 s / 256 = 1.21875 s; 3 * 2 s + that.
    let v3 = Vrrp::new(FsmConfig {
        version: Version::V3,
        ..v2_at_2s()
    });
    assert_eq!(v3.skew_time(), Duration::from_micros(1_218_750));
    assert_eq!(v3.master_down_interval(), Duration::from_micros(7_218_750));
    // At 1 s the two agree.
    let v2 = Vrrp::new(FsmConfig {
        version: Version::V2,
        ..cfg(100)
    });
    assert_eq!(v2.skew_time(), Vrrp::new(cfg(100)).skew_time());
}

#[test]
fn master_down_timer_v2_and_v3_on_the_virtual_clock() {
    let startup = Row(
        0,
        In::Startup,
        State::Backup,
        &["sync-backup", "notify-backup"],
    );
    for (version, fires_ms) in [(Version::V2, 6_610), (Version::V3, 7_219)] {
        let rows = [
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            Row(fires_ms - 1, In::Tick, State::Backup, &[]),
            Row(fires_ms, In::Tick, State::Master, TO_MASTER),
        ];
        run(
            Vrrp::new(FsmConfig {
                version,
                ..v2_at_2s()
            }),
            &rows,
        );
    }
    // A priority-0 advert: Skew_Time alone, 609.375 ms in VRRPv2 even at 2 s.
    run(
        Vrrp::new(v2_at_2s()),
        &[
            startup,
            Row(1000, In::Adv("192.0.2.3", 150, 200), State::Backup, &[]),
            Row(2000, In::Adv("192.0.2.3", 0, 200), State::Backup, &[]),
            Row(2609, In::Tick, State::Backup, &[]),
            Row(2610, In::Tick, State::Master, TO_MASTER),
        ],
    );
}

#[test]
fn v2_advert_with_another_interval_is_dropped_never_followed() {
    let t0 = Instant::now();
    let mut fsm = Vrrp::new(v2_at_2s());
    fsm.set_local_addr(LOCAL.parse().unwrap());
    fsm.handle(t0, Event::Startup);
    let advert = |int| Advert {
        vrid: 51,
        priority: 200,
        max_adver_int: int,
        addrs: vec![VIP.parse().unwrap()],
    };
    let src: IpAddr = "192.0.2.3".parse().unwrap();
    for ms in [1000, 3000, 5000, 6000] {
        let got = fsm.receive(t0 + Duration::from_millis(ms), src, advert(100));
        assert_eq!(
            got,
            Err(DropReason::IntervalMismatch {
                got_cs: 100,
                want_cs: 200
            })
        );
        assert_eq!(fsm.master(), None);
    }
    assert_eq!(
        DropReason::IntervalMismatch {
            got_cs: 100,
            want_cs: 200
        }
        .to_string(),
        "advertisement interval 1000ms is not ours (2000ms)"
    );
    // The master down timer was never reset by them: master at 6.609375 s.
    let acts = fsm.handle_timeout(t0 + Duration::from_millis(6_610));
    assert_eq!(fsm.state(), State::Master, "{acts:?}");
    // A VRRPv3 router follows any interval (RFC 5798 has no such check).
    let mut v3 = Vrrp::new(FsmConfig {
        version: Version::V3,
        ..v2_at_2s()
    });
    v3.set_local_addr(LOCAL.parse().unwrap());
    v3.handle(t0, Event::Startup);
    assert!(v3.receive(t0, src, advert(100)).is_ok());
    assert_eq!(v3.master(), Some(src));
}

#[test]
fn sync_group_orders_move_a_member_and_a_hold_keeps_it_out_of_master() {
    use super::sync_group::Order;
    let fsm = run(
        Vrrp::new(cfg(100)),
        &[
            Row(
                0,
                In::Startup,
                State::Backup,
                &["sync-backup", "notify-backup"],
            ),
            // Another member became master: follow at once.
            Row(500, In::Group(Order::ToMaster), State::Master, TO_MASTER),
            // Another member went back to backup: leave with priority 0.
            Row(800, In::Group(Order::ToBackup), State::Backup, STEPPED_DOWN),
            // A member faults: held out of master; the Master_Down_Timer (3.61 s) comes and
            // goes, and a ToMaster order is ignored.
            Row(900, In::Group(Order::HoldOut), State::Backup, &[]),
            Row(4500, In::Tick, State::Backup, &[]),
            Row(4600, In::Group(Order::ToMaster), State::Backup, &[]),
            Row(8200, In::Tick, State::Backup, &[]),
            // Released: the next Master_Down_Timer makes us master.
            Row(8300, In::Group(Order::Release), State::Backup, &[]),
            Row(11_700, In::Tick, State::Backup, &[]),
            Row(11_810, In::Tick, State::Master, TO_MASTER),
            // A hold on a master: it leaves as for ToBackup.
            Row(
                12_000,
                In::Group(Order::HoldOut),
                State::Backup,
                STEPPED_DOWN,
            ),
        ],
    );
    assert!(fsm.group_held());
    assert!(!fsm.held());
}
