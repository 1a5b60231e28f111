//! The mail of one alert, as keepalived writes it: the subject `[NAME] Realserver
//! [ADDR]:PORT - DOWN` (or `UP`; a quorum change: `[NAME] Virtualserver SERVICE - DOWN`), a
//! short body with the node, the service, the states and the check's summary, and the RFC 5322
//! header fields Date, From, To, Subject (plus Message-ID-free MIME text/plain). Pure: the
//! time comes in as seconds since the epoch.

use super::MailSpec;
use crate::monitor::alert::AlertCall;
use crate::node::AlertKind;

/// The subject line of an alert's mail.
pub fn subject(spec: &MailSpec, call: &AlertCall) -> String {
    let word = if call.kind.is_up() { "UP" } else { "DOWN" };
    match call.kind {
        AlertKind::Alert | AlertKind::Upalert => {
            let addr = bracketed(&call.address);
            let target = match spec.ports.get(&call.node) {
                Some(p) if !call.address.contains(' ') => format!("{addr}:{p}"),
                _ => addr,
            };
            format!("[{}] Realserver {target} - {word}", spec.director)
        }
        AlertKind::QuorumDown | AlertKind::QuorumUp => {
            format!("[{}] Virtualserver {} - {word}", spec.director, call.watch)
        }
    }
}

/// `[198.51.100.12]`, `[2001:db8::12]`; several addresses (a guard alert) each bracketed.
fn bracketed(addresses: &str) -> String {
    let v: Vec<String> = addresses
        .split_whitespace()
        .map(|a| format!("[{a}]"))
        .collect();
    if v.is_empty() {
        "[]".to_string()
    } else {
        v.join(" ")
    }
}

/// The body: keepalived's `=> ... <=` line, then the facts, one per line.
pub fn body(call: &AlertCall) -> String {
    let headline = match call.kind {
        AlertKind::Alert => "=> CHECK failed on service <=",
        AlertKind::Upalert => "=> CHECK succeed on service <=",
        AlertKind::QuorumDown => "=> Quorum lost: not enough real servers are up <=",
        AlertKind::QuorumUp => "=> Quorum met: enough real servers are up <=",
    };
    let mut b = format!("{headline}\n\n");
    match call.kind {
        AlertKind::Alert | AlertKind::Upalert => {
            b.push_str(&format!("node: {} ({})\n", call.node, call.address));
            b.push_str(&format!("service: {}\n", call.watch));
            b.push_str(&format!("group: {}\n", call.group));
            b.push_str(&format!("state: {} -> {}\n", call.old, call.new));
        }
        AlertKind::QuorumDown | AlertKind::QuorumUp => {
            b.push_str(&format!("service: {}\n", call.watch));
            b.push_str(&format!("passing: {}\n", call.node));
        }
    }
    if !call.summary.is_empty() {
        b.push_str(&format!("summary: {}\n", call.summary));
    }
    b
}

/// The whole message (header fields, empty line, body), CRLF line ends, not yet dot-stuffed.
/// `from` is the sender ([`MailSpec::from_and_helo`]).
pub fn message(spec: &MailSpec, from: &str, call: &AlertCall, unix_secs: u64) -> String {
    let mut m = String::new();
    m.push_str(&format!("Date: {}\r\n", rfc5322_date(unix_secs)));
    m.push_str(&format!("From: {from}\r\n"));
    m.push_str(&format!("To: {}\r\n", spec.to.join(", ")));
    m.push_str(&format!("Subject: {}\r\n", one_line(&subject(spec, call))));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: 8bit\r\n");
    m.push_str("X-Mailer: lbd\r\n\r\n");
    for line in body(call).lines() {
        m.push_str(line);
        m.push_str("\r\n");
    }
    m
}

/// A header value never spans lines: CR and LF (from a summary, say) become spaces.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// The DATA payload: every line ending CRLF (bare CR or LF normalised), a line starting with
/// `.` gets another one (RFC 5321 4.5.2), then the final `.` line.
pub fn dot_stuffed(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    for line in message.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.replace('\r', " ");
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(&line);
        out.push_str("\r\n");
    }
    // `split` gives an empty last piece after a final line end: drop its CRLF.
    if message.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out.push_str(".\r\n");
    out
}

/// `Thu, 03 Dec 2026 15:45:49 +0000` (RFC 5322 3.3), in UTC.
pub fn rfc5322_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31): Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}
