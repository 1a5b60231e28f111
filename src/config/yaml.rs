//! The YAML layer: text → a tree of [`Item`]s, each carrying the line and column it came from.
//!
//! The decoders walk this tree by hand instead of letting serde fill structs, so that one file
//! can report many errors at once (serde stops at the first), unknown keys get a "did you
//! mean", and semantic errors point at the exact value. Booleans are YAML 1.2 only (`yes` and
//! `on` stay strings); repeated keys reach the decoders, which reject them with both positions.

use super::diagnostic::Pos;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned};
use std::fmt;

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub value: Value,
    pub pos: Pos,
}

/// The value of a YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Item>),
    Map(Vec<(Item, Item)>),
}

impl Item {
    /// What kind of value this is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The text of a scalar (a mapping key, usually); `None` for lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some("~".to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// A YAML syntax error: where, and what the parser said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parses one YAML document. An empty document is `Value::Null`.
pub(crate) fn parse(text: &str) -> Result<Item, SyntaxError> {
    let mut budget = serde_saphyr::Budget::default();
    // Large but bounded: 50,000 nodes in one hostgroup file is about 400,000 YAML nodes.
    budget.max_nodes = 20_000_000;
    budget.max_events = 40_000_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    serde_saphyr::from_str_with_options::<Item>(text, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: u32::try_from(l.line()).unwrap_or(u32::MAX),
                column: u32::try_from(l.column()).unwrap_or(u32::MAX),
            })
            .unwrap_or(Pos::FILE);
        let message = serde_saphyr::UserMessageFormatter
            .format_message(e.without_snippet())
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        SyntaxError { pos, message }
    })
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        let at = spanned.referenced;
        Ok(Item {
            value: spanned.value,
            pos: Pos {
                line: u32::try_from(at.line()).unwrap_or(u32::MAX),
                column: u32::try_from(at.column()).unwrap_or(u32::MAX),
            },
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i.into()))
    }
    fn visit_u64<E: de::Error>(self, i: u64) -> Result<Value, E> {
        Ok(Value::Int(i.into()))
    }
    fn visit_i128<E: de::Error>(self, i: i128) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u128<E: de::Error>(self, i: u128) -> Result<Value, E> {
        Ok(i128::try_from(i).map_or(Value::Float(i as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(b).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Item>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Item>()? {
            let value = map.next_value::<Item>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn values_carry_their_positions() {
        let item = parse("name: dir1\nvrrp:\n  - vrid: 51\n    on: yes\n").unwrap();
        let Value::Map(top) = &item.value else {
            panic!("expected a mapping, got {item:?}");
        };
        assert_eq!(top[0].0.value, Value::Str("name".into()));
        assert_eq!(top[0].1.pos, pos(1, 7));
        let Value::Seq(list) = &top[1].1.value else {
            panic!("expected a list");
        };
        let Value::Map(inst) = &list[0].value else {
            panic!("expected a mapping");
        };
        assert_eq!(inst[0].1.value, Value::Int(51));
        assert_eq!(inst[0].1.pos, pos(3, 11));
        // YAML 1.1 booleans stay strings, keys included.
        assert_eq!(inst[1].0.value, Value::Str("on".into()));
        assert_eq!(inst[1].1.value, Value::Str("yes".into()));
    }

    #[test]
    fn repeated_keys_are_kept_for_the_decoder() {
        let item = parse("a: 1\na: 2\n").unwrap();
        let Value::Map(entries) = item.value else {
            panic!("expected a mapping");
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].0.pos, pos(2, 1));
    }

    #[test]
    fn syntax_errors_have_position_and_bare_message() {
        let e = parse("a: [1, 2\n").unwrap_err();
        assert_eq!(e.pos, pos(1, 4));
        assert_eq!(e.message, "unclosed bracket '['");
    }

    #[test]
    fn empty_text_is_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert_eq!(parse("# only a comment\n").unwrap().value, Value::Null);
    }
}
