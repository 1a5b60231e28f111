//! Where the kernel tests run: here (this kernel has IPVS and we are root), in the qemu lab
//! (`vagrant/lab run`), or nowhere (a clear failure, never a silent skip).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The project directory (where `vagrant/` lives).
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the tests of this binary can run.
pub enum Placement {
    /// The running kernel has IPVS and we are root.
    Here,
    /// Re-execute inside the qemu lab.
    InLab,
    /// Neither: the reason.
    Nowhere(String),
}

/// Whether the running kernel offers IPVS, loading the module if needed.
pub fn kernel_has_ipvs() -> bool {
    let proc_file = Path::new("/proc/net/ip_vs");
    if proc_file.exists() {
        return true;
    }
    let _ = Command::new("modprobe").args(["-q", "ip_vs"]).status();
    proc_file.exists()
}

/// Decides where this process's kernel tests run.
pub fn placement() -> Placement {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let in_lab = std::env::var_os("LBD_LAB").is_some();
    match (kernel_has_ipvs(), root, in_lab) {
        (true, true, _) => Placement::Here,
        (true, false, _) => Placement::Nowhere(
            "this kernel has IPVS but the tests need root (namespaces, IPVS writes)".into(),
        ),
        (false, _, true) => Placement::Nowhere(
            "LBD_LAB is set but this kernel has no IPVS (/proc/net/ip_vs missing after modprobe ip_vs)"
                .into(),
        ),
        (false, _, false) => Placement::InLab,
    }
}

/// The two kinds of lab boot: the plain one (the guest's /init runs the trials in a chroot)
/// and the one whose PID 1 is systemd (for the unit's trials).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Boot {
    Plain,
    Systemd,
}

/// Runs this very binary with the same arguments inside a lab boot of that kind; returns its
/// exit status.
pub fn rerun_in_lab(boot: Boot) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("kernel tests: cannot find this test binary to run it in the lab: {e}");
            return 101;
        }
    };
    let runner = project_dir().join("vagrant/lab");
    eprintln!(
        "kernel tests: this kernel has no IPVS; running them in the qemu lab ({} run{})",
        runner.display(),
        if boot == Boot::Systemd {
            " --init systemd"
        } else {
            ""
        }
    );
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    // The guest's console is a terminal; colour only if ours is one too (or was asked for).
    let asked_colour = args
        .iter()
        .any(|a| a.to_string_lossy().starts_with("--color"));
    let mut command = Command::new(&runner);
    command.arg("run");
    if boot == Boot::Systemd {
        command.args(["--init", "systemd"]);
    }
    command.arg("--").arg(exe).args(&args);
    if !asked_colour && !std::io::stdout().is_terminal() {
        command.arg("--color=never");
    }
    let status = command.current_dir(project_dir()).status();
    match status {
        Ok(status) => status.code().unwrap_or(101),
        Err(e) => {
            eprintln!("kernel tests: cannot start {}: {e}", runner.display());
            101
        }
    }
}
