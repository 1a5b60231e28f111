//! The configuration → desired table mapping of `lbctl apply`, on the project's example
//! configuration and on variants of it (dr/tunnel ports, persistence, flags).

use std::path::Path;

use super::apply::*;
use crate::config;
use crate::ipvs::*;
use crate::reconcile::{diff, Table};

fn example() -> config::Config {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    config::load(&dir)
        .expect("example configuration loads")
        .config
}

#[test]
fn example_configuration_maps_to_the_lab_table() {
    let t = desired_from_config(&example()).unwrap();
    let ops: Vec<String> = diff(&t, &Table::new(), &Default::default())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        ops,
        [
            "-A -t 192.0.2.10:80 -s rr",
            "-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 1",
            "-a -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 1",
            "-a -t 192.0.2.10:80 -r 198.51.100.13:80 -m -w 1",
            "-A -t 192.0.2.10:5000 -s wlc",
            "-a -t 192.0.2.10:5000 -r 198.51.100.14:5000 -m -w 1",
            "-a -t 192.0.2.10:5000 -r 198.51.100.15:5000 -m -w 1",
        ]
    );
}

#[test]
fn dr_persistence_and_flags_carry_over() {
    let mut cfg = example();
    let svc = &mut cfg.services[0];
    svc.forwarding = config::Forwarding::Dr;
    svc.port = Some(8080);
    svc.scheduler = config::Scheduler::Sh;
    svc.scheduler_flags = config::SchedulerFlags {
        fallback: true,
        port: true,
    };
    svc.persistent = Some(config::Persistence {
        timeout: std::time::Duration::from_secs(600),
        netmask: 24,
    });
    svc.upper_threshold = 100;
    let t = desired_from_config(&cfg).unwrap();
    let key = ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80);
    let s = &t.services[&key];
    assert_eq!(s.service.scheduler, "sh");
    assert_eq!(
        s.service.flags,
        SvcFlags(SvcFlags::PERSISTENT | SvcFlags::SH_FALLBACK | SvcFlags::SH_PORT)
    );
    assert_eq!((s.service.timeout, s.service.netmask), (600, 24));
    // DR: the real server keeps the service port, whatever the configured one.
    for d in s.dests.values() {
        assert_eq!(
            (d.port, d.forward, d.upper_threshold),
            (80, ForwardMethod::Route, 100)
        );
    }
    assert_eq!(
        Op::AddService(s.service.clone()).to_string(),
        "-A -t 192.0.2.10:80 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port"
    );
}

#[test]
fn sorry_server_only_below_quorum() {
    let mut cfg = example();
    let sorry = config::SorryServer {
        address: "198.51.100.50".parse().unwrap(),
        port: None,
        weight: 1,
        mode: config::SorryMode::Beside,
    };
    cfg.services[0].sorry_server = Some(sorry);
    cfg.services[0].quorum = 3;
    let key = ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80);
    assert_eq!(
        desired_from_config(&cfg).unwrap().services[&key]
            .dests
            .len(),
        3
    );
    cfg.services[0].quorum = 4;
    let t = desired_from_config(&cfg).unwrap();
    assert!(t.services[&key]
        .dests
        .contains_key(&("198.51.100.50".parse().unwrap(), 80)));
}
