use super::*;

#[test]
fn prometheus_gets_openmetrics_everyone_else_the_classic_text() {
    // Prometheus 2.42's scrape header.
    let prometheus = "application/openmetrics-text;version=1.0.0,\
                      application/openmetrics-text;version=0.0.1;q=0.75,\
                      text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(
        Format::negotiate(Some("application/openmetrics-text")),
        Format::OpenMetrics
    );
    for accept in [
        None,
        Some("*/*"),
        Some("text/plain"),
        Some("text/plain;version=0.0.4"),
        Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        // Asked for, but less than the classic text.
        Some("text/plain;q=1, application/openmetrics-text;q=0.5"),
        // Refused outright.
        Some("application/openmetrics-text;q=0"),
        // Unparseable weights count as refusals.
        Some("application/openmetrics-text;q=high"),
        Some("application/openmetrics-text;q=2"),
        Some(""),
        Some(",,;;==,"),
    ] {
        assert_eq!(Format::negotiate(accept), Format::Text004, "{accept:?}");
    }
    // Case-insensitive media types and parameter names, spaces around them.
    assert_eq!(
        Format::negotiate(Some(" Application/OpenMetrics-Text ; Q=0.9 , */*;q=0.1")),
        Format::OpenMetrics
    );
    assert_eq!(Format::OpenMetrics.content_type(), OPENMETRICS_CONTENT_TYPE);
    assert_eq!(
        Format::Text004.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
}

#[test]
fn counters_are_named_after_their_samples_units_and_eof_go() {
    let om = "\
# HELP lbd_checks Service check results by outcome.
# TYPE lbd_checks counter
lbd_checks_total{service=\"http\",result=\"ok\"} 3
lbd_checks_created{service=\"http\",result=\"ok\"} 1700000000.0
# HELP lbd_check_latency_seconds Check latency.
# TYPE lbd_check_latency_seconds histogram
# UNIT lbd_check_latency_seconds seconds
lbd_check_latency_seconds_sum{service=\"http\"} 0.5
lbd_check_latency_seconds_count{service=\"http\"} 3
lbd_check_latency_seconds_bucket{le=\"+Inf\",service=\"http\"} 3
# HELP lbd_node_state A \\\"quoted\\\" word and a \\\\ backslash.
# TYPE lbd_node_state gauge
lbd_node_state{node=\"we\\\"ird # {x} node\"} 1 # {trace_id=\"a\"} 1.0
# HELP build Build.
# TYPE build info
build_info{version=\"1\"} 1
# HELP thing Something.
# TYPE thing unknown
thing 2
# EOF
";
    let text = to_text_004(om);
    assert_eq!(
        text,
        "\
# HELP lbd_checks_total Service check results by outcome.
# TYPE lbd_checks_total counter
lbd_checks_total{service=\"http\",result=\"ok\"} 3
# HELP lbd_check_latency_seconds Check latency.
# TYPE lbd_check_latency_seconds histogram
lbd_check_latency_seconds_sum{service=\"http\"} 0.5
lbd_check_latency_seconds_count{service=\"http\"} 3
lbd_check_latency_seconds_bucket{le=\"+Inf\",service=\"http\"} 3
# HELP lbd_node_state A \"quoted\" word and a \\\\ backslash.
# TYPE lbd_node_state gauge
lbd_node_state{node=\"we\\\"ird # {x} node\"} 1
# HELP build_info Build.
# TYPE build_info gauge
build_info{version=\"1\"} 1
# HELP thing Something.
# TYPE thing untyped
thing 2
"
    );
}

#[test]
fn the_directors_own_registry_converts_to_known_types_only() {
    let m = crate::metrics::Metrics::new("dir1");
    // Every kind of family, with a series each (empty families are not encoded).
    m.node_state("rs1", crate::node::NodeState::Online);
    m.node_transition(
        crate::node::NodeState::Offline,
        crate::node::NodeState::Online,
    );
    m.check_result("http", true, std::time::Duration::from_millis(3));
    m.missed_intervals("http").inc();
    m.vrrp_state("vi_1", crate::metrics::VrrpState::Master);
    m.vrrp_adverts_dropped("vi_1", "auth_mismatch", 2);
    m.netlink_op("new_dest", Some("EEXIST"));
    m.drift_repairs("http", 1);
    m.guard_held("http", 3);
    let text = to_text_004(&m.encode());
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = line.split_once(' ').unwrap();
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind),
            "{name}: {kind}"
        );
        if kind == "counter" {
            assert!(name.ends_with("_total"), "{name}");
        }
    }
    assert!(text.contains("# TYPE lbd_checks_total counter\n"), "{text}");
    assert!(text.contains("lbd_node_state{node=\"rs1\"} 1\n"), "{text}");
    assert!(
        text.contains("# TYPE lbd_check_latency_seconds histogram\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "lbd_vrrp_adverts_dropped_total{vrrp_instance=\"vi_1\",reason=\"auth_mismatch\"} 2\n"
        ),
        "{text}"
    );
}

#[test]
fn garbage_in_is_passed_through_without_a_panic() {
    for junk in [
        "",
        "#",
        "# TYPE",
        "# TYPE x",
        "# HELP",
        "{",
        "x{a=\"}",
        "x{a=\"\\",
        "\u{0}\u{ffff} # {",
    ] {
        let _ = to_text_004(junk);
    }
    assert_eq!(to_text_004("x 1\n"), "x 1\n");
}
