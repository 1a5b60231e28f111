//! The control API against the real daemon in the lab (issue 8): every `lbctl` subcommand on a
//! running `lbd`, human and JSON forms with their content (status, nodes, services, events and
//! events --follow, diff --json predicting the operation of an edited service file, reload,
//! drain, disable, enable, maintenance); `drain --wait` with long-lived connections open (it
//! returns only after they close, no new connection reaches the drained node meanwhile, and an
//! `lbd` restart in the middle keeps the node at weight 0 with its connection while the waiting
//! lbctl rides it out); the drain surviving a restart; every request logged at info; an
//! unprivileged peer refused, then (`others: read`) allowed to read but not to change;
//! malformed requests answered with an error while the daemon goes on serving; the live
//! `/metrics` parsed by Debian's python3-prometheus-client (both its parsers); the status page
//! showing a failed node as failed.

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

/// The weight of rs1 in dir1's http service, from `ipvsadm -Ln` (None: not in the table).
fn weight_of_rs1() -> Result<Option<String>, String> {
    let out = netns::run("dir1", &["ipvsadm", "-Ln", "-t", HTTP])?;
    Ok(out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("198.51.100.11:80"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string)))
}

/// The line of `text` whose first word is `first`.
fn row<'a>(text: &'a str, first: &str) -> Result<&'a str, String> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .ok_or_else(|| format!("no {first} line in:\n{text}"))
}

/// Parses `/metrics` twice with Debian's python3-prometheus-client: the classic text (what a
/// client that does not ask for OpenMetrics gets) with its classic parser, the OpenMetrics
/// text (what Prometheus asks for) with its OpenMetrics parser, the two texts separated by a
/// line `---`; each sample name's sum over its series, as (classic, openmetrics).
const PARSE_METRICS: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families as classic
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
text_classic, text_openmetrics = sys.stdin.read().split("\n---\n")
def sums(families):
    out = {}
    for f in families:
        for s in f.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out
c = sums(classic(text_classic))
o = sums(openmetrics(text_openmetrics))
for name in sorted(set(c) | set(o)):
    print(name, c.get(name, -1), o.get(name, -1))
"#;

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
    // A VRRP instance of its own (VRID 52, a VIP no service uses, no peer): its role changes
    // and an operator failover must reach the event history.
    lab_config(
        &config,
        "",
        &format!(
            "control:\n  socket: {}\n\
             vrrp:\n  - name: vi_52\n    interface: eth0\n    vrid: 52\n    priority: 150\n\
             \x20   advert_interval: 200ms\n    vips:\n      - 192.0.2.20/24\n",
            socket.display()
        ),
    )?;
    let mut lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd.log"))?;
    wait_for("rs1..rs5 in the table", Duration::from_secs(30), || {
        Ok(has("dir1", HTTP, "198.51.100.11:80")?
            && has("dir1", HTTP, "198.51.100.12:80")?
            && has("dir1", HTTP, "198.51.100.13:80")?
            && has("dir1", "192.0.2.10:5000", "198.51.100.14:5000")?
            && has("dir1", "192.0.2.10:5000", "198.51.100.15:5000")?)
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
    let text = ok(&config, &["nodes"])?;
    for (node, hostgroup, service) in [
        ("rs1", "http_nodes", "http:up"),
        ("rs3", "http_nodes", "http:up"),
        ("rs5", "myapp_nodes", "myapp:up"),
    ] {
        let words: Vec<&str> = row(&text, node)?.split_whitespace().collect();
        for want in ["online", "enabled", hostgroup, service] {
            if !words.contains(&want) {
                return Err(format!("lbctl nodes: {node} is not {want}:\n{text}"));
            }
        }
    }
    let services = json(&config, &["services", "--json"])?;
    if services["services"].as_array().map(Vec::len) != Some(2) {
        return Err(format!("lbctl services: {services}"));
    }
    let text = ok(&config, &["services"])?;
    for (svc, words) in [
        ("http", ["192.0.2.10:80", "rr", "http_nodes", "3/3", "yes"]),
        (
            "myapp",
            ["192.0.2.10:5000", "wlc", "myapp_nodes", "2/2", "yes"],
        ),
    ] {
        let line = row(&text, svc)?;
        if let Some(w) = words
            .iter()
            .find(|w| !line.split_whitespace().any(|x| x == **w))
        {
            return Err(format!("lbctl services: {svc} lacks {w}:\n{text}"));
        }
    }
    // VRRP: the failover and each role change are events (the instance has no peer, so once
    // it has stepped down its master-down timer makes it master again).
    wait_for("vi_52 master", Duration::from_secs(20), || {
        Ok(super::vrrp::role(&socket)? == "master")
    })?;
    let text = ok(&config, &["failover"])?;
    if text != "vi_52: master steps down (priority 0), held in backup\n" {
        return Err(format!("lbctl failover: {text}"));
    }
    ok(&config, &["failover", "--clear"])?;
    wait_for("vrrp and admin events", Duration::from_secs(10), || {
        let text = ok(&config, &["events", "--json"])?;
        let records: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let has = |kind: &str, part: &str| {
            records.iter().any(|r| {
                r["kind"] == kind && r["message"].as_str().is_some_and(|m| m.contains(part))
            })
        };
        Ok(has("vrrp", "vi_52: initialize → ")
            && has("vrrp", "→ master (priority 150)")
            && has(
                "admin",
                "operator: failover: vi_52: master steps down (priority 0), held in backup",
            )
            && has("vrrp", "vi_52: master → backup")
            && has("admin", "operator: failover --clear: vi_52: hold cleared"))
    })
    .map_err(|e| format!("{e}\n{}", ok(&config, &["events"]).unwrap_or_default()))?;

    let text = ok(&config, &["diff"])?;
    if text != "no change: the kernel table matches the configuration\n" {
        return Err(format!("lbctl diff on a converged table: {text}"));
    }
    // An edited service file: diff predicts the operation, reload sends it.
    let http_file = config.join("services/http.yaml");
    let http_yaml = std::fs::read_to_string(&http_file).map_err(|e| e.to_string())?;
    std::fs::write(
        &http_file,
        http_yaml.replace("scheduler: rr", "scheduler: wlc"),
    )
    .map_err(|e| e.to_string())?;
    let diff = json(&config, &["diff", "--json"])?;
    if diff["ops"] != serde_json::json!(["-E -t 192.0.2.10:80 -s wlc"]) {
        return Err(format!("lbctl diff --json after the edit: {diff}"));
    }
    let text = ok(&config, &["reload"])?;
    if !text.starts_with("reloaded: 1 service(s) changed (http)")
        || !text.ends_with("; 1 operation(s) sent\n")
    {
        return Err(format!("lbctl reload: {text}"));
    }
    if !netns::run("dir1", &["ipvsadm", "-Ln", "-t", HTTP])?.contains(" wlc") {
        return Err("the reload did not change the scheduler".into());
    }
    std::fs::write(&http_file, &http_yaml).map_err(|e| e.to_string())?;
    let text = ok(&config, &["reload"])?;
    if !text.ends_with("; 1 operation(s) sent\n") {
        return Err(format!("lbctl reload back to rr: {text}"));
    }

    // Disable and enable, human and JSON.
    let text = ok(&config, &["disable", "rs2"])?;
    if text != "disable rs2: 1 operation(s) sent\n" {
        return Err(format!("lbctl disable rs2: {text}"));
    }
    if has("dir1", HTTP, "198.51.100.12:80")? {
        return Err("rs2 still in the table after disable".into());
    }
    let text = ok(&config, &["nodes"])?;
    if !row(&text, "rs2")?.contains("http:up(out)[disabled]")
        || admin_of(&config, "rs2")? != "disabled"
    {
        return Err(format!("lbctl nodes after disable:\n{text}"));
    }
    let done = json(&config, &["enable", "rs2", "--json"])?;
    if done["kind"] != "done" || done["message"] != "enable rs2: 1 operation(s) sent" {
        return Err(format!("lbctl enable rs2 --json: {done}"));
    }
    if !has("dir1", HTTP, "198.51.100.12:80")? || admin_of(&config, "rs2")? != "enabled" {
        return Err("rs2 not back after enable".into());
    }

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

    // Every request is in the log at info: the drain, the waiting lbctl's status reads, the
    // garbage line.
    let log = lbd.log();
    for want in [
        [
            " INFO ",
            "control request",
            "uid=0",
            "cmd=\"drain\"",
            "outcome=\"ok\"",
        ],
        [
            " INFO ",
            "control request",
            "uid=0",
            "cmd=\"status\"",
            "outcome=\"ok\"",
        ],
        [
            " INFO ",
            "control request",
            "uid=0",
            "cmd=\"nodes\"",
            "outcome=\"ok\"",
        ],
        [
            " WARN ",
            "control: bad request",
            "uid=0",
            "invalid request",
            "",
        ],
    ] {
        if !log.lines().any(|l| want.iter().all(|w| l.contains(w))) {
            return Err(format!("no log line with {want:?}:\n{log}"));
        }
    }

    // lbd restarts in the middle of the drain: rs1 stays at weight 0 with its connection and
    // is still draining; the waiting lbctl rides the restart out.
    lbd.stop()?;
    lbd = Lbd::start(
        "dir1",
        &config,
        &state,
        &tmp.path().join("lbd-mid-drain.log"),
    )?;
    lbd.wait_line("first reconcile done", 0, Duration::from_secs(60))?;
    lbd.wait_line("control socket ready", 0, Duration::from_secs(10))?;
    let weight = weight_of_rs1()?;
    let conns = established_to("198.51.100.11:80")?;
    let admin = admin_of(&config, "rs1")?;
    if weight.as_deref() != Some("0") || conns < 1 || admin != "drain" {
        return Err(format!(
            "after a restart mid-drain rs1 has weight {weight:?}, {conns} connection(s), admin {admin}"
        ));
    }
    if let Some(st) = drain.try_wait().map_err(|e| e.to_string())? {
        return Err(format!("drain --wait ended ({st}) when lbd restarted"));
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
    let out = drain.wait_with_output().map_err(|e| e.to_string())?;
    let said = String::from_utf8_lossy(&out.stderr);
    if !said.contains("; retrying until the deadline") || !said.contains("lbd answers again") {
        return Err(format!(
            "drain --wait did not say it waited for lbd: {said}"
        ));
    }
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
    let text = ok(&config, &["events"])?;
    for want in [
        " admin node=rs1: operator: drain rs1",
        " admin node=rs2: operator: disable rs2",
        " admin node=rs1: operator: disable rs1",
        " reload: reloaded: 1 service(s) changed (http)",
        " table_op node=rs2 service=http: -d -t 192.0.2.10:80 -r 198.51.100.12:80",
    ] {
        if !text.lines().any(|l| l.starts_with('#') && l.contains(want)) {
            return Err(format!("lbctl events lacks {want:?}:\n{text}"));
        }
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

    // /metrics of the running daemon (default listener 127.0.0.1:9180 in dir1), as curl gets
    // it (the classic text) and as Prometheus asks for it (OpenMetrics).
    let classic = netns::run(
        "dir1",
        &["curl", "-sS", "-m", "5", "http://127.0.0.1:9180/metrics"],
    )?;
    if classic.contains("# EOF") {
        return Err(format!("curl got OpenMetrics without asking:\n{classic}"));
    }
    let metrics = netns::run(
        "dir1",
        &[
            "curl",
            "-sS",
            "-m",
            "5",
            "-H",
            "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            "http://127.0.0.1:9180/metrics",
        ],
    )?;
    for want in [
        r#"lbd_node_state{node="rs1"} 1"#,
        r#"lbd_node_state{node="rs3"} 1"#,
        r#"lbd_real_server_health{service="http",node="rs1"} 1"#,
        r#"lbd_real_server_weight{service="http",node="rs1"} 1"#,
        r#"lbd_real_server_admin{service="http",node="rs1"} 0"#,
        "# EOF",
    ] {
        if !metrics.lines().any(|l| l == want) {
            return Err(format!("/metrics lacks {want:?}:\n{metrics}"));
        }
    }
    // The whole text through an independent parser.
    let mut py = Command::new("/usr/bin/python3")
        .args(["-c", PARSE_METRICS])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    py.stdin
        .take()
        .ok_or("python3: no stdin")?
        .write_all(format!("{classic}\n---\n{metrics}").as_bytes())
        .map_err(|e| e.to_string())?;
    let parsed = py.wait_with_output().map_err(|e| e.to_string())?;
    let sums = String::from_utf8_lossy(&parsed.stdout).into_owned();
    if !parsed.status.success() {
        return Err(format!(
            "prometheus_client could not parse /metrics: {}\n{metrics}",
            String::from_utf8_lossy(&parsed.stderr)
        ));
    }
    for name in [
        "lbd_check_latency_seconds_count",
        "lbd_reconcile_duration_seconds_count",
        "lbd_netlink_operations_total",
        "lbd_checks_total",
    ] {
        let line = row(&sums, name)?;
        let values: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        if values.len() != 2 || values.iter().any(|v| *v <= 0.0) {
            return Err(format!("{name}: (classic, openmetrics) = {line}\n{sums}"));
        }
    }
    eprintln!(
        "/metrics through prometheus_client: {} sample names",
        sums.lines().count()
    );
    let log = lbd.log();
    if !log.lines().any(|l| {
        l.contains(" INFO ") && l.contains("http request") && l.contains("path=/metrics status=200")
    }) {
        return Err(format!("no log line for the /metrics request:\n{log}"));
    }

    // The status page shows a failed node as failed.
    super::daemon::stop_http("rs2", 80)?;
    wait_for("rs2 failed", Duration::from_secs(20), || {
        Ok(json(&config, &["nodes", "--json"])?["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["name"] == "rs2" && n["state"] == "failed"))
    })?;
    let page = netns::run(
        "dir1",
        &["curl", "-sS", "-m", "5", "http://127.0.0.1:9180/"],
    )?;
    for want in [
        r#"<tr class="node state-failed" data-node="rs2" data-state="failed">"#,
        r#"data-node="rs1" data-state="online">"#,
    ] {
        if !page.contains(want) {
            return Err(format!("the status page lacks {want:?}:\n{page}"));
        }
    }

    // Others may read: a second start with `others: read`; nobody reads but cannot change.
    lbd.stop()?;
    std::fs::write(
        config.join("director.yaml"),
        format!(
            "name: dir1\nreconcile_interval: 2s\ncontrol:\n  socket: {}\n  others: read\n",
            socket.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    let mut lbd = Lbd::start("dir1", &config, &state, &tmp.path().join("lbd3.log"))?;
    lbd.wait_line("first reconcile done", 0, Duration::from_secs(60))?;
    lbd.wait_line("control socket ready", 0, Duration::from_secs(10))?;
    let as_nobody = |args: &[&str]| {
        Command::new(LBCTL)
            .arg("-c")
            .arg(&config)
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .map_err(|e| format!("lbctl as nobody: {e}"))
    };
    let out = as_nobody(&["status"])?;
    if out.status.code() != Some(0) || !String::from_utf8_lossy(&out.stdout).contains("rs1") {
        return Err(format!(
            "lbctl status as nobody with others: read: {} {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let out = as_nobody(&["drain", "rs3"])?;
    let said = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(4)
        || said != "lbctl: read-only access: changes need root or the control group\n"
    {
        return Err(format!(
            "lbctl drain as nobody with others: read: {} {said}",
            out.status
        ));
    }
    if admin_of(&config, "rs3")? != "enabled" {
        return Err("a read-only peer changed rs3".into());
    }
    let log = lbd.log();
    for want in [
        [
            "control request",
            "uid=65534",
            "cmd=\"status\"",
            "outcome=\"ok\"",
        ],
        [
            "control: permission denied",
            "uid=65534",
            "cmd=\"drain\"",
            "",
        ],
    ] {
        if !log.lines().any(|l| want.iter().all(|w| l.contains(w))) {
            return Err(format!("no log line with {want:?}:\n{log}"));
        }
    }
    lbd.stop()?;
    Ok(())
}
