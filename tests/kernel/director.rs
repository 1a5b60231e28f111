//! Kernel trials of the director core and its edge:
//!
//! - a lab run recorded with `lbd --record` (cold start, a real server's HTTP stopped and back,
//!   a hand-deleted service repaired by the drift pass, a drain, a reload) replays against the
//!   core to the same effects, input by input;
//! - a master whose daemon is kept busy (300 TCP checks a second, a drift pass every
//!   2 s over 40 services × 50 real servers, status requests every second) keeps the VIP: the
//!   backup never takes over, with adverts every 200 ms (master-down interval 722 ms), on a VIP
//!   that carries no service (nothing lowers its priority but the daemon's lateness). (A debug
//!   build on the lab's one emulated CPU: 200 × 50 kept the daemon's loop minutes behind, a
//!   drift pass taking 69 s. The load the issue names, 10,000 checks a second and 1,000 × 50,
//!   is the release-build benchmark in `lateness.rs`.)

use std::path::Path;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::daemon::{
    big_table_config, has, lab_config, real_servers, start_http, stop_http, tail, tempdir,
    wait_for, write, Lbd, HTTP,
};
use super::netns;
use super::topology::{Options, Topology};
use super::vrrp::role;

pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test("director::recorded_trace_replays", || {
            recorded_trace_replays().map_err(Failed::from)
        }),
        Trial::test("director::loaded_master_keeps_the_vip", || {
            loaded_master_keeps_the_vip().map_err(Failed::from)
        }),
    ]
}

const LBCTL: &str = env!("CARGO_BIN_EXE_lbctl");
const MYAPP: &str = "192.0.2.10:5000";

fn lbctl(config: &Path, args: &[&str]) -> Result<String, String> {
    super::control::ok(config, args)
}

fn recorded_trace_replays() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    let sock = tmp.path().join("control.sock");
    lab_config(
        &config,
        "",
        &format!("control: {{socket: {}}}\n", sock.display()),
    )?;
    let trace = tmp.path().join("trace.jsonl");
    let trace_arg = trace.display().to_string();
    let mut lbd = Lbd::start_args(
        "dir1",
        &config,
        &tmp.path().join("state"),
        &tmp.path().join("lbd.log"),
        &["--record", &trace_arg],
    )?;
    lbd.wait_line("first reconcile done", 0, Duration::from_secs(60))?;
    let with_log = |e: String| format!("{e}\n{}", tail(&lbd.log()));
    wait_for("5 real servers", Duration::from_secs(30), || {
        Ok(real_servers("dir1", None)?.len() == 5)
    })
    .map_err(with_log)?;
    stop_http("rs2", 80)?;
    wait_for("rs2 out", Duration::from_secs(15), || {
        Ok(!has("dir1", HTTP, "198.51.100.12:80")?)
    })
    .map_err(with_log)?;
    netns::run("dir1", &["ipvsadm", "-D", "-t", MYAPP])?;
    // reconcile_interval 2 s: repaired by the next drift pass.
    wait_for("myapp repaired", Duration::from_secs(15), || {
        Ok(real_servers("dir1", Some(MYAPP))?.len() == 2)
    })
    .map_err(with_log)?;
    lbctl(&config, &["drain", "rs1"])?;
    lbctl(&config, &["reload"])?;
    lbctl(&config, &["status"])?;
    let _http = start_http("rs2", 80)?;
    wait_for("rs2 back", Duration::from_secs(15), || {
        has("dir1", HTTP, "198.51.100.12:80")
    })
    .map_err(with_log)?;
    let (_, stop) = lbd.stop_timed()?;
    let size = std::fs::metadata(&trace).map(|m| m.len()).unwrap_or(0);
    let t0 = Instant::now();
    let file = std::fs::File::open(&trace).map_err(|e| format!("{}: {e}", trace.display()))?;
    let (d, done) = lbd::director::replay::replay(std::io::BufReader::new(file))
        .map_err(|e| format!("the recorded run does not replay: {e}"))?;
    eprintln!(
        "recorded {size} bytes: {} inputs, {} effects, replayed to the same effects in {:?} \
         (stop took {stop:?})",
        done.inputs,
        done.effects,
        t0.elapsed()
    );
    if done.inputs < 10 {
        return Err(format!("too short a recording: {done:?}"));
    }
    let member = |svc: &str, node: &str| {
        d.plan()
            .members
            .get(&(svc.to_string(), node.to_string()))
            .and_then(|m| m.weight)
    };
    if member("http", "rs1") != Some(0) || member("http", "rs2") != Some(1) {
        return Err(format!(
            "the replayed director ends elsewhere: rs1 {:?} (drained: 0), rs2 {:?} (back: 1)",
            member("http", "rs1"),
            member("http", "rs2")
        ));
    }
    Ok(())
}

/// Nodes dir1's daemon checks every second: a TCP connect to a closed port on its own
/// loopback (the kernel refuses at once, every time: steady work, no flapping).
const LOAD_NODES: u32 = 300;
/// Services × real servers dir1's drift passes dump and diff every 2 s.
const DRIFT_SERVICES: u16 = 40;
const DRIFT_NODES: u8 = 50;
/// How long the loaded master is watched.
const WINDOW: Duration = Duration::from_secs(60);

/// The trial's VRRP instance: a VIP that carries no service, so its priority is not lowered
/// when the lab's HTTP checks time out on the loaded emulated machine (a real failover, not
/// what this trial is about).
fn vrrp_extra(sock: &Path, priority: u8) -> String {
    format!(
        "control: {{socket: {}}}\n\
         vrrp:\n  - name: vi_51\n    interface: eth0\n    vrid: 51\n    priority: {priority}\n\
         \x20   advert_interval: 200ms\n    vips: [{VIP}/24]\n",
        sock.display()
    )
}

const VIP: &str = "192.0.2.20";

fn has_vip(ns: &str) -> Result<bool, String> {
    Ok(netns::run(ns, &["ip", "-o", "addr", "show", "dev", "eth0"])?.contains(&format!("{VIP}/")))
}

/// dir1's extra load: a checked hostgroup of `LOAD_NODES` loopback addresses and a table of
/// `DRIFT_SERVICES` × `DRIFT_NODES` on a VIP no VRRP instance carries (its health does not
/// change the priority).
fn load_config(dir: &Path) -> Result<(), String> {
    let mut nodes = String::from("ping: false\nnodes:\n");
    for i in 0..LOAD_NODES {
        nodes.push_str(&format!(
            "  - {{name: l{i}, address: 127.1.{}.{}}}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    write(&dir.join("hostgroups/load.yaml"), &nodes)?;
    write(
        &dir.join("services/load.yaml"),
        "virtual: {address: 203.0.113.50, port: 80}\nscheduler: rr\nhostgroup: load\n\
         watch:\n  monitor: {type: tcp, port: 9}\n  interval: 1s\n  timeout: 500ms\n",
    )?;
    big_table_config(dir, "big", "203.0.113.51", DRIFT_SERVICES, DRIFT_NODES, 101)
}

fn loaded_master_keeps_the_vip() -> Result<(), String> {
    let _topology = Topology::up(Options {
        real_servers: 3,
        static_gateway: false,
    })?;
    let tmp = tempdir()?;
    let (s1, s2) = (tmp.path().join("s1.sock"), tmp.path().join("s2.sock"));
    let (c1, c2) = (tmp.path().join("c1"), tmp.path().join("c2"));
    for (dir, sock, prio, name) in [(&c1, &s1, 150, "dir1"), (&c2, &s2, 100, "dir2")] {
        lab_config(dir, "", &vrrp_extra(sock, prio))?;
        let d = dir.join("director.yaml");
        let text = std::fs::read_to_string(&d).map_err(|e| e.to_string())?;
        let text = text.replace("name: dir1", &format!("name: {name}"));
        let text = if name == "dir1" {
            format!("{text}monitor_dir: {}\n", dir.join("monitors").display())
        } else {
            text
        };
        write(&d, &text)?;
    }
    load_config(&c1)?;
    // The table converged first (its external monitor runs once an hour; adopted at start).
    netns::run("dir1", &[LBCTL, "-c", &c1.display().to_string(), "apply"])?;
    let t0 = Instant::now();
    let lbd1 = Lbd::start("dir1", &c1, &tmp.path().join("st1"), &tmp.path().join("l1"))?;
    let lbd2 = Lbd::start("dir2", &c2, &tmp.path().join("st2"), &tmp.path().join("l2"))?;
    let logs = |a: &Lbd, b: &Lbd| format!("dir1:\n{}\ndir2:\n{}", tail(&a.log()), tail(&b.log()));
    let want = usize::from(DRIFT_SERVICES) * usize::from(DRIFT_NODES);
    let mut last = String::new();
    let ready = wait_for(
        "dir1 master with its load table, dir2 backup",
        Duration::from_secs(600),
        || {
            let why = |e: String| format!("(status failed: {e})");
            let (r1, r2) = (role(&s1).unwrap_or_else(why), role(&s2).unwrap_or_else(why));
            let (vip, n) = (has_vip("dir1")?, real_servers("dir1", None)?.len());
            last = format!("dir1 {r1}, dir2 {r2}, VIP on dir1 {vip}, {n} real servers on dir1");
            Ok(r1 == "master" && r2 == "backup" && vip && n >= want)
        },
    );
    let ready = ready.map_err(|e| format!("{e} (last: {last})"));
    ready.map_err(|e| format!("{e}\n{}", logs(&lbd1, &lbd2)))?;
    eprintln!("loaded master ready after {:?}", t0.elapsed());
    let before1 = lbd1.log().len();
    let before2 = lbd2.log().len();
    // The window: roles every second (a status request to each daemon: more load on dir1).
    let start = Instant::now();
    let mut samples = 0;
    let mut wrong = Vec::new();
    let mut slow = 0;
    while start.elapsed() < WINDOW {
        // A status the loaded daemon did not answer in lbctl's 30 s is counted, not a failure:
        // the roles are what the trial is about (dir2's status and both logs tell them).
        let r1 = match role(&s1) {
            Ok(r) => r,
            Err(_) => {
                slow += 1;
                String::from("master?")
            }
        };
        let r2 = role(&s2)?;
        samples += 1;
        if r1 == "backup" || r2 != "backup" || !has_vip("dir1")? || has_vip("dir2")? {
            wrong.push(format!("{:?}: dir1 {r1}, dir2 {r2}", start.elapsed()));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let log1 = lbd1.log();
    let log2 = lbd2.log();
    let window1 = log1.get(before1..).unwrap_or_default();
    let window2 = log2.get(before2..).unwrap_or_default();
    let drift_passes = window1.matches("drift pass done").count();
    let takeovers = window2.matches("Backup -> Master").count();
    eprintln!(
        "loaded master, {WINDOW:?} watched: {samples} samples ({slow} statuses of dir1 not \
         answered within 30 s), {drift_passes} drift passes over {want} real servers (took_ms: \
         {:?}), {LOAD_NODES} TCP checks a second; backup took over {takeovers} time(s)",
        window1
            .lines()
            .filter(|l| l.contains("drift pass done"))
            .filter_map(|l| l.split("took_ms=").nth(1))
            .filter_map(|t| t.split_whitespace().next())
            .collect::<Vec<_>>()
    );
    if !wrong.is_empty() || takeovers > 0 {
        return Err(format!(
            "the backup took over from a busy master: {wrong:?}\n{}",
            logs(&lbd1, &lbd2)
        ));
    }
    // The load was real: the drift timer ran (every 2 s; at least a few, however slow the
    // machine) and every load node's checks reached the director.
    if drift_passes < 3 {
        return Err(format!(
            "only {drift_passes} drift passes in {WINDOW:?}: not the load asked for\n{}",
            tail(&log1)
        ));
    }
    let status = netns::run(
        "dir1",
        &[
            LBCTL,
            "--socket",
            &s1.display().to_string(),
            "status",
            "--json",
        ],
    )?;
    let v: serde_json::Value = serde_json::from_str(&status).map_err(|e| e.to_string())?;
    let checked = v["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "load"))
        .and_then(|s| s["real_servers"].as_array())
        .map_or(0, |r| {
            r.iter().filter(|x| !x["last_check"].is_null()).count()
        });
    if checked < LOAD_NODES as usize {
        return Err(format!(
            "{checked} of {LOAD_NODES} load nodes checked: not the load asked for"
        ));
    }
    drop((lbd1, lbd2));
    Ok(())
}
