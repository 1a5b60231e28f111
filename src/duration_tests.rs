//! The duration grammar: every form it reads, every error, the text it writes, the clap
//! parser and the serde forms.

use crate::duration::{arg, format_duration, parse_duration, DurationError};
use std::time::Duration;

fn ms(n: u64) -> Result<Duration, DurationError> {
    Ok(Duration::from_millis(n))
}

#[test]
fn reads_units_and_sums() {
    assert_eq!(parse_duration("10s"), ms(10_000));
    assert_eq!(parse_duration("300ms"), ms(300));
    assert_eq!(parse_duration("1m30s"), ms(90_000));
    assert_eq!(parse_duration("2h"), ms(7_200_000));
    assert_eq!(parse_duration("14d"), ms(14 * 86_400_000));
    assert_eq!(parse_duration("0s"), ms(0));
    assert_eq!(parse_duration("1d1h1m1s1ms"), ms(90_061_001));
    // Parts are added in any order, as written.
    assert_eq!(parse_duration("30s1m"), ms(90_000));
    assert_eq!(parse_duration("007s"), ms(7_000));
    // Whitespace around the whole text, not inside.
    assert_eq!(parse_duration("  1m30s\n"), ms(90_000));
}

#[test]
fn reads_fractions_exactly() {
    assert_eq!(parse_duration("1.5s"), ms(1_500));
    assert_eq!(parse_duration("0.1s"), ms(100));
    assert_eq!(parse_duration("0.001s"), ms(1));
    assert_eq!(parse_duration("0.25m"), ms(15_000));
    assert_eq!(parse_duration("2.5d"), ms(216_000_000));
    assert_eq!(parse_duration("1.0ms"), ms(1));
    // A fraction in any part, trailing zeros as many as written.
    assert_eq!(parse_duration("1h0.5m"), ms(3_630_000));
    assert_eq!(parse_duration("1.50000000000000000000000s"), ms(1_500));
    // Ten decimals are the most that can be whole: 0.0000003125 d = 27 ms.
    assert_eq!(parse_duration("0.0000003125d"), ms(27));
}

#[test]
fn refuses_what_is_finer_than_a_millisecond() {
    for text in [
        "1.0005s",
        "0.5ms",
        "1.5ms",
        "0.0001s",
        "0.00000031251d",
        "1m0.0001s",
    ] {
        assert_eq!(
            parse_duration(text),
            Err(DurationError::Precision(text.into())),
            "{text}"
        );
    }
    assert_eq!(
        DurationError::Precision("1.0005s".into()).to_string(),
        "`1.0005s` is not a whole number of milliseconds"
    );
}

#[test]
fn refuses_what_is_not_a_duration() {
    let no_unit = |t: &str| Err(DurationError::NoUnit(t.into()));
    let malformed = |t: &str| Err(DurationError::Malformed(t.into()));
    assert_eq!(parse_duration("10"), no_unit("10"));
    assert_eq!(parse_duration("1.5"), no_unit("1.5"));
    assert_eq!(parse_duration("1m30"), no_unit("1m30"));
    assert_eq!(
        parse_duration("5x"),
        Err(DurationError::UnknownUnit("x".into()))
    );
    assert_eq!(
        parse_duration("10sec"),
        Err(DurationError::UnknownUnit("sec".into()))
    );
    assert_eq!(
        parse_duration("10S"),
        Err(DurationError::UnknownUnit("S".into()))
    );
    for text in [
        "s", ".5s", "1.s", "1..5s", "-1s", "+1s", "1m 30s", "1,5s", "10µs",
    ] {
        assert_eq!(parse_duration(text), malformed(text), "{text}");
    }
    assert_eq!(parse_duration(""), Err(DurationError::Empty));
    assert_eq!(parse_duration(" \t"), Err(DurationError::Empty));
    assert_eq!(
        DurationError::NoUnit("10".into()).to_string(),
        "`10` has no unit"
    );
}

#[test]
fn refuses_overflow() {
    for text in [
        "99999999999999999999999s",
        "213503982335d",
        "18446744073709551615ms1ms",
        "213503982334d1d",
    ] {
        assert_eq!(
            parse_duration(text),
            Err(DurationError::Overflow(text.into())),
            "{text}"
        );
    }
    assert_eq!(parse_duration("18446744073709551615ms"), ms(u64::MAX));
}

#[test]
fn formats_back() {
    for text in ["0s", "300ms", "1m30s", "2h", "14d", "1d1h1m1s1ms"] {
        assert_eq!(format_duration(parse_duration(text).unwrap()), text);
    }
    assert_eq!(format_duration(parse_duration("1.5s").unwrap()), "1s500ms");
    assert_eq!(format_duration(parse_duration("0.5h").unwrap()), "30m");
    assert_eq!(format_duration(Duration::from_micros(1_500)), "1ms");
    for n in [1, 999, 1_000, 59_999, 3_600_001, 86_400_000 * 400 + 7] {
        let d = Duration::from_millis(n);
        assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{n} ms");
    }
}

#[test]
fn the_flag_parser_gives_the_message() {
    assert_eq!(arg("1.5s"), Ok(Duration::from_millis(1_500)));
    assert_eq!(arg("10"), Err("`10` has no unit".to_string()));
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Spec {
    #[serde(with = "crate::duration::serde")]
    every: Duration,
    #[serde(default, with = "crate::duration::serde_opt")]
    after: Option<Duration>,
}

fn spec(json: &str) -> Result<Spec, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[test]
fn serde_reads_the_text_and_numbers_of_seconds() {
    let s = |every, after: Option<u64>| Spec {
        every: Duration::from_millis(every),
        after: after.map(Duration::from_millis),
    };
    assert_eq!(spec(r#"{"every":"1.5s"}"#), Ok(s(1_500, None)));
    assert_eq!(
        spec(r#"{"every":"1m30s","after":"0.1s"}"#),
        Ok(s(90_000, Some(100)))
    );
    assert_eq!(spec(r#"{"every":2,"after":null}"#), Ok(s(2_000, None)));
    assert_eq!(
        spec(r#"{"every":0.1,"after":1.5}"#),
        Ok(s(100, Some(1_500)))
    );
    let yaml: Spec = serde_saphyr::from_str("every: 300ms\nafter: 2\n").unwrap();
    assert_eq!(yaml, s(300, Some(2_000)));
}

#[test]
fn serde_refuses_with_the_grammars_message() {
    let err = |json| spec(json).unwrap_err();
    assert!(err(r#"{"every":"10"}"#).contains("invalid duration: `10` has no unit"));
    assert!(err(r#"{"every":"ten"}"#).contains("invalid duration: `ten` is not a duration"));
    assert!(err(r#"{"every":-1}"#).contains("invalid duration: -1 is negative"));
    assert!(err(r#"{"every":0.0001}"#).contains("not a whole number of milliseconds"));
    assert!(err(r#"{"every":1e300}"#).contains("too large"));
    assert!(err(r#"{"every":true}"#).contains("a duration such as"));
    assert!(err(r#"{"every":"1s","after":"5x"}"#).contains("unknown duration unit `x`"));
}

#[test]
fn serde_writes_the_text() {
    let v = Spec {
        every: Duration::from_millis(90_500),
        after: None,
    };
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, r#"{"every":"1m30s500ms","after":null}"#);
    assert_eq!(spec(&json), Ok(v));
}
