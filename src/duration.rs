//! The one duration grammar, read alike by the configuration, the `lbctl` and `lbd` flags and
//! the runtime specs' serde: `300ms`, `10s`, `1.5s`, `1m30s`, `2h`, `14d`.
//!
//! A duration is one or more `<number><unit>` parts, added up; the units are `ms`, `s`, `m`,
//! `h` and `d`, and a number is digits with an optional decimal fraction (`0.25m`, `1h0.5m`).
//! It is counted exactly in whole milliseconds (`0.1s` is 100 ms); a part finer than that
//! (`1.0005s`, `0.5ms`) is refused, as is a number without a unit (`10`). In serialized input
//! only ([`serde`], [`serde_opt`]), a plain number is also taken as seconds (`2`, `0.5`).

use std::time::Duration;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("`{0}` has no unit")]
    NoUnit(String),
    #[error("unknown duration unit `{0}`")]
    UnknownUnit(String),
    #[error("`{0}` is not a duration")]
    Malformed(String),
    #[error("duration `{0}` is too large")]
    Overflow(String),
    #[error("`{0}` is not a whole number of milliseconds")]
    Precision(String),
}

/// The units, largest first, in milliseconds.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Reads a duration in the grammar of this module.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (millis, tail) = part(rest, text)?;
        total = total
            .checked_add(millis)
            .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
        rest = tail;
    }
    Ok(Duration::from_millis(total))
}

/// One `<number><unit>` part at the start of `rest` (of the whole `text`, for errors): its
/// milliseconds and what follows it.
fn part<'a>(rest: &'a str, text: &str) -> Result<(u64, &'a str), DurationError> {
    let malformed = || DurationError::Malformed(text.to_string());
    let (whole, tail) = digits(rest);
    let (fraction, tail) = match tail.strip_prefix('.') {
        Some(after) => digits(after),
        None => ("0", tail),
    };
    if whole.is_empty() || fraction.is_empty() {
        return Err(malformed());
    }
    let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (unit, tail) = tail.split_at(unit_len);
    let per_unit = match UNITS.iter().find(|(name, _)| *name == unit) {
        Some((_, ms)) => *ms,
        None if unit.is_empty() && tail.is_empty() => {
            return Err(DurationError::NoUnit(text.to_string()))
        }
        None if unit.is_empty() => return Err(malformed()),
        None => return Err(DurationError::UnknownUnit(unit.to_string())),
    };
    let overflow = || DurationError::Overflow(text.to_string());
    let whole: u64 = whole.parse().map_err(|_| overflow())?;
    let fraction = fraction_millis(fraction, per_unit)
        .ok_or_else(|| DurationError::Precision(text.to_string()))?;
    let millis = whole
        .checked_mul(per_unit)
        .and_then(|ms| ms.checked_add(fraction))
        .ok_or_else(overflow)?;
    Ok((millis, tail))
}

/// Splits the leading ASCII digits off `s`.
fn digits(s: &str) -> (&str, &str) {
    s.split_at(s.bytes().take_while(u8::is_ascii_digit).count())
}

/// The milliseconds in `0.<digits>` units of `per_unit` ms, if they are whole.
fn fraction_millis(digits: &str, per_unit: u64) -> Option<u64> {
    let digits = digits.trim_end_matches('0');
    // Past 10 significant decimals a part is never whole milliseconds: 10^n divides
    // fraction × unit only if 2^n or 5^n divides the unit, and a day is 2^10·3^3·5^5 ms.
    if digits.len() > 10 {
        return None;
    }
    let scale = 10u64.pow(digits.len() as u32);
    let scaled = digits.parse::<u64>().unwrap_or(0) * per_unit;
    (scaled % scale == 0).then_some(scaled / scale)
}

/// Writes a duration the way [`parse_duration`] reads it (`1m30s`, `300ms`, `0s`), to the
/// millisecond.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let size = u128::from(size);
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// The clap value parser of a duration flag: `#[arg(value_parser = crate::duration::arg)]`.
pub fn arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

/// A duration as serde reads it: the text of this grammar, or a number of seconds.
struct Text(Duration);

impl<'de> ::serde::Deserialize<'de> for Text {
    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        d.deserialize_any(TextVisitor).map(Text)
    }
}

struct TextVisitor;

impl TextVisitor {
    /// A number of seconds, read as its decimal text with the unit `s`.
    fn seconds<E: ::serde::de::Error>(number: String) -> Result<Duration, E> {
        parse_duration(&format!("{number}s"))
            .map_err(|e| E::custom(format!("invalid duration: {number} seconds: {e}")))
    }
}

impl ::serde::de::Visitor<'_> for TextVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a duration such as \"10s\", \"300ms\" or \"1m30s\", or a number of seconds")
    }

    fn visit_str<E: ::serde::de::Error>(self, s: &str) -> Result<Duration, E> {
        parse_duration(s).map_err(|e| E::custom(format!("invalid duration: {e}")))
    }

    fn visit_u64<E: ::serde::de::Error>(self, n: u64) -> Result<Duration, E> {
        Self::seconds(n.to_string())
    }

    fn visit_i64<E: ::serde::de::Error>(self, n: i64) -> Result<Duration, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::custom(format!("invalid duration: {n} is negative"))),
        }
    }

    fn visit_f64<E: ::serde::de::Error>(self, n: f64) -> Result<Duration, E> {
        // `Display` of an f64 is its shortest exact decimal (`0.1`), never an exponent.
        if n.is_finite() && n >= 0.0 {
            Self::seconds(n.to_string())
        } else {
            Err(E::custom(format!("invalid duration: {n} seconds")))
        }
    }
}

/// `#[serde(with = "crate::duration::serde")]` for a `Duration`: written as
/// [`format_duration`]'s text, read as this grammar's text or a number of seconds.
pub mod serde {
    use super::{format_duration, Text};
    use ::serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Text::deserialize(d).map(|t| t.0)
    }
}

/// `#[serde(with = "crate::duration::serde_opt")]` for an `Option<Duration>` (`null` = none).
pub mod serde_opt {
    use super::{format_duration, Text};
    use ::serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<Text>::deserialize(d).map(|t| t.map(|t| t.0))
    }
}
