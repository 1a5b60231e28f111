//! The control API against the real daemon in the lab (issue 8): every `lbctl` subcommand on a
//! running `lbd` (status, nodes, services, events and events --follow, diff, reload, drain,
//! enable, maintenance, /metrics); `drain --wait` with long-lived connections open (it returns only after they
//! close, and no new connection reaches the drained node meanwhile); the drain surviving an
//! `lbd` restart; an unprivileged peer refused; malformed requests answered with an error while
//! the daemon goes on serving.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::daemon::{has, lab_config, tempdir, wait_for, Lbd, HTTP};
use super::netns::{self, in_netns};
use super::topology::{Options, Topology};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test("control::lbctl_against_the_daemon", || {
        lbctl_against_the_daemon().map_err(Failed::from)
    })]
}

const LBCTL: &str = env!("CARGO_BIN_EXE_lbctl");

fn lbctl(config: &Path, args: &[&str]) -> Result<Output, String> {
    Command::new(LBCTL)
        .arg("-c")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run lbctl: {e}"))
}

/// Runs lbctl and requires exit 0; its stdout.
pub(crate) fn ok(config: &Path, args: &[&str]) -> Result<String, String> {
    let out = lbctl(config, args)?;
    if !out.status.success() {
        return Err(format!(
            "lbctl {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn json(config: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    let text = ok(config, args)?;
    serde_json::from_str(&text)
        .map_err(|e| format!("lbctl {}: not JSON ({e}): {text}", args.join(" ")))
}

/// The admin state of `node` in service http, from `lbctl status --json`.
fn admin_of(config: &Path, node: &str) -> Result<String, String> {
    let status = json(config, &["status", "--json"])?;
    status["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == "http")
        .flat_map(|s| s["real_servers"].as_array().cloned().unwrap_or_default())
        .find(|rs| rs["node"] == node)
        .and_then(|rs| rs["admin"].as_str().map(str::to_string))
        .ok_or_else(|| format!("no {node} in status: {status}"))
}

/// Established connections to `real` in dir1's IPVS connection table.
fn established_to(real: &str) -> Result<usize, String> {
    let out = netns::run("dir1", &["ipvsadm", "-Lnc"])?;
    Ok(out
        .lines()
        .filter(|l| l.contains("ESTABLISHED") && l.split_whitespace().nth(5) == Some(real))
        .count())
}

fn lbctl_against_the_daemon() -> Result<(), String> {
    let _topology = Topology::up(Options::default())?;
    let tmp = tempdir()?;
    let config = tmp.path().join("config");
    let state = tmp.path().join("state");
    let socket = tmp.path().join("control.sock");
    lab_config(
        &config,
        "",
        &format!("control:\n  socket: {}\n", socket.display()),
    )?;
    let lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd.log"))?;
    wait_for("rs1..rs3 in the table", Duration::from_secs(30), || {
        Ok(has("dir1", HTTP, "198.51.100.11:80")?
            && has("dir1", HTTP, "198.51.100.12:80")?
            && has("dir1", HTTP, "198.51.100.13:80")?)
    })?;

    // Every read-only subcommand answers, human and JSON.
    let status = ok(&config, &["status"])?;
    for want in ["192.0.2.10:80", "rs1", "online", "http check passes"] {
        if !status.contains(want) {
            return Err(format!("lbctl status lacks {want:?}:\n{status}"));
        }
    }
    let nodes = json(&config, &["nodes", "--json"])?;
    if nodes["nodes"].as_array().map(Vec::len) != Some(5) {
        return Err(format!("lbctl nodes: {nodes}"));
    }
    let services = json(&config, &["services", "--json"])?;
    if services["services"].as_array().map(Vec::len) != Some(2) {
        return Err(format!("lbctl services: {services}"));
    }
    ok(&config, &["diff"])?;
    ok(&config, &["reload"])?;

    // Malformed requests get an error and the daemon goes on serving.
    let mut raw = UnixStream::connect(&socket).map_err(|e| format!("connect: {e}"))?;
    raw.set_read_timeout(Some(Duration::from_secs(10))).ok();
    raw.write_all(b"this is not json\n")
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(&raw)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if !line.contains("bad_request") {
        return Err(format!("garbage got {line:?}"));
    }
    drop(raw);
    ok(&config, &["status"])?;

    // An unprivileged peer may not drain (nor, with the default `others: none`, connect).
    let out = Command::new(LBCTL)
        .arg("-c")
        .arg(&config)
        .args(["drain", "rs2"])
        .uid(65534)
        .gid(65534)
        .output()
        .map_err(|e| format!("lbctl as nobody: {e}"))?;
    if out.status.code() != Some(4) {
        return Err(format!(
            "lbctl drain as nobody: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if admin_of(&config, "rs2")? != "enabled" {
        return Err("an unprivileged drain changed rs2".into());
    }

    // Long-lived connections through the VIP: round robin puts one on each real server.
    let vip: SocketAddr = "192.0.2.10:80".parse().map_err(|e| format!("{e}"))?;
    let held = in_netns("client", || -> std::io::Result<Vec<TcpStream>> {
        (0..3)
            .map(|_| TcpStream::connect_timeout(&vip, Duration::from_secs(5)))
            .collect()
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("connect to the VIP: {e}"))?;
    wait_for("a connection on rs1", Duration::from_secs(5), || {
        Ok(established_to("198.51.100.11:80")? >= 1)
    })?;

    // drain --wait does not return while rs1 has an active connection.
    let mut drain = Command::new(LBCTL)
        .arg("-c")
        .arg(&config)
        .args([
            "drain",
            "rs1",
            "--wait",
            "--timeout",
            "60s",
            "--poll",
            "200ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("lbctl drain: {e}"))?;
    let weight0 = wait_for("rs1 at weight 0", Duration::from_secs(10), || {
        let out = netns::run("dir1", &["ipvsadm", "-Ln", "-t", HTTP])?;
        Ok(out
            .lines()
            .any(|l| l.contains("198.51.100.11:80") && l.split_whitespace().nth(3) == Some("0")))
    });
    if let Err(e) = weight0 {
        let _ = drain.kill();
        let out = drain.wait_with_output().map_err(|e| e.to_string())?;
        return Err(format!(
            "{e}\ndrain: {} {}{}\nipvsadm: {}\nlbd log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            netns::run("dir1", &["ipvsadm", "-Ln"]).unwrap_or_default(),
            super::daemon::tail(&lbd.log())
        ));
    }
    std::thread::sleep(Duration::from_secs(3));
    if drain.try_wait().map_err(|e| e.to_string())?.is_some() {
        return Err("drain --wait returned while rs1 still had a connection".into());
    }
    // No new connection reaches rs1 meanwhile.
    for _ in 0..6 {
        let body = super::http::get("client", vip)?;
        if body.trim() == "rs1" {
            return Err("a new connection reached the drained rs1".into());
        }
    }
    let closed = Instant::now();
    drop(held);
    let status = loop {
        if let Some(st) = drain.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if closed.elapsed() > Duration::from_secs(30) {
            let _ = drain.kill();
            return Err(
                "drain --wait did not return within 30 s of the connections closing".into(),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = closed.elapsed();
    if !status.success() {
        let out = drain.wait_with_output().map_err(|e| e.to_string())?;
        return Err(format!(
            "drain --wait failed ({status}): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!("drain --wait returned {took:?} after the last connection closed");
    wait_for("rs1 out of the table", Duration::from_secs(10), || {
        Ok(!has("dir1", HTTP, "198.51.100.11:80")?)
    })?;

    // The operator's action is in the event history.
    // (`events --json` prints one JSON record a line.)
    let events = ok(&config, &["events", "--json"])?;
    let records: Vec<serde_json::Value> = events
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("lbctl events --json: {e}: {events}"))?;
    if !records
        .iter()
        .any(|r| r["kind"] == "admin" && r["message"] == "operator: drain rs1")
    {
        return Err(format!("no admin event for the drain: {events}"));
    }

    // Restart: the drain (now disable) survives; enable brings rs1 back.
    lbd.stop()?;
    let mut lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd2.log"))?;
    lbd.wait_line("first reconcile done", 0, Duration::from_secs(60))?;
    if has("dir1", HTTP, "198.51.100.11:80")? {
        return Err("rs1 came back into the table after a restart".into());
    }
    let admin = admin_of(&config, "rs1")?;
    if admin != "disabled" {
        return Err(format!("rs1 is {admin} after the restart"));
    }
    ok(&config, &["enable", "rs1"])?;
    wait_for("rs1 back in the table", Duration::from_secs(10), || {
        has("dir1", HTTP, "198.51.100.11:80")
    })?;

    // A follower of the event stream sees what happens from now on.
    let follow_log = tmp.path().join("follow.jsonl");
    let follow_out = std::fs::File::create(&follow_log).map_err(|e| e.to_string())?;
    let mut follower = Command::new(LBCTL)
        .arg("-c")
        .arg(&config)
        .args(["events", "--follow", "--json"])
        .stdout(follow_out)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("lbctl events --follow: {e}"))?;
    std::thread::sleep(Duration::from_millis(500));

    // Maintenance takes a node out of the table until it ends.
    ok(&config, &["maintenance", "rs3", "on"])?;
    wait_for("rs3 out for maintenance", Duration::from_secs(10), || {
        Ok(!has("dir1", HTTP, "198.51.100.13:80")?)
    })?;
    if admin_of(&config, "rs3")? != "maintenance" {
        return Err("rs3 is not shown in maintenance".into());
    }
    ok(&config, &["maintenance", "rs3", "off"])?;
    wait_for(
        "rs3 back after maintenance",
        Duration::from_secs(10),
        || has("dir1", HTTP, "198.51.100.13:80"),
    )?;

    let followed = wait_for(
        "the follower sees maintenance on and off",
        Duration::from_secs(10),
        || {
            let text = std::fs::read_to_string(&follow_log).unwrap_or_default();
            Ok(text.contains("maintenance on") && text.contains("maintenance off"))
        },
    );
    let _ = follower.kill();
    let _ = follower.wait();
    followed?;

    // /metrics of the running daemon (default listener 127.0.0.1:9180 in dir1).
    let metrics = netns::run(
        "dir1",
        &["curl", "-sS", "-m", "5", "http://127.0.0.1:9180/metrics"],
    )?;
    for want in [
        r#"lbd_node_state{node="rs1"} 1"#,
        r#"lbd_node_state{node="rs3"} 1"#,
        "# EOF",
    ] {
        if !metrics.lines().any(|l| l == want) {
            return Err(format!("/metrics lacks {want:?}:\n{metrics}"));
        }
    }
    lbd.stop()?;
    Ok(())
}
