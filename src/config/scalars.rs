//! Decoders for single values: strings, names, numbers in a range, addresses, prefixes,
//! durations, paths, interface names, lists and enumerations. Each reports its own error at
//! the value's position and returns `None` on failure.

use super::diagnostic::Sink;
use super::fields::suggest;
use super::yaml::{Item, Value};
use crate::duration::{parse_duration, DurationError};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Any string.
pub(crate) fn string(item: &Item, sink: &mut Sink) -> Option<String> {
    match &item.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            let text = item.scalar_text().unwrap_or_default();
            sink.error_hint(
                item.pos,
                format!("expected a string, found {}", item.kind()),
                format!("quote it: \"{text}\""),
            );
            None
        }
        _ => {
            sink.error(
                item.pos,
                format!("expected a string, found {}", item.kind()),
            );
            None
        }
    }
}

/// A non-empty string.
pub(crate) fn nonempty(item: &Item, sink: &mut Sink) -> Option<String> {
    let s = string(item, sink)?;
    if s.trim().is_empty() {
        sink.error(item.pos, "empty string");
        return None;
    }
    Some(s)
}

/// A user a script runs as (`user:`, with the user's primary group): it must exist on this
/// machine, as the daemon looks it up when it starts the script, and this process must be
/// able to switch to it (checked here so that `lbctl check` under the unit, its
/// ExecStartPre, refuses what the daemon could not do).
pub(crate) fn user(item: &Item, sink: &mut Sink) -> Option<String> {
    use crate::monitor::process::{cannot_switch_to, lookup_user};
    let s = nonempty(item, sink)?;
    let Ok((uid, gid)) = lookup_user(&s) else {
        sink.error_hint(
            item.pos,
            format!("unknown user `{s}`"),
            "the user must exist on the director, as `getent passwd` lists",
        );
        return None;
    };
    if let Some(why) = cannot_switch_to(uid, gid) {
        sink.error(item.pos, format!("user `{s}`: {why}"));
        return None;
    }
    Some(s)
}

/// Whether `s` is a valid name for a service, hostgroup, node or VRRP instance.
pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The words that explain what a name may contain.
pub(crate) const NAME_RULE: &str = "use letters, digits, `_`, `-` and `.`, at most 64";

/// A name: letters, digits, `_`, `-`, `.`.
pub(crate) fn name(item: &Item, sink: &mut Sink) -> Option<String> {
    let s = match &item.value {
        Value::Int(i) => i.to_string(),
        _ => string(item, sink)?,
    };
    if !is_name(&s) {
        sink.error_hint(item.pos, format!("invalid name `{s}`"), NAME_RULE);
        return None;
    }
    Some(s)
}

/// `true` or `false`.
pub(crate) fn boolean(item: &Item, sink: &mut Sink) -> Option<bool> {
    match &item.value {
        Value::Bool(b) => Some(*b),
        Value::Str(s) if matches!(s.as_str(), "yes" | "no" | "on" | "off" | "y" | "n") => {
            sink.error_hint(
                item.pos,
                format!("expected true or false, found `{s}`"),
                "YAML 1.2 booleans are `true` and `false`",
            );
            None
        }
        _ => {
            sink.error(
                item.pos,
                format!("expected true or false, found {}", item.kind()),
            );
            None
        }
    }
}

/// An integer between `lo` and `hi` inclusive; `what` names it in the range error.
pub(crate) fn int_in<T: TryFrom<i128>>(
    lo: i128,
    hi: i128,
    what: &'static str,
) -> impl Fn(&Item, &mut Sink) -> Option<T> {
    move |item, sink| match &item.value {
        Value::Int(n) if (lo..=hi).contains(n) => T::try_from(*n).ok(),
        Value::Int(n) => {
            sink.error(item.pos, format!("{what} {n} is out of range ({lo}-{hi})"));
            None
        }
        _ => {
            sink.error(
                item.pos,
                format!("expected an integer for {what}, found {}", item.kind()),
            );
            None
        }
    }
}

/// A TCP/UDP/SCTP port, 1-65535.
pub(crate) fn port(item: &Item, sink: &mut Sink) -> Option<u16> {
    int_in(1, 65_535, "port")(item, sink)
}

/// A real-server weight, 0-65535 (0 takes no new connections).
pub(crate) fn weight(item: &Item, sink: &mut Sink) -> Option<u32> {
    int_in(0, 65_535, "weight")(item, sink)
}

/// A plain IPv4 or IPv6 address.
pub(crate) fn ip(item: &Item, sink: &mut Sink) -> Option<IpAddr> {
    let s = string(item, sink)?;
    match s.trim().parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) if s.contains('/') => {
            sink.error_hint(
                item.pos,
                format!("invalid IP address `{s}`"),
                "write the address without a /prefix here",
            );
            None
        }
        Err(_) => {
            sink.error(item.pos, format!("invalid IP address `{s}`"));
            None
        }
    }
}

/// The prefix-length limit of an address's family.
pub(crate) fn max_prefix(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// An address with an optional prefix length (`192.0.2.10/24`); without one, the whole
/// address (/32 or /128).
pub(crate) fn cidr(item: &Item, sink: &mut Sink) -> Option<(IpAddr, u8)> {
    let s = string(item, sink)?;
    let (addr_text, prefix_text) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s.as_str(), None),
    };
    let Ok(addr) = addr_text.trim().parse::<IpAddr>() else {
        sink.error(item.pos, format!("invalid address `{s}`"));
        return None;
    };
    let max = max_prefix(&addr);
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.trim().parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => {
                sink.error(
                    item.pos,
                    format!(
                        "prefix `/{p}` of `{s}` is out of range for {} (0-{max})",
                        family_word(&addr)
                    ),
                );
                return None;
            }
        },
    };
    Some((addr, prefix))
}

/// `IPv4` or `IPv6`.
pub(crate) fn family_word(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// `address:port`, IPv6 in brackets.
pub(crate) fn socket_addr(item: &Item, sink: &mut Sink) -> Option<SocketAddr> {
    let s = string(item, sink)?;
    match s.trim().parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            sink.error_hint(
                item.pos,
                format!("invalid listen address `{s}`"),
                "write address:port, e.g. 127.0.0.1:9180 or [::1]:9180",
            );
            None
        }
    }
}

/// A duration in the grammar of [`crate::duration`]: `10s`, `300ms`, `1.5s`, `1m30s`.
pub(crate) fn duration(item: &Item, sink: &mut Sink) -> Option<Duration> {
    let hint = "write a number with a unit: ms, s, m, h or d, e.g. `10s` or `300ms`";
    match &item.value {
        Value::Str(s) => match parse_duration(s) {
            Ok(d) => Some(d),
            Err(
                e @ (DurationError::NoUnit(_)
                | DurationError::Malformed(_)
                | DurationError::UnknownUnit(_)),
            ) => {
                sink.error_hint(item.pos, format!("invalid duration: {e}"), hint);
                None
            }
            Err(e) => {
                sink.error(item.pos, format!("invalid duration: {e}"));
                None
            }
        },
        Value::Int(n) => {
            sink.error_hint(
                item.pos,
                format!("duration `{n}` has no unit"),
                format!("write `{n}s` or `{n}ms`"),
            );
            None
        }
        Value::Float(n) => {
            sink.error_hint(
                item.pos,
                format!("duration `{n}` has no unit"),
                format!("write `{n}s`"),
            );
            None
        }
        _ => {
            sink.error_hint(
                item.pos,
                format!("expected a duration, found {}", item.kind()),
                hint,
            );
            None
        }
    }
}

/// A duration of whole seconds (IPVS timeouts are seconds).
pub(crate) fn whole_seconds(item: &Item, sink: &mut Sink) -> Option<Duration> {
    let d = duration(item, sink)?;
    if d.subsec_millis() != 0 {
        sink.error(item.pos, "this duration must be whole seconds");
        return None;
    }
    Some(d)
}

/// An absolute path.
pub(crate) fn abs_path(item: &Item, sink: &mut Sink) -> Option<PathBuf> {
    let s = nonempty(item, sink)?;
    if !s.starts_with('/') {
        sink.error_hint(
            item.pos,
            format!("path `{s}` is not absolute"),
            "start it with /",
        );
        return None;
    }
    Some(PathBuf::from(s))
}

/// A program and its arguments: `"/path arg ..."` (split at blanks) or `[/path, arg, ...]`;
/// the program is an absolute path (`what` names it in the error: "track script").
pub(crate) fn command(what: &'static str) -> impl Fn(&Item, &mut Sink) -> Option<Vec<String>> {
    move |item, sink| {
        let argv: Vec<String> = match &item.value {
            Value::Seq(_) => list(nonempty)(item, sink)?,
            _ => nonempty(item, sink)?
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        };
        match argv.first() {
            Some(p) if p.starts_with('/') => Some(argv),
            Some(p) => {
                sink.error_hint(
                    item.pos,
                    format!("{what} program `{p}` is not an absolute path"),
                    "start it with /: the script runs with a minimal environment",
                );
                None
            }
            None => {
                sink.error(item.pos, format!("{what} has an empty command"));
                None
            }
        }
    }
}

/// A duration greater than zero.
pub(crate) fn positive(item: &Item, sink: &mut Sink) -> Option<Duration> {
    let d = duration(item, sink)?;
    if d.is_zero() {
        sink.error(item.pos, "duration must be greater than zero");
        return None;
    }
    Some(d)
}

/// A network interface name (at most 15 bytes, no `/`, `:` or whitespace).
pub(crate) fn interface(item: &Item, sink: &mut Sink) -> Option<String> {
    let s = nonempty(item, sink)?;
    let ok = s.len() <= 15
        && s != "."
        && s != ".."
        && !s
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b < 0x20);
    if !ok {
        sink.error_hint(
            item.pos,
            format!("invalid interface name `{s}`"),
            "at most 15 characters, without `/`, `:` or spaces",
        );
        return None;
    }
    Some(s)
}

/// A script file name in a script directory (no directory part).
pub(crate) fn script_name(item: &Item, sink: &mut Sink) -> Option<String> {
    let s = nonempty(item, sink)?;
    if s.contains('/') || s == "." || s == ".." {
        sink.error_hint(
            item.pos,
            format!("invalid script name `{s}`"),
            "give the file name inside the script directory, without a path",
        );
        return None;
    }
    Some(s)
}

/// A list whose every element `each` decodes; all elements are checked before failing.
pub(crate) fn list<'n, T>(
    each: impl Fn(&'n Item, &mut Sink) -> Option<T>,
) -> impl Fn(&'n Item, &mut Sink) -> Option<Vec<T>> {
    move |item, sink| match &item.value {
        Value::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for i in items {
                match each(i, sink) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        _ => {
            sink.error(item.pos, format!("expected a list, found {}", item.kind()));
            None
        }
    }
}

/// One of a fixed set of words, with a "did you mean" for a near miss.
pub(crate) fn word<T: Copy>(
    what: &'static str,
    choices: &'static [(&'static str, T)],
) -> impl Fn(&Item, &mut Sink) -> Option<T> {
    move |item, sink| {
        let s = string(item, sink)?;
        if let Some((_, v)) = choices.iter().find(|(w, _)| *w == s) {
            return Some(*v);
        }
        let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
        sink.error_opt(
            item.pos,
            format!("unknown {what} `{s}`"),
            suggest(&s, &words),
        );
        None
    }
}

/// A share written as a percentage, `50%`; returns 0-100.
pub(crate) fn percent(item: &Item, sink: &mut Sink) -> Option<u8> {
    let s = string(item, sink)?;
    match s.trim().strip_suffix('%').map(|n| n.trim().parse::<u8>()) {
        Some(Ok(n)) if n <= 100 => Some(n),
        _ => {
            sink.error_hint(
                item.pos,
                format!("invalid percentage `{s}`"),
                "write 0% to 100%, e.g. `50%`",
            );
            None
        }
    }
}
