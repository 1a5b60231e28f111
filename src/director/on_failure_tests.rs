//! `on_failure: inhibit` (a failing real server kept with weight 0) and the sorry server's
//! `mode: replace`: the plan's rules, the guard's count, and a restart over a table that
//! holds inhibited servers, on the virtual clock.

use super::admin::{Mode, Overrides};
use super::plan::{all_healthy, desired, desired_after, Check};
use super::plan_tests::{config, write_config};
use super::sim::{load, Sim};
use super::state::StateDoc;
use crate::daemon::kernel::FakeKernel;
use crate::ipvs::Op;
use std::collections::BTreeMap;
use std::net::IpAddr;

fn pair(n: u8) -> (String, String) {
    ("web".to_string(), format!("n{n}"))
}

/// (last octet, weight) of the service's destinations.
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

fn with_checks(
    cfg: &crate::config::Config,
    checks: &[(u8, Check)],
) -> BTreeMap<(String, String), (Check, u32)> {
    let mut h = all_healthy(cfg);
    for &(n, c) in checks {
        h.get_mut(&pair(n)).unwrap().0 = c;
    }
    h
}

#[test]
fn inhibit_keeps_failing_offline_and_unchecked_servers_at_weight_zero() {
    let cfg = config(4, "", "on_failure: inhibit\n");
    let h = with_checks(
        &cfg,
        &[(2, Check::Down), (3, Check::Offline), (4, Check::Unknown)],
    );
    let plan = desired(&cfg, &h, &Overrides::default(), &BTreeMap::new());
    assert_eq!(dests(&plan), vec![(11, 1), (12, 0), (13, 0), (14, 0)]);
    assert_eq!(plan.services["web"].healthy, 1);
    assert!(
        plan.members[&pair(2)].why.contains("inhibited: weight 0"),
        "{}",
        plan.members[&pair(2)].why
    );
    // The operator's removals still remove.
    let mut admin = Overrides::default();
    admin.set("n2", None, Mode::Disabled);
    admin.set_maintenance("n3", true);
    let plan = desired(&cfg, &h, &admin, &BTreeMap::new());
    assert_eq!(dests(&plan), vec![(11, 1), (14, 0)]);
}

#[test]
fn a_node_s_own_on_failure_wins_over_the_service_s() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 2, "", "");
    std::fs::write(
        dir.path().join("hostgroups/web_nodes.yaml"),
        "ping: false\nnodes:\n  - {name: n1, address: 198.51.100.11, on_failure: inhibit}\n  \
         - {name: n2, address: 198.51.100.12}\n",
    )
    .unwrap();
    let cfg = load(dir.path());
    let h = with_checks(&cfg, &[(1, Check::Down), (2, Check::Down)]);
    let plan = desired(&cfg, &h, &Overrides::default(), &BTreeMap::new());
    assert_eq!(dests(&plan), vec![(11, 0)]);
    // And the other way round: the service inhibits, the node asks for removal.
    write_config(dir.path(), 0, "", "on_failure: inhibit\n");
    std::fs::write(
        dir.path().join("hostgroups/web_nodes.yaml"),
        "ping: false\nnodes:\n  - {name: n1, address: 198.51.100.11, on_failure: remove}\n  \
         - {name: n2, address: 198.51.100.12}\n",
    )
    .unwrap();
    let cfg = load(dir.path());
    let plan = desired(&cfg, &h, &Overrides::default(), &BTreeMap::new());
    assert_eq!(dests(&plan), vec![(12, 0)]);
}

#[test]
fn the_guard_counts_an_inhibited_server_as_already_out() {
    // 4 nodes, guard 50%: at most 2 out for failing checks.
    let cfg = config(4, "mass_removal_guard: 50%\n", "on_failure: inhibit\n");
    let admin = Overrides::default();
    let h = with_checks(&cfg, &[(1, Check::Down), (2, Check::Down)]);
    let previous = desired(&cfg, &h, &admin, &BTreeMap::new()).in_table();
    assert_eq!(previous[&pair(1)], 0, "inhibited, still in the table");
    // A third fails: two are already out (at weight 0), so the guard holds the third.
    let h = with_checks(
        &cfg,
        &[(1, Check::Down), (2, Check::Down), (3, Check::Down)],
    );
    let plan = desired(&cfg, &h, &admin, &previous);
    assert_eq!(plan.services["web"].guard_held, ["n3"]);
    assert_eq!(dests(&plan), vec![(11, 0), (12, 0), (13, 1), (14, 1)]);
}

#[test]
fn a_replacing_sorry_server_takes_the_survivors_out_until_quorum_returns() {
    let cfg = config(
        3,
        "",
        "quorum: 2\nsorry_server: {address: 198.51.100.99, weight: 5, mode: replace}\n",
    );
    let admin = Overrides::default();
    let none = BTreeMap::new();
    let plan = desired(&cfg, &with_checks(&cfg, &[(1, Check::Down)]), &admin, &none);
    assert_eq!(dests(&plan), vec![(12, 1), (13, 1)]);
    // 1 of 3 passing: the sorry server alone.
    let h = with_checks(&cfg, &[(1, Check::Down), (2, Check::Down)]);
    let plan = desired(&cfg, &h, &admin, &none);
    assert!(plan.services["web"].sorry_active);
    assert_eq!(plan.services["web"].healthy, 1);
    assert_eq!(dests(&plan), vec![(99, 5)]);
    assert!(plan.members[&pair(3)]
        .why
        .contains("replaced by the sorry server"));
    // Quorum back: the sorry server leaves, the passing servers return.
    let plan = desired(&cfg, &with_checks(&cfg, &[]), &admin, &none);
    assert!(!plan.services["web"].sorry_active);
    assert_eq!(dests(&plan), vec![(11, 1), (12, 1), (13, 1)]);
    // With inhibit the replaced servers stay at weight 0.
    let cfg = config(
        3,
        "",
        "quorum: 2\non_failure: inhibit\nsorry_server: {address: 198.51.100.99, mode: replace}\n",
    );
    let plan = desired(&cfg, &h, &admin, &none);
    assert_eq!(dests(&plan), vec![(11, 0), (12, 0), (13, 0), (99, 1)]);
}

#[test]
fn restart_over_inhibited_servers_sends_nothing_and_keeps_them_out() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 3, "", "on_failure: inhibit\n");
    let kernel = FakeKernel {
        table: crate::director::plan::all_healthy_table(&load(dir.path())).unwrap(),
        ..FakeKernel::default()
    };
    let mut s = Sim::start(load(dir.path()), StateDoc::default(), kernel);
    s.config_dir = Some(dir.path().to_path_buf());
    s.check("web", "n2", false);
    let ops = s.ops();
    assert!(
        matches!(ops.as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 0),
        "{ops:?}"
    );
    s.stop();
    // With the state file: nothing to do, n2 still failed.
    let mut s = s.restart();
    assert_eq!(s.batches, 0);
    assert!(s.ops().is_empty());
    assert_eq!(s.d.plan().members[&pair(2)].weight, Some(0));
    s.stop();
    // Without it (a lost state dir): the kernel's weight 0 is not taken for a passing
    // server; n2 returns when its check passes.
    let mut s = Sim::start(load(dir.path()), StateDoc::default(), s.kernel);
    assert_eq!(s.batches, 0);
    assert_eq!(s.d.plan().members[&pair(2)].weight, Some(0));
    s.check("web", "n2", true);
    let ops = s.ops();
    assert!(
        matches!(ops.as_slice(), [Op::EditDest { dest, .. }] if dest.weight == 1),
        "{ops:?}"
    );
}

#[test]
fn bad_on_failure_and_sorry_mode_words_are_refused_with_their_line() {
    for (file, text, want) in [
        (
            "services/web.yaml",
            "virtual: {address: 192.0.2.10, port: 80}\nhostgroup: web_nodes\n\
             watch: {monitor: tcp}\non_failure: quiesce\n",
            "services/web.yaml:4",
        ),
        (
            "services/web.yaml",
            "virtual: {address: 192.0.2.10, port: 80}\nhostgroup: web_nodes\n\
             watch: {monitor: tcp}\nsorry_server: {address: 198.51.100.9, mode: instead}\n",
            "services/web.yaml:4",
        ),
        (
            "hostgroups/web_nodes.yaml",
            "ping: false\nnodes:\n  - {name: n1, address: 198.51.100.11, on_failure: 0}\n",
            "hostgroups/web_nodes.yaml:3",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), 1, "", "");
        std::fs::write(dir.path().join(file), text).unwrap();
        let err = crate::config::load(dir.path()).expect_err(text).to_string();
        assert!(err.contains(want), "want {want} in: {err}");
    }
}

#[test]
fn a_weight_quorum_with_hysteresis_is_lost_below_q_minus_h_and_back_at_q_plus_h() {
    let cfg = config(
        4,
        "",
        "quorum: {weight: 3, hysteresis: 1}\nsorry_server: {address: 198.51.100.99}\n",
    );
    let admin = Overrides::default();
    let none = BTreeMap::new();
    // n1 weighs 2 (an agent's or the node's weight: the plan reads the health's).
    let health = |down: &[u8]| {
        let mut h = with_checks(
            &cfg,
            &down.iter().map(|&n| (n, Check::Down)).collect::<Vec<_>>(),
        );
        h.get_mut(&pair(1)).unwrap().1 = 2;
        h
    };
    let mut before = super::plan::Plan::default();
    let mut steps = Vec::new();
    for down in [&[][..], &[1], &[1, 2], &[1, 2, 3], &[1, 2], &[2]] {
        let plan = desired_after(&cfg, &health(down), &admin, &none, &before);
        let sp = &plan.services["web"];
        assert_eq!(sp.sorry_active, !sp.quorum_met);
        steps.push((sp.quorum_measure, sp.quorum_met));
        before = plan;
    }
    assert_eq!(
        steps,
        vec![
            (5, true),  // 5 ≥ 3
            (3, true),  // held
            (2, true),  // held down to 3 - 1
            (1, false), // lost below 2
            (2, false), // back only at 3 + 1
            (4, true),
        ]
    );
    // Without history (and so without hysteresis) 2 is below 3.
    let plan = desired(&cfg, &health(&[1, 2]), &admin, &none);
    assert!(!plan.services["web"].quorum_met);
    assert!(plan.services["web"].sorry_active);
}

#[test]
fn quorum_rule_without_history_counts_from_quorum() {
    use super::plan::quorum_met;
    assert!(quorum_met(3, 3, 1, None));
    assert!(!quorum_met(2, 3, 1, None));
    assert!(quorum_met(2, 3, 1, Some(true)));
    assert!(!quorum_met(3, 3, 1, Some(false)));
    assert!(quorum_met(4, 3, 1, Some(false)));
}
