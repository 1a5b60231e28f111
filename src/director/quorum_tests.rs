//! `quorum_down` / `quorum_up`: run once per change of a service's quorum, with the passing
//! real servers as `-h`, never at start; on the virtual clock.

use super::io::AlertRun;
use super::plan_tests::write_config;
use super::sim::{load, Sim};
use super::state::StateDoc;
use crate::daemon::kernel::FakeKernel;
use crate::monitor::AlertSpec;
use crate::node::AlertKind;

fn quorum_runs(s: &Sim) -> Vec<&AlertRun> {
    s.alerts
        .iter()
        .filter(|a| matches!(a.call.kind, AlertKind::QuorumDown | AlertKind::QuorumUp))
        .collect()
}

const SCRIPTS: &str = "quorum: 2\nquorum_down: [page.alert ops]\nquorum_up: [log]\n";

#[test]
fn quorum_scripts_run_on_each_change_with_the_passing_servers() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 3, "", SCRIPTS);
    let mut s = Sim::start(load(dir.path()), StateDoc::default(), FakeKernel::default());
    // The first checks settle the quorum: nothing runs.
    s.checks("web", &[("n1", true), ("n2", true), ("n3", true)]);
    s.check("web", "n1", false);
    assert!(quorum_runs(&s).is_empty(), "{:?}", s.alerts);
    // 1 of 3 passing: lost.
    s.check("web", "n2", false);
    let runs = quorum_runs(&s);
    let [down] = runs.as_slice() else {
        panic!("one quorum_down run: {runs:?}")
    };
    assert_eq!(down.call.kind, AlertKind::QuorumDown);
    assert!(
        matches!(down.alerts.as_slice(), [AlertSpec::Script { path, args, .. }]
            if path.ends_with("page.alert") && args == &["ops".to_string()]),
        "{:?}",
        down.alerts
    );
    assert_eq!(
        (down.call.node.as_str(), down.call.address.as_str()),
        ("n3", "198.51.100.13")
    );
    assert_eq!(down.call.watch, "web");
    assert_eq!(down.call.group, "web_nodes");
    assert_eq!(
        down.call.summary,
        "quorum lost: 1 passing real server(s), quorum 2"
    );
    assert!(s
        .messages()
        .contains(&"web: quorum lost: 1 passing real server(s), quorum 2"));
    // Still lost: nothing more.
    s.check("web", "n3", false);
    assert_eq!(quorum_runs(&s).len(), 1);
    // Back: quorum_up once, with both passing servers.
    s.checks("web", &[("n2", true), ("n3", true)]);
    let runs = quorum_runs(&s);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let up = runs[1];
    assert_eq!(up.call.kind, AlertKind::QuorumUp);
    assert!(matches!(up.alerts.as_slice(), [AlertSpec::Log]));
    assert_eq!(up.call.node, "n2 n3");
    assert_eq!(up.timeout, std::time::Duration::from_secs(30));
}

#[test]
fn a_service_that_starts_below_quorum_runs_nothing_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 3, "", SCRIPTS);
    let mut s = Sim::start(load(dir.path()), StateDoc::default(), FakeKernel::default());
    s.checks("web", &[("n1", false), ("n2", false), ("n3", true)]);
    assert!(quorum_runs(&s).is_empty(), "{:?}", s.alerts);
    assert!(!s.d.plan().services["web"].quorum_met);
    s.check("web", "n1", true);
    let runs = quorum_runs(&s);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].call.kind, AlertKind::QuorumUp);
}

#[test]
fn quorum_scripts_take_the_alert_syntax_and_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 1, "", "quorum_down: [/usr/bin/page]\n");
    let err = crate::config::load(dir.path())
        .expect_err("a path")
        .to_string();
    assert!(err.contains("services/web.yaml:7"), "{err}");
    assert!(err.contains("invalid script name"), "{err}");
    write_config(dir.path(), 1, "", "quorum_up: 3\n");
    let err = crate::config::load(dir.path())
        .expect_err("a number")
        .to_string();
    assert!(err.contains("services/web.yaml:7"), "{err}");
}

/// Each change of a service's quorum or sorry server use is observed (for the
/// `lbd_service_quorum` and `lbd_service_sorry_server_active` gauges), and only a change.
#[test]
fn quorum_and_sorry_server_use_are_observed_on_each_change() {
    use super::io::{Effect, Observation};
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        3,
        "",
        "quorum: 2\nsorry_server: {address: 198.51.100.99}\n",
    );
    let mut s = Sim::start(load(dir.path()), StateDoc::default(), FakeKernel::default());
    let quorum = |s: &Sim| -> Vec<(bool, bool)> {
        (s.effects.iter())
            .filter_map(|e| match e {
                Effect::Observe(Observation::Quorum {
                    service,
                    met,
                    sorry,
                }) if service == "web" => Some((*met, *sorry)),
                _ => None,
            })
            .collect()
    };
    s.checks("web", &[("n1", true), ("n2", true), ("n3", true)]);
    let settled = quorum(&s);
    assert_eq!(settled.last(), Some(&(true, false)), "{settled:?}");
    s.check("web", "n1", false);
    assert_eq!(quorum(&s).len(), settled.len(), "no change, no observation");
    s.check("web", "n2", false);
    assert_eq!(quorum(&s)[settled.len()..], [(false, true)]);
    s.check("web", "n3", false);
    s.checks("web", &[("n1", true), ("n2", true)]);
    assert_eq!(quorum(&s)[settled.len()..], [(false, true), (true, false)]);
}
