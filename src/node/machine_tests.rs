//! Table-driven tests of every transition of the node state machine, written as event scripts.

use super::*;

fn node(services: &[&str]) -> NodeConfig {
    NodeConfig::new(
        "rs1",
        services.iter().map(|s| ServiceConfig::new(*s)).collect(),
    )
}

fn ping(alive: bool) -> Input {
    Input::Ping { alive }
}

fn check(service: &str, pass: bool) -> Input {
    Input::Check {
        service: service.into(),
        pass,
        load: None,
        weight: None,
        summary: if pass {
            String::new()
        } else {
            format!("{service} down")
        },
    }
}

/// A real server entering or leaving the table, as the director's plan would see it from the
/// machine's state and health (in the table: not offline, not in maintenance, service up).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Table {
    Add(&'static str),
    Remove(&'static str),
}

fn add(service: &'static str, _weight: u32) -> Table {
    Table::Add(service)
}

fn remove(service: &'static str) -> Table {
    Table::Remove(service)
}

/// Whether `service`'s real server would be in the table.
fn in_table(m: &NodeMachine, service: &str) -> bool {
    !m.in_maintenance() && m.state() != Offline && m.health(service) == Some(Health::Up)
}

/// What changed in the table between `before` (services in it) and `m`, in `services` order.
fn table_changes(before: &[bool], m: &NodeMachine, services: &[&'static str]) -> Vec<Table> {
    services
        .iter()
        .zip(before)
        .filter_map(|(s, was)| match (*was, in_table(m, s)) {
            (false, true) => Some(Table::Add(s)),
            (true, false) => Some(Table::Remove(s)),
            _ => None,
        })
        .collect()
}

fn changed(old: NodeState, new: NodeState, cause: &str) -> Action {
    Action::StateChanged {
        node: "rs1".into(),
        old,
        new,
        cause: cause.into(),
    }
}

fn sched(check: CheckTarget, cadence: Cadence) -> Action {
    Action::ScheduleCheck {
        node: "rs1".into(),
        check,
        cadence,
    }
}

fn svc(name: &str) -> CheckTarget {
    CheckTarget::Service(name.into())
}

fn alert(watch: &str, old: NodeState, new: NodeState, summary: &str) -> Action {
    Action::RunAlert {
        node: "rs1".into(),
        watch: watch.into(),
        old,
        new,
        summary: summary.into(),
        repeat: false,
    }
}

fn upalert(watch: &str, old: NodeState, new: NodeState) -> Action {
    Action::RunUpalert {
        node: "rs1".into(),
        watch: watch.into(),
        old,
        new,
    }
}

use NodeState::{Failed, Offline, Online};

/// Runs `setup`; returns the machine and the time of the last input.
fn run_setup(cfg: &NodeConfig, setup: &[Input]) -> (Millis, NodeMachine) {
    let mut m = NodeMachine::new(cfg);
    let mut now = 0;
    m.start(now);
    for i in setup {
        now += 1000;
        m.handle(now, i);
    }
    (now, m)
}

/// Runs `setup` then `step`; returns the actions of `step` and the final state.
fn run(cfg: &NodeConfig, setup: &[Input], step: &Input) -> (Vec<Action>, NodeMachine) {
    let (now, mut m) = run_setup(cfg, setup);
    let out = m.handle(now + 1000, step);
    (out, m)
}

struct Case {
    name: &'static str,
    setup: Vec<Input>,
    step: Input,
    state: NodeState,
    actions: Vec<Action>,
    /// Real servers that enter or leave the table.
    table: Vec<Table>,
}

#[test]
fn every_transition_of_the_classic_scripts() {
    let online = || vec![ping(true), check("http", true), check("ftp", true)];
    let failed_http = || {
        let mut v = online();
        v.extend([check("http", false), ping(true)]);
        v
    };
    let cases = vec![
        Case {
            name: "offline, ping answers -> online, every service checked now",
            setup: vec![],
            step: ping(true),
            state: Online,
            actions: vec![
                changed(Offline, Online, "ping answers"),
                sched(svc("http"), Cadence::Now),
                sched(svc("ftp"), Cadence::Now),
            ],
            table: vec![],
        },
        Case {
            name: "offline, ping silent -> stays offline, alert once",
            setup: vec![],
            step: ping(false),
            state: Offline,
            actions: vec![alert("ping", Offline, Offline, "rs1 does not answer ping")],
            table: vec![],
        },
        Case {
            name: "offline, service results are ignored",
            setup: vec![],
            step: check("http", true),
            state: Offline,
            actions: vec![],
            table: vec![],
        },
        Case {
            name: "online, first service check passes -> real server added",
            setup: vec![ping(true)],
            step: check("http", true),
            state: Online,
            actions: vec![],
            table: vec![add("http", 1)],
        },
        Case {
            name: "online, first service check fails -> failed",
            setup: vec![ping(true), check("ftp", true)],
            step: check("http", false),
            state: Failed,
            actions: vec![
                sched(svc("http"), Cadence::Failed),
                changed(Online, Failed, "http fails"),
                alert("http", Online, Failed, "http down"),
            ],
            table: vec![],
        },
        Case {
            name: "online, service fails -> removed at once, ping asked",
            setup: online(),
            step: check("http", false),
            state: Online,
            actions: vec![
                sched(svc("http"), Cadence::Failed),
                sched(CheckTarget::Ping, Cadence::Now),
            ],
            table: vec![remove("http")],
        },
        Case {
            name: "online, service failed, ping answers -> failed",
            setup: {
                let mut v = online();
                v.push(check("http", false));
                v
            },
            step: ping(true),
            state: Failed,
            actions: vec![
                changed(Online, Failed, "service check failed, ping answers"),
                alert("http", Online, Failed, "http down"),
            ],
            table: vec![],
        },
        Case {
            name: "online, service failed, ping silent -> offline, out of everything, both alerts",
            setup: {
                let mut v = online();
                v.push(check("http", false));
                v
            },
            step: ping(false),
            state: Offline,
            actions: vec![
                changed(Online, Offline, "service check failed, ping silent"),
                alert("http", Online, Offline, "http down"),
                // node_down.alert too: its node_up.alert will follow when ping answers again.
                alert("ping", Online, Offline, "rs1 does not answer ping"),
            ],
            table: vec![remove("ftp")],
        },
        Case {
            name: "online, ping silent -> offline, every real server removed",
            setup: online(),
            step: ping(false),
            state: Offline,
            actions: vec![
                changed(Online, Offline, "ping silent"),
                alert("ping", Online, Offline, "rs1 does not answer ping"),
            ],
            table: vec![remove("http"), remove("ftp")],
        },
        Case {
            name: "failed, ping silent -> offline",
            setup: failed_http(),
            step: ping(false),
            state: Offline,
            actions: vec![
                changed(Failed, Offline, "ping silent"),
                alert("ping", Failed, Offline, "rs1 does not answer ping"),
            ],
            table: vec![remove("ftp")],
        },
        Case {
            name: "failed, service passes -> back in the table, online, upalert",
            setup: failed_http(),
            step: check("http", true),
            state: Online,
            actions: vec![
                sched(svc("http"), Cadence::Normal),
                changed(Failed, Online, "http passes"),
                upalert("http", Failed, Online),
            ],
            table: vec![add("http", 1)],
        },
        Case {
            name: "failed, still failing -> stays failed, numalerts 1 sends no more",
            setup: failed_http(),
            step: check("http", false),
            state: Failed,
            actions: vec![],
            table: vec![],
        },
        Case {
            name: "failed, the other service passes -> stays failed, nothing changes",
            setup: failed_http(),
            step: check("ftp", true),
            state: Failed,
            actions: vec![],
            table: vec![],
        },
        Case {
            name: "failed, a second service fails -> out of it too, alert",
            setup: failed_http(),
            step: check("ftp", false),
            state: Failed,
            actions: vec![
                sched(svc("ftp"), Cadence::Failed),
                alert("ftp", Failed, Failed, "ftp down"),
            ],
            table: vec![remove("ftp")],
        },
        Case {
            name: "offline after alert, ping answers -> online with ping upalert",
            setup: {
                let mut v = online();
                v.push(ping(false));
                v
            },
            step: ping(true),
            state: Online,
            actions: vec![
                changed(Offline, Online, "ping answers"),
                upalert("ping", Offline, Online),
                sched(svc("http"), Cadence::Now),
                sched(svc("ftp"), Cadence::Now),
            ],
            table: vec![],
        },
        Case {
            name: "maintenance -> out of every service, state kept",
            setup: online(),
            step: Input::Maintenance { on: true },
            state: Online,
            actions: vec![],
            table: vec![remove("http"), remove("ftp")],
        },
        Case {
            name: "maintenance silences alerts",
            setup: {
                let mut v = online();
                v.push(Input::Maintenance { on: true });
                v
            },
            step: ping(false),
            state: Offline,
            actions: vec![changed(Online, Offline, "ping silent")],
            table: vec![],
        },
        Case {
            name: "maintenance off -> everything checked now",
            setup: {
                let mut v = online();
                v.push(Input::Maintenance { on: true });
                v
            },
            step: Input::Maintenance { on: false },
            state: Online,
            actions: vec![
                sched(CheckTarget::Ping, Cadence::Now),
                sched(svc("http"), Cadence::Now),
                sched(svc("ftp"), Cadence::Now),
            ],
            table: vec![add("http", 1), add("ftp", 1)],
        },
    ];
    let cfg = node(&["http", "ftp"]);
    let services = ["http", "ftp"];
    for case in cases {
        let (_, before) = run_setup(&cfg, &case.setup);
        let was: Vec<bool> = services.iter().map(|s| in_table(&before, s)).collect();
        let (actions, m) = run(&cfg, &case.setup, &case.step);
        assert_eq!(actions, case.actions, "actions of case: {}", case.name);
        assert_eq!(
            table_changes(&was, &m, &services),
            case.table,
            "table of case: {}",
            case.name
        );
        assert_eq!(m.state(), case.state, "state of case: {}", case.name);
    }
}

#[test]
fn start_pings_or_goes_online_without_ping_watch() {
    let mut cfg = node(&["http"]);
    let mut m = NodeMachine::new(&cfg);
    assert_eq!(m.start(0), vec![sched(CheckTarget::Ping, Cadence::Now)]);
    assert_eq!(m.state(), Offline);
    cfg.ping = false;
    let mut m = NodeMachine::new(&cfg);
    let out = m.start(0);
    assert_eq!(m.state(), Online);
    assert!(out.contains(&sched(svc("http"), Cadence::Now)));
    // Without ping, a failing service goes straight to failed.
    m.handle(1, &check("http", true));
    assert!(in_table(&m, "http"));
    m.handle(2, &check("http", false));
    assert_eq!(m.state(), Failed);
    assert!(!in_table(&m, "http"));
}

#[test]
fn rise_and_fall_debounce_services_and_ping() {
    // (rise, fall, results) -> health after each result.
    let table: &[(u32, u32, &str, &str)] = &[
        (1, 1, "PFP", "UDU"),
        (2, 1, "PPFPP", "?UDDU"),
        (1, 3, "PFFFP", "UUUDU"),
        (3, 2, "PPPFPFF", "??UUUUD"),
        (2, 2, "PFPFPP", "?????U"),
    ];
    for &(rise, fall, results, expect) in table {
        let mut cfg = node(&["http"]);
        cfg.services[0].rise = rise;
        cfg.services[0].fall = fall;
        cfg.ping = false;
        let mut m = NodeMachine::new(&cfg);
        m.start(0);
        let mut got = String::new();
        for (t, r) in results.chars().enumerate() {
            m.handle(t as u64 + 1, &check("http", r == 'P'));
            got.push(match m.health("http") {
                Some(Health::Up) => 'U',
                Some(Health::Down) => 'D',
                _ => '?',
            });
        }
        assert_eq!(got, expect, "rise {rise} fall {fall} results {results}");
    }
    // Ping fall 3: two silent pings keep the node online, the third takes it offline.
    let mut cfg = node(&["http"]);
    cfg.ping_fall = 3;
    cfg.ping_rise = 2;
    let mut m = NodeMachine::new(&cfg);
    m.start(0);
    m.handle(1, &ping(true));
    assert_eq!(m.state(), Offline, "rise 2 needs two answers");
    m.handle(2, &ping(true));
    assert_eq!(m.state(), Online);
    m.handle(3, &ping(false));
    m.handle(4, &ping(false));
    assert_eq!(m.state(), Online);
    m.handle(5, &ping(false));
    assert_eq!(m.state(), Offline);
    assert_eq!(m.since(), 5);
}

#[test]
fn a_retry_confirms_a_failure_at_the_retry_interval_and_ends_with_either_result() {
    // fall 3 with retry: the first failure of a passing service asks for the retry cadence,
    // the third takes it down (failed cadence); a pass during the retry returns to normal.
    let mut cfg = node(&["http"]);
    cfg.services[0].fall = 3;
    cfg.services[0].retry = true;
    cfg.ping = false;
    let mut m = NodeMachine::new(&cfg);
    m.start(0);
    let cadences = |actions: Vec<Action>| -> Vec<Cadence> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::ScheduleCheck {
                    check: CheckTarget::Service(_),
                    cadence,
                    ..
                } => Some(cadence),
                _ => None,
            })
            .collect()
    };
    assert!(cadences(m.handle(1, &check("http", true))).is_empty());
    assert_eq!(
        cadences(m.handle(2, &check("http", false))),
        vec![Cadence::Retry]
    );
    assert!(cadences(m.handle(3, &check("http", false))).is_empty());
    assert_eq!(m.health("http"), Some(Health::Up));
    assert_eq!(
        cadences(m.handle(4, &check("http", false))),
        vec![Cadence::Failed]
    );
    assert_eq!(m.health("http"), Some(Health::Down));
    // Failing on: no retry while down.
    assert!(cadences(m.handle(5, &check("http", false))).is_empty());
    assert_eq!(
        cadences(m.handle(6, &check("http", true))),
        vec![Cadence::Normal]
    );
    // One failure, then a pass: the retry ends, the service never went down.
    assert_eq!(
        cadences(m.handle(7, &check("http", false))),
        vec![Cadence::Retry]
    );
    assert_eq!(
        cadences(m.handle(8, &check("http", true))),
        vec![Cadence::Normal]
    );
    assert_eq!(m.health("http"), Some(Health::Up));
    // Without retry, the failures wait for the normal interval.
    cfg.services[0].retry = false;
    let mut m = NodeMachine::new(&cfg);
    m.start(0);
    m.handle(1, &check("http", true));
    assert!(cadences(m.handle(2, &check("http", false))).is_empty());
}

#[test]
fn a_retry_in_progress_ends_when_the_node_goes_offline() {
    let mut cfg = node(&["http"]);
    cfg.services[0].fall = 2;
    cfg.services[0].retry = true;
    cfg.ping_fall = 1;
    let mut m = NodeMachine::new(&cfg);
    m.start(0);
    m.handle(1, &ping(true));
    m.handle(2, &check("http", true));
    m.handle(3, &check("http", false));
    let actions = m.handle(4, &ping(false));
    assert_eq!(m.state(), Offline);
    assert!(
        actions.contains(&sched(svc("http"), Cadence::Normal)),
        "{actions:?}"
    );
}

#[test]
fn numalerts_limits_repeated_alerts() {
    for (numalerts, expect) in [(1u32, 1usize), (3, 3), (0, 6)] {
        let mut cfg = node(&["http"]);
        cfg.services[0].numalerts = numalerts;
        let mut m = NodeMachine::new(&cfg);
        let mut alerts = 0;
        let mut all = m.start(0);
        all.extend(m.handle(1, &ping(true)));
        all.extend(m.handle(2, &check("http", true)));
        all.extend(m.handle(3, &check("http", false)));
        all.extend(m.handle(4, &ping(true)));
        for t in 5..10 {
            all.extend(m.handle(t, &check("http", false)));
        }
        alerts += all
            .iter()
            .filter(|a| matches!(a, Action::RunAlert { .. }))
            .count();
        assert_eq!(alerts, expect, "numalerts {numalerts}");
        // Recovery sends exactly one upalert.
        let out = m.handle(20, &check("http", true));
        let ups = out
            .iter()
            .filter(|a| matches!(a, Action::RunUpalert { .. }))
            .count();
        assert_eq!(ups, 1);
    }
}

#[test]
fn agent_load_sets_the_weight() {
    assert_eq!(weight_from_load(100, None), 100);
    assert_eq!(weight_from_load(100, Some(0)), 100);
    assert_eq!(weight_from_load(100, Some(25)), 75);
    assert_eq!(weight_from_load(100, Some(100)), 0);
    assert_eq!(weight_from_load(100, Some(250)), 0);
    assert_eq!(weight_from_load(u32::MAX, Some(0)), u32::MAX);
    let mut cfg = node(&["http"]);
    cfg.services[0].weight = 200;
    let mut m = NodeMachine::new(&cfg);
    m.start(0);
    m.handle(1, &ping(true));
    let load = |l| Input::Check {
        service: "http".into(),
        pass: true,
        load: Some(l),
        weight: None,
        summary: String::new(),
    };
    assert_eq!(m.handle(2, &load(50)), vec![]);
    assert_eq!((m.load("http"), m.weight("http")), (Some(50), Some(100)));
    assert_eq!(m.handle(3, &load(10)), vec![]);
    assert_eq!(m.weight("http"), Some(180));
    // A plain pass (no load) keeps the configured weight.
    m.handle(4, &check("http", true));
    assert_eq!(m.weight("http"), Some(200));
}

#[test]
fn event_scripts_replay_from_json_lines() {
    let script = r#"
{"at":0,"event":"ping","alive":true}
{"at":1000,"event":"check","service":"http","pass":true}
{"at":2000,"event":"check","service":"http","pass":false,"summary":"rs1 returned 503"}
{"at":2100,"event":"ping","alive":false}
{"at":9000,"event":"ping","alive":true}
{"at":9500,"event":"check","service":"http","pass":true}
"#;
    let mut m = NodeMachine::new(&node(&["http"]));
    m.start(0);
    let mut trace = Vec::new();
    for line in script.lines().filter(|l| !l.trim().is_empty()) {
        let ev: TimedInput = serde_json::from_str(line).expect("valid script line");
        for a in m.handle(ev.at, &ev.input) {
            trace.push(serde_json::to_string(&a).expect("serializable action"));
        }
    }
    let expect = [
        r#"{"action":"state_changed","node":"rs1","old":"offline","new":"online","cause":"ping answers"}"#,
        r#"{"action":"schedule_check","node":"rs1","check":{"service":"http"},"cadence":"now"}"#,
        r#"{"action":"schedule_check","node":"rs1","check":{"service":"http"},"cadence":"failed"}"#,
        r#"{"action":"schedule_check","node":"rs1","check":"ping","cadence":"now"}"#,
        r#"{"action":"state_changed","node":"rs1","old":"online","new":"offline","cause":"service check failed, ping silent"}"#,
        r#"{"action":"run_alert","node":"rs1","watch":"http","old":"online","new":"offline","summary":"rs1 returned 503"}"#,
        r#"{"action":"run_alert","node":"rs1","watch":"ping","old":"online","new":"offline","summary":"rs1 does not answer ping"}"#,
        r#"{"action":"state_changed","node":"rs1","old":"offline","new":"online","cause":"ping answers"}"#,
        r#"{"action":"run_upalert","node":"rs1","watch":"ping","old":"offline","new":"online"}"#,
        r#"{"action":"schedule_check","node":"rs1","check":{"service":"http"},"cadence":"now"}"#,
        r#"{"action":"run_upalert","node":"rs1","watch":"http","old":"online","new":"online"}"#,
    ];
    assert_eq!(trace, expect);
    assert_eq!(m.state().number(), 1);
}
