//! The mail's subject, body, header fields, date and dot-stuffing.

use super::message::{body, dot_stuffed, message, rfc5322_date, subject};
use super::MailSpec;
use crate::monitor::alert::AlertCall;
use crate::node::{AlertKind, NodeState};
use std::collections::BTreeMap;
use std::time::Duration;

pub(super) fn spec() -> MailSpec {
    MailSpec {
        server: "127.0.0.1".into(),
        port: 25,
        from: Some("lbd@lb1.example.com".into()),
        to: vec!["ops@example.com".into(), "oncall@example.com".into()],
        helo: Some("lb1.example.com".into()),
        connect_timeout: Duration::from_secs(30),
        timeout: Duration::from_secs(60),
        director: "lb1".into(),
        ports: BTreeMap::from([("rs2".to_string(), 8080)]),
    }
}

pub(super) fn down() -> AlertCall {
    AlertCall {
        node: "rs2".into(),
        address: "198.51.100.12".into(),
        group: "web".into(),
        watch: "http".into(),
        kind: AlertKind::Alert,
        old: NodeState::Online,
        new: NodeState::Failed,
        summary: "unexpected status 500".into(),
    }
}

#[test]
fn a_real_server_subject_is_keepalived_s() {
    assert_eq!(
        subject(&spec(), &down()),
        "[lb1] Realserver [198.51.100.12]:8080 - DOWN"
    );
    let up = AlertCall {
        kind: AlertKind::Upalert,
        address: "2001:db8::12".into(),
        ..down()
    };
    assert_eq!(
        subject(&spec(), &up),
        "[lb1] Realserver [2001:db8::12]:8080 - UP"
    );
    // A node without a known port (a ping alert): the address alone.
    let ping = AlertCall {
        node: "rs9".into(),
        watch: "ping".into(),
        ..down()
    };
    assert_eq!(
        subject(&spec(), &ping),
        "[lb1] Realserver [198.51.100.12] - DOWN"
    );
}

#[test]
fn a_quorum_subject_names_the_service() {
    let lost = AlertCall {
        kind: AlertKind::QuorumDown,
        node: "rs1".into(),
        ..down()
    };
    assert_eq!(subject(&spec(), &lost), "[lb1] Virtualserver http - DOWN");
    let met = AlertCall {
        kind: AlertKind::QuorumUp,
        ..lost
    };
    assert_eq!(subject(&spec(), &met), "[lb1] Virtualserver http - UP");
}

#[test]
fn the_body_says_what_happened_to_which_node() {
    assert_eq!(
        body(&down()),
        "=> CHECK failed on service <=\n\nnode: rs2 (198.51.100.12)\nservice: http\n\
         group: web\nstate: online -> failed\nsummary: unexpected status 500\n"
    );
}

#[test]
fn the_message_has_the_rfc_5322_fields_and_crlf_lines() {
    let m = message(&spec(), "lbd@lb1.example.com", &down(), 1_796_312_749);
    let (head, text) = m.split_once("\r\n\r\n").unwrap();
    let fields: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(fields[0], "Date: Thu, 03 Dec 2026 15:45:49 +0000");
    assert_eq!(fields[1], "From: lbd@lb1.example.com");
    assert_eq!(fields[2], "To: ops@example.com, oncall@example.com");
    assert_eq!(
        fields[3],
        "Subject: [lb1] Realserver [198.51.100.12]:8080 - DOWN"
    );
    assert!(fields.contains(&"Content-Type: text/plain; charset=utf-8"));
    assert!(text.starts_with("=> CHECK failed on service <=\r\n\r\nnode: rs2"));
    assert!(!m.replace("\r\n", "").contains('\n'), "a bare LF in {m:?}");
}

#[test]
fn a_summary_with_line_ends_cannot_add_header_fields() {
    let mut call = down();
    call.kind = AlertKind::QuorumDown;
    call.watch = "http\r\nBcc: evil@example.com".into();
    let m = message(&spec(), "lbd@lb1.example.com", &call, 0);
    let head = m.split_once("\r\n\r\n").unwrap().0;
    assert!(!head.contains("\r\nBcc:"), "{head}");
}

#[test]
fn dates_are_rfc_5322_in_utc() {
    assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    assert_eq!(
        rfc5322_date(4_133_980_799),
        "Fri, 31 Dec 2100 23:59:59 +0000"
    );
}

#[test]
fn lines_starting_with_a_dot_are_doubled_and_the_payload_ends_with_a_dot_line() {
    assert_eq!(
        dot_stuffed("a\r\n.\r\n..b\r\nc\r\n"),
        "a\r\n..\r\n...b\r\nc\r\n.\r\n"
    );
    // Bare line feeds become CRLF; no final line end gets one.
    assert_eq!(dot_stuffed("x\n.y"), "x\r\n..y\r\n.\r\n");
    assert_eq!(dot_stuffed(""), "\r\n.\r\n");
}

#[test]
fn the_sender_and_helo_name_default_to_the_host_name() {
    let s = MailSpec {
        from: None,
        helo: None,
        ..spec()
    };
    assert_eq!(
        s.from_and_helo("lb2"),
        ("lbd@lb2".to_string(), "lb2".to_string())
    );
    assert_eq!(
        spec().from_and_helo("lb2"),
        (
            "lbd@lb1.example.com".to_string(),
            "lb1.example.com".to_string()
        )
    );
}
