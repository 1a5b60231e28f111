//! What ships next to `/metrics` in `monitoring/`: the Prometheus alerting rules, checked and
//! unit-tested by Debian's `promtool` (the `prometheus` package, installed by vagrant/deps),
//! every alert with a test that fires it; and the Grafana dashboard, well-formed, every
//! expression of both naming only series the director's registry really exports.

use lbd::metrics::format::{to_text_004, Format};
use lbd::metrics::{AlertExit, Metrics, VrrpState};
use lbd::node::NodeState;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring")
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(monitoring())
        .output()
        .expect("promtool (Debian's prometheus package; vagrant/deps installs it)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool {args:?}: {}\n{said}",
        out.status
    );
    said
}

fn yaml(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(monitoring().join(name)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every sample and family name the director exports, with a series in every family.
fn exported_names() -> BTreeSet<String> {
    let m = Metrics::new("dir1");
    m.node_state("rs1", NodeState::Online);
    m.node_transition(NodeState::Offline, NodeState::Online);
    m.real_server_in_table("http", "rs1", true);
    m.real_server("http", "rs1", 1, 1, 0);
    m.check_result("http", true, Duration::from_millis(3));
    m.missed_intervals("http").inc();
    m.vrrp_transition("vi_51", VrrpState::Backup, VrrpState::Master);
    m.vrrp_adverts_dropped("vi_51", "auth_mismatch", 1);
    m.netlink_op("new_dest", Some("EEXIST"));
    m.reconcile_pass(Duration::from_millis(5));
    m.drift_repairs("http", 1);
    m.alert_run("mail.alert", AlertExit::Code(0));
    m.guard_held("http", 0);
    m.service_quorum("http", true, false);
    let text = to_text_004(&m.encode_as(Format::OpenMetrics));
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let name = match line.strip_prefix("# TYPE ") {
            Some(rest) => rest.split(' ').next(),
            None if line.starts_with('#') => None,
            None => line.split(['{', ' ']).next(),
        };
        names.extend(name.map(str::to_string));
    }
    names
}

/// The `lbd_...` names an expression uses.
fn names_in(expr: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\blbd_[a-z_]+").unwrap();
    re.find_iter(expr).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn the_alerting_rules_pass_promtool_and_their_unit_tests() {
    let checked = promtool(&["check", "rules", "lbd.rules.yml"]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "lbd.rules.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every alert has a test in which it fires.
    let rules = yaml("lbd.rules.yml");
    let alerts: BTreeSet<String> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .map(|r| {
            r["alert"]
                .as_str()
                .expect("alerting rules only")
                .to_string()
        })
        .collect();
    assert!(alerts.len() >= 10, "{alerts:?}");
    let tests = yaml("lbd.rules.test.yml");
    let fired: BTreeSet<String> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .map(|c| c["alertname"].as_str().unwrap().to_string())
        .collect();
    let untested: Vec<_> = alerts.difference(&fired).collect();
    assert!(untested.is_empty(), "alerts no test fires: {untested:?}");

    // Every series a rule reads exists.
    let exported = exported_names();
    for rule in rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
    {
        let expr = rule["expr"].as_str().unwrap();
        let names = names_in(expr);
        assert!(!names.is_empty(), "{expr}");
        for name in names {
            assert!(exported.contains(&name), "{expr}: lbd exports no {name}");
        }
    }
}

#[test]
fn the_grafana_dashboard_reads_only_exported_series() {
    let text = std::fs::read_to_string(monitoring().join("grafana-dashboard.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(dash["uid"], "lbd-directors");
    let panels = dash["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    let exported = exported_names();
    let mut ids = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: duplicate id"
        );
        let grid = &p["gridPos"];
        let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && grid["h"].as_u64().unwrap() > 0,
            "{title}: {grid}"
        );
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            let names = names_in(expr);
            assert!(!names.is_empty(), "{title}: {expr}");
            for name in names {
                assert!(exported.contains(&name), "{title}: {expr}: no {name}");
            }
        }
    }
    // The director picker reads a series every director has.
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(vars
        .iter()
        .any(|v| v["name"] == "instance" && v["definition"] == "label_values(lbd_info, instance)"));
    assert!(exported.contains("lbd_info"));
}
