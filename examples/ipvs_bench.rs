//! IPVS programming benchmark, run inside the lab guest: 1,000 virtual services × 50 real
//! servers programmed from empty by the pipelined client (the `lbctl apply` path: dump, diff,
//! apply, in process), by the release `lbctl apply --table FILE` binary itself (process start,
//! reading the JSON table, connect, dump, diff, apply) and by `ipvsadm -R` restoring the same
//! table, each in its own fresh network namespace of the same boot; then a one-real-server
//! change (one operation, no dump) versus `ipvsadm -e`. Prints the timings and ratios
//! (recorded in BENCHMARKS.md). The `lbctl` binary is the one next to the examples directory
//! (`$LBD_LBCTL` overrides).
//!
//!   cargo build --release --example ipvs_bench --bin lbctl
//!   vagrant/lab run -- $CARGO_TARGET_DIR/release/examples/ipvs_bench [SERVICES] [DESTS]

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lbd::cli::apply::TableDoc;
use lbd::ipvs::*;
use lbd::reconcile::{diff, Table};

struct Netns(String);

impl Netns {
    fn new(name: &str) -> Netns {
        let ns = Netns(name.to_string());
        sh(&format!(
            "ip netns add {name} && ip netns exec {name} sh -c 'ip link set lo up; ip link add d0 type dummy; \
             ip link set d0 up; ip addr add 198.51.100.1/24 dev d0'"
        ));
        ns
    }

    fn enter(&self) {
        let f = File::open(format!("/var/run/netns/{}", self.0)).expect("netns");
        // SAFETY: setns on an fd we own; affects the calling thread only.
        assert_eq!(
            unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) },
            0,
            "setns"
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(cmd: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "{cmd} failed");
}

fn desired(services: u16, dests: u8) -> Table {
    let mut t = Table::new();
    for p in 0..services {
        let key = ServiceKey::tcp("192.0.2.10".parse().unwrap(), 1000 + p);
        t.insert_service(Service::new(key, "wlc"));
        for i in 0..dests {
            let addr: IpAddr = format!("198.51.100.{}", 10 + u16::from(i)).parse().unwrap();
            t.insert_dest(&key, Dest::new(addr, 1000 + p, ForwardMethod::Masq))
                .unwrap();
        }
    }
    t
}

/// The release `lbctl` next to this example (`target/release/examples/ipvs_bench`).
fn lbctl() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("LBD_LBCTL") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    let release = exe.parent().and_then(|d| d.parent()).expect("release dir");
    release.join("lbctl")
}

/// `want` as the JSON document of `lbctl apply --table FILE`.
fn table_doc(want: &Table) -> String {
    serde_json::to_string(&TableDoc::of(want)).expect("table json")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Runs `f` on a thread inside `ns`.
fn in_ns<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter();
            f()
        })
        .join()
        .expect("bench thread")
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let services: u16 = args.next().map_or(1000, |a| a.parse().expect("services"));
    let dests: u8 = args.next().map_or(50, |a| a.parse().expect("dests"));
    let want = desired(services, dests);
    let ops_total = services as usize * (1 + dests as usize);

    // ipvsadm -R of the same table.
    let rules: String = diff(&want, &Table::new(), &BTreeSet::new())
        .iter()
        .map(|op| format!("{op}\n"))
        .collect();
    let a = Netns::new("bench-ipvsadm");
    let t = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &a.0, "ipvsadm", "-R"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("ipvsadm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(rules.as_bytes())
        .expect("write rules");
    assert!(
        child.wait().expect("ipvsadm").success(),
        "ipvsadm -R failed"
    );
    let ipvsadm_cold = t.elapsed();

    // The lbctl apply path: connect, dump (empty), diff, pipelined apply.
    let b = Netns::new("bench-lbd");
    let (ours_cold, sendmsgs, ours_table) = in_ns(&b, || {
        let t = Instant::now();
        let mut c = IpvsClient::connect().expect("connect");
        let actual = Table::from_entries(&c.dump().expect("dump"));
        let ops = diff(&want, &actual, &BTreeSet::new());
        let report = c.apply(&ops).expect("apply");
        let elapsed = t.elapsed();
        assert!(
            report.is_ok(),
            "{:?}",
            report.failures.first().map(|f| f.error.to_string())
        );
        (
            elapsed,
            report.sendmsgs,
            Table::from_entries(&c.dump().expect("dump")),
        )
    });
    let ipvsadm_table = in_ns(&a, || {
        Table::from_entries(&IpvsClient::connect().unwrap().dump().unwrap())
    });
    assert_eq!(ours_table, want, "our table");
    assert_eq!(ipvsadm_table, want, "ipvsadm's table");

    // The release `lbctl apply --table FILE` binary, from empty, in a third namespace.
    let lbctl = lbctl();
    assert!(
        lbctl.exists(),
        "{} missing: build it with --release",
        lbctl.display()
    );
    let file = std::env::temp_dir().join(format!("ipvs-bench-table-{}.json", std::process::id()));
    std::fs::write(&file, table_doc(&want)).expect("write table");
    let l = Netns::new("bench-lbctl");
    let t = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", &l.0])
        .arg(&lbctl)
        .arg("apply")
        .arg("--table")
        .arg(&file)
        .output()
        .expect("lbctl");
    let lbctl_cold = t.elapsed();
    let _ = std::fs::remove_file(&file);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "lbctl apply failed: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lbctl_said = said.trim().lines().last().unwrap_or_default().to_string();
    let lbctl_table = in_ns(&l, || {
        Table::from_entries(&IpvsClient::connect().unwrap().dump().unwrap())
    });
    assert_eq!(lbctl_table, want, "lbctl apply's table");
    drop(l);

    // Full re-read of the converged table (what a restart costs: dump + diff, 0 ops).
    let (dump_time, noop) = in_ns(&b, || {
        let t = Instant::now();
        let mut c = IpvsClient::connect().unwrap();
        let actual = Table::from_entries(&c.dump().unwrap());
        let ops = diff(&want, &actual, &BTreeSet::new());
        (t.elapsed(), ops.len())
    });

    // One real server changes weight: one operation, no dump (the daemon knows its table).
    let mut changed = want.clone();
    let key = *changed.services.keys().nth(services as usize / 2).unwrap();
    let mut d = changed.services[&key]
        .dests
        .values()
        .next()
        .unwrap()
        .clone();
    d.weight = 7;
    changed.insert_dest(&key, d.clone()).unwrap();
    let ops = diff(&changed, &want, &BTreeSet::new());
    assert_eq!(ops.len(), 1);
    let (one_op, weight) = in_ns(&b, || {
        let mut c = IpvsClient::connect().unwrap();
        let t = Instant::now();
        c.apply(&ops).unwrap().into_result().unwrap();
        let e = t.elapsed();
        let w = c
            .dests(&key)
            .unwrap()
            .iter()
            .find(|x| x.dest.addr == d.addr)
            .unwrap()
            .dest
            .weight;
        (e, w)
    });
    assert_eq!(weight, 7);
    let edit = format!("{}", ops[0]);
    let t = Instant::now();
    sh(&format!(
        "ip netns exec {} ipvsadm {}",
        a.0,
        edit.replace("-w 7", "-w 8")
    ));
    let ipvsadm_one = t.elapsed();

    println!("ipvs benchmark: {services} services x {dests} real servers = {ops_total} operations");
    println!("ipvsadm -R (cold):            {:8.3} s", secs(ipvsadm_cold));
    println!(
        "lbd apply (cold, {sendmsgs} sendmsgs): {:8.3} s",
        secs(ours_cold)
    );
    println!(
        "ratio lbd/ipvsadm:            {:8.3}",
        secs(ours_cold) / secs(ipvsadm_cold)
    );
    println!(
        "lbctl apply --table (cold):   {:8.3} s (release binary: {lbctl_said})",
        secs(lbctl_cold)
    );
    println!(
        "ratio lbctl/ipvsadm:          {:8.3}",
        secs(lbctl_cold) / secs(ipvsadm_cold)
    );
    println!(
        "dump+diff of converged table: {:8.3} s ({noop} operations)",
        secs(dump_time)
    );
    println!(
        "one real server, lbd:         {:8.6} s (1 operation, no dump)",
        secs(one_op)
    );
    println!(
        "one real server, ipvsadm -e:  {:8.6} s (process start included)",
        secs(ipvsadm_one)
    );
}
