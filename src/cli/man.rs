//! `lbctl man [--dir DIR]`: the manual page lbctl(1) in roff, generated from the command
//! definitions, with an EXIT STATUS section; with `--dir`, writes lbctl.1 and one page per
//! subcommand (lbctl-status.1, ..., and nested ones such as lbctl-import-keepalived.1) into
//! DIR.

use super::{Cli, Exit, EXIT_CODES};
use clap::CommandFactory;
use clap_mangen::Man;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `lbctl man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write lbctl.1 and every subcommand's page into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let cmd = Cli::command();
    match &args.dir {
        None => render(cmd, out)?,
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            for sub in cmd.get_subcommands() {
                Man::new(sub.clone()).generate_to(dir)?;
                // Nested ones too (`lbctl import keepalived` → lbctl-import-keepalived.1).
                for nested in sub.get_subcommands().filter(|n| n.get_name() != "help") {
                    Man::new(nested.clone()).generate_to(dir)?;
                }
            }
            let path = dir.join("lbctl.1");
            let mut file = std::fs::File::create(&path)?;
            render(cmd, &mut file)?;
            writeln!(out, "{}", dir.display())?;
        }
    }
    Ok(Exit::Ok)
}

/// lbctl(1): clap_mangen's sections, then EXIT STATUS.
fn render(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let man = Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for line in EXIT_CODES.lines().skip(1) {
        let line = line.trim();
        let (code, text) = line.split_once(' ').unwrap_or((line, ""));
        writeln!(
            out,
            ".TP\n\\fB{code}\\fR\n{}",
            text.trim().replace('-', "\\-")
        )?;
    }
    man.render_version_section(out)
}
