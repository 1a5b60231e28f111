//! A strict parser of the OpenMetrics / Prometheus text format, for tests: every line must be
//! `# HELP`, `# TYPE`, `# UNIT`, a sample, or the final `# EOF`; every sample must belong to the
//! family declared just before it with a suffix its type allows; label values are unescaped;
//! no series appears twice; histogram buckets are cumulative and end in `+Inf` equal to
//! `_count`. Any deviation is an error naming the line.

use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: String,
    pub help: Option<String>,
    pub unit: Option<String>,
    pub samples: Vec<Sample>,
}

impl Family {
    /// The value of the sample `name` whose labels include all of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }
}

fn suffixes(kind: &str) -> Result<&'static [&'static str], String> {
    Ok(match kind {
        "counter" => &["_total", "_created"],
        "gauge" | "unknown" | "stateset" | "info" => &["", "_info"],
        "histogram" => &["_bucket", "_count", "_sum", "_created"],
        "gaugehistogram" => &["_bucket", "_gcount", "_gsum"],
        "summary" => &["", "_count", "_sum", "_created"],
        other => return Err(format!("unknown metric type `{other}`")),
    })
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value `{s}`")),
    }
}

/// `{a="x",b="y\"z"}` → map; returns the rest after `}`.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("expected `{`")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without `=`")?;
        let name = &rest[..eq];
        if !is_name(name) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    _ => return Err("bad escape in label value".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label `{name}` twice"));
        }
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

pub fn parse(text: &str) -> Result<Vec<Family>, String> {
    let mut families: Vec<Family> = Vec::new();
    let mut seen_families = HashSet::new();
    let mut series = HashSet::new();
    let mut eof = false;
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: `{line}`", n + 1);
        if eof {
            return Err(at("text after `# EOF`".into()));
        }
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (what, name, rest) = (parts.next(), parts.next(), parts.next());
            let (Some(what), Some(name)) = (what, name) else {
                return Err(at("short metadata line".into()));
            };
            if !is_name(name) {
                return Err(at(format!("bad metric name `{name}`")));
            }
            let starts_new = families.last().is_none_or(|f| f.name != name);
            if starts_new {
                if !seen_families.insert(name.to_string()) {
                    return Err(at(format!("family `{name}` interleaved")));
                }
                families.push(Family {
                    name: name.into(),
                    kind: "unknown".into(),
                    help: None,
                    unit: None,
                    samples: vec![],
                });
            }
            let fam = families.last_mut().unwrap();
            if !fam.samples.is_empty() {
                return Err(at("metadata after samples".into()));
            }
            match (what, rest) {
                ("TYPE", Some(t)) => {
                    suffixes(t).map_err(&at)?;
                    fam.kind = t.into();
                }
                ("HELP", r) => fam.help = Some(r.unwrap_or("").into()),
                ("UNIT", Some(u)) => {
                    if !name.ends_with(&format!("_{u}")) {
                        return Err(at(format!("name does not end in its unit `{u}`")));
                    }
                    fam.unit = Some(u.into())
                }
                _ => return Err(at(format!("unknown metadata `{what}`"))),
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            return Err(at("stray comment or blank line".into()));
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| at("sample without value".into()))?;
        let name = &line[..name_end];
        if !is_name(name) {
            return Err(at(format!("bad sample name `{name}`")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(&at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("no space before value".into()))?
            .split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(&at)?;
        if let Some(ts) = fields.next() {
            parse_value(ts).map_err(&at)?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let fam = families
            .last_mut()
            .ok_or_else(|| at("sample before any TYPE".into()))?;
        let suffix = name
            .strip_prefix(fam.name.as_str())
            .ok_or_else(|| at(format!("sample outside family `{}`", fam.name)))?;
        if !suffixes(&fam.kind).map_err(&at)?.contains(&suffix) {
            return Err(at(format!(
                "suffix `{suffix}` not allowed for a {}",
                fam.kind
            )));
        }
        if !series.insert((name.to_string(), format!("{labels:?}"))) {
            return Err(at("series twice".into()));
        }
        fam.samples.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    if !eof {
        return Err("no `# EOF` at the end".into());
    }
    for f in families.iter().filter(|f| f.kind == "histogram") {
        check_histogram(f)?;
    }
    Ok(families)
}

fn check_histogram(f: &Family) -> Result<(), String> {
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in f.samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let le = s
            .labels
            .get("le")
            .ok_or(format!("{}: bucket without le", f.name))?;
        let mut rest = s.labels.clone();
        rest.remove("le");
        groups
            .entry(format!("{rest:?}"))
            .or_default()
            .push((parse_value(le)?, s.value));
    }
    for (labels, buckets) in groups {
        let mut last = (f64::NEG_INFINITY, 0.0);
        for &(le, count) in &buckets {
            if le <= last.0 || count < last.1 {
                return Err(format!("{} {labels}: buckets not cumulative", f.name));
            }
            last = (le, count);
        }
        if last.0 != f64::INFINITY {
            return Err(format!("{} {labels}: no +Inf bucket", f.name));
        }
        let count = f
            .samples
            .iter()
            .find(|s| {
                s.name == format!("{}_count", f.name) && {
                    let mut l = s.labels.clone();
                    l.remove("le");
                    format!("{l:?}") == labels
                }
            })
            .ok_or(format!("{} {labels}: no _count", f.name))?;
        if count.value != last.1 {
            return Err(format!(
                "{} {labels}: +Inf bucket differs from _count",
                f.name
            ));
        }
    }
    Ok(())
}

/// Families by name.
pub fn family<'a>(families: &'a [Family], name: &str) -> &'a Family {
    families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family `{name}`"))
}

#[test]
fn the_parser_is_strict() {
    let good = "# TYPE a counter\n# HELP a An a.\na_total{x=\"1\\\"q\"} 2\n# EOF\n";
    let f = parse(good).unwrap();
    assert_eq!(f[0].samples[0].labels["x"], "1\"q");
    for bad in [
        "# TYPE a counter\na 1\n# EOF\n",    // counter without _total
        "# TYPE a gauge\na 1\n",             // no EOF
        "# TYPE a gauge\na{x=1} 1\n# EOF\n", // unquoted label
        "# TYPE a gauge\na 1\na 2\n# EOF\n", // series twice
        "b 1\n# EOF\n",                      // no TYPE
        "# TYPE a gauge\na 1\n# EOF\nx\n",   // after EOF
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# EOF\n",
    ] {
        assert!(parse(bad).is_err(), "accepted: {bad}");
    }
}
