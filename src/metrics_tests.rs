//! Tests of `metrics.rs`.

use super::*;

fn line_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn records_show_up_in_the_encoding() {
    let m = Metrics::new("dir1");
    m.node_state("rs1", NodeState::Failed);
    m.node_state("rs1", NodeState::Online);
    m.node_transition(NodeState::Failed, NodeState::Online);
    m.real_server_in_table("http", "rs1", true);
    m.check_result("http", true, Duration::from_millis(3));
    m.vrrp_transition("vi_51", VrrpState::Backup, VrrpState::Master);
    m.vrrp_adverts_dropped("vi_51", "bad_ttl", 2);
    m.vrrp_adverts_dropped("vi_51", "bad_ttl", 1);
    m.vrrp_group_state("g1", VrrpState::Fault);
    m.netlink_op("new_dest", Some("EINVAL"));
    m.alert_run("mail.alert", AlertExit::Code(0));
    m.missed_intervals("http").inc_by(2);
    m.guard_held("http", 1);
    let text = m.encode();
    assert_eq!(
        line_with(&text, "lbd_mass_removal_guard_held{"),
        vec![r#"lbd_mass_removal_guard_held{service="http"} 1"#]
    );
    assert_eq!(
        line_with(&text, "lbd_check_intervals_missed_total{"),
        vec![r#"lbd_check_intervals_missed_total{service="http"} 2"#]
    );
    assert_eq!(
        line_with(&text, "lbd_node_state{"),
        vec![r#"lbd_node_state{node="rs1"} 1"#]
    );
    assert_eq!(
        line_with(&text, "lbd_vrrp_state{"),
        vec![r#"lbd_vrrp_state{vrrp_instance="vi_51"} 2"#]
    );
    assert_eq!(
        line_with(&text, "lbd_vrrp_sync_group_state{"),
        vec![r#"lbd_vrrp_sync_group_state{vrrp_sync_group="g1"} 3"#]
    );
    assert_eq!(
        line_with(&text, "lbd_vrrp_adverts_dropped_total{"),
        vec![r#"lbd_vrrp_adverts_dropped_total{vrrp_instance="vi_51",reason="bad_ttl"} 3"#]
    );
    assert_eq!(
        line_with(&text, "lbd_netlink_errors_total{"),
        vec![r#"lbd_netlink_errors_total{op="new_dest",error="EINVAL"} 1"#]
    );
    let buckets = line_with(&text, "lbd_check_latency_seconds_bucket{");
    assert_eq!(buckets.len(), CHECK_BUCKETS.len() + 1, "{buckets:?}");
    let le = |b: &str| {
        buckets
            .iter()
            .find(|l| l.contains(&format!("le=\"{b}\"")))
            .map(|l| l.rsplit(' ').next().unwrap_or(""))
            .unwrap_or_else(|| panic!("no bucket {b}: {buckets:?}"))
            .to_string()
    };
    // 3 ms: above the 2.5 ms bucket, in the 5 ms one and every later one.
    assert_eq!(le("0.0025"), "0");
    assert_eq!(le("0.005"), "1");
    assert_eq!(le("+Inf"), "1");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn clones_share_one_registry() {
    let m = Metrics::new("dir1");
    let c = m.clone();
    c.drift_repairs("http", 3);
    assert!(m
        .encode()
        .contains(r#"lbd_drift_repairs_total{service="http"} 3"#));
    m.real_server_in_table("http", "rs2", true);
    m.forget_real_server("http", "rs2");
    assert!(!c.encode().contains(r#"node="rs2""#));
}
