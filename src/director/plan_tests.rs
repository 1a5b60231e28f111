//! Table-driven tests of the plan and the health it reads: quorum and sorry server, the
//! mass-removal guard, drain/disable/maintenance, agent weights, and reload carry-over of node
//! health.

use super::admin::{Mode, Overrides};
use super::health::{Health, LastCheck, Pair};
use super::plan::{all_healthy, desired, Check, HealthSource};
use super::watches::node_configs;
use crate::config::Config;
use crate::node::NodeState;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A configuration directory written to a temp dir and loaded: one service `web` (VIP:80,
/// `extra` appended to its YAML) over `n` nodes n1..nN at 198.51.100.11.. . The hostgroup has
/// `ping: false` (these tests are about service checks; [`write_ping_config`] pings).
pub(crate) fn config(n: u8, director_extra: &str, service_extra: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), n, director_extra, service_extra);
    crate::config::load(dir.path())
        .unwrap_or_else(|e| panic!("test configuration: {e}"))
        .config
}

pub(crate) fn write_config(
    dir: &std::path::Path,
    n: u8,
    director_extra: &str,
    service_extra: &str,
) {
    std::fs::create_dir_all(dir.join("hostgroups")).unwrap();
    std::fs::create_dir_all(dir.join("services")).unwrap();
    std::fs::write(
        dir.join("director.yaml"),
        format!("name: dir1\n{director_extra}"),
    )
    .unwrap();
    write_hostgroup(dir, n, "ping: false\n");
    std::fs::write(
        dir.join("services/web.yaml"),
        format!(
            "virtual: {{address: 192.0.2.10, port: 80}}\nscheduler: rr\nhostgroup: web_nodes\n\
             watch:\n  monitor: tcp\n  interval: 2s\n{service_extra}"
        ),
    )
    .unwrap();
}

/// [`write_config`] with the hostgroup's `ping` block `ping` (e.g. `"ping: {fall: 1}\n"`).
pub(crate) fn write_ping_config(dir: &std::path::Path, n: u8, ping: &str) {
    write_config(dir, n, "", "");
    write_hostgroup(dir, n, ping);
}

fn write_hostgroup(dir: &std::path::Path, n: u8, extra: &str) {
    let mut nodes = format!("{extra}nodes:\n");
    for i in 1..=n {
        nodes.push_str(&format!(
            "  - name: n{i}\n    address: 198.51.100.{}\n",
            10 + i
        ));
    }
    std::fs::write(dir.join("hostgroups/web_nodes.yaml"), nodes).unwrap();
}

fn pair(n: u8) -> Pair {
    ("web".to_string(), format!("n{n}"))
}

fn health(cfg: &Config, down: &[u8], unknown: &[u8]) -> BTreeMap<Pair, (Check, u32)> {
    let mut h = all_healthy(cfg);
    for &n in down {
        h.get_mut(&pair(n)).unwrap().0 = Check::Down;
    }
    for &n in unknown {
        h.get_mut(&pair(n)).unwrap().0 = Check::Unknown;
    }
    h
}

fn last(ok: bool, summary: &str) -> LastCheck {
    LastCheck {
        ok,
        summary: summary.into(),
        latency_ms: 1,
        at_ms: 0,
    }
}

/// The check of a pair as the plan sees it.
fn check_of(h: &Health, p: &Pair) -> Check {
    h.pair(&p.0, &p.1).map_or(Check::Unknown, |x| x.check)
}

/// The real servers of `web` in the plan's table: (last octet, weight).
fn dests(plan: &super::plan::Plan) -> Vec<(u8, i32)> {
    let svc = plan.table.services.values().next().expect("one service");
    svc.dests
        .values()
        .map(|d| match d.addr {
            IpAddr::V4(a) => (a.octets()[3], d.weight),
            IpAddr::V6(_) => (0, d.weight),
        })
        .collect()
}

#[test]
fn healthy_nodes_are_in_failing_and_unknown_ones_are_out() {
    let cfg = config(4, "", "");
    let none = BTreeMap::new();
    let plan = desired(
        &cfg,
        &health(&cfg, &[2], &[3]),
        &Overrides::default(),
        &none,
    );
    assert_eq!(dests(&plan), vec![(11, 1), (14, 1)]);
    assert_eq!(plan.services["web"].healthy, 2);
    assert!(plan.members[&pair(2)].why.contains("fails"));
    assert!(plan.members[&pair(3)].why.contains("not passed yet"));
}

#[test]
fn quorum_adds_and_removes_the_sorry_server() {
    let cfg = config(
        3,
        "",
        "quorum: 2\nsorry_server:\n  address: 198.51.100.99\n  weight: 5\n",
    );
    let none = BTreeMap::new();
    let admin = Overrides::default();
    // 2 of 3 up: quorum met, no sorry server.
    let plan = desired(&cfg, &health(&cfg, &[1], &[]), &admin, &none);
    assert!(!plan.services["web"].sorry_active);
    assert_eq!(dests(&plan), vec![(12, 1), (13, 1)]);
    // 1 of 3 up: below quorum, the sorry server comes in next to the one left.
    let plan = desired(&cfg, &health(&cfg, &[1, 2], &[]), &admin, &none);
    assert!(plan.services["web"].sorry_active);
    assert_eq!(dests(&plan), vec![(13, 1), (99, 5)]);
    // A drained server does not count towards quorum.
    let mut drained = Overrides::default();
    drained.set("n3", None, Mode::Drain);
    let plan = desired(&cfg, &health(&cfg, &[1], &[]), &drained, &none);
    assert!(plan.services["web"].sorry_active);
    assert_eq!(dests(&plan), vec![(12, 1), (13, 0), (99, 5)]);
    // Quorum back: the sorry server leaves.
    let plan = desired(&cfg, &health(&cfg, &[], &[]), &admin, &none);
    assert!(!plan.services["web"].sorry_active);
    assert_eq!(dests(&plan).len(), 3);
}

#[test]
fn the_guard_keeps_failing_servers_beyond_its_share_in() {
    // 10 nodes, guard 30%: at most 3 may be out for failing checks.
    let cfg = config(10, "mass_removal_guard: 30%\n", "");
    let admin = Overrides::default();
    let all_in = desired(&cfg, &health(&cfg, &[], &[]), &admin, &BTreeMap::new()).in_table();
    assert_eq!(all_in.len(), 10);
    // 6 fail at once: 3 leave, 3 are held with their weight.
    let plan = desired(
        &cfg,
        &health(&cfg, &[1, 2, 3, 4, 5, 6], &[]),
        &admin,
        &all_in,
    );
    assert_eq!(plan.services["web"].guard_held, vec!["n4", "n5", "n6"]);
    assert_eq!(dests(&plan).len(), 7);
    assert!(plan.members[&pair(5)].why.contains("mass-removal guard"));
    assert_eq!(plan.services["web"].healthy, 4);
    // Next pass, one more fails: still only 3 out; the held ones stay held.
    let prev = plan.in_table();
    let plan = desired(
        &cfg,
        &health(&cfg, &[1, 2, 3, 4, 5, 6, 7], &[]),
        &admin,
        &prev,
    );
    assert_eq!(dests(&plan).len(), 7);
    assert_eq!(plan.services["web"].guard_held.len(), 4);
    // The checks recover: nothing is held, everything passing is in.
    let plan = desired(&cfg, &health(&cfg, &[1], &[]), &admin, &plan.in_table());
    assert!(plan.services["web"].guard_held.is_empty());
    assert_eq!(dests(&plan).len(), 9);
}

#[test]
fn the_guard_does_not_count_operator_removals_and_never_adds() {
    let cfg = config(4, "mass_removal_guard: 50%\n", "");
    let mut admin = Overrides::default();
    admin.set("n1", None, Mode::Disabled);
    admin.set_maintenance("n2", true);
    let all_in = desired(
        &cfg,
        &health(&cfg, &[], &[]),
        &Overrides::default(),
        &BTreeMap::new(),
    )
    .in_table();
    // The operator takes out two of four: not the guard's business.
    let plan = desired(&cfg, &health(&cfg, &[], &[]), &admin, &all_in);
    assert_eq!(dests(&plan), vec![(13, 1), (14, 1)]);
    assert!(plan.services["web"].guard_held.is_empty());
    // Of the two eligible, one may fail (50%), the second is held.
    let plan = desired(&cfg, &health(&cfg, &[3, 4], &[]), &admin, &plan.in_table());
    assert_eq!(plan.services["web"].guard_held, vec!["n4"]);
    assert_eq!(dests(&plan), vec![(14, 1)]);
    // Cold start with every check failing: nothing to hold, nothing added.
    let plan = desired(
        &cfg,
        &health(&cfg, &[1, 2, 3, 4], &[]),
        &Overrides::default(),
        &BTreeMap::new(),
    );
    assert!(dests(&plan).is_empty());
}

#[test]
fn drain_keeps_weight_zero_disable_and_maintenance_take_out() {
    let cfg = config(4, "", "");
    let mut admin = Overrides::default();
    admin.set("n1", None, Mode::Drain);
    admin.set("n2", Some("web"), Mode::Disabled);
    admin.set_maintenance("n3", true);
    let plan = desired(&cfg, &health(&cfg, &[], &[]), &admin, &BTreeMap::new());
    assert_eq!(dests(&plan), vec![(11, 0), (14, 1)]);
    assert_eq!(plan.members[&pair(3)].why, "node in maintenance");
    // A drained node whose check fails is out.
    let plan = desired(&cfg, &health(&cfg, &[1], &[]), &admin, &BTreeMap::new());
    assert_eq!(dests(&plan), vec![(14, 1)]);
}

#[test]
fn agent_weights_reach_the_table() {
    let cfg = config(2, "", "");
    let mut h = health(&cfg, &[], &[]);
    h.get_mut(&pair(2)).unwrap().1 = 37;
    let plan = desired(&cfg, &h, &Overrides::default(), &BTreeMap::new());
    assert_eq!(dests(&plan), vec![(11, 1), (12, 37)]);
}

#[test]
fn machines_turn_reports_into_health_with_agent_load() {
    let cfg = config(2, "", "  rise: 2\n");
    let mut nodes = Health::new(node_configs(&cfg), 0, 0);
    assert_eq!(check_of(&nodes, &pair(1)), Check::Unknown);
    nodes.check(10, &pair(1), true, (Some(25), None), last(true, ""));
    assert_eq!(check_of(&nodes, &pair(1)), Check::Unknown, "rise 2");
    nodes.check(20, &pair(1), true, (Some(25), None), last(true, ""));
    let h = nodes.pair("web", "n1").unwrap();
    assert_eq!(h.check, Check::Up);
    // Node weight 1 at load 25 rounds down to 0; the load is remembered for the state file.
    assert_eq!(h.weight, 0);
    assert_eq!(nodes.known()[&pair(1)].load, Some(25));
    nodes.check(30, &pair(2), false, (None, None), last(false, "refused"));
    let h = nodes.pair("web", "n2").unwrap();
    assert_eq!((h.check, h.failure), (Check::Down, Some("refused")));
}

#[test]
fn a_report_says_what_it_changed() {
    let cfg = config(2, "", "");
    let mut nodes = Health::new(node_configs(&cfg), 0, 0);
    let before = nodes.state("n1");
    let r = nodes.check(1, &pair(1), true, (None, None), last(true, ""));
    assert!(r.changed, "unknown -> up");
    let r = nodes.check(2, &pair(1), true, (None, None), last(true, ""));
    assert!(
        !r.changed && r.node.is_none() && r.actions.is_empty(),
        "{r:?}"
    );
    assert_eq!(nodes.state("n1"), before);
    let r = nodes.check(3, &pair(1), false, (None, None), last(false, "refused"));
    assert!(r.changed);
    assert_eq!(r.node, Some((NodeState::Online, NodeState::Failed)));
    assert_eq!(nodes.state("n1"), Some(NodeState::Failed));
    assert!(!r.actions.is_empty());
    // Failing again changes nothing; the other node is untouched throughout.
    let r = nodes.check(4, &pair(1), false, (None, None), last(false, "refused"));
    assert!(r.node.is_none() && !r.changed, "{r:?}");
    assert_eq!(nodes.state("n2"), Some(NodeState::Online));
    // An unknown pair is not an error: nothing happens.
    let r = nodes.check(
        5,
        &("web".into(), "n9".into()),
        true,
        (None, None),
        last(true, ""),
    );
    assert!(r.node.is_none() && r.actions.is_empty() && !r.changed);
}

#[test]
fn reload_carries_health_over_for_unchanged_and_changed_nodes() {
    let cfg = config(3, "", "");
    let mut nodes = Health::new(node_configs(&cfg), 0, 0);
    nodes.check(1, &pair(1), true, (None, None), last(true, ""));
    nodes.check(1, &pair(2), false, (None, None), last(false, "refused"));
    // Same nodes, a different rise: every machine is rebuilt, the health replayed.
    let changed = config(4, "", "  rise: 3\n");
    let kept = nodes.reconfigure(node_configs(&changed), 5, 0);
    assert_eq!(kept, 0);
    assert_eq!(check_of(&nodes, &pair(1)), Check::Up);
    assert_eq!(check_of(&nodes, &pair(2)), Check::Down);
    assert_eq!(check_of(&nodes, &pair(3)), Check::Unknown);
    assert_eq!(
        check_of(&nodes, &pair(4)),
        Check::Unknown,
        "a new node starts unknown"
    );
    // An identical configuration keeps every machine as it is.
    let kept = nodes.reconfigure(node_configs(&changed), 6, 0);
    assert_eq!(kept, 4);
    assert_eq!(check_of(&nodes, &pair(1)), Check::Up);
}

#[test]
fn lbctl_apply_table_is_the_all_healthy_plan() {
    let cfg = config(3, "", "quorum: 3\nsorry_server: {address: 198.51.100.99}\n");
    let t = crate::cli::apply::desired_from_config(&cfg).unwrap();
    let plan = desired(
        &cfg,
        &all_healthy(&cfg),
        &Overrides::default(),
        &BTreeMap::new(),
    );
    assert_eq!(t, plan.table);
    // Three healthy nodes make the quorum of three: no sorry server.
    assert_eq!(t.services.values().next().unwrap().dests.len(), 3);
}

#[test]
fn turning_the_ping_watch_on_by_reload_keeps_known_health() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 2, "", "");
    let load = |d: &std::path::Path| crate::config::load(d).unwrap().config;
    let mut nodes = Health::new(node_configs(&load(dir.path())), 0, 0);
    nodes.check(1, &pair(1), true, (None, None), last(true, ""));
    assert!(!nodes.is_pinged("n1"));
    write_ping_config(dir.path(), 2, "ping: {fall: 3}\n");
    let kept = nodes.reconfigure(node_configs(&load(dir.path())), 5, 0);
    assert_eq!(kept, 0, "new ping settings: new machines");
    assert!(nodes.is_pinged("n1"));
    assert_eq!(
        check_of(&nodes, &pair(1)),
        Check::Up,
        "replayed: answered, passing"
    );
    assert_eq!(check_of(&nodes, &pair(2)), Check::Unknown, "not pinged yet");
    // fall 3: two silent pings are not enough, the third takes it offline.
    nodes.ping(6, "n1", false, last(false, "no echo reply"));
    nodes.ping(7, "n1", false, last(false, "no echo reply"));
    assert_eq!(nodes.state("n1"), Some(NodeState::Online));
    nodes.ping(8, "n1", false, last(false, "no echo reply"));
    assert_eq!(nodes.state("n1"), Some(NodeState::Offline));
    let h = nodes.pair("web", "n1").unwrap();
    assert_eq!(
        (h.check, h.failure),
        (Check::Offline, Some("no echo reply"))
    );
}
