//! The HTTP listener: `/metrics` parsed by a strict OpenMetrics parser, `/status.json`, the
//! status page's routes and headers, and the page rendered by headless Chromium (Debian's
//! `chromium`, installed by `control_support/chromium-deps` when missing): a screenshot and
//! DOM assertions that a failed node shows as failed.

mod control_support;

use control_support::openmetrics::{self, family};
use control_support::Fixture;
use lbd::metrics::{AlertExit, VrrpState};
use lbd::node::NodeState;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn metrics_parse_strictly_with_the_recorded_values() {
    let f = Fixture::start();
    let m = &f.metrics;
    m.node_state("rs1", NodeState::Online);
    m.node_state("rs2", NodeState::Failed);
    m.node_state("rs5", NodeState::Offline);
    m.node_transition(NodeState::Online, NodeState::Failed);
    m.node_transition(NodeState::Online, NodeState::Failed);
    m.node_transition(NodeState::Online, NodeState::Offline);
    m.real_server_in_table("http", "rs1", true);
    m.real_server_in_table("http", "rs2", false);
    m.check_result("http", true, Duration::from_millis(2));
    m.check_result("http", true, Duration::from_millis(40));
    m.check_result("http", false, Duration::from_millis(3000));
    m.vrrp_transition("vi_51", VrrpState::Initialize, VrrpState::Backup);
    m.vrrp_transition("vi_51", VrrpState::Backup, VrrpState::Master);
    m.netlink_op("new_service", None);
    m.netlink_op("new_dest", None);
    m.netlink_op("new_dest", Some("EINVAL"));
    m.reconcile_pass(Duration::from_millis(7));
    m.drift_repairs("http", 2);
    m.alert_run("mail.alert", AlertExit::Code(0));
    m.alert_run("mail.alert", AlertExit::Timeout);
    // A label value that needs escaping survives the round trip.
    m.node_state("we\"ird\\node", NodeState::Online);

    let (code, head, body) = f.http("GET", "/metrics");
    assert_eq!(code, 200);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"));
    let fams = openmetrics::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));

    let info = family(&fams, "lbd_info");
    assert_eq!(info.kind, "gauge");
    assert_eq!(info.value("lbd_info", &[("director", "dir1")]), Some(1.0));

    let ns = family(&fams, "lbd_node_state");
    assert_eq!(ns.kind, "gauge");
    assert_eq!(ns.value("lbd_node_state", &[("node", "rs1")]), Some(1.0));
    assert_eq!(ns.value("lbd_node_state", &[("node", "rs2")]), Some(2.0));
    assert_eq!(ns.value("lbd_node_state", &[("node", "rs5")]), Some(0.0));
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
        Some(2.0)
    );
    assert_eq!(
        tr.value(
            "lbd_node_transitions_total",
            &[("from", "online"), ("to", "offline")]
        ),
        Some(1.0)
    );

    let t = family(&fams, "lbd_real_server_in_table");
    assert_eq!(
        t.value(
            "lbd_real_server_in_table",
            &[("service", "http"), ("node", "rs1")]
        ),
        Some(1.0)
    );
    assert_eq!(
        t.value(
            "lbd_real_server_in_table",
            &[("service", "http"), ("node", "rs2")]
        ),
        Some(0.0)
    );

    let c = family(&fams, "lbd_checks");
    assert_eq!(
        c.value("lbd_checks_total", &[("service", "http"), ("result", "ok")]),
        Some(2.0)
    );
    assert_eq!(
        c.value(
            "lbd_checks_total",
            &[("service", "http"), ("result", "fail")]
        ),
        Some(1.0)
    );

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
    assert!((sum - 3.042).abs() < 1e-9, "{sum}");
    assert_eq!(
        h.value(
            "lbd_check_latency_seconds_bucket",
            &[("service", "http"), ("le", "0.0025")]
        ),
        Some(1.0)
    );
    assert_eq!(
        h.value(
            "lbd_check_latency_seconds_bucket",
            &[("service", "http"), ("le", "0.05")]
        ),
        Some(2.0)
    );
    assert_eq!(
        h.value(
            "lbd_check_latency_seconds_bucket",
            &[("service", "http"), ("le", "2.5")]
        ),
        Some(2.0)
    );
    assert_eq!(
        h.value(
            "lbd_check_latency_seconds_bucket",
            &[("service", "http"), ("le", "+Inf")]
        ),
        Some(3.0)
    );

    let v = family(&fams, "lbd_vrrp_state");
    assert_eq!(
        v.value("lbd_vrrp_state", &[("instance", "vi_51")]),
        Some(2.0)
    );
    let vt = family(&fams, "lbd_vrrp_transitions");
    assert_eq!(
        vt.value(
            "lbd_vrrp_transitions_total",
            &[("instance", "vi_51"), ("from", "backup"), ("to", "master")]
        ),
        Some(1.0)
    );

    let ops = family(&fams, "lbd_netlink_operations");
    assert_eq!(
        ops.value("lbd_netlink_operations_total", &[("op", "new_dest")]),
        Some(2.0)
    );
    let errs = family(&fams, "lbd_netlink_errors");
    assert_eq!(
        errs.value(
            "lbd_netlink_errors_total",
            &[("op", "new_dest"), ("error", "EINVAL")]
        ),
        Some(1.0)
    );
    assert_eq!(errs.samples.len(), 1);

    let r = family(&fams, "lbd_reconcile_duration_seconds");
    assert_eq!(r.kind, "histogram");
    assert_eq!(
        r.value("lbd_reconcile_duration_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        r.value("lbd_reconcile_duration_seconds_bucket", &[("le", "0.005")]),
        Some(0.0)
    );
    assert_eq!(
        r.value("lbd_reconcile_duration_seconds_bucket", &[("le", "0.01")]),
        Some(1.0)
    );

    let d = family(&fams, "lbd_drift_repairs");
    assert_eq!(
        d.value("lbd_drift_repairs_total", &[("service", "http")]),
        Some(2.0)
    );
    let a = family(&fams, "lbd_alert_runs");
    assert_eq!(
        a.value(
            "lbd_alert_runs_total",
            &[("alert", "mail.alert"), ("exit", "0")]
        ),
        Some(1.0)
    );
    assert_eq!(
        a.value(
            "lbd_alert_runs_total",
            &[("alert", "mail.alert"), ("exit", "timeout")]
        ),
        Some(1.0)
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
    let (code, head, body) = f.http("GET", "/status.json");
    assert_eq!(code, 200);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    let status: lbd::control::proto::StatusView = serde_json::from_str(&body).unwrap();
    assert_eq!(status, f.fake.lock().unwrap().status);

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
    // Reading the page changed nothing the daemon holds (beyond what a status look does).
    assert_eq!(f.fake.lock().unwrap().history.len(), 2);
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
        "rs2 198.51.100.12:80 failed down enabled – 0 0 FAIL 5ms: HTTP 500 out: check failing (HTTP 500)"
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
