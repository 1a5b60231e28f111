//! Track files, keepalived's `track_file`: a file holding a number that moves the priority of
//! the instances that track it, by value × weight, or puts them in FAULT.
//!
//! Pure: [`TrackFile`] is the definition (serde), [`parse_value`] reads the file's bytes as
//! keepalived's `process_track_file` does (`trackers/track_file.c`), and [`effect`] is what a
//! value does to an instance. The edge polls the file (`vrrp/edge/track.rs`).
//!
//! keepalived's rules, followed here:
//! - the number is read as C's `strtol(buf, NULL, 0)` reads it from the first 127 bytes:
//!   leading blanks, a sign, `0x` for hexadecimal, a leading `0` for octal, and whatever
//!   follows the digits is ignored; no digits at all reads as 0;
//! - a missing, unreadable or empty file is 0 (a file deleted is 0 again);
//! - a number outside the 32-bit range is logged and ignored: the previous value stays;
//! - weight 0: a non-zero value is FAULT, 0 is fine;
//! - otherwise value × weight, at most 253, is added to the priority (which stays within
//!   1-254); -254 or less is FAULT.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// keepalived's bound on a track file's weight (254 lets a value of -1 reach FAULT).
pub const MAX_FILE_WEIGHT: i16 = 254;

/// How many bytes of the file are read (keepalived's buffer, less its terminating NUL).
pub const READ_LIMIT: usize = 127;

/// A track file as defined once (director level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFile {
    pub name: String,
    pub path: PathBuf,
    /// -254..254, used when the instance's reference gives none. Default 1.
    #[serde(default = "one")]
    pub weight: i16,
}

fn one() -> i16 {
    1
}

/// What a tracked file's value does to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Added to the priority (-253..253).
    Priority(i32),
    /// The instance is in FAULT.
    Fault,
}

/// What `value` does with `weight` (keepalived's `update_track_file_status` and
/// `process_update_vrrp_track_file_status`).
pub fn effect(value: i64, weight: i32) -> Effect {
    if weight == 0 {
        return if value == 0 {
            Effect::Priority(0)
        } else {
            Effect::Fault
        };
    }
    let v = value.saturating_mul(i64::from(weight)).clamp(-254, 253);
    if v == -254 {
        Effect::Fault
    } else {
        Effect::Priority(v as i32)
    }
}

/// The value of a file's first bytes, or `None` when the number is out of range (keepalived
/// logs "Invalid number" and keeps the previous value).
pub fn parse_value(bytes: &[u8]) -> Option<i64> {
    let b = &bytes[..bytes.len().min(READ_LIMIT)];
    let mut i = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .unwrap_or(b.len());
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex_digit_follows = b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let radix = match (b.get(i), b.get(i + 1)) {
        (Some(b'0'), Some(b'x' | b'X')) if hex_digit_follows => {
            i += 2;
            16
        }
        (Some(b'0'), _) => 8,
        _ => 10,
    };
    let mut n: i64 = 0;
    for &c in &b[i..] {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        n = n
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    let n = if negative { -n } else { n };
    // keepalived accepts INT32_MIN..=INT32_MAX + 1.
    (i64::from(i32::MIN)..=i64::from(i32::MAX) + 1)
        .contains(&n)
        .then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_strtol_base_0_reads_them() {
        for (text, want) in [
            ("5\n", Some(5)),
            ("  -20 apples", Some(-20)),
            ("+7", Some(7)),
            ("0x1f", Some(31)),
            ("0X10", Some(16)),
            ("010", Some(8)),
            ("09", Some(0)),
            ("0x", Some(0)),
            ("", Some(0)),
            ("maintenance", Some(0)),
            ("\t\n42", Some(42)),
            ("2147483648", Some(2_147_483_648)),
            ("2147483649", None),
            ("-2147483648", Some(-2_147_483_648)),
            ("-2147483649", None),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(parse_value(text.as_bytes()), want, "{text:?}");
        }
    }

    #[test]
    fn only_the_first_127_bytes_count() {
        let mut text = " ".repeat(126);
        text.push_str("12");
        assert_eq!(parse_value(text.as_bytes()), Some(1), "the 2 is byte 128");
    }

    #[test]
    fn the_value_times_the_weight_moves_the_priority_and_minus_254_is_a_fault() {
        assert_eq!(effect(0, 1), Effect::Priority(0));
        assert_eq!(effect(-30, 1), Effect::Priority(-30));
        assert_eq!(effect(3, -10), Effect::Priority(-30));
        assert_eq!(effect(1000, 1), Effect::Priority(253), "at most 253");
        assert_eq!(effect(-253, 1), Effect::Priority(-253));
        assert_eq!(effect(-254, 1), Effect::Fault);
        assert_eq!(effect(-1, 254), Effect::Fault, "weight 254: -1 is a fault");
        assert_eq!(effect(i64::from(i32::MIN), 254), Effect::Fault);
    }

    #[test]
    fn with_weight_0_any_non_zero_value_is_a_fault() {
        assert_eq!(effect(0, 0), Effect::Priority(0));
        assert_eq!(effect(1, 0), Effect::Fault);
        assert_eq!(effect(-5, 0), Effect::Fault);
    }
}
