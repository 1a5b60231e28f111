//! Benchmark of the whole daemon's checking, on the host: the real event loop (`Daemon::run`,
//! the runtime `lbd` uses: multi-threaded, two workers, one malloc arena) with N nodes on loopback checked by
//! `tcp` every second, the IPVS table kept by the in-memory `FakeKernel` (this machine's kernel
//! has no IPVS; the lab's `benches/checks_vs_keepalived.sh` runs the real binary against the
//! real kernel). After a warm-up of W seconds it measures D seconds: checks per second (from
//! `lbd_checks_total`), missed intervals (`lbd_check_intervals_missed_total`), the process's
//! CPU and memory (now and peak).
//!
//!     cargo run --release --example daemon_bench -- 10000 30 [W]
//!
//! `LBD_BENCH_MALLOC=glibc` leaves glibc's malloc as it is (an arena per thread).

use lbd::daemon::kernel::FakeKernel;
use lbd::daemon::{control_channel, Daemon, Options, Signals};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::{addr, cpu_seconds, cpu_split, loadavg, status_kb, PORT};

fn write_config(dir: &Path, n: usize) {
    for sub in ["hostgroups", "services"] {
        std::fs::create_dir_all(dir.join(sub)).expect("config dir");
    }
    let d = dir.display();
    std::fs::write(
        dir.join("director.yaml"),
        format!(
            "name: bench\nstate_dir: {d}/state\ncontrol: {{socket: {d}/control.sock}}\n\
             listen: 127.0.0.1:19180\nreconcile_interval: 10s\n"
        ),
    )
    .expect("director.yaml");
    let mut nodes = String::from("ping: false\nnodes:\n");
    for i in 0..n {
        let _ = writeln!(nodes, "  - {{name: n{i}, address: {}}}", addr(i));
    }
    std::fs::write(dir.join("hostgroups/nodes.yaml"), nodes).expect("nodes.yaml");
    std::fs::write(
        dir.join("services/bench.yaml"),
        format!(
            "virtual: {{protocol: tcp, address: 192.0.2.10, port: 80}}\nscheduler: rr\n\
             forwarding: nat\nhostgroup: nodes\nport: {PORT}\n\
             watch: {{monitor: tcp, interval: 1s, timeout: 900ms}}\n"
        ),
    )
    .expect("bench.yaml");
}

/// `lbd_checks_total` summed over its labels (ok, fail), the reconcile passes and the missed
/// check intervals so far.
fn checks(metrics: &lbd::metrics::Metrics) -> (u64, u64, u64, u64) {
    let (mut ok, mut fail, mut passes, mut missed) = (0, 0, 0, 0);
    for line in metrics.encode().lines() {
        if let Some(v) = line.strip_prefix("lbd_reconcile_duration_seconds_count ") {
            passes = v.trim().parse().unwrap_or(0);
        }
        if line.starts_with("lbd_check_intervals_missed_total{") {
            missed += line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Some(rest) = line.strip_prefix("lbd_checks_total{") {
            let v: u64 = rest
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if rest.contains("result=\"ok\"") {
                ok += v;
            } else {
                fail += v;
            }
        }
    }
    (ok, fail, passes, missed)
}

fn main() {
    let Some((n, secs, rest, mut child)) = common::start(30) else {
        return;
    };
    let warm: u64 = rest.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    // As `lbd` does before its runtime starts (`LBD_BENCH_MALLOC=glibc`: glibc's default, an
    // arena per thread).
    if std::env::var("LBD_BENCH_MALLOC").as_deref() != Ok("glibc") {
        lbd::daemon::memory::one_malloc_arena();
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    write_config(dir.path(), n);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let (ok, fail, passes, missed, wall, cpu, split, rss) = rt.block_on(async {
        let signals = Signals::new().expect("signals");
        let (handle, inbox) = control_channel();
        let opts = Options {
            config_dir: dir.path().to_path_buf(),
            state_dir: None,
            run_checks: true,
            record: None,
            exit_after_run: false,
        };
        let mut daemon =
            Daemon::start(opts, Box::new(FakeKernel::default()), handle.events.clone())
                .unwrap_or_else(|e| panic!("start: {e}"));
        let metrics = lbd::metrics::Metrics::new("bench");
        daemon.set_metrics(metrics.clone());
        println!(
            "after start-up        {} MB resident (configuration loaded, table programmed)",
            status_kb("VmRSS:") / 1024
        );
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(daemon.run(inbox, signals, async {
            let _ = stop_rx.await;
        }));
        tokio::time::sleep(Duration::from_secs(warm)).await;
        let (ok0, fail0, passes0, missed0) = checks(&metrics);
        let (cpu0, split0, t0) = (cpu_seconds(), cpu_split(), Instant::now());
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let (ok1, fail1, passes1, missed1) = checks(&metrics);
        let (cpu1, split1, wall) = (cpu_seconds(), cpu_split(), t0.elapsed());
        let rss = status_kb("VmRSS:");
        let _ = stop_tx.send(());
        task.await.expect("loop").expect("daemon");
        let split = (split1.0 - split0.0, split1.1 - split0.1);
        (
            ok1 - ok0,
            fail1 - fail0,
            passes1 - passes0,
            missed1 - missed0,
            wall,
            cpu1 - cpu0,
            split,
            rss,
        )
    });
    drop(child.stdin.take());
    let _ = child.wait();
    let wall = wall.as_secs_f64();
    println!("nodes                 {n}");
    println!("machine load average  {}", loadavg());
    println!("warm-up, window       {warm} s, {wall:.1} s");
    println!(
        "checks                {ok} passed, {fail} failed ({:.0} per second, {:.1}% of n × seconds)",
        (ok + fail) as f64 / wall,
        100.0 * (ok + fail) as f64 / (n as f64 * wall)
    );
    println!("missed intervals      {missed} in the window");
    println!("reconcile passes      {passes} in the window");
    println!(
        "daemon cpu            {cpu:.2} s = {:.1}% of one core (user {:.2} s, system {:.2} s)",
        100.0 * cpu / wall,
        split.0,
        split.1
    );
    println!(
        "daemon rss            {} MB at the window's end, {} MB peak (since start, {:.0} s ago)",
        rss / 1024,
        status_kb("VmHWM:") / 1024,
        started.elapsed().as_secs_f64()
    );
}
