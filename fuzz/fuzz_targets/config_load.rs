//! Fuzz target for the configuration loader: any set of files (`director.yaml`, hostgroups,
//! services) given to `lbd::config::load_files` (the loader of lbd and `lbctl check`, on files
//! held in memory) loads or is rejected without panicking, and every error names a file of the
//! configuration directory with a line, except the findings about a whole file (it cannot be
//! read, is empty, is badly named, or a hostgroup or service named after its file, not by a
//! `name:` key, is defined twice: `a.yaml` and `a.yml`).
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Input: an archive of files, each introduced by a line `=== PATH` (relative to the
//! configuration directory); bytes before the first such line are `director.yaml`. Seeds:
//! `config/`, `tests/config_corpus/base/` and every corpus case laid over the base, written by
//! `fuzz/run` into `fuzz/corpus/config_load/`. `tests/config_fuzz.rs` is the always-on,
//! unguided part of this fuzzing.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

const HEADER: &[u8] = b"=== ";

/// Findings about a whole file, which have no line to point at (`FILE: message`).
const WHOLE_FILE: [&str; 5] = [
    "cannot read file: ",
    "cannot read directory: ",
    "file is empty",
    "file name `",
    "not a path inside the configuration directory",
];

/// Splits the archive into (path, bytes) pairs.
fn files(data: &[u8]) -> Vec<(String, &[u8])> {
    let mut out = Vec::new();
    let mut name = "director.yaml".to_string();
    let mut start = 0;
    let mut at = 0;
    while at < data.len() {
        let line_end = data[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| at + i);
        if data[at..line_end].starts_with(HEADER) {
            if at > start || !out.is_empty() || name != "director.yaml" {
                out.push((name, &data[start..at]));
            }
            name = String::from_utf8_lossy(&data[at + HEADER.len()..line_end]).into_owned();
            start = (line_end + 1).min(data.len());
        }
        at = line_end + 1;
    }
    out.push((name, &data[start.min(data.len())..]));
    out
}

fuzz_target!(|data: &[u8]| {
    let dir = Path::new("/etc/lbd");
    let files = files(data);
    let Err(e) = lbd::config::load_files(dir, files.iter().map(|(p, b)| (p.as_str(), *b))) else {
        return;
    };
    assert!(!e.errors.is_empty(), "rejected without an error");
    for d in &e.errors {
        assert!(!d.message.is_empty(), "an error without a message: {d}");
        let whole_file = WHOLE_FILE.iter().any(|w| d.message.starts_with(w))
            || (d.message.starts_with("duplicate hostgroup `")
                || d.message.starts_with("duplicate service name `"));
        assert!(d.line > 0 || whole_file, "an error without a line: {d}");
        let refused = d.message == WHOLE_FILE[4];
        assert!(
            refused || d.file.starts_with(dir),
            "an error outside the configuration directory: {d}"
        );
    }
});
