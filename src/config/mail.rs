//! director.yaml's `mail:` block, keepalived's smtp_alert settings: the SMTP relay
//! (`smtp_server: HOST[:PORT]`, port 25 by default), `from`, `to`, `helo_name`,
//! `connect_timeout` (30s, as keepalived's smtp_connect_timeout), `timeout` (the whole
//! dialogue) and which events mail (`on:`). A service's `smtp_alert: true|false` overrides
//! `on` for its own real servers and quorum.

use super::diagnostic::Sink;
use super::fields::Fields;
use super::scalars::{list, nonempty, positive, word};
use super::yaml::Item;
use serde::Serialize;
use std::time::Duration;

/// Default SMTP port.
pub const DEFAULT_SMTP_PORT: u16 = 25;
/// Default time to connect to the relay (keepalived's smtp_connect_timeout default).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time for one mail's whole dialogue, connection included.
pub const DEFAULT_MAIL_TIMEOUT: Duration = Duration::from_secs(60);

/// Mail alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Mail {
    /// The relay's host name or address.
    pub smtp_server: String,
    pub port: u16,
    /// Default `lbd@` the host name.
    pub from: Option<String>,
    pub to: Vec<String>,
    /// Default the host name.
    pub helo_name: Option<String>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub on: MailOn,
}

/// Which events are mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MailOn {
    /// A node (real server) failing or coming back, in a service or its ping; also the mass
    /// removal guard holding nodes back. Default on (keepalived mails every real server).
    pub node: bool,
    /// A service's quorum lost or met. Default off (keepalived's virtual_server default).
    pub quorum: bool,
}

impl Default for MailOn {
    fn default() -> Self {
        MailOn {
            node: true,
            quorum: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Node,
    Quorum,
}

pub(crate) fn decode(item: &Item, sink: &mut Sink) -> Option<Mail> {
    let mut f = Fields::of(item, "mail", sink)?;
    let server = f.req("smtp_server", sink, host_port);
    let from = f.opt("from", sink, address);
    let to = f.req("to", sink, list(address));
    let helo = f.opt("helo_name", sink, helo_name);
    let connect_timeout = f.or("connect_timeout", sink, DEFAULT_CONNECT_TIMEOUT, positive);
    let timeout = f.or("timeout", sink, DEFAULT_MAIL_TIMEOUT, positive);
    let on = f.or(
        "on",
        sink,
        vec![Event::Node],
        list(word(
            "mail event",
            &[("node", Event::Node), ("quorum", Event::Quorum)],
        )),
    );
    let (to_pos, timeout_pos) = (f.pos_of("to"), f.pos_of("timeout"));
    f.finish(sink);
    let ((smtp_server, port), to) = (server?, to?);
    if to.is_empty() {
        sink.error(to_pos, "`to` lists no address: give at least one recipient");
        return None;
    }
    let (connect_timeout, timeout) = (connect_timeout?, timeout?);
    if timeout < connect_timeout {
        sink.error_hint(
            timeout_pos,
            format!(
                "mail timeout {} is shorter than connect_timeout {}",
                crate::duration::format_duration(timeout),
                crate::duration::format_duration(connect_timeout)
            ),
            "timeout limits the whole dialogue, the connection included",
        );
        return None;
    }
    let on = on?;
    Some(Mail {
        smtp_server,
        port,
        from: from?,
        to,
        helo_name: helo?,
        connect_timeout,
        timeout,
        on: MailOn {
            node: on.contains(&Event::Node),
            quorum: on.contains(&Event::Quorum),
        },
    })
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address.
fn host_port(item: &Item, sink: &mut Sink) -> Option<(String, u16)> {
    let s = nonempty(item, sink)?;
    let s = s.trim();
    let bad = |sink: &mut Sink, why: &str| {
        sink.error_hint(
            item.pos,
            format!("invalid smtp_server `{s}`: {why}"),
            "write HOST or HOST:PORT, e.g. `192.0.2.25`, `mail.example.com:587`, `[2001:db8::25]:25`",
        );
        None
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((h, tail)) = rest.split_once(']') else {
            return bad(sink, "no closing `]`");
        };
        match tail.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if tail.is_empty() => (h, None),
            None => return bad(sink, "text after `]`"),
        }
    } else if s.matches(':').count() > 1 {
        (s, None)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port.map(str::parse::<u16>) {
        None => DEFAULT_SMTP_PORT,
        Some(Ok(p)) if p > 0 => p,
        Some(_) => return bad(sink, "the port is not 1-65535"),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if !host_ok {
        return bad(sink, "not a host name or address");
    }
    Some((host.to_string(), port))
}

/// A mail address `local@domain` or a local mailbox: no spaces, angle brackets or line ends, which would break
/// the SMTP commands or the header fields.
fn address(item: &Item, sink: &mut Sink) -> Option<String> {
    let s = nonempty(item, sink)?;
    // `local@domain`, or a bare local mailbox (`root`) the relay delivers itself.
    let ok = s.matches('@').count() <= 1
        && !s.starts_with('@')
        && !s.ends_with('@')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c));
    if !ok {
        sink.error_hint(
            item.pos,
            format!("invalid mail address `{s}`"),
            "write a plain address, e.g. `ops@example.com` (or a local mailbox, `root`)",
        );
        return None;
    }
    Some(s)
}

fn helo_name(item: &Item, sink: &mut Sink) -> Option<String> {
    let s = nonempty(item, sink)?;
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        sink.error(item.pos, format!("invalid helo_name `{s}`: no spaces"));
        return None;
    }
    Some(s)
}
