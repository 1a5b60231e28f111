//! The HTTP listener of the real daemon (the fixture of `control_support`: the director core,
//! the control socket and the listener as `lbd` wires them, over an in-memory kernel table,
//! in the lab's state): `/metrics` as the daemon's own registry fills it, parsed by a strict
//! OpenMetrics parser; `/status.json`, the status page's routes and headers; and the page
//! rendered by headless Chromium (Debian's `chromium`, installed by
//! `control_support/chromium-deps` when missing): a screenshot and DOM assertions that a
//! failed node shows as failed. VRRP series need running instances: the lab checks them
//! (tests/kernel/control.rs parses the live `/metrics` with python3-prometheus-client).

mod control_support;

use control_support::openmetrics::{self, family};
use control_support::{addr, Fixture};
use lbd::node::NodeState;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `Accept` header of Prometheus 2.42 (Debian 12's) scrapes.
const PROMETHEUS_ACCEPT: &str = "Accept: application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn metrics_parse_strictly_with_the_daemons_values() {
    let f = Fixture::start();
    // Drift: rs1 goes missing from the kernel's table behind the daemon's back; the next
    // drift pass (reconcile_interval: 1s) puts it back.
    let rs1 = (addr("rs1"), 80);
    let removed = f
        .kernel
        .0
        .lock()
        .unwrap()
        .table
        .services
        .values_mut()
        .find_map(|s| s.dests.remove(&rs1));
    assert!(removed.is_some(), "rs1 is not in the kernel's table");
    f.wait_until("rs1 repaired by a drift pass", |f| {
        f.kernel
            .table()
            .services
            .values()
            .any(|s| s.dests.contains_key(&rs1))
            && f.events().last().is_some_and(|e| {
                e.message
                    .ends_with("(http check passes on rs1; drift repair)")
            })
    });
    // A label value the configuration cannot produce (node names are letters, digits, _ - .),
    // recorded straight into the daemon's registry: its escaping survives the round trip.
    f.metrics().node_state("we\"ird\\node", NodeState::Online);

    // Prometheus's own scrape header asks for OpenMetrics first.
    let (code, head, body) = f.http_with("GET", "/metrics", &[PROMETHEUS_ACCEPT]);
    assert_eq!(code, 200);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("vary: accept"), "{head}");
    let fams = openmetrics::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));

    let info = family(&fams, "lbd_info");
    assert_eq!(info.kind, "gauge");
    assert_eq!(info.value("lbd_info", &[("director", "dir1")]), Some(1.0));

    // Node states, from the director's observations.
    let ns = family(&fams, "lbd_node_state");
    assert_eq!(ns.kind, "gauge");
    for (node, state) in [
        ("rs1", 1.0),
        ("rs2", 2.0),
        ("rs3", 1.0),
        ("rs4", 1.0),
        ("rs5", 0.0),
    ] {
        assert_eq!(
            ns.value("lbd_node_state", &[("node", node)]),
            Some(state),
            "{node}"
        );
    }
    assert_eq!(
        ns.value("lbd_node_state", &[("node", "we\"ird\\node")]),
        Some(1.0)
    );

    let tr = family(&fams, "lbd_node_transitions");
    assert_eq!(tr.kind, "counter");
    assert_eq!(
        tr.value(
            "lbd_node_transitions_total",
            &[("from", "online"), ("to", "failed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        tr.value(
            "lbd_node_transitions_total",
            &[("from", "online"), ("to", "offline")]
        ),
        Some(1.0)
    );
    assert_eq!(tr.samples.len(), 2, "{:?}", tr.samples);

    // Each real server: in the table, health, weight, operator state.
    let t = family(&fams, "lbd_real_server_in_table");
    for (svc, node, want) in [
        ("http", "rs1", 1.0),
        ("http", "rs2", 0.0),
        ("myapp", "rs5", 0.0),
    ] {
        assert_eq!(
            t.value(
                "lbd_real_server_in_table",
                &[("service", svc), ("node", node)]
            ),
            Some(want),
            "{svc} {node}"
        );
    }
    let h = family(&fams, "lbd_real_server_health");
    assert_eq!(
        h.value(
            "lbd_real_server_health",
            &[("service", "http"), ("node", "rs2")]
        ),
        Some(2.0)
    );
    assert_eq!(
        h.value(
            "lbd_real_server_health",
            &[("service", "myapp"), ("node", "rs5")]
        ),
        Some(0.0)
    );
    let w = family(&fams, "lbd_real_server_weight");
    assert_eq!(
        w.value(
            "lbd_real_server_weight",
            &[("service", "http"), ("node", "rs1")]
        ),
        Some(1.0)
    );
    let a = family(&fams, "lbd_real_server_admin");
    assert_eq!(
        a.value(
            "lbd_real_server_admin",
            &[("service", "http"), ("node", "rs1")]
        ),
        Some(0.0)
    );

    // The check results the fixture fed: http rs1 2 ms and rs3 3 ms passing, rs2 5 ms
    // failing; seven pings (rs5 silent twice).
    let c = family(&fams, "lbd_checks");
    for (svc, result, n) in [
        ("http", "ok", 2.0),
        ("http", "fail", 1.0),
        ("myapp", "ok", 1.0),
        ("ping", "ok", 5.0),
        ("ping", "fail", 2.0),
    ] {
        assert_eq!(
            c.value("lbd_checks_total", &[("service", svc), ("result", result)]),
            Some(n),
            "{svc} {result}"
        );
    }
    let h = family(&fams, "lbd_check_latency_seconds");
    assert_eq!(h.kind, "histogram");
    assert_eq!(h.unit.as_deref(), Some("seconds"));
    assert_eq!(
        h.value("lbd_check_latency_seconds_count", &[("service", "http")]),
        Some(3.0)
    );
    let sum = h
        .value("lbd_check_latency_seconds_sum", &[("service", "http")])
        .unwrap();
    assert!((sum - 0.010).abs() < 1e-9, "{sum}");
    for (le, n) in [
        ("0.001", 0.0),
        ("0.0025", 1.0),
        ("0.01", 3.0),
        ("+Inf", 3.0),
    ] {
        assert_eq!(
            h.value(
                "lbd_check_latency_seconds_bucket",
                &[("service", "http"), ("le", le)]
            ),
            Some(n),
            "le {le}"
        );
    }

    // No VRRP instance runs in this daemon (vi_51's views are fed to the director, the
    // series follow running instances): no series, so the families are left out.
    let absent = |name: &str| fams.iter().all(|f| f.name != name);
    assert!(absent("lbd_vrrp_state") && absent("lbd_vrrp_transitions"));

    // The operations the kernel thread sent: rs2 and rs5 out, rs1 back by the drift pass;
    // the in-memory kernel refuses nothing.
    let ops = family(&fams, "lbd_netlink_operations");
    assert_eq!(
        ops.value("lbd_netlink_operations_total", &[("op", "del_dest")]),
        Some(2.0)
    );
    assert_eq!(
        ops.value("lbd_netlink_operations_total", &[("op", "new_dest")]),
        Some(1.0)
    );
    assert!(absent("lbd_netlink_errors"));

    // Passes: the health change and the drift repair at least (a drift pass runs every
    // second). The start-up pass sent nothing and ended inside `Daemon::start`, before the
    // metrics were attached, as in lbd.
    let r = family(&fams, "lbd_reconcile_duration_seconds");
    assert_eq!(r.kind, "histogram");
    let passes = r
        .value("lbd_reconcile_duration_seconds_count", &[])
        .unwrap();
    assert!(passes >= 2.0, "{passes}");
    assert_eq!(
        r.value("lbd_reconcile_duration_seconds_bucket", &[("le", "+Inf")]),
        Some(passes)
    );

    let d = family(&fams, "lbd_drift_repairs");
    assert_eq!(
        d.value("lbd_drift_repairs_total", &[("service", "http")]),
        Some(1.0)
    );
    // rs2's alert ran mail.alert (a link to /bin/true), named by its path.
    let a = family(&fams, "lbd_alert_runs");
    assert_eq!(
        a.value(
            "lbd_alert_runs_total",
            &[("alert", f.mail_alert().as_str()), ("exit", "0")]
        ),
        Some(1.0)
    );
    assert_eq!(a.samples.len(), 1, "{:?}", a.samples);
    let g = family(&fams, "lbd_mass_removal_guard_held");
    assert_eq!(
        g.value("lbd_mass_removal_guard_held", &[("service", "http")]),
        Some(0.0)
    );

    // Quorum held (rs1 and rs3 pass), so no sorry server.
    let q = family(&fams, "lbd_service_quorum");
    assert_eq!(
        q.value("lbd_service_quorum", &[("service", "http")]),
        Some(1.0)
    );
    let sorry = family(&fams, "lbd_service_sorry_server_active");
    assert_eq!(
        sorry.value("lbd_service_sorry_server_active", &[("service", "http")]),
        Some(0.0)
    );

    // Every family has help text.
    for fam in &fams {
        assert!(
            fam.help.as_deref().is_some_and(|h| !h.is_empty()),
            "{} has no HELP",
            fam.name
        );
    }
}

#[test]
fn routes_methods_and_headers() {
    let f = Fixture::start();
    f.kernel.take_ops();
    let (code, head, body) = f.http("GET", "/status.json");
    assert_eq!(code, 200);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    // The same view as `lbctl status --json` (but for the snapshot's time).
    let mut status: lbd::control::proto::StatusView = serde_json::from_str(&body).unwrap();
    let mut asked = f.status().unwrap();
    assert!(status.at_ms <= asked.at_ms);
    (status.at_ms, asked.at_ms) = (0, 0);
    assert_eq!(status, asked);
    assert!(control_support::shows_lab_state(&status));

    let (code, head, body) = f.http("GET", "/?refresh=1");
    assert_eq!(code, 200);
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: text/html; charset=utf-8"));
    assert!(lower.contains("content-security-policy: default-src 'none'"));
    assert!(lower.contains("cache-control: no-store"));
    assert!(body.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(!body.contains("<script"));
    assert!(!body.contains("<form"));

    let (code, _, _) = f.http("GET", "/nope");
    assert_eq!(code, 404);
    let (code, _, _) = f.http("GET", "/metrics/");
    assert_eq!(code, 404);
    for method in ["POST", "PUT", "DELETE"] {
        for path in ["/", "/metrics", "/elsewhere"] {
            let (code, head, _) = f.http(method, path);
            assert_eq!(code, 405, "{method} {path}");
            assert!(head.to_ascii_lowercase().contains("allow: get, head"));
        }
    }
    let (code, head, body) = f.http("HEAD", "/metrics");
    assert_eq!(code, 200);
    assert!(body.is_empty());
    assert!(head.to_ascii_lowercase().contains("content-length:"));
    // Reading the page changed nothing the daemon holds: no event, no table operation.
    assert_eq!(f.events().last().unwrap().seq, f.ready_seq);
    assert_eq!(f.kernel.take_ops(), vec![]);
}

/// 150 local connections that each sent half a request line and then nothing (a slow-loris
/// client) never keep a scrape waiting: every `GET /metrics` is answered at once, and the
/// daemon closes the slow ones beyond its limit of connections still sending their head.
#[test]
fn slow_clients_never_keep_a_scrape_waiting() {
    use lbd::control::http::{HEADER_TIMEOUT, MAX_WAITING};
    use std::io::{ErrorKind, Read, Write};
    let f = Fixture::start();
    let slow: Vec<std::net::TcpStream> = (0..150)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(f.http).expect("connect");
            s.write_all(b"GET /metr").expect("half a request line");
            s
        })
        .collect();
    for _ in 0..5 {
        let t = Instant::now();
        let (code, _, body) = f.http("GET", "/metrics");
        assert_eq!(code, 200);
        assert!(body.contains("lbd_"), "{body}");
        // Without eviction a scrape waits behind the slow heads until they time out.
        assert!(
            t.elapsed() < HEADER_TIMEOUT / 2,
            "a scrape took {:?} behind slow clients",
            t.elapsed()
        );
    }
    let mut closed = 0;
    for s in &slow {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 256];
        match (&*s).read(&mut buf) {
            Ok(0) => closed += 1,
            Ok(n) => panic!(
                "a half-sent request was answered: {}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => closed += 1,
        }
    }
    assert!(
        closed >= slow.len() - MAX_WAITING,
        "only {closed} of {} slow connections were closed",
        slow.len()
    );
    // The page is still served, and nothing the daemon holds changed.
    assert_eq!(f.http("GET", "/status.json").0, 200);
    assert_eq!(f.events().last().unwrap().seq, f.ready_seq);
}

/// A child process killed (by its own pid) if it outlives its deadline or the test.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_with_deadline(mut cmd: Command, deadline: Duration) -> (bool, String, String) {
    use std::io::Read;
    let mut child = Child(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium"),
    );
    let mut out = child.0.stdout.take().unwrap();
    let mut err = child.0.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let ok = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if start.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            _ => {
                let _ = child.0.kill();
                break false;
            }
        }
    };
    drop(child);
    (
        ok,
        reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default(),
    )
}

fn chromium(profile: &Path, extra: &[&str], url: &str) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url);
    c
}

fn ensure_chromium() {
    if Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/control_support/chromium-deps");
    let status = Command::new(&script).status().expect("run chromium-deps");
    assert!(
        status.success(),
        "chromium is missing and {} could not install it (apt-get install chromium)",
        script.display()
    );
}

/// The `<tr ...>...</tr>` of `node` inside the service section `service`.
fn node_row<'a>(dom: &'a str, service: &str, node: &str) -> &'a str {
    let sec = dom
        .find(&format!("data-service=\"{service}\""))
        .unwrap_or_else(|| panic!("no section {service}"));
    let rest = &dom[sec..];
    let start = rest
        .find(&format!("data-node=\"{node}\""))
        .unwrap_or_else(|| panic!("no row {node} in {service}"));
    let row_start = rest[..start].rfind("<tr").unwrap();
    let end = rest[start..].find("</tr>").unwrap() + start;
    &rest[row_start..end]
}

/// The visible text of an HTML fragment (tags dropped).
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn status_page_in_headless_chromium_shows_a_failed_node_as_failed() {
    ensure_chromium();
    let f = Fixture::start();
    let url = format!("http://{}/", f.http);
    let profile = tempfile::tempdir().unwrap();

    let t = Instant::now();
    let (ok, dom, err) = run_with_deadline(
        chromium(profile.path(), &["--dump-dom"], &url),
        Duration::from_secs(90),
    );
    assert!(ok, "chromium --dump-dom failed: {err}");
    let dump_time = t.elapsed();

    let rs2 = node_row(&dom, "http", "rs2");
    assert!(rs2.contains("class=\"node state-failed\""), "{rs2}");
    assert!(rs2.contains("data-state=\"failed\""), "{rs2}");
    assert!(
        rs2.contains("<span class=\"badge failed\">failed</span>"),
        "{rs2}"
    );
    assert_eq!(
        visible(rs2),
        "rs2 198.51.100.12:80 failed down enabled – 0 0 FAIL 5ms: unexpected status 500 (want 200-399) \
         http check fails on rs2: unexpected status 500 (want 200-399)"
    );
    let rs1 = node_row(&dom, "http", "rs1");
    assert!(
        rs1.contains("<span class=\"badge online\">online</span>"),
        "{rs1}"
    );
    let rs5 = node_row(&dom, "myapp", "rs5");
    assert!(
        rs5.contains("<span class=\"badge offline\">offline</span>"),
        "{rs5}"
    );
    assert_eq!(
        visible(rs5),
        "rs5 198.51.100.15:5000 offline offline enabled – 0 0 – ping silent on rs5: no echo reply"
    );
    assert!(
        dom.contains("<span class=\"badge failed\" data-node=\"rs2\" data-state=\"failed\">rs2 failed</span>"),
        "nodes at a glance"
    );
    assert!(dom.contains("http — tcp 192.0.2.10:80"), "service heading");
    assert!(dom.contains("scheduler wlc"));
    assert!(dom.contains("scheduler rr · persistent 300s"));
    assert!(dom.contains("192.0.2.10/24 2001:db8::10/64 198.51.100.1/24"));
    assert!(dom.contains("<span class=\"badge master\">master</span>"));
    assert!(dom.contains("http-equiv=\"refresh\""));
    assert!(!dom.contains("<script"));

    let shot = profile.path().join("status.png");
    let t = Instant::now();
    let (ok, _, err) = run_with_deadline(
        chromium(
            profile.path(),
            &[&format!("--screenshot={}", shot.display())],
            &url,
        ),
        Duration::from_secs(90),
    );
    assert!(ok, "chromium --screenshot failed: {err}");
    let shot_time = t.elapsed();
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 900));
    assert!(png.len() > 10_000, "a blank page? {} bytes", png.len());
    if let Ok(keep) = std::env::var("LBD_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    eprintln!("chromium: dump-dom {dump_time:?}, screenshot {shot_time:?}");
}

/// A client that does not ask for OpenMetrics (no `Accept`, curl's `*/*`, `text/plain`) gets
/// the classic text format 0.0.4, which Debian's `promtool check metrics` lints clean, with
/// the same series as the OpenMetrics answer.
#[test]
fn other_clients_get_the_classic_text_that_promtool_lints_clean() {
    let f = Fixture::start();
    let series = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.rsplit_once(' ').expect("a sample line").0.to_string())
            .collect()
    };
    let (_, _, om) = f.http_with("GET", "/metrics", &[PROMETHEUS_ACCEPT]);
    assert!(om.ends_with("# EOF\n"), "{om}");
    for headers in [
        &[][..],
        &["Accept: */*"],
        &["Accept: text/plain;version=0.0.4"],
    ] {
        let (code, head, body) = f.http_with("GET", "/metrics", headers);
        assert_eq!(code, 200, "{headers:?}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "{headers:?}: {head}"
        );
        assert!(
            !body.contains("# EOF") && !body.contains("# UNIT"),
            "{body}"
        );
        assert!(body.contains("# TYPE lbd_checks_total counter\n"), "{body}");
        assert_eq!(series(&body), series(&om), "{headers:?}");

        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool (Debian's prometheus package; vagrant/deps installs it)");
        use std::io::Write;
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let out = promtool.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "promtool check metrics: {}: {said}\n{body}",
            out.status
        );
    }
}
