//! director.yaml's `mail:`: the built-in mail alert rides a node's alert and upalert (once per
//! transition, with the real server's port), a service's quorum changes when `on` or the
//! service's `smtp_alert` asks, and nothing for a service with `smtp_alert: false`.

use super::io::AlertRun;
use super::plan_tests::write_config;
use super::sim::{load, Sim};
use super::state::StateDoc;
use crate::daemon::kernel::FakeKernel;
use crate::monitor::mail::MailSpec;
use crate::monitor::AlertSpec;
use crate::node::AlertKind;

const MAIL: &str = "mail:\n  smtp_server: 192.0.2.25:2525\n  to: [ops@example.com]\n";
/// With the guard out of the way (it would hold the second of three failing nodes, and mail
/// that too).
const MAIL_NO_GUARD: &str =
    "mass_removal_guard: 100%\nmail:\n  smtp_server: 192.0.2.25:2525\n  to: [ops@example.com]\n";

fn mails(s: &Sim) -> Vec<(&AlertRun, &MailSpec)> {
    s.alerts
        .iter()
        .flat_map(|run| {
            run.alerts.iter().filter_map(move |a| match a {
                AlertSpec::Mail { mail } => Some((run, &**mail)),
                _ => None,
            })
        })
        .collect()
}

fn started(director: &str, service: &str) -> (tempfile::TempDir, Sim) {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), 3, director, service);
    let mut s = Sim::start(load(dir.path()), StateDoc::default(), FakeKernel::default());
    s.checks("web", &[("n1", true), ("n2", true), ("n3", true)]);
    (dir, s)
}

#[test]
fn a_node_going_down_and_up_mails_once_each_with_the_relay_and_port() {
    let (_dir, mut s) = started(MAIL, "");
    assert!(mails(&s).is_empty(), "no mail at start: {:?}", s.alerts);
    s.check("web", "n2", false);
    // Further failures of a failed node mail nothing more.
    s.check("web", "n2", false);
    let m = mails(&s);
    let [(run, spec)] = m.as_slice() else {
        panic!("one mail: {m:?}")
    };
    assert_eq!(run.call.kind, AlertKind::Alert);
    assert_eq!(
        (run.call.node.as_str(), run.call.address.as_str()),
        ("n2", "198.51.100.12")
    );
    assert_eq!((spec.server.as_str(), spec.port), ("192.0.2.25", 2525));
    assert_eq!(spec.to, ["ops@example.com"]);
    assert_eq!((spec.from.as_deref(), spec.helo.as_deref()), (None, None));
    assert_eq!(spec.director, "dir1");
    assert_eq!(spec.ports.get("n2"), Some(&80));
    assert_eq!(
        crate::monitor::mail::message::subject(spec, &run.call),
        "[dir1] Realserver [198.51.100.12]:80 - DOWN"
    );
    s.check("web", "n2", true);
    let m = mails(&s);
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[1].0.call.kind, AlertKind::Upalert);
    // A mail's outcome goes into the history.
    let done = crate::monitor::alert::AlertRecord {
        node: "n2".into(),
        watch: "web".into(),
        kind: AlertKind::Upalert,
        alert: "mail".into(),
        exit_code: None,
        signal: None,
        timed_out: false,
        duration_ms: 3,
        error: Some("RCPT TO refused: 550 no".into()),
    };
    s.feed(super::Input::AlertDone { record: done });
    assert!(
        s.messages()
            .contains(&"mail for web on n2: not sent: RCPT TO refused: 550 no"),
        "{:?}",
        s.messages()
    );
}

#[test]
fn without_a_mail_block_or_with_smtp_alert_false_nothing_is_mailed() {
    let (_dir, mut s) = started("", "");
    s.check("web", "n1", false);
    assert!(mails(&s).is_empty());
    let (_dir, mut s) = started(MAIL, "smtp_alert: false\n");
    s.check("web", "n1", false);
    assert!(mails(&s).is_empty(), "{:?}", s.alerts);
}

#[test]
fn quorum_changes_mail_only_when_asked() {
    // The default `on: [node]`: node mails, no quorum mail.
    let (_dir, mut s) = started(MAIL_NO_GUARD, "quorum: 2\n");
    s.check("web", "n1", false);
    s.check("web", "n2", false);
    let kinds: Vec<AlertKind> = mails(&s).iter().map(|(r, _)| r.call.kind).collect();
    assert_eq!(
        kinds,
        [AlertKind::Alert, AlertKind::Alert],
        "{:?}",
        s.alerts
    );
    // `on: [quorum]`: the quorum's loss and return, no node mail.
    let on = format!("{MAIL_NO_GUARD}  on: [quorum]\n");
    let (_dir, mut s) = started(&on, "quorum: 2\n");
    s.check("web", "n1", false);
    s.check("web", "n2", false);
    s.check("web", "n2", true);
    let m = mails(&s);
    let kinds: Vec<AlertKind> = m.iter().map(|(r, _)| r.call.kind).collect();
    assert_eq!(kinds, [AlertKind::QuorumDown, AlertKind::QuorumUp]);
    assert_eq!(
        crate::monitor::mail::message::subject(m[0].1, &m[0].0.call),
        "[dir1] Virtualserver web - DOWN"
    );
    // A service's `smtp_alert: true` mails its quorum whatever `on` says.
    let (_dir, mut s) = started(MAIL_NO_GUARD, "quorum: 2\nsmtp_alert: true\n");
    s.check("web", "n1", false);
    s.check("web", "n2", false);
    let kinds: Vec<AlertKind> = mails(&s).iter().map(|(r, _)| r.call.kind).collect();
    assert_eq!(
        kinds,
        [AlertKind::Alert, AlertKind::Alert, AlertKind::QuorumDown]
    );
}
