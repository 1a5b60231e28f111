//! The director as scripts of inputs and expected effects on a virtual clock ([`Sim`]):
//! adoption and restore at start, checks and pings through the node machines to the table,
//! drift repair, reload, operator overrides that survive a restart, the state file written
//! before the table changes, one batch in flight at a time, requests answered once their batch
//! is back, the metrics the observations feed, and VRRP tracking.

use super::plan_tests::{write_config, write_ping_config};
use super::sim::{load, Sim};
use super::state::StateDoc;
use super::{Effect, Input};
use crate::control::proto::{Request, Response};
use crate::daemon::kernel::FakeKernel;
use crate::ipvs::Op;

/// A configuration of `n` nodes in a temp dir, and a kernel that already has its table.
fn converged(n: u8) -> (tempfile::TempDir, FakeKernel) {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), n, "", "");
    let kernel = kernel_of(dir.path());
    (dir, kernel)
}

/// A kernel with the all-healthy table of the configuration in `dir`.
fn kernel_of(dir: &std::path::Path) -> FakeKernel {
    let cfg = load(dir);
    FakeKernel {
        table: crate::director::plan::all_healthy_table(&cfg).unwrap(),
        ..FakeKernel::default()
    }
}

fn sim(dir: &std::path::Path, kernel: FakeKernel) -> Sim {
    let mut s = Sim::start(load(dir), StateDoc::default(), kernel);
    s.config_dir = Some(dir.to_path_buf());
    s
}

/// Exactly one operation: `addr` removed from the table.
fn only_removed(ops: &[Op], addr: &str) -> bool {
    matches!(ops, [Op::DelDest { addr: a, .. }] if a.to_string() == addr)
}

fn status(s: &mut Sim) -> crate::control::proto::StatusView {
    match s.request(Request::Status) {
        Response::Status(v) => v,
        other => panic!("{other:?}"),
    }
}

fn node_state(s: &mut Sim, node: &str) -> String {
    let Response::Nodes { nodes } = s.request(Request::Nodes) else {
        panic!("nodes view")
    };
    nodes
        .iter()
        .find(|n| n.name == node)
        .map(|n| n.state.clone())
        .unwrap_or_default()
}

fn drain(node: &str) -> Request {
    Request::Drain {
        node: node.into(),
        service: None,
    }
}

#[test]
fn restart_over_a_converged_table_sends_nothing() {
    let (dir, kernel) = converged(5);
    // First start without a state file: everything in the kernel is adopted.
    let mut s = sim(dir.path(), kernel);
    assert_eq!((s.batches, s.kernel.mutating), (0, 0));
    assert!(!s.persisted.is_empty(), "the state is written at start");
    s.stop();
    // Second start with the state file it wrote.
    let mut s = s.restart();
    assert_eq!(s.batches, 0);
    assert!(s.ops().is_empty());
}

#[test]
fn cold_start_adds_servers_only_after_their_checks_pass() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 3, "", "");
    let mut s = sim(dir.path(), FakeKernel::default());
    assert!(matches!(s.ops().as_slice(), [Op::AddService(_)]));
    s.checks("web", &[("n1", false), ("n2", true)]);
    let ops = s.ops();
    assert!(
        matches!(ops.as_slice(), [Op::AddDest { dest, .. }] if dest.addr.to_string() == "198.51.100.12"),
        "{ops:?}"
    );
}

#[test]
fn a_crash_before_the_table_was_written_is_repaired_and_nothing_healthy_removed() {
    let (dir, kernel) = converged(4);
    let mut s = sim(dir.path(), kernel);
    s.stop();
    // As after a reboot (or a kill in the middle of a big apply): half of it is missing.
    let svc = s.kernel.table.services.values_mut().next().unwrap();
    let keys: Vec<_> = svc.dests.keys().copied().take(2).collect();
    for key in keys {
        svc.dests.remove(&key);
    }
    let mut s = s.restart();
    let ops = s.ops();
    assert_eq!(ops.len(), 2);
    assert!(
        ops.iter().all(|o| matches!(o, Op::AddDest { .. })),
        "{ops:?}"
    );
    assert_eq!(s.kernel.table.dest_count(), 4);
}

#[test]
fn drift_is_repaired_on_the_drift_timer_and_foreign_services_are_left_alone() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    let foreign = crate::ipvs::Service::new(
        crate::ipvs::ServiceKey::Addr {
            protocol: crate::ipvs::Protocol::Tcp,
            addr: "203.0.113.1".parse().unwrap(),
            port: 8080,
        },
        "wlc",
    );
    s.kernel.table.services.clear();
    s.kernel.table.insert_service(foreign.clone());
    // Nothing happens before the drift timer (reconcile_interval, 10 s by default).
    s.advance(9_000);
    assert_eq!(s.dumps, 0);
    s.advance(1_000);
    assert_eq!((s.dumps, s.d.counters.drift_passes), (1, 1));
    assert_eq!(s.ops().len(), 4, "service + 3 real servers");
    assert!(s.kernel.table.services.contains_key(&foreign.key));
    assert_eq!(s.kernel.table.dest_count(), 3);
    let repairs: Vec<&str> = s
        .messages()
        .into_iter()
        .filter(|m| m.contains("; drift repair)"))
        .collect();
    assert_eq!(repairs.len(), 4, "{repairs:?}");
    // The next one 10 s later.
    s.advance(10_000);
    assert_eq!(s.dumps, 2);
    assert!(s.ops().is_empty());
}

#[test]
fn reload_keeps_the_old_configuration_when_invalid_and_sends_only_the_difference() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    let web = dir.path().join("services/web.yaml");
    let good = std::fs::read_to_string(&web).unwrap();
    std::fs::write(&web, good.replace("scheduler: rr", "scheduler: nosuch")).unwrap();
    let r = s.request(Request::Reload);
    let Response::Error { message, .. } = r else {
        panic!("{r:?}")
    };
    assert!(message.contains("web.yaml:2:"), "{message}");
    assert!(s.ops().is_empty());
    assert_eq!(s.d.config().services[0].scheduler.name(), "rr");
    assert!(s
        .messages()
        .iter()
        .any(|m| m.starts_with("reload rejected, the running configuration stays")));
    std::fs::write(&web, good.replace("scheduler: rr", "scheduler: wlc")).unwrap();
    let r = s.request(Request::Reload);
    let Response::Done { message } = r else {
        panic!("{r:?}")
    };
    assert!(message.ends_with("; 1 operation(s) sent"), "{message}");
    let ops = s.ops();
    assert!(
        matches!(ops.as_slice(), [Op::EditService(svc)] if svc.scheduler == "wlc"),
        "{ops:?}"
    );
    // The watch is unchanged: not restarted.
    assert!(!s
        .effects
        .iter()
        .any(|e| matches!(e, Effect::StopWatch { .. })));
}

#[test]
fn operator_overrides_apply_at_once_and_survive_a_restart() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    let r = s.request(drain("n1"));
    assert_eq!(
        r,
        Response::Done {
            message: "drain n1: 1 operation(s) sent".into()
        }
    );
    assert!(matches!(s.ops().as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 0));
    let r = s.request(Request::Disable {
        node: "n9".into(),
        service: None,
    });
    assert!(matches!(r, Response::Error { .. }), "{r:?}");
    s.request(Request::Maintenance {
        node: "n2".into(),
        on: true,
    });
    assert!(matches!(s.ops().as_slice(), [Op::DelDest { .. }]));
    // A crash: no stop, but admin changes were written at once.
    let mut s = s.restart();
    assert_eq!(s.batches, 0, "overrides restored: nothing to change");
    let Response::Nodes { nodes } = s.request(Request::Nodes) else {
        panic!("nodes view")
    };
    let admin = |n: &str| nodes.iter().find(|x| x.name == n).unwrap().admin.clone();
    assert_eq!(
        (admin("n1"), admin("n2")),
        ("drain".into(), "maintenance".into())
    );
    s.request(Request::Enable {
        node: "n1".into(),
        service: None,
    });
    assert!(matches!(s.ops().as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 1));
    // Maintenance off: every watch of the node checks it again at once.
    s.request(Request::Maintenance {
        node: "n2".into(),
        on: false,
    });
    assert!(s.cadences.iter().any(|(w, n, c)| n == "n2"
        && *w == crate::monitor::WatchId::Service("web".into())
        && *c == crate::node::Cadence::Now));
    let Response::Events { events } = s.request(Request::Events {
        since: None,
        limit: None,
        follow: false,
    }) else {
        panic!("events view")
    };
    assert!(events.iter().any(|e| e.message == "operator: enable n1"));
}

#[test]
fn a_failing_check_removes_its_server_with_the_plans_reason() {
    let (dir, kernel) = converged(4);
    let mut s = sim(dir.path(), kernel);
    s.check("web", "n3", false);
    assert!(only_removed(&s.ops(), "198.51.100.13"));
    let rs = status(&mut s).services[0].real_servers[2].clone();
    assert_eq!((rs.weight, rs.health.as_str()), (None, "down"));
    assert_eq!(rs.node_state, "failed");
    assert_eq!(rs.why, "web check fails on n3: connection refused");
    let removal = s
        .records
        .iter()
        .find(|r| r.message.starts_with("-d "))
        .unwrap();
    assert!(
        removal
            .message
            .ends_with("(web check fails on n3: connection refused; health change)"),
        "{}",
        removal.message
    );
    assert_eq!(removal.node.as_deref(), Some("n3"));
    s.check("web", "n3", true);
    assert!(matches!(s.ops().as_slice(), [Op::AddDest { .. }]));
}

#[test]
fn one_batch_is_in_flight_and_what_was_asked_meanwhile_follows_it() {
    let (dir, kernel) = converged(4);
    let mut s = sim(dir.path(), kernel);
    s.auto_kernel = false;
    s.check("web", "n1", false);
    assert_eq!(s.kernel_queue.len(), 1, "one batch out");
    // More failures and a drain while it is out: no second batch yet, no answer yet.
    s.check("web", "n2", false);
    let answer = s.ask(drain("n3"));
    assert!(answer.is_none(), "answered before its batch: {answer:?}");
    assert_eq!(s.kernel_queue.len(), 1);
    assert!(s.d.applying());
    // The first comes back: the second goes out with everything asked meanwhile.
    s.release_kernel();
    let ops = s.ops();
    assert_eq!(ops.len(), 3, "n1 out, then n2 out and n3 weight 0: {ops:?}");
    let last = s.replies.values().last().cloned();
    assert_eq!(
        last,
        Some(Response::Done {
            message: "drain n3: 2 operation(s) sent".into()
        })
    );
    assert!(!s.d.applying());
}

#[test]
fn the_state_is_written_before_a_table_change_and_at_most_once_a_second_otherwise() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    let writes = s.persisted.len();
    // A removal within the first second after start-up's own write: written first anyway.
    s.advance(100);
    s.check("web", "n1", false);
    let i_persist = s
        .effects
        .iter()
        .rposition(|e| matches!(e, Effect::Persist(_)))
        .unwrap();
    let i_apply = s
        .effects
        .iter()
        .rposition(|e| matches!(e, Effect::Apply(_)))
        .unwrap();
    assert!(i_persist < i_apply, "state before the table");
    assert_eq!(s.persisted.len(), writes + 1);
    let down = &s.persisted.last().unwrap().health["web"]["n1"];
    assert!(!down.up);
    // A health change that changes nothing in the table (rise 1: the first pass of a node
    // already passing does not count) waits for the gap.
    s.check("web", "n1", true);
    let writes = s.persisted.len();
    assert!(writes >= 2);
}

#[test]
fn a_stop_writes_what_is_pending_and_nothing_when_the_file_is_current() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    s.advance(1_500);
    s.check("web", "n1", false);
    s.advance(1_500);
    let writes = s.persisted.len();
    // Nothing changed since the last write (a big table's state takes seconds to write in a
    // debug build under emulation: a stop does not write it again).
    s.stop();
    assert_eq!(s.persisted.len(), writes);
    // A change within the gap that moves nothing in the table (n3 is in maintenance, out of
    // it already) is written at the stop, at once.
    let mut s = s.restart();
    s.advance(1_500);
    s.request(Request::Maintenance {
        node: "n3".into(),
        on: true,
    });
    let writes = s.persisted.len();
    s.check("web", "n3", false);
    assert_eq!(s.persisted.len(), writes, "within the gap: not yet");
    s.stop();
    assert_eq!(s.persisted.len(), writes + 1);
    assert!(!s.persisted.last().unwrap().health["web"]["n3"].up);
    assert!(!s.persisted.last().unwrap().health["web"]["n1"].up);
}

#[test]
fn a_crash_right_after_a_check_driven_removal_keeps_the_node_down() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    s.check("web", "n1", false);
    assert!(only_removed(&s.ops(), "198.51.100.11"));
    // kill -9: no stop, the last state file is the one written before the removal.
    let mut s = s.restart();
    assert_eq!(s.batches, 0);
    let n1 = status(&mut s).services[0].real_servers[0].clone();
    assert_eq!((n1.node.as_str(), n1.weight), ("n1", None));
    assert_eq!(n1.health, "down");
}

#[test]
fn the_first_status_after_a_drain_sees_live_connection_counts() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    let active = |s: &mut Sim| {
        status(s).services[0]
            .real_servers
            .iter()
            .find(|r| r.node == "n1")
            .map(|r| r.active_conns)
    };
    assert_eq!(active(&mut s), Some(0));
    assert_eq!(s.dumps, 0, "counters of the start-up dump, fresh");
    // A connection opens just before the drain, within the counters' one-second reuse.
    let n1 = "198.51.100.11".parse().unwrap();
    s.kernel.conns.insert((n1, 80), (1, 0));
    s.advance(500);
    assert_eq!(active(&mut s), Some(0), "counters reused within a second");
    s.request(drain("n1"));
    assert_eq!(
        active(&mut s),
        Some(1),
        "a drain must not trust old counters"
    );
    assert_eq!(s.dumps, 1);
    // Later a status reads them again once they are a second old.
    s.advance(1_000);
    s.kernel.conns.insert((n1, 80), (0, 1));
    assert_eq!(active(&mut s), Some(0));
    assert_eq!(s.dumps, 2);
}

#[test]
fn statuses_that_come_while_a_dump_is_out_share_it() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    s.advance(1_500);
    s.auto_kernel = false;
    let ids: Vec<u64> = (0..3).map(|i| 100 + i).collect();
    for (i, id) in ids.iter().enumerate() {
        let request = if i == 1 {
            Request::Services
        } else {
            Request::Status
        };
        s.feed(Input::Request { id: *id, request });
    }
    assert_eq!(s.kernel_queue.len(), 1, "one dump for all of them");
    assert!(
        ids.iter().all(|id| !s.replies.contains_key(id)),
        "they wait for it"
    );
    let n1 = "198.51.100.11".parse().unwrap();
    s.kernel.conns.insert((n1, 80), (7, 0));
    s.release_kernel();
    let active = |r: &Response| match r {
        Response::Status(v) => v.services[0].real_servers[0].active_conns,
        Response::Services { services } => services[0].real_servers[0].active_conns,
        other => panic!("{other:?}"),
    };
    let got: Vec<u32> = ids.iter().map(|id| active(&s.replies[id])).collect();
    assert_eq!(got, vec![7, 7, 7]);
    assert_eq!(s.replies[&100], s.replies[&102], "the same answer");
}

#[test]
fn a_silent_node_goes_offline_then_back_online_when_ping_and_checks_pass() {
    let (dir, _) = converged(3);
    write_ping_config(dir.path(), 3, "ping: {interval: 2s, fall: 2}\n");
    let kernel = kernel_of(dir.path());
    let mut s = sim(dir.path(), kernel);
    // Adopted nodes count as answering: online before their first ping.
    assert_eq!(node_state(&mut s, "n2"), "online");
    s.ping("web_nodes", "n2", false);
    assert!(s.ops().is_empty(), "fall 2: one lost ping is not an outage");
    assert_eq!(node_state(&mut s, "n2"), "online");
    s.ping("web_nodes", "n2", false);
    assert!(only_removed(&s.ops(), "198.51.100.12"));
    assert_eq!(node_state(&mut s, "n2"), "offline");
    let rs = status(&mut s).services[0].real_servers[1].clone();
    assert_eq!((rs.weight, rs.node_state.as_str()), (None, "offline"));
    assert_eq!(rs.health, "offline");
    assert_eq!(rs.why, "ping silent on n2: no echo reply");
    // An offline node's service results wait for its ping (as the classic scripts).
    s.check("web", "n2", true);
    assert!(s.ops().is_empty());
    // Ping answers: online, its services are checked again before it is added.
    s.ping("web_nodes", "n2", true);
    assert_eq!(node_state(&mut s, "n2"), "online");
    assert!(s.ops().is_empty(), "not added before its check passes");
    assert!(s.cadences.iter().any(|(w, n, c)| n == "n2"
        && *w == crate::monitor::WatchId::Service("web".into())
        && *c == crate::node::Cadence::Now));
    s.check("web", "n2", true);
    assert!(
        matches!(s.ops().as_slice(), [Op::AddDest { dest, .. }] if dest.addr.to_string() == "198.51.100.12")
    );
    let text = s.messages();
    assert!(
        text.iter()
            .any(|m| m.contains("n2: online → offline (ping silent on n2")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("n2: offline → online (ping answers on n2)")),
        "{text:?}"
    );
}

#[test]
fn an_offline_node_stays_offline_across_a_restart_until_it_answers() {
    let (dir, _) = converged(2);
    write_ping_config(dir.path(), 2, "ping: {interval: 2s, fall: 1}\n");
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    s.ping("web_nodes", "n1", false);
    assert_eq!(s.ops().len(), 1);
    s.stop();
    // The kernel no longer has n1: it is not adopted, and nothing is sent for it at start.
    let mut s = s.restart();
    assert_eq!(s.batches, 0);
    assert_eq!(node_state(&mut s, "n1"), "offline");
    s.ping("web_nodes", "n1", true);
    s.check("web", "n1", true);
    assert!(matches!(s.ops().as_slice(), [Op::AddDest { .. }]));
}

#[test]
fn restart_with_ping_watches_over_a_converged_table_sends_nothing() {
    let (dir, _) = converged(4);
    write_ping_config(dir.path(), 4, "ping: {interval: 2s}\n");
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    assert_eq!(s.batches, 0);
    s.stop();
    let mut s = s.restart();
    assert_eq!(s.batches, 0);
    assert!(s.ops().is_empty());
    // Watches: the service's and the hostgroup's ping, by typed id.
    let ids: Vec<String> = s.watches.iter().map(|w| format!("{w:?}")).collect();
    assert_eq!(ids, [r#"Service("web")"#, r#"Ping("web_nodes")"#]);
}

#[test]
fn cold_start_with_ping_waits_for_the_ping_then_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    write_ping_config(dir.path(), 2, "");
    let mut s = sim(dir.path(), FakeKernel::default());
    assert!(matches!(s.ops().as_slice(), [Op::AddService(_)]));
    // Not pinged yet: not known (no mass-removal guard), and its checks wait.
    assert_eq!(
        s.d.plan().members[&("web".into(), "n1".into())].weight,
        None
    );
    s.check("web", "n1", true);
    assert!(s.ops().is_empty());
    s.ping("web_nodes", "n1", true);
    s.check("web", "n1", true);
    assert!(matches!(s.ops().as_slice(), [Op::AddDest { .. }]));
}

#[test]
fn a_node_in_two_services_is_pinged_once_and_leaves_both() {
    let (dir, _) = converged(2);
    write_ping_config(dir.path(), 2, "ping: {fall: 1}\n");
    std::fs::write(
        dir.path().join("services/web2.yaml"),
        "virtual: {address: 192.0.2.10, port: 8080}\nscheduler: rr\nhostgroup: web_nodes\n\
         watch:\n  monitor: tcp\n  interval: 2s\n",
    )
    .unwrap();
    let cfg = load(dir.path());
    let pings = super::watches::ping_watches(&cfg);
    assert_eq!(pings.len(), 1);
    let (spec, targets) = &pings[&crate::monitor::WatchId::Ping("web_nodes".into())];
    assert_eq!(targets.len(), 2, "each node once");
    assert_eq!(spec.interval, std::time::Duration::from_secs(5));
    assert_eq!(spec.timeout, std::time::Duration::from_secs(1));
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    assert_eq!(s.batches, 0);
    s.ping("web_nodes", "n1", false);
    let ops = s.ops();
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops
        .iter()
        .all(|op| matches!(op, Op::DelDest { addr, .. } if addr.to_string() == "198.51.100.11")));
    // One ping alert for the node, not one per service.
    let alerts = s
        .messages()
        .iter()
        .filter(|m| m.starts_with("alert ping on n1"))
        .count();
    assert_eq!(alerts, 1);
}

#[test]
fn ping_alerts_come_from_the_hostgroups_ping_block() {
    let dir = tempfile::tempdir().unwrap();
    write_ping_config(
        dir.path(),
        2,
        "ping:\n  fall: 1\n  alert: [node_down.alert ops, log]\n  upalert: [node_up.alert]\n  numalerts: 2\n  alert_timeout: 5s\n",
    );
    let cfg = load(dir.path());
    let nodes = super::watches::node_configs(&cfg);
    assert!(nodes.values().all(|n| n.ping_numalerts == 2));
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    s.ping("web_nodes", "n2", false);
    let run = s
        .alerts
        .last()
        .expect("the ping watch's alerts run")
        .clone();
    assert_eq!(run.alerts.len(), 2);
    assert!(
        matches!(&run.alerts[0], crate::monitor::AlertSpec::Script { path, args, .. }
            if path.ends_with("node_down.alert") && args == &["ops".to_string()]),
        "{:?}",
        run.alerts
    );
    assert!(matches!(run.alerts[1], crate::monitor::AlertSpec::Log));
    assert_eq!(
        (run.call.node.as_str(), run.call.address.as_str()),
        ("n2", "198.51.100.12")
    );
    assert_eq!(run.call.watch, "ping");
    assert_eq!(run.timeout, std::time::Duration::from_secs(5));
    // In maintenance: silent.
    s.request(Request::Maintenance {
        node: "n1".into(),
        on: true,
    });
    let before = s.alerts.len();
    s.ping("web_nodes", "n1", false);
    assert_eq!(s.alerts.len(), before);
}

#[test]
fn the_mass_removal_guard_holds_alerts_and_lets_go_with_the_checks_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        4,
        "mass_removal_guard: 50%\n",
        "  alert: [guard.alert ops]\n",
    );
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    let metrics = crate::metrics::Metrics::new("dir1");
    s.metrics = Some(metrics.clone());
    // 3 of 4 fail: 2 may leave, the third is held.
    s.checks("web", &[("n1", false), ("n2", false), ("n3", false)]);
    assert_eq!(s.ops().len(), 2);
    let held = s.d.plan().services["web"].guard_held.clone();
    assert_eq!(held, vec!["n3"]);
    let gauge = |m: &crate::metrics::Metrics| {
        m.encode()
            .lines()
            .find(|l| l.starts_with("lbd_mass_removal_guard_held{service=\"web\"}"))
            .map(str::to_string)
    };
    assert_eq!(
        gauge(&metrics).as_deref(),
        Some("lbd_mass_removal_guard_held{service=\"web\"} 1")
    );
    let run = s.alerts.last().unwrap().clone();
    assert_eq!(
        (run.call.node.as_str(), run.call.address.as_str()),
        ("n3", "198.51.100.13")
    );
    assert!(run
        .call
        .summary
        .starts_with("mass-removal guard: web keeps 1"));
    // One of the others passes again: the guard lets go of the held one, which leaves now,
    // in a pass caused by another node's report, with its own check's reason.
    s.check("web", "n1", true);
    assert_eq!(s.ops().len(), 2, "one back in, the held one out");
    let removal = s
        .records
        .iter()
        .rev()
        .find(|e| e.message.starts_with("-d ") && e.node.as_deref() == Some("n3"))
        .expect("the held one's removal");
    assert!(
        removal.message.contains("web check fails on n3"),
        "{}",
        removal.message
    );
    // The checks recover: the gauge drops to 0.
    s.checks("web", &[("n2", true), ("n3", true)]);
    assert_eq!(
        gauge(&metrics).as_deref(),
        Some("lbd_mass_removal_guard_held{service=\"web\"} 0")
    );
}

#[test]
fn the_metrics_follow_the_observations() {
    let (dir, kernel) = converged(3);
    let mut s = sim(dir.path(), kernel);
    let metrics = crate::metrics::Metrics::new("dir1");
    s.metrics = Some(metrics.clone());
    let series = |name: &str, node: &str| -> String {
        let prefix = format!("lbd_real_server_{name}{{service=\"web\",node=\"{node}\"}} ");
        metrics
            .encode()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .unwrap_or_default()
    };
    // A failing check: down (2), out of the table.
    s.check("web", "n1", false);
    // Drained: passing and in the table, weight 0, admin drain (1).
    s.request(drain("n2"));
    // Disabled: out, admin disabled (2).
    s.request(Request::Disable {
        node: "n3".into(),
        service: Some("web".into()),
    });
    let got = |node| ["health", "weight", "admin", "in_table"].map(|name| series(name, node));
    assert_eq!(got("n1"), ["2", "0", "0", "0"]);
    assert_eq!(got("n2"), ["1", "0", "1", "1"]);
    assert_eq!(got("n3"), ["1", "0", "2", "0"]);
    let text = metrics.encode();
    assert!(
        text.contains("lbd_node_transitions_total{from=\"online\",to=\"failed\"} 1"),
        "{text}"
    );
    // A reload that removes a node (n3, disabled: nothing to delete): its series go.
    s.ops();
    write_config(dir.path(), 2, "", "");
    s.reload();
    assert!(s.ops().is_empty());
    let text = metrics.encode();
    assert!(!text.contains("node=\"n3\""), "{text}");
    assert!(
        text.contains("lbd_real_server_in_table{service=\"web\",node=\"n2\"} 1"),
        "{text}"
    );
}

#[test]
fn a_reload_that_renames_a_service_forgets_its_series_and_restarts_its_watch() {
    let (dir, kernel) = converged(2);
    let mut s = sim(dir.path(), kernel);
    let metrics = crate::metrics::Metrics::new("dir1");
    s.metrics = Some(metrics.clone());
    s.check("web", "n1", false);
    std::fs::rename(
        dir.path().join("services/web.yaml"),
        dir.path().join("services/www.yaml"),
    )
    .unwrap();
    s.reload();
    let text = metrics.encode();
    assert!(!text.contains("service=\"web\""), "{text}");
    let web = crate::monitor::WatchId::Service("web".into());
    let www = crate::monitor::WatchId::Service("www".into());
    assert!(!s.watches.contains(&web) && s.watches.contains(&www));
    // Same key, new name: n1's unknown health under `www` keeps it out until it passes.
    assert!(s.ops().is_empty() || s.kernel.table.dest_count() <= 2);
}

#[test]
fn vrrp_role_changes_are_history_and_a_carried_service_without_servers_is_tracked() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        2,
        "vrrp:\n  - {name: vi_51, interface: eth0, vrid: 51, priority: 150, vips: [192.0.2.10/24]}\n",
        "",
    );
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    assert_eq!(s.tracks, vec![("web".to_string(), true)]);
    s.checks("web", &[("n1", false), ("n2", false)]);
    assert_eq!(s.tracks.last(), Some(&("web".to_string(), false)));
    let view = |state: &str| crate::control::proto::VrrpView {
        instance: "vi_51".into(),
        interface: "eth0".into(),
        vrid: 51,
        state: state.into(),
        priority: 150,
        effective_priority: 90,
        vips: vec!["192.0.2.10/24".into()],
        drops: Default::default(),
        sync_group: None,
    };
    s.feed(Input::Vrrp {
        views: vec![view("master")],
    });
    s.feed(Input::Vrrp {
        views: vec![view("backup")],
    });
    let msgs = s.messages();
    assert!(
        msgs.contains(&"vi_51: initialize → master (priority 90)"),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"vi_51: master → backup (priority 90)"),
        "{msgs:?}"
    );
    assert_eq!(status(&mut s).vrrp[0].state, "backup");
    // A failover goes to the instances and comes back as an admin record.
    let r = s.request(Request::Failover {
        instance: None,
        clear: false,
    });
    assert!(matches!(r, Response::Done { .. }), "{r:?}");
    assert!(s
        .messages()
        .iter()
        .any(|m| m.starts_with("operator: failover: vi_51")));
}

#[test]
fn a_kernel_refusal_is_logged_and_retried_by_the_next_pass() {
    let (dir, kernel) = converged(2);
    let mut s = sim(dir.path(), kernel);
    s.auto_kernel = false;
    s.check("web", "n1", false);
    let Some(Effect::Apply(b)) = s.kernel_queue.pop_front() else {
        panic!("a batch")
    };
    s.feed(Input::Applied {
        id: b.id,
        refused: vec![super::Refused {
            index: 0,
            error: "real server does not exist".into(),
        }],
        unsent: None,
        error: None,
    });
    // Not in the mirror as done: the next pass (here the drift pass's) sends it again.
    s.auto_kernel = true;
    assert!(
        s.messages().iter().all(|m| !m.starts_with("-d ")),
        "no record of it"
    );
    s.advance(10_000);
    let ops = s.ops();
    assert!(only_removed(&ops, "198.51.100.11"), "{ops:?}");
}

#[test]
fn a_recorded_stream_replays_to_the_same_effects() {
    let (dir, kernel) = converged(3);
    let mut buf = Vec::new();
    {
        let mut rec = super::replay::Recorder::new(&mut buf);
        let cfg = load(dir.path());
        let mut k = kernel.clone();
        let dump = crate::daemon::kernel::Kernel::dump(&mut k).unwrap();
        let start = super::Start {
            config: cfg,
            state: StateDoc::default(),
            history: Vec::new(),
            history_seq: 0,
            dump,
        };
        let now = super::Now {
            mono: 0,
            unix: super::sim::EPOCH,
        };
        let (mut d, effects) = super::Director::new(now, start.clone());
        rec.start(now, &start, &effects).unwrap();
        let mut feed = |d: &mut super::Director, at: u64, input: Input| {
            let now = now.after(at);
            rec.input(now, &input).unwrap();
            let effects = d.handle(now, input);
            rec.effects(&effects).unwrap();
            effects
        };
        let report = |node: &str, ok: bool| crate::monitor::CheckReport {
            watch: crate::monitor::WatchId::Service("web".into()),
            node: node.into(),
            outcome: if ok {
                Ok(Default::default())
            } else {
                Err(crate::monitor::CheckError::Refused)
            },
            started: 0,
            duration_ms: 2,
        };
        let effects = feed(
            &mut d,
            100,
            Input::Checks {
                reports: vec![report("n1", false)],
            },
        );
        let id = effects
            .iter()
            .find_map(|e| match e {
                Effect::Apply(b) => Some(b.id),
                _ => None,
            })
            .unwrap();
        feed(
            &mut d,
            110,
            Input::Applied {
                id,
                refused: vec![],
                unsent: None,
                error: None,
            },
        );
        feed(
            &mut d,
            200,
            Input::Request {
                id: 1,
                request: Request::Nodes,
            },
        );
        feed(&mut d, 10_000, Input::Tick);
    }
    let (d, done) = super::replay::replay(&buf[..]).unwrap();
    assert_eq!(done.inputs, 4);
    assert!(done.effects > 10, "{done:?}");
    assert_eq!(d.plan().members[&("web".into(), "n1".into())].weight, None);
    // A trace whose effects differ is caught, with the line and the two effects.
    let text = String::from_utf8(buf).unwrap();
    let tampered = text.replacen("n1: online → failed", "n1: online → offline", 1);
    let err = super::replay::replay(tampered.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("differs"), "{err}");
}

#[test]
fn a_failure_confirmed_by_a_ping_says_which_check_failed() {
    let (dir, _) = converged(2);
    write_ping_config(dir.path(), 2, "ping: {interval: 2s}\n");
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    s.check("web", "n1", false);
    // The machine asks one ping to tell failed from offline: it answers.
    s.ping("web_nodes", "n1", true);
    assert_eq!(node_state(&mut s, "n1"), "failed");
    let text = s.messages();
    assert!(
        text.contains(
            &"n1: online → failed (web check fails on n1: connection refused; ping answers)"
        ),
        "{text:?}"
    );
}

#[test]
fn a_reload_that_changes_no_service_says_so_plainly() {
    let (dir, kernel) = converged(2);
    let mut s = sim(dir.path(), kernel);
    let Response::Done { message } = s.request(Request::Reload) else {
        panic!("reload")
    };
    assert!(
        message.starts_with("reloaded: no service changed, 0 watch(es) restarted"),
        "{message}"
    );
}

/// What one pass costs at 1,000 services × 50 real servers (a figure, not a test:
/// `cargo test --lib -- --ignored --nocapture a_pass_over_a_big_table`).
#[test]
#[ignore]
fn a_pass_over_a_big_table() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 50, "mass_removal_guard: 100%\n", "");
    let web = std::fs::read_to_string(dir.path().join("services/web.yaml")).unwrap();
    for i in 1..1000 {
        std::fs::write(
            dir.path().join(format!("services/s{i:04}.yaml")),
            web.replace("port: 80", &format!("port: {}", 10000 + i)),
        )
        .unwrap();
    }
    let t0 = std::time::Instant::now();
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    eprintln!("start over 1,000 x 50: {:?}", t0.elapsed());
    let t0 = std::time::Instant::now();
    for i in 0..10 {
        s.check("web", "n1", i % 2 == 1);
    }
    eprintln!("one pass: {:?}", t0.elapsed() / 10);
    let t0 = std::time::Instant::now();
    s.stop();
    eprintln!("stop (the state document): {:?}", t0.elapsed());
}

#[test]
fn an_http_agent_asks_its_path_and_a_tcp_agent_connects() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 1, "", "");
    for (monitor, want) in [
        (
            "{type: agent, port: 3333, protocol: http, path: /load}",
            (crate::monitor::spec::AgentProtocol::Http, "/load"),
        ),
        (
            "{type: agent, port: 3333}",
            (crate::monitor::spec::AgentProtocol::Tcp, "/"),
        ),
    ] {
        std::fs::write(
            dir.path().join("services/web.yaml"),
            format!(
                "virtual: {{address: 192.0.2.10, port: 80}}\nhostgroup: web_nodes\n\
                 watch: {{monitor: {monitor}}}\n"
            ),
        )
        .unwrap();
        let cfg = load(dir.path());
        let (spec, _) = super::watches::watch_of(&cfg, &cfg.services[0]);
        let crate::monitor::CheckSpec::Agent(a) = spec.monitor else {
            panic!("an agent: {:?}", spec.monitor)
        };
        assert_eq!(
            (a.port, a.protocol, a.path.as_str()),
            (3333, want.0, want.1)
        );
    }
}

#[test]
fn monitors_and_alerts_with_user_run_as_that_user() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 1, "", "");
    std::fs::write(
        dir.path().join("services/web.yaml"),
        "virtual: {address: 192.0.2.10, port: 80}\nhostgroup: web_nodes\nwatch:\n  \
         monitor: {external: http.monitor, args: [-p, '80'], user: nobody}\n  \
         alert: [{script: mail.alert, args: [root], user: nobody}, page.alert ops]\n",
    )
    .unwrap();
    let cfg = load(dir.path());
    let (spec, _) = super::watches::watch_of(&cfg, &cfg.services[0]);
    let crate::monitor::CheckSpec::External(e) = &spec.monitor else {
        panic!("external: {:?}", spec.monitor)
    };
    assert_eq!(
        (e.monitor.as_str(), e.user.as_deref()),
        ("http.monitor", Some("nobody"))
    );
    let users: Vec<(String, Option<&str>)> = spec
        .alert
        .iter()
        .map(|a| match a {
            crate::monitor::AlertSpec::Script { path, user, .. } => {
                (path.display().to_string(), user.as_deref())
            }
            crate::monitor::AlertSpec::Log => ("log".into(), None),
            crate::monitor::AlertSpec::Mail { .. } => ("mail".into(), None),
        })
        .collect();
    assert!(users[0].0.ends_with("mail.alert") && users[0].1 == Some("nobody"));
    assert!(users[1].0.ends_with("page.alert") && users[1].1.is_none());
}

#[test]
fn a_dynamic_misc_check_sets_the_weight_and_a_restart_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 2, "", "");
    std::fs::write(
        dir.path().join("services/web.yaml"),
        "virtual: {address: 192.0.2.10, port: 80}\nhostgroup: web_nodes\nwatch:\n  \
         monitor: {type: misc, path: /usr/local/bin/check-web, args: ['{address}'], dynamic: true}\n",
    )
    .unwrap();
    let mut s = sim(dir.path(), kernel_of(dir.path()));
    let report = |node: &str, weight| crate::monitor::CheckReport {
        watch: crate::monitor::WatchId::Service("web".into()),
        node: node.into(),
        outcome: Ok(crate::monitor::Pass {
            weight,
            ..Default::default()
        }),
        started: 0,
        duration_ms: 1,
    };
    s.feed(Input::Checks {
        reports: vec![report("n1", Some(10)), report("n2", None)],
    });
    let ops = s.ops();
    assert!(
        matches!(ops.as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 10 && dest.addr.to_string() == "198.51.100.11"),
        "{ops:?}"
    );
    // Exit 2: weight 0, still in the table (quiesced).
    s.feed(Input::Checks {
        reports: vec![report("n1", Some(0))],
    });
    let ops = s.ops();
    assert!(
        matches!(ops.as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 0),
        "{ops:?}"
    );
    s.feed(Input::Checks {
        reports: vec![report("n1", Some(7))],
    });
    s.ops();
    s.stop();
    // The state file keeps the reported weight: a restart sends nothing.
    let mut s = s.restart();
    assert_eq!(s.batches, 0);
    assert!(s.ops().is_empty());
    assert_eq!(
        s.d.plan().members[&("web".to_string(), "n1".to_string())].weight,
        Some(7)
    );
}
