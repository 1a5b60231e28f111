//! The daemon against a fake IPVS table (fast; the kernel tests in `tests/kernel/daemon.rs` do
//! the same against the real one): adoption and restore at start, drift repair, reload,
//! operator overrides that survive a restart, and the event loop driven through the control
//! channel.

use super::desired_tests::write_config;
use super::event_loop::{control_channel, Daemon, Options};
use super::kernel::{FakeKernel, Kernel};
use crate::control::proto::{Request, Response};
use crate::ipvs::{ApplyReport, IpvsError, Op, ServiceEntry};
use crate::monitor::{CheckError, CheckReport, Pass};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<FakeKernel>>);

impl Kernel for Shared {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        self.0.lock().unwrap().dump()
    }
    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        self.0.lock().unwrap().apply(ops)
    }
    fn mutating(&self) -> u64 {
        self.0.lock().unwrap().mutating
    }
}

impl Shared {
    fn ops(&self) -> Vec<Op> {
        std::mem::take(&mut self.0.lock().unwrap().log)
    }
    fn dest_count(&self) -> usize {
        self.0.lock().unwrap().table.dest_count()
    }
}

fn start(dir: &Path, state: &Path, kernel: &Shared) -> Daemon {
    let (tx, _) = tokio::sync::broadcast::channel(16);
    Daemon::start(
        Options {
            config_dir: dir.to_path_buf(),
            state_dir: Some(state.to_path_buf()),
            run_checks: false,
        },
        Box::new(kernel.clone()),
        tx,
    )
    .unwrap_or_else(|e| panic!("start: {e}"))
}

fn report(d: &mut Daemon, node: &str, pass: bool) {
    d.on_report(CheckReport {
        group: "web_nodes".into(),
        service: "web".into(),
        node: node.into(),
        outcome: if pass {
            Ok(Pass::default())
        } else {
            Err(CheckError::Refused)
        },
        started: 0,
        duration_ms: 1,
    });
}

/// The kernel saw exactly one operation: `addr` removed from the table.
fn assert_only_removed(kernel: &Shared, addr: &str) {
    let ops = kernel.ops();
    assert!(
        matches!(ops.as_slice(), [Op::DelDest { addr: a, .. }] if a.to_string() == addr),
        "{ops:?}"
    );
}

fn converged(n: u8) -> (tempfile::TempDir, tempfile::TempDir, Shared) {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_config(dir.path(), n, "", "");
    let cfg = crate::config::load(dir.path()).unwrap().config;
    let kernel = Shared::default();
    kernel.0.lock().unwrap().table = crate::cli::apply::desired_from_config(&cfg).unwrap();
    (dir, state, kernel)
}

#[test]
fn restart_over_a_converged_table_sends_nothing() {
    let (dir, state, kernel) = converged(5);
    // First start without a state file: everything in the kernel is adopted.
    let d = start(dir.path(), state.path(), &kernel);
    assert_eq!(d.first_pass.ops, 0);
    assert_eq!(d.mutating_ops(), 0);
    drop(d);
    // Second start with the state file it wrote.
    let d = start(dir.path(), state.path(), &kernel);
    assert_eq!(d.first_pass.ops, 0);
    assert!(kernel.ops().is_empty());
    assert!(state.path().join("state.json").exists());
}

#[test]
fn cold_start_adds_servers_only_after_their_checks_pass() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_config(dir.path(), 3, "", "");
    let kernel = Shared::default();
    let mut d = start(dir.path(), state.path(), &kernel);
    assert!(matches!(kernel.ops().as_slice(), [Op::AddService(_)]));
    report(&mut d, "n1", false);
    report(&mut d, "n2", true);
    d.reconcile("test");
    let ops = kernel.ops();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(
        matches!(&ops[0], Op::AddDest { dest, .. } if dest.addr.to_string() == "198.51.100.12")
    );
}

#[test]
fn a_crash_before_the_table_was_written_is_repaired_and_nothing_healthy_removed() {
    let (dir, state, kernel) = converged(4);
    drop(start(dir.path(), state.path(), &kernel));
    // As after a reboot (or a kill in the middle of a big apply): half of it is missing.
    {
        let mut k = kernel.0.lock().unwrap();
        let svc = k.table.services.values_mut().next().unwrap();
        let keys: Vec<_> = svc.dests.keys().copied().take(2).collect();
        for key in keys {
            svc.dests.remove(&key);
        }
    }
    let d = start(dir.path(), state.path(), &kernel);
    let ops = kernel.ops();
    assert_eq!(d.first_pass.ops, 2);
    assert!(
        ops.iter().all(|o| matches!(o, Op::AddDest { .. })),
        "{ops:?}"
    );
    assert_eq!(kernel.dest_count(), 4);
}

#[test]
fn drift_is_repaired_and_foreign_services_are_left_alone() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    let foreign = crate::ipvs::Service::new(
        crate::ipvs::ServiceKey::Addr {
            protocol: crate::ipvs::Protocol::Tcp,
            addr: "203.0.113.1".parse().unwrap(),
            port: 8080,
        },
        "wlc",
    );
    {
        let mut k = kernel.0.lock().unwrap();
        k.table.services.clear();
        k.table.insert_service(foreign.clone());
    }
    let r = d.drift_pass();
    assert_eq!(r.ops, 4, "service + 3 real servers");
    let k = kernel.0.lock().unwrap();
    assert!(k.table.services.contains_key(&foreign.key));
    assert_eq!(k.table.dest_count(), 3);
}

#[test]
fn reload_keeps_the_old_configuration_when_invalid_and_sends_only_the_difference() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    let web = dir.path().join("services/web.yaml");
    let good = std::fs::read_to_string(&web).unwrap();
    std::fs::write(&web, good.replace("scheduler: rr", "scheduler: nosuch")).unwrap();
    let err = d.reload().unwrap_err().to_string();
    assert!(err.contains("web.yaml:2:"), "{err}");
    assert!(kernel.ops().is_empty());
    assert_eq!(d.config().services[0].scheduler.name(), "rr");
    std::fs::write(&web, good.replace("scheduler: rr", "scheduler: wlc")).unwrap();
    d.reload().unwrap();
    let ops = kernel.ops();
    assert!(
        matches!(ops.as_slice(), [Op::EditService(s)] if s.scheduler == "wlc"),
        "{ops:?}"
    );
}

#[test]
fn operator_overrides_apply_at_once_and_survive_a_restart() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    let r = d.request(Request::Drain {
        node: "n1".into(),
        service: None,
    });
    assert!(matches!(r, Response::Done { .. }), "{r:?}");
    assert!(matches!(kernel.ops().as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 0));
    let r = d.request(Request::Disable {
        node: "n9".into(),
        service: None,
    });
    assert!(matches!(r, Response::Error { .. }), "{r:?}");
    d.request(Request::Maintenance {
        node: "n2".into(),
        on: true,
    });
    assert!(matches!(kernel.ops().as_slice(), [Op::DelDest { .. }]));
    drop(d);
    let mut d = start(dir.path(), state.path(), &kernel);
    assert_eq!(d.first_pass.ops, 0, "overrides restored: nothing to change");
    let Response::Nodes { nodes } = d.request(Request::Nodes) else {
        panic!("nodes view")
    };
    let n1 = nodes.iter().find(|n| n.name == "n1").unwrap();
    assert_eq!(n1.admin, "drain");
    let n2 = nodes.iter().find(|n| n.name == "n2").unwrap();
    assert_eq!(n2.admin, "maintenance");
    d.request(Request::Enable {
        node: "n1".into(),
        service: None,
    });
    assert!(matches!(kernel.ops().as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 1));
    let Response::Events { events } = d.request(Request::Events {
        since: None,
        limit: None,
        follow: false,
    }) else {
        panic!("events view")
    };
    assert!(events.iter().any(|e| e.message.contains("drain n1")));
}

#[test]
fn a_failing_check_removes_its_server_with_a_logged_reason() {
    let (dir, state, kernel) = converged(4);
    let mut d = start(dir.path(), state.path(), &kernel);
    report(&mut d, "n3", false);
    d.reconcile("test");
    assert_only_removed(&kernel, "198.51.100.13");
    let Response::Status(s) = d.request(Request::Status) else {
        panic!("status view")
    };
    let rs = &s.services[0].real_servers[2];
    assert_eq!(rs.weight, None);
    assert_eq!(rs.health, "down");
    assert_eq!(rs.node_state, "failed");
    report(&mut d, "n3", true);
    d.reconcile("test");
    assert!(matches!(kernel.ops().as_slice(), [Op::AddDest { .. }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_answers_control_requests_and_stops_without_touching_the_table() {
    let (dir, state, kernel) = converged(2);
    let (handle, inbox) = control_channel();
    let d = Daemon::start(
        Options {
            config_dir: dir.path().to_path_buf(),
            state_dir: Some(state.path().to_path_buf()),
            run_checks: false,
        },
        Box::new(kernel.clone()),
        handle.events.clone(),
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let signals = super::Signals::new().unwrap();
    let task = tokio::spawn(d.run(inbox, signals, async {
        let _ = stop_rx.await;
    }));
    let mut follow = handle.events.subscribe();
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle
        .requests
        .send((
            Request::Drain {
                node: "n2".into(),
                service: Some("web".into()),
            },
            tx,
        ))
        .await
        .unwrap();
    assert!(matches!(rx.await.unwrap(), Response::Done { .. }));
    let ev = follow.recv().await.unwrap();
    assert!(ev.message.contains("drain n2"), "{ev:?}");
    let before = kernel.dest_count();
    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(kernel.dest_count(), before, "the table stays on exit");
}

#[test]
fn the_loop_records_metrics() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    let metrics = crate::metrics::Metrics::new("dir1");
    d.set_metrics(metrics.clone());
    report(&mut d, "n1", false);
    d.reconcile("test");
    let text = metrics.encode();
    for want in [
        "lbd_node_transitions_total{from=\"online\",to=\"failed\"} 1",
        "lbd_netlink_operations_total{op=\"del_dest\"} 1",
        "lbd_real_server_in_table{service=\"web\",node=\"n1\"} 0",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
}

#[test]
fn real_server_health_weight_and_admin_are_metrics() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    let metrics = crate::metrics::Metrics::new("dir1");
    d.set_metrics(metrics.clone());
    let series = |text: &str, name: &str, node: &str| -> Option<String> {
        let prefix = format!("lbd_real_server_{name}{{service=\"web\",node=\"{node}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    };
    // Adopted at start: passing (1), weight 1, enabled (0).
    let text = metrics.encode();
    for node in ["n1", "n2", "n3"] {
        assert_eq!(
            series(&text, "health", node).as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            series(&text, "weight", node).as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(series(&text, "admin", node).as_deref(), Some("0"), "{text}");
    }
    // A failing check: down (2), out of the table (weight 0).
    report(&mut d, "n1", false);
    d.reconcile("test");
    // Drained: still passing and in the table, weight 0, admin drain (1).
    let r = d.request(Request::Drain {
        node: "n2".into(),
        service: None,
    });
    assert!(matches!(r, Response::Done { .. }), "{r:?}");
    // Disabled: out, admin disabled (2).
    d.request(Request::Disable {
        node: "n3".into(),
        service: Some("web".into()),
    });
    let text = metrics.encode();
    let got = |name, node| series(&text, name, node).unwrap_or_default();
    assert_eq!(
        [
            got("health", "n1"),
            got("weight", "n1"),
            got("admin", "n1"),
            got("in_table", "n1")
        ],
        ["2", "0", "0", "0"],
        "{text}"
    );
    assert_eq!(
        [
            got("health", "n2"),
            got("weight", "n2"),
            got("admin", "n2"),
            got("in_table", "n2")
        ],
        ["1", "0", "1", "1"],
        "{text}"
    );
    assert_eq!(
        [
            got("health", "n3"),
            got("weight", "n3"),
            got("admin", "n3"),
            got("in_table", "n3")
        ],
        ["1", "0", "2", "0"],
        "{text}"
    );
    // Back: enabled, weight 1 again.
    d.request(Request::Enable {
        node: "n2".into(),
        service: None,
    });
    let text = metrics.encode();
    assert_eq!(
        series(&text, "weight", "n2").as_deref(),
        Some("1"),
        "{text}"
    );
    assert_eq!(series(&text, "admin", "n2").as_deref(), Some("0"), "{text}");
}

#[test]
fn a_reload_that_removes_a_node_removes_its_series() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    let metrics = crate::metrics::Metrics::new("dir1");
    d.set_metrics(metrics.clone());
    let n3 = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("node=\"n3\""))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(n3(&metrics.encode()).len(), 5, "{}", metrics.encode());
    write_config(dir.path(), 2, "", "");
    d.reload().unwrap();
    assert!(
        matches!(kernel.ops().as_slice(), [Op::DelDest { .. }]),
        "{:?}",
        kernel.ops()
    );
    // Gone from the configuration: no series says anything about it any more.
    assert_eq!(n3(&metrics.encode()), Vec::<String>::new());
    // The others are still there.
    assert!(metrics.encode().contains("lbd_node_state{node=\"n2\"} 1"));
}

#[test]
fn a_reload_that_removes_a_service_removes_its_series() {
    let (dir, state, kernel) = converged(2);
    let mut d = start(dir.path(), state.path(), &kernel);
    let metrics = crate::metrics::Metrics::new("dir1");
    d.set_metrics(metrics.clone());
    report(&mut d, "n1", true);
    metrics.missed_intervals("web").inc();
    let web = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("service=\"web\""))
            .map(str::to_string)
            .collect()
    };
    let before = web(&metrics.encode());
    for family in [
        "lbd_checks_total",
        "lbd_check_latency_seconds",
        "lbd_check_intervals_missed_total",
        "lbd_mass_removal_guard_held",
        "lbd_real_server_in_table",
    ] {
        assert!(
            before.iter().any(|l| l.starts_with(family)),
            "{family}: {before:?}"
        );
    }
    // The same virtual service under another name: `web` leaves the configuration.
    std::fs::rename(
        dir.path().join("services/web.yaml"),
        dir.path().join("services/www.yaml"),
    )
    .unwrap();
    d.reload().unwrap();
    assert_eq!(web(&metrics.encode()), Vec::<String>::new());
    // Its checks count again from zero if it comes back.
    std::fs::rename(
        dir.path().join("services/www.yaml"),
        dir.path().join("services/web.yaml"),
    )
    .unwrap();
    d.reload().unwrap();
    report(&mut d, "n1", true);
    let text = metrics.encode();
    assert!(
        text.contains("lbd_checks_total{service=\"web\",result=\"ok\"} 1"),
        "{text}"
    );
}

fn ping(d: &mut Daemon, node: &str, alive: bool) {
    d.on_report(CheckReport {
        group: "web_nodes".into(),
        service: "ping:web_nodes".into(),
        node: node.into(),
        outcome: if alive {
            Ok(Pass::default())
        } else {
            Err(CheckError::NoEchoReply)
        },
        started: 0,
        duration_ms: 1,
    });
}

fn node_state(d: &mut Daemon, node: &str) -> String {
    let Response::Nodes { nodes } = d.request(Request::Nodes) else {
        panic!("nodes view")
    };
    nodes
        .iter()
        .find(|n| n.name == node)
        .map(|n| n.state.clone())
        .unwrap_or_default()
}

/// A converged table and a configuration whose hostgroup pings with `ping`.
fn converged_pinged(n: u8, ping: &str) -> (tempfile::TempDir, tempfile::TempDir, Shared) {
    let (dir, state, kernel) = converged(n);
    super::desired_tests::write_ping_config(dir.path(), n, ping);
    (dir, state, kernel)
}

#[test]
fn restart_with_ping_watches_over_a_converged_table_sends_nothing() {
    let (dir, state, kernel) = converged_pinged(4, "ping: {interval: 2s}\n");
    let mut d = start(dir.path(), state.path(), &kernel);
    assert_eq!(d.first_pass.ops, 0);
    // Adopted nodes count as answering: online before their first ping.
    assert_eq!(node_state(&mut d, "n2"), "online");
    drop(d);
    let d = start(dir.path(), state.path(), &kernel);
    assert_eq!(d.first_pass.ops, 0);
    assert!(kernel.ops().is_empty());
}

#[test]
fn a_silent_node_goes_offline_then_back_online_when_ping_and_checks_pass() {
    let (dir, state, kernel) = converged_pinged(3, "ping: {interval: 2s, fall: 2}\n");
    let mut d = start(dir.path(), state.path(), &kernel);
    ping(&mut d, "n2", false);
    d.reconcile("test");
    assert!(
        kernel.ops().is_empty(),
        "fall 2: one lost ping is not an outage"
    );
    assert_eq!(node_state(&mut d, "n2"), "online");
    ping(&mut d, "n2", false);
    d.reconcile("test");
    assert_only_removed(&kernel, "198.51.100.12");
    assert_eq!(node_state(&mut d, "n2"), "offline");
    let Response::Status(s) = d.request(Request::Status) else {
        panic!("status view")
    };
    let rs = &s.services[0].real_servers[1];
    assert_eq!((rs.weight, rs.node_state.as_str()), (None, "offline"));
    assert_eq!(rs.health, "offline");
    assert_eq!(rs.why, "node offline: ping silent");
    // An offline node's service results wait for its ping (as the classic scripts).
    report(&mut d, "n2", true);
    d.reconcile("test");
    assert!(kernel.ops().is_empty());
    // Ping answers: online, its services are checked again before it is added.
    ping(&mut d, "n2", true);
    d.reconcile("test");
    assert_eq!(node_state(&mut d, "n2"), "online");
    assert!(kernel.ops().is_empty(), "not added before its check passes");
    report(&mut d, "n2", true);
    d.reconcile("test");
    assert!(
        matches!(kernel.ops().as_slice(), [Op::AddDest { dest, .. }] if dest.addr.to_string() == "198.51.100.12")
    );
    // The history tells the story.
    let Response::Events { events } = d.request(Request::Events {
        since: None,
        limit: None,
        follow: false,
    }) else {
        panic!("events view")
    };
    let text: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
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
    let (dir, state, kernel) = converged_pinged(2, "ping: {interval: 2s, fall: 1}\n");
    let mut d = start(dir.path(), state.path(), &kernel);
    ping(&mut d, "n1", false);
    d.reconcile("test");
    assert_eq!(kernel.ops().len(), 1);
    d.persist(true); // as on SIGTERM
    drop(d);
    // The kernel no longer has n1: it is not adopted, and nothing is sent for it at start.
    let mut d = start(dir.path(), state.path(), &kernel);
    let ops = kernel.ops();
    assert_eq!(d.first_pass.ops, 0, "{ops:?}");
    assert_eq!(node_state(&mut d, "n1"), "offline");
    ping(&mut d, "n1", true);
    report(&mut d, "n1", true);
    d.reconcile("test");
    assert!(matches!(kernel.ops().as_slice(), [Op::AddDest { .. }]));
}

#[test]
fn cold_start_with_ping_waits_for_the_ping_then_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    super::desired_tests::write_ping_config(dir.path(), 2, "");
    let kernel = Shared::default();
    let mut d = start(dir.path(), state.path(), &kernel);
    assert!(matches!(kernel.ops().as_slice(), [Op::AddService(_)]));
    // Not pinged yet: not known (no mass-removal guard), and its checks wait.
    assert_eq!(d.plan().members[&("web".into(), "n1".into())].weight, None);
    report(&mut d, "n1", true);
    d.reconcile("test");
    assert!(kernel.ops().is_empty());
    ping(&mut d, "n1", true);
    report(&mut d, "n1", true);
    d.reconcile("test");
    assert!(matches!(kernel.ops().as_slice(), [Op::AddDest { .. }]));
}

#[test]
fn a_node_in_two_services_is_pinged_once_and_leaves_both() {
    let (dir, state, kernel) = converged_pinged(2, "ping: {fall: 1}\n");
    std::fs::write(
        dir.path().join("services/web2.yaml"),
        "virtual: {address: 192.0.2.10, port: 8080}\nscheduler: rr\nhostgroup: web_nodes\n\
         watch:\n  monitor: tcp\n  interval: 2s\n",
    )
    .unwrap();
    let cfg = crate::config::load(dir.path()).unwrap().config;
    kernel.0.lock().unwrap().table = crate::cli::apply::desired_from_config(&cfg).unwrap();
    let pings = super::watches::ping_watches(&cfg);
    assert_eq!(pings.len(), 1);
    let (spec, targets) = &pings["ping:web_nodes"];
    assert_eq!(targets.len(), 2, "each node once");
    assert_eq!(spec.interval, std::time::Duration::from_secs(5));
    assert_eq!(spec.timeout, std::time::Duration::from_secs(1));
    let mut d = start(dir.path(), state.path(), &kernel);
    assert_eq!(d.first_pass.ops, 0);
    ping(&mut d, "n1", false);
    d.reconcile("test");
    let ops = kernel.ops();
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops
        .iter()
        .all(|op| matches!(op, Op::DelDest { addr, .. } if addr.to_string() == "198.51.100.11")));
    // One ping alert for the node, not one per service.
    let Response::Events { events } = d.request(Request::Events {
        since: None,
        limit: None,
        follow: false,
    }) else {
        panic!("events view")
    };
    let alerts = events
        .iter()
        .filter(|e| e.message.starts_with("alert ping on n1"))
        .count();
    assert_eq!(alerts, 1);
}

#[test]
fn the_first_status_after_a_drain_sees_live_connection_counts() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    let active = |d: &mut Daemon, node: &str| match d.request(Request::Status) {
        Response::Status(s) => s.services[0]
            .real_servers
            .iter()
            .find(|r| r.node == node)
            .map(|r| r.active_conns),
        other => panic!("{other:?}"),
    };
    assert_eq!(active(&mut d, "n1"), Some(0));
    // A connection opens just before the drain, within the counters' one-second reuse.
    let n1 = "198.51.100.11".parse().unwrap();
    let port = d
        .mirror()
        .services
        .values()
        .next()
        .unwrap()
        .service
        .key
        .port();
    kernel.0.lock().unwrap().conns.insert((n1, port), (1, 0));
    assert_eq!(
        active(&mut d, "n1"),
        Some(0),
        "counters are reused within a second"
    );
    let done = d.request(Request::Drain {
        node: "n1".into(),
        service: None,
    });
    assert!(matches!(done, Response::Done { .. }), "{done:?}");
    assert_eq!(
        active(&mut d, "n1"),
        Some(1),
        "a drain must not trust old counters"
    );
}

#[test]
fn ping_alerts_come_from_the_hostgroups_ping_block() {
    let (dir, _state, _kernel) = converged_pinged(
        2,
        "ping:\n  fall: 1\n  alert: [node_down.alert ops, log]\n  upalert: [node_up.alert]\n  numalerts: 2\n  alert_timeout: 5s\n",
    );
    let cfg = crate::config::load(dir.path()).unwrap().config;
    let pings = super::watches::ping_watches(&cfg);
    let (spec, _) = &pings["ping:web_nodes"];
    assert_eq!(spec.alert.len(), 2);
    assert!(
        matches!(&spec.alert[0], crate::monitor::AlertSpec::Script { path, args, .. }
            if path.ends_with("node_down.alert") && args == &["ops".to_string()]),
        "{:?}",
        spec.alert
    );
    assert!(matches!(spec.alert[1], crate::monitor::AlertSpec::Log));
    assert_eq!(spec.upalert.len(), 1);
    assert_eq!(spec.alert_timeout, std::time::Duration::from_secs(5));
    let nodes = super::watches::node_configs(&cfg);
    assert!(nodes.values().all(|n| n.ping_numalerts == 2));
}

#[test]
fn a_crash_right_after_a_check_driven_removal_keeps_the_node_down() {
    let (dir, state, kernel) = converged(3);
    let mut d = start(dir.path(), state.path(), &kernel);
    // Within the first second after start-up's own write: the state file is rate-limited for
    // health changes, but not before a table change.
    report(&mut d, "n1", false);
    d.reconcile("test");
    assert_only_removed(&kernel, "198.51.100.11");
    // kill -9: no shutdown write.
    std::mem::forget(d);
    let mut d = start(dir.path(), state.path(), &kernel);
    let ops = kernel.ops();
    assert_eq!(d.first_pass.ops, 0, "{ops:?}");
    let Response::Status(s) = d.request(Request::Status) else {
        panic!("status view")
    };
    let n1 = &s.services[0].real_servers[0];
    assert_eq!((n1.node.as_str(), n1.weight), ("n1", None));
    assert_eq!(n1.health, "down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mass_removal_guard_alerts_and_sets_its_gauge() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let alerts = tempfile::tempdir().unwrap();
    let fired = alerts.path().join("fired");
    let script = alerts.path().join("guard.alert");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$* | $LBD_NODE | $LBD_NODE_ADDRESS | $(cat)\" >> {}\n",
            fired.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    write_config(
        dir.path(),
        4,
        &format!(
            "mass_removal_guard: 50%\nalert_dir: {}\n",
            alerts.path().display()
        ),
        "  alert: [guard.alert ops]\n",
    );
    let cfg = crate::config::load(dir.path()).unwrap().config;
    let kernel = Shared::default();
    kernel.0.lock().unwrap().table = crate::cli::apply::desired_from_config(&cfg).unwrap();
    let mut d = start(dir.path(), state.path(), &kernel);
    let metrics = crate::metrics::Metrics::new("dir1");
    d.set_metrics(metrics.clone());
    let gauge = |m: &crate::metrics::Metrics| {
        m.encode()
            .lines()
            .find(|l| l.starts_with("lbd_mass_removal_guard_held{service=\"web\"}"))
            .map(str::to_string)
    };
    assert_eq!(
        gauge(&metrics).as_deref(),
        Some("lbd_mass_removal_guard_held{service=\"web\"} 0")
    );
    // 3 of 4 fail: 2 may leave, n3 is held.
    for n in ["n1", "n2", "n3"] {
        report(&mut d, n, false);
    }
    d.reconcile("test");
    assert_eq!(kernel.ops().len(), 2);
    assert_eq!(
        gauge(&metrics).as_deref(),
        Some("lbd_mass_removal_guard_held{service=\"web\"} 1")
    );
    let t0 = std::time::Instant::now();
    let line = loop {
        let text = std::fs::read_to_string(&fired).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains("mass-removal guard")) {
            break l.to_string();
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(10),
            "no guard alert: {text:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        line.starts_with("-s web -g web_nodes -h n3 -t ")
            && line.contains(" ops | n3 | 198.51.100.13 | mass-removal guard: web keeps 1"),
        "{line}"
    );
    // The checks recover: the guard lets go, the gauge drops to 0.
    for n in ["n1", "n2", "n3"] {
        report(&mut d, n, true);
    }
    d.reconcile("test");
    assert_eq!(
        gauge(&metrics).as_deref(),
        Some("lbd_mass_removal_guard_held{service=\"web\"} 0")
    );
}

/// What the chunked-apply test saw, in order: `apply N` and `pet`.
static CHUNK_EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Recording(Shared);

impl Kernel for Recording {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        self.0.dump()
    }
    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        CHUNK_EVENTS
            .lock()
            .unwrap()
            .push(format!("apply {}", ops.len()));
        self.0.apply(ops)
    }
    fn mutating(&self) -> u64 {
        self.0.mutating()
    }
}

#[test]
fn a_large_repair_is_applied_in_chunks_with_the_watchdog_petted_between() {
    let (dir, state, kernel) = converged(200);
    for i in 2..=11 {
        std::fs::write(
            dir.path().join(format!("services/web{i}.yaml")),
            format!(
                "virtual: {{address: 192.0.2.10, port: {}}}\nscheduler: rr\nhostgroup: web_nodes\n\
                 watch:\n  monitor: tcp\n  interval: 2s\n",
                8000 + i
            ),
        )
        .unwrap();
    }
    let cfg = crate::config::load(dir.path()).unwrap().config;
    kernel.0.lock().unwrap().table = crate::cli::apply::desired_from_config(&cfg).unwrap();
    let (tx, _) = tokio::sync::broadcast::channel(16);
    let mut d = Daemon::start(
        Options {
            config_dir: dir.path().to_path_buf(),
            state_dir: Some(state.path().to_path_buf()),
            run_checks: false,
        },
        Box::new(Recording(kernel.clone())),
        tx,
    )
    .unwrap();
    assert_eq!(d.first_pass.ops, 0);
    d.between_chunks = || CHUNK_EVENTS.lock().unwrap().push("pet".into());
    // The table is flushed by hand: 11 services and 2,200 real servers to put back.
    kernel.0.lock().unwrap().table = Default::default();
    kernel.ops();
    let r = d.drift_pass();
    assert_eq!((r.ops, r.failed), (11 + 11 * 200, 0));
    assert_eq!(kernel.dest_count(), 11 * 200);
    let want = [
        format!("apply {}", super::event_loop::APPLY_CHUNK),
        "pet".to_string(),
        format!("apply {}", 11 + 11 * 200 - super::event_loop::APPLY_CHUNK),
    ];
    assert_eq!(CHUNK_EVENTS.lock().unwrap().as_slice(), want.as_slice());
}

#[test]
fn a_server_the_guard_let_go_leaves_with_its_checks_reason() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_config(dir.path(), 4, "mass_removal_guard: 50%\n", "");
    let cfg = crate::config::load(dir.path()).unwrap().config;
    let kernel = Shared::default();
    kernel.0.lock().unwrap().table = crate::cli::apply::desired_from_config(&cfg).unwrap();
    let mut d = start(dir.path(), state.path(), &kernel);
    // 3 of 4 fail: 2 leave, the guard holds the third.
    for n in ["n1", "n2", "n3"] {
        report(&mut d, n, false);
    }
    d.reconcile("test");
    assert_eq!(kernel.ops().len(), 2);
    let held = d.plan().services["web"].guard_held.clone();
    assert_eq!(held.len(), 1);
    // One of the others passes again: the guard lets go of the held one, which leaves now,
    // in a pass caused by another node's report.
    let back = ["n1", "n2", "n3"]
        .into_iter()
        .find(|n| *n != held[0])
        .unwrap();
    report(&mut d, back, true);
    d.reconcile("health change");
    assert_eq!(kernel.ops().len(), 2, "one back in, the held one out");
    let Response::Events { events } = d.request(Request::Events {
        since: None,
        limit: None,
        follow: false,
    }) else {
        panic!("events view")
    };
    let want = format!("web check fails on {}", held[0]);
    let removal = events
        .iter()
        .rev()
        .find(|e| e.message.starts_with("-d ") && e.node.as_deref() == Some(held[0].as_str()))
        .unwrap_or_else(|| panic!("no removal of {}: {events:?}", held[0]));
    assert!(removal.message.contains(&want), "{}", removal.message);
}
