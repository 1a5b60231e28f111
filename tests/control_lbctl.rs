//! The real `lbctl` binary against the real control socket server, fed by an in-test responder
//! that answers from realistic views of the lab cluster in the daemon's words (the real daemon
//! is driven by every subcommand in tests/kernel/control.rs): every subcommand in human and
//! JSON form, exit codes, permission refusals for `nobody`, malformed and hostile requests on a
//! raw socket, event streaming, drain --wait (also across a daemon restart), and the log line
//! of every request.

mod control_support;

use control_support::{text, Fixture, Setup};
use lbd::config::ControlOthers;
use lbd::control::proto::{ErrorCode, Response};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

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
    let out = f.lbctl(&["status"]);
    code(&out, 0);
    let s = text(&out.stdout);
    assert!(
        s.starts_with("director dir1 at 2026-11-18 11:06:40 UTC\n"),
        "{s}"
    );
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
        s.contains("TCP 192.0.2.10:5000 rr persistent 300  [service myapp"),
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
    assert!(
        line("rs1").starts_with(
            "-> 198.51.100.11:80 nat 1 3 10 rs1 online up enabled ok 2ms 2s ago: HTTP 200"
        ),
        "{}",
        line("rs1")
    );
    assert!(line("rs1").ends_with("HTTP 200 in table: node online, check passing"));
    assert!(
        line("rs2").starts_with(
            "-> 198.51.100.12:80 nat - 0 0 rs2 failed down enabled FAIL 5ms 2s ago: HTTP 500"
        ),
        "{}",
        line("rs2")
    );
    assert!(line("rs2").ends_with("out: check failing (HTTP 500)"));
    assert!(line("rs5").contains("offline unknown"));

    let out = f.lbctl(&["status", "--json"]);
    code(&out, 0);
    let v = json(&out);
    assert_eq!(v["director"], "dir1");
    assert_eq!(v["vrrp"][0]["state"], "master");
    assert_eq!(v["services"][0]["virtual"], "tcp 192.0.2.10:80");
    assert_eq!(v["services"][0]["real_servers"][1]["node_state"], "failed");
    assert_eq!(
        v["services"][0]["real_servers"][1]["last_check"]["summary"],
        "HTTP 500"
    );
}

#[test]
fn nodes_services_events_and_diff() {
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
    assert_eq!(lines[2][..3], ["rs2", "198.51.100.12", "failed"]);
    assert_eq!(lines[2][6], "http:down(out)");
    assert_eq!(lines[5][..3], ["rs5", "198.51.100.15", "offline"]);
    let v = json(&f.lbctl(&["nodes", "--json"]));
    assert_eq!(v["kind"], "nodes");
    assert_eq!(v["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(v["nodes"][3]["hostgroups"][0], "myapp_nodes");

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
    assert_eq!(rows[2][4], "300s");
    let v = json(&f.lbctl(&["services", "--json"]));
    assert_eq!(v["services"][1]["persistent"], 300);

    let out = f.lbctl(&["events"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "#1 2026-11-18 11:06:41 UTC node_transition node=rs2 service=http: online -> failed: http check failed (HTTP 500)\n\
         #2 2026-11-18 11:06:42 UTC node_transition node=rs5: online -> offline: no ping reply\n"
    );
    let out = f.lbctl(&["events", "--limit", "1", "--json"]);
    code(&out, 0);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], 2);
    assert_eq!(lines[0]["node"], "rs5");

    let out = f.lbctl(&["diff"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "-a -t 192.0.2.10:80 -r 198.51.100.16:80 -m -w 1\n-e -t 192.0.2.10:5000 -r 198.51.100.14:5000 -m -w 2\n"
    );
    assert_eq!(
        json(&f.lbctl(&["diff", "--json"]))["ops"][1],
        "-e -t 192.0.2.10:5000 -r 198.51.100.14:5000 -m -w 2"
    );
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
    assert_eq!(v["services"][0]["real_servers"][2]["admin"], "disabled");
    assert_eq!(
        v["services"][0]["real_servers"][2]["kernel_weight"],
        serde_json::Value::Null
    );

    let out = f.lbctl(&["enable", "rs3", "--json"]);
    code(&out, 0);
    assert_eq!(json(&out)["kind"], "done");
    let v = json(&f.lbctl(&["status", "--json"]));
    assert_eq!(v["services"][0]["real_servers"][2]["admin"], "enabled");
    assert_eq!(v["services"][0]["real_servers"][2]["kernel_weight"], 1);

    let out = f.lbctl(&["maintenance", "rs4", "on"]);
    code(&out, 0);
    assert!(text(&out.stdout).starts_with("maintenance on rs4: "));
    let v = json(&f.lbctl(&["nodes", "--json"]));
    assert_eq!(v["nodes"][3]["admin"], "maintenance");
    code(&f.lbctl(&["maintenance", "rs4", "off"]), 0);
    // A bad switch is a usage error.
    code(&f.lbctl(&["maintenance", "rs4", "maybe"]), 2);

    let out = f.lbctl(&["failover"]);
    code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "vi_51: master steps down (priority 0), held in backup\n"
    );
    assert!(text(&f.lbctl(&["status"]).stdout).contains("VRRP vi_51 on eth0 VRID 51: BACKUP"));

    let out = f.lbctl(&["reload"]);
    code(&out, 0);
    assert!(text(&out.stdout).starts_with("configuration reloaded"));

    // The event history records every change, in order.
    let out = f.lbctl(&["events", "--since", "2"]);
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
        ["admin", "admin", "admin", "admin", "admin", "vrrp", "reload"]
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
    assert_eq!(json(&out)["code"], "not_found");
    code(&f.lbctl(&["failover", "--instance", "vi_99"]), 5);
    // 2: a reload that finds the configuration invalid; the message says where.
    f.fake.lock().unwrap().reload_invalid = true;
    let out = f.lbctl(&["reload"]);
    code(&out, 2);
    assert!(text(&out.stderr).contains("services/http.yaml:4:12: unknown scheduler"));
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
    // Kill the follower (by its pid, through Child) even if an assertion fails.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let child = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut next = || -> serde_json::Value {
        let Ok(l) = rx.recv_timeout(Duration::from_secs(10)) else {
            let mut e = String::new();
            let _ = stderr.read_to_string(&mut e);
            panic!("no event line; lbctl said: {e}");
        };
        serde_json::from_str(&l).unwrap()
    };
    assert_eq!(next()["seq"], 1);
    assert_eq!(next()["seq"], 2);
    code(&f.lbctl(&["disable", "rs1"]), 0);
    let e = next();
    assert_eq!(e["seq"], 3);
    assert_eq!(e["kind"], "admin");
    assert_eq!(e["node"], "rs1");
    code(&f.lbctl(&["failover"]), 0);
    assert_eq!(next()["kind"], "admin");
    assert_eq!(next()["kind"], "vrrp");
    drop(child);
}

#[test]
fn a_follower_that_does_not_read_never_blocks_the_daemon() {
    let f = Fixture::start();
    let mut w = UnixStream::connect(f.socket()).unwrap();
    w.write_all(b"{\"cmd\":\"events\",\"follow\":true}\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Publish far more than the socket buffers and the broadcast ring hold; the publisher
    // (the daemon's side) never waits.
    let start = Instant::now();
    let big = "x".repeat(2000);
    for seq in 100..5100 {
        let _ = f.events.send(lbd::control::proto::EventRecord {
            seq,
            at_ms: 0,
            kind: lbd::control::proto::EventKind::TableOp,
            message: big.clone(),
            node: None,
            service: None,
        });
    }
    let publish = start.elapsed();
    assert!(
        publish < Duration::from_secs(1),
        "publishing took {publish:?}"
    );
    // Other clients are served meanwhile.
    let t = Instant::now();
    code(&f.lbctl(&["status"]), 0);
    eprintln!(
        "publish 5000 events: {publish:?}; lbctl status meanwhile: {:?}",
        t.elapsed()
    );
    // The stalled follower is dropped (write deadline) or told it lagged: reading what is
    // buffered ends in end-of-stream, not a hang.
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    let _ = w.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.lines().count() < 5002,
        "all events were delivered to a stalled reader"
    );
}

#[test]
fn drain_wait_disables_once_connections_are_gone() {
    let f = Fixture::start();
    // rs1 has 3 active connections; they close one per status look.
    let t = Instant::now();
    let out = f.lbctl(&[
        "drain",
        "rs1",
        "--wait",
        "--poll",
        "50ms",
        "--timeout",
        "10s",
    ]);
    code(&out, 0);
    let s = text(&out.stdout);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "drain rs1: 1 operation(s) sent");
    assert!(
        lines[1].starts_with("rs1: 2 active connections, waiting (gives up in"),
        "{s}"
    );
    assert!(
        lines.last().unwrap().starts_with("rs1 drained after"),
        "{s}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .ends_with("no active connection; disable rs1: 1 operation(s) sent"),
        "{s}"
    );
    eprintln!(
        "drain --wait of 3 connections at 50ms polls: {:?}",
        t.elapsed()
    );
    let v = json(&f.lbctl(&["status", "--json"]));
    assert_eq!(v["services"][0]["real_servers"][0]["admin"], "disabled");

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
    assert_eq!(v["services"][0]["real_servers"][2]["admin"], "drain");
    assert_eq!(v["services"][0]["real_servers"][2]["kernel_weight"], 0);
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
    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("control.sock");
    let setup = || Setup {
        socket: Some(socket.clone()),
        ..Setup::default()
    };
    let f1 = Fixture::with(setup());
    // rs1's 3 connections close one per status look; one look a second.
    let child = f1
        .command(&["drain", "rs1", "--wait", "--poll", "1s", "--timeout", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The daemon stops (its socket goes away) and comes back 2 s later with the drain it
    // persisted.
    drop(f1);
    assert!(!socket.exists());
    std::thread::sleep(Duration::from_secs(2));
    let f2 = Fixture::with(setup());
    let r = f2.fake.lock().unwrap().answer(
        lbd::control::proto::Request::Drain {
            node: "rs1".into(),
            service: None,
        },
        &f2.events,
    );
    assert!(matches!(r, Response::Done { .. }), "{r:?}");
    let out = child.wait_with_output().unwrap();
    code(&out, 0);
    let err = text(&out.stderr);
    assert!(
        err.starts_with("lbctl: cannot reach lbd at") && err.contains("retrying until"),
        "{err}"
    );
    let s = text(&out.stdout);
    assert!(
        s.lines()
            .last()
            .unwrap()
            .ends_with("no active connection; disable rs1: 1 operation(s) sent"),
        "{s}"
    );
    let v = json(&f2.lbctl(&["status", "--json"]));
    assert_eq!(v["services"][0]["real_servers"][0]["admin"], "disabled");
}
