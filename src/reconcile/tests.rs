//! Table-driven tests of the diff: minimal ordered operations, ownership, normalisation.

use std::collections::BTreeSet;
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::ipvs::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn http() -> ServiceKey {
    ServiceKey::tcp(ip("192.0.2.10"), 80)
}

fn myapp() -> ServiceKey {
    ServiceKey::tcp(ip("192.0.2.10"), 5000)
}

fn rs(i: u8, port: u16, fwd: ForwardMethod) -> Dest {
    Dest::new(ip(&format!("198.51.100.{}", 10 + i)), port, fwd)
}

fn table(services: &[(Service, Vec<Dest>)]) -> Table {
    let mut t = Table::new();
    for (s, ds) in services {
        t.insert_service(s.clone());
        for d in ds {
            t.insert_dest(&s.key, d.clone()).unwrap();
        }
    }
    t
}

fn owned(t: &Table) -> BTreeSet<ServiceKey> {
    t.services.keys().copied().collect()
}

fn lines(ops: &[Op]) -> Vec<String> {
    ops.iter().map(ToString::to_string).collect()
}

#[test]
fn from_empty_adds_services_then_their_dests() {
    let want = table(&[
        (
            Service::new(http(), "wlc"),
            vec![
                rs(1, 80, ForwardMethod::Masq),
                rs(2, 80, ForwardMethod::Masq),
            ],
        ),
        (
            Service::new(myapp(), "rr"),
            vec![rs(4, 5000, ForwardMethod::Route)],
        ),
    ]);
    let ops = diff(&want, &Table::new(), &owned(&want));
    assert_eq!(
        lines(&ops),
        [
            "-A -t 192.0.2.10:80 -s wlc",
            "-a -t 192.0.2.10:80 -r 198.51.100.11:80 -m -w 1",
            "-a -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 1",
            "-A -t 192.0.2.10:5000 -s rr",
            "-a -t 192.0.2.10:5000 -r 198.51.100.14:5000 -g -w 1",
        ]
    );
}

#[test]
fn converged_table_needs_nothing() {
    let want = table(&[(
        Service::new(http(), "wlc"),
        vec![rs(1, 80, ForwardMethod::Masq)],
    )]);
    assert!(diff(&want, &want.clone(), &owned(&want)).is_empty());
}

#[test]
fn kernel_hashed_flag_is_not_a_difference() {
    let want = table(&[(Service::new(http(), "rr"), vec![])]);
    let mut svc = Service::new(http(), "rr");
    svc.flags = SvcFlags(SvcFlags::HASHED);
    let entries = [ServiceEntry {
        service: svc,
        stats: Stats::default(),
        dests: vec![],
    }];
    let have = Table::from_entries(&entries);
    assert!(diff(&want, &have, &owned(&want)).is_empty());
}

#[test]
fn dr_and_tunnel_ports_take_the_service_port() {
    // A configured DR real server on port 8080 means port 80 in the kernel.
    let want = table(&[(
        Service::new(http(), "rr"),
        vec![
            rs(1, 8080, ForwardMethod::Route),
            rs(2, 9999, ForwardMethod::Tunnel(Tunnel::default())),
        ],
    )]);
    let have = Table::from_entries(&[ServiceEntry {
        service: Service::new(http(), "rr"),
        stats: Stats::default(),
        dests: [
            rs(1, 80, ForwardMethod::Route),
            rs(2, 80, ForwardMethod::Tunnel(Tunnel::default())),
        ]
        .into_iter()
        .map(|dest| DestEntry {
            dest,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: Stats::default(),
        })
        .collect(),
    }]);
    assert!(diff(&want, &have, &owned(&want)).is_empty());
    // Fwmark services: the port is 0.
    let fw = ServiceKey::Fwmark {
        family: Family::Ipv4,
        mark: 1,
    };
    let mut t = Table::new();
    t.insert_service(Service::new(fw, "rr"));
    t.insert_dest(&fw, rs(1, 80, ForwardMethod::Route)).unwrap();
    assert_eq!(t.services[&fw].dests.keys().next().unwrap().1, 0);
}

#[test]
fn weight_change_is_one_edit() {
    let have = table(&[(
        Service::new(http(), "wlc"),
        vec![
            rs(1, 80, ForwardMethod::Masq),
            rs(2, 80, ForwardMethod::Masq),
        ],
    )]);
    let mut d = rs(2, 80, ForwardMethod::Masq);
    d.weight = 5;
    let want = table(&[(
        Service::new(http(), "wlc"),
        vec![rs(1, 80, ForwardMethod::Masq), d],
    )]);
    assert_eq!(
        lines(&diff(&want, &have, &owned(&want))),
        ["-e -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 5"]
    );
}

#[test]
fn dest_changes_are_ordered_del_edit_add() {
    let have = table(&[(
        Service::new(http(), "wlc"),
        vec![
            rs(1, 80, ForwardMethod::Masq),
            rs(2, 80, ForwardMethod::Masq),
        ],
    )]);
    let mut d2 = rs(2, 80, ForwardMethod::Route);
    d2.upper_threshold = 100;
    let want = table(&[(
        Service::new(http(), "sh"),
        vec![d2, rs(3, 80, ForwardMethod::Masq)],
    )]);
    assert_eq!(
        lines(&diff(&want, &have, &owned(&want))),
        [
            "-E -t 192.0.2.10:80 -s sh",
            "-d -t 192.0.2.10:80 -r 198.51.100.11:80",
            "-e -t 192.0.2.10:80 -r 198.51.100.12:80 -g -w 1 -x 100",
            "-a -t 192.0.2.10:80 -r 198.51.100.13:80 -m -w 1",
        ]
    );
}

#[test]
fn only_owned_services_are_deleted() {
    let have = table(&[
        (
            Service::new(http(), "rr"),
            vec![rs(1, 80, ForwardMethod::Masq)],
        ),
        (
            Service::new(myapp(), "rr"),
            vec![rs(4, 5000, ForwardMethod::Masq)],
        ),
    ]);
    let want = Table::new();
    // Nothing owned: someone else's services stay.
    assert!(diff(&want, &have, &BTreeSet::new()).is_empty());
    // Owned: deleted, without deleting the real servers one by one.
    let ops = diff(&want, &have, &[myapp()].into_iter().collect());
    assert_eq!(lines(&ops), ["-D -t 192.0.2.10:5000"]);
}

#[test]
fn changed_key_is_delete_then_add() {
    let have = table(&[(
        Service::new(http(), "rr"),
        vec![rs(1, 80, ForwardMethod::Masq)],
    )]);
    let udp = ServiceKey::udp(ip("192.0.2.10"), 80);
    let want = table(&[(
        Service::new(udp, "rr"),
        vec![rs(1, 80, ForwardMethod::Masq)],
    )]);
    let owned: BTreeSet<_> = [http(), udp].into_iter().collect();
    assert_eq!(
        lines(&diff(&want, &have, &owned)),
        [
            "-D -t 192.0.2.10:80",
            "-A -u 192.0.2.10:80 -s rr",
            "-a -u 192.0.2.10:80 -r 198.51.100.11:80 -m -w 1"
        ]
    );
}

#[test]
fn persistence_and_flags_render_like_ipvsadm() {
    let mut s = Service::new(ServiceKey::tcp(ip("2001:db8::10"), 443), "sh");
    s.flags = SvcFlags(SvcFlags::PERSISTENT | SvcFlags::SH_PORT | SvcFlags::ONEPACKET);
    s.timeout = 300;
    s.netmask = 64;
    assert_eq!(
        Op::AddService(s).to_string(),
        "-A -t [2001:db8::10]:443 -s sh -p 300 -M 64 -b sh-port -o"
    );
    let mut s = Service::new(
        ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark: 7,
        },
        "rr",
    );
    s.flags = SvcFlags(SvcFlags::PERSISTENT);
    s.timeout = 60;
    s.netmask = 24;
    assert_eq!(
        Op::AddService(s).to_string(),
        "-A -f 7 -s rr -p 60 -M 255.255.255.0"
    );
}

#[test]
fn insert_dest_checks_service_and_family() {
    let mut t = Table::new();
    assert!(matches!(
        t.insert_dest(&http(), rs(1, 80, ForwardMethod::Masq)),
        Err(TableError::NoService { .. })
    ));
    t.insert_service(Service::new(http(), "rr"));
    let v6 = Dest::new(ip("2001:db8:1::11"), 80, ForwardMethod::Masq);
    assert!(matches!(
        t.insert_dest(&http(), v6),
        Err(TableError::FamilyMismatch { .. })
    ));
}

fn arb_table() -> impl Strategy<Value = Table> {
    let svc = (
        0u8..4,
        prop_oneof![Just("rr"), Just("wlc"), Just("sh")],
        any::<bool>(),
    );
    let dest = (
        0u8..6,
        prop_oneof![Just(ForwardMethod::Masq), Just(ForwardMethod::Route)],
        0i32..4,
    );
    proptest::collection::vec((svc, proptest::collection::vec(dest, 0..5)), 0..4).prop_map(|list| {
        let mut t = Table::new();
        for ((port, sched, persistent), dests) in list {
            let key = ServiceKey::tcp(ip("192.0.2.10"), 80 + u16::from(port));
            let mut s = Service::new(key, sched);
            if persistent {
                s.flags = SvcFlags(SvcFlags::PERSISTENT);
                s.timeout = 300;
            }
            t.insert_service(s);
            for (i, fwd, w) in dests {
                let mut d = rs(i, 80, fwd);
                d.weight = w;
                t.insert_dest(&key, d).unwrap();
            }
        }
        t
    })
}

/// Applies operations to a table the way the kernel would (a model, for the property test).
fn apply_model(t: &mut Table, ops: &[Op]) {
    for op in ops {
        match op {
            Op::AddService(s) | Op::EditService(s) => t.insert_service(s.clone()),
            Op::DelService(k) => {
                t.services.remove(k);
            }
            Op::AddDest { service, dest } | Op::EditDest { service, dest } => {
                t.insert_dest(service, dest.clone()).unwrap()
            }
            Op::DelDest {
                service,
                addr,
                port,
            } => {
                t.services
                    .get_mut(service)
                    .unwrap()
                    .dests
                    .remove(&(*addr, *port));
            }
        }
    }
}

proptest! {
    /// diff then apply converges, and a second diff is empty.
    #[test]
    fn diff_converges(want in arb_table(), have in arb_table()) {
        let owned: BTreeSet<_> = want.services.keys().chain(have.services.keys()).copied().collect();
        let ops = diff(&want, &have, &owned);
        let mut t = have.clone();
        apply_model(&mut t, &ops);
        prop_assert_eq!(&t, &want);
        prop_assert!(diff(&want, &t, &owned).is_empty());
    }
}

#[test]
fn ops_serialise_for_event_logs() {
    let ops = vec![
        Op::AddService(Service::new(http(), "rr")),
        Op::DelService(http()),
        Op::AddDest {
            service: http(),
            dest: rs(1, 80, ForwardMethod::Masq),
        },
        Op::DelDest {
            service: http(),
            addr: ip("198.51.100.11"),
            port: 80,
        },
    ];
    let json = serde_json::to_string(&ops).unwrap();
    let back: Vec<Op> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ops);
}
