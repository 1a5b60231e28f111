//! Writing lbd's configuration files: a small YAML value with comments, rendered in block
//! style with strings quoted whenever a plain scalar could be read as something else. The
//! importers build these; `lbd`'s own loader is the judge of the result.

use std::fmt::Write;

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Y {
    Str(String),
    Int(i64),
    Bool(bool),
    Seq(Vec<Y>),
    Map(Vec<Entry>),
}

/// A mapping entry with an optional end-of-line comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Y,
    pub comment: Option<String>,
}

impl Y {
    pub fn str(s: impl Into<String>) -> Y {
        Y::Str(s.into())
    }

    /// An empty mapping, to be filled with [`Y::set`].
    pub fn map() -> Y {
        Y::Map(Vec::new())
    }

    /// Adds `key: value` to a mapping (no effect on other values).
    pub fn set(&mut self, key: &str, value: Y) -> &mut Y {
        self.set_commented(key, value, None)
    }

    /// Adds `key: value  # comment`.
    pub fn set_commented(&mut self, key: &str, value: Y, comment: Option<String>) -> &mut Y {
        if let Y::Map(entries) = self {
            entries.push(Entry {
                key: key.to_string(),
                value,
                comment,
            });
        }
        self
    }

    /// The value under `key` of a mapping.
    /// Replaces the value of `key` (which must be there; nothing happens otherwise).
    pub fn set_existing(&mut self, key: &str, value: Y) {
        if let Y::Map(entries) = self {
            if let Some(e) = entries.iter_mut().find(|e| e.key == key) {
                e.value = value;
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Y> {
        match self {
            Y::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// Renders a mapping as a whole document.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            Y::Map(entries) => map(entries, 0, &mut out),
            other => {
                let _ = writeln!(out, "{}", scalar(other).unwrap_or_default());
            }
        }
        out
    }
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

fn comment(c: &Option<String>) -> String {
    c.as_ref().map(|c| format!("  # {c}")).unwrap_or_default()
}

fn map(entries: &[Entry], indent: usize, out: &mut String) {
    for e in entries {
        out.push_str(&pad(indent));
        out.push_str(&quote(&e.key));
        out.push(':');
        after_key(&e.value, &e.comment, indent, out);
    }
}

fn after_key(value: &Y, c: &Option<String>, indent: usize, out: &mut String) {
    match value {
        Y::Seq(items) if items.is_empty() => {
            let _ = writeln!(out, " []{}", comment(c));
        }
        Y::Map(entries) if entries.is_empty() => {
            let _ = writeln!(out, " {{}}{}", comment(c));
        }
        Y::Seq(items) => {
            let _ = writeln!(out, "{}", comment(c));
            for item in items {
                seq_item(item, indent + 2, out);
            }
        }
        Y::Map(entries) => {
            let _ = writeln!(out, "{}", comment(c));
            map(entries, indent + 2, out);
        }
        other => {
            let _ = writeln!(out, " {}{}", scalar(other).unwrap_or_default(), comment(c));
        }
    }
}

fn seq_item(item: &Y, indent: usize, out: &mut String) {
    match item {
        Y::Map(entries) if !entries.is_empty() => {
            let (first, rest) = entries.split_at(1);
            out.push_str(&pad(indent));
            out.push_str("- ");
            out.push_str(&quote(&first[0].key));
            out.push(':');
            after_key(&first[0].value, &first[0].comment, indent + 2, out);
            map(rest, indent + 2, out);
        }
        Y::Map(_) => {
            let _ = writeln!(out, "{}- {{}}", pad(indent));
        }
        Y::Seq(items) => {
            let _ = writeln!(out, "{}-", pad(indent));
            for i in items {
                seq_item(i, indent + 2, out);
            }
        }
        other => {
            let _ = writeln!(
                out,
                "{}- {}",
                pad(indent),
                scalar(other).unwrap_or_default()
            );
        }
    }
}

fn scalar(y: &Y) -> Option<String> {
    match y {
        Y::Str(s) => Some(quote(s)),
        Y::Int(i) => Some(i.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        Y::Seq(_) | Y::Map(_) => None,
    }
}

/// `s` as a plain scalar when that reads back as the same string, else double-quoted (JSON's
/// escaping is valid YAML).
pub fn quote(s: &str) -> String {
    let safe_chars = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_./:@+-".contains(&b));
    let first_ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/');
    let lower = s.to_ascii_lowercase();
    let special = matches!(
        lower.as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || s.parse::<f64>().is_ok()
        || s.parse::<i128>().is_ok()
        || lower.starts_with("0x")
        || lower.starts_with("0o")
        || s.ends_with(':');
    if safe_chars && first_ok && !special {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_block_style_with_comments_and_quotes() {
        let mut vip = Y::map();
        vip.set("address", Y::str("198.51.100.1/24"))
            .set("interface", Y::str("eth1"));
        let mut inst = Y::map();
        inst.set("name", Y::str("VI_1"))
            .set("vrid", Y::Int(51))
            .set("vips", Y::Seq(vec![Y::str("192.0.2.10/24"), vip]))
            .set("unicast_peers", Y::Seq(vec![]));
        let mut doc = Y::map();
        doc.set("name", Y::str("true"))
            .set_commented("ping", Y::Bool(false), Some("keepalived has none".into()))
            .set("vrrp", Y::Seq(vec![inst]))
            .set(
                "expect_status",
                Y::Seq(vec![Y::str("200-299"), Y::str("404")]),
            );
        assert_eq!(
            doc.render(),
            "name: \"true\"\nping: false  # keepalived has none\nvrrp:\n  - name: VI_1\n    vrid: 51\n    vips:\n      - 192.0.2.10/24\n      - address: 198.51.100.1/24\n        interface: eth1\n    unicast_peers: []\nexpect_status:\n  - 200-299\n  - \"404\"\n"
        );
    }

    #[test]
    fn odd_strings_are_quoted() {
        assert_eq!(quote("2001:db8::10"), "2001:db8::10");
        assert_eq!(quote("::1"), "\"::1\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("1.5"), "\"1.5\"");
        assert_eq!(quote("^rs[0-9]+"), "\"^rs[0-9]+\"");
        assert_eq!(quote("/usr/local/bin/x"), "/usr/local/bin/x");
        assert_eq!(quote(""), "\"\"");
    }
}
