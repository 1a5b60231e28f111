//! `lbctl check [-c DIR] [--json]`: load and validate the configuration; print a summary and
//! the warnings (exit 0), or every error (exit 2).

use super::Exit;
use crate::config::{self, Diagnostic, Summary};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Arguments of `lbctl check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the result as JSON on stdout (errors included) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The JSON form: `{"ok": true, "summary": {...}, "warnings": [...], "errors": []}`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    ok: bool,
    config: &'a Path,
    summary: Option<Summary>,
    warnings: &'a [Diagnostic],
    errors: &'a [Diagnostic],
}

/// Runs the check; I/O errors on the output streams are failures (exit 1).
pub fn run(
    dir: &Path,
    args: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let loaded = config::load(dir);
    if args.json {
        let (summary, warnings, errors) = match &loaded {
            Ok(l) => (Some(l.config.summary()), &l.warnings[..], &[][..]),
            Err(e) => (None, &e.warnings[..], &e.errors[..]),
        };
        let report = Report {
            ok: loaded.is_ok(),
            config: dir,
            summary,
            warnings,
            errors,
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(if loaded.is_ok() {
            Exit::Ok
        } else {
            Exit::Config
        });
    }
    match loaded {
        Ok(l) => {
            for w in &l.warnings {
                writeln!(err, "{w}")?;
            }
            let s = l.config.summary();
            writeln!(out, "{}: configuration ok", dir.display())?;
            writeln!(
                out,
                "director {}: {} VRRP instance{}, {} VIP{}",
                s.director,
                s.vrrp_instances,
                plural(s.vrrp_instances),
                s.vips,
                plural(s.vips)
            )?;
            writeln!(
                out,
                "{} service{}, {} hostgroup{}, {} node{}, {} real server{}, {:.1} checks/s, {:.1} pings/s",
                s.services,
                plural(s.services),
                s.hostgroups,
                plural(s.hostgroups),
                s.nodes,
                plural(s.nodes),
                s.real_servers,
                plural(s.real_servers),
                s.checks_per_second,
                s.pings_per_second
            )?;
            if !l.warnings.is_empty() {
                writeln!(
                    out,
                    "{} warning{}",
                    l.warnings.len(),
                    plural(l.warnings.len())
                )?;
            }
            Ok(Exit::Ok)
        }
        Err(e) => {
            for d in e.errors.iter().chain(&e.warnings) {
                writeln!(err, "{d}")?;
            }
            writeln!(
                err,
                "{}: {} error{}, configuration not valid",
                dir.display(),
                e.errors.len(),
                plural(e.errors.len())
            )?;
            Ok(Exit::Config)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
