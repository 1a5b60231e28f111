//! Kernel tests: IPVS behaviour proven on a real kernel (`cargo test --test kernel`).
//!
//! This is a `harness = false` target driven by `libtest-mimic`, so filters, `--list` and the
//! usual output work. When the running kernel has no IPVS and we are not already inside the
//! lab, the binary re-executes itself in the qemu lab (`vagrant/lab run -- <self> <args>`): one
//! boot for the whole group. On a machine whose kernel has IPVS (as root) it runs directly.
//! Tests run one at a time because they share the lab topology's namespace names. The
//! `systemd::` trials need systemd as PID 1: in the lab they get a second boot of their own
//! (`vagrant/lab run --init systemd`), and each boot lists only its own trials.
//!
//! To add tests: write a module here with `pub fn tests() -> Vec<Trial>` (names prefixed with the
//! module name, e.g. `ipvs::add_service`) and append it to `all_trials`. Build the cluster with
//! [`topology::Topology`], run commands with [`netns`], fetch pages with [`http`].

mod control;
mod daemon;
mod director;
mod echo;
// The helper modules are a toolkit for every kernel test: not each helper has a user yet.
#[allow(dead_code)]
mod http;
mod import;
mod ipvs;
mod ipvs_traffic;
mod ipvsadm;
mod keepalived;
mod lab;
mod lateness;
mod migration;
mod misc;
#[allow(dead_code)]
mod netns;
mod on_failure;
mod package;
mod reference;
mod scenario;
mod selftest;
mod sync;
mod systemd;
#[allow(dead_code)]
mod topology;
mod traffic;
mod vrrp;
mod vrrp_group;

use libtest_mimic::{Arguments, Trial};

/// The trials of one boot: under systemd only `systemd::`, else all the others.
fn trials_for(boot: lab::Boot) -> Vec<Trial> {
    match boot {
        lab::Boot::Systemd => systemd::tests(),
        lab::Boot::Plain => all_trials(),
    }
}

fn all_trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    trials.extend(selftest::tests());
    trials.extend(ipvs::tests());
    trials.extend(sync::tests());
    trials.extend(control::tests());
    trials.extend(daemon::tests());
    trials.extend(director::tests());
    trials.extend(on_failure::tests());
    trials.extend(import::tests());
    trials.extend(misc::tests());
    trials.extend(package::tests());
    trials.extend(vrrp::tests());
    trials.extend(vrrp_group::tests());
    trials.extend(scenario::tests());
    trials.extend(migration::tests());
    trials.extend(reference::tests());
    trials.extend(lateness::tests());
    trials
}

fn main() {
    let mut args = Arguments::from_args();
    let selected = |trials: &[Trial]| {
        trials
            .iter()
            .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
            .count()
    };
    let placement = lab::placement();
    // In a lab boot, or on a kernel with IPVS: the trials of this boot.
    let here = if systemd::booted() {
        lab::Boot::Systemd
    } else {
        lab::Boot::Plain
    };
    if !matches!(placement, lab::Placement::InLab) {
        let mut trials = trials_for(here);
        if here == lab::Boot::Plain && std::env::var_os("LBD_LAB").is_none() {
            // A machine of its own with IPVS and systemd: the unit's trials run here too.
            trials.extend(systemd::tests());
        }
        if args.list || selected(&trials) == 0 {
            libtest_mimic::run(&args, trials).exit();
        }
        if let lab::Placement::Nowhere(why) = placement {
            eprintln!("kernel tests cannot run: {why}");
            std::process::exit(101);
        }
        args.test_threads = Some(1);
        libtest_mimic::run(&args, trials).exit();
    }
    // On the host: a boot for each kind of trial selected. Listing, or a filter that selects
    // nothing, needs no kernel: do not boot for it.
    let boots: Vec<lab::Boot> = [lab::Boot::Plain, lab::Boot::Systemd]
        .into_iter()
        .filter(|b| selected(&trials_for(*b)) > 0)
        .collect();
    if args.list || boots.is_empty() {
        let mut trials = all_trials();
        trials.extend(systemd::tests());
        libtest_mimic::run(&args, trials).exit();
    }
    let mut status = 0;
    for boot in boots {
        let rc = lab::rerun_in_lab(boot);
        if status == 0 {
            status = rc;
        }
    }
    std::process::exit(status);
}
