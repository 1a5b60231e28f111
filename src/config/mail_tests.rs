//! director.yaml's `mail:` block: what a valid one decodes to, with its defaults.

use super::{decode_director, Mail, MailOn};
use std::path::Path;
use std::time::Duration;

fn mail(block: &str) -> Option<Mail> {
    decode_director(
        &format!("name: lb1\n{block}"),
        Path::new("/etc/lbd/director.yaml"),
    )
    .unwrap()
    .mail
}

#[test]
fn the_defaults_are_keepalived_s() {
    let m = mail("mail:\n  smtp_server: 192.0.2.25\n  to: [ops@example.com]\n").unwrap();
    assert_eq!(
        m,
        Mail {
            smtp_server: "192.0.2.25".into(),
            port: 25,
            from: None,
            to: vec!["ops@example.com".into()],
            helo_name: None,
            connect_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            on: MailOn {
                node: true,
                quorum: false
            },
        }
    );
    assert_eq!(mail(""), None);
}

#[test]
fn every_key_is_read() {
    let m = mail(
        "mail:\n  smtp_server: mail.example.com:587\n  from: lbd@lb1.example.com\n  \
         to: [a@example.com, b@example.com]\n  helo_name: lb1.example.com\n  \
         connect_timeout: 5s\n  timeout: 20s\n  on: [quorum]\n",
    )
    .unwrap();
    assert_eq!((m.smtp_server.as_str(), m.port), ("mail.example.com", 587));
    assert_eq!(m.from.as_deref(), Some("lbd@lb1.example.com"));
    assert_eq!(m.to.len(), 2);
    assert_eq!(m.helo_name.as_deref(), Some("lb1.example.com"));
    assert_eq!(
        (m.connect_timeout, m.timeout),
        (Duration::from_secs(5), Duration::from_secs(20))
    );
    assert_eq!(
        m.on,
        MailOn {
            node: false,
            quorum: true
        }
    );
}

#[test]
fn ipv6_relays_take_brackets_with_a_port_and_none_without() {
    let with = mail("mail:\n  smtp_server: \"[2001:db8::25]:2525\"\n  to: [o@example.com]\n");
    let with = with.unwrap();
    assert_eq!(
        (with.smtp_server.as_str(), with.port),
        ("2001:db8::25", 2525)
    );
    let bare = mail("mail:\n  smtp_server: 2001:db8::25\n  to: [o@example.com]\n").unwrap();
    assert_eq!((bare.smtp_server.as_str(), bare.port), ("2001:db8::25", 25));
}
