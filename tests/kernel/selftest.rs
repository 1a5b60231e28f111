//! The lab's self-test: proves the data path before lbd uses it. `ipvsadm` in dir1 programs a
//! TCP virtual service VIP:80 (rr) with two real servers, and HTTP requests from `client`
//! through the VIP reach both servers alternately, in NAT (masquerading), direct-routing and
//! tunnelling (IP-in-IP) mode, over IPv4 and IPv6; the real servers carry the VIP on their
//! loopback and do not answer ARP for it. Also: every IPVS scheduler module is loaded, the
//! Vagrantfile's provisioning (`vagrant/topology provision`, interfaces found by MAC) makes a
//! working real server, and the helpers' guards clean up.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use libtest_mimic::{Failed, Trial};

use super::http;
use super::netns::{self, Netns};
use super::topology::{self, Options, Topology, VIP4, VIP6};

pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test("selftest::nat_round_robin", || {
            round_robin("-m", "Masq").map_err(Failed::from)
        }),
        Trial::test("selftest::dr_round_robin", || {
            round_robin("-g", "Route").map_err(Failed::from)
        }),
        Trial::test("selftest::tunnel_round_robin", || {
            round_robin("-i", "Tunnel").map_err(Failed::from)
        }),
        Trial::test("selftest::provision_as_a_vm", || {
            provision_as_a_vm().map_err(Failed::from)
        }),
        Trial::test("selftest::every_scheduler_loads", || {
            every_scheduler_loads().map_err(Failed::from)
        }),
        Trial::test("selftest::topology_down_removes_everything", || {
            topology_down_removes_everything().map_err(Failed::from)
        }),
        Trial::test("selftest::spawned_process_ends_with_its_guard", || {
            spawned_process_ends_with_its_guard().map_err(Failed::from)
        }),
    ]
}

/// `ipvsadm` address syntax: `[v6]:port` or `v4:port`.
fn ipvsadm_addr(addr: IpAddr, port: u16) -> String {
    SocketAddr::new(addr, port).to_string()
}

/// Programs VIP:80 rr with rs1 and rs2 using `method` (-m, -g, -i) in dir1, checks `ipvsadm -Ln`
/// shows `forward` for both, then checks that 6 requests from the client alternate rs1/rs2.
fn round_robin(method: &str, forward: &str) -> Result<(), String> {
    let _topology = Topology::up(Options {
        real_servers: 2,
        static_gateway: true,
    })?;
    if method == "-g" {
        for rs in ["rs1", "rs2"] {
            real_server_keeps_the_vip_to_itself(rs)?;
        }
    }
    for (vip, v6) in [(IpAddr::V4(VIP4), false), (IpAddr::V6(VIP6), true)] {
        let service = ipvsadm_addr(vip, 80);
        netns::run("dir1", &["ipvsadm", "-A", "-t", &service, "-s", "rr"])?;
        for i in 1..=2 {
            let real = ipvsadm_addr(topology::rs(i, v6), 80);
            netns::run(
                "dir1",
                &["ipvsadm", "-a", "-t", &service, "-r", &real, method],
            )?;
        }
        let table = netns::run("dir1", &["ipvsadm", "-Ln", "-t", &service])?;
        let forwarded = table.lines().filter(|l| l.contains(forward)).count();
        if forwarded != 2 {
            return Err(format!(
                "expected 2 {forward} real servers for {service}:\n{table}"
            ));
        }
        let mut answers = Vec::new();
        for _ in 0..6 {
            answers.push(
                http::get("client", SocketAddr::new(vip, 80))?
                    .trim()
                    .to_owned(),
            );
        }
        let distinct: BTreeSet<&str> = answers.iter().map(String::as_str).collect();
        let alternates = answers.windows(2).all(|w| w[0] != w[1]);
        if distinct != BTreeSet::from(["rs1", "rs2"]) || !alternates {
            return Err(format!(
                "{service} ({forward}): answers {answers:?} are not rs1/rs2 alternately"
            ));
        }
    }
    Ok(())
}

/// Direct routing's real-server side: the VIPs on `lo`, and ARP for them neither answered
/// (arp_ignore=1: only for addresses of the asking interface) nor announced (arp_announce=2).
fn real_server_keeps_the_vip_to_itself(ns: &str) -> Result<(), String> {
    let lo = netns::run(ns, &["ip", "-br", "addr", "show", "dev", "lo"])?;
    for vip in [format!("{VIP4}/32"), format!("{VIP6}/128")] {
        if !lo.split_whitespace().any(|a| a == vip) {
            return Err(format!("{ns}: {vip} is not on lo: {lo}"));
        }
    }
    for (key, want) in [
        ("all/arp_ignore", "1"),
        ("eth0/arp_ignore", "1"),
        ("all/arp_announce", "2"),
        ("eth0/arp_announce", "2"),
    ] {
        let got = netns::run(ns, &["cat", &format!("/proc/sys/net/ipv4/conf/{key}")])?;
        if got.trim() != want {
            return Err(format!("{ns}: {key} is {} (want {want})", got.trim()));
        }
    }
    Ok(())
}

/// The Vagrantfile's provisioning on a "VM" (a namespace with one NIC whose MAC says which
/// network it is on): `vagrant/topology provision rs1 --rs-if mac:..` gives it rs1's address,
/// the VIPs on lo with ARP kept quiet, and an HTTP server answering `rs1`, reachable from a
/// neighbour on the real-server net.
fn provision_as_a_vm() -> Result<(), String> {
    const MAC: &str = "02:00:00:00:02:0b";
    let vm = Netns::new("lbd-vm")?;
    let net = Netns::new("lbd-vm-net")?;
    let state = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let topology = super::lab::project_dir().join("vagrant/topology");
    // Dropped first: stops what provisioning started (its pid files are in `state`).
    struct Down<'a>(&'a std::path::Path, &'a std::path::Path);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new(self.0)
                .arg("down")
                .env("LBD_TOPOLOGY_STATE", self.1)
                .output();
        }
    }
    let _down = Down(&topology, state.path());
    netns::run(
        net.name(),
        &[
            "ip",
            "link",
            "add",
            "peer0",
            "type",
            "veth",
            "peer",
            "name",
            "ens7",
            "address",
            MAC,
            "netns",
            vm.name(),
        ],
    )?;
    netns::run(
        net.name(),
        &["ip", "addr", "add", "198.51.100.1/24", "dev", "peer0"],
    )?;
    netns::run(net.name(), &["ip", "link", "set", "peer0", "up"])?;
    let topology_s = topology.to_string_lossy().into_owned();
    let state_s = format!("LBD_TOPOLOGY_STATE={}", state.path().display());
    netns::run(
        vm.name(),
        &[
            "env",
            &state_s,
            &topology_s,
            "provision",
            "rs1",
            "--rs-if",
            &format!("mac:{MAC}"),
        ],
    )?;
    let nic = netns::run(vm.name(), &["ip", "-br", "addr", "show", "dev", "ens7"])?;
    if !nic.split_whitespace().any(|a| a == "198.51.100.11/24") {
        return Err(format!("ens7 has not rs1's address: {nic}"));
    }
    let lo = netns::run(vm.name(), &["ip", "-br", "addr", "show", "dev", "lo"])?;
    if !lo.split_whitespace().any(|a| a == format!("{VIP4}/32")) {
        return Err(format!("the VIP is not on lo: {lo}"));
    }
    let ignore = netns::run(
        vm.name(),
        &["cat", "/proc/sys/net/ipv4/conf/ens7/arp_ignore"],
    )?;
    if ignore.trim() != "1" {
        return Err(format!("ens7 arp_ignore is {}", ignore.trim()));
    }
    // busybox httpd needs a moment to bind.
    let addr = SocketAddr::new(IpAddr::V4(topology::rs4(1)), 80);
    let mut last = String::new();
    for _ in 0..50 {
        match http::get(net.name(), addr) {
            Ok(body) if body.trim() == "rs1" => return Ok(()),
            Ok(body) => last = format!("answer {body:?}"),
            Err(e) => last = e,
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("no `rs1` from the provisioned server: {last}"))
}

/// Every scheduler the kernel package ships (all but twos) can back a service: its module is
/// loaded in the lab, or loads on demand on a host.
fn every_scheduler_loads() -> Result<(), String> {
    const SCHEDULERS: [&str; 13] = [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
    ];
    let ns = Netns::new("lbd-sched")?;
    for (port, scheduler) in (1u16..).zip(SCHEDULERS) {
        let service = format!("192.0.2.10:{port}");
        netns::run(
            ns.name(),
            &["ipvsadm", "-A", "-t", &service, "-s", scheduler],
        )?;
    }
    let table = netns::run(ns.name(), &["ipvsadm", "-Ln"])?;
    for (port, scheduler) in (1u16..).zip(SCHEDULERS) {
        let line = format!("TCP  192.0.2.10:{port} {scheduler}");
        if !table.lines().any(|l| l.trim_end() == line) {
            return Err(format!("no `{line}` in the IPVS table:\n{table}"));
        }
    }
    Ok(())
}

/// A process that `netns::spawn` started runs inside the namespace and is gone once its guard
/// drops.
fn spawned_process_ends_with_its_guard() -> Result<(), String> {
    let ns = Netns::new("lbd-spawn")?;
    let mut sleeper = netns::spawn(ns.name(), &["sleep", "600"])?;
    let pid = sleeper.id();
    if !sleeper.is_running() {
        return Err("sleep 600 is not running".into());
    }
    // `ip netns exec` enters the namespace after the fork: give it a moment (up to 5 s).
    let mut pids = String::new();
    for _ in 0..50 {
        let out = std::process::Command::new("ip")
            .args(["netns", "pids", "lbd-spawn"])
            .output()
            .map_err(|e| format!("cannot run ip netns pids: {e}"))?;
        pids = String::from_utf8_lossy(&out.stdout).into_owned();
        if pids.lines().any(|p| p.trim() == pid.to_string()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if !pids.lines().any(|p| p.trim() == pid.to_string()) {
        return Err(format!("pid {pid} is not in namespace lbd-spawn: {pids:?}"));
    }
    drop(sleeper);
    if std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(format!("pid {pid} still exists after its guard dropped"));
    }
    Ok(())
}

/// Namespaces of the topology that `ip netns list` shows.
fn topology_namespaces() -> Result<Vec<String>, String> {
    let output = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map_err(|e| format!("cannot run ip netns list: {e}"))?;
    let list = String::from_utf8_lossy(&output.stdout);
    Ok(list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| ["client", "dir1", "dir2", "rs1", "rs2", "switch"].contains(n))
        .map(str::to_owned)
        .collect())
}

/// Dropping the topology removes its namespaces and stops its HTTP servers; `down` again is a
/// no-op that succeeds.
fn topology_down_removes_everything() -> Result<(), String> {
    let topology = Topology::up(Options {
        real_servers: 2,
        static_gateway: false,
    })?;
    let up = topology_namespaces()?;
    if up.len() != 6 {
        return Err(format!("expected 6 namespaces after up, found {up:?}"));
    }
    let servers = std::process::Command::new("ip")
        .args(["netns", "pids", "rs1"])
        .output()
        .map_err(|e| format!("cannot run ip netns pids: {e}"))?;
    let servers = String::from_utf8_lossy(&servers.stdout);
    let pids: Vec<&str> = servers.split_whitespace().collect();
    if pids.len() != 2 {
        return Err(format!(
            "expected 2 HTTP servers in rs1, found pids {pids:?}"
        ));
    }
    drop(topology);
    let left = topology_namespaces()?;
    if !left.is_empty() {
        return Err(format!("namespaces left after down: {left:?}"));
    }
    for pid in &pids {
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(format!("HTTP server {pid} still running after down"));
        }
    }
    let again = std::process::Command::new(super::lab::project_dir().join("vagrant/topology"))
        .arg("down")
        .status()
        .map_err(|e| format!("cannot run vagrant/topology down: {e}"))?;
    if !again.success() {
        return Err(format!("a second vagrant/topology down failed: {again}"));
    }
    Ok(())
}
