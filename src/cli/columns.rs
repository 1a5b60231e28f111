//! Aligned text columns for lbctl's human output, and relative ages ("3m ago").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rows laid out in columns separated by two spaces; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How long ago `at_ms` was, relative to `now_ms`, in one or two units: `4s`, `3m12s`, `2h5m`,
/// `3d4h`.
pub fn age(now_ms: u64, at_ms: u64) -> String {
    short_duration(Duration::from_millis(now_ms.saturating_sub(at_ms)))
}

/// A duration in one or two units.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let rows = vec![
            vec!["NODE".into(), "STATE".into(), "WHY".into()],
            vec!["rs1".into(), "online".into(), "in table".into()],
            vec!["rs10".into(), "failed".into(), "".into()],
        ];
        assert_eq!(
            table(&rows),
            "NODE  STATE   WHY\nrs1   online  in table\nrs10  failed\n"
        );
    }

    #[test]
    fn ages() {
        assert_eq!(age(10_000, 6_000), "4s");
        assert_eq!(age(1_000, 6_000), "0s");
        assert_eq!(short_duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(short_duration(Duration::from_secs(7500)), "2h5m");
        assert_eq!(
            short_duration(Duration::from_secs(3 * 86400 + 4 * 3600)),
            "3d4h"
        );
    }
}
