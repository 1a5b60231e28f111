//! Kernel tests: IPVS behaviour proven on a real kernel (`cargo test --test kernel`).
//!
//! This is a `harness = false` target driven by `libtest-mimic`, so filters, `--list` and the
//! usual output work. When the running kernel has no IPVS and we are not already inside the
//! lab, the binary re-executes itself in the qemu lab (`vagrant/lab run -- <self> <args>`): one
//! boot for the whole group. On a machine whose kernel has IPVS (as root) it runs directly.
//! Tests run one at a time because they share the lab topology's namespace names.
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
mod lab;
mod lateness;
mod misc;
#[allow(dead_code)]
mod netns;
mod on_failure;
mod package;
mod reference;
mod scenario;
mod selftest;
mod sync;
#[allow(dead_code)]
mod topology;
mod traffic;
mod vrrp;
mod vrrp_group;

use libtest_mimic::{Arguments, Trial};

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
    trials.extend(reference::tests());
    trials.extend(lateness::tests());
    trials
}

fn main() {
    let mut args = Arguments::from_args();
    let trials = all_trials();
    let selected = trials
        .iter()
        .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
        .count();
    // Listing, or a filter that selects nothing here, needs no kernel: do not boot for it.
    if args.list || selected == 0 {
        libtest_mimic::run(&args, trials).exit();
    }
    match lab::placement() {
        lab::Placement::Here => {
            args.test_threads = Some(1);
            libtest_mimic::run(&args, trials).exit();
        }
        lab::Placement::InLab => std::process::exit(lab::rerun_in_lab()),
        lab::Placement::Nowhere(why) => {
            eprintln!("kernel tests cannot run: {why}");
            std::process::exit(101);
        }
    }
}
