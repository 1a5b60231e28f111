//! Tests of `service.rs`.

use super::*;
use crate::config::diagnostic::Report;
use crate::config::yaml;
use std::path::Path;

fn persistence(text: &str, family: Family) -> (Option<Persistence>, Vec<String>) {
    let item = yaml::parse(text).expect("yaml");
    let mut report = Report::default();
    let mut sink = Sink {
        file: Path::new("s.yaml"),
        report: &mut report,
    };
    let p = decode_persistence(&item, family, &mut sink);
    (p, report.errors.iter().map(ToString::to_string).collect())
}

#[test]
fn netmasks_become_prefix_lengths() {
    let p = |t, f| {
        persistence(t, f)
            .0
            .map(|p| (p.timeout.as_secs(), p.netmask))
    };
    assert_eq!(p("netmask: 255.255.255.0", Family::Ipv4), Some((300, 24)));
    assert_eq!(p("netmask: /16", Family::Ipv4), Some((300, 16)));
    assert_eq!(
        p("{timeout: 60s, netmask: 255.255.255.255}", Family::Ipv4),
        Some((60, 32))
    );
    assert_eq!(p("netmask: 48", Family::Ipv6), Some((300, 48)));
    assert_eq!(p("120s", Family::Ipv6), Some((120, 128)));
}

#[test]
fn persistence_timeout_is_whole_seconds() {
    let (p, errors) = persistence("timeout: 1500ms", Family::Ipv4);
    assert_eq!(p, None);
    assert_eq!(
        errors,
        vec!["s.yaml:1:10: this duration must be whole seconds"]
    );
}

#[test]
fn every_kernel_scheduler_has_its_name() {
    let names: Vec<&str> = Scheduler::ALL.iter().map(|(_, s)| s.name()).collect();
    assert_eq!(
        names,
        [
            "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
            "twos"
        ]
    );
}
