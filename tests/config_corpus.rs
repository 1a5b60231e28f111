//! The invalid-configuration corpus: each case under `tests/config_corpus/cases/` is the valid
//! `base/` configuration with one mistake; loading it must give exactly the diagnostics in its
//! `expected` (one error) or `expected-warnings` (loads, with these warnings) file, compared as
//! `FILE:LINE:COLUMN: message (hint)` with paths relative to the configuration directory.
//! Every case also loads from memory (`config::load_files`, what `fuzz/run`'s `config_load`
//! target drives) with the same result as from the disk. See `tests/config_corpus/README.md`.

use lbd::config::{self, Diagnostic};
use libtest_mimic::{Arguments, Failed, Trial};
use std::fs;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_corpus")
}

/// Copies every file under `from` into `to`, applying the `.absent` and `.mkdir` markers.
fn overlay(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            overlay(&entry.path(), &target)?;
        } else if let Some(path) = name.strip_suffix(".absent") {
            fs::remove_file(to.join(path))?;
        } else if let Some(path) = name.strip_suffix(".mkdir") {
            fs::create_dir_all(to.join(path))?;
        } else if !name.starts_with("expected") {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Every file under `dir` (paths relative to `root`), or `None` when it holds an empty
/// directory, which files in memory cannot stand for.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> Option<()> {
    let mut any = false;
    for entry in fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        any = true;
        if path.is_dir() {
            files_under(root, &path, out)?;
        } else {
            let bytes = fs::read(&path).ok()?;
            out.push((path.strip_prefix(root).ok()?.to_path_buf(), bytes));
        }
    }
    any.then_some(())
}

fn relative(d: &Diagnostic, root: &Path) -> String {
    let mut d = d.clone();
    d.file = d.file.strip_prefix(root).unwrap_or(&d.file).to_path_buf();
    d.to_string()
}

fn run_case(case: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("etc-lbd");
    fs::create_dir_all(&root)?;
    overlay(&corpus().join("base"), &root)?;
    overlay(case, &root)?;
    let (expect_file, expect_ok) = if case.join("expected").exists() {
        (case.join("expected"), false)
    } else {
        (case.join("expected-warnings"), true)
    };
    let loaded = config::load(&root);
    let mut files = Vec::new();
    if files_under(&root, &root, &mut files).is_some() {
        let in_memory = config::load_files(&root, files);
        if in_memory != loaded {
            return Err(
                format!("from memory:\n{in_memory:#?}\nfrom the disk:\n{loaded:#?}").into(),
            );
        }
    }
    let (ok, found) = match loaded {
        Ok(l) => (true, l.warnings),
        Err(e) => (false, e.errors),
    };
    let found: Vec<String> = found.iter().map(|d| relative(d, &root)).collect();
    if std::env::var_os("LBD_BLESS").is_some() {
        let _ = fs::remove_file(case.join("expected"));
        let _ = fs::remove_file(case.join("expected-warnings"));
        let file = if ok { "expected-warnings" } else { "expected" };
        fs::write(case.join(file), found.join("\n") + "\n")?;
        return Ok(());
    }
    let expected: Vec<String> = fs::read_to_string(&expect_file)?
        .lines()
        .map(str::to_string)
        .collect();
    if ok != expect_ok {
        return Err(format!(
            "expected the configuration to {}, but it {}: {found:#?}",
            if expect_ok { "load" } else { "be rejected" },
            if ok { "loaded" } else { "was rejected" }
        )
        .into());
    }
    if !expect_ok && expected.len() != 1 {
        return Err("an error case must expect exactly one error (one mistake each)".into());
    }
    if expect_ok && expected.is_empty() {
        return Err("a warning case must expect at least one warning".into());
    }
    if found != expected {
        return Err(format!(
            "expected:\n  {}\nfound:\n  {}",
            expected.join("\n  "),
            found.join("\n  ")
        )
        .into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut cases: Vec<PathBuf> = fs::read_dir(corpus().join("cases"))
        .expect("corpus directory")
        .map(|e| e.expect("corpus entry").path())
        .collect();
    cases.sort();
    let errors = cases.iter().filter(|c| c.join("expected").exists()).count();
    let mut trials: Vec<Trial> = cases
        .into_iter()
        .map(|case| {
            let name = case
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Trial::test(name, move || run_case(&case))
        })
        .collect();
    trials.push(Trial::test(
        "corpus_has_at_least_40_error_cases",
        move || {
            if errors >= 40 {
                Ok(())
            } else {
                Err(format!("only {errors} error cases").into())
            }
        },
    ));
    trials.push(Trial::test("base_is_valid_without_warnings", || {
        let loaded = config::load(&corpus().join("base")).map_err(|e| e.to_string())?;
        if loaded.warnings.is_empty() {
            Ok(())
        } else {
            Err(format!("{:?}", loaded.warnings).into())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}
