//! `lbctl import ldirectord` on ldirectord.cf text: what is written, reported and refused.

use super::keepalived::{Import, Kind};
use super::ldirectord::import;
use super::test_load::load;
use std::path::Path;

fn run(text: &str) -> Import {
    import(Path::new("/etc/ha.d/ldirectord.cf"), text, "dir1").expect("imports")
}

#[test]
fn the_sample_imports_with_its_checks_quiescence_and_fallback() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ldirectord.cf"
    ))
    .unwrap();
    let i = run(&text);
    assert!(i.report.lossy().next().is_none(), "{:?}", i.report.findings);
    let c = load(&i);
    let web = c.service("tcp-192.0.2.10-80").unwrap();
    assert_eq!(web.on_failure, crate::config::OnFailure::Inhibit);
    assert_eq!(web.forwarding, crate::config::Forwarding::Nat);
    assert_eq!(web.persistent.unwrap().timeout.as_secs(), 600);
    assert_eq!(
        web.sorry_server.map(|s| (s.address.to_string(), s.port)),
        Some(("198.51.100.50".into(), Some(80)))
    );
    let crate::config::Monitor::Http(h) = &web.watch.monitor else {
        panic!("http: {:?}", web.watch.monitor)
    };
    assert_eq!(
        (h.path.as_str(), h.host.as_deref(), h.body.as_deref()),
        ("/health.html", Some("www.example.com"), Some("Test Page"))
    );
    assert_eq!(
        (
            web.watch.interval.as_secs(),
            web.watch.timeout.as_secs(),
            web.watch.fall
        ),
        (5, 3, 2)
    );
    let nodes = &c.hostgroup_of(web).unwrap().nodes;
    assert_eq!((nodes[0].weight, nodes[0].port), (2, Some(8080)));
    let mail = c.service("tcp-192.0.2.10-25").unwrap();
    assert_eq!(mail.forwarding, crate::config::Forwarding::Dr);
    assert!(matches!(mail.watch.monitor, crate::config::Monitor::Tcp(_)));
}

#[test]
fn what_lbd_lacks_is_reported_and_broken_lines_refused() {
    let i = run("emailalert=root\nquiescent=no\nvirtual=192.0.2.10:80\n\treal=198.51.100.11:80 gate\n\tchecktype=off\n\tcleanstop=no\n\tservice=ftp\n\tchecktimeout=9\n");
    let lossy: Vec<_> = i
        .report
        .lossy()
        .map(|f| (f.at.line, f.keyword.clone(), f.kind))
        .collect();
    assert_eq!(
        lossy,
        [
            (1, "emailalert".to_string(), Kind::Dropped),
            (3, "checktimeout".to_string(), Kind::Approximated),
            (5, "checktype".to_string(), Kind::Dropped),
            (6, "cleanstop".to_string(), Kind::Dropped),
        ]
    );
    let c = load(&i);
    assert_eq!(c.services[0].on_failure, crate::config::OnFailure::Remove);
    for (text, want) in [
        (
            "checkinterval 5\n",
            "/etc/ha.d/ldirectord.cf:1:1: `checkinterval 5` is not KEY=VALUE",
        ),
        (
            "\treal=198.51.100.11:80\n",
            "/etc/ha.d/ldirectord.cf:1:2: an indented line before any virtual=",
        ),
    ] {
        let e = import(Path::new("/etc/ha.d/ldirectord.cf"), text, "dir1")
            .expect_err("refused")
            .to_string();
        assert_eq!(e, want);
    }
    // A name instead of an address: reported, the service left out.
    let i = run("virtual=www.example.com:80\n\treal=198.51.100.11:80 gate\n");
    assert_eq!(
        i.report.lossy().next().map(|f| f.keyword.as_str()),
        Some("virtual")
    );
    assert_eq!(load(&i).services.len(), 0);
}
