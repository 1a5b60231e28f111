//! Benchmark of the check runner: N nodes on loopback (127.1.0.0/16 addresses, one listener
//! each, served by a child process) checked by `tcp` every second for D seconds. Prints checks
//! per second, missed intervals, failures, and the checker's CPU (user+sys) and peak RSS.
//!
//!     cargo run --release --example monitor_bench -- 10000 60

use lbd::monitor::spec::{CheckSpec, TcpCheck, WatchSpec};
use lbd::monitor::{Command, Runner, Target};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 18080;

fn addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8)
}

fn raise_nofile() {
    let lim = libc::rlimit {
        rlim_cur: 65536,
        rlim_max: 65536,
    };
    // SAFETY: plain syscall with a valid struct.
    unsafe {
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

fn cpu_split() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct.
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct.
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// The child: listens on every address and accepts and drops connections until stdin closes.
fn listen(n: usize) {
    raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        for i in 0..n {
            let sa = SocketAddr::new(IpAddr::V4(addr(i)), PORT);
            let sock = tokio::net::TcpSocket::new_v4().expect("socket");
            sock.set_reuseaddr(true).expect("reuseaddr");
            sock.bind(sa).expect("bind");
            let l = sock.listen(64).expect("listen");
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    drop(s);
                }
            });
        }
        println!("ready");
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--listen") {
        listen(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000));
        return;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60);
    raise_nofile();
    let mut child: Child = std::process::Command::new(&args[0])
        .args(["--listen", &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("listener child");
    let mut ready = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut ready);
    }
    assert_eq!(ready.trim(), "ready", "listener child failed");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
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
        runner.add_watch(&watch, &targets).expect("watch");
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
                r = rep_rx.recv() => match r {
                    Some(r) if r.outcome.is_ok() => passed += 1,
                    Some(r) => {
                        if failed < 5 {
                            eprintln!("failure: {} {:?}", r.node, r.outcome);
                        }
                        failed += 1;
                    }
                    None => break,
                },
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
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("nodes                 {n}");
    println!(
        "machine load average  {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
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
