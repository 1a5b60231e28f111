//! Runner for the IPVS kernel trials (`tests/kernel/ipvs.rs`) until the lab's harness
//! (`tests/kernel/main.rs`) registers them: inside the lab guest (`LBD_LAB=1`, e.g.
//! `vagrant/lab run -- cargo test --test ipvs_kernel`) they run, elsewhere they are ignored.

#[path = "kernel/ipvs.rs"]
mod ipvs;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let in_lab = std::env::var_os("LBD_LAB").is_some();
    let trials = ipvs::tests()
        .into_iter()
        .map(|t| t.with_ignored_flag(!in_lab))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
