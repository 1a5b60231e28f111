//! Benchmark of the check runner: N nodes on loopback (127.1.0.0/16 addresses, one listener
//! each, served by a child process) checked by `tcp` every second for D seconds. Prints checks
//! per second, missed intervals, failures, and the checker's CPU (user+sys) and peak RSS. The
//! runtime is lbd's check thread's (current-thread), or with `mt` a two-worker multi-threaded one.
//!
//!     cargo run --release --example monitor_bench -- 10000 60 [mt]

use lbd::monitor::spec::{CheckSpec, TcpCheck, WatchSpec};
use lbd::monitor::{Command, Runner, Target};
use std::net::IpAddr;
use std::time::{Duration, Instant};

mod common;
use common::{addr, cpu_seconds, cpu_split, loadavg, status_kb, PORT};

fn main() {
    let Some((n, secs, rest, mut child)) = common::start(60) else {
        return;
    };

    let rt = if rest.first().map(String::as_str) == Some("mt") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("runtime");
    let split0 = cpu_split();
    let (passed, failed, stats, wall, cpu) = rt.block_on(async move {
        let mut watch = WatchSpec::new(
            "tcp",
            "bench",
            CheckSpec::Tcp(TcpCheck {
                port: PORT,
                send: None,
                expect: None,
            }),
        );
        watch.interval = Duration::from_secs(1);
        watch.timeout = Duration::from_millis(900);
        let targets: Vec<Target> = (0..n)
            .map(|i| Target {
                node: format!("n{i}"),
                addr: IpAddr::V4(addr(i)),
            })
            .collect();
        let mut runner = Runner::new(4096, 1);
        runner
            .add_watch(
                &lbd::monitor::WatchId::Service(watch.service.clone()),
                &watch,
                &targets,
            )
            .expect("watch");
        let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(4);
        let (rep_tx, mut rep_rx) = tokio::sync::mpsc::unbounded_channel();
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let handle = tokio::spawn(runner.run(cmd_rx, rep_tx));
        let (mut passed, mut failed) = (0u64, 0u64);
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(end) => break,
                batch = rep_rx.recv() => {
                    let Some(batch) = batch else { break };
                    for r in batch {
                        if r.outcome.is_ok() {
                            passed += 1;
                        } else {
                            if failed < 5 {
                                eprintln!("failure: {} {:?}", r.node, r.outcome);
                            }
                            failed += 1;
                        }
                    }
                }
            }
        }
        let _ = cmd_tx.send(Command::Stop).await;
        let stats = handle.await.expect("runner");
        (passed, failed, stats, t0.elapsed(), cpu_seconds() - cpu0)
    });
    let split1 = cpu_split();
    drop(child.stdin.take());
    let _ = child.wait();
    let wall = wall.as_secs_f64();
    let expected = n as f64 * wall;
    println!("nodes                 {n}");
    println!("machine load average  {}", loadavg());
    println!("duration              {wall:.1} s");
    println!(
        "checks                {} passed, {failed} failed ({:.0} per second, {:.1}% of n × seconds)",
        passed,
        (passed + failed) as f64 / wall,
        100.0 * (passed + failed) as f64 / expected
    );
    println!("missed intervals      {}", stats.missed);
    println!("max lateness          {} ms", stats.max_lateness);
    println!(
        "checker cpu           {cpu:.2} s = {:.1}% of one core",
        100.0 * cpu / wall
    );
    println!(
        "  of which           user {:.2} s, system {:.2} s",
        split1.0 - split0.0,
        split1.1 - split0.1
    );
    println!(
        "checker rss           {} MB now, {} MB peak",
        status_kb("VmRSS:") / 1024,
        status_kb("VmHWM:") / 1024
    );
}
