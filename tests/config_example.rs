//! The documented example configuration (`config/`, the lab's own) loads without warnings
//! into exactly the lab topology; several mistakes in several files are all reported at once;
//! durations take decimal fractions; and the port normalisation for dr/tunnel forwarding holds.

use lbd::config::{
    self, Family, Forwarding, Monitor, Protocol, Scheduler, StatusRange, SyncDestination, Virtual,
};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn example_is_the_lab_configuration() {
    let loaded = config::load(&example()).unwrap_or_else(|e| panic!("example rejected:\n{e}"));
    assert_eq!(
        loaded.warnings,
        vec![],
        "the example must load without warnings"
    );
    let c = loaded.config;

    let d = &c.director;
    assert_eq!(d.name, "dir1");
    assert_eq!(d.listen, config::DEFAULT_LISTEN);
    assert_eq!(d.control.socket, Path::new(config::DEFAULT_CONTROL_SOCKET));
    assert_eq!(d.vrrp.len(), 1);
    let vi = &d.vrrp[0];
    assert_eq!(
        (vi.interface.as_str(), vi.vrid, vi.priority),
        ("eth0", 51, 150)
    );
    assert_eq!(vi.advert_interval, Duration::from_secs(1));
    assert!(vi.preempt);
    let vips: Vec<(IpAddr, u8, &str)> = vi
        .vips
        .iter()
        .map(|v| (v.address, v.prefix, vi.vip_interface(v)))
        .collect();
    assert_eq!(
        vips,
        vec![
            (ip("192.0.2.10"), 24, "eth0"),
            (ip("2001:db8::10"), 64, "eth0"),
            (ip("198.51.100.1"), 24, "eth1"),
        ]
    );
    let sync = d.sync_daemon.as_ref().expect("sync daemon");
    assert_eq!(sync.sync_id, 51);
    assert_eq!(
        sync.destination,
        SyncDestination::Multicast(ip("224.0.0.81"))
    );

    let groups: Vec<(&str, Vec<(&str, IpAddr)>)> = c
        .hostgroups
        .values()
        .map(|g| {
            (
                g.name.as_str(),
                g.nodes
                    .iter()
                    .map(|n| (n.name.as_str(), n.address))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (
                "http_nodes",
                vec![
                    ("rs1", ip("198.51.100.11")),
                    ("rs2", ip("198.51.100.12")),
                    ("rs3", ip("198.51.100.13"))
                ]
            ),
            (
                "myapp_nodes",
                vec![("rs4", ip("198.51.100.14")), ("rs5", ip("198.51.100.15"))]
            ),
        ]
    );

    assert_eq!(c.services.len(), 2);
    let http = c.service("http").expect("http service");
    assert_eq!(
        http.virtual_service,
        Virtual::Address {
            protocol: Protocol::Tcp,
            address: ip("192.0.2.10"),
            port: 80
        }
    );
    assert_eq!(http.scheduler, Scheduler::Rr);
    assert_eq!(http.forwarding, Forwarding::Nat);
    assert_eq!(http.hostgroup, "http_nodes");
    let Monitor::Http(check) = &http.watch.monitor else {
        panic!("http watch is {:?}", http.watch.monitor);
    };
    assert_eq!(check.path, "/");
    assert_eq!(
        check.expect_status,
        vec![StatusRange {
            low: 200,
            high: 200
        }]
    );
    assert_eq!(http.watch.interval, Duration::from_secs(2));
    assert!(http.watch.timeout < http.watch.failed_interval);
    let group = c.hostgroup_of(http).expect("hostgroup");
    let ports: Vec<u16> = group.nodes.iter().map(|n| http.real_port(n)).collect();
    assert_eq!(ports, vec![80, 80, 80]);

    let myapp = c.service("myapp").expect("myapp service");
    assert_eq!(myapp.virtual_service.port(), 5000);
    assert_eq!(myapp.hostgroup, "myapp_nodes");
    assert_eq!(myapp.scheduler, Scheduler::Wlc);

    let s = c.summary();
    assert_eq!(
        (s.services, s.hostgroups, s.nodes, s.real_servers),
        (2, 2, 5, 5)
    );
    // 3 nodes every 2s + 2 nodes every 2s.
    assert!((s.checks_per_second - 2.5).abs() < 1e-9);
    // 5 nodes pinged every 5s (both groups take the default interval).
    assert!((s.pings_per_second - 1.0).abs() < 1e-9);
}

/// Copies the example into a temporary directory and rewrites some of its files.
fn edited(edits: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["", "hostgroups", "services"] {
        fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        for entry in fs::read_dir(example().join(sub)).expect("example dir") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_file() {
                fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).expect("copy");
            }
        }
    }
    for (file, from, to) in edits {
        let path = dir.path().join(file);
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{file} has no {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }
    dir
}

#[test]
fn every_error_is_reported_at_once() {
    let dir = edited(&[
        ("director.yaml", "vrid: 51", "vrid: 300"),
        (
            "hostgroups/http_nodes.yaml",
            "198.51.100.12",
            "198.51.100.11",
        ),
        (
            "services/http.yaml",
            "scheduler: rr",
            "scheduler: roundrobin",
        ),
        ("services/http.yaml", "interval: 2s", "interval: 2"),
        (
            "services/myapp.yaml",
            "hostgroup: myapp_nodes",
            "hostgroup: app_nodes",
        ),
    ]);
    let err = config::load(dir.path()).expect_err("five mistakes");
    let found: Vec<(String, u32, String)> = err
        .errors
        .iter()
        .map(|d| {
            let file = d
                .file
                .strip_prefix(dir.path())
                .expect("inside")
                .display()
                .to_string();
            (file, d.line, d.message.clone())
        })
        .collect();
    let files: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        files,
        vec![
            "director.yaml",
            "hostgroups/http_nodes.yaml",
            "services/http.yaml",
            "services/http.yaml",
            "services/myapp.yaml"
        ],
        "{found:#?}"
    );
    assert!(found[0].2.contains("vrid 300 is out of range"));
    assert!(found[1].2.contains("duplicate node address 198.51.100.11"));
    assert!(found[2].2.contains("unknown scheduler `roundrobin`"));
    assert!(found[3].2.contains("has no unit"));
    assert!(found[4].2.contains("unknown hostgroup `app_nodes`"));
}

#[test]
fn durations_take_decimal_fractions() {
    let dir = edited(&[
        ("services/http.yaml", "interval: 2s", "interval: 1.5s"),
        ("services/http.yaml", "randskew: 500ms", "randskew: 0.25s"),
        (
            "director.yaml",
            "reconcile_interval: 10s",
            "reconcile_interval: 1m0.5s",
        ),
    ]);
    let c = config::load(dir.path())
        .unwrap_or_else(|e| panic!("rejected:\n{e}"))
        .config;
    let w = &c.service("http").expect("http").watch;
    assert_eq!(w.interval, Duration::from_millis(1_500));
    assert_eq!(w.randskew, Duration::from_millis(250));
    assert_eq!(c.director.reconcile_interval, Duration::from_millis(60_500));
}

#[test]
fn dr_and_tunnel_use_the_virtual_port_nat_the_node_or_service_port() {
    let dir = edited(&[
        (
            "hostgroups/http_nodes.yaml",
            "    # port: 8080",
            "    port: 8080",
        ),
        ("services/myapp.yaml", "forwarding: nat", "forwarding: dr"),
        (
            "services/myapp.yaml",
            "hostgroup: myapp_nodes",
            "hostgroup: http_nodes",
        ),
        ("director.yaml", "vrid: 51", "vrid: 51"),
    ]);
    // http_nodes is now used by both; myapp_nodes by none (a warning, not an error).
    let loaded = config::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0]
        .message
        .contains("`myapp_nodes` is not used"));
    let c = &loaded.config;
    let group = &c.hostgroups["http_nodes"];
    let http = c.service("http").expect("http");
    let myapp = c.service("myapp").expect("myapp");
    // NAT: rs3 has its own port 8080; the others take the service's `port: 80`.
    let nat: Vec<u16> = group.nodes.iter().map(|n| http.real_port(n)).collect();
    assert_eq!(nat, vec![80, 80, 8080]);
    // DR: every real server gets the virtual port, whatever the node says.
    let dr: Vec<u16> = group.nodes.iter().map(|n| myapp.real_port(n)).collect();
    assert_eq!(dr, vec![5000, 5000, 5000]);
}

#[test]
fn fwmark_services_and_ipv6_persistence() {
    let dir = edited(&[
        (
            "services/myapp.yaml",
            "  protocol: tcp\n  address: 192.0.2.10\n  port: 5000\n",
            "  fwmark: 7\n  family: ipv6\npersistent:\n  timeout: 600s\n  netmask: 64\n",
        ),
        (
            "services/myapp.yaml",
            "forwarding: nat",
            "forwarding: tunnel\ntunnel: {type: gue, port: 6080}",
        ),
    ]);
    let loaded = config::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let myapp = loaded.config.service("myapp").expect("myapp");
    assert_eq!(
        myapp.virtual_service,
        Virtual::Fwmark {
            fwmark: 7,
            family: Family::Ipv6
        }
    );
    let p = myapp.persistent.expect("persistent");
    assert_eq!((p.timeout, p.netmask), (Duration::from_secs(600), 64));
    assert!(matches!(myapp.forwarding, Forwarding::Tunnel(t) if t.port == Some(6080)));
    // Only tunnel forwarding may mix families: this IPv6 service is served by IPv4 nodes.
    let nodes = &loaded.config.hostgroup_of(myapp).expect("hostgroup").nodes;
    assert!(nodes.iter().all(|n| n.address.is_ipv4()), "{nodes:?}");
    assert_eq!(loaded.warnings, vec![]);
}

/// A configuration that gives only what is required takes the documented defaults everywhere.
#[test]
fn minimal_configuration_takes_the_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    };
    write(
        "director.yaml",
        "name: d\nvrrp:\n  - {name: v, interface: eth0, vrid: 7, priority: 100, vips: [192.0.2.10]}\n",
    );
    write(
        "hostgroups/web.yaml",
        "nodes:\n  - {name: a, address: 198.51.100.11}\n",
    );
    write(
        "services/web.yaml",
        "virtual: {address: 192.0.2.10, port: 80}\nhostgroup: web\nwatch: {monitor: tcp}\n",
    );
    let loaded = config::load(dir.path()).unwrap_or_else(|e| panic!("rejected:\n{e}"));
    assert_eq!(loaded.warnings, vec![]);
    let c = loaded.config;

    let d = &c.director;
    assert_eq!(d.state_dir, Path::new(config::DEFAULT_STATE_DIR));
    assert_eq!(d.control.socket, Path::new(config::DEFAULT_CONTROL_SOCKET));
    assert_eq!(d.control.group, None);
    assert_eq!(d.control.others, config::ControlOthers::None);
    assert_eq!(d.listen, config::DEFAULT_LISTEN);
    assert_eq!(d.reconcile_interval, Duration::from_secs(10));
    assert_eq!(d.mass_removal_guard, 50);
    assert_eq!(d.monitor_dir, Path::new(config::DEFAULT_MONITOR_DIR));
    assert_eq!(d.alert_dir, Path::new(config::DEFAULT_ALERT_DIR));
    assert_eq!(d.sync_daemon, None);
    assert_eq!(d.vrrp_rt_priority, None);
    let vi = &d.vrrp[0];
    assert_eq!(vi.advert_interval, Duration::from_secs(1));
    assert!(vi.preempt);
    assert_eq!(vi.preempt_delay, Duration::ZERO);
    assert!(vi.unicast_peers.is_empty());
    assert_eq!(vi.unicast_src_ip, None);
    assert_eq!(vi.track, None);
    assert_eq!(vi.garp, config::GarpConfig::default());
    assert_eq!((&vi.use_vmac, vi.vmac_xmit_base), (&None, false));

    let g = &c.hostgroups["web"];
    assert_eq!((g.nodes[0].weight, g.nodes[0].port), (1, None));
    assert_eq!(g.ping, Some(config::PingWatch::default()));
    let p = config::PingWatch::default();
    assert_eq!(
        (p.interval, p.timeout, p.rise, p.fall),
        (
            config::DEFAULT_PING_INTERVAL,
            config::DEFAULT_PING_TIMEOUT,
            config::DEFAULT_PING_RISE,
            config::DEFAULT_PING_FALL
        )
    );
    assert_eq!(
        (p.numalerts, p.alert_timeout),
        (None, Duration::from_secs(30))
    );

    let s = c.service("web").expect("service named after its file");
    assert_eq!(s.virtual_service.port(), 80);
    assert!(matches!(
        s.virtual_service,
        Virtual::Address {
            protocol: Protocol::Tcp,
            ..
        }
    ));
    assert_eq!(s.scheduler, Scheduler::Wlc);
    assert_eq!(s.scheduler_flags, config::SchedulerFlags::default());
    assert_eq!(s.persistent, None);
    assert!(!s.one_packet);
    assert_eq!(s.forwarding, Forwarding::Nat);
    assert_eq!(s.port, None);
    assert_eq!((s.upper_threshold, s.lower_threshold), (0, 0));
    assert_eq!((s.quorum, s.sorry_server), (1, None));
    let w = &s.watch;
    assert_eq!(w.interval, config::DEFAULT_INTERVAL);
    assert_eq!(w.randskew, Duration::ZERO);
    // Half the interval, at most 5s.
    assert_eq!(w.timeout, config::DEFAULT_TIMEOUT_MAX);
    assert_eq!((w.rise, w.fall), (1, 1));
    assert_eq!(w.failed_interval, w.interval);
    assert_eq!((w.alert.len(), w.upalert.len()), (0, 0));
    assert_eq!(
        (w.numalerts, w.alert_timeout),
        (None, Duration::from_secs(30))
    );
}

/// `director.yaml` with its commented `track` keys, `track_scripts` and `track_files`
/// uncommented, as an operator would.
fn uncomment_tracking(text: &str) -> String {
    let mut out = String::new();
    let mut in_defs = false;
    for line in text.lines() {
        if ["# track_scripts:", "# track_files:", "# track_processes:"]
            .iter()
            .any(|p| line.starts_with(p))
        {
            in_defs = true;
        } else if !line.starts_with("#   ") && !line.starts_with("    ") {
            in_defs = false;
        }
        let instance_track = [
            "    # track:",
            "    #   interfaces",
            "    #   priority",
            "    #   scripts",
            "    #   files",
            "    #   processes",
        ]
        .iter()
        .any(|p| line.starts_with(p));
        if instance_track {
            out.push_str(&line.replacen("# ", "", 1));
        } else if in_defs && line.starts_with('#') {
            out.push_str(&line[2..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_documented_track_scripts_files_and_processes_load_as_documented() {
    let dir = edited(&[]);
    let file = dir.path().join("director.yaml");
    let text = uncomment_tracking(&fs::read_to_string(&file).expect("read"));
    fs::write(&file, &text).expect("write");
    let loaded = config::load(dir.path()).unwrap_or_else(|e| panic!("rejected:\n{e}\n{text}"));
    let d = &loaded.config.director;
    let s = &d.track_scripts[0];
    assert_eq!(s.name, "chk_proxy");
    assert_eq!(s.command, ["/usr/local/bin/chk-proxy", "--quiet"]);
    assert_eq!(s.interval, Duration::from_secs(2));
    assert_eq!(s.timeout, Some(Duration::from_secs(1)));
    assert_eq!((s.weight, s.rise, s.fall), (-20, 1, 1));
    assert_eq!(s.user.as_deref(), Some("nobody"));
    let f = &d.track_files[0];
    assert_eq!((f.name.as_str(), f.weight), ("maint", 1));
    assert_eq!(f.path, Path::new("/run/lbd/maint"));
    let p = &d.track_processes[0];
    assert_eq!(
        (p.name.as_str(), p.process.as_slice()),
        ("haproxy", &["haproxy".to_string()][..])
    );
    assert_eq!((p.quorum, p.quorum_max, p.weight), (1, Some(4), -50));
    assert_eq!(p.fork_delay, Duration::from_secs(2));
    assert_eq!(p.terminate_delay, Duration::from_secs(2));
    let t = d.vrrp[0].track.as_ref().expect("track");
    let ifs: Vec<(&str, Option<i16>)> = t
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.weight))
        .collect();
    assert_eq!(ifs, [("eth1", None), ("eth2", Some(-40))]);
    assert_eq!(t.scripts[0].name, "chk_proxy");
    assert_eq!(t.scripts[0].weight, None, "the script's own weight");
    assert_eq!(t.files[0].name, "maint");
    assert_eq!(t.processes[0].name, "haproxy");
}

/// The commented `garp:` block of `director.yaml`, uncommented, loads with the documented
/// values, which are the defaults.
#[test]
fn the_documented_garp_block_is_the_default() {
    let dir = edited(&[]);
    let file = dir.path().join("director.yaml");
    let text: String = fs::read_to_string(&file)
        .expect("read")
        .lines()
        .map(|l| {
            let garp = [
                "    # garp:",
                "    #   count",
                "    #   interval",
                "    #   delay",
            ]
            .iter()
            .chain(&["    #   refresh"])
            .any(|p| l.starts_with(p));
            if garp {
                l.replacen("# ", "", 1) + "\n"
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(text.contains("    garp:"), "{text}");
    fs::write(&file, &text).expect("write");
    let loaded = config::load(dir.path()).unwrap_or_else(|e| panic!("rejected:\n{e}\n{text}"));
    let g = &loaded.config.director.vrrp[0].garp;
    assert_eq!(g, &config::GarpConfig::default());
    assert_eq!(
        (g.count, g.interval, g.delay, g.refresh, g.refresh_count),
        (
            5,
            Duration::from_millis(200),
            Duration::from_secs(5),
            Duration::from_secs(60),
            1
        )
    );
}

/// The commented `use_vmac` and `vmac_xmit_base` lines of `director.yaml`, uncommented, load:
/// `true` is named `vrrp.VRID`.
#[test]
fn the_documented_vmac_keys_load() {
    let dir = edited(&[
        (
            "director.yaml",
            "    # use_vmac: true",
            "    use_vmac: true",
        ),
        (
            "director.yaml",
            "    # vmac_xmit_base: false",
            "    vmac_xmit_base: false",
        ),
    ]);
    let loaded = config::load(dir.path()).unwrap_or_else(|e| panic!("rejected:\n{e}"));
    let vi = &loaded.config.director.vrrp[0];
    assert_eq!(vi.use_vmac, Some(config::UseVmac::Named("vrrp.51".into())));
    assert!(!vi.vmac_xmit_base);
}

/// keepalived's default names, with no name given to two VMACs: a second VRID 51 gets
/// `vrrp6.51` over IPv6; a name an instance gives is not taken by a `true`.
#[test]
fn vmacs_are_named_as_keepalived_names_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("director.yaml"),
        "name: d\nvrrp:\n\
         \x20 - {name: a, interface: eth0, vrid: 51, priority: 100, vips: [192.0.2.10], use_vmac: true}\n\
         \x20 - {name: b, interface: eth1, vrid: 51, priority: 100, vips: ['2001:db8::10'], use_vmac: true}\n\
         \x20 - {name: c, interface: eth0, vrid: 52, priority: 100, vips: [192.0.2.11], use_vmac: vrrp.53}\n\
         \x20 - {name: e, interface: eth1, vrid: 53, priority: 100, vips: [198.51.100.1], use_vmac: true}\n",
    )
    .expect("write");
    let loaded = config::load(dir.path()).unwrap_or_else(|e| panic!("rejected:\n{e}"));
    let names: Vec<_> = loaded
        .config
        .director
        .vrrp
        .iter()
        .map(|i| match &i.use_vmac {
            Some(config::UseVmac::Named(n)) => n.as_str(),
            other => panic!("{}: {other:?}", i.name),
        })
        .collect();
    assert_eq!(names, ["vrrp.51", "vrrp6.51", "vrrp.53", "vrrp1.53"]);
}
