//! The files an import reads, behind a trait so that the preprocessor stays pure: the real
//! file system (with glob patterns for `include`) at the edge, an in-memory map in tests.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Reads files and expands glob patterns.
pub trait Source {
    /// The text of `path`.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The files matching the glob `pattern` (`*`, `?`, `[...]`; braces are expanded before),
    /// sorted by name, as glob(3) returns them.
    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String>;
}

/// The file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystem;

impl Source for FileSystem {
    fn read(&self, path: &Path) -> io::Result<String> {
        let bytes = std::fs::read(path)?;
        String::from_utf8(bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8: {e}")))
    }

    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String> {
        let paths = glob::glob(pattern).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for p in paths {
            let p = p.map_err(|e| e.to_string())?;
            if p.is_file() {
                out.push(p);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Files held in memory (tests, fuzzing): path → text.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    pub files: BTreeMap<PathBuf, String>,
}

impl Memory {
    pub fn with(mut self, path: &str, text: &str) -> Memory {
        self.files.insert(PathBuf::from(path), text.to_string());
        self
    }
}

impl Source for Memory {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String> {
        let pattern = glob::Pattern::new(pattern).map_err(|e| e.to_string())?;
        let options = glob::MatchOptions {
            require_literal_separator: true,
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        Ok(self
            .files
            .keys()
            .filter(|p| pattern.matches_path_with(p, options))
            .cloned()
            .collect())
    }
}

/// Expands csh-style braces (`a{b,c}d` → `abd`, `acd`), as keepalived's glob(GLOB_BRACE)
/// does; nested braces work, an unmatched brace is kept literally.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = bytes.iter().position(|&b| b == b'{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut starts = vec![open + 1];
    starts.extend(commas.iter().map(|c| c + 1));
    let mut ends = commas.clone();
    ends.push(close);
    let mut out = Vec::new();
    for (s, e) in starts.into_iter().zip(ends) {
        for rest in expand_braces(&format!("{head}{}{tail}", &pattern[s..e])) {
            out.push(rest);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_like_csh() {
        assert_eq!(expand_braces("a.conf"), vec!["a.conf"]);
        assert_eq!(
            expand_braces("conf.d/{vs,vrrp}.conf"),
            vec!["conf.d/vs.conf", "conf.d/vrrp.conf"]
        );
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}"),
            vec!["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(expand_braces("x{y"), vec!["x{y"]);
    }

    #[test]
    fn memory_globs_match_one_directory_level() {
        let m = Memory::default()
            .with("/e/conf.d/a.conf", "")
            .with("/e/conf.d/b.conf", "")
            .with("/e/conf.d/sub/c.conf", "");
        assert_eq!(
            m.glob("/e/conf.d/*.conf").unwrap(),
            vec![
                PathBuf::from("/e/conf.d/a.conf"),
                PathBuf::from("/e/conf.d/b.conf")
            ]
        );
    }
}
