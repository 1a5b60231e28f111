//! The reference benchmark (ignored by default; `cargo test --test kernel -- --ignored
//! reference::`): what clients see during a real-server failure and a director failover with
//! `lbd` and with keepalived 2.2 doing the same job in the same lab boot, with the same
//! settings (HTTP check every 1 s with a 500 ms timeout and no retry; VRRPv3 adverts every
//! 200 ms, priorities 150 / 100; the IPVS sync daemon on eth1), the same topology, the same
//! client traffic ([`super::traffic`], one request at a time, 40 ms apart) and the same fault.
//! A third part restarts the director (SIGTERM and start, as `systemctl restart` does) under
//! load with an established connection open. It prints one line per run and summary tables for
//! BENCHMARKS.md.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::daemon::{
    has, lab_config, real_servers, start_http, stop_http, tempdir, wait_for, write, Lbd, HTTP,
};
use super::echo::{connect, echo, Echo};
use super::netns;
use super::topology::{Options, Topology};
use super::traffic::{failures, longest_gap, Traffic};
use super::vrrp::{director_extra, has_vip};

pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test("reference::client_failures_lbd_vs_keepalived", || {
            compare().map_err(Failed::from)
        })
        .with_ignored_flag(true),
    ]
}

const PAUSE: Duration = Duration::from_millis(40);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Lbd,
    Keepalived,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Lbd => "lbd",
            Tool::Keepalived => "keepalived",
        }
    }
}

/// A running director (either tool) in a namespace; killed on drop (keepalived with its whole
/// process group).
enum Director {
    Lbd(Lbd),
    Keepalived(Keepalived),
}

/// keepalived's parent process, leader of its process group (the VRRP and checker children).
struct Keepalived(Child);

impl Keepalived {
    fn kill(&mut self) {
        // SAFETY: kill(2) on the process group of our own child (keepalived and the VRRP and
        // checker children it forked).
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

impl Director {
    /// SIGTERM, as `systemctl restart` sends, and wait for the exit.
    fn stop(self) -> Result<(), String> {
        match self {
            Director::Lbd(l) => l.stop().map(|_| ()),
            Director::Keepalived(mut k) => {
                // SAFETY: kill(2) on our own child (keepalived's parent process, which stops
                // its children).
                unsafe {
                    libc::kill(k.0.id() as i32, libc::SIGTERM);
                }
                let t0 = Instant::now();
                while k.0.try_wait().map_err(|e| e.to_string())?.is_none() {
                    if t0.elapsed() > Duration::from_secs(60) {
                        return Err("keepalived did not stop within 60 s".into());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(())
            }
        }
    }

    /// SIGKILL: the power goes.
    fn kill(&mut self) {
        match self {
            Director::Lbd(l) => l.signal(libc::SIGKILL),
            Director::Keepalived(k) => k.kill(),
        }
    }
}

/// keepalived's configuration: the http service on rs1..rs3 (NAT, rr, HTTP_GET like lbd's
/// check), and with `vrrp` the instance and sync daemon of `director_extra`.
fn keepalived_conf(vrrp: Option<u8>, echo: bool) -> String {
    let mut c = String::from("global_defs {\n  router_id lab\n  vrrp_version 3\n");
    if vrrp.is_some() {
        c.push_str("  lvs_sync_daemon eth1 VI_1 id 51\n");
    }
    c.push_str("}\n");
    if let Some(priority) = vrrp {
        c.push_str(&format!(
            "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority {priority}\n  advert_int 0.2\n  virtual_ipaddress {{\n    192.0.2.10/24 dev eth0\n    \
             198.51.100.1/24 dev eth1\n  }}\n}}\n"
        ));
    }
    c.push_str(
        "virtual_server 192.0.2.10 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n",
    );
    for i in 1..=3 {
        c.push_str(&format!(
            "  real_server 198.51.100.1{i} 80 {{\n    weight 1\n    HTTP_GET {{\n      url {{\n        \
             path /\n        status_code 200\n      }}\n      connect_timeout 0.5\n      retry 0\n    }}\n  }}\n"
        ));
    }
    c.push_str("}\n");
    if echo {
        c.push_str(
            "virtual_server 192.0.2.10 7000 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  \
             real_server 198.51.100.11 7000 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 0.5\n      retry 0\n    }\n  }\n}\n",
        );
    }
    c
}

fn start_keepalived(
    ns: &str,
    dir: &Path,
    vrrp: Option<u8>,
    echo: bool,
) -> Result<Director, String> {
    let conf = dir.join(format!("keepalived-{ns}.conf"));
    write(&conf, &keepalived_conf(vrrp, echo))?;
    let log = std::fs::File::create(dir.join(format!("keepalived-{ns}.log")))
        .map_err(|e| e.to_string())?;
    let pid = |what: &str| dir.join(format!("{ns}-{what}.pid"));
    let mut cmd = netns::command(ns, "keepalived");
    cmd.arg("--dont-fork")
        .arg("--log-console")
        .arg("--log-detail")
        .arg("--use-file")
        .arg(&conf)
        .arg("--pid")
        .arg(pid("main"))
        .arg("--vrrp_pid")
        .arg(pid("vrrp"))
        .arg("--checkers_pid")
        .arg(pid("checkers"));
    if vrrp.is_none() {
        cmd.arg("--check");
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start keepalived: {e}"))?;
    Ok(Director::Keepalived(Keepalived(child)))
}

/// One measured run's figures.
struct Run {
    failed: usize,
    total: usize,
    /// Real-server failure: until the real server left the table; failover: until the backup
    /// held the VIP.
    reaction: Duration,
    gap: Duration,
}

fn http_reals_are(ns: &str, n: usize) -> Result<bool, String> {
    Ok(real_servers(ns, Some(HTTP))?.len() == n)
}

/// rs2's HTTP server stops under load on a single director (static VIP on dir1).
fn real_server_failure(tool: Tool) -> Result<Run, String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let _director = match tool {
        Tool::Lbd => {
            let config = tmp.path().join("config");
            lab_config(&config, "", "")?;
            for f in ["services/myapp.yaml", "hostgroups/myapp_nodes.yaml"] {
                std::fs::remove_file(config.join(f)).map_err(|e| e.to_string())?;
            }
            Director::Lbd(Lbd::start(
                "dir1",
                &config,
                &tmp.path().join("state"),
                &tmp.path().join("lbd.log"),
            )?)
        }
        Tool::Keepalived => start_keepalived("dir1", tmp.path(), None, false)?,
    };
    wait_for("3 real servers", Duration::from_secs(30), || {
        http_reals_are("dir1", 3)
    })?;
    let traffic = Traffic::start("client", HTTP.parse().map_err(|_| "addr")?, None, PAUSE)?;
    traffic.wait_requests(20, Duration::from_secs(30))?;
    let stopped = Instant::now();
    stop_http("rs2", 80)?;
    wait_for("rs2 out", Duration::from_secs(20), || {
        Ok(!has("dir1", HTTP, "198.51.100.12:80")?)
    })?;
    let reaction = stopped.elapsed();
    traffic.wait_requests(30, Duration::from_secs(30))?;
    let reqs = traffic.since(stopped);
    let _back = start_http("rs2", 80)?;
    Ok(Run {
        failed: failures(&reqs).len(),
        total: reqs.len(),
        reaction,
        gap: longest_gap(&traffic.requests()),
    })
}

/// The master director dies under load (process killed, links down, its addresses gone).
fn director_failover(tool: Tool) -> Result<Run, String> {
    let _topology = Topology::up(Options {
        real_servers: 3,
        static_gateway: false,
    })?;
    let tmp = tempdir()?;
    let mut directors = Vec::new();
    for (ns, priority) in [("dir1", 150), ("dir2", 100)] {
        directors.push(match tool {
            Tool::Lbd => {
                let config = tmp.path().join(ns);
                let sock = tmp.path().join(format!("{ns}.sock"));
                lab_config(&config, "", &director_extra(&sock, priority))?;
                for f in ["services/myapp.yaml", "hostgroups/myapp_nodes.yaml"] {
                    std::fs::remove_file(config.join(f)).map_err(|e| e.to_string())?;
                }
                let d = config.join("director.yaml");
                let text = std::fs::read_to_string(&d).map_err(|e| e.to_string())?;
                write(&d, &text.replace("name: dir1", &format!("name: {ns}")))?;
                Director::Lbd(Lbd::start(
                    ns,
                    &config,
                    &tmp.path().join(format!("{ns}-state")),
                    &tmp.path().join(format!("{ns}.log")),
                )?)
            }
            Tool::Keepalived => start_keepalived(ns, tmp.path(), Some(priority), false)?,
        });
    }
    wait_for(
        "dir1 master, both tables with 3 real servers",
        Duration::from_secs(40),
        || {
            Ok(has_vip("dir1")?
                && !has_vip("dir2")?
                && http_reals_are("dir1", 3)?
                && http_reals_are("dir2", 3)?)
        },
    )?;
    let traffic = Traffic::start("client", HTTP.parse().map_err(|_| "addr")?, None, PAUSE)?;
    traffic.wait_requests(25, Duration::from_secs(30))?;
    let killed = Instant::now();
    directors[0].kill();
    for cmd in [
        "ip link set eth0 down",
        "ip link set eth1 down",
        "ip addr flush dev eth0 to 192.0.2.10/32",
        "ip addr flush dev eth1 to 198.51.100.1/32",
    ] {
        netns::run("dir1", &["sh", "-c", cmd])?;
    }
    wait_for("dir2 holds the VIP", Duration::from_secs(20), || {
        has_vip("dir2")
    })?;
    let reaction = killed.elapsed();
    traffic.wait_requests(30, Duration::from_secs(60))?;
    let reqs = traffic.since(killed);
    Ok(Run {
        failed: failures(&reqs).len(),
        total: reqs.len(),
        reaction,
        gap: longest_gap(&traffic.requests()),
    })
}

/// The director restarted (SIGTERM, then started again, as `systemctl restart` does) under load,
/// with an established connection open: does it survive, and do new requests fail meanwhile?
/// Returns the run and whether the held connection survived, and the fewest real servers of
/// http seen in the table while the director was down.
fn director_restart(tool: Tool) -> Result<(Run, bool, usize), String> {
    let _topology = Topology::up(Options::default())?;
    let _echo = Echo::start()?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    let start = |n: u32| -> Result<Director, String> {
        Ok(match tool {
            Tool::Lbd => Director::Lbd(Lbd::start(
                "dir1",
                &config,
                &tmp.path().join("state"),
                &tmp.path().join(format!("lbd-{n}.log")),
            )?),
            Tool::Keepalived => start_keepalived("dir1", tmp.path(), None, true)?,
        })
    };
    if tool == Tool::Lbd {
        lab_config(&config, "", "")?;
        for f in ["services/myapp.yaml", "hostgroups/myapp_nodes.yaml"] {
            std::fs::remove_file(config.join(f)).map_err(|e| e.to_string())?;
        }
        super::echo::configure(&config)?;
    }
    let director = start(1)?;
    wait_for(
        "3 real servers and the echo service",
        Duration::from_secs(30),
        || {
            Ok(http_reals_are("dir1", 3)?
                && netns::run("dir1", &["ipvsadm", "-Ln", "-t", "192.0.2.10:7000"])
                    .is_ok_and(|t| t.contains("198.51.100.11:7000")))
        },
    )?;
    let traffic = Traffic::start("client", HTTP.parse().map_err(|_| "addr")?, None, PAUSE)?;
    traffic.wait_requests(20, Duration::from_secs(30))?;
    let mut held = connect("192.0.2.10:7000".parse().map_err(|_| "addr")?)?;
    echo(&mut held, "before\n")?;

    let stopped = Instant::now();
    director.stop()?;
    let while_down = real_servers("dir1", Some(HTTP))?.len();
    let _director = start(2)?;
    wait_for("3 real servers again", Duration::from_secs(30), || {
        http_reals_are("dir1", 3)
    })?;
    let reaction = stopped.elapsed();
    traffic.wait_requests(30, Duration::from_secs(30))?;
    let survived = echo(&mut held, "after the restart\n").is_ok();
    let reqs = traffic.since(stopped);
    Ok((
        Run {
            failed: failures(&reqs).len(),
            total: reqs.len(),
            reaction,
            gap: longest_gap(&traffic.requests()),
        },
        survived,
        while_down,
    ))
}

fn compare() -> Result<(), String> {
    let runs: usize = std::env::var("LBD_REFERENCE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut table = Vec::new();
    for (what, measure) in [
        (
            "real-server failure",
            real_server_failure as fn(Tool) -> Result<Run, String>,
        ),
        ("director failover", director_failover),
    ] {
        for tool in [Tool::Lbd, Tool::Keepalived] {
            let mut all = Vec::new();
            for i in 1..=runs {
                let r = measure(tool).map_err(|e| format!("{what}, {}: {e}", tool.name()))?;
                eprintln!(
                    "reference: {what}, {} run {i}: {} of {} requests failed; reaction {:?}; \
                     longest time without an answer {:?}",
                    tool.name(),
                    r.failed,
                    r.total,
                    r.reaction,
                    r.gap
                );
                all.push(r);
            }
            let failed: usize = all.iter().map(|r| r.failed).sum();
            let total: usize = all.iter().map(|r| r.total).sum();
            let ms = |d: Duration| d.as_millis();
            let reactions: Vec<String> = all.iter().map(|r| ms(r.reaction).to_string()).collect();
            let gaps: Vec<String> = all.iter().map(|r| ms(r.gap).to_string()).collect();
            table.push(format!(
                "| {what} | {} | {failed} of {total} | {} | {} |",
                tool.name(),
                reactions.join(", "),
                gaps.join(", ")
            ));
        }
    }
    let mut restarts = Vec::new();
    for tool in [Tool::Lbd, Tool::Keepalived] {
        let mut failed = 0;
        let mut total = 0;
        let mut cells = Vec::new();
        for i in 1..=runs {
            let (r, survived, while_down) =
                director_restart(tool).map_err(|e| format!("restart, {}: {e}", tool.name()))?;
            eprintln!(
                "reference: director restart, {} run {i}: {} of {} requests failed; back after \
                 {:?}; longest time without an answer {:?}; held connection survived: \
                 {survived}; http real servers while stopped: {while_down}",
                tool.name(),
                r.failed,
                r.total,
                r.reaction,
                r.gap
            );
            failed += r.failed;
            total += r.total;
            cells.push(format!(
                "{} ms, {}, {while_down}",
                r.gap.as_millis(),
                if survived { "survived" } else { "lost" }
            ));
        }
        restarts.push(format!(
            "| director restart | {} | {failed} of {total} | {} |",
            tool.name(),
            cells.join("; ")
        ));
    }
    eprintln!(
        "\n| fault | director | failed requests (all runs) | each run: longest time without an answer, held connection, real servers left while stopped |\n| --- | --- | ---: | --- |\n{}",
        restarts.join("\n")
    );
    eprintln!(
        "\n| fault | director | failed requests (all runs) | reaction, ms (each run) | longest time without an answer, ms |\n| --- | --- | ---: | --- | --- |\n{}",
        table.join("\n")
    );
    Ok(())
}
