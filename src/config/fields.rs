//! Reading a YAML mapping key by key: required and optional keys, repeated keys, and unknown
//! keys with a "did you mean" hint drawn from the keys the decoder asked for.

use super::diagnostic::{Pos, Sink};
use super::yaml::{Item, Value};

/// A mapping being decoded. Every key a decoder looks up is remembered, so [`Fields::finish`]
/// can tell which keys were unknown and suggest the closest known one.
pub(crate) struct Fields<'n> {
    pos: Pos,
    what: &'static str,
    entries: &'n [(Item, Item)],
    used: Vec<bool>,
    asked: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// Starts reading `item` as a mapping; reports an error if it is something else.
    /// `what` names the mapping in messages ("service", "watch", ...).
    pub fn of(item: &'n Item, what: &'static str, sink: &mut Sink) -> Option<Self> {
        match &item.value {
            Value::Map(entries) => {
                let mut used = vec![false; entries.len()];
                // Repeated keys: the first wins, later ones are errors.
                for (i, (key, _)) in entries.iter().enumerate() {
                    if let Some(first) = entries[..i].iter().find(|(k, _)| k.value == key.value) {
                        used[i] = true;
                        sink.error_hint(
                            key.pos,
                            format!(
                                "key `{}` given twice in {what}",
                                key.scalar_text().unwrap_or_default()
                            ),
                            format!("first given at line {}", first.0.pos.line),
                        );
                    }
                }
                Some(Fields {
                    pos: item.pos,
                    what,
                    entries,
                    used,
                    asked: Vec::new(),
                })
            }
            _ => {
                sink.error(
                    item.pos,
                    format!("expected a mapping for {what}, found {}", item.kind()),
                );
                None
            }
        }
    }

    /// The position of the mapping itself.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// The value under `key` (null counts as absent), marking the key as known and used.
    pub fn get(&mut self, key: &'static str) -> Option<&'n Item> {
        let i = self.mark(key)?;
        let value = &self.entries.get(i)?.1;
        (value.value != Value::Null).then_some(value)
    }

    fn mark(&mut self, key: &'static str) -> Option<usize> {
        self.asked.push(key);
        let i = self
            .entries
            .iter()
            .position(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))?;
        self.used[i] = true;
        Some(i)
    }

    /// Marks `key` as known without reading it (for keys another decoder handles).
    pub fn known(&mut self, key: &'static str) {
        self.mark(key);
    }

    /// Whether `key` is present (with any value, null included).
    pub fn has(&self, key: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
    }

    /// The position of the value under `key`, or of the mapping if the key is absent.
    pub fn pos_of(&self, key: &str) -> Pos {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map_or(self.pos, |(_, v)| v.pos)
    }

    /// The position of `key` itself, or of the mapping if the key is absent.
    pub fn key_pos(&self, key: &str) -> Pos {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map_or(self.pos, |(k, _)| k.pos)
    }

    /// A required key: `None` if it is missing (reported) or its value is invalid (reported).
    pub fn req<T>(
        &mut self,
        key: &'static str,
        sink: &mut Sink,
        decode: impl FnOnce(&'n Item, &mut Sink) -> Option<T>,
    ) -> Option<T> {
        match self.get(key) {
            Some(item) => decode(item, sink),
            None => {
                sink.error(self.pos, format!("missing `{key}` in {}", self.what));
                None
            }
        }
    }

    /// An optional key: `Some(None)` if absent, `None` if present but invalid (reported).
    pub fn opt<T>(
        &mut self,
        key: &'static str,
        sink: &mut Sink,
        decode: impl FnOnce(&'n Item, &mut Sink) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.get(key) {
            Some(item) => decode(item, sink).map(Some),
            None => Some(None),
        }
    }

    /// An optional key with a default: `None` only if present but invalid (reported).
    pub fn or<T>(
        &mut self,
        key: &'static str,
        sink: &mut Sink,
        default: T,
        decode: impl FnOnce(&'n Item, &mut Sink) -> Option<T>,
    ) -> Option<T> {
        match self.get(key) {
            Some(item) => decode(item, sink),
            None => Some(default),
        }
    }

    /// Reports every key no lookup asked for, with a "did you mean" hint.
    pub fn finish(self, sink: &mut Sink) {
        self.finish_with(sink, |_| None);
    }

    /// Like [`Fields::finish`], with a first chance to explain a key (for example a parameter
    /// that belongs to another monitor type).
    pub fn finish_with(self, sink: &mut Sink, explain: impl Fn(&str) -> Option<String>) {
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let text = key
                .scalar_text()
                .unwrap_or_else(|| "(a list or mapping)".into());
            let hint = explain(&text).or_else(|| suggest(&text, &self.asked));
            sink.error_opt(
                key.pos,
                format!("unknown key `{text}` in {}", self.what),
                hint,
            );
        }
    }
}

/// "did you mean `x`?" for the known word closest to `word`, or the list of known words.
pub(crate) fn suggest(word: &str, known: &[&str]) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for k in known {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), k);
        if score > best.map_or(0.0, |b| b.0) {
            best = Some((score, k));
        }
    }
    match best {
        Some((score, k)) if score >= 0.8 => Some(format!("did you mean `{k}`?")),
        _ if known.is_empty() => None,
        _ => {
            let mut list: Vec<&str> = known.to_vec();
            list.sort_unstable();
            list.dedup();
            Some(format!("expected one of: {}", list.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::Report;
    use crate::config::yaml;
    use std::path::Path;

    fn decode(text: &str) -> (Option<(u32, Option<u32>)>, Vec<String>) {
        let item = yaml::parse(text).unwrap();
        let mut report = Report::default();
        let mut sink = Sink {
            file: Path::new("t.yaml"),
            report: &mut report,
        };
        let out = Fields::of(&item, "test", &mut sink).and_then(|mut f| {
            let a = f.req("interval", &mut sink, |i, _| match i.value {
                Value::Int(n) => u32::try_from(n).ok(),
                _ => None,
            });
            let b = f.opt("rise", &mut sink, |i, _| match i.value {
                Value::Int(n) => u32::try_from(n).ok(),
                _ => None,
            });
            f.finish(&mut sink);
            Some((a?, b?))
        });
        let msgs = report.errors.iter().map(ToString::to_string).collect();
        (out, msgs)
    }

    #[test]
    fn reads_required_and_optional_keys() {
        assert_eq!(decode("interval: 5\n"), (Some((5, None)), vec![]));
        assert_eq!(
            decode("interval: 5\nrise: 2\n"),
            (Some((5, Some(2))), vec![])
        );
    }

    #[test]
    fn unknown_keys_get_a_did_you_mean() {
        let (_, msgs) = decode("interval: 5\nintreval: 3\n");
        assert_eq!(
            msgs,
            vec!["t.yaml:2:1: unknown key `intreval` in test (did you mean `interval`?)"]
        );
        let (_, msgs) = decode("interval: 5\nzzz: 3\n");
        assert_eq!(
            msgs,
            vec!["t.yaml:2:1: unknown key `zzz` in test (expected one of: interval, rise)"]
        );
    }

    #[test]
    fn missing_and_repeated_keys_are_errors() {
        let (out, msgs) = decode("rise: 1\n");
        assert_eq!(out, None);
        assert_eq!(msgs, vec!["t.yaml:1:1: missing `interval` in test"]);
        let (out, msgs) = decode("interval: 1\ninterval: 2\n");
        assert_eq!(out, Some((1, None)));
        assert_eq!(
            msgs,
            vec!["t.yaml:2:1: key `interval` given twice in test (first given at line 1)"]
        );
    }

    #[test]
    fn a_list_is_not_a_mapping() {
        let (_, msgs) = decode("- 1\n");
        assert_eq!(
            msgs,
            vec!["t.yaml:1:1: expected a mapping for test, found a list"]
        );
    }
}
