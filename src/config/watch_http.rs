//! The `http` and `https` monitors: their parameters (method, path, host, the status ranges
//! that pass, the body regex, the TLS settings) and how each is checked as it is read.

use super::diagnostic::Sink;
use super::fields::Fields;
use super::scalars::{boolean, duration, list, nonempty, port, string};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HttpCheck {
    pub port: Option<u16>,
    /// Default GET.
    pub method: String,
    /// Default `/`.
    pub path: String,
    /// Host header; default the node's address.
    pub host: Option<String>,
    /// Accepted status codes. Default 200-399.
    pub expect_status: Vec<StatusRange>,
    /// A regular expression the body must match.
    pub body: Option<String>,
    /// Present for https.
    pub tls: Option<TlsCheck>,
}

/// An inclusive range of HTTP status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatusRange {
    pub low: u16,
    pub high: u16,
}

impl StatusRange {
    pub fn contains(&self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TlsCheck {
    /// Default true.
    pub verify: bool,
    /// Server name to send; default the `host`, else none.
    pub sni: Option<String>,
    /// Warn (alert, node stays up) when the certificate expires within this.
    pub cert_expiry_warn: Option<Duration>,
}

pub(super) fn decode_http(tls: bool, f: &mut Fields, sink: &mut Sink) -> Option<HttpCheck> {
    let port = f.opt("port", sink, port);
    let method = f.or("method", sink, "GET".to_string(), method);
    let path = f.or("path", sink, "/".to_string(), http_path);
    let host = f.opt("host", sink, nonempty);
    let expect_status = f.or(
        "expect_status",
        sink,
        vec![StatusRange {
            low: 200,
            high: 399,
        }],
        status_ranges,
    );
    let body = f.opt("body", sink, regex);
    let tls_check = if tls {
        let verify = f.or("verify_tls", sink, true, boolean);
        let sni = f.opt("sni", sink, nonempty);
        let warn = f.opt("cert_expiry_warn", sink, duration);
        Some(TlsCheck {
            verify: verify?,
            sni: sni?,
            cert_expiry_warn: warn?,
        })
    } else {
        None
    };
    Some(HttpCheck {
        port: port?,
        method: method?,
        path: path?,
        host: host?,
        expect_status: expect_status?,
        body: body?,
        tls: tls_check,
    })
}

fn method(item: &Item, sink: &mut Sink) -> Option<String> {
    let m = nonempty(item, sink)?;
    if !m.bytes().all(|b| b.is_ascii_uppercase()) {
        sink.error_hint(
            item.pos,
            format!("invalid HTTP method `{m}`"),
            "write it in capitals, e.g. GET or HEAD",
        );
        return None;
    }
    Some(m)
}

fn http_path(item: &Item, sink: &mut Sink) -> Option<String> {
    let p = nonempty(item, sink)?;
    if !p.starts_with('/') || p.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
        sink.error_hint(
            item.pos,
            format!("invalid HTTP path `{p}`"),
            "start it with / and leave out spaces",
        );
        return None;
    }
    Some(p)
}

fn regex(item: &Item, sink: &mut Sink) -> Option<String> {
    let r = string(item, sink)?;
    match regex::Regex::new(&r) {
        Ok(_) => Some(r),
        Err(e) => {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            sink.error(
                item.pos,
                format!("invalid body regex: {}", last.trim_start_matches("error: ")),
            );
            None
        }
    }
}

/// `200`, `"200-299"`, or a list of them.
fn status_ranges(item: &Item, sink: &mut Sink) -> Option<Vec<StatusRange>> {
    match &item.value {
        Value::Seq(_) => list(status_range)(item, sink),
        _ => status_range(item, sink).map(|r| vec![r]),
    }
}

fn status_range(item: &Item, sink: &mut Sink) -> Option<StatusRange> {
    let text = item.scalar_text().unwrap_or_default();
    let parsed = match &item.value {
        Value::Int(n) => u16::try_from(*n).ok().map(|n| (n, n)),
        Value::Str(s) => match s.split_once('-') {
            Some((a, b)) => a.trim().parse().ok().zip(b.trim().parse().ok()),
            None => s.trim().parse().ok().map(|n| (n, n)),
        },
        _ => None,
    };
    match parsed {
        Some((low, high)) if (100..=599).contains(&low) && (low..=599).contains(&high) => {
            Some(StatusRange { low, high })
        }
        _ => {
            sink.error_hint(
                item.pos,
                format!("invalid HTTP status `{text}`"),
                "write a code or a range between 100 and 599, e.g. 200 or \"200-399\"",
            );
            None
        }
    }
}
