//! keepalived's line layer, before any keyword is looked at: `include` (globs and braces,
//! paths relative to the including file's directory), comments (`#` and `!` anywhere outside
//! quotes), conditional lines (`@id` kept only when the config id is `id`, `@^id` only when it
//! is not), `$NAME=value` definitions (also multi-line ones, each line but the last ending in
//! `\`) and `$NAME` / `${NAME}` substitution, recursive and done when a line is used, as
//! keepalived.conf(5) describes them ("ADVANCED CONFIGURATION"). The output is the stream of
//! logical lines keepalived's keyword parser would see, each with the file and line it came
//! from.

use super::pos::{Error, ErrorKind, Pos};
use super::source::{expand_braces, Source};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One logical line: text without comments or conditional prefix, parameters substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// File and line (column 0).
    pub at: Pos,
    /// Characters of the source line before `text` starts (for columns).
    pub indent: u32,
    pub text: String,
}

/// The logical lines, the files read (in order) and notes (a glob that matched nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preprocessed {
    pub lines: Vec<Line>,
    pub files: Vec<PathBuf>,
    pub notes: Vec<(Pos, String)>,
}

const MAX_DEPTH: usize = 32;
/// The longest line a substitution may produce (parameters doubling themselves would
/// otherwise grow without bound).
const MAX_LINE: usize = 1 << 20;
const INCLUDES: &[&str] = &[
    "include", "includer", "includem", "includew", "includeb", "includea",
];

/// Reads `main` and everything it includes. `config_id` is keepalived's `-i`: it decides the
/// `@id` lines; without it a conditional line is an error that lists the ids in use.
pub fn preprocess(
    source: &dyn Source,
    main: &Path,
    config_id: Option<&str>,
) -> Result<Preprocessed, Error> {
    let mut p = Pre {
        source,
        config_id,
        params: HashMap::new(),
        out: Preprocessed::default(),
        unresolved_ids: BTreeSet::new(),
        first_conditional: None,
    };
    let text = source.read(main).map_err(|e| {
        Error::new(
            Pos {
                file: Arc::from(main),
                line: 0,
                column: 0,
            },
            ErrorKind::Unreadable {
                path: main.display().to_string(),
                reason: e.to_string(),
            },
        )
    })?;
    p.file(main, &text, 0)?;
    if let Some((at, id)) = p.first_conditional {
        let ids: Vec<String> = p.unresolved_ids.into_iter().collect();
        return Err(Error::new(at, ErrorKind::NoConfigId(id, ids.join(", "))));
    }
    Ok(p.out)
}

struct Pre<'a> {
    source: &'a dyn Source,
    config_id: Option<&'a str>,
    /// Parameter → its lines (one for a plain definition).
    params: HashMap<String, Vec<String>>,
    out: Preprocessed,
    unresolved_ids: BTreeSet<String>,
    first_conditional: Option<(Pos, String)>,
}

/// What a logical line asks of the file loop.
enum Flow {
    Next,
    /// `$NAME= \`: the following lines are the definition.
    StartDefinition(String),
}

impl Pre<'_> {
    fn file(&mut self, path: &Path, text: &str, depth: usize) -> Result<(), Error> {
        self.out.files.push(path.to_path_buf());
        let file: Arc<Path> = Arc::from(path);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut pending: Option<(String, Vec<String>, Pos)> = None;
        for (i, raw) in text.lines().enumerate() {
            let at = Pos {
                file: file.clone(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                column: 0,
            };
            let line = strip_comment(raw)
                .map_err(|column| Error::new(at.at_column(column), ErrorKind::UnterminatedQuote))?;
            if let Some((name, mut body, start)) = pending.take() {
                let trimmed = line.trim_end();
                match trimmed.strip_suffix('\\') {
                    Some(more) => {
                        body.push(more.to_string());
                        pending = Some((name, body, start));
                    }
                    None => {
                        body.push(trimmed.to_string());
                        self.params.insert(name, body);
                    }
                }
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim_start();
            let first = trimmed.split_whitespace().next().unwrap_or("");
            if INCLUDES.contains(&first) {
                self.include(trimmed, &at, &dir, depth)?;
                continue;
            }
            let indent = u32::try_from(raw[..indent].chars().count()).unwrap_or(0);
            if let Flow::StartDefinition(name) = self.logical(trimmed, &at, indent, &dir, 0)? {
                pending = Some((name, Vec::new(), at));
            }
        }
        if let Some((name, _, start)) = pending {
            return Err(Error::new(start, ErrorKind::UnterminatedDefinition(name)));
        }
        Ok(())
    }

    fn include(&mut self, line: &str, at: &Pos, dir: &Path, depth: usize) -> Result<(), Error> {
        let mut words = line.split_whitespace();
        let keyword = words.next().unwrap_or("include");
        let Some(pattern) = words.next() else {
            return Err(Error::new(
                at.clone(),
                ErrorKind::MissingArgument(keyword.to_string(), "a file name or pattern"),
            ));
        };
        let pattern = pattern.trim_matches(|c| c == '"' || c == '\'');
        if depth + 1 >= MAX_DEPTH {
            return Err(Error::new(
                at.clone(),
                ErrorKind::IncludeLoop(pattern.into()),
            ));
        }
        let bad = |reason: String| {
            Error::new(
                at.clone(),
                ErrorKind::BadInclude {
                    pattern: pattern.to_string(),
                    reason,
                },
            )
        };
        for one in expand_braces(pattern) {
            let full = if Path::new(&one).is_absolute() {
                PathBuf::from(&one)
            } else {
                dir.join(&one)
            };
            let full_text = full.to_string_lossy().into_owned();
            let files = if one.contains(['*', '?', '[']) {
                let found = self.source.glob(&full_text).map_err(bad)?;
                if found.is_empty() {
                    self.out
                        .notes
                        .push((at.clone(), format!("include `{one}` matches no file")));
                }
                found
            } else {
                vec![full]
            };
            for f in files {
                let text = self
                    .source
                    .read(&f)
                    .map_err(|e| bad(format!("cannot read {}: {e}", f.display())))?;
                self.file(&f, &text, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Conditional prefix, definition, substitution; emits the line(s).
    fn logical(
        &mut self,
        text: &str,
        at: &Pos,
        indent: u32,
        dir: &Path,
        level: usize,
    ) -> Result<Flow, Error> {
        let mut text = text.trim_start();
        let mut indent = indent;
        if let Some(rest) = text.strip_prefix('@') {
            let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (word, after) = rest.split_at(word_len);
            let (negated, id) = match word.strip_prefix('^') {
                Some(id) => (true, id),
                None => (false, word),
            };
            match self.config_id {
                None => {
                    self.unresolved_ids.insert(id.to_string());
                    if self.first_conditional.is_none() {
                        self.first_conditional = Some((at.clone(), word.to_string()));
                    }
                    return Ok(Flow::Next);
                }
                Some(cid) if (cid == id) == negated => return Ok(Flow::Next),
                Some(_) => {}
            }
            let skipped = text.len() - after.trim_start().len();
            indent += u32::try_from(text[..skipped].chars().count()).unwrap_or(0);
            text = after.trim_start();
        }
        if text.starts_with("~SEQ") || text.starts_with("~LST") {
            let what = text.get(..4).unwrap_or(text);
            return Err(Error::new(
                at.at_column(indent + 1),
                ErrorKind::Unsupported(format!("{what} block")),
            ));
        }
        if let Some((name, value)) = definition(text) {
            let value = value.trim();
            if value == "\\" {
                return Ok(Flow::StartDefinition(name.to_string()));
            }
            self.params
                .insert(name.to_string(), vec![value.to_string()]);
            return Ok(Flow::Next);
        }
        match self.substitute(text, at, dir)? {
            Some(expanded) => {
                if level >= MAX_DEPTH || expanded.len() > MAX_LINE {
                    let name = text
                        .split('$')
                        .nth(1)
                        .map(|s| s.trim_start_matches('{'))
                        .and_then(|s| s.split(|c: char| !is_name_char(c)).next())
                        .unwrap_or("?")
                        .to_string();
                    return Err(Error::new(at.clone(), ErrorKind::EndlessSubstitution(name)));
                }
                for line in expanded.split('\n') {
                    self.logical(line, at, indent, dir, level + 1)?;
                }
            }
            None if text.trim().is_empty() => {}
            None => self.out.lines.push(Line {
                at: at.clone(),
                indent,
                text: text.trim_end().to_string(),
            }),
        }
        Ok(Flow::Next)
    }

    /// `text` with every defined parameter replaced (one pass), or `None` if nothing was.
    fn substitute(&self, text: &str, at: &Pos, dir: &Path) -> Result<Option<String>, Error> {
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !is_name_char(c))
                    .unwrap_or(after.len());
                let followed_ok = after[end..].chars().next().is_none_or(char::is_whitespace);
                if followed_ok {
                    (&after[..end], end)
                } else {
                    ("", 0)
                }
            };
            let value = if name.is_empty() {
                None
            } else {
                self.value(name, dir, at)?
            };
            match value {
                Some(v) => {
                    out.push_str(&v);
                    changed = true;
                    rest = &after[consumed..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Ok(changed.then_some(out))
    }

    fn value(&self, name: &str, dir: &Path, at: &Pos) -> Result<Option<String>, Error> {
        let predefined = match name.split_whitespace().next().unwrap_or(name) {
            "_PWD" => Some(dir.display().to_string()),
            "_INSTANCE" => self.config_id.map(str::to_string),
            "_HASH" => Some("#".to_string()),
            "_BANG" => Some("!".to_string()),
            "_RANDOM" => {
                return Err(Error::new(
                    at.clone(),
                    ErrorKind::Unsupported("${_RANDOM}".into()),
                ))
            }
            _ => None,
        };
        if predefined.is_some() {
            return Ok(predefined);
        }
        Ok(self.params.get(name).map(|lines| lines.join("\n")))
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `$NAME=value` (no space before `=`): the name and the value.
fn definition(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('$')?;
    let eq = rest.find('=')?;
    let name = &rest[..eq];
    let mut chars = name.chars();
    let first = chars.next()?;
    if (first.is_ascii_alphabetic() || first == '_') && chars.all(is_name_char) {
        Some((name, &rest[eq + 1..]))
    } else {
        None
    }
}

/// The line up to a `#` or `!` outside quotes; `Err(column)` of a quote left open.
fn strip_comment(line: &str) -> Result<&str, u32> {
    let mut quote: Option<(char, usize)> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => escaped = true,
            (Some((q, _)), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some((c, i)),
            (None, '#' | '!') => return Ok(&line[..i]),
            (None, _) => {}
        }
    }
    match quote {
        Some((_, i)) => Err(u32::try_from(line[..i].chars().count() + 1).unwrap_or(0)),
        None => Ok(line),
    }
}

#[cfg(test)]
#[path = "preprocess_tests.rs"]
mod tests;
