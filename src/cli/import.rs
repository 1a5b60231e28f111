//! `lbctl import keepalived FILE [--out DIR] [--router-id ID] [--allow-partial] [--force]`:
//! translate a keepalived.conf into an lbd configuration directory; `lbctl import ipvsadm
//! FILE` the same for the rules `ipvsadm-save -n` prints (`-` reads them from stdin).
//!
//! The files are written into a temporary directory next to DIR, loaded back with lbd's own
//! loader (what `lbctl check` runs), and only then renamed into place; on any error nothing
//! is left behind. Without `--out` nothing is written and the files are printed. A keyword
//! that lbd cannot carry over faithfully is an error (exit 2, every one listed) unless
//! `--allow-partial` is given; then the rest is written and the list printed.

use super::Exit;
use crate::config;
use crate::import::keepalived::{self, source::FileSystem, Import, Kind, Options};
use crate::import::{ipvsadm, ldirectord};
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `lbctl import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub from: From,
}

/// The tools lbctl imports from.
#[derive(Debug, Subcommand)]
pub enum From {
    /// Translate a keepalived.conf (following its includes, @ID lines and $NAME parameters)
    /// into director.yaml, hostgroups/ and services/; every keyword that cannot be carried
    /// over faithfully is listed as FILE:LINE:COLUMN with the reason.
    Keepalived(KeepalivedArgs),
    /// Translate the rules `ipvsadm-save -n` prints (`-A` services and their `-a` real
    /// servers) into director.yaml, hostgroups/ and services/, with a TCP (or ping) check per
    /// real server, as ipvsadm has none.
    Ipvsadm(IpvsadmArgs),
    /// Translate an ldirectord.cf (global settings, `virtual=` blocks with their `real=`
    /// servers, checktype/service/request/receive) into director.yaml, hostgroups/ and
    /// services/.
    Ldirectord(IpvsadmArgs),
}

/// Arguments of `lbctl import ipvsadm` and `lbctl import ldirectord`.
#[derive(Debug, clap::Args)]
pub struct IpvsadmArgs {
    /// The file (`ipvsadm-save -n` output; an ldirectord.cf), or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The director's name (default: the host name's first label).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Arguments of `lbctl import keepalived`.
#[derive(Debug, clap::Args)]
pub struct KeepalivedArgs {
    /// The keepalived configuration file (usually /etc/keepalived/keepalived.conf).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// keepalived's config id (its -i option): picks the `@ID` / `@^ID` lines (needed when
    /// the file has any), and names the director when global_defs has no router_id (else the
    /// host name does).
    #[arg(long, value_name = "ID")]
    pub router_id: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

impl WriteArgs {
    /// False (said on `err`) when `--out` names a non-empty directory without `--force`.
    fn may_write(&self, err: &mut dyn Write) -> anyhow::Result<bool> {
        match &self.out {
            Some(dir) if !self.force && !is_empty_or_absent(dir)? => {
                writeln!(
                    err,
                    "lbctl: {} exists and is not empty (--force replaces it)",
                    dir.display()
                )?;
                Ok(false)
            }
            _ => Ok(true),
        }
    }
}

/// Where and how every importer writes.
#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// Write the configuration directory here (created; it must not exist or be empty,
    /// unless --force). Without it nothing is written and the files are printed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the configuration even though some keywords could not be carried over
    /// faithfully (they are listed).
    #[arg(long)]
    pub allow_partial: bool,
    /// Replace a non-empty --out directory whole.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Exit> {
    match &args.from {
        From::Keepalived(a) => keepalived(a, out, err),
        From::Ipvsadm(a) => one_file(a, ipvsadm::import, out, err),
        From::Ldirectord(a) => one_file(a, ldirectord::import, out, err),
    }
}

/// An importer of one file: path, text, director name → the translation.
type OneFile = fn(&Path, &str, &str) -> Result<Import, keepalived::Error>;

fn one_file(
    a: &IpvsadmArgs,
    import: OneFile,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    if !a.write.may_write(err)? {
        return Ok(Exit::Config);
    }
    let (path, text) = if a.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        (PathBuf::from("<stdin>"), text)
    } else {
        match std::fs::read_to_string(&a.file) {
            Ok(t) => (a.file.clone(), t),
            Err(e) => {
                writeln!(err, "lbctl: cannot read {}: {e}", a.file.display())?;
                return Ok(Exit::Config);
            }
        }
    };
    let name = a.name.clone().unwrap_or_else(host_name);
    match import(&path, &text, &name) {
        Ok(import) => finish(
            &import,
            a.write.out.as_deref(),
            a.write.allow_partial,
            out,
            err,
        ),
        Err(e) => {
            writeln!(err, "{e}")?;
            writeln!(
                err,
                "lbctl: {}: not imported, nothing written",
                path.display()
            )?;
            Ok(Exit::Config)
        }
    }
}

fn keepalived(
    a: &KeepalivedArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    if !a.write.may_write(err)? {
        return Ok(Exit::Config);
    }
    let options = Options {
        config_id: a.router_id.clone(),
        default_name: a.router_id.clone().unwrap_or_else(host_name),
        lbd: keepalived::probe_lbd(),
    };
    let import = match keepalived::import(&FileSystem, &a.file, &options) {
        Ok(i) => i,
        Err(e) => {
            writeln!(err, "{e}")?;
            writeln!(
                err,
                "lbctl: {}: not imported, nothing written",
                a.file.display()
            )?;
            return Ok(Exit::Config);
        }
    };
    finish(
        &import,
        a.write.out.as_deref(),
        a.write.allow_partial,
        out,
        err,
    )
}

/// Reports, then writes the files into a temporary directory, loads them as `lbctl check`
/// would, and renames it to `out_dir` (or prints the files without one).
fn finish(
    import: &Import,
    out_dir: Option<&Path>,
    allow_partial: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let lossy = import.report.lossy().count();
    let refused = lossy > 0 && !allow_partial;
    summary(import, !refused, out)?;
    if refused {
        for f in import.report.lossy() {
            writeln!(err, "{f}")?;
        }
        writeln!(
            err,
            "lbctl: {lossy} keyword{} cannot be carried over faithfully; nothing written (--allow-partial writes the rest)",
            if lossy == 1 { "" } else { "s" }
        )?;
        return Ok(Exit::Config);
    }
    let parent = match out_dir {
        Some(dir) => dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        None => std::env::temp_dir(),
    };
    let stem = out_dir
        .and_then(|d| d.file_name())
        .map_or("lbd".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{stem}.import-{}", std::process::id()));
    let written = write_and_check(import, &tmp, out, err);
    let result = match (&written, out_dir) {
        (Err(_), _) | (Ok(false), _) => Ok(()),
        (Ok(true), None) => {
            writeln!(out, "nothing written (no --out); the files would be:")?;
            for f in &import.files {
                writeln!(out, "==> {} <==\n{}", f.path, f.text())?;
            }
            Ok(())
        }
        (Ok(true), Some(dir)) => replace(&tmp, dir).map(|()| {
            let _ = writeln!(out, "wrote {}", dir.display());
        }),
    };
    let _ = std::fs::remove_dir_all(&tmp);
    match (written?, result) {
        (true, Ok(())) => Ok(Exit::Ok),
        (false, _) => Ok(Exit::Failure),
        (true, Err(e)) => Err(e),
    }
}

/// Writes the files into `tmp` and loads them as `lbctl check` would; false (reported) if
/// lbd's loader refuses them, which is a bug of the importer.
fn write_and_check(
    import: &Import,
    tmp: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<bool> {
    let _ = std::fs::remove_dir_all(tmp);
    for sub in ["", "hostgroups", "services"] {
        std::fs::create_dir_all(tmp.join(sub))?;
    }
    for f in &import.files {
        std::fs::write(tmp.join(&f.path), f.text())?;
    }
    match config::load(tmp) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                writeln!(out, "lbctl check: {}", strip(w, tmp))?;
            }
            Ok(true)
        }
        Err(e) => {
            writeln!(
                err,
                "lbctl: internal error: lbd's loader refuses the translation (please report this):"
            )?;
            for d in &e.errors {
                writeln!(err, "  {}", strip(d, tmp))?;
            }
            Ok(false)
        }
    }
}

fn strip(d: &config::Diagnostic, tmp: &Path) -> String {
    let mut d = d.clone();
    if let Ok(rel) = d.file.strip_prefix(tmp) {
        d.file = rel.to_path_buf();
    }
    d.to_string()
}

/// Renames `tmp` to `dir`, replacing what is there (only empty, or `--force` was given).
fn replace(tmp: &Path, dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let old = dir.with_file_name(format!(
            ".{}.old-{}",
            dir.file_name()
                .map_or("lbd".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        std::fs::rename(dir, &old)?;
        if let Err(e) = std::fs::rename(tmp, dir) {
            let _ = std::fs::rename(&old, dir);
            return Err(e.into());
        }
        std::fs::remove_dir_all(&old)?;
        return Ok(());
    }
    std::fs::rename(tmp, dir)?;
    Ok(())
}

fn is_empty_or_absent(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", dir.display())),
    }
}

/// The first label of the host name, keepalived's default router id.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| h.trim().split('.').next().map(str::to_string))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "director".to_string())
}

/// What was read, translated, reported.
fn summary(import: &Import, with_lossy: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let r = &import.report;
    let files: Vec<String> = import
        .sources
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    writeln!(
        out,
        "read {} file{}: {}",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        files.join(", ")
    )?;
    writeln!(out, "translated:")?;
    for t in &r.translated {
        writeln!(out, "  {t}")?;
    }
    let lossy: Vec<_> = r.lossy().collect();
    if with_lossy && !lossy.is_empty() {
        writeln!(out, "not carried over faithfully ({}):", lossy.len())?;
        for f in lossy {
            writeln!(out, "  {f}")?;
        }
    }
    let ignored: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Ignored)
        .collect();
    if !ignored.is_empty() {
        writeln!(out, "ignored, no effect on lbd ({}):", ignored.len())?;
        for f in ignored {
            writeln!(out, "  {f}")?;
        }
    }
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}
