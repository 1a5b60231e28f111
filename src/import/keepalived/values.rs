//! keepalived's scalar values read for lbd: timers (seconds with a fraction), integers,
//! booleans, addresses with prefixes, and names turned into lbd names (letters, digits,
//! `_ - .`, at most 64).

use std::net::IpAddr;
use std::time::Duration;

/// A keepalived `<TIMER>`: seconds, with up to six decimals (`2.5`, `3`).
pub fn timer(text: &str) -> Option<Duration> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros = 0u64;
    for (i, d) in frac.bytes().take(6).enumerate() {
        micros += u64::from(d - b'0') * 10u64.pow(5 - i as u32);
    }
    Some(Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// `d` rounded to whole milliseconds (lbd's resolution), at least 1 ms if `d` is not zero.
pub fn to_millis(d: Duration) -> Duration {
    let ms = (d.as_micros() + 500) / 1000;
    let ms = if ms == 0 && !d.is_zero() { 1 } else { ms };
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// An unsigned integer in `lo..=hi`.
pub fn int_in(text: &str, lo: i64, hi: i64) -> Option<i64> {
    let n: i64 = text.parse().ok()?;
    (lo..=hi).contains(&n).then_some(n)
}

/// keepalived's `<BOOL>`; no argument means true.
pub fn boolean(text: Option<&str>) -> Option<bool> {
    match text.map(str::to_ascii_lowercase).as_deref() {
        None | Some("on" | "true" | "yes") => Some(true),
        Some("off" | "false" | "no") => Some(false),
        _ => None,
    }
}

/// `ADDR[/PREFIX]`, prefix defaulting to the whole address.
pub fn cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let address: IpAddr = addr.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((address, prefix))
}

/// `text` as an lbd name: other characters become `-`, at most 64 characters; `fallback` if
/// nothing is left.
pub fn lbd_name(text: &str, fallback: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.trim_matches('-').is_empty() {
        s = fallback.to_string();
    }
    s
}

/// An address as part of a name: `198.51.100.11`, `2001-db8--11`.
pub fn address_name(a: &IpAddr) -> String {
    a.to_string().replace(':', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_seconds_with_fractions() {
        assert_eq!(timer("3"), Some(Duration::from_secs(3)));
        assert_eq!(timer("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(timer("0.000001"), Some(Duration::from_micros(1)));
        assert_eq!(timer(".5"), Some(Duration::from_millis(500)));
        for bad in ["", ".", "1s", "-1", "1.2.3"] {
            assert_eq!(timer(bad), None, "{bad}");
        }
        assert_eq!(
            to_millis(Duration::from_micros(1)),
            Duration::from_millis(1)
        );
        assert_eq!(
            to_millis(Duration::from_micros(2_499)),
            Duration::from_millis(2)
        );
    }

    #[test]
    fn names_and_addresses() {
        assert_eq!(lbd_name("VI_1", "x"), "VI_1");
        assert_eq!(lbd_name("LVS DEVEL/1", "x"), "LVS-DEVEL-1");
        assert_eq!(lbd_name("::", "x"), "x");
        assert_eq!(
            cidr("192.0.2.10"),
            Some(("192.0.2.10".parse().unwrap(), 32))
        );
        assert_eq!(
            cidr("2001:db8::1/64"),
            Some(("2001:db8::1".parse().unwrap(), 64))
        );
        assert_eq!(cidr("192.0.2.10/33"), None);
        assert_eq!(
            address_name(&"2001:db8::11".parse().unwrap()),
            "2001-db8--11"
        );
        assert_eq!(boolean(Some("Off")), Some(false));
        assert_eq!(boolean(None), Some(true));
    }
}
