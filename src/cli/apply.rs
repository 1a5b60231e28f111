//! `lbctl apply [-c DIR] [--dry-run]`: one-shot programming of the kernel's IPVS table from
//! a desired table, adopting what is already there and sending only the difference.
//! `--dry-run` prints the operations in ipvsadm's words instead of sending them.
//!
//! The desired table comes from the configuration (the director's plan with every node of a
//! service's hostgroup taken as healthy: [`desired_from_config`]) or, with `--table FILE`, from a JSON document
//! `{"services": [{"service": …, "dests": […]}]}` in the serde form of
//! `ipvs::Service`/`ipvs::Dest`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Exit;
use crate::config;
use crate::ipvs::{ApplyReport, Dest, IpvsClient, IpvsError, Op, Service, ServiceKey};
use crate::reconcile::{diff, Table, TableError};

/// Arguments of `lbctl apply` (the configuration directory is the global `-c DIR`).
#[derive(Clone, Debug, clap::Args)]
pub struct ApplyArgs {
    /// Desired table as JSON instead of the configuration.
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Print the operations that would be sent, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// JSON form of a desired table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TableDoc {
    pub services: Vec<ServiceDoc>,
}

/// JSON form of one desired service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceDoc {
    pub service: Service,
    #[serde(default)]
    pub dests: Vec<Dest>,
}

impl TableDoc {
    /// The document of `table` (what `lbctl apply --table FILE` reads back).
    pub fn of(table: &Table) -> TableDoc {
        TableDoc {
            services: table
                .services
                .values()
                .map(|s| ServiceDoc {
                    service: s.service.clone(),
                    dests: s.dests.values().cloned().collect(),
                })
                .collect(),
        }
    }

    /// The normalised table this document describes.
    pub fn to_table(&self) -> Result<Table, TableError> {
        let mut t = Table::new();
        for s in &self.services {
            t.insert_service(s.service.clone());
            for d in &s.dests {
                t.insert_dest(&s.service.key, d.clone())?;
            }
        }
        Ok(t)
    }
}

/// What one apply did.
#[derive(Debug)]
pub struct ApplyOutcome {
    pub ops: Vec<Op>,
    /// `None` for a dry run.
    pub report: Option<ApplyReport>,
}

/// Reads the kernel's table, diffs it against `desired` (owning exactly the desired
/// services) and either prints (`dry_run`) or applies the operations. Progress and the
/// operations go to `out`.
pub fn apply_table(
    client: &mut IpvsClient,
    desired: &Table,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<ApplyOutcome, IpvsError> {
    let actual = Table::from_entries(&client.dump()?);
    let owned: BTreeSet<ServiceKey> = desired.services.keys().copied().collect();
    let ops = diff(desired, &actual, &owned);
    if dry_run {
        for op in &ops {
            let _ = writeln!(out, "{op}");
        }
        return Ok(ApplyOutcome { ops, report: None });
    }
    let report = client.apply(&ops)?;
    for f in &report.failures {
        let _ = writeln!(out, "failed: {}: {}", f.op, f.error);
    }
    let _ = writeln!(
        out,
        "applied {} of {} operations",
        report.sent - report.failures.len(),
        ops.len()
    );
    Ok(ApplyOutcome {
        ops,
        report: Some(report),
    })
}

/// The desired table of a configuration with every node healthy: the director's plan with
/// every check passing and no override ([`crate::director::plan::all_healthy_table`]).
pub use crate::director::plan::all_healthy_table as desired_from_config;

/// Runs `lbctl apply`.
pub fn run(
    dir: &Path,
    args: &ApplyArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let desired = match &args.table {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let doc: TableDoc = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            doc.to_table()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => match config::load(dir) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    writeln!(err, "{w}")?;
                }
                desired_from_config(&loaded.config)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
            }
            Err(e) => {
                writeln!(err, "{e}")?;
                return Ok(Exit::Config);
            }
        },
    };
    let mut client = IpvsClient::connect()?;
    let outcome = apply_table(&mut client, &desired, args.dry_run, out)?;
    Ok(match outcome.report {
        Some(r) if !r.is_ok() => Exit::Failure,
        _ => Exit::Ok,
    })
}
