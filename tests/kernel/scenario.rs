//! End-to-end cluster scenarios (issue 9): the real `lbd` on the lab's directors, the real IPVS
//! table, and client traffic through the VIP running throughout, every request counted (see
//! [`super::traffic`]). Each scenario prints its figures (failed requests, detection and
//! outage times); BENCHMARKS.md quotes them.
//!
//! 1. a runtime shut down and back: failures only until detection, none after; it takes
//!    traffic again;
//! 2. a second application (port 5000, hostgroup `myapp_nodes`) added by `lbctl reload`
//!    without touching the first service (no failed request, its counters not reset);
//! 3. persistence (300 s) keeps a client on one real server, `sh` and `mh` keep a source on one;
//! 4. director failover under load: the master dies, the backup takes the VIP, an established
//!    connection survives (sync daemon), new ones work; the master returns and preempts;
//! 5. NAT, direct routing and tunnel forwarding (and NAT over IPv6) each carry traffic;
//! 6. a node drained under load (`lbctl drain --wait`): zero failed requests.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::control::ok as lbctl;
use super::daemon::{
    has, lab_config, real_servers, start_http, stop_http, tail, tempdir, wait_for, write, Lbd, HTTP,
};
use super::echo::{connect, echo, Echo};
use super::netns;
use super::topology::{Options, Topology};
use super::traffic::{by_server, failures, fetch, longest_gap, summary, Traffic};
use super::vrrp::{director_extra, has_vip, role, sync_is};

pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test("scenario::runtime_down_and_back", || {
            runtime_down_and_back().map_err(Failed::from)
        }),
        Trial::test("scenario::second_app_added_by_reload", || {
            second_app_added_by_reload().map_err(Failed::from)
        }),
        Trial::test(
            "scenario::persistence_sh_mh_keep_a_client_on_one_server",
            || persistence_sh_mh().map_err(Failed::from),
        ),
        Trial::test("scenario::director_failover_under_load_and_preempt", || {
            director_failover().map_err(Failed::from)
        }),
        Trial::test("scenario::nat_dr_tunnel_each_carry_traffic", || {
            nat_dr_tunnel().map_err(Failed::from)
        }),
        Trial::test("scenario::drain_under_load_fails_nothing", || {
            drain_under_load().map_err(Failed::from)
        }),
    ]
}

const LBCTL: &str = env!("CARGO_BIN_EXE_lbctl");
/// Between two requests of a traffic stream.
const PAUSE: Duration = Duration::from_millis(40);

fn vip(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], port))
}

/// Starts `lbd` on dir1 with `config` (state and log next to it).
fn start_lbd(tmp: &Path, config: &Path) -> Result<Lbd, String> {
    Lbd::start("dir1", config, &tmp.join("state"), &tmp.join("lbd.log"))
}

/// Waits until `service` has exactly the real servers `reals` (addresses with ports).
fn wait_reals(ns: &str, service: &str, reals: &[&str], lbd: &Lbd) -> Result<Duration, String> {
    let want: Vec<String> = reals.iter().map(|r| r.to_string()).collect();
    let mut seen = Vec::new();
    wait_for(
        &format!("{service} with {reals:?}"),
        Duration::from_secs(30),
        || {
            seen = real_servers(ns, Some(service))?
                .iter()
                .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
                .collect();
            seen.sort();
            Ok(seen == want)
        },
    )
    .map_err(|e| format!("{e}: it has {seen:?}\n{}", tail(&lbd.log())))
}

/// Fails unless every request in `reqs` succeeded.
fn no_failures(what: &str, reqs: &[super::traffic::Request]) -> Result<(), String> {
    if failures(reqs).is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: {}", summary(reqs)))
    }
}

/// Fails unless `server` answered one of `reqs`.
fn answered_by(what: &str, reqs: &[super::traffic::Request], server: &str) -> Result<(), String> {
    if by_server(reqs).iter().any(|(s, _)| s == server) {
        Ok(())
    } else {
        Err(format!("{what}: {server} answered none: {}", summary(reqs)))
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Two runtimes behind the VIP, one shut down and back.

fn runtime_down_and_back() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    lab_config(&config, "", "")?;
    write(
        &config.join("hostgroups/http_nodes.yaml"),
        "nodes:\n  - {name: rs1, address: 198.51.100.11}\n  - {name: rs2, address: 198.51.100.12}\n",
    )?;
    let lbd = start_lbd(tmp.path(), &config)?;
    wait_reals(
        "dir1",
        HTTP,
        &["198.51.100.11:80", "198.51.100.12:80"],
        &lbd,
    )?;

    let traffic = Traffic::start("client", vip(80), None, PAUSE)?;
    traffic.wait_requests(20, Duration::from_secs(30))?;
    let warm = traffic.requests();
    no_failures("both runtimes up", &warm)?;
    answered_by("both runtimes up", &warm, "rs2")?;

    // rs2's runtime stops: failures only until it leaves the table.
    let stopped = Instant::now();
    stop_http("rs2", 80)?;
    let detect = wait_for("rs2 out of http", Duration::from_secs(10), || {
        Ok(!has("dir1", HTTP, "198.51.100.12:80")?)
    })?;
    let removed = Instant::now();
    traffic.wait_requests(30, Duration::from_secs(30))?;
    let after = traffic.since(removed);
    no_failures("after rs2 left the table", &after)?;
    let outage = traffic.since(stopped);
    let failed = failures(&outage).len();
    eprintln!(
        "scenario 1: rs2 stopped, out of the table after {detect:?} (interval 1s + timeout 500ms); \
         {failed} of {} requests failed meanwhile, none of {} after",
        outage.len() - after.len(),
        after.len()
    );
    if detect > Duration::from_secs(3) {
        return Err(format!("rs2 took {detect:?} to leave the table"));
    }

    // It comes back and takes traffic again, without a failed request.
    let restarted = Instant::now();
    let _http = start_http("rs2", 80)?;
    let back = wait_for("rs2 back in http", Duration::from_secs(10), || {
        has("dir1", HTTP, "198.51.100.12:80")
    })?;
    let readded = Instant::now();
    wait_for("rs2 answers again", Duration::from_secs(10), || {
        Ok(by_server(&traffic.since(readded))
            .iter()
            .any(|(s, _)| s == "rs2"))
    })?;
    let comeback = traffic.since(restarted);
    no_failures("rs2 coming back", &comeback)?;
    eprintln!(
        "scenario 1: rs2 back in the table {back:?} after its runtime started; {}",
        summary(&comeback)
    );
    drop(traffic);
    lbd.stop()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. A second application added by a reload.

fn second_app_added_by_reload() -> Result<(), String> {
    const MYAPP: &str = "192.0.2.10:5000";
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    lab_config(&config, "", "")?;
    // Start with the first application only; keep the second's files for the reload.
    let (svc, group) = (
        config.join("services/myapp.yaml"),
        config.join("hostgroups/myapp_nodes.yaml"),
    );
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let (svc_text, group_text) = (read(&svc)?, read(&group)?);
    for p in [&svc, &group] {
        std::fs::remove_file(p).map_err(|e| e.to_string())?;
    }
    let mut lbd = start_lbd(tmp.path(), &config)?;
    let http_reals = ["198.51.100.11:80", "198.51.100.12:80", "198.51.100.13:80"];
    wait_reals("dir1", HTTP, &http_reals, &lbd)?;

    let traffic = Traffic::start("client", vip(80), None, PAUSE)?;
    traffic.wait_requests(20, Duration::from_secs(30))?;
    let conns_before = total_conns(HTTP)?;

    let from = lbd.log().len();
    let reloaded = Instant::now();
    write(&svc, &svc_text)?;
    write(&group, &group_text)?;
    lbctl(&config, &["reload"])?;
    let done = lbd.wait_line("reload reconcile done", from, Duration::from_secs(20))?;
    let log = lbd.log();
    let changes: Vec<&str> = log[from..]
        .lines()
        .filter(|l| l.contains("table change"))
        .collect();
    if changes.is_empty() || changes.iter().any(|l| !l.contains(MYAPP)) {
        return Err(format!(
            "the reload touched more than the new service: {done}\n{changes:#?}"
        ));
    }
    let took = wait_reals(
        "dir1",
        MYAPP,
        &["198.51.100.14:5000", "198.51.100.15:5000"],
        &lbd,
    )?;
    let myapp = Traffic::start("client", vip(5000), None, PAUSE)?;
    myapp.wait_requests(20, Duration::from_secs(30))?;
    let second = myapp.requests();
    no_failures("myapp on port 5000", &second)?;
    answered_by("myapp on port 5000", &second, "rs4")?;
    answered_by("myapp on port 5000", &second, "rs5")?;

    let first = traffic.requests();
    no_failures("http during the reload", &first)?;
    let conns_after = total_conns(HTTP)?;
    if conns_after < conns_before {
        return Err(format!(
            "http's connection counter went from {conns_before} to {conns_after}: the service was recreated"
        ));
    }
    if real_servers("dir1", Some(HTTP))?.len() != 3 {
        return Err("http lost a real server in the reload".into());
    }
    eprintln!(
        "scenario 2: reload added myapp ({} table changes, all on {MYAPP}); rs4 and rs5 serving \
         {took:?} after the reload ({:?} since `lbctl reload`); http: {} ({} during the reload); \
         myapp: {}",
        changes.len(),
        reloaded.elapsed(),
        summary(&first),
        traffic.since(reloaded).len(),
        summary(&second)
    );
    drop((traffic, myapp));
    lbd.stop()?;
    Ok(())
}

/// The service's total connection counter (`ipvsadm -Ln --stats`), reset only if recreated.
fn total_conns(service: &str) -> Result<u64, String> {
    let out = netns::run("dir1", &["ipvsadm", "-Ln", "--stats", "-t", service])?;
    out.lines()
        .find(|l| l.trim_start().starts_with("TCP"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no connection counter in:\n{out}"))
}

// ---------------------------------------------------------------------------------------------
// 3. Persistence, sh and mh.

fn persistence_sh_mh() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    lab_config(&config, "persistent: 300s\n", "")?;
    for (name, port, scheduler) in [("sticky_sh", 81, "sh"), ("sticky_mh", 82, "mh")] {
        write(
            &config.join(format!("services/{name}.yaml")),
            &format!(
                "virtual: {{address: 192.0.2.10, port: {port}}}\nscheduler: {scheduler}\n\
                 hostgroup: http_nodes\nport: 80\n\
                 watch:\n  monitor: http\n  interval: 1s\n  timeout: 500ms\n"
            ),
        )?;
    }
    // Six client addresses, so that the hashes have sources to spread.
    let sources: Vec<IpAddr> = (101..=106).map(|i| IpAddr::from([192, 0, 2, i])).collect();
    for s in &sources {
        netns::run(
            "client",
            &["ip", "addr", "add", &format!("{s}/24"), "dev", "eth0"],
        )?;
    }
    let lbd = start_lbd(tmp.path(), &config)?;
    let reals = ["198.51.100.11:80", "198.51.100.12:80", "198.51.100.13:80"];
    for port in [80, 81, 82] {
        wait_reals("dir1", &vip(port).to_string(), &reals, &lbd)?;
    }
    let table = netns::run("dir1", &["ipvsadm", "-Ln"])?;
    for want in [
        "192.0.2.10:80 rr persistent 300",
        "192.0.2.10:81 sh",
        "192.0.2.10:82 mh",
    ] {
        if !table.contains(want) {
            return Err(format!("no `{want}` in the table:\n{table}"));
        }
    }

    let mut report = Vec::new();
    for (port, what) in [(80, "rr, persistent 300 s"), (81, "sh"), (82, "mh")] {
        let mut servers = std::collections::BTreeSet::new();
        for src in &sources {
            let mut answers = Vec::new();
            for _ in 0..8 {
                let target = vip(port);
                let source = *src;
                let got = netns::in_netns("client", move || fetch(target, Some(source)))
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("{what}: GET {target} from {source}: {e}"))?;
                answers.push(got);
            }
            answers.dedup();
            if answers.len() != 1 {
                return Err(format!(
                    "{what}: client {src} moved between servers: {answers:?}"
                ));
            }
            servers.insert(answers[0].clone());
        }
        if servers.len() < 2 {
            return Err(format!(
                "{what}: six sources all landed on {servers:?}: no spreading"
            ));
        }
        report.push(format!(
            "{what}: 6 sources × 8 requests, each source on one server, {} servers used",
            servers.len()
        ));
    }
    // The kernel holds the persistence templates for the configured 300 s.
    let conns = netns::run("dir1", &["ipvsadm", "-Lnc"])?;
    let templates: Vec<&str> = conns
        .lines()
        .filter(|l| {
            // A template: the client's address with port 0, to the virtual service.
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 6 && f[3].ends_with(":0") && f[4] == "192.0.2.10:80"
        })
        .collect();
    let fresh = templates.iter().any(|l| {
        l.split_whitespace()
            .nth(1)
            .and_then(|t| t.split_once(':'))
            .and_then(|(m, _)| m.parse::<u32>().ok())
            .is_some_and(|m| m >= 4)
    });
    if templates.len() < sources.len() || !fresh {
        return Err(format!(
            "expected a persistence template per source expiring in about 5 minutes:\n{conns}"
        ));
    }
    eprintln!(
        "scenario 3: {}; {} persistence templates",
        report.join("; "),
        templates.len()
    );
    lbd.stop()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4. Director failover under load, and the master's return.

fn director_failover() -> Result<(), String> {
    let _topology = Topology::up(Options {
        real_servers: 3,
        static_gateway: false,
    })?;
    let _echo = Echo::start()?;
    let tmp = tempdir()?;
    let (s1, s2) = (tmp.path().join("s1.sock"), tmp.path().join("s2.sock"));
    let (c1, c2) = (tmp.path().join("c1"), tmp.path().join("c2"));
    for (dir, sock, prio, name) in [(&c1, &s1, 150, "dir1"), (&c2, &s2, 100, "dir2")] {
        lab_config(dir, "", &director_extra(sock, prio))?;
        let d = dir.join("director.yaml");
        let text = std::fs::read_to_string(&d).map_err(|e| e.to_string())?;
        write(&d, &text.replace("name: dir1", &format!("name: {name}")))?;
        super::echo::configure(dir)?;
    }
    let lbd1 = Lbd::start("dir1", &c1, &tmp.path().join("st1"), &tmp.path().join("l1"))?;
    let lbd2 = Lbd::start("dir2", &c2, &tmp.path().join("st2"), &tmp.path().join("l2"))?;
    let logs = |a: &Lbd, b: &Lbd| format!("dir1:\n{}\ndir2:\n{}", tail(&a.log()), tail(&b.log()));
    let ready = wait_for(
        "dir1 master with rs1:7000 and 3 web servers, dir2 backup, sync daemons",
        Duration::from_secs(40),
        || {
            Ok(role(&s1).unwrap_or_default() == "master"
                && role(&s2).unwrap_or_default() == "backup"
                && has_vip("dir1")?
                && sync_is("dir1", "master")?
                && sync_is("dir2", "backup")?
                && real_servers("dir1", Some(HTTP))?.len() == 3
                && real_servers("dir2", Some(HTTP))?.len() == 3
                && netns::run("dir1", &["ipvsadm", "-Ln", "-t", "192.0.2.10:7000"])
                    .is_ok_and(|t| t.contains("198.51.100.11:7000")))
        },
    );
    ready.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;

    // Load: web requests throughout, and a long-lived connection carrying data.
    let traffic = Traffic::start("client", vip(80), None, PAUSE)?;
    traffic.wait_requests(20, Duration::from_secs(30))?;
    let mut held = connect(vip(7000))?;
    let local = held.local_addr().map_err(|e| e.to_string())?;
    for i in 0..5 {
        echo(&mut held, &format!("before {i}\n"))?;
    }
    let client_end = format!("192.0.2.100:{}", local.port());
    let synced = wait_for(
        "the backup has the held connection",
        Duration::from_secs(10),
        || {
            Ok(netns::run("dir2", &["ipvsadm", "-Lnc"])?
                .lines()
                .any(|l| l.contains(&client_end) && l.contains("198.51.100.11:7000")))
        },
    );
    synced.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    let steady = traffic.requests();
    if !failures(&steady).is_empty() {
        let start = steady.first().map(|r| r.at).unwrap_or_else(Instant::now);
        let when: Vec<String> = failures(&steady)
            .iter()
            .map(|r| format!("{:?}: {:?}", r.at - start, r.outcome))
            .collect();
        return Err(format!(
            "before the failover: {}\n{when:#?}\n{}",
            summary(&steady),
            logs(&lbd1, &lbd2)
        ));
    }

    // The master dies: lbd killed, links down, the addresses it held gone with the power.
    let killed = Instant::now();
    lbd1.signal(libc::SIGKILL);
    for cmd in [
        "ip link set eth0 down",
        "ip link set eth1 down",
        "ip addr flush dev eth0 to 192.0.2.10/32",
        "ip addr flush dev eth1 to 198.51.100.1/32",
    ] {
        netns::run("dir1", &["sh", "-c", cmd])?;
    }
    let takeover = wait_for("dir2 holds the VIP", Duration::from_secs(15), || {
        has_vip("dir2")
    });
    takeover.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    let took_vip = killed.elapsed();
    echo(&mut held, "after the failover\n")
        .map_err(|e| format!("the held connection died: {e}\n{}", logs(&lbd1, &lbd2)))?;
    let mut fresh = connect(vip(7000))?;
    echo(&mut fresh, "new connection\n")?;
    let settled = Instant::now();
    traffic.wait_requests(30, Duration::from_secs(60))?;
    no_failures("after the backup took over", &traffic.since(settled))?;
    let failover = traffic.since(killed);
    let failover_gap = longest_gap(&traffic.requests());
    let failover_failed = failures(&failover).len();
    eprintln!(
        "scenario 4: master killed; dir2 holds the VIP after {took_vip:?}; the held connection \
         survived; web traffic: {failover_failed} of {} requests failed, longest time without \
         an answer {failover_gap:?}",
        failover.len()
    );
    if failover_gap > Duration::from_secs(6) {
        return Err(format!(
            "clients waited {failover_gap:?} for the backup: {}",
            summary(&failover)
        ));
    }

    // The master comes back (links up, lbd restarted) and preempts.
    for cmd in ["ip link set eth0 up", "ip link set eth1 up"] {
        netns::run("dir1", &["sh", "-c", cmd])?;
    }
    drop(lbd1);
    let returned = Instant::now();
    let lbd1 = Lbd::start(
        "dir1",
        &c1,
        &tmp.path().join("st1"),
        &tmp.path().join("l1-again"),
    )?;
    let preempted = wait_for("dir1 master again", Duration::from_secs(40), || {
        Ok(role(&s1).unwrap_or_default() == "master"
            && role(&s2).unwrap_or_default() == "backup"
            && has_vip("dir1")?
            && !has_vip("dir2")?)
    });
    preempted.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    let took_back = returned.elapsed();
    let settled = Instant::now();
    traffic.wait_requests(30, Duration::from_secs(60))?;
    let after = traffic.since(settled);
    if !failures(&after).is_empty() {
        let when: Vec<String> = failures(&after)
            .iter()
            .map(|r| {
                format!(
                    "{:?} after the restart, from {:?}, took {:?}: {:?}",
                    r.at - returned,
                    r.local,
                    r.took,
                    r.outcome
                )
            })
            .collect();
        let conns = |ns| netns::run(ns, &["ipvsadm", "-Lnc"]).unwrap_or_default();
        return Err(format!(
            "after the master returned ({took_back:?} to preempt): {}\n{when:#?}\n\
             dir1 conns:\n{}\ndir2 conns:\n{}\n{}\ndir1 before the restart:\n{}",
            summary(&after),
            conns("dir1"),
            conns("dir2"),
            logs(&lbd1, &lbd2),
            tail(&std::fs::read_to_string(tmp.path().join("l1")).unwrap_or_default())
        ));
    }
    let preempt = traffic.since(returned);
    let preempt_failed = failures(&preempt).len();
    echo(&mut held, "after the master returned\n").map_err(|e| {
        format!(
            "the held connection died when the master returned: {e}\n{}",
            logs(&lbd1, &lbd2)
        )
    })?;
    eprintln!(
        "scenario 4: master back; master again {took_back:?} after lbd started; the held \
         connection still works; web traffic: {preempt_failed} of {} requests failed; overall {}",
        preempt.len(),
        summary(&traffic.requests())
    );
    drop(traffic);
    drop((lbd1, lbd2));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5. NAT, DR and tunnel through lbd.

fn nat_dr_tunnel() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    lab_config(&config, "", "")?;
    // myapp (rs4, rs5 on port 5000) by direct routing; rs1-3 also by tunnel on 8080; and NAT
    // over IPv6.
    let myapp = config.join("services/myapp.yaml");
    let text = std::fs::read_to_string(&myapp).map_err(|e| e.to_string())?;
    write(
        &myapp,
        &text.replace("scheduler: wlc\n", "scheduler: wlc\nforwarding: dr\n"),
    )?;
    write(
        &config.join("services/tunnel.yaml"),
        "virtual: {address: 192.0.2.10, port: 8080}\nscheduler: rr\nforwarding: tunnel\n\
         hostgroup: http_nodes\nwatch:\n  monitor: http\n  interval: 1s\n  timeout: 500ms\n",
    )?;
    write(
        &config.join("hostgroups/http6_nodes.yaml"),
        "nodes:\n  - {name: rs1-v6, address: \"2001:db8:1::b\"}\n  - {name: rs2-v6, address: \"2001:db8:1::c\"}\n  - {name: rs3-v6, address: \"2001:db8:1::d\"}\n",
    )?;
    write(
        &config.join("services/http6.yaml"),
        "virtual: {address: \"2001:db8::10\", port: 80}\nscheduler: rr\nhostgroup: http6_nodes\n\
         watch:\n  monitor: http\n  interval: 1s\n  timeout: 500ms\n",
    )?;
    let _tunnel_http: Vec<_> = ["rs1", "rs2", "rs3"]
        .iter()
        .map(|rs| start_http(rs, 8080))
        .collect::<Result<_, _>>()?;
    let lbd = start_lbd(tmp.path(), &config)?;
    let http = ["198.51.100.11:80", "198.51.100.12:80", "198.51.100.13:80"];
    wait_reals("dir1", HTTP, &http, &lbd)?;
    wait_reals(
        "dir1",
        "192.0.2.10:5000",
        &["198.51.100.14:5000", "198.51.100.15:5000"],
        &lbd,
    )?;
    let tunnel = [
        "198.51.100.11:8080",
        "198.51.100.12:8080",
        "198.51.100.13:8080",
    ];
    wait_reals("dir1", "192.0.2.10:8080", &tunnel, &lbd)?;
    let six = [
        "[2001:db8:1::b]:80",
        "[2001:db8:1::c]:80",
        "[2001:db8:1::d]:80",
    ];
    wait_reals("dir1", "[2001:db8::10]:80", &six, &lbd)?;

    let table = netns::run("dir1", &["ipvsadm", "-Ln"])?;
    let method = |real: &str| {
        table
            .lines()
            .find(|l| l.contains(real))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_default()
            .to_owned()
    };
    for (real, want) in [
        ("198.51.100.11:80", "Masq"),
        ("198.51.100.14:5000", "Route"),
        ("198.51.100.11:8080", "Tunnel"),
        ("[2001:db8:1::b]:80", "Masq"),
    ] {
        if method(real) != want {
            return Err(format!("{real} is not forwarded by {want}:\n{table}"));
        }
    }

    let mut report = Vec::new();
    for (what, target, servers) in [
        ("NAT", vip(80), &["rs1", "rs2", "rs3"][..]),
        ("DR", vip(5000), &["rs4", "rs5"][..]),
        ("tunnel", vip(8080), &["rs1", "rs2", "rs3"][..]),
        (
            "NAT over IPv6",
            "[2001:db8::10]:80".parse().map_err(|_| "addr")?,
            &["rs1", "rs2", "rs3"][..],
        ),
    ] {
        let traffic = Traffic::start("client", target, None, PAUSE)?;
        traffic.wait_requests(12, Duration::from_secs(30))?;
        let reqs = traffic.requests();
        drop(traffic);
        no_failures(what, &reqs)?;
        for s in servers {
            answered_by(what, &reqs, s)?;
        }
        report.push(format!("{what} {target}: {}", summary(&reqs)));
    }
    eprintln!("scenario 5: {}", report.join("; "));
    lbd.stop()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6. Drain under load.

fn drain_under_load() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    lab_config(&config, "", "")?;
    let lbd = start_lbd(tmp.path(), &config)?;
    let http = ["198.51.100.11:80", "198.51.100.12:80", "198.51.100.13:80"];
    wait_reals("dir1", HTTP, &http, &lbd)?;
    let traffic = Traffic::start("client", vip(80), None, PAUSE)?;
    traffic.wait_requests(20, Duration::from_secs(30))?;
    answered_by("before the drain", &traffic.requests(), "rs2")?;

    let drained = Instant::now();
    let drain = Command::new(LBCTL)
        .arg("-c")
        .arg(&config)
        .args([
            "drain",
            "rs2",
            "--wait",
            "--timeout",
            "60s",
            "--poll",
            "200ms",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("lbctl drain: {e}"))?;
    let weight0 = wait_for("rs2 at weight 0 or out", Duration::from_secs(10), || {
        Ok(!real_servers("dir1", Some(HTTP))?
            .iter()
            .any(|l| l.contains("198.51.100.12:80") && l.split_whitespace().nth(3) != Some("0")))
    })?;
    let no_new = Instant::now();
    let out = drain.wait_with_output().map_err(|e| e.to_string())?;
    let took = drained.elapsed();
    if !out.status.success() {
        return Err(format!(
            "lbctl drain --wait failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    wait_reals(
        "dir1",
        HTTP,
        &["198.51.100.11:80", "198.51.100.13:80"],
        &lbd,
    )?;
    // Requests that started once rs2 had weight 0 never reach it.
    traffic.wait_requests(20, Duration::from_secs(30))?;
    let late = traffic.since(no_new);
    if by_server(&late).iter().any(|(s, _)| s == "rs2") {
        return Err(format!(
            "a new request reached the drained rs2: {}",
            summary(&late)
        ));
    }

    let enabled = Instant::now();
    lbctl(&config, &["enable", "rs2"])?;
    wait_reals("dir1", HTTP, &http, &lbd)?;
    wait_for("rs2 answers again", Duration::from_secs(10), || {
        Ok(by_server(&traffic.since(enabled))
            .iter()
            .any(|(s, _)| s == "rs2"))
    })?;
    let all = traffic.requests();
    no_failures("drain and enable under load", &all)?;
    eprintln!(
        "scenario 6: rs2 at weight 0 {weight0:?} after `lbctl drain rs2 --wait`, which returned \
         after {took:?} ({}); rs2 enabled again; {}",
        out.trim(),
        summary(&all)
    );
    drop(traffic);
    lbd.stop()?;
    Ok(())
}
