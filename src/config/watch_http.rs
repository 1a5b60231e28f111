//! The `http` and `https` monitors: their parameters (method, path, host, the status ranges
//! that pass, the body regexes and digest, several `urls`, the TLS settings) and how each is
//! checked as it is read.

use super::diagnostic::Sink;
use super::fields::Fields;
use super::scalars::{abs_path, boolean, duration, list, nonempty, port, string};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::path::PathBuf;
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
    /// A regular expression the body must not match (keepalived's `regex_no_match`).
    #[serde(default)]
    pub body_not: Option<String>,
    /// The body's MD5 in hex (keepalived's `digest`, as `genhash` prints it).
    #[serde(default)]
    pub digest: Option<String>,
    /// More URLs after the first (`urls:` gives them all); every one must pass.
    #[serde(default)]
    pub more_urls: Vec<HttpUrl>,
    /// Present for https.
    pub tls: Option<TlsCheck>,
}

/// One URL of `urls:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HttpUrl {
    pub path: String,
    pub expect_status: Vec<StatusRange>,
    pub body: Option<String>,
    pub body_not: Option<String>,
    pub digest: Option<String>,
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
    /// PEM CA certificates to verify against instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A PEM client certificate (chain) and its key, sent when the server asks.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

pub(super) fn decode_http(tls: bool, f: &mut Fields, sink: &mut Sink) -> Option<HttpCheck> {
    let port = f.opt("port", sink, port);
    let method = f.or("method", sink, "GET".to_string(), method);
    let host = f.opt("host", sink, nonempty);
    let urls_pos = f.key_pos("urls");
    let single = ["path", "expect_status", "body", "body_not", "digest"]
        .into_iter()
        .find(|k| f.has(k));
    let urls = if f.has("urls") {
        if let Some(k) = single {
            for k in [
                "urls",
                "path",
                "expect_status",
                "body",
                "body_not",
                "digest",
            ] {
                f.known(k);
            }
            sink.error_hint(
                urls_pos,
                format!("`urls` given with `{k}`"),
                "put path, expect_status, body, body_not and digest in each url",
            );
            return None;
        }
        let urls = f.req("urls", sink, list(decode_url));
        match urls {
            Some(u) if u.is_empty() => {
                sink.error(urls_pos, "`urls` is empty");
                return None;
            }
            u => u,
        }
    } else {
        Some(vec![url_fields(f, sink)?])
    };
    let tls_check = if tls {
        let verify = f.or("verify_tls", sink, true, boolean);
        let sni = f.opt("sni", sink, nonempty);
        let warn = f.opt("cert_expiry_warn", sink, duration);
        let ca_file = f.opt("ca_file", sink, abs_path);
        let cert_pos = f.key_pos("client_cert");
        let client_cert = f.opt("client_cert", sink, abs_path);
        let client_key = f.opt("client_key", sink, abs_path);
        let (client_cert, client_key) = (client_cert?, client_key?);
        if client_cert.is_some() != client_key.is_some() {
            sink.error_hint(
                if client_cert.is_some() {
                    cert_pos
                } else {
                    f.key_pos("client_key")
                },
                "client_cert and client_key go together",
                "give the PEM certificate and its private key",
            );
            return None;
        }
        Some(TlsCheck {
            verify: verify?,
            sni: sni?,
            cert_expiry_warn: warn?,
            ca_file: ca_file?,
            client_cert,
            client_key,
        })
    } else {
        None
    };
    let mut urls = urls?.into_iter();
    let first = urls.next()?;
    Some(HttpCheck {
        port: port?,
        method: method?,
        path: first.path,
        host: host?,
        expect_status: first.expect_status,
        body: first.body,
        body_not: first.body_not,
        digest: first.digest,
        more_urls: urls.collect(),
        tls: tls_check,
    })
}

/// One entry of `urls:`: a mapping with the URL keys.
fn decode_url(item: &Item, sink: &mut Sink) -> Option<HttpUrl> {
    let mut f = Fields::of(item, "url", sink)?;
    let url = url_fields(&mut f, sink);
    f.finish(sink);
    url
}

/// path, expect_status, body, body_not, digest (of the monitor itself or of one url).
fn url_fields(f: &mut Fields, sink: &mut Sink) -> Option<HttpUrl> {
    let path = f.or("path", sink, "/".to_string(), http_path);
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
    let body_not = f.opt("body_not", sink, regex);
    let digest = f.opt("digest", sink, md5_hex);
    Some(HttpUrl {
        path: path?,
        expect_status: expect_status?,
        body: body?,
        body_not: body_not?,
        digest: digest?,
    })
}

/// An MD5 digest: 32 hex digits, kept in lowercase.
fn md5_hex(item: &Item, sink: &mut Sink) -> Option<String> {
    let d = string(item, sink)?;
    if d.len() != 32 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
        sink.error_hint(
            item.pos,
            format!("invalid digest `{d}`"),
            "32 hex digits: the MD5 of the body, as `genhash` or `md5sum` prints it",
        );
        return None;
    }
    Some(d.to_ascii_lowercase())
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
