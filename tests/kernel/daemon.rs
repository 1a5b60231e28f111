//! Kernel tests of the director daemon: the real `lbd` binary runs in namespace `dir1` (or a
//! scratch namespace for the big table) with a configuration in a temp directory, against the
//! real IPVS table, read back with `ipvsadm`.
//!
//! - restart over a converged 1,000 × 50 table sends zero mutating operations, counted by the
//!   IPVS client itself (`first reconcile done mutating_ops=N`, and the `stopped
//!   mutating_ops_total=N` line after a drift pass ran too); `kill -9` in the
//!   middle of applying it, then a restart, converges, and no real server ever leaves the table
//!   (polled with `ipvsadm -Ln` during the restart, and no `-d` in the daemon's log);
//! - a real server's HTTP stopped leaves the table within interval + timeout and comes back;
//!   `ipvsadm -D` / `ipvsadm -e` on an owned service are repaired within one drift pass
//!   (reconcile_interval + 1 s of the last hand edit), a
//!   foreign service is left alone; a reload with an invalid file keeps the old configuration
//!   and names file and line; a reload changing one service sends only that service's operation;
//! - quorum and sorry server; the mass-removal guard (held server, alert script run,
//!   `lbd_mass_removal_guard_held` on /metrics);
//! - the systemd protocol, with a datagram socket as NOTIFY_SOCKET: READY=1 after the first
//!   reconcile, WATCHDOG=1 every half WATCHDOG_USEC from the loop (none while it is stopped),
//!   RELOADING=1 + MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1 on SIGTERM;
//! - the unit's capabilities (setpriv: CAP_NET_ADMIN and CAP_NET_RAW only): the control
//!   socket's group works with that group as a supplementary group, and fails without;
//! - a real server whose link goes down is marked offline by its hostgroup's ping watch
//!   (`lbctl nodes`) and leaves the table, and the ping watch's `node_down.alert` runs; link
//!   up: back online and in the table, and `node_up.alert` runs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::netns::{self, Netns, Spawned};
use super::topology::{Options, Topology};

pub fn tests() -> Vec<Trial> {
    vec![
        Trial::test("daemon::restart_and_kill9_over_1000x50", || {
            big_table().map_err(Failed::from)
        }),
        Trial::test("daemon::checks_drift_and_reload", || {
            checks_drift_and_reload().map_err(Failed::from)
        }),
        Trial::test("daemon::quorum_and_sorry_server", || {
            quorum_and_sorry().map_err(Failed::from)
        }),
        Trial::test("daemon::mass_removal_guard", || {
            mass_removal_guard().map_err(Failed::from)
        }),
        Trial::test("daemon::systemd_notify_watchdog_reload", || {
            systemd_protocol().map_err(Failed::from)
        }),
        Trial::test("daemon::control_group_under_the_units_capabilities", || {
            control_group_caps().map_err(Failed::from)
        }),
        Trial::test("daemon::link_down_offline_by_ping_and_back", || {
            link_down_offline_and_back().map_err(Failed::from)
        }),
    ]
}

const LBD: &str = env!("CARGO_BIN_EXE_lbd");
const LBCTL: &str = env!("CARGO_BIN_EXE_lbctl");

/// A running `lbd` in a namespace, its log in a file; SIGKILLed on drop if still running.
pub(crate) struct Lbd {
    pub(crate) child: Child,
    log: PathBuf,
}

impl Lbd {
    pub(crate) fn start(ns: &str, config: &Path, state: &Path, log: &Path) -> Result<Self, String> {
        Self::start_with(ns, config, state, log, &[], &[])
    }

    /// Started as `WRAP... lbd ...` (e.g. setpriv) with `env` added.
    pub(crate) fn start_with(
        ns: &str,
        config: &Path,
        state: &Path,
        log: &Path,
        wrap: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        Self::start_full(ns, config, state, log, wrap, env, &[])
    }

    /// [`Lbd::start`] with more arguments after lbd's own (`--record FILE`).
    pub(crate) fn start_args(
        ns: &str,
        config: &Path,
        state: &Path,
        log: &Path,
        args: &[&str],
    ) -> Result<Self, String> {
        Self::start_full(ns, config, state, log, &[], &[], args)
    }

    fn start_full(
        ns: &str,
        config: &Path,
        state: &Path,
        log: &Path,
        wrap: &[&str],
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Self, String> {
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = match wrap.split_first() {
            Some((first, rest)) => {
                let mut c = netns::command(ns, first);
                c.args(rest).arg(LBD);
                c
            }
            None => netns::command(ns, LBD),
        };
        let child = cmd
            .arg("-c")
            .arg(config)
            .arg("--state-dir")
            .arg(state)
            .args(args)
            .env("LBD_LOG", "info,lbd::node=warn,lbd::daemon::run=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .map_err(|e| format!("cannot start lbd: {e}"))?;
        Ok(Lbd {
            child,
            log: log.to_path_buf(),
        })
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a log line containing `needle` after byte `from`; the line.
    pub(crate) fn wait_line(
        &mut self,
        needle: &str,
        from: usize,
        timeout: Duration,
    ) -> Result<String, String> {
        let t0 = Instant::now();
        loop {
            let log = self.log();
            if let Some(line) = log
                .get(from..)
                .unwrap_or("")
                .lines()
                .find(|l| l.contains(needle))
            {
                return Ok(line.to_string());
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(format!("lbd exited ({st}) before `{needle}`:\n{log}"));
            }
            if t0.elapsed() > timeout {
                let ps = Command::new("ps")
                    .arg("-ef")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                return Err(format!(
                    "no `{needle}` within {timeout:?} ({} bytes of log):\n{}\nps:\n{ps}",
                    log.len(),
                    tail(&log)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub(crate) fn stop(self) -> Result<String, String> {
        self.stop_timed().map(|(log, _)| log)
    }

    /// [`Lbd::stop`], and how long it took from the signal to the exit.
    pub(crate) fn stop_timed(mut self) -> Result<(String, Duration), String> {
        let before = self.log().len();
        self.signal(libc::SIGTERM);
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                let took = t0.elapsed();
                let log = self.log();
                if took > Duration::from_secs(5) {
                    // Where a slow stop spent its time.
                    eprintln!(
                        "a stop took {took:?}; the log from SIGTERM on:\n{}",
                        tail(log.get(before..).unwrap_or_default())
                    );
                }
                return if st.success() {
                    Ok((log, took))
                } else {
                    Err(format!("lbd exited with {st}:\n{}", tail(&log)))
                };
            }
            if t0.elapsed() > Duration::from_secs(60) {
                return Err("lbd did not stop within 60 s of SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Lbd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// `mutating_ops=N` from a log line.
pub(crate) fn mutating_ops(line: &str) -> Result<u64, String> {
    field(line, "mutating_ops")
}

/// `KEY=N` from a log line.
fn field(line: &str, key: &str) -> Result<u64, String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no {key} in {line:?}"))
}

/// Real servers (`->` lines with an address) in `ipvsadm -Ln` of `ns`, optionally of one service.
pub(crate) fn real_servers(ns: &str, service: Option<&str>) -> Result<Vec<String>, String> {
    let mut args = vec!["ipvsadm", "-Ln"];
    if let Some(s) = service {
        args.extend(["-t", s]);
    }
    let out = match netns::run(ns, &args) {
        Ok(out) => out,
        // Not there (yet): no real servers.
        Err(e) if service.is_some() && e.contains("No such service") => String::new(),
        Err(e) => return Err(e),
    };
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("-> ") && !l.starts_with("-> RemoteAddress"))
        .map(|l| l.to_string())
        .collect())
}

pub(crate) fn wait_for(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<bool, String>,
) -> Result<Duration, String> {
    let t0 = Instant::now();
    loop {
        if f()? {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(150));
    }
}

pub(crate) fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`write`], executable: a monitor or alert script.
pub(crate) fn write_script(path: &Path, text: &str) -> Result<(), String> {
    write(path, text)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// An alert script that appends `line` (shell words expanded) to `fired`.
fn write_alert_script(path: &Path, line: &str, fired: &Path) -> Result<(), String> {
    write_script(
        path,
        &format!("#!/bin/sh\necho \"{line}\" >> {}\n", fired.display()),
    )
}

pub(crate) fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))
}

// ---------------------------------------------------------------------------------------------
// 1,000 services × 50 real servers.

const SERVICES: u16 = 1000;
const NODES: u8 = 50;
/// The big table's drift pass interval: one pass runs while restart 2 is watched.
const BIG_DRIFT_SECS: u64 = 20;

fn big_config(dir: &Path) -> Result<(), String> {
    write(
        &dir.join("director.yaml"),
        &format!(
            "name: dir1\nreconcile_interval: {BIG_DRIFT_SECS}s\nmonitor_dir: {}\n",
            dir.join("monitors").display()
        ),
    )?;
    big_table_config(dir, "big", "192.0.2.10", SERVICES, NODES, 11)
}

/// `services` services on `vip` (ports 10000 and up) over hostgroup `group` of `nodes` nodes
/// at 198.51.100.`first`.., each watched by an external monitor that always passes, once an
/// hour: the table stays as it is for the length of a test whatever the spread of the first
/// checks. No ping watch: these addresses answer nothing. `monitor_dir` must be
/// `DIR/monitors`.
pub(crate) fn big_table_config(
    dir: &Path,
    group: &str,
    vip: &str,
    services: u16,
    nodes: u8,
    first: u16,
) -> Result<(), String> {
    write_script(&dir.join("monitors/true.monitor"), "#!/bin/sh\nexit 0\n")?;
    let mut text = String::from("ping: false\nnodes:\n");
    for i in 0..u16::from(nodes) {
        text.push_str(&format!(
            "  - name: {group}{}\n    address: 198.51.100.{}\n",
            i + 1,
            first + i
        ));
    }
    write(&dir.join(format!("hostgroups/{group}.yaml")), &text)?;
    for s in 0..services {
        write(
            &dir.join(format!("services/{group}{s:04}.yaml")),
            &format!(
                "virtual: {{address: {vip}, port: {}}}\nscheduler: rr\nhostgroup: {group}\n\
                 watch:\n  monitor: {{external: true.monitor}}\n  interval: 1h\n",
                10000 + s
            ),
        )?;
    }
    Ok(())
}

fn big_table() -> Result<(), String> {
    let ns = scratch_ns("lbd-big")?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    let state = tmp.path().join("state");
    big_config(&config)?;
    let want = usize::from(SERVICES) * usize::from(NODES);

    // Converge the table with lbctl apply (every node healthy).
    let t0 = Instant::now();
    netns::run(
        ns.name(),
        &[LBCTL, "-c", config.to_str().unwrap_or(""), "apply"],
    )?;
    eprintln!("lbctl apply of {SERVICES} x {NODES}: {:?}", t0.elapsed());

    // 1. Start over it without a state file: everything adopted, nothing sent.
    let t0 = Instant::now();
    let mut lbd = Lbd::start(ns.name(), &config, &state, &tmp.path().join("1.log"))?;
    let line = lbd.wait_line("first reconcile done", 0, Duration::from_secs(180))?;
    eprintln!("start 1 (adopt): {:?}: {line}", t0.elapsed());
    if mutating_ops(&line)? != 0 {
        return Err(format!(
            "adopting a converged table sent operations: {line}"
        ));
    }
    let mut stops = Vec::new();
    let (_, took) = lbd.stop_timed()?;
    stops.push(("converged", took));

    // 2. Restart with the state file: still nothing, in the first pass nor in the first drift
    //    pass (a dump of the whole table diffed against the configuration) after it; the
    //    total is the IPVS client's own count of mutating messages, logged on the way out.
    let t0 = Instant::now();
    let mut lbd = Lbd::start(ns.name(), &config, &state, &tmp.path().join("2.log"))?;
    let line = lbd.wait_line("first reconcile done", 0, Duration::from_secs(180))?;
    eprintln!("start 2 (restore): {:?}: {line}", t0.elapsed());
    if mutating_ops(&line)? != 0 {
        return Err(format!(
            "restarting over a converged table sent operations: {line}"
        ));
    }
    let drift = lbd.wait_line(
        "drift pass done",
        0,
        Duration::from_secs(BIG_DRIFT_SECS + 180),
    )?;
    eprintln!("start 2, first drift pass: {drift}");
    let (log, took) = lbd.stop_timed()?;
    stops.push(("after a drift pass", took));
    let stopped = log
        .lines()
        .find(|l| l.contains("stopped") && l.contains("mutating_ops_total="))
        .ok_or_else(|| format!("no shutdown total in the log:\n{}", tail(&log)))?;
    eprintln!("start 2, on SIGTERM: {stopped}");
    if field(stopped, "mutating_ops_total")? != 0 || field(stopped, "drift_passes")? < 1 {
        return Err(format!(
            "restart 2 sent operations (or no drift pass ran): {stopped}"
        ));
    }

    // 3. The table is lost (as after a reboot); the state says every node passed. lbd starts
    //    applying the whole table and is killed with SIGKILL in the middle of it.
    netns::run(ns.name(), &["ipvsadm", "-C"])?;
    let mut lbd = Lbd::start(ns.name(), &config, &state, &tmp.path().join("3.log"))?;
    lbd.wait_line("applying", 0, Duration::from_secs(180))?;
    std::thread::sleep(Duration::from_millis(700));
    lbd.signal(libc::SIGKILL);
    let _ = lbd.child.wait();
    let partial = real_servers(ns.name(), None)?.len();
    let services_there = netns::run(ns.name(), &["ipvsadm", "-Ln"])?
        .lines()
        .filter(|l| l.starts_with("TCP"))
        .count();
    eprintln!("killed in the middle of the apply: {partial} of {want} real servers in the table");
    if partial == 0 || partial >= want {
        return Err(format!(
            "the kill did not land in the middle of the apply ({partial} of {want})"
        ));
    }

    // 4. Start again while a poller watches the table: it only grows, and converges.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        let ns = ns.name().to_string();
        std::thread::spawn(move || {
            let mut counts = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(rs) = real_servers(&ns, None) {
                    counts.push(rs.len());
                }
                // ipvsadm holds the IPVS lock while it dumps: not too often.
                std::thread::sleep(Duration::from_millis(4000));
            }
            counts
        })
    };
    let t0 = Instant::now();
    let mut lbd = Lbd::start(ns.name(), &config, &state, &tmp.path().join("4.log"))?;
    // 140 s on a quiet machine (the poller's ipvsadm dumps set the pace): room for a busy one.
    let line = lbd.wait_line("first reconcile done", 0, Duration::from_secs(600))?;
    eprintln!("start 4 (after the kill): {:?}: {line}", t0.elapsed());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut counts = poller.join().map_err(|_| "poller panicked")?;
    counts.push(real_servers(ns.name(), None)?.len());
    eprintln!("real servers seen while restarting: {counts:?}");
    if counts.windows(2).any(|w| w[1] < w[0]) || counts.first().is_some_and(|c| *c < partial) {
        return Err(format!(
            "a real server left the table during the restart: {counts:?}"
        ));
    }
    let (log, took) = lbd.stop_timed()?;
    stops.push(("converged after the kill", took));
    if let Some(l) = log
        .lines()
        .find(|l| l.contains("op=-d") || l.contains("op=\"-d"))
    {
        return Err(format!("the restart removed a real server: {l}"));
    }
    if counts.last() != Some(&want) {
        return Err(format!("not converged: {counts:?}, want {want}"));
    }
    let sent = mutating_ops(&line)?;
    let missing = (want - partial) + (usize::from(SERVICES) - services_there);
    if sent as usize != missing {
        return Err(format!(
            "expected exactly the {missing} missing services and real servers to be added, sent {sent}"
        ));
    }

    // 5. The table lost again; SIGTERM while the start-up batch is being applied: lbd stops
    //    after the chunk in the kernel, without waiting for the rest of the table.
    netns::run(ns.name(), &["ipvsadm", "-C"])?;
    let mut lbd = Lbd::start(ns.name(), &config, &state, &tmp.path().join("5.log"))?;
    lbd.wait_line("applying", 0, Duration::from_secs(180))?;
    std::thread::sleep(Duration::from_millis(300));
    let (log, took) = lbd.stop_timed()?;
    stops.push(("in the middle of applying the table", took));
    let left = real_servers(ns.name(), None)?.len();
    eprintln!("stopped in the middle of the apply: {left} of {want} real servers in the table");
    if left >= want {
        return Err(format!(
            "the whole table was applied before the stop returned:\n{}",
            tail(&log)
        ));
    }
    eprintln!("SIGTERM to exit at {SERVICES} x {NODES}: {stops:?}");
    if let Some((when, took)) = stops.iter().find(|(_, t)| *t > STOP_LIMIT) {
        return Err(format!(
            "SIGTERM {when} took {took:?}, beyond the unit's TimeoutStopSec ({STOP_LIMIT:?})"
        ));
    }
    Ok(())
}

/// The unit's `TimeoutStopSec`: systemd kills lbd when a stop takes longer.
const STOP_LIMIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// The lab topology: http on rs1-3, myapp on rs4-5.

pub(crate) const HTTP: &str = "192.0.2.10:80";
const MYAPP: &str = "192.0.2.10:5000";

pub(crate) fn lab_config(dir: &Path, http_extra: &str, director_extra: &str) -> Result<(), String> {
    write(
        &dir.join("director.yaml"),
        &format!("name: dir1\nreconcile_interval: 2s\n{director_extra}"),
    )?;
    write(
        &dir.join("hostgroups/http_nodes.yaml"),
        "nodes:\n  - {name: rs1, address: 198.51.100.11}\n  - {name: rs2, address: 198.51.100.12}\n  - {name: rs3, address: 198.51.100.13}\n",
    )?;
    write(
        &dir.join("hostgroups/myapp_nodes.yaml"),
        "nodes:\n  - {name: rs4, address: 198.51.100.14}\n  - {name: rs5, address: 198.51.100.15}\n",
    )?;
    write(
        &dir.join("services/http.yaml"),
        &format!(
            "virtual: {{address: 192.0.2.10, port: 80}}\nscheduler: rr\nhostgroup: http_nodes\n{http_extra}\
             watch:\n  monitor: {{type: http, path: /, body: \"^rs\"}}\n  interval: 1s\n  timeout: 500ms\n"
        ),
    )?;
    write(
        &dir.join("services/myapp.yaml"),
        "virtual: {address: 192.0.2.10, port: 5000}\nscheduler: wlc\nhostgroup: myapp_nodes\n\
         watch:\n  monitor: http\n  interval: 1s\n  timeout: 500ms\n",
    )?;
    Ok(())
}

/// Stops real server `rs`'s HTTP server on `port` (started by the topology).
pub(crate) fn stop_http(rs: &str, port: u16) -> Result<(), String> {
    let pidfile = format!("/run/lbd-topology/{rs}-{port}.pid");
    let pid = std::fs::read_to_string(&pidfile).map_err(|e| format!("{pidfile}: {e}"))?;
    Command::new("kill")
        .arg(pid.trim())
        .status()
        .map_err(|e| format!("kill: {e}"))?;
    Ok(())
}

/// Starts it again (killed when the guard drops).
pub(crate) fn start_http(rs: &str, port: u16) -> Result<Spawned, String> {
    let www = format!("/run/lbd-topology/www/{rs}");
    let p = port.to_string();
    netns::spawn(rs, &["busybox", "httpd", "-f", "-p", &p, "-h", &www])
}

pub(crate) fn has(ns: &str, service: &str, real: &str) -> Result<bool, String> {
    Ok(real_servers(ns, Some(service))?
        .iter()
        .any(|l| l.split_whitespace().nth(1) == Some(real)))
}

fn checks_drift_and_reload() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    lab_config(&config, "", "")?;
    let mut lbd = Lbd::start(
        "dir1",
        &config,
        &tmp.path().join("state"),
        &tmp.path().join("lbd.log"),
    )?;
    // Cold start: the real servers come in as their checks pass.
    let took = wait_for("5 real servers", Duration::from_secs(30), || {
        Ok(real_servers("dir1", None)?.len() == 5)
    })?;
    eprintln!("cold start: 5 real servers in {took:?}");

    // A real server's HTTP stops: out within interval + timeout (1.5 s, plus the time to see it).
    stop_http("rs2", 80)?;
    let took = wait_for("rs2 out of http", Duration::from_secs(10), || {
        Ok(!has("dir1", HTTP, "198.51.100.12:80")?)
    })?;
    eprintln!("rs2 stopped: out of the table after {took:?}");
    if took > Duration::from_millis(1500 + 1500) {
        return Err(format!(
            "rs2 took {took:?} to leave (interval 1s + timeout 500ms)"
        ));
    }
    let log = lbd.log();
    let line = log
        .lines()
        .find(|l| l.contains("table change") && l.contains("198.51.100.12:80") && l.contains("-d"))
        .ok_or_else(|| format!("no log line for the removal:\n{}", tail(&log)))?;
    if !line.contains("http check fails on rs2") {
        let about: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("rs2") || l.contains("reconcile") || l.contains("applying"))
            .collect();
        return Err(format!(
            "the removal's log line does not say why: {line}\nits context:\n{}",
            about.join("\n")
        ));
    }
    let _http = start_http("rs2", 80)?;
    let took = wait_for("rs2 back in http", Duration::from_secs(10), || {
        has("dir1", HTTP, "198.51.100.12:80")
    })?;
    eprintln!("rs2 back: in the table after {took:?}");

    // Drift: an owned service deleted and a weight edited by hand; a foreign service added.
    netns::run(
        "dir1",
        &["ipvsadm", "-A", "-t", "203.0.113.5:99", "-s", "rr"],
    )?;
    netns::run("dir1", &["ipvsadm", "-D", "-t", MYAPP])?;
    netns::run(
        "dir1",
        &[
            "ipvsadm",
            "-e",
            "-t",
            HTTP,
            "-r",
            "198.51.100.11:80",
            "-m",
            "-w",
            "7",
        ],
    )?;
    // Timed from the last hand edit: one drift pass (reconcile_interval 2 s) plus a second for
    // the pass itself and this poll.
    let within = Duration::from_secs(2 + 1);
    let took = wait_for("drift repaired", within + Duration::from_secs(3), || {
        let all = netns::run("dir1", &["ipvsadm", "-Ln"])?;
        let w1 = real_servers("dir1", Some(HTTP))?
            .iter()
            .any(|l| l.contains("198.51.100.11:80") && l.split_whitespace().nth(3) == Some("1"));
        Ok(all.contains("192.0.2.10:5000") && w1 && real_servers("dir1", None)?.len() == 5)
    })?;
    eprintln!("drift repaired after {took:?} (reconcile_interval 2s)");
    if took > within {
        return Err(format!(
            "drift repaired after {took:?}: more than one pass (interval 2 s + 1 s)"
        ));
    }
    let all = netns::run("dir1", &["ipvsadm", "-Ln"])?;
    if !all.contains("203.0.113.5:99") {
        return Err(format!("the foreign service was touched:\n{all}"));
    }

    // Reload with an invalid file: the old configuration stays, the error names file and line.
    let myapp = config.join("services/myapp.yaml");
    let good = std::fs::read_to_string(&myapp).map_err(|e| e.to_string())?;
    let from = lbd.log().len();
    write(&myapp, &good.replace("scheduler: wlc", "scheduler: nosuch"))?;
    lbd.signal(libc::SIGHUP);
    let line = lbd.wait_line("reload rejected", from, Duration::from_secs(10))?;
    if !line.contains("myapp.yaml:2:") {
        return Err(format!(
            "the reload error does not name file and line: {line}"
        ));
    }
    let all_after = netns::run("dir1", &["ipvsadm", "-Ln"])?;
    if !all_after.contains("192.0.2.10:5000 wlc") || real_servers("dir1", None)?.len() != 5 {
        return Err(format!("an invalid reload changed the table:\n{all_after}"));
    }
    let page = super::http::get("client", "192.0.2.10:80".parse().map_err(|_| "addr")?)?;
    if !page.starts_with("rs") {
        return Err(format!(
            "the VIP stopped serving after a bad reload: {page:?}"
        ));
    }

    // Reload changing one service: one operation, on that service only.
    let from = lbd.log().len();
    write(&myapp, &good.replace("scheduler: wlc", "scheduler: rr"))?;
    lbd.signal(libc::SIGHUP);
    let line = lbd.wait_line("reload reconcile done", from, Duration::from_secs(10))?;
    let log = lbd.log();
    let changes: Vec<&str> = log[from..]
        .lines()
        .filter(|l| l.contains("table change"))
        .collect();
    if mutating_ops(&line)? != 1 || changes.len() != 1 || !changes[0].contains("192.0.2.10:5000") {
        return Err(format!(
            "a one-service reload sent other operations: {line}\n{changes:#?}"
        ));
    }
    if !netns::run("dir1", &["ipvsadm", "-Ln"])?.contains("192.0.2.10:5000 rr") {
        return Err("the reload's change is not in the table".into());
    }
    lbd.stop()?;
    // The table is left as it is on exit.
    if real_servers("dir1", None)?.len() != 5 {
        return Err("lbd changed the table on exit".into());
    }
    Ok(())
}

fn quorum_and_sorry() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    // Quorum 2 with rs4 as the sorry server; no guard (every failing server may leave).
    lab_config(
        &config,
        "quorum: 2\nsorry_server: {address: 198.51.100.14, port: 80, weight: 1}\n",
        "mass_removal_guard: 100%\n",
    )?;
    let lbd = Lbd::start(
        "dir1",
        &config,
        &tmp.path().join("state"),
        &tmp.path().join("lbd.log"),
    )?;
    wait_for("3 http real servers", Duration::from_secs(30), || {
        Ok(real_servers("dir1", Some(HTTP))?.len() == 3)
    })?;
    let sorry = "198.51.100.14:80";
    if has("dir1", HTTP, sorry)? {
        return Err("sorry server in the table with quorum met".into());
    }
    // rs1 fails: 2 healthy = quorum, no sorry server.
    stop_http("rs1", 80)?;
    wait_for("rs1 out", Duration::from_secs(10), || {
        Ok(!has("dir1", HTTP, "198.51.100.11:80")?)
    })?;
    std::thread::sleep(Duration::from_millis(1500));
    if has("dir1", HTTP, sorry)? {
        return Err("sorry server added while quorum was met".into());
    }
    // rs2 fails too: only rs3 passes, below quorum: the sorry server comes in.
    stop_http("rs2", 80)?;
    wait_for(
        "rs2 out and the sorry server in",
        Duration::from_secs(10),
        || Ok(!has("dir1", HTTP, "198.51.100.12:80")? && has("dir1", HTTP, sorry)?),
    )?;
    let rs = real_servers("dir1", Some(HTTP))?;
    if rs.len() != 2 || !has("dir1", HTTP, "198.51.100.13:80")? {
        return Err(format!(
            "below quorum: want rs3 and the sorry server: {rs:?}"
        ));
    }
    let page = super::http::get("client", "192.0.2.10:80".parse().map_err(|_| "addr")?)?;
    if !page.starts_with("rs") {
        return Err(format!("the VIP stopped serving below quorum: {page:?}"));
    }
    // Both come back: quorum returns, the sorry server leaves.
    let _h1 = start_http("rs1", 80)?;
    let _h2 = start_http("rs2", 80)?;
    wait_for(
        "sorry server out, 3 real servers",
        Duration::from_secs(15),
        || Ok(!has("dir1", HTTP, sorry)? && real_servers("dir1", Some(HTTP))?.len() == 3),
    )?;
    lbd.stop()?;
    Ok(())
}

/// GETs `path` from `addr` out of namespace `ns`: the whole answer.
fn get_path(ns: &str, addr: &str, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: lab\r\n\r\n");
    super::netns::in_netns(ns, move || -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(request.as_bytes())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    })
    .and_then(|r| r)
    .map_err(|e| format!("GET http://{addr}{path} from {ns}: {e}"))
}

/// The `lbd_mass_removal_guard_held{service="http"}` sample on lbd's /metrics in dir1.
fn guard_gauge() -> Result<Option<String>, String> {
    let text = get_path("dir1", "127.0.0.1:9180", "/metrics")?;
    Ok(text
        .lines()
        .find(|l| l.starts_with("lbd_mass_removal_guard_held{service=\"http\"}"))
        .map(|l| l.rsplit(' ').next().unwrap_or("").to_string()))
}

fn mass_removal_guard() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    // At most half of the nodes may be out for checks; the http watch's alert script writes
    // what it was told to a file.
    let alerts = tmp.path().join("alerts");
    let fired = tmp.path().join("fired");
    write_alert_script(
        &alerts.join("guard.alert"),
        "$* | $LBD_NODE | $(cat)",
        &fired,
    )?;
    lab_config(
        &config,
        "",
        &format!("mass_removal_guard: 50%\nalert_dir: {}\n", alerts.display()),
    )?;
    let http = config.join("services/http.yaml");
    let text = std::fs::read_to_string(&http).map_err(|e| e.to_string())?;
    write(&http, &format!("{text}  alert: [guard.alert ops]\n"))?;
    let mut lbd = Lbd::start(
        "dir1",
        &config,
        &tmp.path().join("state"),
        &tmp.path().join("lbd.log"),
    )?;
    wait_for("3 http real servers", Duration::from_secs(30), || {
        Ok(real_servers("dir1", Some(HTTP))?.len() == 3)
    })?;
    if guard_gauge()?.as_deref() != Some("0") {
        return Err(format!(
            "guard gauge before any failure: {:?}",
            guard_gauge()?
        ));
    }
    // rs1 fails: 1 of 3 out (within 50%).
    stop_http("rs1", 80)?;
    wait_for("rs1 out", Duration::from_secs(10), || {
        Ok(!has("dir1", HTTP, "198.51.100.11:80")?)
    })?;
    // rs2 fails too: 2 of 3 would be out (> 50%): the guard keeps rs2 in, says so, runs the
    // watch's alert and counts it.
    let from = lbd.log().len();
    stop_http("rs2", 80)?;
    let line = lbd.wait_line("mass-removal guard", from, Duration::from_secs(10))?;
    eprintln!("{line}");
    wait_for("the guard alert", Duration::from_secs(10), || {
        Ok(std::fs::read_to_string(&fired)
            .unwrap_or_default()
            .contains("mass-removal guard"))
    })?;
    // The same scripts also ran for each node's own failure; the guard's call is the one whose
    // summary (stdin) is the guard's message.
    let fired_text = std::fs::read_to_string(&fired).unwrap_or_default();
    let alert = fired_text
        .lines()
        .find(|l| l.contains("mass-removal guard"))
        .unwrap_or_default();
    eprintln!("guard alert: {alert}");
    if !alert.starts_with("-s http -g http_nodes -h rs2 -t ")
        || !alert.contains(" ops | rs2 | mass-removal guard: http keeps 1 failing real server(s)")
    {
        return Err(format!(
            "the guard alert was not told the held node: {fired_text:?}"
        ));
    }
    if guard_gauge()?.as_deref() != Some("1") {
        return Err(format!(
            "guard gauge while holding rs2: {:?}",
            guard_gauge()?
        ));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let rs = real_servers("dir1", Some(HTTP))?;
    if !has("dir1", HTTP, "198.51.100.12:80")? || has("dir1", HTTP, "198.51.100.11:80")? {
        return Err(format!("the guard did not hold rs2 (and only rs2): {rs:?}"));
    }
    // Both come back: the guard lets go.
    let _h1 = start_http("rs1", 80)?;
    let _h2 = start_http("rs2", 80)?;
    wait_for(
        "3 real servers and the guard released",
        Duration::from_secs(15),
        || {
            Ok(real_servers("dir1", Some(HTTP))?.len() == 3
                && guard_gauge()?.as_deref() == Some("0"))
        },
    )?;
    lbd.stop()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A small table in a scratch namespace: the systemd protocol and the unit's capabilities.

/// A scratch namespace whose dummy link d0 holds 198.51.100.1/24, so real servers on that net
/// are routable (IPVS takes them without anyone answering).
fn scratch_ns(name: &str) -> Result<Netns, String> {
    let ns = Netns::new(name)?;
    netns::run(
        ns.name(),
        &[
            "sh",
            "-c",
            "ip link add d0 type dummy && ip link set d0 up && ip addr add 198.51.100.1/24 dev d0",
        ],
    )?;
    Ok(ns)
}

fn small_setup(name: &str) -> Result<(Netns, tempfile::TempDir, PathBuf), String> {
    let ns = scratch_ns(name)?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    write(
        &config.join("director.yaml"),
        &format!(
            "name: dir1\nreconcile_interval: 1s\nmonitor_dir: {}\n",
            config.join("monitors").display()
        ),
    )?;
    write_script(&config.join("monitors/true.monitor"), "#!/bin/sh\nexit 0\n")?;
    write(
        &config.join("hostgroups/small.yaml"),
        "ping: false\nnodes:\n  - {name: n1, address: 198.51.100.11}\n  - {name: n2, address: 198.51.100.12}\n",
    )?;
    write(
        &config.join("services/s.yaml"),
        "virtual: {address: 192.0.2.10, port: 80}\nscheduler: rr\nhostgroup: small\n\
         watch:\n  monitor: {external: true.monitor}\n  interval: 1s\n",
    )?;
    Ok((ns, tmp, config))
}

/// Datagrams read from a notify socket, each with when it arrived.
struct Notify {
    sock: std::os::unix::net::UnixDatagram,
    got: Vec<(Instant, String)>,
}

impl Notify {
    fn bind(path: &Path) -> Result<Self, String> {
        let sock = std::os::unix::net::UnixDatagram::bind(path)
            .map_err(|e| format!("bind {}: {e}", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(|e| e.to_string())?;
        Ok(Notify {
            sock,
            got: Vec::new(),
        })
    }

    /// Reads for `d`: the messages that arrived.
    fn read_for(&mut self, d: Duration) -> Vec<(Instant, String)> {
        let t0 = Instant::now();
        let from = self.got.len();
        let mut buf = [0u8; 4096];
        while t0.elapsed() < d {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
                self.got.push((Instant::now(), msg));
            }
        }
        self.got[from..].to_vec()
    }

    /// Reads until a message containing `needle` (within `timeout`): the messages up to it.
    fn until(&mut self, needle: &str, timeout: Duration) -> Result<Vec<String>, String> {
        let t0 = Instant::now();
        let from = self.got.len();
        while t0.elapsed() < timeout {
            let new = self.read_for(Duration::from_millis(50));
            if new.iter().any(|(_, m)| m.contains(needle)) {
                return Ok(self.got[from..].iter().map(|(_, m)| m.clone()).collect());
            }
        }
        Err(format!(
            "no {needle} within {timeout:?}; got {:?}",
            self.got[from..].iter().map(|(_, m)| m).collect::<Vec<_>>()
        ))
    }
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(ts.tv_nsec).unwrap_or(0) / 1000
}

fn systemd_protocol() -> Result<(), String> {
    let (ns, tmp, config) = small_setup("lbd-sd")?;
    let path = tmp.path().join("notify.sock");
    let mut notify = Notify::bind(&path)?;
    let path_s = path.to_str().ok_or("path")?;
    let lbd = Lbd::start_with(
        ns.name(),
        &config,
        &tmp.path().join("state"),
        &tmp.path().join("lbd.log"),
        &[],
        &[("NOTIFY_SOCKET", path_s), ("WATCHDOG_USEC", "500000")],
    )?;
    // READY=1 first, and only once the first reconcile is done (logged before it is sent).
    let before = notify.until("READY=1", Duration::from_secs(60))?;
    let log = lbd.log();
    eprintln!("first notification: {before:?}");
    // (The first WATCHDOG=1 follows at once, often within the same read.)
    if !before
        .first()
        .is_some_and(|m| m.lines().any(|l| l == "READY=1"))
    {
        return Err(format!(
            "READY=1 was not the first notification: {before:?}"
        ));
    }
    if !log.contains("first reconcile done") {
        return Err(format!(
            "READY=1 before the first reconcile:\n{}",
            tail(&log)
        ));
    }
    // WATCHDOG=1 every half of WATCHDOG_USEC (250 ms), from the loop.
    let pets: Vec<Instant> = notify
        .read_for(Duration::from_secs(3))
        .into_iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(t, _)| t)
        .collect();
    let gap = pets
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(Duration::MAX);
    eprintln!("{} WATCHDOG=1 in 3 s, longest gap {gap:?}", pets.len());
    if pets.len() < 8 || gap > Duration::from_millis(500) {
        return Err(format!(
            "watchdog: {} pets in 3 s, longest gap {gap:?} (WATCHDOG_USEC 500 ms)",
            pets.len()
        ));
    }
    // A stopped process pets nothing: systemd would restart it.
    lbd.signal(libc::SIGSTOP);
    notify.read_for(Duration::from_millis(300));
    let stalled = notify.read_for(Duration::from_millis(1500));
    lbd.signal(libc::SIGCONT);
    if !stalled.is_empty() {
        return Err(format!("notifications from a stopped process: {stalled:?}"));
    }
    notify.until("WATCHDOG=1", Duration::from_secs(2))?;
    eprintln!("SIGSTOP: no notification for 1.5 s; SIGCONT: WATCHDOG=1 again");
    // SIGHUP: RELOADING=1 with the monotonic time of the reload's start, then READY=1.
    notify.read_for(Duration::from_millis(100));
    let t0 = monotonic_usec();
    lbd.signal(libc::SIGHUP);
    let msgs = notify.until("READY=1", Duration::from_secs(10))?;
    let t1 = monotonic_usec();
    let msgs: Vec<&String> = msgs
        .iter()
        .filter(|m| !m.lines().all(|l| l == "WATCHDOG=1"))
        .collect();
    eprintln!("SIGHUP: {msgs:?}");
    let reloading = msgs
        .first()
        .filter(|m| m.lines().any(|l| l == "RELOADING=1"))
        .ok_or_else(|| format!("no RELOADING=1 first: {msgs:?}"))?;
    let mono: u64 = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no MONOTONIC_USEC with RELOADING=1: {reloading:?}"))?;
    if !(t0..=t1).contains(&mono) {
        return Err(format!(
            "MONOTONIC_USEC={mono} not within the reload ({t0}..{t1})"
        ));
    }
    if msgs.len() != 2 || !msgs[1].lines().any(|l| l == "READY=1") {
        return Err(format!("want RELOADING=1 then READY=1: {msgs:?}"));
    }
    // SIGTERM: STOPPING=1.
    lbd.signal(libc::SIGTERM);
    notify.until("STOPPING=1", Duration::from_secs(10))?;
    lbd.stop()?;
    Ok(())
}

fn control_group_caps() -> Result<(), String> {
    // The unit's capabilities, as setpriv sets them for a root process: CAP_NET_ADMIN and
    // CAP_NET_RAW only, no new privileges; with and without the control group (adm, gid 4)
    // among the supplementary groups (what `SupplementaryGroups=` in a drop-in gives).
    let (ns, tmp, config) = small_setup("lbd-caps")?;
    let socket = tmp.path().join("control.sock");
    let director = config.join("director.yaml");
    let text = std::fs::read_to_string(&director).map_err(|e| e.to_string())?;
    write(
        &director,
        &format!(
            "{text}control: {{socket: {}, group: adm}}\n",
            socket.display()
        ),
    )?;
    let caps = [
        "setpriv",
        "--bounding-set=-all,+net_admin,+net_raw",
        "--inh-caps=-all,+net_admin,+net_raw",
        "--ambient-caps=-all,+net_admin,+net_raw",
        "--no-new-privs",
    ];
    for (with_group, groups) in [(false, "--clear-groups"), (true, "--groups=4")] {
        let mut wrap = caps.to_vec();
        wrap.extend([groups, "--"]);
        let log = tmp.path().join(format!("lbd-{with_group}.log"));
        let mut lbd = Lbd::start_with(
            ns.name(),
            &config,
            &tmp.path().join("state"),
            &log,
            &wrap,
            &[],
        )?;
        lbd.wait_line("first reconcile done", 0, Duration::from_secs(60))?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", lbd.child.id()))
            .map_err(|e| e.to_string())?;
        let eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(str::trim)
            .unwrap_or("");
        // Bits 12 (CAP_NET_ADMIN) and 13 (CAP_NET_RAW).
        if eff != "0000000000003000" {
            return Err(format!(
                "lbd runs with CapEff {eff}, not the unit's two capabilities"
            ));
        }
        if with_group {
            lbd.wait_line("control socket ready", 0, Duration::from_secs(10))?;
            let meta = std::fs::metadata(&socket).map_err(|e| e.to_string())?;
            let gid = std::os::unix::fs::MetadataExt::gid(&meta);
            let out = Command::new(LBCTL)
                .arg("-c")
                .arg(&config)
                .arg("status")
                .output()
                .map_err(|e| e.to_string())?;
            eprintln!(
                "with SupplementaryGroups=adm: socket group {gid}, lbctl status {}",
                out.status
            );
            if gid != 4 || !out.status.success() {
                return Err(format!(
                    "control socket group {gid}, lbctl status: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        } else {
            let line = lbd.wait_line("control socket not available", 0, Duration::from_secs(10))?;
            eprintln!("without the group: {line}");
            if !line.contains("chown") || !line.contains("Operation not permitted") {
                return Err(format!("not the chown refusal: {line}"));
            }
        }
        lbd.stop()?;
    }
    Ok(())
}

/// Sets `eth0` of namespace `ns` up again on drop.
struct LinkUp(&'static str);

impl Drop for LinkUp {
    fn drop(&mut self) {
        let _ = netns::run(self.0, &["ip", "link", "set", "eth0", "up"]);
    }
}

/// `lbctl nodes --json`: the state of `node`.
/// `lbctl events` (for failure messages).
fn events(config: &Path) -> String {
    Command::new(LBCTL)
        .arg("-c")
        .arg(config)
        .arg("events")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|e| e.to_string())
}

fn node_state(config: &Path, node: &str) -> Result<String, String> {
    let out = Command::new(LBCTL)
        .arg("-c")
        .arg(config)
        .args(["nodes", "--json"])
        .output()
        .map_err(|e| format!("lbctl: {e}"))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "lbctl nodes --json: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    v["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["name"] == node))
        .and_then(|n| n["state"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("no node {node} in {v}"))
}

fn link_down_offline_and_back() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    let socket = tmp.path().join("control.sock");
    // The classic node_down.alert / node_up.alert pair on the hostgroup's ping watch: each
    // appends what it was told to a file.
    let alerts = tmp.path().join("alerts");
    let fired = tmp.path().join("fired");
    for (script, word) in [("node_down.alert", "down"), ("node_up.alert", "up")] {
        write_alert_script(
            &alerts.join(script),
            &format!(
                "{word} $* | $LBD_NODE $LBD_NODE_ADDRESS $MON_GROUP $MON_SERVICE $LBD_OLD_STATE $LBD_NEW_STATE"
            ),
            &fired,
        )?;
    }
    lab_config(
        &config,
        "",
        &format!(
            "control: {{socket: {}}}\nalert_dir: {}\n",
            socket.display(),
            alerts.display()
        ),
    )?;
    write(
        &config.join("hostgroups/http_nodes.yaml"),
        "ping: {interval: 1s, timeout: 500ms, fall: 2, alert: [node_down.alert ops], upalert: [node_up.alert ops]}\n\
         nodes:\n  - {name: rs1, address: 198.51.100.11}\n  - {name: rs2, address: 198.51.100.12}\n  - {name: rs3, address: 198.51.100.13}\n",
    )?;
    let lbd = Lbd::start(
        "dir1",
        &config,
        &tmp.path().join("state"),
        &tmp.path().join("lbd.log"),
    )?;
    let took = wait_for("5 real servers", Duration::from_secs(30), || {
        Ok(real_servers("dir1", None)?.len() == 5)
    })?;
    eprintln!("cold start with ping watches: 5 real servers in {took:?}");
    if node_state(&config, "rs2")? != "online" {
        return Err("rs2 not online after start".into());
    }

    // rs2's link goes down: offline (ping silent), out of the table.
    let from = lbd.log().len();
    let _up = LinkUp("rs2");
    netns::run("rs2", &["ip", "link", "set", "eth0", "down"])?;
    let out = wait_for("rs2 out of http", Duration::from_secs(15), || {
        Ok(!has("dir1", HTTP, "198.51.100.12:80")?)
    })?;
    let offline = wait_for("rs2 offline", Duration::from_secs(15), || {
        Ok(node_state(&config, "rs2")? == "offline")
    })?;
    eprintln!("rs2 link down: out of the table after {out:?}, offline after {offline:?}");
    let read_fired = || std::fs::read_to_string(&fired).unwrap_or_default();
    // Waits for the line an alert script wrote: its arguments (Mon's, then ours) and, after the
    // `|`, the environment it saw.
    let wait_alert = |what: &str, args: &str, seen: &str| {
        wait_for(what, Duration::from_secs(10), || {
            Ok(read_fired()
                .lines()
                .any(|l| l.starts_with(args) && l.ends_with(seen)))
        })
        .map_err(|e| {
            format!(
                "{e}: the alerts wrote {:?}\nevents:\n{}",
                read_fired(),
                events(&config)
            )
        })
    };
    wait_alert(
        "node_down.alert for rs2",
        "down -s ping -g http_nodes -h rs2 -t ",
        " ops | rs2 198.51.100.12 http_nodes ping online offline",
    )?;
    let log = lbd.log();
    if !log[from..]
        .lines()
        .any(|l| l.contains("node transition") && l.contains("rs2") && l.contains("new=offline"))
    {
        return Err(format!(
            "no offline transition for rs2 in the log:\n{}",
            tail(&log)
        ));
    }
    for other in ["198.51.100.11:80", "198.51.100.13:80"] {
        if !has("dir1", HTTP, other)? {
            return Err(format!("{other} left the table with rs2's link"));
        }
    }
    let page = super::http::get("client", "192.0.2.10:80".parse().map_err(|_| "addr")?)?;
    if !page.starts_with("rs") {
        return Err(format!("the VIP stopped serving: {page:?}"));
    }

    // Link up: ping answers, the http check passes, rs2 is back.
    netns::run("rs2", &["ip", "link", "set", "eth0", "up"])?;
    // Its default route went with the link.
    let _ = netns::run(
        "rs2",
        &["ip", "route", "replace", "default", "via", "198.51.100.1"],
    );
    let back = wait_for("rs2 back in http", Duration::from_secs(20), || {
        has("dir1", HTTP, "198.51.100.12:80")
    })?;
    eprintln!("rs2 link up: back in the table after {back:?}");
    if node_state(&config, "rs2")? != "online" {
        return Err("rs2 in the table but not online".into());
    }
    wait_alert(
        "node_up.alert for rs2",
        "up -s ping -g http_nodes -h rs2 -t ",
        " -u ops | rs2 198.51.100.12 http_nodes ping offline online",
    )?;
    // One alert each way, for rs2 only (the other nodes never went offline).
    let lines: Vec<String> = read_fired().lines().map(str::to_owned).collect();
    if lines.len() != 2 {
        return Err(format!("expected one down and one up alert: {lines:#?}"));
    }
    lbd.stop()?;
    Ok(())
}
