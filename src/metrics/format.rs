//! The two text formats of `/metrics` and which one a scraper gets (pure).
//!
//! The registry encodes OpenMetrics 1.0.0. A scraper that asks for it in its `Accept` header
//! (Prometheus does, since 2.5) gets it as it is; every other client (no `Accept`, `*/*`,
//! `text/plain`: curl, a browser, `promtool check metrics`, older scrapers) gets the classic
//! Prometheus text format 0.0.4, as client_golang negotiates. [`to_text_004`] rewrites the
//! OpenMetrics text into it: a counter family is named after its `_total` samples in its
//! `# HELP` and `# TYPE` lines, `# UNIT` and `# EOF` lines go, `_created` samples and
//! exemplars go, `info` becomes a gauge named after its `_info` sample and `unknown` becomes
//! `untyped`.

/// The format of one `/metrics` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.0, as the registry encodes it.
    OpenMetrics,
    /// The classic Prometheus text format, version 0.0.4.
    Text004,
}

/// OpenMetrics' content type.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic text format's content type.
pub const TEXT_004_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Format {
    /// The format for a request with this `Accept` header (`None`: no header): OpenMetrics
    /// when the client accepts it at least as much as the classic text (`text/plain`,
    /// `text/*`, `*/*`), and accepts it at all; the classic text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text004;
        };
        let mut openmetrics = 0.0f32;
        let mut text = 0.0f32;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .unwrap_or(0.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Format::OpenMetrics
        } else {
            Format::Text004
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Text004 => TEXT_004_CONTENT_TYPE,
        }
    }
}

/// The classic text format 0.0.4 of an OpenMetrics text (see the module doc).
pub fn to_text_004(openmetrics: &str) -> String {
    // Family name → its type, from the `# TYPE` lines (which may follow `# HELP`).
    let types: std::collections::HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .collect();
    let renamed = |family: &str| -> (String, Option<&'static str>) {
        match types.get(family).copied() {
            Some("counter") => (format!("{family}_total"), None),
            Some("info") => (format!("{family}_info"), Some("gauge")),
            Some("unknown") => (family.to_string(), Some("untyped")),
            _ => (family.to_string(), None),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (family, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let (name, _) = renamed(family);
            // OpenMetrics escapes `"` in help texts too; the classic format does not.
            out.push_str(&format!("# HELP {name} {}\n", help.replace("\\\"", "\"")));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let (name, new_kind) = renamed(family);
            out.push_str(&format!("# TYPE {name} {}\n", new_kind.unwrap_or(kind)));
        } else if line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
        } else {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let created = line[..name_end]
                .strip_suffix("_created")
                .is_some_and(|family| types.get(family) == Some(&"counter"));
            if !created {
                out.push_str(strip_exemplar(line));
                out.push('\n');
            }
        }
    }
    out
}

/// A sample line without its exemplar (` # {...} value`), which the classic format lacks.
fn strip_exemplar(line: &str) -> &str {
    // Label values may hold " # {"; the exemplar follows the labels' closing brace.
    let after_labels = match line.find('{') {
        Some(open) => closing_brace(line, open).map_or(line.len(), |c| c + 1),
        None => 0,
    };
    match line[after_labels..].find(" # ") {
        Some(i) => &line[..after_labels + i],
        None => line,
    }
}

/// The index of the `}` closing the label set opened at `open`, skipping quoted values.
fn closing_brace(line: &str, open: usize) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line[open..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(open + i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
