//! `lbctl completions SHELL`: a completion script for bash, zsh, fish, elvish or PowerShell,
//! generated from the command definitions (install e.g. as
//! `/usr/share/bash-completion/completions/lbctl`).

use super::{Cli, Exit};
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

/// Arguments of `lbctl completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics on a write error (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "lbctl", &mut script);
    out.write_all(&script)?;
    Ok(Exit::Ok)
}
