//! Accepted HTTP status codes: `200`, `"200-399"`, `"200,301,302"` or a list of those.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of inclusive status ranges; the default accepts 200-399.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRanges(pub Vec<(u16, u16)>);

impl Default for StatusRanges {
    fn default() -> Self {
        StatusRanges(vec![(200, 399)])
    }
}

impl StatusRanges {
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= status && status <= hi)
    }

    /// Parses `"200-299,301"`; `None` on anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                None => {
                    let n = part.parse().ok()?;
                    (n, n)
                }
            };
            if !(100..=999).contains(&lo) || !(100..=999).contains(&hi) || lo > hi {
                return None;
            }
            out.push((lo, hi));
        }
        Some(StatusRanges(out))
    }
}

impl std::fmt::Display for StatusRanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for StatusRanges {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for StatusRanges {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Item {
            Code(u16),
            Text(String),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            One(Item),
            Many(Vec<Item>),
        }
        let items = match Repr::deserialize(d)? {
            Repr::One(i) => vec![i],
            Repr::Many(v) => v,
        };
        let mut out = Vec::new();
        for item in items {
            let text = match item {
                Item::Code(c) => c.to_string(),
                Item::Text(t) => t,
            };
            let r = StatusRanges::parse(&text).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid status {text:?} (use e.g. 200, \"200-299\" or \"200,301\")"
                ))
            })?;
            out.extend(r.0);
        }
        Ok(StatusRanges(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse() {
        let s: StatusRanges = serde_json::from_str(r#"[200, "301-302"]"#).expect("list");
        assert_eq!(s, StatusRanges(vec![(200, 200), (301, 302)]));
        assert!(s.contains(302) && !s.contains(303));
        assert_eq!(s.to_string(), "200,301-302");
        for bad in ["", "20", "300-200", "abc", "200-", "1000"] {
            assert_eq!(StatusRanges::parse(bad), None, "{bad}");
        }
    }
}
