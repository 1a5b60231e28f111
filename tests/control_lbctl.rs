//! The real `lbctl` binary against the real daemon: the director core, the control socket
//! server and the HTTP listener as `lbd` wires them, over an in-memory kernel table
//! (`control_support`), brought to the lab's state by fed check results (rs2 failed on an
//! HTTP 500, rs5 offline, vi_51 master). Every subcommand in human and JSON form with the
//! daemon's own words, exit codes, permission refusals for `nobody`, malformed and hostile
//! requests on a raw socket, event streaming and a follower that does not read, drain --wait
//! with connections going away (also across a daemon restart), and the log line of every
//! request. What needs the kernel, real checks or real VRRP instances (traffic through the
//! VIP, a real failover) is driven in the lab by tests/kernel/control.rs.

mod control_support;

use control_support::{addr, ping, report, service, text, vi_51, Fixture, Setup};
use lbd::config::ControlOthers;
use lbd::control::page::utc_text;
use lbd::control::proto::{ErrorCode, Response};
use lbd::director::{Input, CONNS_FRESH_MS};
use lbd::monitor::{CheckError, Pass};
use regex::Regex;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[track_caller]
fn code(out: &std::process::Output, want: i32) {
    assert_eq!(
        out.status.code(),
        Some(want),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Whether `shown` (`YYYY-MM-DD HH:MM:SS UTC`) is a second between `from_ms` and `to_ms`.
fn shows_a_time_between(shown: &str, from_ms: u64, to_ms: u64) -> bool {
    (from_ms / 1000..=to_ms / 1000).any(|s| utc_text(s * 1000) == shown)
}

#[track_caller]
fn matches(re: &str, line: &str) {
    assert!(
        Regex::new(re).unwrap().is_match(line),
        "`{line}` does not match `{re}`"
    );
}

/// The real server of `node` (each lab node serves one service) in `lbctl status --json`.
fn real_server(v: &serde_json::Value, node: &str) -> serde_json::Value {
    v["services"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["real_servers"].as_array().cloned().unwrap_or_default())
        .find(|rs| rs["node"] == node)
        .unwrap_or_else(|| panic!("no {node} in {v}"))
}

/// Kills a child (by its pid, through Child) even if an assertion fails.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a child writes on `stream`, as they come.
fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line from `rx` within `budget`.
#[track_caller]
fn next_line(rx: &Receiver<String>, budget: Duration) -> String {
    rx.recv_timeout(budget)
        .unwrap_or_else(|e| panic!("no line within {budget:?}: {e}"))
}

#[test]
fn socket_is_fresh_with_the_configured_mode_and_owner() {
    let f = Fixture::with(Setup {
        group: Some("nogroup".into()),
        others: ControlOthers::None,
        ..Setup::default()
    });
    let meta = std::fs::metadata(f.socket()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.uid(), 0);
    assert_eq!(meta.gid(), 65534);
    // A second server on the same path is refused while the first lives.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = lbd::control::server::Options::from_config(&lbd::config::Control {
        socket: f.socket().to_path_buf(),
        group: None,
        others: ControlOthers::None,
    });
    let err = rt
        .block_on(async { lbd::control::server::Server::bind(opts.clone()).map(|_| ()) })
        .unwrap_err();
    assert!(
        err.to_string().contains("another process is listening"),
        "{err}"
    );
    drop(f);
    // A stale socket (nobody listening) is replaced, with others: read → 0666.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let opts = lbd::control::server::Options {
        socket: path.clone(),
        others: ControlOthers::Read,
        ..opts
    };
    rt.block_on(async {
        let s = lbd::control::server::Server::bind(opts).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o666
        );
        // Shutting down removes the socket.
        let (handle, _rx) = handle();
        s.run(handle, async {}).await;
    });
    assert!(!path.exists());
    // A regular file in the way is not deleted.
    std::fs::write(&path, "precious").unwrap();
    let opts = lbd::control::server::Options::from_config(&lbd::config::Control {
        socket: path.clone(),
        group: Some("no-such-group-lbd".into()),
        others: ControlOthers::None,
    });
    let err = rt
        .block_on(async { lbd::control::server::Server::bind(opts.clone()).map(|_| ()) })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "control group `no-such-group-lbd` does not exist"
    );
    let opts = lbd::control::server::Options {
        group: None,
        ..opts
    };
    let err = rt
        .block_on(async { lbd::control::server::Server::bind(opts).map(|_| ()) })
        .unwrap_err();
    assert!(err.to_string().contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

#[allow(clippy::type_complexity)]
fn handle() -> (
    lbd::control::server::Handle,
    tokio::sync::mpsc::Receiver<(
        lbd::control::proto::Request,
        tokio::sync::oneshot::Sender<Response>,
    )>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let (events, _) = tokio::sync::broadcast::channel(1);
    (
        lbd::control::server::Handle {
            requests: tx,
            events,
        },
        rx,
    )
}

#[test]
fn status_shows_the_ipvsadm_view_with_the_why() {
    let f = Fixture::start();
    let t0 = now_ms();
    let out = f.lbctl(&["status"]);
    let t1 = now_ms();
    code(&out, 0);
    let s = text(&out.stdout);
    // The snapshot's time is the daemon's clock when it answered.
    let first = s.lines().next().unwrap();
    let at = first
        .strip_prefix("director dir1 at ")
        .unwrap_or_else(|| panic!("{s}"));
    assert!(shows_a_time_between(at, t0, t1), "{first}");
    assert!(
        s.contains("VRRP vi_51 on eth0 VRID 51: MASTER priority 150; VIPs 192.0.2.10/24 2001:db8::10/64 198.51.100.1/24"),
        "{s}"
    );
    assert!(
        s.contains(
            "TCP 192.0.2.10:80 wlc  [service http, hostgroup http_nodes, 2/3 healthy (quorum 1)]"
        ),
        "{s}"
    );
    assert!(
        s.contains(
            "TCP 192.0.2.10:5000 rr persistent 300  [service myapp, hostgroup myapp_nodes, 1/2 healthy (quorum 1)]"
        ),
        "{s}"
    );
    let line = |node: &str| {
        s.lines()
            .find(|l| l.contains(&format!(" {node} ")))
            .unwrap_or_else(|| panic!("no line for {node}: {s}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Weight, connections, node state, health, admin, the last check (result, latency, age:
    // the check's own words, empty for a pass) and the plan's why.
    matches(
        r"^-> 198\.51\.100\.11:80 nat 1 3 10 rs1 online up enabled ok 2ms \d+s ago: http check passes on rs1$",
        &line("rs1"),
    );
    matches(
        r"^-> 198\.51\.100\.12:80 nat - 0 0 rs2 failed down enabled FAIL 5ms \d+s ago: unexpected status 500 \(want 200-399\) http check fails on rs2: unexpected status 500 \(want 200-399\)$",
        &line("rs2"),
    );
    matches(
        r"^-> 198\.51\.100\.13:80 nat 1 1 4 rs3 online up enabled ok 3ms \d+s ago: http check passes on rs3$",
        &line("rs3"),
    );
    matches(
        r"^-> 198\.51\.100\.14:5000 nat 1 2 0 rs4 online up enabled ok 1ms \d+s ago: myapp check passes on rs4$",
        &line("rs4"),
    );
    // An offline node's services are not checked: no last check, the ping says why.
    assert_eq!(
        line("rs5"),
        "-> 198.51.100.15:5000 nat - 0 0 rs5 offline offline enabled - ping silent on rs5: no echo reply"
    );

    let t0 = now_ms();
    let out = f.lbctl(&["status", "--json"]);
    let t1 = now_ms();
    code(&out, 0);
    let v = json(&out);
    assert_eq!(v["director"], "dir1");
    let at = v["at_ms"].as_u64().unwrap();
    assert!((t0..=t1).contains(&at), "{at} not in {t0}..={t1}");
    assert_eq!(v["vrrp"][0]["state"], "master");
    assert_eq!(v["services"][0]["virtual"], "tcp 192.0.2.10:80");
    let rs2 = &v["services"][0]["real_servers"][1];
    assert_eq!(rs2["node"], "rs2");
    assert_eq!(rs2["node_state"], "failed");
    assert_eq!(rs2["health"], "down");
    assert_eq!(rs2["weight"], serde_json::Value::Null);
    assert_eq!(rs2["kernel_weight"], serde_json::Value::Null);
    assert_eq!(rs2["last_check"]["ok"], false);
    assert_eq!(rs2["last_check"]["latency_ms"], 5);
    assert_eq!(
        rs2["last_check"]["summary"],
        "unexpected status 500 (want 200-399)"
    );
    assert!(rs2["last_check"]["at_ms"].as_u64().unwrap() <= at);
    assert_eq!(
        rs2["why"],
        "http check fails on rs2: unexpected status 500 (want 200-399)"
    );
    let rs1 = &v["services"][0]["real_servers"][0];
    assert_eq!(
        (rs1["weight"].clone(), rs1["kernel_weight"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(
        (rs1["active_conns"].clone(), rs1["inactive_conns"].clone()),
        (3.into(), 10.into())
    );
}

/// `lbctl events` lines without the sequence number and the time: checks that the numbers
/// follow each other from `first` and that every time is a second between `from_ms` and now.
fn events_text(out: &str, first: u64, from_ms: u64) -> Vec<String> {
    let re = Regex::new(r"^#(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC) (.*)$").unwrap();
    let to = now_ms();
    out.lines()
        .enumerate()
        .map(|(i, l)| {
            let c = re
                .captures(l)
                .unwrap_or_else(|| panic!("not an event line: {l}"));
            assert_eq!(c[1].parse::<u64>().unwrap(), first + i as u64, "{out}");
            assert!(shows_a_time_between(&c[2], from_ms, to), "{l}");
            c[3].to_string()
        })
        .collect()
}

#[test]
fn nodes_services_events_and_diff() {
    let t0 = now_ms();
    let f = Fixture::start();
    let out = f.lbctl(&["nodes"]);
    code(&out, 0);
    let s = text(&out.stdout);
    let lines: Vec<Vec<&str>> = s.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines[0],
        [
            "NODE",
            "ADDRESS",
            "STATE",
            "SINCE",
            "ADMIN",
            "HOSTGROUPS",
            "SERVICES"
        ]
    );
    assert_eq!(lines.len(), 6, "{s}");
    let since = Regex::new(r"^\d+s$").unwrap();
    for (i, (node, group, address, svc)) in [
        ("rs1", "http_nodes", "198.51.100.11", "http:up"),
        ("rs2", "http_nodes", "198.51.100.12", "http:down(out)"),
        ("rs3", "http_nodes", "198.51.100.13", "http:up"),
        ("rs4", "myapp_nodes", "198.51.100.14", "myapp:up"),
        ("rs5", "myapp_nodes", "198.51.100.15", "myapp:offline(out)"),
    ]
    .into_iter()
    .enumerate()
    {
        let l = &lines[i + 1];
        assert_eq!(
            l[..3],
            [node, address, control_support::lab_state(node)],
            "{s}"
        );
        assert!(since.is_match(l[3]), "{s}");
        assert_eq!(l[4..], ["enabled", group, svc], "{s}");
    }
    let v = json(&f.lbctl(&["nodes", "--json"]));
    assert_eq!(v["kind"], "nodes");
    assert_eq!(v["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(v["nodes"][3]["name"], "rs4");
    assert_eq!(v["nodes"][3]["hostgroups"][0], "myapp_nodes");
    // rs2 is failed since its transition, during the fixture's start.
    let since = v["nodes"][1]["since_ms"].as_u64().unwrap();
    assert!((t0..=now_ms()).contains(&since), "{v}");

    let out = f.lbctl(&["services"]);
    code(&out, 0);
    let s = text(&out.stdout);
    let rows: Vec<Vec<&str>> = s.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0][0], "SERVICE");
    assert_eq!(
        rows[1],
        [
            "http",
            "tcp",
            "192.0.2.10:80",
            "wlc",
            "-",
            "nat",
            "http_nodes",
            "2/3",
            "1",
            "-",
            "yes"
        ]
    );
    assert_eq!(
        rows[2],
        [
            "myapp",
            "tcp",
            "192.0.2.10:5000",
            "rr",
            "300s",
            "nat",
            "myapp_nodes",
            "1/2",
            "1",
            "-",
            "yes"
        ]
    );
    let v = json(&f.lbctl(&["services", "--json"]));
    assert_eq!(v["services"][1]["persistent"], 300);

    // The history of the lab's start, in the daemon's words: vi_51's roles, then rs5's ping
    // going silent and rs2's failed check (each a transition and an alert), the two table
    // operations that took them out, and the run of rs2's alert script. The script runs on
    // its own task: its record may come before the table operations.
    let out = f.lbctl(&["events"]);
    code(&out, 0);
    let got = events_text(&text(&out.stdout), 1, t0);
    assert_eq!(
        got[..6],
        [
            "vrrp: vi_51: initialize → backup (priority 150)",
            "vrrp: vi_51: backup → master (priority 150)",
            "node_transition node=rs5: rs5: online → offline (ping silent on rs5: no echo reply)",
            "alert node=rs5 service=ping: alert ping on rs5: online → offline rs5 does not answer ping",
            "node_transition node=rs2: rs2: online → failed (http check fails on rs2: unexpected status 500 (want 200-399); ping answers)",
            "alert node=rs2 service=http: alert http on rs2: online → failed unexpected status 500 (want 200-399)",
        ],
        "{got:#?}"
    );
    let mut rest = got[6..].to_vec();
    rest.sort();
    let mut want = vec![
        "table_op node=rs2 service=http: -d -t 192.0.2.10:80 -r 198.51.100.12:80 (http check fails on rs2: unexpected status 500 (want 200-399); health change)".to_string(),
        "table_op node=rs5 service=myapp: -d -t 192.0.2.10:5000 -r 198.51.100.15:5000 (ping silent on rs5: no echo reply; health change)".to_string(),
        format!("alert node=rs2 service=http: {} for http on rs2: exit 0", f.mail_alert()),
    ];
    want.sort();
    assert_eq!(rest, want, "{got:#?}");
    let table_ops: Vec<&String> = got.iter().filter(|l| l.starts_with("table_op")).collect();
    assert!(
        table_ops[0].contains("rs2") && table_ops[1].contains("rs5"),
        "{got:#?}"
    );

    let out = f.lbctl(&["events", "--limit", "1", "--json"]);
    code(&out, 0);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], f.ready_seq);
    assert_eq!(lines[0]["seq"], got.len() as u64);
    let out = f.lbctl(&["events", "--since", "4", "--json"]);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), got.len() - 4);
    assert_eq!(lines[0]["seq"], 5);
    assert_eq!(lines[0]["node"], "rs2");
    assert_eq!(lines[0]["kind"], "node_transition");

    // The table is the configuration's: nothing to change.
    let out = f.lbctl(&["diff"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "no change: the kernel table matches the configuration\n"
    );
    // An edited service file: diff predicts the operation and sends nothing.
    f.kernel.take_ops();
    let http = f.config.join("services/http.yaml");
    std::fs::write(
        &http,
        control_support::HTTP_SERVICE.replace("scheduler: wlc", "scheduler: rr"),
    )
    .unwrap();
    let out = f.lbctl(&["diff"]);
    code(&out, 0);
    assert_eq!(text(&out.stdout), "-E -t 192.0.2.10:80 -s rr\n");
    assert_eq!(
        json(&f.lbctl(&["diff", "--json"]))["ops"],
        serde_json::json!(["-E -t 192.0.2.10:80 -s rr"])
    );
    assert_eq!(f.kernel.take_ops(), vec![], "diff changed the table");
    let v = json(&f.lbctl(&["services", "--json"]));
    assert_eq!(v["services"][0]["scheduler"], "wlc", "diff is not a reload");
}

#[test]
fn mutations_show_in_status_and_say_what_they_did() {
    let f = Fixture::start();
    let out = f.lbctl(&["disable", "rs3", "--service", "http"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "disable rs3 in http: 1 operation(s) sent\n"
    );
    let v = json(&f.lbctl(&["status", "--json"]));
    let rs3 = real_server(&v, "rs3");
    assert_eq!(rs3["admin"], "disabled");
    assert_eq!(rs3["kernel_weight"], serde_json::Value::Null);
    assert_eq!(rs3["why"], "disabled by the operator");

    let out = f.lbctl(&["enable", "rs3", "--json"]);
    code(&out, 0);
    assert_eq!(
        json(&out),
        serde_json::json!({"kind": "done", "message": "enable rs3: 1 operation(s) sent"})
    );
    let v = json(&f.lbctl(&["status", "--json"]));
    let rs3 = real_server(&v, "rs3");
    assert_eq!(rs3["admin"], "enabled");
    assert_eq!(rs3["kernel_weight"], 1);
    // Asking again for what is so changes nothing.
    let out = f.lbctl(&["enable", "rs3"]);
    code(&out, 0);
    assert_eq!(text(&out.stdout), "enable rs3: already so\n");

    let out = f.lbctl(&["maintenance", "rs4", "on"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "maintenance on rs4: 1 operation(s) sent\n"
    );
    let v = json(&f.lbctl(&["nodes", "--json"]));
    assert_eq!(v["nodes"][3]["admin"], "maintenance");
    assert_eq!(v["nodes"][3]["services"][0]["in_table"], false);
    let out = f.lbctl(&["maintenance", "rs4", "off"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "maintenance off rs4: 1 operation(s) sent\n"
    );
    // A bad switch is a usage error.
    code(&f.lbctl(&["maintenance", "rs4", "maybe"]), 2);

    // No VRRP instance runs in this daemon (vi_51's role in the status is fed, as the edge
    // feeds the views of running instances): failover has nothing to step down. A real
    // failover is driven in the lab (tests/kernel/control.rs).
    let out = f.lbctl(&["failover"]);
    code(&out, 5);
    assert_eq!(
        text(&out.stderr),
        "lbctl: no vrrp instance runs in this daemon\n"
    );
    assert!(text(&f.lbctl(&["status"]).stdout).contains("VRRP vi_51 on eth0 VRID 51: MASTER"));

    let out = f.lbctl(&["reload"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "reloaded: no service changed, 0 watch(es) restarted, 4 unchanged, 5 node(s) kept their state; 0 operation(s) sent\n"
    );

    // The event history records every change, in order: each operator action and the table
    // operation it sent (rs4 in maintenance empties myapp: its quorum is lost, then back),
    // then the reload.
    let out = f.lbctl(&["events", "--since", &f.ready_seq.to_string()]);
    let kinds: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            l.split_whitespace()
                .nth(4)
                .unwrap()
                .trim_end_matches(':')
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "admin", "table_op", "admin", "table_op", "admin", "alert", "table_op", "admin",
            "alert", "table_op", "reload"
        ],
        "{}",
        text(&out.stdout)
    );
    let v: Vec<serde_json::Value> = text(
        &f.lbctl(&["events", "--since", &f.ready_seq.to_string(), "--json"])
            .stdout,
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let messages: Vec<&str> = v.iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "operator: disable rs3 in http",
            "-d -t 192.0.2.10:80 -r 198.51.100.13:80 (disabled by the operator; operator: disable rs3 in http)",
            "operator: enable rs3",
            "-a -t 192.0.2.10:80 -r 198.51.100.13:80 -m -w 1 (http check passes on rs3; operator: enable rs3)",
            "operator: maintenance on rs4",
            "myapp: quorum lost: 0 passing real server(s), quorum 1",
            "-d -t 192.0.2.10:5000 -r 198.51.100.14:5000 (node in maintenance; operator: maintenance on rs4)",
            "operator: maintenance off rs4",
            "myapp: quorum back: 1 passing real server(s), quorum 1",
            "-a -t 192.0.2.10:5000 -r 198.51.100.14:5000 -m -w 1 (myapp check passes on rs4; operator: maintenance off rs4)",
            "reloaded: no service changed, 0 watch(es) restarted, 4 unchanged, 5 node(s) kept their state",
        ]
    );
}

#[test]
fn exit_codes_scripts_can_rely_on() {
    let f = Fixture::start();
    // 5: not found, with the daemon's words on stderr and, with --json, its answer on stdout.
    let out = f.lbctl(&["drain", "rs9"]);
    code(&out, 5);
    assert_eq!(text(&out.stderr), "lbctl: no node `rs9`\n");
    let out = f.lbctl(&["disable", "rs1", "--service", "smtp", "--json"]);
    code(&out, 5);
    assert_eq!(
        json(&out),
        serde_json::json!({"kind": "error", "code": "not_found", "message": "node `rs1` does not serve `smtp`"})
    );
    let out = f.lbctl(&["failover", "--instance", "vi_99"]);
    code(&out, 5);
    assert_eq!(text(&out.stderr), "lbctl: no vrrp instance `vi_99`\n");
    // 2: a reload that finds the configuration invalid; the message says where, and the
    // running configuration stays.
    let http = f.config.join("services/http.yaml");
    std::fs::write(
        &http,
        control_support::HTTP_SERVICE.replace("scheduler: wlc", "scheduler: wlcx"),
    )
    .unwrap();
    let out = f.lbctl(&["reload"]);
    code(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:12: ", http.display()))
            && err.contains("unknown scheduler `wlcx`"),
        "{err}"
    );
    let v = json(&f.lbctl(&["services", "--json"]));
    assert_eq!(v["services"][0]["scheduler"], "wlc");
    let last = f.events().pop().unwrap();
    assert!(
        last.message
            .starts_with("reload rejected, the running configuration stays: "),
        "{last:?}"
    );
    // 2: usage.
    code(&f.lbctl(&["drain"]), 2);
    code(&f.lbctl(&["drain", "rs1", "--timeout", "soon"]), 2);
    // 3: no daemon at the configured socket.
    let path = f.socket().to_path_buf();
    drop(f);
    let f2 = Fixture::start();
    let out = f2
        .command(&["--socket", path.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    code(&out, 3);
    assert_eq!(
        text(&out.stderr),
        format!(
            "lbctl: cannot reach lbd at {}: is it running? (No such file or directory (os error 2))\n",
            path.display()
        )
    );
    // 3: a socket nobody listens on (connection refused).
    let dead = f2.dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let out = f2
        .command(&["--socket", dead.to_str().unwrap(), "nodes"])
        .output()
        .unwrap();
    code(&out, 3);
    assert!(text(&out.stderr).contains("is it running?"));
}

#[test]
fn nobody_may_read_but_not_change_when_others_may_read() {
    let f = Fixture::with(Setup {
        others: ControlOthers::Read,
        ..Setup::default()
    });
    let out = f.lbctl_as_nobody(&["status", "--json"]);
    code(&out, 0);
    assert_eq!(json(&out)["director"], "dir1");
    code(&f.lbctl_as_nobody(&["events"]), 0);
    code(&f.lbctl_as_nobody(&["diff"]), 0);
    for args in [
        &["drain", "rs1"][..],
        &["disable", "rs1"],
        &["enable", "rs1"],
        &["maintenance", "rs1", "on"],
        &["reload"],
        &["failover"],
    ] {
        let out = f.lbctl_as_nobody(args);
        code(&out, 4);
        assert_eq!(
            text(&out.stderr),
            "lbctl: read-only access: changes need root or the control group\n",
            "{args:?}"
        );
    }
    // Nothing changed.
    let v = json(&f.lbctl(&["status", "--json"]));
    assert_eq!(v["services"][0]["real_servers"][0]["admin"], "enabled");
    assert_eq!(v["vrrp"][0]["state"], "master");
    assert_eq!(f.events().last().unwrap().seq, f.ready_seq);
}

#[test]
fn nobody_gets_nothing_when_others_may_not_read() {
    let f = Fixture::with(Setup {
        others: ControlOthers::None,
        ..Setup::default()
    });
    for args in [&["status"][..], &["drain", "rs1"]] {
        let out = f.lbctl_as_nobody(args);
        code(&out, 4);
        assert_eq!(
            text(&out.stderr),
            format!(
                "lbctl: permission denied on {}: lbctl needs root or the control group (director.control.group)\n",
                f.socket().display()
            )
        );
    }
    code(&f.lbctl(&["status"]), 0);
}

#[test]
fn the_control_group_may_change_things() {
    // nobody's primary group is the control group here.
    let f = Fixture::with(Setup {
        group: Some("nogroup".into()),
        others: ControlOthers::None,
        ..Setup::default()
    });
    let out = f.lbctl_as_nobody(&["drain", "rs1"]);
    code(&out, 0);
    assert_eq!(text(&out.stdout), "drain rs1: 1 operation(s) sent\n");
    let v = json(&f.lbctl(&["status", "--json"]));
    assert_eq!(real_server(&v, "rs1")["kernel_weight"], 0);
}

fn raw(f: &Fixture) -> (UnixStream, BufReader<UnixStream>) {
    let s = UnixStream::connect(f.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn answer(r: &mut BufReader<UnixStream>) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

fn bad_request(r: Response) -> String {
    match r {
        Response::Error {
            code: ErrorCode::BadRequest,
            message,
        } => message,
        other => panic!("not a bad request answer: {other:?}"),
    }
}

#[test]
fn malformed_requests_get_errors_and_the_server_keeps_serving() {
    let f = Fixture::start();
    let (mut w, mut r) = raw(&f);
    // Garbage, a wrong command, a missing field, bad UTF-8, an empty line: each an error, and
    // the same connection still answers a good request afterwards.
    w.write_all(b"hello\n").unwrap();
    assert!(bad_request(answer(&mut r)).starts_with("invalid request: expected value"));
    w.write_all(b"{\"cmd\":\"nuke\"}\n").unwrap();
    assert!(bad_request(answer(&mut r)).contains("unknown variant `nuke`"));
    w.write_all(b"{\"cmd\":\"drain\"}\n").unwrap();
    assert!(bad_request(answer(&mut r)).contains("missing field `node`"));
    w.write_all(b"\xff\xfe\n").unwrap();
    assert_eq!(bad_request(answer(&mut r)), "request is not UTF-8");
    w.write_all(b"\n").unwrap();
    assert_eq!(bad_request(answer(&mut r)), "empty request");
    w.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
    assert!(matches!(answer(&mut r), Response::Status(_)));

    // An oversized line: refused, connection closed.
    let (mut w, mut r) = raw(&f);
    let big = vec![b'a'; 70 * 1024];
    let _ = w.write_all(&big);
    assert_eq!(
        bad_request(answer(&mut r)),
        "request line longer than 65536 bytes"
    );
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(rest.is_empty());

    // Half a line, then hang-up: nothing to answer, nothing breaks.
    let (mut w, _r) = raw(&f);
    w.write_all(b"{\"cmd\":\"sta").unwrap();
    w.shutdown(std::net::Shutdown::Both).unwrap();
    drop(w);
    // Connect and hang up at once, many times.
    for _ in 0..50 {
        drop(UnixStream::connect(f.socket()).unwrap());
    }
    // The server still serves lbctl.
    code(&f.lbctl(&["status"]), 0);
    code(&f.lbctl(&["nodes"]), 0);
}

#[test]
fn events_follow_streams_history_then_new_events() {
    let f = Fixture::start();
    let mut child = f
        .command(&["events", "--follow", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let child = Kill(child);
    let rx = lines_of(stdout);
    let mut next = || -> serde_json::Value {
        let Ok(l) = rx.recv_timeout(Duration::from_secs(10)) else {
            let mut e = String::new();
            let _ = stderr.read_to_string(&mut e);
            panic!("no event line; lbctl said: {e}");
        };
        serde_json::from_str(&l).unwrap()
    };
    // The whole history first.
    for seq in 1..=f.ready_seq {
        assert_eq!(next()["seq"], seq);
    }
    // Then what happens: an operator action and the table operation it sends...
    code(&f.lbctl(&["disable", "rs1"]), 0);
    let e = next();
    assert_eq!(e["seq"], f.ready_seq + 1);
    assert_eq!(e["kind"], "admin");
    assert_eq!(e["node"], "rs1");
    assert_eq!(e["message"], "operator: disable rs1");
    let e = next();
    assert_eq!(e["kind"], "table_op");
    assert_eq!(
        (e["node"].clone(), e["service"].clone()),
        ("rs1".into(), "http".into())
    );
    assert_eq!(
        e["message"],
        "-d -t 192.0.2.10:80 -r 198.51.100.11:80 (disabled by the operator; operator: disable rs1)"
    );
    // ... a check result that brings rs2 back: its transition, the upalert (no script to
    // run) and the table operation...
    f.feed(Input::Checks {
        reports: vec![report(service("http"), "rs2", Ok(Pass::default()), 2)],
    });
    let got: Vec<(String, String)> = (0..3)
        .map(|_| {
            let e = next();
            (
                e["kind"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("node_transition", "rs2: failed → online (http check passes on rs2)"),
        ("alert", "upalert http on rs2: failed → online"),
        (
            "table_op",
            "-a -t 192.0.2.10:80 -r 198.51.100.12:80 -m -w 1 (http check passes on rs2; health change)",
        ),
    ]
    .map(|(k, m)| (k.to_string(), m.to_string()));
    assert_eq!(got, want);
    // ... and a VRRP role change (fed here as the edge feeds a running instance's view).
    f.feed(Input::Vrrp {
        views: vec![vi_51("backup")],
    });
    let e = next();
    assert_eq!(e["kind"], "vrrp");
    assert_eq!(e["message"], "vi_51: master → backup (priority 150)");
    drop(child);
}

#[test]
fn a_follower_that_does_not_read_never_blocks_the_daemon() {
    let f = Fixture::start();
    let mut w = UnixStream::connect(f.socket()).unwrap();
    w.write_all(b"{\"cmd\":\"events\",\"follow\":true}\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // rs4 flaps 1,500 times in one batch of check results: each flap is four records (alert,
    // failed, online, upalert), far more than the socket buffers and the followers' ring
    // (1,024) hold. The daemon publishes them without waiting for anyone.
    let flap = [
        report(service("myapp"), "rs4", Err(CheckError::Refused), 1),
        report(ping("myapp_nodes"), "rs4", Ok(Pass::default()), 1),
        report(service("myapp"), "rs4", Ok(Pass::default()), 1),
    ];
    let flaps = 1500;
    let reports: Vec<_> = (0..flaps).flat_map(|_| flap.clone()).collect();
    let start = Instant::now();
    f.feed(Input::Checks { reports });
    let all = f.ready_seq + 4 * flaps;
    f.wait_until("every flap in the history", |f| {
        f.events().last().map(|e| e.seq) == Some(all)
    });
    let publish = start.elapsed();
    // Other clients are served meanwhile.
    let t = Instant::now();
    code(&f.lbctl(&["status"]), 0);
    eprintln!(
        "publish {} events: {publish:?}; lbctl status meanwhile: {:?}",
        4 * flaps,
        t.elapsed()
    );
    // The stalled follower is dropped (write deadline) or told it lagged: reading what is
    // buffered ends in end-of-stream, not a hang.
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let _ = w.read_to_end(&mut got);
    let got = String::from_utf8_lossy(&got);
    let lines = got.lines().count() as u64;
    assert!(
        lines < all,
        "all {all} events were delivered to a stalled reader"
    );
    eprintln!("the stalled follower got {lines} of {all} lines");
}

#[test]
fn drain_wait_disables_once_connections_are_gone() {
    let f = Fixture::start();
    // rs1 has 3 active connections; they close one by one while lbctl waits.
    let t = Instant::now();
    let mut child = f
        .command(&[
            "drain",
            "rs1",
            "--wait",
            "--poll",
            "50ms",
            "--timeout",
            "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let mut child = Kill(child);
    // A status answer's connection counters are at most CONNS_FRESH_MS old: a change shows
    // within that and a poll. Ten times that.
    let budget = 10 * (Duration::from_millis(CONNS_FRESH_MS) + Duration::from_millis(50));
    assert_eq!(next_line(&out, budget), "drain rs1: 1 operation(s) sent");
    let rs1 = addr("rs1");
    for (active, word) in [(3, "connections"), (2, "connections"), (1, "connection")] {
        let line = next_line(&out, budget);
        assert!(
            line.starts_with(&format!(
                "rs1: {active} active {word}, waiting (gives up in "
            )),
            "{line}"
        );
        // Drained: weight 0 in the kernel while connections go on.
        let w = f
            .kernel
            .table()
            .services
            .values()
            .find_map(|s| s.dests.get(&(rs1, 80)).map(|d| d.weight));
        assert_eq!(w, Some(0));
        f.kernel.set_conns(rs1, 80, active - 1, 10);
    }
    let last = next_line(&out, budget);
    assert!(
        Regex::new(
            r"^rs1 drained after \d+s: no active connection; disable rs1: 1 operation\(s\) sent$"
        )
        .unwrap()
        .is_match(&last),
        "{last}"
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
    eprintln!(
        "drain --wait of 3 connections at 50ms polls: {:?}",
        t.elapsed()
    );
    let v = json(&f.lbctl(&["status", "--json"]));
    assert_eq!(real_server(&v, "rs1")["admin"], "disabled");
    assert_eq!(
        real_server(&v, "rs1")["kernel_weight"],
        serde_json::Value::Null
    );

    // rs3's long-lived connection never closes: exit 6 at the deadline, left drained.
    let t = Instant::now();
    let out = f.lbctl(&[
        "drain",
        "rs3",
        "--service",
        "http",
        "--wait",
        "--poll",
        "50ms",
        "--timeout",
        "300ms",
        "--json",
    ]);
    code(&out, 6);
    let elapsed = t.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    let v = json(&out);
    assert_eq!(v["drained"], false);
    assert_eq!(v["active_conns"], 1);
    assert_eq!(
        text(&out.stderr),
        "lbctl: rs3 still has 1 active connection after 300ms; it stays drained (weight 0)\n"
    );
    let v = json(&f.lbctl(&["status", "--json"]));
    assert_eq!(real_server(&v, "rs3")["admin"], "drain");
    assert_eq!(real_server(&v, "rs3")["kernel_weight"], 0);
}

#[test]
fn completions_and_man_page_come_from_the_command_definitions() {
    let f = Fixture::start();
    let out = f.lbctl(&["completions", "bash"]);
    code(&out, 0);
    let s = text(&out.stdout);
    assert!(s.contains("_lbctl()"));
    for sub in ["status", "drain", "maintenance", "failover", "events"] {
        assert!(s.contains(sub), "bash completion lacks {sub}");
    }
    assert!(s.contains("--follow"));
    let out = f.lbctl(&["completions", "zsh"]);
    code(&out, 0);
    assert!(text(&out.stdout).starts_with("#compdef lbctl"));
    code(&f.lbctl(&["completions", "tcsh"]), 2);

    let out = f.lbctl(&["man"]);
    code(&out, 0);
    let s = text(&out.stdout);
    assert!(
        s.starts_with(".ie \\n(.g .ds Aq \\(aq") || s.contains(".TH lbctl 1"),
        "{}",
        &s[..200]
    );
    assert!(s.contains(".TH lbctl 1"));
    assert!(s.contains(".SH \"EXIT STATUS\""));
    assert!(s.contains("\\fB6\\fR\ndrain \\-\\-wait"), "{s}");
    for sub in [
        "status",
        "nodes",
        "services",
        "events",
        "drain",
        "disable",
        "enable",
        "maintenance",
        "reload",
        "diff",
        "failover",
    ] {
        assert!(
            s.contains(&format!("lbctl\\-{sub}(1)")),
            "man page lacks {sub}"
        );
    }
    let dir = f.dir.path().join("man1");
    code(&f.lbctl(&["man", "--dir", dir.to_str().unwrap()]), 0);
    let page = std::fs::read_to_string(dir.join("lbctl-drain.1")).unwrap();
    assert!(page.contains("\\-\\-wait"));
    assert!(dir.join("lbctl.1").exists());
}

/// Runs lbctl (as `nobody` when asked); its pid and output.
fn lbctl_pid(f: &Fixture, args: &[&str], nobody: bool) -> (u32, std::process::Output) {
    use std::os::unix::process::CommandExt;
    let mut c = f.command(args);
    if nobody {
        c.uid(65534).gid(65534);
    }
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lbctl");
    let pid = child.id();
    (pid, child.wait_with_output().expect("lbctl output"))
}

/// The one captured log line of the request from process `pid`.
#[track_caller]
fn log_line_of(pid: u32) -> String {
    let logs = control_support::logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(&format!("pid=Some({pid})")))
        .collect();
    assert_eq!(lines.len(), 1, "pid {pid}: {lines:?}\nall logs:\n{logs}");
    lines[0].to_string()
}

#[test]
fn every_request_and_its_outcome_is_logged_at_info() {
    let f = Fixture::start();
    // Reads: one line each at info, with who asked and the outcome.
    for cmd in ["status", "nodes", "services", "events", "diff"] {
        let (pid, out) = lbctl_pid(&f, &[cmd], false);
        code(&out, 0);
        let line = log_line_of(pid);
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("control request"), "{line}");
        assert!(line.contains(&format!("cmd=\"{cmd}\"")), "{line}");
        assert!(line.contains("uid=0"), "{line}");
        assert!(line.contains("outcome=\"ok\""), "{line}");
    }
    // A change: the request itself too.
    let (pid, out) = lbctl_pid(&f, &["drain", "rs1"], false);
    code(&out, 0);
    let line = log_line_of(pid);
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("cmd=\"drain\""), "{line}");
    assert!(
        line.contains(r#"request={"cmd":"drain","node":"rs1""#),
        "{line}"
    );
    assert!(line.contains("outcome=\"ok\""), "{line}");
    // A failed one: its error code.
    let (pid, out) = lbctl_pid(&f, &["drain", "rs9"], false);
    code(&out, 5);
    let line = log_line_of(pid);
    assert!(
        line.contains(" WARN ") && line.contains("outcome=\"not_found\""),
        "{line}"
    );
    // A refusal: who was refused what.
    let (pid, out) = lbctl_pid(&f, &["disable", "rs2"], true);
    code(&out, 4);
    let line = log_line_of(pid);
    assert!(
        line.contains(" WARN ") && line.contains("permission denied"),
        "{line}"
    );
    assert!(
        line.contains("uid=65534") && line.contains("cmd=\"disable\""),
        "{line}"
    );
    // A request that does not parse.
    let (mut w, mut r) = raw(&f);
    w.write_all(b"{\"cmd\":\"nuke-it-all\"}\n").unwrap();
    bad_request(answer(&mut r));
    let logs = control_support::logs();
    assert!(
        logs.lines().any(|l| l.contains(" WARN ")
            && l.contains("control: bad request")
            && l.contains("nuke-it-all")),
        "{logs}"
    );
    // The HTTP listener's requests: method, path, status and the peer.
    let (status, _, _) = f.http("GET", "/metrics");
    assert_eq!(status, 200);
    let (status, _, _) = f.http("POST", "/");
    assert_eq!(status, 405);
    let logs = control_support::logs();
    for want in [
        "method=GET path=/metrics status=200",
        "method=POST path=/ status=405",
    ] {
        assert!(
            logs.lines()
                .any(|l| l.contains(" INFO ") && l.contains("http request") && l.contains(want)),
            "{want} not in\n{logs}"
        );
    }
}

#[test]
fn drain_wait_rides_out_a_daemon_restart() {
    let mut f = Fixture::start();
    // rs1 has 3 active connections; lbctl looks every 200 ms.
    let mut child = f
        .command(&[
            "drain",
            "rs1",
            "--wait",
            "--poll",
            "200ms",
            "--timeout",
            "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    let mut child = Kill(child);
    // Ten times what a change takes to show: the counters' age and a poll.
    let budget = 10 * (Duration::from_millis(CONNS_FRESH_MS) + Duration::from_millis(200));
    assert_eq!(next_line(&out, budget), "drain rs1: 1 operation(s) sent");
    let line = next_line(&out, budget);
    assert!(
        line.starts_with("rs1: 3 active connections, waiting"),
        "{line}"
    );
    // The daemon stops (its socket goes away): lbctl says so once and keeps trying.
    f.stop();
    assert!(!f.socket().exists());
    // (How it goes away depends on where lbctl was: no socket, or a request cut short.)
    let line = next_line(&err, budget);
    let socket = regex::escape(&f.socket().display().to_string());
    matches(
        &format!(
            r"^lbctl: (cannot reach lbd at {socket}: is it running\? \(.*\)|lbd at {socket} closed the connection without an answer|lbd is shutting down|lbd dropped the request \(stopping\)); retrying until the deadline$"
        ),
        &line,
    );
    // A new daemon on the same socket, state directory and kernel: the drain it persisted is
    // still in force (rs1 at weight 0, connections going on) and lbctl is still waiting.
    f.start_again();
    let v = f.status().unwrap();
    let rs1 = &v.services[0].real_servers[0];
    assert_eq!(
        (
            rs1.node.as_str(),
            rs1.admin.as_str(),
            rs1.kernel_weight,
            rs1.active_conns
        ),
        ("rs1", "drain", Some(0), 3)
    );
    assert!(child.0.try_wait().unwrap().is_none(), "lbctl gave up");
    // The connections close: lbctl disables rs1 through the new daemon.
    f.kernel.set_conns(addr("rs1"), 80, 0, 10);
    assert_eq!(next_line(&err, budget), "lbctl: lbd answers again");
    let last = next_line(&out, budget);
    assert!(
        last.ends_with("no active connection; disable rs1: 1 operation(s) sent"),
        "{last}"
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let rs1 = &f.status().unwrap().services[0].real_servers[0];
    assert_eq!((rs1.admin.as_str(), rs1.kernel_weight), ("disabled", None));
    // The history went on across the restart.
    let events = f.events();
    assert!(
        events.iter().any(|e| e.message == "operator: drain rs1")
            && events
                .last()
                .unwrap()
                .message
                .starts_with("-d -t 192.0.2.10:80 -r 198.51.100.11:80 (disabled by the operator"),
        "{events:#?}"
    );
}
