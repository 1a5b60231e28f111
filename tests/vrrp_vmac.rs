//! `use_vmac` between real processes in host network namespaces (root, no VM), on the lab of
//! `vrrp_support`: the VIP on a macvlan with the virtual router MAC, which the client's
//! neighbour entry keeps across failovers, between two lbd and with keepalived 2.2.7 both
//! ways; a clean stop deletes the VMAC, a killed one leaves it for the next start to reuse.

mod vrrp_support;

use std::thread;
use std::time::{Duration, Instant};

use vrrp_support::*;

/// The IPv4 virtual router MAC of VRID 51.
const VMAC4: &str = "00:00:5e:00:01:33";
/// The IPv6 one.
const VMAC6: &str = "00:00:5e:00:02:33";
const VMAC_IF: &str = "vrrp.51";

fn lbd_vmac(lab: &Lab, ns: &Netns, name: &str, priority: u8) -> Proc {
    lbd_yaml(
        lab,
        ns,
        name,
        priority,
        "advert_interval: 100ms\nuse_vmac: true\n",
    )
}

/// keepalived with `use_vmac` (VRRPv3, VRID 51 on eth0, 100 ms adverts).
fn keepalived_vmac(lab: &Lab, ns: &Netns, name: &str, priority: u8) -> Proc {
    let text = format!(
        "global_defs {{\n  vrrp_version 3\n  router_id {name}\n}}\n\
         vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  use_vmac\n  \
         virtual_router_id 51\n  priority {priority}\n  advert_int 0.1\n  \
         virtual_ipaddress {{\n    {VIP4}/24\n  }}\n}}\n"
    );
    keepalived_conf(lab, ns, name, &text)
}

fn sysctl(ns: &Netns, path: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.0, "cat", &format!("/proc/sys/{path}")])
        .output()
        .expect("read sysctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn set_sysctl(ns: &Netns, path: &str, value: &str) {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "sh",
            "-c",
            &format!("echo {value} > /proc/sys/{path}"),
        ])
        .output()
        .expect("write sysctl");
    assert!(out.status.success(), "{path}={value}");
}

/// Every neighbour MAC the client had for `vip` while `f` ran (sampled every 10 ms).
fn neighbour_macs_during(lab: &Lab, vip: &str, f: impl FnOnce()) -> Vec<String> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s, client) = (stop.clone(), lab.client.0.clone());
    let vip = vip.to_string();
    let sampler = thread::spawn(move || {
        let mut seen: Vec<String> = Vec::new();
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            let out = ip(&["-n", &client, "neigh", "show", &vip]);
            let mut w = out.split_whitespace();
            if w.any(|x| x == "lladdr") {
                if let Some(m) = w.next().filter(|m| !seen.iter().any(|s| s == m)) {
                    seen.push(m.to_string());
                }
            }
            thread::sleep(Duration::from_millis(10));
        }
        seen
    });
    f();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().expect("sampler")
}

#[test]
fn an_lbd_pair_keeps_the_vips_mac_across_failover() {
    let _g = serial();
    let lab = Lab::new("vm4");
    let mut m = lbd_vmac(&lab, &lab.d1, "d1", 150);
    let b = lbd_vmac(&lab, &lab.d2, "d2", 100);
    wait_for(
        "d1 to own the VIP on its VMAC",
        Duration::from_secs(8),
        || lab.has_vip_on(&lab.d1, VMAC_IF, VIP4),
    );
    thread::sleep(Duration::from_millis(300));
    for d in [&lab.d1, &lab.d2] {
        assert_eq!(lab.link_mac(d, VMAC_IF).as_deref(), Some(VMAC4), "{}", d.0);
        assert!(!lab.has_vip(d, VIP4), "no VIP on {}'s eth0", d.0);
    }
    assert!(
        !lab.has_vip_on(&lab.d2, VMAC_IF, VIP4),
        "backup holds the VIP"
    );
    assert!(
        status(&lab, "d2")["adverts_accepted"].as_u64() > Some(0),
        "the backup hears the master's VMAC adverts: {}",
        status(&lab, "d2")
    );
    lab.poke(VIP4);
    wait_for(
        "the client to resolve the VIP",
        Duration::from_secs(3),
        || lab.neigh_mac(VIP4).is_some(),
    );
    assert_eq!(lab.neigh_mac(VIP4).as_deref(), Some(VMAC4), "{}", m.log());
    // The switch learns the virtual MAC where the master is: its adverts come from it.
    assert_eq!(lab.bridge_port(VMAC4).as_deref(), Some("p-d1"));

    let watch = GarpWatch::start(&lab.client);
    let killed = Instant::now();
    let mut took = Duration::ZERO;
    let seen = neighbour_macs_during(&lab, VIP4, || {
        m.kill();
        took = wait_for("d2 to own the VIP", Duration::from_secs(3), || {
            lab.has_vip_on(&lab.d2, VMAC_IF, VIP4)
        });
        wait_for(
            "the switch to learn the VMAC on d2's port",
            Duration::from_secs(2),
            || lab.bridge_port(VMAC4).as_deref() == Some("p-d2"),
        );
    });
    let garp = watch
        .first_from(killed, VIP4, VMAC4)
        .expect("a gratuitous ARP with the virtual MAC");
    eprintln!(
        "failover: VIP on d2's VMAC after {took:?}, GARP from {VMAC4} after {:?}; client's entry: {seen:?}",
        garp - killed
    );
    assert_eq!(seen, [VMAC4], "the client's entry never changed its MAC");
    assert!(took < Duration::from_millis(800), "failover took {took:?}");
    assert!(b.log().contains("interface=vrrp.51"), "{}", b.log());

    // The killed d1 left its VMAC (with the VIP): the next start reuses it, holds no VIP as
    // backup, then preempts; the client's entry still has the same MAC.
    assert_eq!(lab.link_mac(&lab.d1, VMAC_IF).as_deref(), Some(VMAC4));
    let again = lbd_vmac(&lab, &lab.d1, "d1-again", 150);
    wait_for("d1 to take the VIP back", Duration::from_secs(8), || {
        lab.has_vip_on(&lab.d1, VMAC_IF, VIP4) && !lab.has_vip_on(&lab.d2, VMAC_IF, VIP4)
    });
    assert!(
        again.log().contains("reusing the VMAC a previous run left"),
        "{}",
        again.log()
    );
    wait_for(
        "the switch to learn the VMAC on d1's port",
        Duration::from_secs(2),
        || lab.bridge_port(VMAC4).as_deref() == Some("p-d1"),
    );
    assert_eq!(lab.neigh_mac(VIP4).as_deref(), Some(VMAC4));
}

/// `vmac_xmit_base` with unicast peers: the adverts go from eth0 to the peer's eth0, the VIP
/// is still on the VMAC and keeps its MAC across the failover.
#[test]
fn vmac_xmit_base_sends_unicast_adverts_on_the_interface() {
    let _g = serial();
    let lab = Lab::new("vxb");
    let conf = |peer: &str| {
        format!(
            "advert_interval: 100ms\nuse_vmac: true\nvmac_xmit_base: true\nunicast_peers: [{peer}]\n"
        )
    };
    let mut m = lbd_yaml(&lab, &lab.d1, "d1", 150, &conf("192.0.2.3"));
    let b = lbd_yaml(&lab, &lab.d2, "d2", 100, &conf("192.0.2.2"));
    wait_for(
        "d1 to own the VIP on its VMAC",
        Duration::from_secs(8),
        || lab.has_vip_on(&lab.d1, VMAC_IF, VIP4),
    );
    thread::sleep(Duration::from_millis(300));
    assert!(!lab.has_vip_on(&lab.d2, VMAC_IF, VIP4), "{}", b.log());
    let heard = status(&lab, "d2")["adverts_accepted"].as_u64().unwrap_or(0);
    assert!(heard > 0, "d2 hears d1's unicast adverts on eth0");
    lab.poke(VIP4);
    wait_for(
        "the client to resolve the VIP",
        Duration::from_secs(3),
        || lab.neigh_mac(VIP4).is_some(),
    );
    assert_eq!(lab.neigh_mac(VIP4).as_deref(), Some(VMAC4), "{}", m.log());
    let seen = neighbour_macs_during(&lab, VIP4, || {
        m.kill();
        // As if d1 were gone: its VMAC would answer d2's gratuitous ARPs (ARP requests from
        // the VIP) with the same MAC, and with no advert from d2's VMAC the switch would keep
        // learning that MAC on d1's port.
        ip(&["-n", &lab.d1.0, "link", "del", VMAC_IF]);
        wait_for("d2 to own the VIP", Duration::from_secs(3), || {
            lab.has_vip_on(&lab.d2, VMAC_IF, VIP4)
        });
        wait_for(
            "the switch to learn the VMAC on d2's port",
            Duration::from_secs(2),
            || lab.bridge_port(VMAC4).as_deref() == Some("p-d2"),
        );
    });
    assert_eq!(seen, [VMAC4], "the client's entry never changed its MAC");
}

#[test]
fn an_ipv6_pair_announces_the_ipv6_virtual_mac() {
    let _g = serial();
    let lab = Lab::new("vm6");
    let vmac = ["--use-vmac".to_string()];
    let mut m = lbd_with(&lab, &lab.d1, "d1", 150, "100ms", VIP6, &vmac);
    let _b = lbd_with(&lab, &lab.d2, "d2", 100, "100ms", VIP6, &vmac);
    wait_for(
        "d1 to own the VIP on its VMAC",
        Duration::from_secs(8),
        || lab.has_vip_on(&lab.d1, VMAC_IF, VIP6),
    );
    assert_eq!(lab.link_mac(&lab.d1, VMAC_IF).as_deref(), Some(VMAC6));
    // The VMAC sends from the director's link-local address (none generated from its MAC).
    let addrs = ip(&["-n", &lab.d1.0, "-6", "-br", "addr", "show", "dev", VMAC_IF]);
    assert!(addrs.contains("fe80::ff:fe00:101/64"), "{addrs}");
    assert!(!addrs.contains("fe80::200:5eff"), "{addrs}");
    lab.poke(VIP6);
    wait_for(
        "the client to resolve the VIP",
        Duration::from_secs(3),
        || lab.neigh_mac(VIP6).is_some(),
    );
    assert_eq!(lab.neigh_mac(VIP6).as_deref(), Some(VMAC6), "{}", m.log());
    let seen = neighbour_macs_during(&lab, VIP6, || {
        m.kill();
        wait_for("d2 to own the VIP", Duration::from_secs(3), || {
            lab.has_vip_on(&lab.d2, VMAC_IF, VIP6)
        });
        wait_for(
            "the switch to learn the VMAC on d2's port",
            Duration::from_secs(2),
            || lab.bridge_port(VMAC6).as_deref() == Some("p-d2"),
        );
    });
    assert_eq!(seen, [VMAC6], "the client's entry never changed its MAC");
}

#[test]
fn keepalived_interop_with_use_vmac_both_directions() {
    let _g = serial();
    let lab = Lab::new("vka");
    // keepalived master, lbd backup: kill keepalived, lbd takes over.
    let mut k = keepalived_vmac(&lab, &lab.d1, "ka1", 150);
    let mut l = lbd_vmac(&lab, &lab.d2, "lbd2", 100);
    wait_for(
        "keepalived to own the VIP on its VMAC",
        Duration::from_secs(8),
        || lab.has_vip_on(&lab.d1, VMAC_IF, VIP4),
    );
    thread::sleep(Duration::from_millis(500));
    assert!(
        !lab.has_vip_on(&lab.d2, VMAC_IF, VIP4),
        "lbd must follow keepalived"
    );
    assert_eq!(
        lab.link_mac(&lab.d1, VMAC_IF).as_deref(),
        Some(VMAC4),
        "the same MAC"
    );
    assert_eq!(lab.bridge_port(VMAC4).as_deref(), Some("p-d1"));
    k.kill();
    // What keepalived leaves behind when killed: its VMAC with the VIP.
    ip(&["-n", &lab.d1.0, "link", "del", VMAC_IF]);
    wait_for(
        "lbd to take over from keepalived",
        Duration::from_secs(3),
        || lab.has_vip_on(&lab.d2, VMAC_IF, VIP4),
    );
    // keepalived comes back with the higher priority and preempts lbd, whose adverts and
    // keepalived's agree (nothing dropped).
    let mut k2 = keepalived_vmac(&lab, &lab.d1, "ka1b", 150);
    wait_for("keepalived to preempt lbd", Duration::from_secs(8), || {
        lab.has_vip_on(&lab.d1, VMAC_IF, VIP4) && !lab.has_vip_on(&lab.d2, VMAC_IF, VIP4)
    });
    wait_for(
        "the switch to learn the VMAC on d1's port",
        Duration::from_secs(2),
        || lab.bridge_port(VMAC4).as_deref() == Some("p-d1"),
    );
    assert!(l.stop(), "{}", l.log());
    let log = l.log();
    assert!(
        log.contains("Master -> Backup: higher priority master 192.0.2.2 (150)"),
        "{log}"
    );
    assert!(
        log.contains("drops=DropCounters({})"),
        "lbd dropped adverts:\n{log}"
    );
    assert_eq!(
        lab.link_mac(&lab.d2, VMAC_IF),
        None,
        "a clean stop deletes the VMAC"
    );
    k2.kill();
    ip(&["-n", &lab.d1.0, "link", "del", VMAC_IF]);

    // lbd master, keepalived backup: kill lbd, keepalived takes over.
    let mut l = lbd_vmac(&lab, &lab.d1, "lbd1", 150);
    let k = keepalived_vmac(&lab, &lab.d2, "ka2", 100);
    wait_for(
        "lbd to own the VIP on its VMAC",
        Duration::from_secs(8),
        || lab.has_vip_on(&lab.d1, VMAC_IF, VIP4),
    );
    thread::sleep(Duration::from_millis(800));
    assert!(
        !lab.has_vip_on(&lab.d2, VMAC_IF, VIP4),
        "keepalived must follow lbd:\n{}",
        k.log()
    );
    assert_eq!(lab.link_mac(&lab.d2, VMAC_IF).as_deref(), Some(VMAC4));
    l.kill();
    wait_for(
        "keepalived to take over from lbd",
        Duration::from_secs(3),
        || lab.has_vip_on(&lab.d2, VMAC_IF, VIP4),
    );
    wait_for(
        "the switch to learn the VMAC on d2's port",
        Duration::from_secs(2),
        || lab.bridge_port(VMAC4).as_deref() == Some("p-d2"),
    );
    // lbd restarts on its left-over VMAC and preempts keepalived.
    let l2 = lbd_vmac(&lab, &lab.d1, "lbd1b", 150);
    wait_for("lbd to preempt keepalived", Duration::from_secs(8), || {
        lab.has_vip_on(&lab.d1, VMAC_IF, VIP4) && !lab.has_vip_on(&lab.d2, VMAC_IF, VIP4)
    });
    assert!(l2.log().contains("reusing the VMAC"), "{}", l2.log());
}

#[test]
fn a_clean_stop_deletes_the_vmac_and_a_killed_one_is_reused_recreated_or_refused() {
    let _g = serial();
    let lab = Lab::new("vst");
    let d = &lab.d1;
    // A host that filters strictly everywhere: lbd moves it onto each interface.
    set_sysctl(d, "net/ipv4/conf/all/rp_filter", "1");
    let mut m = lbd_vmac(&lab, d, "d1", 150);
    wait_for(
        "d1 to own the VIP on its VMAC",
        Duration::from_secs(8),
        || lab.has_vip_on(d, VMAC_IF, VIP4),
    );
    let read = |p: &str| sysctl(d, p);
    let base: Vec<String> = ["arp_ignore", "arp_filter", "arp_announce", "rp_filter"]
        .iter()
        .map(|k| read(&format!("net/ipv4/conf/eth0/{k}")))
        .collect();
    assert_eq!(base, ["1", "1", "2", "1"], "eth0's arp_* and rp_filter");
    let vmac: Vec<String> = ["arp_ignore", "accept_local", "rp_filter"]
        .iter()
        .map(|k| read(&format!("net/ipv4/conf/{VMAC_IF}/{k}")))
        .collect();
    assert_eq!(vmac, ["1", "1", "0"], "the VMAC's");
    assert_eq!(read("net/ipv4/conf/all/rp_filter"), "0");
    assert_eq!(read("net/ipv4/conf/default/rp_filter"), "1");
    assert_eq!(read(&format!("net/ipv6/conf/{VMAC_IF}/disable_ipv6")), "1");

    // A clean stop: the VMAC is deleted, eth0's ARP settings are put back.
    assert!(m.stop(), "{}", m.log());
    assert!(m.log().contains("vmac deleted"), "{}", m.log());
    assert_eq!(lab.link_mac(d, VMAC_IF), None);
    for k in ["arp_ignore", "arp_filter", "arp_announce"] {
        assert_eq!(read(&format!("net/ipv4/conf/eth0/{k}")), "0", "{k}");
    }

    // kill -9 leaves the VMAC; a start with another MAC on it recreates it.
    let mut k = lbd_vmac(&lab, d, "d1-killed", 150);
    wait_for("the VIP", Duration::from_secs(8), || {
        lab.has_vip_on(d, VMAC_IF, VIP4)
    });
    k.kill();
    assert_eq!(lab.link_mac(d, VMAC_IF).as_deref(), Some(VMAC4));
    ip(&[
        "-n",
        &d.0,
        "link",
        "set",
        VMAC_IF,
        "address",
        "02:00:00:00:01:99",
    ]);
    let r = lbd_vmac(&lab, d, "d1-recreated", 150);
    // (The killed one's VIP is still there until the new start removes it.)
    wait_for(
        "the new start to add the VIP",
        Duration::from_secs(8),
        || r.log().contains("added vip"),
    );
    assert!(lab.has_vip_on(d, VMAC_IF, VIP4));
    assert!(r.log().contains("recreating it"), "{}", r.log());
    assert_eq!(lab.link_mac(d, VMAC_IF).as_deref(), Some(VMAC4));
    drop(r);

    // An interface of that name that is no macvlan of eth0: lbd does not start.
    let d2 = &lab.d2;
    ip(&[
        "-n", &d2.0, "link", "add", VMAC_IF, "type", "veth", "peer", "name", "vx",
    ]);
    let mut refused = lbd_vmac(&lab, d2, "d2-refused", 100);
    assert_eq!(
        refused.exit_within(Duration::from_secs(5)),
        Some(false),
        "lbd must refuse to start on a veth"
    );
    let log = refused.log();
    assert!(
        log.contains(
            "vmac vrrp.51: an interface of that name exists and is a veth interface, not a macvlan"
        ),
        "{log}"
    );
    assert!(lab.link_mac(d2, "vx").is_some(), "the veth is left alone");
}

/// As under the packaged unit (`ProtectKernelTunables=yes`: `/proc/sys` read-only), the
/// VMAC still gets its ARP settings and no IPv6 address (rtnetlink); only what has no
/// rtnetlink form (`disable_ipv6`) is refused, and said.
#[test]
fn the_arp_settings_hold_under_a_read_only_proc_sys() {
    let _g = serial();
    let lab = Lab::new("vro");
    let d = &lab.d1;
    let conf = lab.dir.path().join("d1.yaml");
    std::fs::write(
        &conf,
        format!(
            "name: d1\ninterface: eth0\nvrid: 51\npriority: 150\nvips: ['{VIP4}/24']\n\
             advert_interval: 100ms\nuse_vmac: true\n"
        ),
    )
    .expect("write conf");
    let log = lab.dir.path().join("d1.log");
    let out = std::fs::File::create(&log).expect("log file");
    let script = format!(
        "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && \
         exec ip netns exec {} {} vrrp --config {}",
        d.0,
        env!("CARGO_BIN_EXE_lbd"),
        conf.display()
    );
    let child = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .expect("spawn");
    let m = Proc {
        child: Some(child),
        log,
        extra_pid_file: None,
    };
    wait_for(
        "d1 to own the VIP on its VMAC",
        Duration::from_secs(8),
        || lab.has_vip_on(d, VMAC_IF, VIP4),
    );
    let read = |p: &str| sysctl(d, p);
    for (path, want) in [
        ("net/ipv4/conf/eth0/arp_ignore", "1"),
        ("net/ipv4/conf/eth0/arp_filter", "1"),
        ("net/ipv4/conf/eth0/arp_announce", "2"),
        ("net/ipv4/conf/vrrp.51/arp_ignore", "1"),
        ("net/ipv4/conf/vrrp.51/accept_local", "1"),
        ("net/ipv6/conf/vrrp.51/addr_gen_mode", "1"),
    ] {
        assert_eq!(read(path), want, "{path}\n{}", m.log());
    }
    let v6 = ip(&["-n", &d.0, "-6", "-br", "addr", "show", "dev", VMAC_IF]);
    assert!(!v6.contains("fe80"), "no link-local on the VMAC: {v6}");
    assert!(
        m.log()
            .contains("sysctl=net/ipv6/conf/vrrp.51/disable_ipv6"),
        "{}",
        m.log()
    );
    lab.poke(VIP4);
    wait_for(
        "the client to resolve the VIP",
        Duration::from_secs(3),
        || lab.neigh_mac(VIP4).is_some(),
    );
    assert_eq!(lab.neigh_mac(VIP4).as_deref(), Some(VMAC4));
}

/// A reload restarts a changed instance: its successor starts while it stops, in the same
/// process, on the same VMAC, which the one stopping leaves to it; the successor's own clean
/// stop then deletes it.
#[test]
fn a_reloaded_instance_leaves_its_vmac_to_its_successor() {
    use lbd::vrrp::{run_instance, InstanceConfig, NoSyncDaemon};
    let _g = serial();
    let lab = Lab::new("vrl");
    let outcome = in_netns(&lab.d1.0, || {
        let vmac_there = || {
            std::process::Command::new("ip")
                .args(["-br", "link", "show", "dev", VMAC_IF])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let cfg: InstanceConfig = serde_saphyr::from_str(&format!(
                "name: vi\ninterface: eth0\nvrid: 51\npriority: 150\nadvert_interval: 100ms\n\
                 use_vmac: true\nvips: ['{VIP4}/24']\n"
            ))
            .expect("config");
            let master = |c: &lbd::vrrp::Control| c.status().is_some_and(|s| s.role() == "master");
            let (a, ca) = run_instance(cfg.clone(), std::sync::Arc::new(NoSyncDaemon)).expect("a");
            let ta = tokio::spawn(a.run());
            let mut waited = 0;
            while !master(&ca) && waited < 80 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                waited += 1;
            }
            assert!(master(&ca), "the first instance never became master");
            let successor = InstanceConfig {
                priority: 140,
                ..cfg
            };
            let (b, cb) = run_instance(successor, std::sync::Arc::new(NoSyncDaemon)).expect("b");
            let tb = tokio::spawn(b.run());
            tokio::time::sleep(Duration::from_millis(300)).await;
            ca.shutdown();
            ta.await.expect("join").expect("the first instance's run");
            let kept = vmac_there();
            waited = 0;
            while !master(&cb) && waited < 80 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                waited += 1;
            }
            let took_over = master(&cb);
            cb.shutdown();
            tb.await.expect("join").expect("the successor's run");
            (kept, took_over, vmac_there())
        })
    })
    .join()
    .expect("the instances' thread");
    assert_eq!(
        outcome,
        (true, true, false),
        "(VMAC kept for the successor, the successor master on it, deleted by its stop)"
    );
}
